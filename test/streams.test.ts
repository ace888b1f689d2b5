// Streaming responses: chunks reach the client as the view produces them, across the thread
// boundary, with backpressure (1 GiB to a slow curl keeps memory flat); a client that leaves
// cancels the view's stream and aborts req.signal; REQUEST_TIMEOUT bounds a stream's silence.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import t from 'tap';
import { testClient } from 'drover/testing';
import { eventually, fixture, sample, scrape, startDrover } from './helpers/server.js';

const server = await startDrover({ app: fixture('streams.js'), env: { WEB_CONCURRENCY: '1' } });
t.teardown(() => server.stop());
const get = (path: string, init?: RequestInit) => fetch(server.url + path, init);
const MiB = 1024 * 1024;

t.test('the client gets each chunk as the view produces it', async (t) => {
  const res = await get('/gated/a');
  t.equal(res.status, 200);
  t.equal(res.headers.get('transfer-encoding'), 'chunked');
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const first = await reader.read();
  // The stream cannot end before the gate opens: this chunk crossed while the view still ran.
  t.equal(Buffer.from(first.value as Uint8Array).toString(), 'before the gate\n');
  await get('/open/a');
  let rest = '';
  for (let r = await reader.read(); !r.done; r = await reader.read()) rest += Buffer.from(r.value).toString();
  t.equal(rest, 'after the gate\n');
});

t.test('every kind of stream a view may return', async (t) => {
  const chunks = await get('/chunks');
  t.equal(chunks.headers.get('content-type'), 'application/octet-stream', 'a bare async iterable: octet-stream');
  t.equal(chunks.headers.get('x-decorated'), 'yes', 'middleware decorates a streamed response');
  t.equal(await chunks.text(), 'chunk 0\nchunk 1\nchunk 2\n');
  t.equal(await (await get('/web')).text(), 'from a web stream', 'a WHATWG ReadableStream');
  t.equal(await (await get('/node')).text(), 'from a node stream', 'a Node Readable');
  const response = await get('/response');
  t.equal(response.status, 201, "a WHATWG Response: its status");
  t.equal(response.headers.get('content-type'), 'text/csv');
  t.same(response.headers.getSetCookie(), ['a=1', 'b=2'], 'Headers.append gives two Set-Cookie lines');
  t.equal(await response.text(), 'x,y\n1,2\n');
  const big = await get('/big/2');
  t.equal(big.headers.get('content-type'), 'application/x-bytes', 'stream() with a content type');
  t.equal(big.headers.get('x-total'), String(2 * MiB));
  t.equal((await big.arrayBuffer()).byteLength, 2 * MiB, 'the same buffer yielded again and again arrives whole');
});

t.test('the test client collects a finite stream whole', async (t) => {
  const client = await testClient(fixture('streams.js'), { env: { WEB_CONCURRENCY: '1' } });
  t.teardown(() => client.close());
  const res = await client.get('/events');
  t.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
  t.match(res.text(), /^data: hello\n\n[\s\S]*event: bye\ndata: end\n\n$/);
  t.same(res.setCookies, []);
  t.same((await client.get('/response')).setCookies, ['a=1', 'b=2']);
});

