// The example app, through the test client (the whole stack, in-process, no port).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { testClient } from 'drover/testing';

const data = mkdtempSync(join(tmpdir(), 'drover-example-'));
t.teardown(() => rmSync(data, { recursive: true, force: true }));
const client = await testClient('dist/app/index.js', {
  env: { WEB_CONCURRENCY: '2', EVENT_THREADS: '1', APP_DB: join(data, 'app.db'), UPLOADS_DIR: join(data, 'uploads') },
});
t.teardown(() => client.close());

t.test('GET / names every route, with URLs built by reverse()', async (t) => {
  const res = await client.get('/');
  t.equal(res.status, 200);
  const body = res.json<{ routes: { pattern: string; name: string; example: string }[] }>();
  t.same(
    body.routes.map((r) => r.pattern),
    [
      '/',
      '/hello',
      '/items/<int:id>',
      '/report',
      '/echo',
      '/primes/<int:n>',
      '/sleep',
      '/export.csv',
      '/bytes/<int:mib>',
      '/clock',
      '/downloads/<path:name>',
      '/uploads',
      '/uploads/<str:id>',
      '/search',
      '/bookings',
      '/insights',
    ],
  );
  t.match(body.routes.find((r) => r.name === 'item'), { pattern: '/items/<int:id>', example: '/items/7' });
  t.equal(body.routes.find((r) => r.name === 'primes')?.example, '/primes/1000');
});

t.test('the upload pipeline: answered at once, processed in the background', async (t) => {
  const res = await client.post('/uploads?name=photo.jpg', { body: Buffer.alloc(1000, 1), headers: { 'x-request-id': 'upload-1' } });
  t.equal(res.status, 202);
  const { id, progress } = res.json<{ id: string; progress: string }>();
  t.equal(progress, `/uploads/${id}`);
  t.match((await client.get(progress)).json(), { name: 'photo.jpg', size: 1000, steps: { resize: 'pending', thumbnail: 'pending' }, done: false });
  t.match(await client.published(), [{ topic: 'upload.received', payload: { id, name: 'photo.jpg' }, correlationId: 'upload-1' }]);
  t.match(await client.runEvents(), { resize: { ok: 1 }, thumbnail: { ok: 1 }, 'finish-resize': { ok: 1 }, 'finish-thumbnail': { ok: 1 } });
  t.match((await client.get(progress)).json(), { steps: { resize: 'done', thumbnail: 'done' }, done: true });
  t.ok(existsSync(join(data, 'uploads', id, 'resized-photo.jpg')), 'resize wrote its output');
  t.ok(existsSync(join(data, 'uploads', id, 'thumb-photo.jpg')), 'thumbnail wrote its output');
  t.equal((await client.post('/uploads?name=../x', { body: 'x' })).status, 400);
});

t.test('a file the thumbnail handler cannot decode: retried, then dead', async (t) => {
  const res = await client.post('/uploads?name=corrupt.jpg', { body: 'not an image' });
  const { progress } = res.json<{ progress: string }>();
  t.match(await client.runEvents(), { resize: { ok: 1 }, thumbnail: { retry: 1 } });
  await new Promise((resolve) => setTimeout(resolve, 550)); // backoff 0.5 s, jittered down to half
  t.match(await client.runEvents(), { thumbnail: { retry: 1 } });
  await new Promise((resolve) => setTimeout(resolve, 1050));
  t.match(await client.runEvents(), { thumbnail: { dead: 1 } });
  t.match((await client.get(progress)).json(), { steps: { resize: 'done', thumbnail: 'pending' }, done: false });
});

t.test('analysis modules: searches and bookings counted, abandoned searches found', async (t) => {
  for (const [session, to] of [['s1', 'Lisbon'], ['s2', 'Lisbon'], ['s2', 'Oslo']]) t.equal((await client.get(`/search?to=${to}&session=${session}`)).status, 200);
  t.equal((await client.post('/bookings', { json: { session: 's1', to: 'Lisbon' } })).status, 201);
  t.equal((await client.get('/search?to=<script>&session=s1')).status, 400);
  await client.runEvents();
  const insights = (await client.get('/insights')).json<{ popular: unknown[]; abandonedSearches: { session: string; destination: string }[] }>();
  t.same(insights.popular, [
    { destination: 'Lisbon', searches: 2, bookings: 1 },
    { destination: 'Oslo', searches: 1, bookings: 0 },
  ]);
  t.same(insights.abandonedSearches.map((s) => [s.session, s.destination]), [['s2', 'Lisbon'], ['s2', 'Oslo']]);
});

t.test('GET /export.csv streams the report as CSV', async (t) => {
  const res = await client.get('/export.csv');
  t.equal(res.status, 200);
  t.equal(res.headers['content-type'], 'text/csv; charset=utf-8');
  t.equal(res.headers['content-disposition'], 'attachment; filename="report.csv"');
  t.match(res.headers['server-timing'], /^view;dur=/, 'the timing middleware saw the streamed response');
  const lines = res.text().trimEnd().split('\n');
  t.equal(lines.length, 1001, 'a header line and REPORT_ROWS rows');
  t.equal(lines[0], 'id,name,price');
  t.equal(lines[2], '1,row 1,1.25');
});

