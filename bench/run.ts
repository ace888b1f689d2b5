/**
 * `npm run bench`: drover against plain fastify, side by side in one run, on this machine.
 *
 * Every number comes from the same run with the same load generator (wrk where installed, else
 * autocannon in this process), alternating drover and plain rounds so drift hits both alike. Prints Markdown tables
 * for the README. Takes about three minutes on 2 cores.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { openSqliteBus } from '../src/events/sqlite-bus.js';

const CLI = fileURLToPath(new URL('../src/cli/cli.js', import.meta.url));
const EVENTS_APP = fileURLToPath(new URL('./events-app.js', import.meta.url));
const METRICS_APP = fileURLToPath(new URL('./metrics-app.js', import.meta.url));
const PLAIN = fileURLToPath(new URL('./plain.js', import.meta.url));
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 50;
const CPU_PATH = '/primes/2000000';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The commit before issue 13 (HTTP completeness): `/hello` is compared with it, side by side. */
const BEFORE_REV = process.env.BENCH_BEFORE ?? '845eb41';
/** A 1 MiB file, sent by drover's file() and by @fastify/static. */
const DOWNLOADS = mkdtempSync(join(tmpdir(), 'drover-bench-files-'));
writeFileSync(join(DOWNLOADS, 'bench.bin'), Buffer.alloc(1024 * 1024, 98));

interface Server {
  readonly url: string;
  readonly child: ChildProcess;
  readonly bootMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let nextPort = 18_000 + Math.floor(Math.random() * 1000);

async function waitUp(url: string, started: number, child: ChildProcess): Promise<number> {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the server for ${url} exited (${child.exitCode ?? child.signalCode}) before it answered; run it by hand to see why`);
    try {
      if ((await fetch(`${url}/hello`)).status === 200) return performance.now() - started;
    } catch {
      // not listening yet
    }
    await sleep(5);
  }
}

async function start(kind: 'drover' | 'plain' | 'plain-logged' | 'plain-cluster', env: Record<string, string> = {}, cli = CLI, cwd = ROOT, app?: string): Promise<Server> {
  const port = nextPort++;
  const started = performance.now();
  const plainArgs = { plain: [], 'plain-logged': ['--logger'], 'plain-cluster': ['--logger', '--cluster', '2'] }[kind as 'plain'] ?? [];
  const args = kind === 'drover' ? [cli, 'serve', ...(app ? [app] : [])] : [PLAIN, String(port), '--downloads', DOWNLOADS, ...plainArgs];
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DOWNLOADS_DIR: DOWNLOADS, ...env },
    stdio: 'ignore', // drover's access log goes to /dev/null: the cost of writing it stays in
  });
  const url = `http://127.0.0.1:${port}`;
  return { url, child, bootMs: await waitUp(url, started, child) };
}

async function stop(server: Server): Promise<void> {
  server.child.kill('SIGTERM');
  await new Promise((resolve) => server.child.once('exit', resolve));
}

interface Load {
  rps: number;
  p50: number;
  p99: number;
  /** The front (main) thread's CPU time per request, in µs, when measured. */
  frontUs?: number;
}

/** CPU time the process's main thread (the front) has run, in ns (/proc/PID/task/PID/schedstat). */
function frontCpuNs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]);
}

/** load(), plus the front thread's CPU per request of the server `pid` during it. */
async function loadWithFrontCpu(url: string, pid: number): Promise<Load> {
  const before = frontCpuNs(pid);
  const result = await load(url);
  const requests = result.rps * ROUND_SECONDS;
  return { ...result, frontUs: requests > 0 ? (frontCpuNs(pid) - before) / 1000 / requests : 0 };
}

/** The process `pid` and its children (a supervisor's web processes, a cluster's workers). */
function withChildren(pid: number): number[] {
  try {
    return [pid, ...readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)];
  } catch {
    return [pid];
  }
}

/**
 * CPU time of every thread of the process `pid` (worker threads, GC, libuv's), in ns: /proc/PID/stat's
 * utime + stime, in clock ticks (USER_HZ, 100 a second on Linux whatever the kernel's HZ).
 */
