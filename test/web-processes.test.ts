// WEB_PROCESSES: `drover serve` supervises several web processes (node:cluster). One /metrics for
// the whole service, never backwards when a process dies; whole log lines from every process;
// SIGHUP, SIGTERM, SIGTTIN and SIGTTOU as gunicorn's arbiter handles them; no boot loop.
import http from 'node:http';
import t from 'tap';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { eventually, fixture, runDrover, sample, spawnDrover, startDrover } from './helpers/server.js';

/** A GET on a connection of its own: node:cluster hands out connections, so fresh ones reach every process. */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}
const pidOf = async (url: string) => {
  const res = await get(url);
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${res.body}`);
  return (JSON.parse(res.body) as { pid: number }).pid;
};

const server = await startDrover({ app: fixture('processes.js'), env: { WEB_PROCESSES: '2', WEB_CONCURRENCY: '1', GRACEFUL_TIMEOUT: '10' } });
t.teardown(() => server.stop());
const listening = () => server.logs().filter((l) => l.msg === 'listening').length;
await server.waitForLog((l) => l.msg === 'web processes ready');
await eventually(() => listening() === 2); // their own lines arrive through the supervisor's relay
const scrape = async () => (await get(`${server.url}/metrics`)).body;

t.test('one /metrics for the service: every process counts, and a scrape through either gives the same totals', async (t) => {
  const pids = new Set<number>();
  for (let i = 0; i < 20; i++) pids.add(await pidOf(`${server.url}/pid`));
  t.equal(pids.size, 2, 'both processes served');
  for (let i = 0; i < 4; i++) {
    const text = await scrape();
    t.equal(sample(text, 'fixture_process_hits_total'), 20, `scrape ${i + 1}: the view counter over both processes`);
    t.equal(sample(text, 'http_requests_total{method="GET",route="/pid",status_code="200"}'), 20, `scrape ${i + 1}: the front counter too`);
    for (const pid of pids) t.ok(sample(text, `process_resident_memory_bytes{pid="${pid}"}`), `scrape ${i + 1}: process ${pid}'s memory, labelled`);
  }
});

t.test('long log lines from both processes arrive whole, never torn or mixed', async (t) => {
  const pids = await Promise.all(Array.from({ length: 24 }, () => pidOf(`${server.url}/long?kb=200`)));
  t.equal(new Set(pids).size, 2, 'both processes logged');
  await eventually(() => server.logs().filter((l) => l.msg === 'long line').length === 24);
  for (const line of server.logs().filter((l) => l.msg === 'long line')) {
    const blob = line.blob as string;
    t.equal(blob.length, 200 * 1024);
    t.ok(blob.startsWith(String(line.pid)) && blob.endsWith(String((line.pid as number) % 10)), 'one process\'s line, whole');
  }
});

t.test('SIGTTIN adds a web process; SIGTTOU stops one', async (t) => {
  server.child.kill('SIGTTIN');
  await eventually(() => listening() === 3);
  const three = new Set<number>();
  for (let i = 0; i < 12; i++) three.add(await pidOf(`${server.url}/pid`));
  t.equal(three.size, 3);
  server.child.kill('SIGTTOU');
  await server.waitForLog((l) => l.msg === 'web process stopped');
  const two = new Set<number>();
  for (let i = 0; i < 12; i++) two.add(await pidOf(`${server.url}/pid`));
  t.equal(two.size, 2);
});

t.test('kill -9 of a web process: it is replaced, and no counter goes backwards', async (t) => {
  const victim = await pidOf(`${server.url}/pid`);
  // What a scrape has shown, the supervisor keeps: the next scrape never shows less.
  const before = await scrape();
  const hits = sample(before, 'fixture_process_hits_total') ?? 0;
  const requests = sample(before, 'http_requests_total{method="GET",route="/pid",status_code="200"}') ?? 0;
  const replaced = listening();
  process.kill(victim, 'SIGKILL');
  await server.waitForLog((l) => l.msg === 'web process died; replacing it' && l.pid === victim);
  await eventually(() => listening() === replaced + 1);
  const after = await scrape();
  t.equal(sample(after, 'fixture_process_hits_total'), hits, 'the killed process\'s counts are kept');
  t.equal(sample(after, 'http_requests_total{method="GET",route="/pid",status_code="200"}'), requests);
  t.notOk(after.includes(`pid="${victim}"`), 'its gauges are gone');
  const pids = new Set<number>();
  for (let i = 0; i < 8; i++) pids.add(await pidOf(`${server.url}/pid`));
  t.equal(pids.size, 2, 'two processes serve again');
  t.notOk(pids.has(victim));
  const isJson = (line: string) => {
    try {
      return typeof JSON.parse(line) === 'object';
    } catch {
      return false;
    }
  };
  t.same(server.stdout().filter((line) => line !== '' && !isJson(line)), [], 'stdout is still whole JSON lines, the killed process\'s included');
});

