// Errors are responses: a view's error is answered inside the middleware chain, so middleware
// decorates every answer; the app's notFound and serverError views (Django's handler404/500);
// every return value has a meaning, and what drover cannot send is a coded 500, never a silent 200.
import t from 'tap';
import { testClient } from 'drover/testing';
import { fixture } from './helpers/server.js';

const client = await testClient(fixture('error-views.js'), { env: { WEB_CONCURRENCY: '1' } });
t.teardown(() => client.close());

t.test('a thrown error is answered by the serverError view, inside the middleware', async (t) => {
  const res = await client.get('/boom');
  t.equal(res.status, 503, "the serverError view's own status (5xx)");
  t.match(res.json(), { sorry: true, what: 'kaboom' });
  t.equal(res.headers['x-seen-status'], '503', 'the middleware saw the error response');
});

t.test('an httpError is its status, and middleware sees it too', async (t) => {
  const res = await client.get('/teapot');
  t.equal(res.status, 418);
  t.match(res.json(), { error: 'short and stout', status: 418 });
  t.equal(res.headers['x-seen-status'], '418');
});

t.test('unmatched paths run the notFound view through the middleware, as a 404', async (t) => {
  const res = await client.get('/no/such/page?x=1');
  t.equal(res.status, 404, 'a notFound view that returned a plain object still answers 404');
  t.same(res.json(), { missing: '/no/such/page' });
  t.equal(res.headers['x-seen-status'], '404');
  const wrongMethod = await client.post('/ok');
  t.equal(wrongMethod.status, 405, 'a wrong method stays the front\'s 405');
  t.equal(wrongMethod.headers['x-seen-status'], undefined);
});

for (const [path, what] of [
  ['/map', /returned a Map/],
  ['/set', /returned a Set/],
  ['/function', /returned a function/],
  ['/symbol', /returned a symbol/],
  ['/bigint', /returned a value JSON cannot encode \(.*BigInt/],
  ['/error', /returned an Error \(throw it/],
  ['/generator', /returned an iterator or generator \(stream with an `async function\*`/],
] as const) {
  t.test(`${path}: what drover cannot send is a coded 500, never a silent 200`, async (t) => {
    const res = await client.get(path);
    t.equal(res.status, 503, 'answered by the serverError view');
    t.match(res.json<{ what: string }>().what, what);
  });
}

t.test('without error views, a view error is still a response middleware sees: drover\'s 500', async (t) => {
  const plain = await testClient(fixture('middleware.js'), { env: { WEB_CONCURRENCY: '1' } });
  t.teardown(() => plain.close());
  const res = await plain.get('/crash');
  t.equal(res.status, 500);
  t.match(res.json(), { error: 'Internal Server Error', status: 500 });
  t.notMatch(res.text(), /stack|at /, 'no stack outside DEBUG');
  t.equal(res.headers['x-inner-status'], '500', 'the middleware saw the 500');
  t.equal(res.headers['x-trace'], 'outer>inner');
  const missing = await plain.get('/nothing-here');
  t.equal(missing.status, 404, "no notFound view: the front's JSON 404");
  t.equal(missing.headers['x-trace'], undefined);
});