function processCpuNs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // after the command name, which may hold ') '
  return (Number(fields[11]) + Number(fields[12])) * 10_000_000;
}

/**
 * Load on `url`, with the main-thread CPU of `pid` and of its child processes per request: [all,
 * `pid`'s own]; and the CPU of all their threads, in cores, which shows how much of the machine a
 * server already uses (what a second process can still gain on it).
 */
async function loadWithProcessesCpu(url: string, pid: number): Promise<Load & { ownUs: number; cores: number }> {
  const pids = withChildren(pid);
  const cpu = () => pids.map((p) => frontCpuNs(p));
  const whole = () => pids.reduce((sum, p) => sum + processCpuNs(p), 0);
  const before = cpu();
  const wholeBefore = whole();
  const result = await load(url);
  const after = cpu();
  const wholeAfter = whole();
  const requests = Math.max(1, result.rps * ROUND_SECONDS);
  const all = after.reduce((sum, ns, i) => sum + ns - (before[i] ?? 0), 0);
  return { ...result, frontUs: all / 1000 / requests, ownUs: ((after[0] ?? 0) - (before[0] ?? 0)) / 1000 / requests, cores: (wholeAfter - wholeBefore) / 1e9 / ROUND_SECONDS };
}

/** wrk when installed: written in C, it leaves more of a 2-core machine to the servers than autocannon. */
const WRK = (() => {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    // wrk --version exits 1 after printing its version; only a missing binary is ENOENT.
    return (err as { code?: string }).code !== 'ENOENT';
  }
})();

/** wrk's latency figures ("850.00us", "1.20ms", "2.01s") in milliseconds. */
function wrkMs(text: string, label: string): number {
  const m = new RegExp(`${label}\\s+([\\d.]+)(us|ms|s)\\b`).exec(text);
  if (!m) return Number.NaN;
  const scale = { us: 0.001, ms: 1, s: 1000 }[m[2] as 'us' | 'ms' | 's'];
  return Math.round(Number(m[1]) * scale * 100) / 100;
}

async function load(url: string, connections = CONNECTIONS, seconds = ROUND_SECONDS): Promise<Load> {
  if (WRK) {
    const text = await new Promise<string>((resolve, reject) =>
      execFile('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', url], (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? 0), p50: wrkMs(text, '50%'), p99: wrkMs(text, '99%') };
  }
  const result = await autocannon({ url, connections, duration: seconds });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

function average(loads: Load[]): Load {
  const n = loads.length;
  return {
    rps: loads.reduce((s, l) => s + l.rps, 0) / n,
    p50: loads.reduce((s, l) => s + l.p50, 0) / n,
    p99: loads.reduce((s, l) => s + l.p99, 0) / n,
    frontUs: loads.reduce((s, l) => s + (l.frontUs ?? 0), 0) / n,
  };
}

/**
 * Latency of sequential requests over one keep-alive connection, in microseconds: autocannon
 * reports whole milliseconds, too coarse for the cost of one thread hop.
 */
async function sequential(url: string, count: number): Promise<{ p50: number; p99: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      http.get(url, { agent }, (res) => res.resume().on('end', resolve)).on('error', reject);
    });
    times.push((performance.now() - started) * 1000);
  }
  agent.destroy();
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(count * 0.5)] as number, p99: times[Math.floor(count * 0.99)] as number };
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

/**
 * drover as it was at `rev`, built from `git archive` in a temporary folder (with this checkout's
 * node_modules), so `/hello` can be measured before and after side by side. Null without git.
 */
function buildBefore(rev: string): { cli: string; cwd: string } | null {
  const dir = join(tmpdir(), `drover-bench-before-${rev}`);
  const cliAt = () => [join(dir, 'dist/src/cli/cli.js'), join(dir, 'dist/src/cli.js')].find((p) => existsSync(p));
  try {
    if (!cliAt()) {
      mkdirSync(dir, { recursive: true });
      execFileSync('sh', ['-c', `git -C "${ROOT}" archive "${rev}" | tar -x -C "${dir}"`], { stdio: 'ignore' });
      if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
      try {
        execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], { stdio: 'ignore' });
      } catch {
        // Type errors against today's dependencies still emit JavaScript; what counts is the CLI file.
      }
    }
    const cli = cliAt();
    return cli ? { cli, cwd: dir } : null;
  } catch {
    return null;
  }
}

