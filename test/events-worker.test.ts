// `drover worker`: handlers run in worker threads, fed from the bus. A view's event fans out and
// cascades with its request id; failures retry with backoff, then die; a stuck handler times out
// and its thread is replaced; SIGTERM lets running handlers finish and gives back what is left
// without spending an attempt; a worker killed with -9 has its deliveries taken up within the
// lease; a handler busy on the CPU past the lease runs once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { testClient } from 'drover/testing';
import { openSqliteBus } from '../src/events/sqlite-bus.js';
import { eventually, fixture, sample, startDrover, type Drover, type LogLine } from './helpers/server.js';

const dir = mkdtempSync(join(tmpdir(), 'drover-worker-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** A fresh bus file, a web client that publishes to it, and a way to start workers on it. */
async function setup(t: Test, env: Record<string, string> = {}) {
  const busPath = join(dir, `bus-${++n}.db`);
  const web = await testClient(fixture('pipeline.js'), { env: { WEB_CONCURRENCY: '1', BUS_PATH: busPath } });
  t.teardown(() => web.close());
  const workers: Drover[] = [];
  t.teardown(() => Promise.all(workers.map((w) => w.stop())));
  const worker = async (extra: Record<string, string> = {}) => {
    const w = await startDrover({ command: 'worker', app: fixture('pipeline.js'), env: { BUS_PATH: busPath, EVENT_THREADS: '2', ...env, ...extra } });
    workers.push(w);
    return w;
  };
  const publish = async (topic: string, query = '', id?: string) => {
    const res = await web.post(`/publish/${topic}?${query}`, id ? { headers: { 'x-request-id': id } } : {});
    t.equal(res.status, 200, `published ${topic}`);
  };
  return { busPath, worker, publish };
}

const delivered = (handler: string, extra: (l: LogLine) => boolean = () => true) => (l: LogLine) => l.msg.startsWith('event deliver') && l.handler === handler && extra(l);

t.test('fan-out and a pipeline, every line carrying the request id', async (t) => {
  const { worker, publish } = await setup(t);
  const w = await worker();
  await publish('video.uploaded', 'id=v', 'upload-1');
  for (const handler of ['resize', 'thumbnail', 'notify']) {
    const line = await w.waitForLog(delivered(handler));
    t.match(line, { outcome: 'ok', attempt: 1, reqId: 'upload-1' }, `${handler} ran, with the request id`);
  }
  const notify = w.logs().find(delivered('notify')) as LogLine;
  t.match(notify.eventId, /^d-/, 'the event resize published has an id derived from its delivery');
  t.match(await w.waitForLog((l) => l.msg === 'resized video ready'), { correlation: 'upload-1', worker: Number });
});

t.test('the worker serves its metrics on METRICS_PORT', async (t) => {
  const { worker, publish } = await setup(t);
  const w = await worker({ METRICS_PORT: '0' });
  await publish('flaky', 'id=metrics');
  await w.waitForLog(delivered('flaky', (l) => l.outcome === 'ok'));
  const url = w.logs().find((l) => l.msg === 'worker ready')?.metricsUrl as string;
  const text = await (await fetch(url)).text();
  t.equal(sample(text, 'drover_event_deliveries_total{handler="flaky",outcome="retry"}'), 2);
  t.equal(sample(text, 'drover_event_deliveries_total{handler="flaky",outcome="ok"}'), 1);
  t.equal(sample(text, 'drover_workers{pool="events"}'), 2);
});

t.test('a handler that fails twice, then succeeds; one that always fails is dead', async (t) => {
  const { busPath, worker, publish } = await setup(t);
  const w = await worker();
  await publish('flaky', 'id=f');
  await publish('doomed', 'id=d');
  const ok = await w.waitForLog(delivered('flaky', (l) => l.outcome === 'ok'));
  t.equal(ok.attempt, 3);
  t.same(w.logs().filter(delivered('flaky', (l) => l.outcome === 'retry')).map((l) => l.error), ['flaky failure 1', 'flaky failure 2']);
  const dead = await w.waitForLog(delivered('doomed', (l) => l.outcome === 'dead'));
  t.match(dead, { attempt: 2, level: 50, error: 'always fails', msg: /dead: out of attempts/ });
  const bus = openSqliteBus(busPath);
  t.teardown(() => bus.close());
  t.match(await bus.dead(), [{ handler: 'doomed', attempts: 2, lastError: 'always fails' }]);
});

t.test('a stuck handler: its timeout fails the attempt and replaces its thread', async (t) => {
  const { worker, publish } = await setup(t);
  const w = await worker();
  await publish('stuck', 'id=s');
  t.match(await w.waitForLog(delivered('stuck')), { outcome: 'timeout', error: /0.5 s deadline/ });
  t.match(await w.waitForLog((l) => l.msg === 'worker thread replaced'), { pool: 'events', reason: 'timeout' });
  await publish('flaky', 'id=after');
  await w.waitForLog(delivered('flaky', (l) => l.outcome === 'ok'));
});

t.test('SIGTERM: running handlers finish, the rest stays for the next worker, unspent', async (t) => {
  const { busPath, worker, publish } = await setup(t);
  const w = await worker();
  await publish('slow', 'id=w&ms=1200&count=3');
  await eventually(() => w.logs().filter((l) => l.msg === 'slow started').length === 2);
  t.equal(await w.stop(), 0);
  t.equal(w.logs().filter(delivered('slow', (l) => l.outcome === 'ok')).length, 2, 'the two running (2 threads) finished');
  const bus = openSqliteBus(busPath);
  t.teardown(() => bus.close());
  t.match(await bus.claim('test', 'slow', 10, 60_000), [{ attempt: 1 }], 'the third waits, no attempt spent');
});

t.test('past GRACEFUL_TIMEOUT, running deliveries are given back without spending an attempt', async (t) => {
  const { busPath, worker, publish } = await setup(t, { GRACEFUL_TIMEOUT: '0.3' });
  const w = await worker();
  await publish('slow', 'id=long&ms=10000');
  await w.waitForLog((l) => l.msg === 'slow started');
  await w.stop();
  t.ok(w.logs().some((l) => l.msg === 'graceful timeout: running deliveries given back to the bus'));
  const bus = openSqliteBus(busPath);
  t.teardown(() => bus.close());
  t.match(await bus.claim('test', 'slow', 10, 60_000), [{ attempt: 1 }], 'taken up again as a first attempt');
});

t.test('kill -9: the dead worker\'s delivery is taken up within EVENT_LEASE', async (t) => {
  const { worker, publish } = await setup(t, { EVENT_LEASE: '1' });
  const first = await worker();
  await publish('slow', 'id=orphan&ms=4000');
  await first.waitForLog((l) => l.msg === 'slow started');
  first.child.kill('SIGKILL');
  const second = await worker();
  const line = await second.waitForLog(delivered('slow'), 15_000);
  t.match(line, { outcome: 'ok', attempt: 2 }, 'run again, the lost attempt counted');
});

t.test('a handler busy on the CPU past its lease runs once, with two workers', async (t) => {
  const { worker, publish } = await setup(t, { EVENT_LEASE: '2', EVENT_THREADS: '1' });
  const a = await worker();
  const b = await worker();
  await publish('cpu', 'id=burn&ms=5000'); // past the 2 s lease more than twice
  const done = await Promise.race([a.waitForLog(delivered('cpu'), 15_000), b.waitForLog(delivered('cpu'), 15_000)]);
  t.match(done, { outcome: 'ok', attempt: 1 });
  // A lapsed lease would have let the other worker start a second run while the first was busy.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const runs = [...a.logs(), ...b.logs()].filter((l) => l.msg === 'cpu started').length;
  t.equal(runs, 1, 'the lease was renewed while the thread was busy: no second run');
});
