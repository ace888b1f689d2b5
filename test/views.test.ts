// What views receive and what they may return, through the whole stack.
import t from 'tap';
import { fixture, startDrover } from './helpers/server.js';

const server = await startDrover({ app: fixture('views.js') });
t.teardown(() => server.stop());
const get = (path: string, init?: RequestInit) => fetch(server.url + path, init);

t.test('views run in worker threads, never the main thread', async (t) => {
  const seen = new Set<number>();
  for (let i = 0; i < 10; i++) {
    const body = (await (await get('/thread')).json()) as { isMainThread: boolean; threadId: number };
    t.equal(body.isMainThread, false);
    t.ok(body.threadId > 0);
    seen.add(body.threadId);
  }
  t.ok(seen.size >= 1);
});

t.test('the request object', async (t) => {
  const res = await get('/inspect/caf%C3%A9?a=1&b=x&b=y', {
    method: 'POST',
    headers: { 'X-Custom': 'Value', 'x-request-id': 'inspect-1', 'content-type': 'text/plain' },
    body: 'hello body',
  });
  t.equal(res.status, 200);
  const body = (await res.json()) as Record<string, unknown>;
  t.match(body, {
    method: 'POST',
    path: '/inspect/caf%C3%A9',
    url: '/inspect/caf%C3%A9?a=1&b=x&b=y',
    params: { name: 'café' },
    query: { a: '1', b: ['x', 'y'] },
    headers: { 'x-custom': 'Value', 'content-type': 'text/plain' },
    body: 'hello body',
    bodyBytes: 10,
    id: 'inspect-1',
  });
});

t.test('a large body arrives whole', async (t) => {
  const big = 'x'.repeat(200_000);
  const body = (await (await get('/inspect/big', { method: 'POST', body: big })).json()) as { bodyBytes: number };
  t.equal(body.bodyBytes, 200_000);
});

t.test('Django converters', async (t) => {
  const u = '123e4567-e89b-12d3-a456-426614174000';
  const res = await get(`/convert/42/my-slug_1/${u}/a/b/c.txt`);
  t.equal(res.status, 200);
  t.same(await res.json(), {
    params: { i: 42, s: 'my-slug_1', u, rest: 'a/b/c.txt' },
    types: ['number', 'string', 'string', 'string'],
  });
  t.equal((await get(`/convert/42/not%20a%20slug/${u}/x`)).status, 404, 'slug refuses spaces');
  t.equal((await get(`/convert/42/s/${u.toUpperCase()}/x`)).status, 404, 'uuid is lower-case only, as in Django');
  t.equal((await get(`/convert/42/s/${u}/`)).status, 404, 'path needs at least one character');
  t.equal((await get(`/convert/4.2/s/${u}/x`)).status, 404, 'int refuses decimals');
});

t.test('response kinds', async (t) => {
  let res = await get('/text');
  t.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
  t.equal(await res.text(), 'plain words');

  res = await get('/bytes');
  t.equal(res.headers.get('content-type'), 'application/octet-stream');
  t.same([...new Uint8Array(await res.arrayBuffer())], [0, 1, 2, 255]);

  res = await get('/html');
  t.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
  t.equal(await res.text(), '<h1>hi</h1>');

  res = await get('/created');
  t.equal(res.status, 201);
  t.equal(res.headers.get('x-extra'), 'yes');
  t.same(await res.json(), { made: true });

  res = await get('/empty');
  t.equal(res.status, 204);
  t.equal(await res.text(), '');

  res = await get('/go', { redirect: 'manual' });
  t.equal(res.status, 302);
  t.equal(res.headers.get('location'), '/text');
});

t.test('httpError answers its status with a JSON error body', async (t) => {
  const res = await get('/teapot', { headers: { 'x-request-id': 'tea-1' } });
  t.equal(res.status, 418);
  t.same(await res.json(), { error: 'short and stout', status: 418, requestId: 'tea-1' });
});

t.test('req.json() parses; malformed is 400; another content type is 415', async (t) => {
  const json = { 'content-type': 'application/json' };
  t.same(await (await get('/json', { method: 'POST', headers: json, body: '[1,{"a":null}]' })).json(), { got: [1, { a: null }] });
  const problem = await get('/json', { method: 'POST', headers: { 'content-type': 'application/problem+json; charset=utf-8' }, body: '{}' });
  t.equal(problem.status, 200, '+json types are JSON');
  const bad = await get('/json', { method: 'POST', headers: json, body: 'nope' });
  t.equal(bad.status, 400);
  t.match(await bad.json(), { status: 400, error: /malformed JSON/ });
  const form = await get('/json', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' });
  t.equal(form.status, 415);
  t.match(await form.json(), { status: 415, error: /unsupported content type "application\/x-www-form-urlencoded"; send application\/json/ });
  const untyped = await fetch(server.url + '/json', { method: 'POST', body: new Uint8Array(Buffer.from('{"raw":true}')) });
  t.same(await untyped.json(), { got: { raw: true } }, 'no content type: parsed as JSON');
});

t.test('put, patch and del shorthands; 405 lists the union', async (t) => {
  for (const [method, word] of [['PUT', 'put'], ['PATCH', 'patch'], ['DELETE', 'delete']]) {
    const res = await get('/methods', { method });
    t.equal(await res.text(), word);
  }
  const res = await get('/methods', { method: 'POST' });
  t.equal(res.status, 405);
  t.equal(res.headers.get('allow'), 'PUT, PATCH, DELETE');
});
