/**
 * `drover serve [--reload] [APP]`: the web process.
 */
import cluster from 'node:cluster';
import { watch } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { BootInterrupted } from '../../errors.js';
import { SignalQueue, type ControlSignal } from '../../lifecycle.js';
import { createLogger } from '../../logging.js';
import { startServer, type RunningServer } from '../../serve.js';
import { supervise } from '../../cluster/supervisor.js';
import { appPath, parseCommand, readSettings, type Command } from './common.js';

/**
 * Development reload: when a file under the app's folder changes, replace the workers (what
 * SIGHUP does). Debounced, because a compiler rewrites many files at once.
 */
function watchApp(folder: string, reload: (file: string) => void): void {
  let timer: NodeJS.Timeout | undefined;
  watch(folder, { recursive: true }, (_event, file) => {
    clearTimeout(timer);
    timer = setTimeout(() => reload(String(file)), 200);
  }).unref();
}

/**
 * Waits for the server to boot, or for SIGTERM/SIGINT first: then boot is abandoned at once (the
 * process exits, and its worker threads with it) instead of waiting for an import that may never
 * finish. A SIGHUP during boot is only recorded: there are no workers to reload yet.
 */
async function bootOrSignal(boot: Promise<RunningServer>, signals: SignalQueue, logger: Logger): Promise<RunningServer> {
  const stop = (async (): Promise<ControlSignal> => {
    for (;;) {
      const signal = await signals.next();
      if (signal !== 'SIGHUP') return signal;
      logger.info({ signal }, 'reload requested during boot: ignored, the workers are starting with the current code');
    }
  })();
  const first = await Promise.race([boot, stop]);
  if (typeof first !== 'string') return first;
  boot.catch(() => undefined);
  throw new BootInterrupted(first);
}

export const serve: Command = {
  usage: 'drover serve [--reload] [APP]',
  summary: 'Serve the app module at APP (default: the APP setting, package.json\'s "drover": { "app" }, dist/app/index.js, app/index.js).',
  options: { reload: { type: 'boolean', description: 'reload the workers when files next to APP change (development)' } },
  async run(args) {
    const { positionals, values } = parseCommand(serve, args, 1);
    const { settings, env } = readSettings();
    const app = appPath(positionals[0], settings).path;
    const logger = createLogger(settings);
    if (settings.WEB_PROCESSES > 1 && cluster.isPrimary) {
      // The supervisor: its web processes run this same command (node:cluster forks it).
      const signals = new SignalQueue(['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGTTIN', 'SIGTTOU']);
      if (values.reload) watchApp(dirname(app), () => process.kill(process.pid, 'SIGHUP'));
      return supervise(settings, logger, signals);
    }
    const signals = new SignalQueue(); // before boot: a SIGTERM during boot must not be lost
    let server: RunningServer;
    try {
      server = await bootOrSignal(startServer(settings, app, logger, env), signals, logger);
    } catch (err) {
      if ((err as { code?: string }).code === 'DROVER_ERR_BOOT_INTERRUPTED') logger.warn({ err }, (err as Error).message);
      throw err;
    }
    logger.info(
      { url: server.url, metricsUrl: server.metricsUrl ?? `${server.url}/metrics`, workers: settings.WEB_CONCURRENCY, app, routes: server.routes.length },
      'listening',
    );
    // A web process of a supervisor leaves --reload to it: the supervisor replaces whole processes.
    if (values.reload && !cluster.isWorker) watchApp(dirname(app), (file) => void server.reload(`files changed: ${file}`));
    let signal = await signals.next();
    while (signal === 'SIGHUP') {
      void server.reload('SIGHUP');
      signal = await signals.next();
    }
    logger.info({ signal, gracefulTimeout: settings.GRACEFUL_TIMEOUT }, 'shutting down gracefully');
    const code = await server.drain();
    logger.info({ exitCode: code }, 'stopped');
    return code;
  },
};
