// CORS from settings, in the front (@fastify/cors): preflights answered without a thread hop, the
// headers on every response (404, a view's 500, backpressure's 503), nothing at all when unset.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { eventually, fixture, runDrover, startDrover } from './helpers/server.js';

const run = promisify(execFile);
const ORIGIN = 'https://app.example.test';

/** curl's status line and headers, lower-case names, for one request. */
async function curl(args: string[]): Promise<{ status: number; headers: Record<string, string> }> {
  const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-D', '-', ...args]);
  const [statusLine, ...lines] = stdout.trim().split(/\r?\n/);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const at = line.indexOf(':');
    if (at > 0) headers[line.slice(0, at).toLowerCase()] = line.slice(at + 1).trim();
  }
  return { status: Number(statusLine?.split(' ')[1]), headers };
}

t.test('with CORS_ORIGINS', async (t) => {
  const server = await startDrover({
    app: fixture('faults.js'),
    env: { WEB_CONCURRENCY: '1', CORS_ORIGINS: `${ORIGIN}, http://localhost:5173`, CORS_CREDENTIALS: 'true', CORS_EXPOSED_HEADERS: 'x-request-id', CORS_MAX_AGE: '600', MAX_QUEUE: '0', WORKER_CONCURRENCY: '1', WORKER_PREFETCH: '0' },
  });
  t.teardown(() => server.stop());

  t.test('a preflight is answered by the front, without a thread hop', async (t) => {
    const res = await curl(['-X', 'OPTIONS', '-H', `Origin: ${ORIGIN}`, '-H', 'Access-Control-Request-Method: PUT', '-H', 'Access-Control-Request-Headers: content-type', `${server.url}/ok`]);
    t.equal(res.status, 204);
    t.equal(res.headers['access-control-allow-origin'], ORIGIN);
    t.equal(res.headers['access-control-allow-credentials'], 'true');
    t.match(res.headers['access-control-allow-methods'], /PUT/);
    t.equal(res.headers['access-control-allow-headers'], 'content-type');
    t.equal(res.headers['access-control-max-age'], '600');
    const line = await server.waitForLog((l) => l.msg === 'request completed' && l.method === 'OPTIONS');
    t.equal(line.worker, null, 'no worker ran');
  });

  t.test('every answer carries the headers: a view, a 404, a 500, a 503', async (t) => {
    const ok = await curl(['-H', `Origin: ${ORIGIN}`, `${server.url}/ok`]);
    t.equal(ok.status, 200);
    t.equal(ok.headers['access-control-allow-origin'], ORIGIN);
    t.equal(ok.headers['access-control-expose-headers'], 'x-request-id');
    const missing = await curl(['-H', `Origin: ${ORIGIN}`, `${server.url}/nowhere`]);
    t.equal(missing.status, 404);
    t.equal(missing.headers['access-control-allow-origin'], ORIGIN);
    // One slot, no queue: while /slow runs, the next request is refused with 503.
    const slow = fetch(`${server.url}/slow?ms=2000`); // running well past the curl below
    await new Promise((r) => setTimeout(r, 300));
    const busy = await curl(['-H', `Origin: ${ORIGIN}`, `${server.url}/ok`]);
    t.equal(busy.status, 503);
    t.equal(busy.headers['access-control-allow-origin'], ORIGIN);
    await slow;
    const crashed = await curl(['-H', `Origin: ${ORIGIN}`, `${server.url}/exit`]);
    t.equal(crashed.status, 502, "a view that kills its thread: the front's 502");
    t.equal(crashed.headers['access-control-allow-origin'], ORIGIN);
    await eventually(async () => (await fetch(`${server.url}/ok`)).status === 200); // the replacement is up
  });

  t.test('an origin not in the list gets no allow header', async (t) => {
    const res = await curl(['-H', 'Origin: https://evil.example.test', `${server.url}/ok`]);
    t.equal(res.status, 200);
    t.equal(res.headers['access-control-allow-origin'], undefined);
  });
});

t.test("a view's 500 carries the headers too", async (t) => {
  const server = await startDrover({ app: fixture('views.js'), env: { WEB_CONCURRENCY: '1', CORS_ORIGINS: '*' } });
  t.teardown(() => server.stop());
  const failed = await curl(['-H', `Origin: ${ORIGIN}`, `${server.url}/boom`]);
  t.equal(failed.status, 500);
  t.equal(failed.headers['access-control-allow-origin'], '*');
});

t.test('without CORS_ORIGINS: no CORS headers, OPTIONS stays 405', async (t) => {
  const server = await startDrover({ app: fixture('faults.js'), env: { WEB_CONCURRENCY: '1' } });
  t.teardown(() => server.stop());
  const res = await curl(['-H', `Origin: ${ORIGIN}`, `${server.url}/ok`]);
  t.equal(res.headers['access-control-allow-origin'], undefined);
  const preflight = await curl(['-X', 'OPTIONS', '-H', `Origin: ${ORIGIN}`, '-H', 'Access-Control-Request-Method: GET', `${server.url}/ok`]);
  t.equal(preflight.status, 405);
});

t.test('bad CORS settings stop boot (serve and check) naming the setting', async (t) => {
  for (const command of ['serve', 'check']) {
    const wildcard = await runDrover([command, fixture('faults.js')], { CORS_ORIGINS: '*', CORS_CREDENTIALS: 'true' });
    t.equal(wildcard.code, 1);
    t.match(wildcard.stderr, /DROVER_ERR_SETTINGS_INVALID: setting CORS_CREDENTIALS="true" is invalid: expected false while CORS_ORIGINS is \*/);
    const path = await runDrover([command, fixture('faults.js')], { CORS_ORIGINS: 'https://app.example.test/path' });
    t.not(path.code, 0);
    t.match(path.stderr, /setting CORS_ORIGINS="https:\/\/app\.example\.test\/path" is invalid: expected \* or a comma-separated list of origins/);
  }
});
