// Response streams and the life of threads and servers: a reload lets a running stream go on (up to
// GRACEFUL_TIMEOUT, then cancels it); SIGTERM lets a stream finish before the process exits.
import { connect } from 'node:net';
import t from 'tap';
import { fixture, startDrover } from './helpers/server.js';

/** Opens a raw stream request and collects what arrives. */
function openStream(url: string, path: string, id: string) {
  const socket = connect(Number(new URL(url).port), '127.0.0.1');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n`);
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString()));
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  return { socket, closed, received: () => received };
}

const until = async (check: () => boolean): Promise<void> => {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 20));
};

t.test('a reload lets a running stream go on, and cuts it at GRACEFUL_TIMEOUT', async (t) => {
  const server = await startDrover({ app: fixture('streams.js'), env: { WEB_CONCURRENCY: '1', GRACEFUL_TIMEOUT: '1.5' } });
  t.teardown(() => server.stop());
  const stream = openStream(server.url, '/forever', 'reload-1');
  await until(() => stream.received().includes('line 1\n'));
  server.child.kill('SIGHUP');
  await server.waitForLog((l) => l.msg === 'workers reloaded');
  const atReload = stream.received().length;
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.ok(stream.received().length > atReload, 'the old thread still streams after its replacement took over');
  await stream.closed;
  const cancelled = await server.waitForLog((l) => l.reqId === 'reload-1' && l.msg === 'forever stream cancelled');
  t.match(cancelled, { aborted: true, reason: 'AbortError' }, "the view's signal aborted when GRACEFUL_TIMEOUT ran out");
  t.match(await server.waitForLog((l) => l.reqId === 'reload-1' && l.msg === 'request completed'), { streamCut: 'thread' });
  t.equal((await fetch(`${server.url}/chunks`)).status, 200, 'the new thread serves');
});

t.test('SIGTERM lets a running stream finish, then exits 0', async (t) => {
  const server = await startDrover({ app: fixture('streams.js'), env: { WEB_CONCURRENCY: '1' } });
  const stream = openStream(server.url, '/steady', 'drain-1');
  await until(() => stream.received().includes('\r\n\r\n'));
  const code = server.stop();
  await stream.closed;
  t.match(stream.received(), /tick 0\n[\s\S]*tick 4\n[\s\S]*\r\n0\r\n\r\n$/, 'every tick, then the final chunk');
  t.equal(await code, 0);
});
