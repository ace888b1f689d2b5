// Recycling (MAX_REQUESTS): a fresh thread replaces a worker after N requests; nothing fails,
// no view metric or log line is lost.
import t from 'tap';
import { eventually, fixture, sample, scrape, startDrover } from './helpers/server.js';

const server = await startDrover({
  app: fixture('faults.js'),
  env: { WEB_CONCURRENCY: '2', WORKER_CONCURRENCY: '2', MAX_REQUESTS: '5', MAX_REQUESTS_JITTER: '2' },
});
t.teardown(() => server.stop());
const recycles = async () => sample(await scrape(server.url), 'drover_worker_restarts_total{pool="default",reason="max_requests"}') ?? 0;

t.test('workers recycle without failing or losing anything', async (t) => {
  const threads = new Set<number>();
  const servedBy = new Map<number, number>();
  const statuses: number[] = [];
  let counted = 0;
  let logged = 0;
  // Eight clients at once, mixing counted and logging requests, until several recycles happened
  // (thread boots are slow on a loaded machine; the count of requests is not what matters).
  for (let round = 0; round < 100 && (await recycles()) < 4; round++) {
    await Promise.all(
      Array.from({ length: 8 }, async (_, client) => {
        const counting = client % 2 === 0;
        const res = await fetch(server.url + (counting ? `/count?kind=recycle&value=${client}` : '/log?n=3&size=50'));
        statuses.push(res.status);
        const { thread } = (await res.json()) as { thread: number };
        threads.add(thread);
        servedBy.set(thread, (servedBy.get(thread) ?? 0) + 1);
        if (counting) counted++;
        else logged += 3;
      }),
    );
  }
  t.ok((await recycles()) >= 4, 'workers were recycled');
  t.same([...new Set(statuses)], [200], `none of ${statuses.length} requests failed`);
  t.ok(threads.size > 2, `requests were served by ${threads.size} threads over time`);
  // Requests are sent ahead (WORKER_PREFETCH), yet no thread gets more than it may serve.
  t.ok(Math.max(...servedBy.values()) <= 7, `no thread served more than MAX_REQUESTS + MAX_REQUESTS_JITTER (${[...servedBy.values()].join(', ')})`);

  const metrics = await scrape(server.url);
  t.equal(sample(metrics, 'drover_worker_restarts_total{pool="default",reason="crash"}'), 0);
  t.equal(sample(metrics, 'fixture_hits_total{kind="recycle"}'), counted, 'every increment, across retired threads');
  t.equal(sample(metrics, 'fixture_size_count'), counted, 'histograms too');
  // Retired threads leave once their last request is done; the warm standby is not a worker.
  await eventually(async () => sample(await scrape(server.url), 'drover_workers{pool="default"}') === 2);

  await server.waitForLog(() => server.logs().filter((l) => l.msg === 'fixture line').length === logged);
  t.pass(`all ${logged} view log lines arrived`);
});

t.test('MAX_REQUESTS_JITTER spreads recycling: threads serve MAX_REQUESTS plus their own random extra', async (t) => {
  const jittered = await startDrover({
    app: fixture('faults.js'),
    env: { WEB_CONCURRENCY: '2', WORKER_CONCURRENCY: '1', MAX_REQUESTS: '2', MAX_REQUESTS_JITTER: '20' },
  });
  t.teardown(() => jittered.stop());
  const servedBy = new Map<number, number>();
  for (let i = 0; i < 30; i++) {
    const res = await fetch(`${jittered.url}/ok`);
    t.equal(res.status, 200);
    const { thread } = (await res.json()) as { thread: number };
    servedBy.set(thread, (servedBy.get(thread) ?? 0) + 1);
  }
  const counts = [...servedBy.values()];
  // Without the jitter every thread would serve exactly 2; with it, each draws 0..20 extra, and
  // the chance that every thread here drew 0 is (1/21)^threads.
  t.ok(Math.max(...counts) > 2, `some thread served more than MAX_REQUESTS (${counts.join(', ')})`);
  t.ok(Math.max(...counts) <= 22, 'none more than MAX_REQUESTS + MAX_REQUESTS_JITTER');
});
