// Strict request parsing (RFC 9112 §3.2), over raw sockets: several Host fields and request
// targets in no allowed form are refused with 400; CONNECT and OPTIONS * get a status, never a
// silent close; no refusal is a 5xx.
import { connect } from 'node:net';
import t from 'tap';
import { sample, scrape, startDrover } from './helpers/server.js';

const server = await startDrover({ env: { WEB_CONCURRENCY: '1' } });
t.teardown(() => server.stop());
const { hostname, port } = new URL(server.url);

/** Sends `raw` on a fresh connection and returns what came back until the server closed or 1 s passed. */
function exchange(raw: string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname, () => socket.write(raw));
    let data = '';
    socket.on('data', (d: Buffer) => (data += d.toString()));
    const done = (): void => {
      const [head = '', body = ''] = data.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1] ?? 0), headers: head, body });
    };
    socket.on('close', done);
    setTimeout(() => socket.destroy(), 1000);
  });
}

t.test('several Host fields: 400 naming the rule', async (t) => {
  const res = await exchange('GET /hello HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n');
  t.equal(res.status, 400);
  t.match(JSON.parse(res.body), { status: 400, error: /several Host header fields/ });
});

for (const target of ['*items/7', '*hello', '*']) {
  t.test(`GET ${target}: asterisk-form is for OPTIONS only, so 400`, async (t) => {
    const res = await exchange(`GET ${target} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
    t.equal(res.status, 400);
    t.match(JSON.parse(res.body), { error: /is not origin-form \(\/path\), absolute-form \(http:\/\/host\/path\), or \* for OPTIONS/ });
  });
}

t.test('OPTIONS * answers with the server\'s methods', async (t) => {
  const res = await exchange('OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  t.equal(res.status, 204);
  t.match(res.headers, /\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS/i);
});

t.test('CONNECT is answered 405 with Allow, not a silent close, and logged', async (t) => {
  const res = await exchange('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  t.equal(res.status, 405);
  t.match(res.headers, /\r\nAllow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS/);
  t.match(JSON.parse(res.body), { status: 405, error: /CONNECT is not supported: this server is not a proxy/ });
  const line = await server.waitForLog((l) => l.method === 'CONNECT');
  t.match(line, { statusCode: 405, route: '<unmatched>', url: 'example.com:443' });
  t.equal(sample(await scrape(server.url), 'http_requests_total{method="CONNECT",route="<unmatched>",status_code="405"}'), 1);
});

t.test('origin-form and absolute-form are served', async (t) => {
  t.equal((await exchange('GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')).status, 200);
  t.equal((await exchange('GET http://a/hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')).status, 200);
});

t.test('no refusal above is a 5xx', async (t) => {
  const text = await scrape(server.url);
  t.notMatch(text, /http_requests_total\{[^}]*status_code="5\d\d"\} [1-9]/);
});