t.test('HEAD and 204 send no body and stop the stream', async (t) => {
  const head = await get('/forever', { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(await head.text(), '');
  const none = await get('/no-content');
  t.equal(none.status, 204);
  t.equal(await none.text(), '');
});

t.test('bytes() copies: a constant array survives being sent', async (t) => {
  for (let i = 0; i < 2; i++) t.equal((await (await get('/constant')).arrayBuffer()).byteLength, 4096, `request ${i + 1}`);
});

t.test('server-sent events: framing and keep-alive comments', async (t) => {
  const res = await get('/events');
  t.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  t.equal(res.headers.get('cache-control'), 'no-cache');
  const body = await res.text();
  t.ok(body.startsWith('data: hello\n\nevent: tick\nid: 1\ndata: {"n":1}\n\ndata: two\ndata: lines\n\n'), body);
  t.match(body, /\n: keep-alive\n\n/, 'a comment while the source was quiet');
  t.ok(body.endsWith('event: bye\ndata: end\n\n'));
});

t.test('a view whose stream fails mid-way: a truncated response, logged with the route', async (t) => {
  const res = await get('/fails', { headers: { 'x-request-id': 'fails-1' } });
  t.equal(res.status, 200, 'the head was already sent');
  await t.rejects(res.text(), 'the body ends without its final chunk');
  const line = await server.waitForLog((l) => l.reqId === 'fails-1' && l.level === 50);
  t.match(line, { route: '/fails', msg: /response stream failed/, err: { message: 'the source broke' } });
  const access = await server.waitForLog((l) => l.reqId === 'fails-1' && l.msg === 'request completed');
  t.equal(access.streamCut, 'view');
  const bad = await get('/bad-chunk', { headers: { 'x-request-id': 'bad-chunk-1' } });
  await t.rejects(bad.text());
  const coded = await server.waitForLog((l) => l.reqId === 'bad-chunk-1' && l.level === 50);
  t.match(coded, { err: { code: 'DROVER_ERR_VIEW_STREAM_CHUNK', message: /yielded a Object/ } });
});

t.test('a client that leaves cancels the stream and aborts req.signal', async (t) => {
  const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
  socket.write('GET /forever HTTP/1.1\r\nHost: x\r\nX-Request-Id: leaver-1\r\n\r\n');
  let received = '';
  await new Promise<void>((resolve) => socket.on('data', (d) => ((received += d.toString()), received.includes('line 2') && resolve())));
  socket.destroy();
  const line = await server.waitForLog((l) => l.reqId === 'leaver-1' && l.msg === 'forever stream cancelled');
  t.match(line, { aborted: true, reason: 'AbortError' });
  const access = await server.waitForLog((l) => l.reqId === 'leaver-1' && l.msg === 'request completed');
  t.match(access, { statusCode: 200, streamCut: 'client' });
  t.equal(server.logs().filter((l) => l.reqId === 'leaver-1' && l.msg === 'request completed').length, 1, 'one access line');
});

t.test('a client that leaves a running (not streaming) view aborts its req.signal', async (t) => {
  const controller = new AbortController();
  const pending = get('/wait', { signal: controller.signal, headers: { 'x-request-id': 'wait-1' } }).catch(() => 'aborted');
  await new Promise((resolve) => setTimeout(resolve, 500)); // the view waits until the client leaves
  controller.abort();
  t.equal(await pending, 'aborted');
  const line = await server.waitForLog((l) => l.reqId === 'wait-1' && l.msg === 'wait view aborted');
  t.equal(line.reason, 'AbortError');
});

/** Resident memory of a process, in bytes (Linux). */
const rss = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;

t.test('1 GiB to a slow client: memory stays flat, the view slows to the client', async (t) => {
  const pid = server.child.pid as number;
  const before = rss(pid);
  // curl reads at 128 MiB/s; the view could produce over 1 GiB/s.
  const curl = spawn('curl', ['-s', '--limit-rate', '128M', '-H', 'x-request-id: slow-1', '-o', '/dev/null', '-w', '%{size_download} %{http_code}', `${server.url}/big/1024`]);
  let out = '';
  curl.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<number | null>((resolve) => curl.on('close', resolve));
  const samples: { at: number; rss: number }[] = [];
  let producedAt2s = -1;
  const started = Date.now();
  const sampler = setInterval(() => samples.push({ at: Date.now() - started, rss: rss(pid) }), 100);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  producedAt2s = ((await (await get('/produced/slow-1')).json()) as { produced: number }).produced;
  t.equal(await done, 0);
  clearInterval(sampler);
  const seconds = (Date.now() - started) / 1000;
  t.equal(out, `${1024 * MiB} 200`, 'every byte arrived');
  // Chunks freed but not yet collected make RSS jump once (V8 collects when their external memory
  // reaches its limit), then it stays flat: the second half of the transfer holds no more than the first.
  const half = (Date.now() - started) / 2;
  const peakOf = (list: typeof samples) => Math.max(before, ...list.map((s) => s.rss));
  const first = peakOf(samples.filter((s) => s.at < half));
  const second = peakOf(samples.filter((s) => s.at >= half));
  const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
  t.ok(first - before < 96 * MiB, `RSS grew by ${mib(first - before)} in the first half (bound 96 MiB; 1 GiB goes through)`);
  t.ok(second - first < 16 * MiB, `and by ${mib(Math.max(0, second - first))} more in the second half: flat`);
  // At 128 MiB/s the client has 256 MiB after 2 s; an unthrottled view would be done with 1 GiB.
  t.ok(producedAt2s > 0 && producedAt2s < 512 * MiB, `after 2 s the view had produced ${(producedAt2s / MiB).toFixed(0)} MiB, paced by the client (${seconds.toFixed(1)} s in all)`);
});

t.test('REQUEST_TIMEOUT bounds a stream\'s silence, not its length', async (t) => {
  const timed = await startDrover({ app: fixture('streams.js'), env: { WEB_CONCURRENCY: '1', REQUEST_TIMEOUT: '1' } });
  t.teardown(() => timed.stop());
  const fetchTimed = (path: string, id: string) => fetch(timed.url + path, { headers: { 'x-request-id': id } });

  const steady = await fetchTimed('/steady', 'steady-1');
  t.equal(await steady.text(), 'tick 0\ntick 1\ntick 2\ntick 3\ntick 4\n', 'a 1.5 s stream never quiet for 1 s completes');

  const stall = await fetchTimed('/stall', 'stall-1');
  t.equal(stall.status, 200);
  await t.rejects(stall.text(), 'a stream quiet for 1 s is cut: the body is truncated');
  const warn = await timed.waitForLog((l) => l.reqId === 'stall-1' && l.level === 40);
  t.match(warn, { route: '/stall', timeout: 1, msg: /the view produced nothing for the request timeout/ });
  const aborted = await timed.waitForLog((l) => l.reqId === 'stall-1' && l.msg === 'stalled stream aborted');
  t.equal(aborted.reason, 'TimeoutError', "the view's req.signal aborted with a TimeoutError");
  t.match(await timed.waitForLog((l) => l.reqId === 'stall-1' && l.msg === 'request completed'), { streamCut: 'timeout' });
  t.equal(sample(await scrape(timed.url), 'drover_request_timeouts_total{pool="default",route="/stall"}'), 1);
  t.equal(sample(await scrape(timed.url), 'drover_worker_restarts_total{pool="default",reason="timeout"}'), 0, 'a view that stops keeps its thread');

  const spin = await fetchTimed('/spin', 'spin-1');
  await t.rejects(spin.text(), 'a view stuck on the CPU is cut too');
  await timed.waitForLog((l) => l.reqId === 'spin-1' && l.level === 50 && /does not answer/.test(l.msg));
  await eventually(async () => sample(await scrape(timed.url), 'drover_worker_restarts_total{pool="default",reason="timeout"}') === 1);
  // The replacement may still be booting, and /chunks has a 1 s deadline: ask until it answers.
  let after = '';
  await eventually(async () => {
    const res = await fetchTimed('/chunks', 'after-1');
    if (res.status !== 200) return false;
    after = await res.text();
    return true;
  });
  t.equal(after, 'chunk 0\nchunk 1\nchunk 2\n', 'its replacement serves');
});
