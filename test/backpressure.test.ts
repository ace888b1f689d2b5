// Backpressure: WEB_CONCURRENCY × WORKER_CONCURRENCY run, MAX_QUEUE wait, the rest get 503 at once.
import t from 'tap';
import { fixture, sample, scrape, startDrover } from './helpers/server.js';

const server = await startDrover({
  app: fixture('faults.js'),
  // No prefetch: this file is about the front's queue; prefetch.test.ts covers thread inboxes.
  env: { WEB_CONCURRENCY: '1', WORKER_CONCURRENCY: '2', WORKER_PREFETCH: '0', MAX_QUEUE: '3', REQUEST_TIMEOUT: '20' },
});
t.teardown(() => server.stop());

t.test('beyond running + queued capacity: 503 with Retry-After, at once', async (t) => {
  const timed = async (path: string) => {
    const started = Date.now();
    const res = await fetch(server.url + path);
    return { status: res.status, ms: Date.now() - started, retryAfter: res.headers.get('retry-after'), body: await res.text() };
  };
  // 2 run (one slot × 2), 3 wait, 3 are refused.
  const all = Array.from({ length: 8 }, () => timed('/slow?ms=1500'));
  await new Promise((resolve) => setTimeout(resolve, 300));
  const during = await scrape(server.url);
  t.equal(sample(during, 'drover_queue_depth{pool="default"}'), 3, 'three waiting');

  const results = await Promise.all(all);
  const ok = results.filter((r) => r.status === 200);
  const refused = results.filter((r) => r.status === 503);
  t.equal(ok.length, 5);
  t.equal(refused.length, 3);
  for (const r of refused) {
    t.equal(r.retryAfter, '1');
    t.ok(r.ms < Math.min(...ok.map((o) => o.ms)) / 2, `refused at once (${r.ms} ms), well before any request that ran was answered`);
    t.match(JSON.parse(r.body), { status: 503, error: /at capacity \(2 requests running, 3 queued\)/ });
  }
  const after = await scrape(server.url);
  t.equal(sample(after, 'drover_queue_depth{pool="default"}'), 0);
  t.equal(sample(after, 'drover_queue_wait_seconds_count{pool="default"}'), 5, 'every admitted request recorded its wait');
  t.ok((sample(after, 'drover_queue_wait_seconds_sum{pool="default"}') ?? 0) >= 4, 'the three queued ones waited a round or two of 1.5 s each');
  t.equal(sample(after, 'http_requests_total{method="GET",route="/slow",status_code="503"}'), 3);
});
