/**
 * WEB_PROCESSES > 1: `drover serve` becomes a supervisor of that many web processes, as
 * gunicorn's arbiter is of its workers, with the ecosystem's own node:cluster (the processes share
 * the listening socket through it). The supervisor serves no HTTP and imports no app code:
 *
 * - a process that dies is replaced; one that dies before it is ready stops the service (exit
 *   1), rather than being replaced forever (the no-boot-loop rule: a broken deploy fails loudly);
 * - SIGTERM/SIGINT: every process drains (GRACEFUL_TIMEOUT), then the supervisor exits, 0 when
 *   they all did;
 * - SIGHUP: a new process per old one, one at a time, each old one retired only once its
 *   replacement is ready, so requests always find a ready process;
 * - SIGTTIN / SIGTTOU: one process more / one fewer;
 * - logs: each process writes to a pipe of its own, and the supervisor writes whole lines to stdout
 *   (line-relay.ts); metrics: one /metrics for the service (service-metrics.ts).
 */
import cluster, { type Worker } from 'node:cluster';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Settings } from '../../config/settings.js';
import type { ControlSignal, SignalQueue } from '../lifecycle.js';
import { LineWriter, relayLines } from './line-relay.js';
import { isDroverMessage, type WebProcessMessage } from './messages.js';
import { ServiceMetrics } from './service-metrics.js';

/** How long the supervisor reads a process's pipes after it exited, for its last lines. */
const RELAY_GRACE_MS = 2000;

const sleep = (ms: number) => new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms));

/** One web process, as the supervisor tracks it. */
interface Member {
  /** Its place, from 1: a replacement takes the place of the process it replaces. */
  readonly index: number;
  readonly worker: Worker;
  ready: boolean;
  /** Asked to stop (a reload, SIGTTOU, the service stopping): its exit is expected. */
  retiring: boolean;
  /** Started by a reload: if it fails to boot, the reload stops and the current processes stay. */
  readonly forReload: boolean;
  /** True once ready, false if it exited first. */
  readonly booted: Promise<boolean>;
  readonly exited: Promise<number>;
}

/**
 * Runs the web processes until SIGTERM/SIGINT (or a process that fails to boot); resolves with
 * the exit code.
 *
 * @example
 * process.exitCode = await supervise(settings, logger, new SignalQueue(['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGTTIN', 'SIGTTOU']));
 */
