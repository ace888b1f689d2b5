// `drover serve` also runs the app's handlers (SERVE_EVENTS, on by default), in an events pool of
// its own, so `npm start` runs the whole app; off, it only publishes and a worker process consumes.
import { spawnSync } from 'node:child_process';
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
  t.match(server.logs().find((l) => l.msg === 'consuming events'), { threads: 1, handlers: ['video.uploaded -> resize', 'video.uploaded -> thumbnail', 'video.resized -> notify', 'flaky -> flaky', 'doomed -> doomed', 'stuck -> stuck', 'slow -> slow', 'record -> record', 'cpu -> cpu'] });
  const res = await fetch(`${server.url}/publish/video.uploaded?id=v`, { method: 'POST', headers: { 'x-request-id': 'one-process' } });
  t.equal(res.status, 200);
  for (const handler of ['resize', 'thumbnail', 'notify']) {
    t.match(await server.waitForLog((l) => l.msg === 'event delivered' && l.handler === handler), { outcome: 'ok', reqId: 'one-process' });
  }
  t.equal(sample(await scrape(server.url), 'drover_workers{pool="events"}'), 1, 'the events pool beside the default one');
});

t.test('metrics: published by topic, deliveries by outcome, duration, lag, backlog; promtool-clean', async (t) => {
  const server = await startDrover({ app: fixture('pipeline.js'), env: { WEB_CONCURRENCY: '1', EVENT_THREADS: '1', BUS_PATH: join(dir, 'metrics.db') } });
  t.teardown(() => server.stop());
  await fetch(`${server.url}/publish/video.uploaded?id=m`, { method: 'POST' });
  await fetch(`${server.url}/publish/doomed?id=m`, { method: 'POST' });
  await fetch(`${server.url}/publish/slow?id=later&ms=1`, { method: 'POST' });
  await server.waitForLog((l) => l.handler === 'notify' && l.outcome === 'ok');
  await server.waitForLog((l) => l.handler === 'doomed' && l.outcome === 'dead');
  await server.waitForLog((l) => l.handler === 'slow' && l.outcome === 'ok');
  const text = await scrape(server.url);
  t.equal(sample(text, 'drover_events_published_total{topic="video.uploaded"}'), 1, 'by the view');
  t.equal(sample(text, 'drover_events_published_total{topic="video.resized"}'), 1, 'by the resize handler');
  t.equal(sample(text, 'drover_event_deliveries_total{handler="resize",outcome="ok"}'), 1);
  t.equal(sample(text, 'drover_event_deliveries_total{handler="doomed",outcome="retry"}'), 1);
  t.equal(sample(text, 'drover_event_deliveries_total{handler="doomed",outcome="dead"}'), 1);
  t.equal(sample(text, 'drover_event_deliveries_total{handler="stuck",outcome="timeout"}'), 0, 'every series from boot');
  t.equal(sample(text, 'drover_event_handler_duration_seconds_count{handler="thumbnail"}'), 1);
  t.equal(sample(text, 'drover_event_lag_seconds_count{handler="notify"}'), 1);
  t.equal(sample(text, 'drover_event_backlog{handler="doomed",state="dead"}'), 1);
  t.equal(sample(text, 'drover_event_backlog{handler="resize",state="ready"}'), 0);
  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (promtool.error) t.skip('promtool is not installed (.ci/run installs it)');
  else t.equal(promtool.status, 0, `promtool check metrics: ${promtool.stdout}${promtool.stderr}`);
});

t.test('SIGTERM waits for a running handler, then exits 0', async (t) => {
  const server = await startDrover({ app: fixture('pipeline.js'), env: { WEB_CONCURRENCY: '1', EVENT_THREADS: '1', BUS_PATH: join(dir, 'drain.db') } });
  await fetch(`${server.url}/publish/slow?id=s&ms=800`, { method: 'POST' });
  await server.waitForLog((l) => l.msg === 'slow started');
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
