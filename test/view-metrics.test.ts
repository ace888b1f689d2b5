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
  // A route with a 10 s deadline waits out the replacements' boot, which a 1 s one might not.
  await fetch(`${server.url}/spin-long?ms=0`);
  await get('/count?kind=a&value=1');
  t.equal(sample(await scrape(server.url), 'fixture_hits_total{kind="a"}'), before + 1, 'and new threads add to them');
});

t.test('process metrics are counted once, not once per thread', async (t) => {
  const text = await scrape(server.url);
  // The fixture calls collectDefaultMetrics() in every worker; only the front's appear.
  t.equal(text.match(/^# TYPE process_cpu_user_seconds_total /gm)?.length, 1);
  t.equal(text.match(/^process_resident_memory_bytes /gm)?.length, 1);
});

t.test('a thread sends what changed every second, without a scrape: a killed thread loses at most that', async (t) => {
  const restartsOf = (text: string) => sample(text, 'drover_worker_restarts_total{pool="default",reason="timeout"}') ?? 0;
  const first = await scrape(server.url);
  const before = sample(first, 'fixture_hits_total{kind="pushed"}') ?? 0;
  const restarts = restartsOf(first);
  // The threads replaced by the previous test may still be starting: count until both have answered.
  const threads = new Set<number>();
  let sent = 0;
  while ((threads.size < 2 || sent < 6) && sent < 200) {
    threads.add((await get('/count?kind=pushed&value=1')).thread);
    sent++;
    if (sent >= 6) await new Promise((resolve) => setTimeout(resolve, 25));
  }
  t.equal(threads.size, 2, 'both threads counted');
  await new Promise((resolve) => setTimeout(resolve, 2500)); // past a push (every second), and no scrape asks
  // Both threads spin until they are replaced: busy on the CPU, they cannot answer a scrape either.
  await Promise.all([fetch(`${server.url}/spin-forever`), fetch(`${server.url}/spin-forever`)]);
  await eventually(async () => restartsOf(await scrape(server.url)) === restarts + 2);
  t.equal(sample(await scrape(server.url), 'fixture_hits_total{kind="pushed"}'), before + sent, 'both killed threads had sent their counts');
});

t.test('a retiring thread (MAX_REQUESTS) sends its last values: nothing it counted is lost', async (t) => {
  const recycling = await startDrover({ app: fixture('faults.js'), env: { WEB_CONCURRENCY: '1', WORKER_CONCURRENCY: '1', MAX_REQUESTS: '4', MAX_REQUESTS_JITTER: '0' } });
  t.teardown(() => recycling.stop());
  const threads = new Set<number>();
  for (let i = 0; i < 10; i++) threads.add(((await fetch(`${recycling.url}/count?kind=r&value=1`).then((r) => r.json())) as { thread: number }).thread);
  t.ok(threads.size >= 3, `recycled twice at least (threads ${[...threads].join(', ')})`);
  t.equal(sample(await scrape(recycling.url), 'fixture_hits_total{kind="r"}'), 10, 'every count of the retired threads is there');
});