export async function supervise(settings: Settings, logger: Logger, signals: SignalQueue): Promise<number> {
  // stdout and stderr piped here (the relay); 'ipc' is the cluster channel.
  cluster.setupPrimary({ stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const stdout = new LineWriter(1);
  const stderr = new LineWriter(2);
  const metrics = new ServiceMetrics();
  const members = new Set<Member>();
  let stopping = false;
  let halt: (reason: string) => void = () => undefined;
  const halted = new Promise<'halt'>((resolve) => {
    halt = (reason) => {
      logger.error({ reason }, `${reason}; stopping the service rather than restarting it in a loop`);
      resolve('halt');
    };
  });

  const live = () => [...members].map((m) => m.worker);

  function fork(index: number, forReload = false): Member {
    const worker = cluster.fork();
    const cutLine = (bytes: number) => logger.warn({ process: index, pid: worker.process.pid, bytes }, 'web process output ended in the middle of a line; the partial line was dropped');
    const relayed = Promise.all([relayLines(worker.process.stdout as Readable, stdout, cutLine), relayLines(worker.process.stderr as Readable, stderr)]);
    let onBooted: (ok: boolean) => void = () => undefined;
    let onExited: (code: number) => void = () => undefined;
    const member: Member = {
      index,
      worker,
      ready: false,
      retiring: false,
      forReload,
      booted: new Promise((resolve) => (onBooted = resolve)),
      // Exited, and every line it wrote relayed. Bounded: a program the app started may have
      // inherited the pipes and hold them open after the process is gone.
      exited: new Promise<number>((resolve) => (onExited = resolve)).then(async (code) => {
        if ((await Promise.race([relayed, sleep(RELAY_GRACE_MS)])) === 'timeout') {
          worker.process.stdout?.destroy();
          worker.process.stderr?.destroy();
        }
        return code;
      }),
    };
    members.add(member);
    worker.on('message', (message: unknown) => {
      if (!isDroverMessage<WebProcessMessage>(message)) return;
      if (message.drover === 'ready') {
        member.ready = true;
        onBooted(true);
      } else if (message.drover === 'metrics') {
        metrics.received(worker.id, message.snapshot, message.id);
      } else if (message.drover === 'scrape') {
        void metrics.scrape(worker, message.id, message.snapshot, live);
      }
    });
    worker.on('exit', (code: number | null, signal: string | null) => {
      members.delete(member);
      onBooted(false);
      onExited(code ?? 1);
      const fields = { process: index, pid: worker.process.pid, code, signal };
      if (stopping || member.retiring) {
        logger.info(fields, 'web process stopped');
      } else if (!member.ready && !forReload) {
        halt(`web process ${index} exited before it was ready (code ${code}${signal ? `, ${signal}` : ''})`);
      } else if (member.ready) {
        logger.warn(fields, 'web process died; replacing it');
        fork(index);
      }
    });
    return member;
  }

  function retire(member: Member): void {
    member.retiring = true;
    member.worker.process.kill('SIGTERM');
  }

  async function reload(): Promise<void> {
    const started = performance.now();
    for (const old of [...members].filter((m) => !m.retiring)) {
      if (stopping) return;
      if (!members.has(old)) continue; // it died meanwhile, and was replaced already
      const fresh = fork(old.index, true);
      if (!(await fresh.booted)) {
        logger.error({ process: old.index }, 'reload: the new web process exited before it was ready; the current processes keep serving');
        return;
      }
      if (stopping) return;
      retire(old);
    }
    logger.info({ processes: members.size, ms: Math.round(performance.now() - started) }, 'web processes reloaded');
  }

  for (let i = 1; i <= settings.WEB_PROCESSES; i++) fork(i);
  logger.info({ processes: settings.WEB_PROCESSES, threadsEach: settings.WEB_CONCURRENCY }, 'supervising web processes');
  const boot = Promise.all([...members].map((m) => m.booted));
  let code = 0;
  let reloading: Promise<void> = Promise.resolve();
  // One reader of the signals, handed from the boot phase to the serving phase.
  let nextSignal = signals.next();
  // Boot: a SIGTERM or SIGINT stops at once (exit 1, as a single process's interrupted boot); a
  // SIGHUP, SIGTTIN or SIGTTOU is ignored, the processes are starting.
  let serving = false;
  for (;;) {
    const first = await Promise.race([boot.then((ok) => (ok.every(Boolean) ? ('booted' as const) : halted)), halted, nextSignal]);
    if (first === 'booted') {
      serving = true;
      logger.info({ processes: members.size }, 'web processes ready');
      break;
    }
    if (first === 'halt') break;
    if (first === 'SIGTERM' || first === 'SIGINT') {
      logger.warn({ signal: first }, 'stopped during boot, before every web process was ready');
      break;
    }
    logger.info({ signal: first }, 'signal during boot: ignored, the web processes are starting');
    nextSignal = signals.next();
  }
  if (!serving) {
    code = 1;
  } else {
    for (;;) {
      const signal: ControlSignal | 'halt' = await Promise.race([nextSignal, halted]);
      if (signal === 'halt') {
        code = 1;
        break;
      }
      nextSignal = signals.next();
      if (signal === 'SIGTERM' || signal === 'SIGINT') {
        logger.info({ signal, gracefulTimeout: settings.GRACEFUL_TIMEOUT }, 'stopping the web processes gracefully');
        break;
      }
      if (signal === 'SIGHUP') {
        reloading = reloading.then(reload);
      } else if (signal === 'SIGTTIN') {
        const index = Math.max(0, ...[...members].map((m) => m.index)) + 1;
        fork(index);
        logger.info({ process: index }, 'SIGTTIN: one more web process');
      } else if (signal === 'SIGTTOU') {
        const active = [...members].filter((m) => !m.retiring).sort((a, b) => b.index - a.index);
        if (active.length > 1 && active[0]) {
          retire(active[0]);
          logger.info({ process: active[0].index }, 'SIGTTOU: one web process fewer');
        } else {
          logger.warn('SIGTTOU: one web process is the fewest; none stopped');
        }
      }
    }
  }
  stopping = true;
  const left = [...members];
  for (const m of left) m.worker.process.kill('SIGTERM');
  // Each process bounds its own drain by GRACEFUL_TIMEOUT; one that outlives it by far is stuck.
  const deadline = setTimeout(() => {
    for (const m of members) m.worker.process.kill('SIGKILL');
  }, (settings.GRACEFUL_TIMEOUT + 10) * 1000);
  const codes = await Promise.all(left.map((m) => m.exited));
  clearTimeout(deadline);
  await reloading;
  stdout.flush();
  stderr.flush();
  return code !== 0 || codes.some((c) => c !== 0) ? 1 : 0;
}