t.test('GET /bytes/<int:mib> streams that many bytes', async (t) => {
  t.equal((await client.get('/bytes/3')).body.byteLength, 3 * 1024 * 1024);
  t.equal((await client.get('/bytes/5000')).status, 400);
});

t.test('GET /clock sends server-sent events', async (t) => {
  const res = await client.get('/clock?ticks=3&every=0.01');
  t.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
  const events = res.text().split('\n\n').filter(Boolean);
  t.equal(events.length, 3);
  t.match(events[2], /^event: tick\nid: 3\ndata: \{"n":3,"at":"[^"]+"\}$/);
  t.equal((await client.get('/clock?every=0')).status, 400, 'a bad parameter is a 400');
});

t.test('GET /downloads/<path:name> sends a file from DOWNLOADS_DIR', async (t) => {
  const res = await client.get('/downloads/robots.txt');
  t.equal(res.status, 200);
  t.match(res.text(), /User-agent/);
  t.equal((await client.get('/downloads/../index.js')).status, 404);
});

t.test('GET /hello, with the timing middleware', async (t) => {
  const res = await client.get('/hello');
  t.equal(res.status, 200);
  t.match(res.headers['content-type'], /^application\/json/);
  t.equal(res.text(), '{"hello":"world"}');
  t.match(res.headers['server-timing'], /^view;dur=\d+\.\d\d$/);
});

t.test('GET /items/<int:id>', async (t) => {
  t.equal((await client.get('/items/7')).text(), '{"id":7,"name":"item 7"}');
  t.equal((await client.get('/items/abc')).status, 404, 'a non-integer does not match');
  t.equal((await client.get('/items/-1')).status, 404, 'a sign does not match <int>');
  t.equal((await client.get('/items/9007199254740993')).status, 404, 'beyond the safe integer range does not match');
  t.equal((await client.get('/items/9007199254740991')).status, 200, 'the largest safe integer matches');
});

t.test('GET /report builds 1000 rows', async (t) => {
  const body = (await client.get('/report')).json<{ rows: unknown[] }>();
  t.equal(body.rows.length, 1000);
  t.same(body.rows[0], { id: 0, name: 'row 0', price: 0, tags: ['a', 'b'] });
  t.same(body.rows[999], { id: 999, name: 'row 999', price: 999 * 1.25, tags: ['a', 'b'] });
});

t.test('POST /echo', async (t) => {
  const res = await client.post('/echo', { json: { a: [1, 2], b: 'ü' } });
  t.equal(res.status, 200);
  t.same(res.json(), { received: { a: [1, 2], b: 'ü' } });

  const bad = await client.post('/echo', { body: '{"a":', headers: { 'content-type': 'application/json' } });
  t.equal(bad.status, 400, 'malformed JSON is a 400');
  t.match(bad.json(), { error: /malformed JSON/, requestId: bad.headers['x-request-id'] });
  t.equal((await client.post('/echo')).status, 400, 'an empty body is a 400');
});

t.test('GET /primes/<int:n> counts primes', async (t) => {
  t.same((await client.get('/primes/100')).json(), { n: 100, count: 25 });
  t.same((await client.get('/primes/1000000')).json(), { n: 1000000, count: 78498 });
  t.same((await client.get('/primes/1')).json(), { n: 1, count: 0 });
  t.equal((await client.get('/primes/999999999')).status, 400, 'a too-large n is refused with 400, not a hang');
});

t.test('GET /sleep?ms=N', async (t) => {
  t.same((await client.get('/sleep?ms=30')).json(), { slept: 30 });
  t.equal((await client.get('/sleep?ms=soon')).status, 400);
  t.equal((await client.get('/sleep?ms=1&ms=2')).status, 400, 'a repeated ms is refused');
});

t.test('404 and 405', async (t) => {
  const missing = await client.get('/nowhere');
  t.equal(missing.status, 404);
  t.match(missing.json(), { status: 404, error: /no route matches GET \/nowhere/ });
  const wrong = await client.delete('/hello');
  t.equal(wrong.status, 405);
  t.equal(wrong.headers.allow, 'GET, HEAD');
  const echoGet = await client.get('/echo');
  t.equal(echoGet.status, 405);
  t.equal(echoGet.headers.allow, 'POST');
});

t.test('HEAD is answered from GET routes without a body', async (t) => {
  const res = await client.request('HEAD', '/hello');
  t.equal(res.status, 200);
  t.equal(res.text(), '');
});

t.test('/healthz and /readyz', async (t) => {
  t.same((await client.get('/healthz')).json(), { status: 'ok' });
  t.same((await client.get('/readyz')).json(), { status: 'ready' });
});

t.test("the app's REPORT_ROWS setting sizes /report", async (t) => {
  const small = await testClient('dist/app/index.js', { env: { WEB_CONCURRENCY: '1', POOL_THREADS: 'heavy=1', REPORT_ROWS: '3' } });
  t.teardown(() => small.close());
  t.equal((await small.get('/report')).json<{ rows: unknown[] }>().rows.length, 3);
});
