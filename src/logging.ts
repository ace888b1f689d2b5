/**
 * JSON logs on stdout (twelve-factor XI), the same shape from the front and from every worker.
 *
 * Only the front thread writes to fd 1. Workers post each finished line over a BroadcastChannel
 * and the front writes it whole: writes from several threads to one pipe are only atomic up to
 * PIPE_BUF (4 KiB), so larger lines could tear or interleave. Posting is synchronous, so a line
 * is on its way before the view returns, and a thread terminated later (a timeout, a recycle)
 * cannot take it with it. (console.log from a worker is asynchronous and lost on exit; drover
 * never uses it.)
 */
import cluster from 'node:cluster';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { BroadcastChannel } from 'node:worker_threads';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Settings } from '../config/settings.js';

let stdout: DestinationStream | undefined;
/** The buffered stdout of a supervised web process (see stdoutDestination), once created. */
let buffered: (DestinationStream & { flush(cb: (err?: Error) => void): void; flushSync(): void }) | undefined;

/**
 * The front's one writer to fd 1: synchronous, so nothing is buffered when the process exits. With
 * LOG_FORMAT=pretty it is pino-pretty (also synchronous), for people reading a terminal; worker
 * lines pass through it too.
 *
 * A web process of a supervisor (WEB_PROCESSES > 1) writes to a pipe the supervisor reads and
 * relays in whole lines: there lines are gathered into writes of 32 KiB (or every 10 ms), since a
 * write and a read per access-log line cost the supervisor's one thread about 6 µs a request (about
 * 2.5 µs with writes of 8 KiB, 1.5 µs with 32 KiB, under wrk on `/hello`). One write carries up to
 * 64 KiB (SonicBoom's maxWrite, which must exceed minLength). They are written out before the
 * process exits (flushStdout); a `kill -9` may lose the last 10 ms of them.
 */
function stdoutDestination(format: Settings['LOG_FORMAT'] = 'json'): DestinationStream {
  if (!stdout) {
    if (cluster.isWorker && format !== 'pretty') {
      const destination = pino.destination({ dest: 1, sync: false, minLength: 32 * 1024, maxWrite: 64 * 1024, periodicFlush: 10 } as Parameters<typeof pino.destination>[0]);
      // After flushStdout() this finds nothing left; it is for exits that skip it (a crash).
      process.on('exit', () => destination.flushSync());
      buffered = destination;
      stdout = destination;
    } else if (format === 'pretty') {
      // Loaded only in development: production never pays for pino-pretty's import.
      const pretty = createRequire(import.meta.url)('pino-pretty') as (options: object) => DestinationStream;
      stdout = pretty({ sync: true, destination: 1 });
    } else {
      stdout = pino.destination({ dest: 1, sync: true });
    }
  }
  return stdout;
}

/**
 * Writes out what a supervised web process's stdout still holds, after any write in progress (at
 * most `waitMs`): called before the process exits. flushSync() at exit alone could write the rest
 * while an asynchronous write of up to 64 KiB is still under way, and lose it or split a line.
 * Nothing to do in a process that writes synchronously.
 *
 * @example
 * await flushStdout();
 * process.exit(code);
 */
export function flushStdout(waitMs = 2000): Promise<void> {
  const out = buffered;
  if (!out) return Promise.resolve();
  return new Promise((resolve) => {
    setTimeout(resolve, waitMs).unref(); // a supervisor that stopped reading must not hold the exit
    out.flush(() => resolve());
  });
}

/**
 * Creates a pino logger. In the front it writes to stdout; in a worker, pass the channel's
 * destination from `channelDestination()`.
 *
 * @example
 * const log = createLogger(settings);
 * log.info({ items: 3 }, 'loaded');
 */
export function createLogger(
  settings: Pick<Settings, 'LOG_LEVEL' | 'LOG_FORMAT'>,
  bindings: Record<string, unknown> = {},
  destination: DestinationStream = stdoutDestination(settings.LOG_FORMAT),
): Logger {
  return pino({ level: settings.LOG_LEVEL, base: { pid: process.pid, hostname: hostname(), ...bindings } }, destination);
}

/** A worker's log destination: each line goes to the front over `channel`. */
export function channelDestination(channel: BroadcastChannel): DestinationStream {
  return { write: (line: string) => channel.postMessage(line) };
}

/** The front's end of the log channel: writes every worker line to stdout, whole. */
export interface LogForwarder {
  /** Waits until lines already posted by (now stopped) workers are written, then closes. */
  close(): Promise<void>;
}

/**
 * Starts forwarding the lines workers post on the channel named `name`.
 *
 * @example
 * const forwarder = forwardWorkerLogs('drover:1234:logs', settings.LOG_FORMAT);
 * // … after the pool has stopped
 * await forwarder.close();
 */
export function forwardWorkerLogs(name: string, format: Settings['LOG_FORMAT'] = 'json'): LogForwarder {
  const channel = new BroadcastChannel(name);
  const out = stdoutDestination(format);
  let received = 0;
  channel.onmessage = (event) => {
    received++;
    out.write((event as unknown as { data: string }).data);
  };
  channel.unref(); // the listeners keep the process alive, not the log channel
  return {
    async close() {
      // Messages posted before a thread stopped are already queued here; they are delivered on
      // coming turns of the event loop. Wait until a turn passes with none.
      let seen = -1;
      while (seen !== received) {
        seen = received;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      channel.close();
    },
  };
}
