// `drover serve` also runs the app's handlers (SERVE_EVENTS, on by default), in an events pool of
// its own, so `npm start` runs the whole app; off, it only publishes and a worker process consumes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openSqliteBus } from '../src/events/sqlite-bus.js';
import { fixture, sample, scrape, startDrover } from './helpers/server.js';

const dir = mkdtempSync(join(tmpdir(), 'drover-serve-events-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('serve consumes in its own pool: publish, fan out, cascade, in one process', async (t) => {
  const server = await startDrover({ app: fixture('pipeline.js'), env: { WEB_CONCURRENCY: '1', EVENT_THREADS: '1', BUS_PATH: join(dir, 'on.db') } });
  t.teardown(() => server.stop());
  t.match(server.logs().find((l) => l.msg === 'consuming events'), { threads: 1, handlers: ['video.uploaded -> resize', 'video.uploaded -> thumbnail', 'video.resized -> notify', 'flaky -> flaky', 'doomed -> doomed', 'stuck -> stuck', 'slow -> slow', 'cpu -> cpu'] });
  const res = await fetch(`${server.url}/publish/video.uploaded?id=v`, { method: 'POST', headers: { 'x-request-id': 'one-process' } });
  t.equal(res.status, 200);
  for (const handler of ['resize', 'thumbnail', 'notify']) {
    t.match(await server.waitForLog((l) => l.msg === 'event delivered' && l.handler === handler), { outcome: 'ok', reqId: 'one-process' });
  }
  t.equal(sample(await scrape(server.url), 'drover_workers{pool="events"}'), 1, 'the events pool beside the default one');
});

t.test('SIGTERM waits for a running handler, then exits 0', async (t) => {
  const server = await startDrover({ app: fixture('pipeline.js'), env: { WEB_CONCURRENCY: '1', EVENT_THREADS: '1', BUS_PATH: join(dir, 'drain.db') } });
  await fetch(`${server.url}/publish/slow?id=s&ms=800`, { method: 'POST' });
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.equal(await server.stop(), 0);
  t.ok(server.logs().some((l) => l.msg === 'event delivered' && l.handler === 'slow' && l.outcome === 'ok'), 'it finished before the exit');
});

t.test('SERVE_EVENTS=false: serve publishes, and leaves the handling to a worker', async (t) => {
  const busPath = join(dir, 'off.db');
  const server = await startDrover({ app: fixture('pipeline.js'), env: { WEB_CONCURRENCY: '1', SERVE_EVENTS: 'false', BUS_PATH: busPath } });
  t.teardown(() => server.stop());
  t.notOk(server.logs().some((l) => l.msg === 'consuming events'));
  await fetch(`${server.url}/publish/video.uploaded?id=v`, { method: 'POST' });
  await new Promise((resolve) => setTimeout(resolve, 500));
  const bus = openSqliteBus(busPath);
  t.teardown(() => bus.close());
  t.match(await bus.backlog(), [{ handler: 'resize', ready: 1 }, { handler: 'thumbnail', ready: 1 }]);
  t.equal(sample(await scrape(server.url), 'drover_workers{pool="events"}'), undefined, 'no events pool');
});
