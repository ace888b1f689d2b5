// DEBUG=true: a 500 shows the error and its stack (HTML for browsers, JSON otherwise), a 404 lists
// the routes tried. Without DEBUG neither appears (see logs.test.ts for the plain 500 body).
import t from 'tap';
import { testClient } from 'drover/testing';
import { fixture } from './helpers/server.js';

const debug = await testClient(fixture('views.js'), { env: { DEBUG: 'true', WEB_CONCURRENCY: '1', LOG_LEVEL: 'silent' } });
const plain = await testClient(fixture('views.js'), { env: { WEB_CONCURRENCY: '1', LOG_LEVEL: 'silent' } });
t.teardown(async () => {
  await debug.close();
  await plain.close();
});

t.test('500 as JSON carries the error and stack', async (t) => {
  const res = await debug.get('/boom');
  t.equal(res.status, 500);
  t.match(res.json(), {
    error: 'Internal Server Error',
    detail: { message: 'secret database password in this message', stack: /fixtures\/views\.js/ },
  });
});

t.test('500 for a browser is an HTML page, escaped', async (t) => {
  const res = await debug.get('/boom', { headers: { accept: 'text/html,application/xhtml+xml' } });
  t.equal(res.status, 500);
  t.match(res.headers['content-type'], /^text\/html/);
  t.match(res.text(), /<h2>secret database password in this message<\/h2>/);
  t.match(res.text(), /<pre>Error: secret database password/);
});

t.test('a coded misuse error shows its code', async (t) => {
  const res = await debug.get('/nothing');
  t.match(res.json(), { detail: { code: 'DROVER_ERR_VIEW_UNDEFINED' } });
});

t.test('404 lists the routes tried', async (t) => {
  const json = await debug.get('/nowhere');
  t.equal(json.status, 404);
  const body = json.json<{ routesTried: string[] }>();
  t.ok(body.routesTried.includes('GET /thread'));
  t.ok(body.routesTried.includes('GET,POST /inspect/<str:name>'));
  const html = await debug.get('/nowhere', { headers: { accept: 'text/html' } });
  t.match(html.text(), /<li><code>GET \/convert\/&lt;int:i&gt;\/&lt;slug:s&gt;/);
});

t.test('never without DEBUG', async (t) => {
  const boom = await plain.get('/boom', { headers: { accept: 'text/html' } });
  t.equal(boom.status, 500);
  t.same(Object.keys(boom.json<object>()).sort(), ['error', 'requestId', 'status']);
  const missing = await plain.get('/nowhere', { headers: { accept: 'text/html' } });
  t.same(Object.keys(missing.json<object>()).sort(), ['error', 'requestId', 'status']);
});
