// WORKER_PREFETCH: requests sent ahead wait in a thread's inbox; until they start they share no
// fate with the thread — a dead thread hands them back, a passed deadline drops them unharmed.
import t from 'tap';
import { eventually, fixture, sample, scrape, startDrover } from './helpers/server.js';

// One thread running one view at a time: everything else sent to it waits in its inbox.
const server = await startDrover({
  app: fixture('faults.js'),
  env: { WEB_CONCURRENCY: '1', WORKER_CONCURRENCY: '1', REQUEST_TIMEOUT: '5' },
});
t.teardown(() => server.stop());
const get = (path: string, init?: RequestInit) => fetch(server.url + path, init);
const metric = async (name: string) => sample(await scrape(server.url), name) ?? 0;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('requests waiting in an inbox count as queued', async (t) => {
  // Long enough that the scrape below (which waits up to 0.5 s for the busy thread) ends first.
  const busy = get('/spin?ms=2000');
  await pause(100);
  const waiting = Array.from({ length: 3 }, () => get('/ok'));
  await pause(150);
  t.equal(await metric('drover_queue_depth{pool="default"}'), 3, 'three sent ahead, not started');
  t.same((await Promise.all([busy, ...waiting])).map((r) => r.status), [200, 200, 200, 200]);
  t.equal(await metric('drover_queue_depth{pool="default"}'), 0);
});

t.test('the queue-wait histogram counts the time a request spent in an inbox', async (t) => {
  const bucket = (le: string) => metric(`drover_queue_wait_seconds_bucket{le="${le}",pool="default"}`);
  const [quickBefore, underOneBefore] = [await bucket('0.1'), await bucket('1')];
  const allBefore = await metric('drover_queue_wait_seconds_count{pool="default"}');
  const busy = get('/spin?ms=700');
  await pause(100);
  const waiting = get('/ok'); // sent ahead at once, started only when the spin ends
  t.same((await Promise.all([busy, waiting])).map((r) => r.status), [200, 200]);
  t.equal(await metric('drover_queue_wait_seconds_count{pool="default"}'), allBefore + 2);
  t.equal(await bucket('0.1'), quickBefore + 1, 'the spin started at once; the other waited about 0.6 s');
  t.equal(await bucket('1'), underOneBefore + 2);
});

t.test("a thread killed at its view's deadline hands its inbox to the replacement", async (t) => {
  const timeoutsBefore = await metric('drover_worker_restarts_total{pool="default",reason="timeout"}');
  const killer = get('/quick-timeout'); // spins 5 s; its route deadline is 0.3 s
  await pause(100);
  const behind = await Promise.all(Array.from({ length: 3 }, (_, i) => get(`/ok`, { headers: { 'x-request-id': `behind-${i}` } })));
  t.equal((await killer).status, 504);
  t.same(behind.map((r) => r.status), [200, 200, 200], 'run by the new thread, not failed with the old one');
  t.equal(await metric('drover_worker_restarts_total{pool="default",reason="timeout"}'), timeoutsBefore + 1);
  for (let i = 0; i < 3; i++) {
    const line = await server.waitForLog((l) => l.reqId === `behind-${i}` && l.msg === 'request completed');
    t.equal(line.statusCode, 200);
  }
});

t.test('a thread that crashes hands its inbox to the replacement', async (t) => {
  const crashesBefore = await metric('drover_worker_restarts_total{pool="default",reason="crash"}');
  const before = await metric('fixture_hits_total{kind="after-crash"}');
  const crasher = get('/spin-then-exit?ms=400');
  await pause(100);
  const behind = await Promise.all(Array.from({ length: 3 }, () => get('/count?kind=after-crash')));
  t.equal((await crasher).status, 502);
  t.same(behind.map((r) => r.status), [200, 200, 200]);
  await eventually(async () => (await metric('fixture_hits_total{kind="after-crash"}')) === before + 3);
  t.equal(await metric('drover_worker_restarts_total{pool="default",reason="crash"}'), crashesBefore + 1);
});

t.test('requests handed to the replacement keep their bodies', async (t) => {
  const crasher = get('/spin-then-exit?ms=400');
  await pause(100);
  const bodies = ['{"a":1}', 'x'.repeat(20_000), 'third'];
  const behind = await Promise.all(bodies.map((body) => get('/echo', { method: 'POST', body })));
  t.equal((await crasher).status, 502);
  t.same(behind.map((r) => r.status), [200, 200, 200]);
  t.same(await Promise.all(behind.map(async (r) => ((await r.json()) as { text: string }).text)), bodies);
});

t.test('a deadline that passes in the inbox: 504 without killing the thread, and the view never runs', async (t) => {
  const timeoutsBefore = await metric('drover_worker_restarts_total{pool="default",reason="timeout"}');
  const before = await metric('fixture_hits_total{kind="inbox-deadline"}');
  const busy = get('/spin-long?ms=6000'); // its own 10 s deadline; holds the thread past 5 s
  await pause(100);
  const started = Date.now();
  const waiting = await get('/count?kind=inbox-deadline', { headers: { 'x-request-id': 'inbox-1' } });
  t.equal(waiting.status, 504);
  t.ok(Date.now() - started >= 4800, 'at its deadline');
  const line = await server.waitForLog((l) => l.reqId === 'inbox-1' && l.level === 40);
  t.match(line.msg, /deadline passed while it waited in a worker thread's inbox/);
  t.equal((await busy).status, 200, 'the thread was not killed');
  t.equal(await metric('drover_worker_restarts_total{pool="default",reason="timeout"}'), timeoutsBefore);
  await pause(100);
  t.equal(await metric('fixture_hits_total{kind="inbox-deadline"}'), before, 'the dropped view never ran');
});

t.test('a client that leaves while its request waits in an inbox has it dropped', async (t) => {
  const before = await metric('fixture_hits_total{kind="inbox-gone"}');
  const busy = get('/spin?ms=700');
  await pause(100);
  const controller = new AbortController();
  const gone = get('/count?kind=inbox-gone', { signal: controller.signal, headers: { 'x-request-id': 'inbox-gone' } }).catch(() => 'aborted');
  await pause(150);
  controller.abort();
  t.equal(await gone, 'aborted');
  t.equal((await busy).status, 200);
  const line = await server.waitForLog((l) => l.reqId === 'inbox-gone' && l.msg === 'request completed');
  t.equal(line.statusCode, 499);
  await pause(100);
  t.equal(await metric('fixture_hits_total{kind="inbox-gone"}'), before, 'the view never ran');
});
