// Lifecycle hooks: startup once per worker thread before it serves, shutdown when a thread retires
// (recycle, heap cap, graceful stop), bounded by SHUTDOWN_TIMEOUT and never hanging the stop.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { eventually, fixture, sample, scrape, startDrover } from './helpers/server.js';

const app = fixture('hooks.js');

t.test('startup runs once in each thread before it serves; its ctx has pool, settings and reverse()', async (t) => {
  const server = await startDrover({ app, env: { WEB_CONCURRENCY: '2', GREETING: 'hello' } });
  t.teardown(() => server.stop());
  await eventually(() => server.logs().filter((l) => l.msg === 'startup hook').length >= 2);
  const startups = server.logs().filter((l) => l.msg === 'startup hook');
  t.equal(startups.length, 2, 'one per thread');
  t.not(startups[0]?.thread, startups[1]?.thread);
  t.match(startups[0], { pool: 'default', greeting: 'hello', reversed: '/who' });
  for (let i = 0; i < 6; i++) {
    const body = (await (await fetch(`${server.url}/who`)).json()) as { startups: number; greeting: string };
    t.same(body.startups, 1, 'module state is per thread: each counted its own startup once');
    t.equal(body.greeting, 'hello', 'app settings are typed values in views');
  }
});

t.test('shutdown runs when a thread is recycled and on SIGTERM', async (t) => {
  const server = await startDrover({ app, env: { WEB_CONCURRENCY: '1', MAX_REQUESTS: '3' } });
  t.teardown(() => server.stop());
  const first = (await (await fetch(`${server.url}/who`)).json()) as { thread: number };
  for (let i = 0; i < 3; i++) await fetch(`${server.url}/who`);
  const recycled = await server.waitForLog((l) => l.msg === 'shutdown hook' && l.thread === first.thread);
  t.equal(recycled.pool, 'default');
  const next = (await (await fetch(`${server.url}/who`)).json()) as { thread: number; startups: number };
  t.not(next.thread, first.thread, 'a fresh thread serves');
  t.equal(next.startups, 1, 'the fresh thread ran its own startup');

  t.equal(await server.stop(), 0);
  const lines = server.logs();
  const stopped = lines.findIndex((l) => l.msg === 'stopped');
  const shutdownAtStop = lines.findIndex((l) => l.msg === 'shutdown hook' && l.thread === next.thread);
  t.ok(shutdownAtStop !== -1 && shutdownAtStop < stopped, 'the serving thread ran shutdown before the process stopped');
});

t.test('a shutdown hook that hangs is cut at SHUTDOWN_TIMEOUT and logged; the stop still succeeds', async (t) => {
  const server = await startDrover({ app, env: { WEB_CONCURRENCY: '1', SHUTDOWN_MODE: 'hang', SHUTDOWN_TIMEOUT: '0.3' } });
  t.teardown(() => server.stop());
  const started = Date.now();
  t.equal(await server.stop(), 0);
  t.ok(Date.now() - started < 5000, 'the stop did not wait for the hook');
  const line = server.logs().find((l) => (l.err as { code?: string } | undefined)?.code === 'DROVER_ERR_APP_SHUTDOWN');
  t.match(line, { level: 50, msg: /did not finish within SHUTDOWN_TIMEOUT \(0.3 s\)/ });
});

t.test('a shutdown hook that throws is logged with its message', async (t) => {
  const server = await startDrover({ app, env: { WEB_CONCURRENCY: '1', SHUTDOWN_MODE: 'throw' } });
  t.teardown(() => server.stop());
  t.equal(await server.stop(), 0);
  const line = server.logs().find((l) => (l.err as { code?: string } | undefined)?.code === 'DROVER_ERR_APP_SHUTDOWN');
  t.match(line?.msg, /failed: the connection pool would not close/);
});

t.test('WORKER_RECYCLE_HEAP_MB replaces a thread gracefully once its heap passes the cap', async (t) => {
  const server = await startDrover({ app, env: { WEB_CONCURRENCY: '1', WORKER_RECYCLE_HEAP_MB: '100', WORKER_MAX_MEMORY_MB: '1024' } });
  t.teardown(() => server.stop());
  const first = (await (await fetch(`${server.url}/who`)).json()) as { thread: number };
  t.equal((await fetch(`${server.url}/grow`)).status, 200);
  t.equal((await fetch(`${server.url}/grow`)).status, 200, 'about 128 MiB retained: past the cap');
  await server.waitForLog((l) => l.msg === 'shutdown hook' && l.thread === first.thread);
  await eventually(async () => sample(await scrape(server.url), 'drover_worker_restarts_total{pool="default",reason="memory"}') === 1);
  const next = (await (await fetch(`${server.url}/who`)).json()) as { thread: number };
  t.not(next.thread, first.thread);
});