t.test('SIGHUP replaces the processes one at a time, failing no request', async (t) => {
  const old = new Set<number>();
  for (let i = 0; i < 6; i++) old.add(await pidOf(`${server.url}/pid`));
  const stopped = () => server.logs().filter((l) => l.msg === 'web process stopped').length;
  const stoppedBefore = stopped();
  let loading = true;
  const statuses: number[] = [];
  const load = Promise.all(
    Array.from({ length: 4 }, async () => {
      while (loading) statuses.push((await get(`${server.url}/pid`).catch(() => ({ status: 0 }))).status);
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  server.child.kill('SIGHUP');
  await server.waitForLog((l) => l.msg === 'web processes reloaded', 30_000);
  await new Promise((resolve) => setTimeout(resolve, 200));
  loading = false;
  await load;
  t.ok(statuses.length > 50, `${statuses.length} requests during the reload`);
  t.same(statuses.filter((s) => s !== 200), [], 'none failed');
  await eventually(() => stopped() >= stoppedBefore + 2); // both old processes have drained and exited
  const fresh = new Set<number>();
  for (let i = 0; i < 8; i++) fresh.add(await pidOf(`${server.url}/pid`));
  t.equal(fresh.size, 2);
  t.same([...fresh].filter((p) => old.has(p)), [], 'every process is new');
});

t.test('SIGTERM with requests in flight in both processes: every one answered, exit 0', async (t) => {
  const started = () => server.logs().filter((l) => l.msg === 'slow start').length;
  const startedBefore = started();
  const inFlight = Array.from({ length: 6 }, () => get(`${server.url}/slow?ms=1500&kb=200`));
  await eventually(() => started() === startedBefore + 6); // all six are running
  const code = server.stop();
  const answers = await Promise.all(inFlight);
  t.same(answers.map((a) => a.status), [200, 200, 200, 200, 200, 200]);
  t.equal(new Set(answers.map((a) => (JSON.parse(a.body) as { pid: number }).pid)).size, 2, 'both processes were draining');
  t.equal(await code, 0);
  // Each view logged 200 KiB just before its answer, and its process exited right after.
  const last = server.logs().filter((l) => l.msg === 'last long line');
  t.equal(last.length, 6, 'the lines logged just before the exit are all there');
  for (const line of last) t.ok((line.blob as string).length === 200 * 1024 && (line.blob as string).startsWith(String(line.pid)), 'whole');
});

t.test('a web process that fails to boot stops the service (exit 1) instead of restarting in a loop', async (t) => {
  const { code, stdout, stderr } = await runDrover(['serve', fixture('broken-import.js')], { WEB_PROCESSES: '2', WEB_CONCURRENCY: '1' });
  t.equal(code, 1);
  t.match(stderr, /DROVER_ERR_APP_IMPORT: cannot load the app module .*broken-import\.js/);
  t.match(stdout, /exited before it was ready/);
  t.ok(stdout.split('\n').filter(Boolean).every((l) => JSON.parse(l)), 'whole JSON lines');
});

t.test('check prints the totals of processes and threads', async (t) => {
  const { code, stdout } = await runDrover(['check', fixture('processes.js')], { WEB_PROCESSES: '3', WEB_CONCURRENCY: '2' });
  t.equal(code, 0);
  t.match(stdout, /^Processes: 3 web processes under a supervisor, 2 threads each \(2 default\): 6 worker threads in all$/m);
});

t.test('SIGTERM while the web processes boot stops at once, exit 1', async (t) => {
  const child = spawnDrover(['serve', fixture('processes.js')], { WEB_PROCESSES: '2', WEB_CONCURRENCY: '1' });
  const lines: { msg: string }[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const parsed = JSON.parse(line) as { msg: string };
    lines.push(parsed);
    if (parsed.msg === 'supervising web processes') child.kill('SIGTERM'); // the processes are importing the app
  });
  const [code] = (await once(child, 'close')) as [number | null];
  t.equal(code, 1);
  t.ok(lines.some((l) => l.msg === 'stopped during boot, before every web process was ready'));
  t.notOk(lines.some((l) => l.msg === 'web processes ready'));
});
