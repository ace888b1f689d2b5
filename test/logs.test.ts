// stdout carries JSON lines only: access lines, request ids, view logs.
import t from 'tap';
import { fixture, startDrover } from './helpers/server.js';

const server = await startDrover({ app: fixture('views.js') });
t.teardown(() => server.stop());

t.test('a sane X-Request-Id is kept and echoed', async (t) => {
  const res = await fetch(`${server.url}/thread`, { headers: { 'x-request-id': 'abc-123_DEF.9' } });
  t.equal(res.headers.get('x-request-id'), 'abc-123_DEF.9');
  const line = await server.waitForLog((l) => l.reqId === 'abc-123_DEF.9' && l.msg === 'request completed');
  t.equal(line.url, '/thread');
});

t.test('an unsafe or oversized X-Request-Id is replaced', async (t) => {
  for (const hostile of ['a b', 'x'.repeat(129), '<script>', 'id\u0001']) {
    const res = await fetch(`${server.url}/thread`, { headers: { 'x-request-id': encodeURI(hostile) === hostile ? hostile : hostile.replace(/\u0001/, '%01') } });
    const id = res.headers.get('x-request-id');
    t.not(id, hostile);
    t.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'a generated uuid');
  }
});

t.test('generated ids are unique', async (t) => {
  const ids = await Promise.all(Array.from({ length: 20 }, async () => (await fetch(`${server.url}/thread`)).headers.get('x-request-id')));
  t.equal(new Set(ids).size, 20);
});

t.test('one access line per request with route, status, time and worker', async (t) => {
  const res = await fetch(`${server.url}/inspect/zed?x=1`, { headers: { 'x-request-id': 'access-1' } });
  t.equal(res.status, 200);
  const line = await server.waitForLog((l) => l.reqId === 'access-1' && l.msg === 'request completed');
  t.match(line, {
    level: 30,
    reqId: 'access-1',
    method: 'GET',
    url: '/inspect/zed?x=1',
    route: '/inspect/<str:name>',
    statusCode: 200,
    responseTime: Number,
    worker: Number,
  });
  t.ok((line.worker as number) > 0, 'a worker thread id (the main thread is 0)');
  t.equal(server.logs().filter((l) => l.reqId === 'access-1').length, 1, 'exactly one line');
});

t.test('unmatched requests are logged with the fixed route label', async (t) => {
  await fetch(`${server.url}/no/such/path`, { headers: { 'x-request-id': 'unmatched-1' } });
  const line = await server.waitForLog((l) => l.reqId === 'unmatched-1');
  t.equal(line.route, '<unmatched>');
  t.equal(line.statusCode, 404);
});

t.test('req.log lines carry the request id under the same reqId field', async (t) => {
  await fetch(`${server.url}/log`, { headers: { 'x-request-id': 'view-log-1' } });
  const line = await server.waitForLog((l) => l.reqId === 'view-log-1' && l.msg === 'hello from a view');
  t.equal(line.custom, 'field');
  t.equal(line.level, 30);
  t.type(line.worker, 'number');
});

t.test('a failing view: 500 without details, error and stack in the log', async (t) => {
  const res = await fetch(`${server.url}/boom`, { headers: { 'x-request-id': 'boom-1' } });
  t.equal(res.status, 500);
  const body = await res.text();
  t.same(JSON.parse(body), { error: 'Internal Server Error', status: 500, requestId: 'boom-1' });
  t.notMatch(body, /secret|stack|Error:/, 'nothing about the error leaks');
  const line = await server.waitForLog((l) => l.reqId === 'boom-1' && l.msg === 'view failed');
  t.equal(line.level, 50);
  t.match(line.err, { message: 'secret database password in this message', stack: /fixtures\/views\.js:\d+/ });
  t.equal(line.route, '/boom');
});

t.test('a view returning undefined is a coded error saying what to return', async (t) => {
  const res = await fetch(`${server.url}/nothing`, { headers: { 'x-request-id': 'undef-1' } });
  t.equal(res.status, 500);
  const line = await server.waitForLog((l) => l.reqId === 'undef-1' && l.msg === 'view failed');
  t.match(line.err, { code: 'DROVER_ERR_VIEW_UNDEFINED', message: /view `nothing` returned undefined; return an object/ });
});

t.test('a view returning a number is a coded error', async (t) => {
  const res = await fetch(`${server.url}/number`, { headers: { 'x-request-id': 'num-1' } });
  t.equal(res.status, 500);
  const line = await server.waitForLog((l) => l.reqId === 'num-1' && l.msg === 'view failed');
  t.match(line.err, { code: 'DROVER_ERR_VIEW_RESULT', message: /returned a number/ });
});

t.test('stdout is JSON lines only', async (t) => {
  const lines = server.stdout();
  t.ok(lines.length > 10);
  const notJson = lines.filter((line) => {
    try {
      JSON.parse(line);
      return false;
    } catch {
      return true;
    }
  });
  t.same(notJson, [], 'every line parses as JSON');
});
