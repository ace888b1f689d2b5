import { httpError, type Request } from 'drover';

/** GET /hello */
export function hello() {
  return { hello: 'world' };
}

/** GET /items/<int:id> — `id` arrives as a number. */
export function item(req: Request<{ id: number }>) {
  return { id: req.params.id, name: `item ${req.params.id}` };
}

/** POST /echo — answers the parsed JSON body; a malformed body is a 400 from req.json(). */
export function echo(req: Request) {
  return { received: req.json() };
}

/** GET /sleep?ms=N — waits asynchronously, then answers. */
export async function sleep(req: Request) {
  const raw = req.query.ms ?? '0';
  const ms = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(ms) || ms < 0 || ms > 60_000) {
    throw httpError(400, 'ms must be an integer number of milliseconds from 0 to 60000');
  }
  await new Promise((resolve) => setTimeout(resolve, ms));
  return { slept: ms };
}