/** MiB/s of `clients` parallel curl downloads of `path` (bytes counted by curl). */
async function download(url: string, clients: number): Promise<number> {
  const started = performance.now();
  const sizes = await Promise.all(
    Array.from({ length: clients }, () =>
      new Promise<number>((resolve, reject) =>
        execFile('curl', ['-s', '-o', '/dev/null', '-w', '%{size_download}', url], (err, stdout) => (err ? reject(err) : resolve(Number(stdout)))),
      ),
    ),
  );
  return sizes.reduce((a, b) => a + b, 0) / 1024 / 1024 / ((performance.now() - started) / 1000);
}

/** A fresh bus file for one measurement. */
let busFiles = 0;
const freshBus = (): string => join(DOWNLOADS, `bus-${++busFiles}.db`);

/** Starts `drover worker` on the bench app and resolves once it is ready (its log lines are discarded). */
async function startWorker(busPath: string, threads: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'worker', EVENTS_APP], {
    cwd: ROOT,
    env: { ...process.env, BUS_PATH: busPath, EVENT_THREADS: String(threads) },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  await new Promise<void>((resolve) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString();
      if (!text.includes('"worker ready"')) return;
      (child.stdout as NodeJS.ReadableStream).off('data', onData);
      (child.stdout as NodeJS.ReadableStream).resume(); // one JSON line per delivery, as in production, to nowhere
      resolve();
    };
    child.stdout?.on('data', onData);
  });
  return child;
}

/** Deliveries per second, end to end: `events` published to `topic` first, then a worker runs them all. */
async function deliveryRate(topic: string, handlers: readonly string[], events: number, threads: number): Promise<number> {
  const busPath = freshBus();
  const bus = openSqliteBus(busPath);
  for (let i = 0; i < events; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, events - i) }, (_, j) => ({ id: `e${i + j}`, topic, payload: '{}', correlation: null, handlers, availableAt: Date.now() }));
    await bus.publish(batch);
  }
  const worker = await startWorker(busPath, threads);
  const started = performance.now();
  for (;;) {
    await sleep(20);
    if ((await bus.backlog()).every((b) => b.ready + b.running + b.delayed === 0)) break;
  }
  const seconds = (performance.now() - started) / 1000;
  worker.kill('SIGTERM');
  await new Promise((resolve) => worker.once('exit', resolve));
  await bus.close();
  return (events * handlers.length) / seconds;
}

/** Publish-to-handler-start latency, in ms, with events published at `perSecond` for `seconds`. */
async function eventLatency(perSecond: number, seconds: number, threads: number): Promise<{ p50: number; p99: number; events: number }> {
  const busPath = freshBus();
  const file = join(DOWNLOADS, `latency-${busFiles}.txt`);
  const bus = openSqliteBus(busPath);
  const worker = await startWorker(busPath, threads);
  let n = 0;
  const end = Date.now() + seconds * 1000;
  const every = 5; // ms: batches of perSecond / 200
  while (Date.now() < end) {
    const batch = Array.from({ length: Math.max(1, Math.round((perSecond * every) / 1000)) }, () => ({
      id: `l${n++}`,
      topic: 'bench.latency',
      payload: JSON.stringify({ t0: Date.now(), file }),
      correlation: null,
      handlers: ['latency'],
      availableAt: Date.now(),
    }));
    await bus.publish(batch);
    await sleep(every);
  }
  await sleep(1000);
  worker.kill('SIGTERM');
  await new Promise((resolve) => worker.once('exit', resolve));
  await bus.close();
  const ms = readFileSync(file, 'utf8').trim().split('\n').map(Number).sort((a, b) => a - b);
  return { p50: ms[Math.floor(ms.length * 0.5)] ?? Number.NaN, p99: ms[Math.floor(ms.length * 0.99)] ?? Number.NaN, events: n };
}

