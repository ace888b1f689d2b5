// Graceful shutdown (twelve-factor IX): drain within GRACEFUL_TIMEOUT, exit 0; past it, 503 and
// a non-zero exit. Repeated signals do not cut the drain short. Over real sockets.
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import t from 'tap';
import { fixture, startDrover } from './helpers/server.js';

/** A GET over a keep-alive agent, resolving with status and body. */
function request(agent: http.Agent, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

t.test('SIGTERM: in-flight and queued requests finish, /readyz turns 503, exit 0', async (t) => {
  const server = await startDrover({
    app: fixture('faults.js'),
    env: { WEB_CONCURRENCY: '1', WORKER_CONCURRENCY: '1', GRACEFUL_TIMEOUT: '20' },
  });
  t.teardown(() => server.stop()); // also when an assertion throws before the test stops it
  const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });
  t.teardown(() => agent.destroy());
  t.equal((await request(agent, `${server.url}/readyz`)).status, 200);

  // The pauses let the requests arrive before the signal; the views run well past them.
  const inFlight = request(agent, `${server.url}/slow?ms=2000`);
  const queued = request(agent, `${server.url}/log?n=2&size=10`);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const readyBefore = request(agent, `${server.url}/readyz`); // opens its connection before the signal
  await readyBefore;
  server.child.kill('SIGTERM');
  await server.waitForLog((l) => l.msg === 'shutting down gracefully');
  // An open keep-alive connection may still carry a request: the answer is 503, not a hang.
  const during = await request(agent, `${server.url}/readyz`).catch(() => ({ status: 0, body: '' }));
  t.ok([503, 0].includes(during.status), `/readyz while draining: ${during.status || 'connection closed'}`);

  t.same(await inFlight, { status: 200, body: '{"slept":2000,"thread":' + JSON.parse((await inFlight).body).thread + '}' });
  t.equal((await queued).status, 200, 'the queued request ran');
  const [code] = (await once(server.child, 'exit')) as [number];
  t.equal(code, 0);
  const logs = server.logs();
  t.equal(logs.filter((l) => l.msg === 'fixture line').length, 2, 'view log lines were flushed');
  t.equal(logs.at(-1)?.msg, 'stopped');
});

t.test('a busy keep-alive connection gets its answer with Connection: close, then closes', async (t) => {
  const server = await startDrover({ app: fixture('faults.js'), env: { WEB_CONCURRENCY: '1', WORKER_CONCURRENCY: '1', GRACEFUL_TIMEOUT: '20' } });
  t.teardown(() => server.stop());
  const agent = new http.Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  const headers = new Promise<http.IncomingHttpHeaders>((resolve, reject) => {
    http.get(`${server.url}/slow?ms=2000`, { agent }, (res) => {
      res.resume();
      resolve(res.headers);
    }).on('error', reject);
  });
  await new Promise((resolve) => setTimeout(resolve, 500));
  server.child.kill('SIGTERM');
  t.equal((await headers).connection, 'close');
  const [code] = (await once(server.child, 'exit')) as [number];
  t.equal(code, 0);
});

t.test('a repeated SIGTERM does not cut the drain short', async (t) => {
  const server = await startDrover({ app: fixture('faults.js'), env: { WEB_CONCURRENCY: '1', GRACEFUL_TIMEOUT: '20' } });
  t.teardown(() => server.stop());
  const pending = fetch(`${server.url}/slow?ms=2000`);
  await new Promise((resolve) => setTimeout(resolve, 500));
  server.child.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 100));
  server.child.kill('SIGTERM');
  server.child.kill('SIGINT');
  t.equal((await pending).status, 200);
  const [code] = (await once(server.child, 'exit')) as [number];
  t.equal(code, 0);
});

t.test('idle keep-alive connections do not hold the drain', async (t) => {
  const server = await startDrover({ app: fixture('faults.js'), env: { GRACEFUL_TIMEOUT: '20' } });
  t.teardown(() => server.stop());
  const agent = new http.Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  for (let i = 0; i < 3; i++) await request(agent, `${server.url}/ok`);
  const started = Date.now();
  server.child.kill('SIGTERM');
  const [code] = (await once(server.child, 'exit')) as [number];
  t.equal(code, 0);
  t.ok(Date.now() - started < 5000, `exited in ${Date.now() - started} ms, not after GRACEFUL_TIMEOUT`);
});

t.test('a connection that never sent a request (a preconnect) does not hold the drain', async (t) => {
  const server = await startDrover({ app: fixture('faults.js'), env: { GRACEFUL_TIMEOUT: '20' } });
  t.teardown(() => server.stop());
  const { port } = new URL(server.url);
  const silent = net.connect(Number(port), '127.0.0.1');
  t.teardown(() => silent.destroy());
  await once(silent, 'connect');
  await request(new http.Agent(), `${server.url}/ok`); // the server has accepted it by now
  const started = Date.now();
  server.child.kill('SIGTERM');
  const [code] = (await once(server.child, 'exit')) as [number];
  t.equal(code, 0);
  t.ok(Date.now() - started < 5000, `exited in ${Date.now() - started} ms, not after GRACEFUL_TIMEOUT`);
});

t.test('past GRACEFUL_TIMEOUT: what is left is answered 503 and the exit code is non-zero', async (t) => {
  const server = await startDrover({
    app: fixture('faults.js'),
    env: { WEB_CONCURRENCY: '1', WORKER_CONCURRENCY: '1', GRACEFUL_TIMEOUT: '1', REQUEST_TIMEOUT: '30' },
  });
  t.teardown(() => server.stop());
  const running = fetch(`${server.url}/spin?ms=15000`);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const queued = fetch(`${server.url}/ok`);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const started = Date.now();
  server.child.kill('SIGTERM');
  const [first, second] = await Promise.all([running, queued]);
  t.equal(first.status, 503);
  t.equal(second.status, 503);
  t.match(await first.json(), { status: 503, error: /shutting down/ });
  const [code] = (await once(server.child, 'exit')) as [number];
  t.not(code, 0);
  t.ok(Date.now() - started < 5000, 'within the graceful timeout, plus a little, not after the 15 s view');
  t.ok(server.logs().some((l) => l.msg === 'graceful timeout: answering what is left with 503'));
});
