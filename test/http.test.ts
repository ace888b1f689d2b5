// Response helpers and httpError.
import t from 'tap';
import { bytes, html, httpError, json, redirect, text } from 'drover';

const decode = (b: Uint8Array | null) => (b ? new TextDecoder().decode(b) : null);

t.test('json', async (t) => {
  const r = json({ a: 1 }, { status: 201, headers: { 'X-A': 'b' } });
  t.equal(r.status, 201);
  t.same(r.headers, { 'content-type': 'application/json; charset=utf-8', 'x-a': 'b' });
  t.equal(decode(r.body), '{"a":1}');
  t.equal(decode(json(undefined).body), 'null');
  t.equal(json(null, { status: 204 }).body, null, '204 has no body');
  t.notOk('content-type' in json(null, { status: 204 }).headers);
});

t.test('text, html, bytes', async (t) => {
  t.equal(text('hi').headers['content-type'], 'text/plain; charset=utf-8');
  t.equal(decode(html('<p>').body), '<p>');
  t.equal(html('<p>').headers['content-type'], 'text/html; charset=utf-8');
  const b = bytes(new Uint8Array([1]), { headers: { 'content-type': 'image/png' } });
  t.equal(b.headers['content-type'], 'image/png', 'a header overrides the default type');
});

t.test('redirect', async (t) => {
  const r = redirect('/x');
  t.equal(r.status, 302);
  t.equal(r.headers.location, '/x');
  t.equal(redirect('/y', 301).status, 301);
  t.throws(() => redirect('/z', 200), { code: 'DROVER_ERR_RESPONSE_STATUS', message: /redirect\(\) got status 200/ });
});

t.test('statuses are validated', async (t) => {
  t.throws(() => json({}, { status: 99 }), { code: 'DROVER_ERR_RESPONSE_STATUS' });
  t.throws(() => json({}, { status: 200.5 }), { code: 'DROVER_ERR_RESPONSE_STATUS' });
  t.throws(() => httpError(200, 'fine'), { code: 'DROVER_ERR_RESPONSE_STATUS', message: /httpError\(\) got status 200/ });
  const e = httpError(409, 'conflict');
  t.equal(e.status, 409);
  t.equal(e.message, 'conflict');
  t.ok(e instanceof Error);
});