async function main(): Promise<void> {
  const cores = availableParallelism();
  const out: string[] = [`Machine: ${cores} cores, Node ${process.version}; load generator: ${WRK ? 'wrk (1 thread)' : 'autocannon'}, ${CONNECTIONS} connections, same machine; ${ROUNDS} alternating rounds of ${ROUND_SECONDS} s per cell.`, ''];

  // 1. Light and serialization-heavy views, drover (WEB_CONCURRENCY = cores) vs plain.
  const drover = await start('drover', { WEB_CONCURRENCY: String(cores) });
  const plain = await start('plain');
  const droverIdleRss = rssMb(drover.child.pid as number);
  const plainIdleRss = rssMb(plain.child.pid as number);
  out.push(
    '| view | drover req/s | plain req/s | ratio | drover p50 / p99 ms | plain p50 / p99 ms | front CPU µs/req drover / plain |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const path of ['/hello', '/items/7', '/report']) {
    const d: Load[] = [];
    const p: Load[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      d.push(await loadWithFrontCpu(drover.url + path, drover.child.pid as number));
      p.push(await loadWithFrontCpu(plain.url + path, plain.child.pid as number));
    }
    const [da, pa] = [average(d), average(p)];
    out.push(
      `| \`${path}\` | ${fmt(da.rps)} | ${fmt(pa.rps)} | ${fmt(da.rps / pa.rps, 2)}× | ${fmt(da.p50, 2)} / ${fmt(da.p99, 2)} | ${fmt(pa.p50, 2)} / ${fmt(pa.p99, 2)} | ${fmt(da.frontUs ?? 0, 1)} / ${fmt(pa.frontUs ?? 0, 1)} (${fmt((da.frontUs ?? 0) / (pa.frontUs || 1), 2)}×) |`,
    );
  }

  // Like for like: plain fastify with its own logger on (drover writes an access line per request).
  const logged = await start('plain-logged');
  const dl: Load[] = [];
  const pl: Load[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    dl.push(await loadWithFrontCpu(`${drover.url}/hello`, drover.child.pid as number));
    pl.push(await loadWithFrontCpu(`${logged.url}/hello`, logged.child.pid as number));
  }
  await stop(logged);
  const [dla, pla] = [average(dl), average(pl)];
  out.push(
    '',
    `Like for like, \`/hello\` against plain fastify with its logger on (\`Fastify({ logger: true })\`, to /dev/null as drover's access log is), alternating: drover ${fmt(dla.rps)} req/s, plain fastify with logger ${fmt(pla.rps)} req/s, ratio ${fmt(dla.rps / pla.rps, 2)}×; front CPU per request drover ${fmt(dla.frontUs ?? 0, 1)} µs, plain with logger ${fmt(pla.frontUs ?? 0, 1)} µs (${fmt((dla.frontUs ?? 0) / (pla.frontUs || 1), 2)}×).`,
  );

  // Added latency of the hop at low load: sequential requests, alternating servers.
  const d1: { p50: number; p99: number }[] = [];
  const p1: { p50: number; p99: number }[] = [];
  for (let r = 0; r < 3; r++) {
    d1.push(await sequential(`${drover.url}/hello`, 1000));
    p1.push(await sequential(`${plain.url}/hello`, 1000));
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const [dp50, pp50] = [med(d1.map((x) => x.p50)), med(p1.map((x) => x.p50))];
  out.push(
    '',
    `Low load (sequential requests on one keep-alive connection, \`/hello\`, median of 3 × 1000): drover p50 ${fmt(dp50)} µs / p99 ${fmt(med(d1.map((x) => x.p99)))} µs; plain p50 ${fmt(pp50)} µs / p99 ${fmt(med(p1.map((x) => x.p99)))} µs; added by the hop at p50: ${fmt((dp50 - pp50) / 1000, 3)} ms.`,
  );

  // Streaming and files, alternating with plain fastify.
  const streamD: number[] = [];
  const streamP: number[] = [];
  const fileD: Load[] = [];
  const fileP: Load[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    streamD.push(await download(`${drover.url}/bytes/1024`, 2));
    streamP.push(await download(`${plain.url}/bytes/1024`, 2));
    fileD.push(await loadWithFrontCpu(`${drover.url}/downloads/bench.bin`, drover.child.pid as number));
    fileP.push(await loadWithFrontCpu(`${plain.url}/downloads/bench.bin`, plain.child.pid as number));
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const [fd, fp] = [average(fileD), average(fileP)];
  out.push(
    '',
    '| body | drover | plain fastify | ratio |',
    '| --- | --- | --- | --- |',
    `| stream, \`/bytes/1024\` (64 KiB chunks from one async generator), 2 curl clients | ${fmt(mean(streamD))} MiB/s | ${fmt(mean(streamP))} MiB/s (\`Readable.from\` of the same generator) | ${fmt(mean(streamD) / mean(streamP), 2)}× |`,
    `| file of 1 MiB, \`/downloads/bench.bin\`, ${CONNECTIONS} connections | ${fmt(fd.rps)} req/s = ${fmt(fd.rps)} MiB/s (\`file()\`; front CPU ${fmt(fd.frontUs ?? 0)} µs/req) | ${fmt(fp.rps)} req/s (\`@fastify/static\`; ${fmt(fp.frontUs ?? 0)} µs/req) | ${fmt(fd.rps / fp.rps, 2)}× |`,
  );

  // /hello before and after issue 13 (HTTP completeness), side by side.
  const before = buildBefore(BEFORE_REV);
  if (before) {
    const old = await start('drover', { WEB_CONCURRENCY: String(cores) }, before.cli, before.cwd);
    const now: Load[] = [];
    const then: Load[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      now.push(await loadWithFrontCpu(`${drover.url}/hello`, drover.child.pid as number));
      then.push(await loadWithFrontCpu(`${old.url}/hello`, old.child.pid as number));
    }
    await stop(old);
    const [na, ta] = [average(now), average(then)];
    out.push(
      '',
      `\`/hello\` before (${BEFORE_REV}, before cookies, CORS, forms, files and streams) and after, alternating: before ${fmt(ta.rps)} req/s, after ${fmt(na.rps)} req/s, ratio ${fmt(na.rps / ta.rps, 2)}×; front CPU per request before ${fmt(ta.frontUs ?? 0, 1)} µs, after ${fmt(na.frontUs ?? 0, 1)} µs.`,
    );
  } else {
    out.push('', `\`/hello\` before/after: skipped (needs git and the commit ${BEFORE_REV}).`);
  }

  // 2. Front-thread and bulkhead isolation while the CPU-bound pool is saturated.
  const whileSaturated = async (server: Server, path: string): Promise<Load> => {
    const busy = load(server.url + CPU_PATH, cores * 4, ROUND_SECONDS + 1);
    await sleep(500);
    const h = await load(server.url + path, 1, ROUND_SECONDS);
    await busy;
    return h;
  };
  const dh = await whileSaturated(drover, '/healthz');
  const ph = await whileSaturated(plain, '/healthz');
  const dHello = await whileSaturated(drover, '/hello');
  const pHello = await whileSaturated(plain, '/hello');
  out.push(
    '',
    `While ${CPU_PATH} saturates the server (${cores * 4} connections), 1 connection on another route:`,
    '',
    '| route | drover p50 / p99 ms | plain p50 / p99 ms |',
    '| --- | --- | --- |',
    `| \`/healthz\` (front thread) | ${fmt(dh.p50, 2)} / ${fmt(dh.p99, 2)} | ${fmt(ph.p50, 2)} / ${fmt(ph.p99, 2)} |`,
    `| \`/hello\` (default pool; \`/primes\` runs in the \`heavy\` pool) | ${fmt(dHello.p50, 2)} / ${fmt(dHello.p99, 2)} | ${fmt(pHello.p50, 2)} / ${fmt(pHello.p99, 2)} |`,
  );
  await stop(drover);

  // 3. CPU-bound view at several thread counts, alternating with plain. Each drover server runs
  // alone (started for its round, stopped after), so idle servers never share the cores.
  out.push('', `| \`${CPU_PATH}\` | req/s | vs plain |`, '| --- | --- | --- |');
  const threadCounts = [1, 2, 4].filter((n) => n <= Math.max(2, cores));
  const plainCpu: Load[] = [];
  const droverCpu: Load[][] = threadCounts.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    plainCpu.push(await load(plain.url + CPU_PATH, 8));
    for (const [i, threads] of threadCounts.entries()) {
      // /primes runs in the example app's `heavy` pool: POOL_THREADS sizes it.
      const server = await start('drover', { WEB_CONCURRENCY: '1', POOL_THREADS: `heavy=${threads}` });
      droverCpu[i]?.push(await load(server.url + CPU_PATH, 8));
      await stop(server);
    }
  }
  const plainCpuRps = average(plainCpu).rps;
  out.push(`| plain fastify (1 thread) | ${fmt(plainCpuRps, 1)} | 1.00× |`);
  for (const [i, threads] of threadCounts.entries()) {
    const rps = average(droverCpu[i] ?? []).rps;
    out.push(`| drover, heavy pool of ${threads} thread${threads > 1 ? 's' : ''} | ${fmt(rps, 1)} | ${fmt(rps / plainCpuRps, 2)}× |`);
  }
  await stop(plain);

  // 4. The bus, embedded backend: end to end with no-op handlers, latency, and the cost of publishing in a view.
  const rates = { one: [] as number[], fan: [] as number[] };
  for (let r = 0; r < ROUNDS; r++) {
    rates.one.push(await deliveryRate('bench.noop', ['noop'], 20_000, cores));
    rates.fan.push(await deliveryRate('bench.fan', ['fan-a', 'fan-b', 'fan-c'], 10_000, cores));
  }
  const latency = await eventLatency(1000, 5, cores);
  const viewServer = await start('drover', { WEB_CONCURRENCY: String(cores), SERVE_EVENTS: 'false', BUS_PATH: freshBus() }, CLI, ROOT, EVENTS_APP);
  const withEvent: Load[] = [];
  const without: Load[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    without.push(await loadWithFrontCpu(`${viewServer.url}/hello`, viewServer.child.pid as number));
    withEvent.push(await loadWithFrontCpu(`${viewServer.url}/publish`, viewServer.child.pid as number));
  }
  await stop(viewServer);
  const [wa, woa] = [average(withEvent), average(without)];
  out.push(
    '',
    `The bus (embedded SQLite), \`drover worker\` with ${cores} threads, one JSON log line per delivery:`,
    '',
    '| measure | figure |',
    '| --- | --- |',
    `| no-op handler, 20,000 events published first, end to end | ${fmt(mean(rates.one))} deliveries/s |`,
    `| 1-to-3 fan-out, 10,000 events (30,000 deliveries) | ${fmt(mean(rates.fan))} deliveries/s |`,
    `| publish-to-handler-start latency, ${fmt(latency.events / 5)} events/s for 5 s | p50 ${fmt(latency.p50)} ms, p99 ${fmt(latency.p99)} ms |`,
    `| a view that publishes one event, against the same view without (serve, ${cores} threads) | ${fmt(wa.rps)} vs ${fmt(woa.rps)} req/s, ${fmt(wa.rps / woa.rps, 2)}× |`,
  );

  // 5. View metrics: the same light view with a counter and a histogram (20 label values) and without.
  const metricsServer = await start('drover', { WEB_CONCURRENCY: String(cores) }, CLI, ROOT, METRICS_APP);
  const counted: Load[] = [];
  const uncounted: Load[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    uncounted.push(await loadWithFrontCpu(`${metricsServer.url}/hello`, metricsServer.child.pid as number));
    counted.push(await loadWithFrontCpu(`${metricsServer.url}/counted`, metricsServer.child.pid as number));
  }
  await stop(metricsServer);
  const [withMetrics, withoutMetrics] = [average(counted), average(uncounted)];
  out.push(
    '',
    `| view metrics (serve, ${cores} threads) | req/s | front CPU µs/req | vs without |`,
    '| --- | --- | --- | --- |',
    `| a light view without metrics | ${fmt(withoutMetrics.rps)} | ${fmt(withoutMetrics.frontUs ?? 0, 1)} | 1.00× |`,
    `| the same view with a counter and a histogram, 20 label values | ${fmt(withMetrics.rps)} | ${fmt(withMetrics.frontUs ?? 0, 1)} | ${fmt(withMetrics.rps / withoutMetrics.rps, 2)}× |`,
  );

  // 6. Several front processes (WEB_PROCESSES) against plain fastify with its logger on, one
  // process and a two-process node:cluster. Each server runs alone, started for its round.
  const configs: { name: string; kind: 'drover' | 'plain-logged' | 'plain-cluster'; env: Record<string, string> }[] = [
    { name: `drover, WEB_PROCESSES=1 × WEB_CONCURRENCY=${cores}`, kind: 'drover', env: { WEB_PROCESSES: '1', WEB_CONCURRENCY: String(cores) } },
    // The same threads in all: half per process (the events pool too).
    {
      name: `drover, WEB_PROCESSES=2 × WEB_CONCURRENCY=${Math.max(1, cores / 2)}`,
      kind: 'drover',
      env: { WEB_PROCESSES: '2', WEB_CONCURRENCY: String(Math.max(1, Math.floor(cores / 2))), EVENT_THREADS: String(Math.max(1, Math.floor(cores / 2))) },
    },
    { name: 'plain fastify (logger on), 1 process', kind: 'plain-logged', env: {} },
    { name: 'plain fastify (logger on), node:cluster of 2', kind: 'plain-cluster', env: {} },
  ];
  const hello = configs.map(() => [] as (Load & { ownUs: number; cores: number })[]);
  const heavy = configs.map(() => [] as Load[]);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, config] of configs.entries()) {
      const server = await start(config.kind, config.env);
      await sleep(1000); // a second process may still be booting
      hello[i]?.push(await loadWithProcessesCpu(`${server.url}/hello`, server.child.pid as number));
      heavy[i]?.push(await load(server.url + CPU_PATH, 8));
      await stop(server);
    }
  }
  const rowsOf = configs.map((c, i) => ({
    name: c.name,
    hello: average(hello[i] ?? []),
    own: mean((hello[i] ?? []).map((h) => h.ownUs)),
    cores: mean((hello[i] ?? []).map((h) => h.cores)),
    heavy: average(heavy[i] ?? []),
  }));
  type Row = (typeof rowsOf)[number];
  const [dOne, dTwo, pOne, pTwo] = rowsOf as [Row, Row, Row, Row];
  out.push(
    '',
    `| processes | \`/hello\` req/s | main-thread CPU µs/req, all processes (supervisor's) | CPU of all threads during \`/hello\`, in cores | \`${CPU_PATH}\` req/s |`,
    '| --- | --- | --- | --- | --- |',
    ...rowsOf.map((row) => `| ${row.name} | ${fmt(row.hello.rps)} | ${fmt(row.hello.frontUs ?? 0, 1)} (${fmt(row.own, 1)}) | ${fmt(row.cores, 2)} of ${cores} | ${fmt(row.heavy.rps, 1)} |`),
    '',
    `From one process to two: drover \`/hello\` ${fmt(dTwo.hello.rps / dOne.hello.rps, 2)}×, plain fastify ${fmt(pTwo.hello.rps / pOne.hello.rps, 2)}× (drover gains ${fmt((dTwo.hello.rps / dOne.hello.rps - 1) / Math.max(0.001, pTwo.hello.rps / pOne.hello.rps - 1), 2)} of plain's gain); \`${CPU_PATH}\` drover ${fmt(dTwo.heavy.rps / dOne.heavy.rps, 2)}×, plain ${fmt(pTwo.heavy.rps / pOne.heavy.rps, 2)}×.`,
  );

  // 7. Boot and memory.
  const boots: number[] = [];
  for (let i = 0; i < 3; i++) {
    const s = await start('drover', { WEB_CONCURRENCY: String(cores) });
    boots.push(s.bootMs);
    await stop(s);
  }
  out.push(
    '',
    `Boot to first answered request (best of 3): drover ${fmt(Math.min(...boots))} ms; plain fastify ${fmt(plain.bootMs)} ms.`,
    `Idle RSS: drover (${cores} default-pool threads + 1 heavy + ${cores} in the events pool, the example app consuming its events) ${fmt(droverIdleRss, 1)} MB; plain fastify ${fmt(plainIdleRss, 1)} MB.`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
}

await main();
