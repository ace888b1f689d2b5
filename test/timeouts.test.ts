// Deadlines: from arrival, queue time included; running → 504 and req.signal aborts, and a view
// that does not stop within the grace has its thread replaced (uWSGI's harakiri).
import t from 'tap';
import { eventually, fixture, sample, scrape, startDrover } from './helpers/server.js';

const server = await startDrover({
  app: fixture('faults.js'),
  // No prefetch: queued requests wait in the front's queue here; prefetch.test.ts covers thread inboxes.
  env: { WEB_CONCURRENCY: '1', WORKER_CONCURRENCY: '1', WORKER_PREFETCH: '0', REQUEST_TIMEOUT: '1' },
});
t.teardown(() => server.stop());
const get = (path: string, init?: RequestInit) => fetch(server.url + path, init);
const restarts = async (reason: string) => sample(await scrape(server.url), `drover_worker_restarts_total{pool="default",reason="${reason}"}`);

t.test('a running view past its deadline: 504, logged, thread replaced', async (t) => {
  const started = Date.now();
  const res = await get('/spin-forever', { headers: { 'x-request-id': 'forever-1' } });
  const took = Date.now() - started;
  t.equal(res.status, 504);
  t.same(await res.json(), {
    error: 'the request did not finish within its 1 s deadline (route /spin-forever)',
    status: 504,
    requestId: 'forever-1',
  });
  t.ok(took >= 900, `answered at the deadline, not before (${took} ms)`);
  const line = await server.waitForLog((l) => l.reqId === 'forever-1' && l.level === 50);
  t.match(line, { route: '/spin-forever', timeout: 1, msg: /timed out.*replacing its worker thread/ });
  t.equal(await restarts('timeout'), 1);
  t.equal(sample(await scrape(server.url), 'drover_request_timeouts_total{pool="default",route="/spin-forever"}'), 1);

  // A route with a 10 s deadline: the replacement may take longer than /ok's 1 s to boot.
  const after = await get('/spin-long?ms=0');
  t.equal(after.status, 200, 'the replacement thread serves');
  await eventually(async () => sample(await scrape(server.url), 'drover_workers{pool="default"}') === 1);
});

t.test('a view that stops on req.signal at its deadline keeps its thread', async (t) => {
  const before = await restarts('timeout');
  const res = await get('/wait-signal', { headers: { 'x-request-id': 'polite-1' } });
  t.equal(res.status, 504, 'the client has its 504 at the deadline');
  const line = await server.waitForLog((l) => l.reqId === 'polite-1' && l.msg === 'signal aborted');
  t.equal(line.reason, 'TimeoutError', "the view's signal aborted with a TimeoutError");
  t.match(server.logs().find((l) => l.reqId === 'polite-1' && l.level === 40), { msg: /aborting its view \(req.signal\)/ });
  // Past the grace: still no replacement, and the same thread serves on.
  await new Promise((resolve) => setTimeout(resolve, 1200));
  t.equal(await restarts('timeout'), before, 'no thread was replaced');
  t.notOk(server.logs().some((l) => l.reqId === 'polite-1' && l.level === 50), 'no harakiri line');
  t.equal((await get('/ok')).status, 200);
});

t.test('a route timeout overrides REQUEST_TIMEOUT', async (t) => {
  const started = Date.now();
  const res = await get('/quick-timeout');
  t.equal(res.status, 504);
  t.ok(Date.now() - started < 4000, 'cut by a deadline, not after the 5 s view (the message says which deadline)');
  t.match(await res.json(), { error: /within its 0.3 s deadline \(route \/quick-timeout\)/ });
});

t.test('a queued request past its deadline is dropped without running', async (t) => {
  const before = sample(await scrape(server.url), 'fixture_hits_total{kind="queued"}') ?? 0;
  const busy = get('/spin-long?ms=1800'); // its own 10 s deadline; holds the only slot for 1.8 s
  await new Promise((resolve) => setTimeout(resolve, 100));
  const queued = await get('/count?kind=queued', { headers: { 'x-request-id': 'queued-1' } });
  t.equal(queued.status, 504);
  const line = await server.waitForLog((l) => l.reqId === 'queued-1' && l.level === 40);
  t.match(line.msg, /dropped: its deadline passed while it waited/);
  t.equal((await busy).status, 200);
  t.equal(sample(await scrape(server.url), 'fixture_hits_total{kind="queued"}') ?? 0, before, 'the dropped view never ran');
});

t.test('a client that disconnects does not kill its running view', async (t) => {
  const before = await restarts('timeout');
  const controller = new AbortController();
  const pending = get('/spin?ms=600', { signal: controller.signal, headers: { 'x-request-id': 'gone-running' } }).catch(() => 'aborted');
  await new Promise((resolve) => setTimeout(resolve, 150));
  controller.abort();
  t.equal(await pending, 'aborted');
  const line = await server.waitForLog((l) => l.reqId === 'gone-running' && l.msg === 'request completed');
  t.type(line.worker, 'number', 'the view ran to the end on its worker');
  t.equal(line.statusCode, 499);
  t.equal(server.logs().filter((l) => l.reqId === 'gone-running' && l.msg === 'request completed').length, 1, 'one access line, not two');
  t.equal(await restarts('timeout'), before, 'no thread was killed');
  t.equal(await restarts('crash'), 0);
});

t.test('a client that disconnects while queued has its request dropped', async (t) => {
  const busy = get('/spin?ms=700');
  await new Promise((resolve) => setTimeout(resolve, 100));
  const controller = new AbortController();
  const pending = get('/count?kind=abandoned', { signal: controller.signal, headers: { 'x-request-id': 'gone-queued' } }).catch(() => 'aborted');
  await new Promise((resolve) => setTimeout(resolve, 100));
  controller.abort();
  t.equal(await pending, 'aborted');
  t.equal((await busy).status, 200);
  const line = await server.waitForLog((l) => l.reqId === 'gone-queued' && l.msg === 'request completed');
  t.equal(line.statusCode, 499, 'logged with nginx\'s "client closed request"');
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.equal(server.logs().filter((l) => l.reqId === 'gone-queued' && l.msg === 'request completed').length, 1, 'one access line, not two');
  t.equal(line.worker, null, 'no worker ran it');
  t.equal(sample(await scrape(server.url), 'fixture_hits_total{kind="abandoned"}'), undefined, 'the view never ran');
});
