// file(): a file from disk sent by the front (the bytes never cross a thread), with Content-Type,
// ETag/Last-Modified, Range (206/416), a download name; outside the root or missing: 404.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { fixture, startDrover } from './helpers/server.js';

const server = await startDrover({ app: fixture('files.js'), env: { WEB_CONCURRENCY: '1' } });
t.teardown(() => server.stop());
const robots = readFileSync(fixture('static/hello.txt'));

t.test('the file, its type, validators and cache header', async (t) => {
  const res = await fetch(`${server.url}/files/hello.txt`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/plain/);
  t.ok(res.headers.get('etag'));
  t.ok(res.headers.get('last-modified'));
  t.equal(res.headers.get('cache-control'), 'public, max-age=60');
  t.same(Buffer.from(await res.arrayBuffer()), robots);
  // fetch adds Cache-Control: no-cache to a conditional request unless one is given (the Fetch spec).
  const again = await fetch(`${server.url}/files/hello.txt`, { headers: { 'if-none-match': res.headers.get('etag') as string, 'cache-control': 'max-age=0' } });
  t.equal(again.status, 304, 'a conditional request');
});

t.test('ranges: 206 with the bytes asked, 416 beyond the end', async (t) => {
  const part = await fetch(`${server.url}/files/hello.txt`, { headers: { range: 'bytes=0-4' } });
  t.equal(part.status, 206);
  t.equal(part.headers.get('content-range'), `bytes 0-4/${robots.length}`);
  t.same(Buffer.from(await part.arrayBuffer()), robots.subarray(0, 5));
  const beyond = await fetch(`${server.url}/files/hello.txt`, { headers: { range: `bytes=${robots.length + 10}-` } });
  t.equal(beyond.status, 416);
  t.equal(beyond.headers.get('content-range'), `bytes */${robots.length}`);
});

t.test('a download name and a given content type', async (t) => {
  const res = await fetch(`${server.url}/download/hello.txt`);
  t.equal(res.headers.get('content-disposition'), 'attachment; filename="copy of hello.txt"');
  t.equal((await fetch(`${server.url}/typed`)).headers.get('content-type'), 'text/x-robots');
});

t.test('outside the root, a dotfile or a missing file: 404, never the file', async (t) => {
  for (const path of ['/escape', '/files/missing.txt', '/files/.hidden', '/files/..%2Ffiles.js']) {
    const res = await fetch(`${server.url}${path}`);
    t.equal(res.status, 404, path);
    const text = await res.text();
    t.notMatch(text, /import \{/, `${path}: no file content`);
    t.match(JSON.parse(text), { status: 404, error: 'no such file' }, path);
  }
});

t.test('the access line shows the worker that named the file', async (t) => {
  await fetch(`${server.url}/files/hello.txt`);
  const line = await server.waitForLog((l) => l.msg === 'request completed' && l.url === '/files/hello.txt' && l.statusCode === 200);
  t.type(line.worker, 'number');
});
