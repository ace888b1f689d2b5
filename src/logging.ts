/**
 * JSON logs on stdout (twelve-factor XI), the same shape from the front and from every worker.
 */
import { hostname } from 'node:os';
import { pino, type Logger } from 'pino';
import type { Settings } from '../config/settings.js';

/**
 * Creates a pino logger writing JSON lines to fd 1.
 *
 * Writes are synchronous on purpose: a worker thread may be terminated at any moment (a timeout,
 * a recycle), and an asynchronous destination would lose what it had buffered. One `write(2)` per
 * line also keeps lines whole when several threads share fd 1 (pipes guarantee atomic writes up to
 * PIPE_BUF, 4 KiB on Linux).
 *
 * @example
 * const log = createLogger(settings, { worker: threadId });
 * log.info({ items: 3 }, 'loaded');
 */
export function createLogger(settings: Pick<Settings, 'LOG_LEVEL'>, bindings: Record<string, unknown> = {}): Logger {
  return pino(
    { level: settings.LOG_LEVEL, base: { pid: process.pid, hostname: hostname(), ...bindings } },
    pino.destination({ dest: 1, sync: true }),
  );
}
