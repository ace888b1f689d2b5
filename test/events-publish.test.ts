// req.publish(): events written after the view succeeds and before its response (a view that
// throws publishes nothing), one delivery per handler of the topic, keys, delays, payloads checked
// at publish(), and a 503 (never a 200) when the bus cannot take them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { testClient } from 'drover/testing';
import { openSqliteBus } from '../src/events/sqlite-bus.js';
import { fixture, runDrover, startDrover } from './helpers/server.js';

const dir = mkdtempSync(join(tmpdir(), 'drover-publish-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const busPath = join(dir, 'var', 'events.db');
const client = await testClient(fixture('publisher.js'), { env: { WEB_CONCURRENCY: '1', BUS_PATH: busPath, EVENT_MAX_BYTES: '500' } });
t.teardown(() => client.close());
const bus = openSqliteBus(busPath);
t.teardown(() => bus.close());

t.test('a view publishes: one delivery per handler, with the request id as correlation', async (t) => {
  const res = await client.post('/videos/7', { headers: { 'x-request-id': 'upload-7' } });
  t.equal(res.status, 200);
  const resize = await bus.claim('test', 'resize', 10, 60_000);
  const thumbnail = await bus.claim('test', 'thumbnail', 10, 60_000);
  t.match(resize, [{ topic: 'video.uploaded', payload: '{"id":7}', correlation: 'upload-7', attempt: 1 }]);
  t.equal(thumbnail.length, 1);
  t.equal(thumbnail[0]?.eventId, resize[0]?.eventId, 'one event, two deliveries');
  for (const d of [...resize, ...thumbnail]) await bus.ack('test', d.id);
});

t.test('the same key twice is one event', async (t) => {
  await client.post('/videos/8?key=upload-8');
  await client.post('/videos/8?key=upload-8');
  const claimed = await bus.claim('test', 'resize', 10, 60_000);
  t.equal(claimed.length, 1);
  for (const d of [...claimed, ...(await bus.claim('test', 'thumbnail', 10, 60_000))]) await bus.ack('test', d.id);
});

t.test('a delay: the delivery waits', async (t) => {
  t.equal((await client.post('/later')).status, 200);
  t.same(await bus.claim('test', 'popular', 10, 60_000), []);
  t.match(await bus.backlog(), [{ handler: 'popular', delayed: 1 }]);
});

t.test('a view that throws publishes nothing', async (t) => {
  const res = await client.post('/fails');
  t.equal(res.status, 409);
  t.same(await bus.claim('test', 'resize', 10, 60_000), [], 'no delivery of the abandoned event');
});

t.test('a topic nobody handles is accepted', async (t) => {
  t.equal((await client.post('/nobody')).status, 200);
});

t.test('a payload that is not JSON, or too large, fails at publish() naming the topic', async (t) => {
  const date = await client.post('/date', { headers: { 'x-request-id': 'date-1' } });
  t.equal(date.status, 500);
  const big = await client.post('/big');
  t.equal(big.status, 500);
  t.same(await bus.claim('test', 'popular', 10, 60_000), [], 'nothing written');
});

t.test('a bus that cannot be opened: 503 with Retry-After, never a 200', async (t) => {
  const blocker = join(dir, 'a-file');
  writeFileSync(blocker, 'x');
  const broken = await testClient(fixture('publisher.js'), { env: { WEB_CONCURRENCY: '1', BUS_PATH: join(blocker, 'events.db') } });
  t.teardown(() => broken.close());
  const res = await broken.post('/videos/9');
  t.equal(res.status, 503);
  t.equal(res.headers['retry-after'], '1');
  t.match(res.json(), { status: 503, error: /DROVER_ERR_BUS_OPEN|cannot open the event database/ });
  t.equal((await broken.get('/ok')).status, 200, 'views that publish nothing are unaffected');
});

t.test('drover run: a task publishes, one delivery per handler', async (t) => {
  const taskBus = join(dir, 'task', 'events.db');
  const { code, stderr } = await runDrover(['run', fixture('publish-task.js'), 'a', 'b'], { APP: fixture('publisher.js'), BUS_PATH: taskBus });
  t.equal(code, 0, stderr);
  const events = openSqliteBus(taskBus);
  t.teardown(() => events.close());
  t.same((await events.events()).map((e) => [e.topic, e.payload, e.correlation]), [['video.uploaded', '{"id":"a"}', null], ['video.uploaded', '{"id":"b"}', null]]);
  t.equal((await events.claim('t', 'thumbnail', 10, 60_000)).length, 2);
});

t.test('the refusal is logged with its code, naming the topic and what is wrong', async (t) => {
  const server = await startDrover({ app: fixture('publisher.js'), env: { WEB_CONCURRENCY: '1', BUS_PATH: join(dir, 'logged.db'), EVENT_MAX_BYTES: '500' } });
  t.teardown(() => server.stop());
  await fetch(`${server.url}/date`, { method: 'POST', headers: { 'x-request-id': 'date-2' } });
  await fetch(`${server.url}/big`, { method: 'POST', headers: { 'x-request-id': 'big-2' } });
  const date = await server.waitForLog((l) => l.reqId === 'date-2' && l.level === 50);
  t.match(date, { err: { code: 'DROVER_ERR_EVENT_PUBLISH', message: 'publish("search.done"): the payload is not JSON: payload.at is a Date (send date.toISOString()); send plain objects, arrays, strings, numbers, booleans and null' } });
  const big = await server.waitForLog((l) => l.reqId === 'big-2' && l.level === 50);
  t.match(big, { err: { code: 'DROVER_ERR_EVENT_TOO_LARGE', message: /publish\("search.done"\): the payload is 1011 bytes of JSON, over EVENT_MAX_BYTES \(500\)/ } });
});
