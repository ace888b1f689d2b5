// Per-route pools (bulkheads): a saturated pool never delays the routes of another.
import t from 'tap';
import { fixture, runDrover, sample, scrape, startDrover } from './helpers/server.js';

t.test('a saturated heavy pool does not delay the default pool', async (t) => {
  const server = await startDrover({ app: fixture('pools.js'), env: { WEB_CONCURRENCY: '1', MAX_QUEUE: '50' } });
  t.teardown(() => server.stop());
  const heavyThreads = new Set<number>();
  const fastThreads = new Set<number>();
  // Eight 600 ms CPU-bound requests on a one-thread, one-at-a-time pool: 4.8 s of work queued (the
  // scrape below waits up to 0.5 s for the busy thread; five are still queued until 1.8 s).
  let heavyDone = 0;
  const heavy = Array.from({ length: 8 }, () =>
    fetch(`${server.url}/heavy?ms=600`).then(async (r) => {
      heavyThreads.add(((await r.json()) as { thread: number }).thread);
      heavyDone++;
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  const during = await scrape(server.url);
  t.ok((sample(during, 'drover_queue_depth{pool="heavy"}') ?? 0) >= 5, 'heavy requests are queued in their pool');
  t.equal(sample(during, 'drover_queue_depth{pool="default"}'), 0, 'the default pool has no queue');

  for (let i = 0; i < 10; i++) {
    const res = await fetch(`${server.url}/fast`);
    fastThreads.add(((await res.json()) as { thread: number }).thread);
  }
  // Had they queued behind the heavy pool, all eight heavy requests would have finished first.
  t.ok(heavyDone <= 4, `ten default-pool requests, one after another, were answered while the heavy pool worked (${heavyDone} of 8 heavy done)`);
  await Promise.all(heavy);
  t.equal(heavyThreads.size, 1);
  t.notOk([...fastThreads].some((id) => heavyThreads.has(id)), 'different threads');

  const after = await scrape(server.url);
  t.equal(sample(after, 'drover_workers{pool="default"}'), 1);
  t.equal(sample(after, 'drover_workers{pool="heavy"}'), 1);
  t.equal(sample(after, 'drover_queue_wait_seconds_count{pool="heavy"}'), 8);
  t.equal(sample(after, 'drover_worker_restarts_total{pool="heavy",reason="crash"}'), 0, 'restart series per pool');
});

t.test('POOL_THREADS resizes a declared pool', async (t) => {
  const server = await startDrover({ app: fixture('pools.js'), env: { WEB_CONCURRENCY: '1', POOL_THREADS: 'heavy=2' } });
  t.teardown(() => server.stop());
  t.equal(sample(await scrape(server.url), 'drover_workers{pool="heavy"}'), 2);
});

t.test('POOL_THREADS naming an undeclared pool stops boot, naming the setting', async (t) => {
  const { code, stderr } = await runDrover(['serve', fixture('pools.js')], { POOL_THREADS: 'reports=1' });
  t.equal(code, 1);
  t.match(stderr, /setting POOL_THREADS=.*reports.* is invalid: expected pools the app declares \(heavy\); unknown: reports/);
});

t.test('a route naming an undeclared pool stops boot', async (t) => {
  const { code, stderr } = await runDrover(['serve', fixture('bad-pool.js')]);
  t.equal(code, 1);
  t.match(stderr, /DROVER_ERR_POOL: route "\/x" uses pool "missing", which .* does not declare; add it to `export const pools`/);
});

t.test('a pool declared with a value out of range stops boot, showing the declaration', async (t) => {
  for (const spec of [{ threads: 1, prefetch: -1 }, { threads: 1, prefetch: 2000 }, { threads: 0 }, { threads: 1, concurrency: 0 }, { threads: 1, prefetch: 1.5 }]) {
    const { code, stderr } = await runDrover(['serve', fixture('bad-pool-spec.js')], { BAD_POOL_SPEC: JSON.stringify(spec) });
    t.equal(code, 1, JSON.stringify(spec));
    t.match(stderr, `pool "heavy" in `);
    t.match(stderr, `must be { threads: 1..1024, concurrency?: 1..1024, prefetch?: 0..1024 }; found ${JSON.stringify(spec)}`);
  }
});

t.test('drover routes shows the pool', async (t) => {
  const { stdout } = await runDrover(['routes', fixture('pools.js')]);
  t.match(stdout, /^GET\s+\/heavy\s+-\s+25s \(default\)\s+heavy$/m);
  t.match(stdout, /^GET\s+\/fast\s+-\s+25s \(default\)\s+default$/m);
});
