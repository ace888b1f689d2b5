// Static files, served by the front thread like nginx in front of uWSGI.
import net from 'node:net';
import t from 'tap';
import { testClient } from 'drover/testing';
import { fixture, runDrover, sample, startDrover } from './helpers/server.js';

const env = { STATIC_DIR: 'test/fixtures/static', STATIC_URL: '/assets/', STATIC_MAX_AGE: '60', WEB_CONCURRENCY: '1', WORKER_CONCURRENCY: '1' };
const client = await testClient(fixture('faults.js'), { env });
t.teardown(() => client.close());

t.test('files are served with ETag, Last-Modified and Cache-Control', async (t) => {
  const res = await client.get('/assets/css/site.css');
  t.equal(res.status, 200);
  t.equal(res.text(), 'body { color: teal; }\n');
  t.match(res.headers['content-type'], /^text\/css/);
  t.equal(res.headers['cache-control'], 'public, max-age=60');
  t.ok(res.headers.etag);
  t.ok(res.headers['last-modified']);
  const again = await client.get('/assets/css/site.css', { headers: { 'if-none-match': res.headers.etag as string } });
  t.equal(again.status, 304, 'a conditional GET is answered 304');
});

t.test('they are answered while every worker is busy', async (t) => {
  const busy = client.get('/spin?ms=3000'); // the only worker, for 3 s
  await new Promise((resolve) => setTimeout(resolve, 100));
  const started = Date.now();
  const res = await client.get('/assets/hello.txt');
  t.equal(res.status, 200);
  t.ok(Date.now() - started < 2000, `answered in ${Date.now() - started} ms, not after the busy view`);
  t.equal((await busy).status, 200);
});

t.test('a missing file is a JSON 404; the route label is the prefix', async (t) => {
  const res = await client.get('/assets/nope.txt');
  t.equal(res.status, 404);
  t.match(res.json(), { status: 404 });
  const metrics = (await client.get('/metrics')).text();
  t.ok((sample(metrics, 'http_requests_total{method="GET",route="/assets/*",status_code="200"}') ?? 0) >= 2);
});

t.test('traversal outside the folder is refused', async (t) => {
  const server = await startDrover({ app: fixture('faults.js'), env });
  t.teardown(() => server.stop());
  const { port } = new URL(server.url);
  for (const path of ['/assets/../../package.json', '/assets/%2e%2e/%2e%2e/package.json', '/assets/..%2f..%2fpackage.json']) {
    const answer = await new Promise<string>((resolve) => {
      const socket = net.connect(Number(port), '127.0.0.1');
      let data = '';
      socket.on('data', (d) => (data += d.toString()));
      socket.on('end', () => resolve(data));
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    });
    t.notMatch(answer, /^HTTP\/1\.1 200/, `${path} is not served`);
    t.notMatch(answer, /"name": "drover"/, `${path} leaks nothing`);
  }
});

t.test('an explicit STATIC_DIR that does not exist stops boot, naming the setting', async (t) => {
  const { code, stderr } = await runDrover(['serve', fixture('faults.js')], { STATIC_DIR: 'no/such/dir' });
  t.equal(code, 1);
  t.match(stderr, /DROVER_ERR_SETTINGS_INVALID: setting STATIC_DIR="no\/such\/dir" is invalid: expected an existing directory/);
});