t.test('a replacement whose startup fails is retried with backoff while the old thread keeps serving', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-hooks-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const flag = join(dir, 'db-down');
  const server = await startDrover({ app, env: { WEB_CONCURRENCY: '1', MAX_REQUESTS: '2', FAIL_STARTUP_IF: flag } });
  t.teardown(() => server.stop());
  await eventually(() => server.logs().filter((l) => l.msg === 'startup hook').length === 2); // the thread and its standby
  writeFileSync(flag, '');
  for (let i = 0; i < 12; i++) t.equal((await fetch(`${server.url}/who`)).status, 200, 'every request is served');
  const failures = () => server.logs().filter((l) => /DROVER_ERR_APP_STARTUP|failed to boot/.test(`${l.msg} ${JSON.stringify(l.err ?? '')}`));
  t.ok(failures().length >= 1, 'the failed boot is logged');
  // Each retry after the backoff boots the replacement and the standby: a few failures, not twelve.
  t.ok(failures().length <= 4, `not a boot per request (${failures().length} boot failures for 12 requests)`);
  t.match(JSON.stringify(failures()[0]), /the database is unreachable/);
  rmSync(flag);
  const before = sample(await scrape(server.url), 'drover_worker_restarts_total{pool="default",reason="max_requests"}') ?? 0;
  await eventually(async () => {
    await fetch(`${server.url}/who`);
    return (sample(await scrape(server.url), 'drover_worker_restarts_total{pool="default",reason="max_requests"}') ?? 0) > before;
  }, 20_000);
});

t.test('a reload runs the old threads\' shutdown hooks and replaces the standby, so no old code serves again', async (t) => {
  const server = await startDrover({ app, env: { WEB_CONCURRENCY: '1', MAX_REQUESTS: '2', GREETING: 'one' } });
  t.teardown(() => server.stop());
  const first = (await (await fetch(`${server.url}/who`)).json()) as { thread: number };
  await eventually(() => server.logs().filter((l) => l.msg === 'startup hook').length === 2); // the thread and its standby
  const standby = server.logs().filter((l) => l.msg === 'startup hook').map((l) => l.thread as number).find((id) => id !== first.thread);
  server.child.kill('SIGHUP');
  await server.waitForLog((l) => l.msg === 'workers reloaded');
  await server.waitForLog((l) => l.msg === 'shutdown hook' && l.thread === first.thread);
  await server.waitForLog((l) => l.msg === 'shutdown hook' && l.thread === standby);
  const served = new Set<number>();
  for (let i = 0; i < 8; i++) served.add(((await (await fetch(`${server.url}/who`)).json()) as { thread: number }).thread);
  t.notOk(served.has(first.thread) || served.has(standby as number), 'neither the old thread nor the old standby serves after the reload');
});

t.test('SIGTERM right after a recycle waits for the retiring thread\'s shutdown hook', async (t) => {
  const server = await startDrover({ app, env: { WEB_CONCURRENCY: '1', MAX_REQUESTS: '1', SHUTDOWN_MODE: 'slow' } });
  t.teardown(() => server.stop());
  const first = (await (await fetch(`${server.url}/who`)).json()) as { thread: number };
  await server.waitForLog((l) => l.msg === 'shutdown hook' && l.thread === first.thread);
  t.equal(await server.stop(), 0);
  const lines = server.logs();
  const done = lines.findIndex((l) => l.msg === 'shutdown hook done' && l.thread === first.thread);
  t.ok(done !== -1 && done < lines.findIndex((l) => l.msg === 'stopped'), 'the retiring thread finished its hook before the process stopped');
});

t.test("a scrape while a retired thread runs its shutdown hook waits for that thread's last values", async (t) => {
  const server = await startDrover({ app, env: { WEB_CONCURRENCY: '1', MAX_REQUESTS: '1', SHUTDOWN_MODE: 'slow' } });
  t.teardown(() => server.stop());
  const first = (await (await fetch(`${server.url}/who`)).json()) as { thread: number };
  // Recycled after one request; its hook takes 0.3 s, and its once-a-second push has not come yet.
  await server.waitForLog((l) => l.msg === 'shutdown hook' && l.thread === first.thread);
  t.equal(sample(await scrape(server.url), 'fixture_greeted_total'), 1, 'its count is in the first scrape');
});
