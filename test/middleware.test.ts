// Django-style middleware: built once per worker, outermost first, may answer without the view.
import t from 'tap';
import { testClient } from 'drover/testing';
import { fixture } from './helpers/server.js';

const client = await testClient(fixture('middleware.js'), { env: { WEB_CONCURRENCY: '1' } });
t.teardown(() => client.close());

t.test('the first middleware is the outermost', async (t) => {
  const res = await client.get('/open');
  t.same(res.json(), { open: true });
  t.equal(res.headers['x-trace'], 'outer>inner', 'inner ran first on the way out, outer last');
  t.equal(res.headers['x-inner-status'], '200', 'middleware sees a response even when the view returned a plain object');
});

t.test('a middleware may answer without calling the view', async (t) => {
  const refused = await client.get('/private');
  t.equal(refused.status, 401);
  t.same(refused.json(), { error: 'who are you?' });
  t.equal(refused.headers['x-trace'], 'outer', 'the inner middleware and the view never ran');
  const allowed = await client.get('/private', { headers: { authorization: 'Bearer sesame' } });
  t.same(allowed.json(), { secret: 42 });
});

t.test('an httpError from the view passes through the middleware as its status', async (t) => {
  const res = await client.get('/fails');
  t.equal(res.status, 409);
  t.match(res.json(), { error: 'conflict' });
});

t.test('reverse() in a view', async (t) => {
  t.same((await client.get('/links/5')).json(), { self: '/links/5', other: '/open-named' });
});
