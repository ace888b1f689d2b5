// The example app, served by the real CLI over a real socket.
import t from 'tap';
import { startDrover } from './helpers/server.js';

const server = await startDrover();
t.teardown(() => server.stop());

const get = (path: string, init?: RequestInit) => fetch(server.url + path, init);

t.test('GET / names every route', async (t) => {
  const res = await get('/');
  t.equal(res.status, 200);
  const body = (await res.json()) as { routes: { pattern: string; name: string }[] };
  t.same(
    body.routes.map((r) => r.pattern),
    ['/', '/hello', '/items/<int:id>', '/report', '/echo', '/primes/<int:n>', '/sleep'],
  );
  t.equal(body.routes.find((r) => r.pattern === '/items/<int:id>')?.name, 'item');
});

t.test('GET /hello', async (t) => {
  const res = await get('/hello');
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^application\/json/);
  t.equal(await res.text(), '{"hello":"world"}');
});

t.test('GET /items/<int:id>', async (t) => {
  const res = await get('/items/7');
  t.equal(await res.text(), '{"id":7,"name":"item 7"}');
  t.equal((await get('/items/abc')).status, 404, 'a non-integer does not match');
  t.equal((await get('/items/-1')).status, 404, 'a sign does not match <int>');
  t.equal((await get('/items/9007199254740993')).status, 404, 'beyond the safe integer range does not match');
  t.equal((await get('/items/9007199254740991')).status, 200, 'the largest safe integer matches');
});

t.test('GET /report builds 1000 rows', async (t) => {
  const body = (await (await get('/report')).json()) as { rows: unknown[] };
  t.equal(body.rows.length, 1000);
  t.same(body.rows[0], { id: 0, name: 'row 0', price: 0, tags: ['a', 'b'] });
  t.same(body.rows[999], { id: 999, name: 'row 999', price: 999 * 1.25, tags: ['a', 'b'] });
});

t.test('POST /echo', async (t) => {
  const res = await get('/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":[1,2],"b":"ü"}' });
  t.equal(res.status, 200);
  t.same(await res.json(), { received: { a: [1, 2], b: 'ü' } });

  const bad = await get('/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":' });
  t.equal(bad.status, 400, 'malformed JSON is a 400');
  const error = (await bad.json()) as { error: string; requestId: string };
  t.match(error.error, /malformed JSON/);
  t.equal(error.requestId, bad.headers.get('x-request-id'));

  const empty = await get('/echo', { method: 'POST' });
  t.equal(empty.status, 400, 'an empty body is a 400');
});

t.test('GET /primes/<int:n> counts primes', async (t) => {
  t.same(await (await get('/primes/100')).json(), { n: 100, count: 25 });
  t.same(await (await get('/primes/1000000')).json(), { n: 1000000, count: 78498 });
  t.same(await (await get('/primes/1')).json(), { n: 1, count: 0 });
  t.equal((await get('/primes/999999999')).status, 400, 'a too-large n is refused with 400, not a hang');
});

t.test('GET /sleep?ms=N', async (t) => {
  t.same(await (await get('/sleep?ms=30')).json(), { slept: 30 });
  t.equal((await get('/sleep?ms=soon')).status, 400);
  t.equal((await get('/sleep?ms=1&ms=2')).status, 400, 'a repeated ms is refused');
});

t.test('404 and 405 never reach a worker', async (t) => {
  const missing = await get('/nowhere');
  t.equal(missing.status, 404);
  t.match(await missing.json(), { status: 404, error: /no route matches GET \/nowhere/ });

  const wrong = await get('/hello', { method: 'DELETE' });
  t.equal(wrong.status, 405);
  t.equal(wrong.headers.get('allow'), 'GET, HEAD');

  const echoGet = await get('/echo');
  t.equal(echoGet.status, 405);
  t.equal(echoGet.headers.get('allow'), 'POST');

  const lines = server.logs().filter((l) => l.msg === 'request completed' && [404, 405].includes(l.statusCode as number));
  t.ok(lines.length >= 3);
  t.ok(lines.every((l) => l.worker === null), 'no worker served a 404 or 405');
});

t.test('HEAD is answered from GET routes without a body', async (t) => {
  const res = await get('/hello', { method: 'HEAD' });
  t.equal(res.status, 200);
  t.equal(await res.text(), '');
});

t.test('/healthz answers from the front', async (t) => {
  const res = await get('/healthz');
  t.equal(res.status, 200);
  t.same(await res.json(), { status: 'ok' });
});
