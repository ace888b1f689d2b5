// Bad input is a 4xx with a JSON body (or a closed connection for a slow client), never a 500,
// and the server keeps serving.
import net from 'node:net';
import t from 'tap';
import { fixture, sample, scrape, startDrover } from './helpers/server.js';

const server = await startDrover({
  app: fixture('views.js'),
  env: { BODY_LIMIT: '1000', HEADER_TIMEOUT: '1' },
});
t.teardown(() => server.stop());
const { port } = new URL(server.url);

/** Sends raw bytes and returns what the server answered before closing (or after `waitMs`). */
function raw(bytes: string, waitMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(answer);
    }, waitMs);
    socket.on('data', (d) => (answer += d.toString()));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.on('error', () => undefined);
    socket.write(bytes);
  });
}

t.test('a body over BODY_LIMIT is 413', async (t) => {
  const res = await fetch(`${server.url}/json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify('x'.repeat(2000)) });
  t.equal(res.status, 413);
  t.match(await res.json(), { status: 413, error: /body/i, requestId: String });
});

t.test('oversized headers are 431', async (t) => {
  const answer = await raw(`GET /text HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  t.match(answer, /^HTTP\/1\.1 431 /);
});

t.test('broken percent-encoding is 400', async (t) => {
  const res = await fetch(`${server.url}/inspect/%E0%A4%A`, { headers: { 'x-request-id': 'bad-url-1' } });
  t.equal(res.status, 400);
  t.same(await res.json(), { error: "'/inspect/%E0%A4%A' is not a valid url component", status: 400, requestId: 'bad-url-1' });
  t.equal(res.headers.get('x-request-id'), 'bad-url-1');
});

t.test('Content-Length together with Transfer-Encoding is 400', async (t) => {
  const answer = await raw(
    'POST /json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
  );
  t.match(answer, /^HTTP\/1\.1 400 /);
});

t.test('a slow client is cut off by the header timeout', async (t) => {
  const started = Date.now();
  const answer = await raw('GET /text HTTP/1.1\r\nHost: x\r\n', 6000); // headers never finish
  const took = Date.now() - started;
  t.match(answer, /^HTTP\/1\.1 408 /, 'answered 408');
  t.ok(took >= 900 && took < 5000, `after about HEADER_TIMEOUT=1 s (${took} ms)`);
});

t.test('a client trickling its body is cut off at the request deadline', async (t) => {
  const slow = await startDrover({ app: fixture('views.js'), env: { REQUEST_TIMEOUT: '1', HEADER_TIMEOUT: '1' } });
  t.teardown(() => slow.stop());
  const started = Date.now();
  const answer = await new Promise<string>((resolve) => {
    const socket = net.connect(Number(new URL(slow.url).port), '127.0.0.1');
    let data = '';
    socket.on('data', (d) => (data += d.toString()));
    socket.on('close', () => resolve(data));
    socket.on('error', () => undefined);
    // Headers arrive at once; 10 of the 100 promised body bytes, then nothing.
    socket.write('POST /json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a": 1234');
    setTimeout(() => socket.destroy(), 6000);
  });
  t.match(answer, /^HTTP\/1\.1 408 /, 'answered 408');
  t.ok(Date.now() - started < 5000, `within about REQUEST_TIMEOUT (${Date.now() - started} ms)`);
});

t.test('none of it was a 500, and the server still serves', async (t) => {
  t.equal((await fetch(`${server.url}/text`)).status, 200);
  const metrics = await scrape(server.url);
  t.notMatch(metrics, /status_code="5\d\d"/);
  t.equal(sample(metrics, 'http_requests_total{method="POST",route="/json",status_code="413"}'), 1);
});
