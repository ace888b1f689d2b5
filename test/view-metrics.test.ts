// Views define prom-client metrics as any Node user would; /metrics gathers every thread's.
import t from 'tap';
import { eventually, fixture, sample, scrape, startDrover } from './helpers/server.js';

const server = await startDrover({
  app: fixture('faults.js'),
  env: { WEB_CONCURRENCY: '2', WORKER_CONCURRENCY: '1', REQUEST_TIMEOUT: '1' },
});
t.teardown(() => server.stop());
const get = (path: string) => fetch(server.url + path).then((r) => r.json() as Promise<{ thread: number }>);

t.test('an increment is in /metrics as soon as its response is out, summed over threads', async (t) => {
  const threads = new Set<number>();
  for (let i = 1; i <= 10; i++) {
    threads.add((await get(`/count?kind=a&value=${i}`)).thread);
    t.equal(sample(await scrape(server.url), 'fixture_hits_total{kind="a"}'), i, `after response ${i}`);
  }
  t.equal(threads.size, 2, 'both threads counted');
  const text = await scrape(server.url);
  t.equal(sample(text, 'fixture_size_count'), 10);
  t.equal(sample(text, 'fixture_size_sum'), 55);
  t.equal(sample(text, 'fixture_size_bucket{le="10"}'), 10);
  t.match(text, /^# TYPE fixture_hits_total counter$/m);
});

t.test("a killed worker's counts are kept: no counter goes backwards", async (t) => {
  const before = sample(await scrape(server.url), 'fixture_hits_total{kind="a"}') ?? 0;
  // Kill both threads by timeouts (one at a time, each spinning past the 1 s deadline).
  await Promise.all([fetch(`${server.url}/spin-forever`), fetch(`${server.url}/spin-forever`)]);
  // Each is replaced once its view has not stopped within the grace after its 504.
  await eventually(async () => sample(await scrape(server.url), 'drover_worker_restarts_total{pool="default",reason="timeout"}') === 2);
  const after = await scrape(server.url);
  t.equal(sample(after, 'fixture_hits_total{kind="a"}'), before, "the dead threads' counts are still there");
  await get('/count?kind=a&value=1');
  t.equal(sample(await scrape(server.url), 'fixture_hits_total{kind="a"}'), before + 1, 'and new threads add to them');
});

t.test('process metrics are counted once, not once per thread', async (t) => {
  const text = await scrape(server.url);
  // The fixture calls collectDefaultMetrics() in every worker; only the front's appear.
  t.equal(text.match(/^# TYPE process_cpu_user_seconds_total /gm)?.length, 1);
  t.equal(text.match(/^process_resident_memory_bytes /gm)?.length, 1);
});
