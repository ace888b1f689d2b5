/**
 * Starts the real `drover serve` CLI in a child process on a free port and collects its stdout
 * (JSON log lines) and stderr, as a PaaS would run it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../dist/src/cli/cli.js', import.meta.url));
export const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface Drover {
  readonly url: string;
  readonly metricsUrl: string;
  readonly child: ChildProcess;
  /** Every stdout line so far, parsed (a non-JSON line fails the parse, on purpose). */
  logs(): LogLine[];
  /** Raw stdout lines so far. */
  stdout(): string[];
  stderr(): string;
  /** Waits until a log line satisfies `match`. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface StartOptions {
  app?: string;
  /** `serve` (default), waited for until "listening"; or `worker`, until "worker ready". */
  command?: 'serve' | 'worker';
  env?: Env;
  cwd?: string;
}

/** Spawns `drover serve` with the given environment; the pieces that cannot be defaulted. */
/** A value of `undefined` removes the variable. */
export type Env = Record<string, string | undefined>;

/** Spawns `drover ARGS` on a free port of 127.0.0.1 with two workers, unless `env` says otherwise. */
export function spawnDrover(args: string[], env: Env = {}, cwd = ROOT): ChildProcess {
  const merged: Env = { ...process.env, PORT: '0', HOST: '127.0.0.1', WEB_CONCURRENCY: '2', ...env };
  for (const name of ['LOG_LEVEL', 'DEBUG', 'METRICS_PORT', 'APP', 'BOOT_TIMEOUT', 'NODE_ENV']) if (!(name in env)) delete merged[name];
  // tap preloads its process-info hook through NODE_OPTIONS; drover runs as in production, without.
  if (!('NODE_OPTIONS' in env)) delete merged.NODE_OPTIONS;
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  return spawn(process.execPath, [CLI, ...args], { cwd, env: merged, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs `drover ARGS` to completion and returns its exit code and output. */
export async function runDrover(
  args: string[],
  env: Env = {},
  cwd = ROOT,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnDrover(args, env, cwd);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/** Starts a server and waits for its "listening" line. */
export async function startDrover(options: StartOptions = {}): Promise<Drover> {
  const command = options.command ?? 'serve';
  const child = spawnDrover([command, ...(options.app ? [options.app] : [])], options.env, options.cwd);
  const lines: string[] = [];
  let stderr = '';
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters) w();
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'close');

  const logs = (): LogLine[] => lines.map((l) => JSON.parse(l) as LogLine);
  const waitForLog = (match: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = logs().find(match);
        if (found) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr}; stdout:\n${lines.join('\n')}`));
      }, timeoutMs);
      waiters.add(check);
      void exited.then(() => {
        if (waiters.has(check)) check();
      });
      check();
    });

  const listening = await waitForLog((l) => l.msg === (command === 'worker' ? 'worker ready' : 'listening'));
  return {
    url: (listening.url as string | undefined) ?? '',
    metricsUrl: (listening.metricsUrl as string | undefined) ?? '',
    child,
    logs,
    stdout: () => [...lines],
    stderr: () => stderr,
    waitForLog,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

/** The value of one sample line of a Prometheus text exposition, e.g. `sample(text, 'up{job="x"}')`. */
export function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Fetches `/metrics` from `base` and returns its text. */
export async function scrape(base: string): Promise<string> {
  return (await fetch(`${base}/metrics`)).text();
}

/** Polls `check` until it returns true (or fails the wait after `timeoutMs`). */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
