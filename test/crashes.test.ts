// Crash isolation: a view that exits, throws in a callback or runs out of memory costs only its
// own request a 5xx; the thread is replaced and every other request is served.
import t from 'tap';
import { eventually, fixture, sample, scrape, startDrover } from './helpers/server.js';

const server = await startDrover({
  app: fixture('faults.js'),
  env: { WEB_CONCURRENCY: '2', WORKER_CONCURRENCY: '1', WORKER_MAX_MEMORY_MB: '64', REQUEST_TIMEOUT: '20' },
});
t.teardown(() => server.stop());
const get = (path: string, init?: RequestInit) => fetch(server.url + path, init);

/** Keeps requesting /ok until stopped; returns every status seen. */
function background(): { stop(): Promise<number[]> } {
  const statuses: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) statuses.push((await get('/ok')).status);
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return statuses;
    },
  };
}

for (const [path, reason, why] of [
  ['/exit', 'crash', /worker thread running this request stopped \(it crashed: .*exited with code/],
  ['/throw-later', 'crash', /it crashed: thrown from a timer callback/],
  ['/oom', 'memory', /ran out of memory \(WORKER_MAX_MEMORY_MB\)/],
] as const) {
  t.test(`${path}: its own request gets a 502, the server keeps serving`, async (t) => {
    const before = sample(await scrape(server.url), `drover_worker_restarts_total{pool="default",reason="${reason}"}`) ?? 0;
    const others = background();
    const started = Date.now();
    const res = await get(path, { headers: { 'x-request-id': `crash${path.replace('/', '-')}` } });
    t.equal(res.status, 502);
    const body = (await res.json()) as { error: string; requestId: string };
    t.match(body.error, why);
    t.ok(Date.now() - started < 15_000, 'fast, no hang until the deadline');
    const statuses = await others.stop();
    t.ok(statuses.length > 0);
    t.same([...new Set(statuses)], [200], 'every other request succeeded meanwhile');
    t.equal(sample(await scrape(server.url), `drover_worker_restarts_total{pool="default",reason="${reason}"}`), before + 1, `counted once as ${reason}`);
    await eventually(async () => sample(await scrape(server.url), 'drover_workers{pool="default"}') === 2);
    t.equal((await get('/ok')).status, 200);
  });
}

t.test('a thread that dies after answering is counted and replaced', async (t) => {
  const before = sample(await scrape(server.url), 'drover_worker_restarts_total{pool="default",reason="crash"}') ?? 0;
  const res = await get('/throw-after');
  t.equal(res.status, 200, 'its request was answered before the throw');
  await eventually(async () => sample(await scrape(server.url), 'drover_worker_restarts_total{pool="default",reason="crash"}') === before + 1);
  await eventually(async () => sample(await scrape(server.url), 'drover_workers{pool="default"}') === 2);
  const after = await Promise.all(Array.from({ length: 6 }, () => get('/ok').then((r) => r.status)));
  t.same([...new Set(after)], [200]);
});

t.test('nothing crashed the server itself', async (t) => {
  t.equal(server.child.exitCode, null);
  t.equal(server.stderr(), '');
});
