import { file, httpError, sse, stream, type Request } from 'drover';
import { setTimeout as sleep } from 'node:timers/promises';
import { settings } from '../settings.js';

/**
 * GET /export.csv — the report's rows (REPORT_ROWS) as CSV, each row sent as it is built: the
 * client starts receiving at once, and a client that leaves stops the loop (req.signal).
 */
export function exportCsv(req: Request) {
  return stream(csvRows(settings.REPORT_ROWS, req.signal), {
    contentType: 'text/csv; charset=utf-8',
    headers: { 'content-disposition': 'attachment; filename="report.csv"' },
  });
}

async function* csvRows(rows: number, signal: AbortSignal): AsyncGenerator<string> {
  yield 'id,name,price\n';
  for (let i = 0; i < rows && !signal.aborted; i++) yield `${i},row ${i},${(i * 1.25).toFixed(2)}\n`;
}

const MAX_MIB = 4096;

/** GET /bytes/<int:mib> — `mib` MiB of bytes, streamed in 64 KiB chunks (what `npm run bench` measures). */
export function bytesStream(req: Request<{ mib: number }>) {
  if (req.params.mib > MAX_MIB) throw httpError(400, `mib must be at most ${MAX_MIB}`);
  return stream(mebibytes(req.params.mib));
}

/** `mib` MiB in 64 KiB chunks, the same buffer each time (drover copies each chunk it sends). */
export async function* mebibytes(mib: number): AsyncGenerator<Uint8Array> {
  const chunk = new Uint8Array(64 * 1024).fill(97);
  for (let i = 0; i < mib * 16; i++) yield chunk;
}

/** A query parameter as a number within bounds, or a 400 naming it. */
function numberParam(req: Request, name: string, fallback: number, min: number, max: number): number {
  const raw = req.query[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== 'string' || !Number.isFinite(value) || value < min || value > max) {
    throw httpError(400, `${name} must be a number from ${min} to ${max}`);
  }
  return value;
}

/**
 * GET /clock?ticks=N&every=S — server-sent events: a `tick` event every S seconds (default 1),
 * N of them (default 10). Open it in a browser with `new EventSource('/clock')`.
 */
export function clock(req: Request) {
  const ticks = numberParam(req, 'ticks', 10, 1, 3600);
  const every = numberParam(req, 'every', 1, 0.01, 60);
  return sse(
    (async function* () {
      for (let n = 1; n <= ticks && !req.signal.aborted; n++) {
        yield { event: 'tick', id: String(n), data: { n, at: new Date().toISOString() } };
        if (n < ticks) await sleep(every * 1000, undefined, { signal: req.signal }).catch(() => undefined);
      }
    })(),
  );
}

/** GET /downloads/<path:name> — a file from DOWNLOADS_DIR, sent by the front (the bytes never cross a thread). */
export function download(req: Request<{ name: string }>) {
  return file(req.params.name, { root: settings.DOWNLOADS_DIR });
}
