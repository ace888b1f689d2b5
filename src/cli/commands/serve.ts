/**
 * `drover serve [--reload] [APP]`: the web process.
 */
import { watch } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { SignalQueue } from '../../lifecycle.js';
import { createLogger } from '../../logging.js';
import { startServer } from '../../serve.js';
import { appPath, readSettings, type Command } from './common.js';

/**
 * Development reload: when a file under the app's folder changes, replace the workers (what
 * SIGHUP does). Debounced, because a compiler rewrites many files at once.
 */
function watchApp(folder: string, logger: Logger, reload: () => Promise<void>): void {
  let timer: NodeJS.Timeout | undefined;
  watch(folder, { recursive: true }, (_event, file) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      logger.info({ file }, 'app files changed: reloading workers');
      void reload();
    }, 200);
  }).unref();
}

export const serve: Command = {
  usage: 'drover serve [--reload] [APP]',
  summary: 'Serve the app module at APP (default: APP_MODULE, else the example app). --reload: reload workers when files next to APP change (development).',
  async run(argv) {
    const { positionals, values } = parseArgs({ args: [...argv], allowPositionals: true, options: { reload: { type: 'boolean' } } });
    const settings = readSettings();
    const app = appPath(positionals, settings);
    const logger = createLogger(settings);
    const signals = new SignalQueue();
    const server = await startServer(settings, app, logger);
    logger.info(
      { url: server.url, metricsUrl: server.metricsUrl ?? `${server.url}/metrics`, workers: settings.WEB_CONCURRENCY, app, routes: server.routes.length },
      'listening',
    );
    if (values.reload) watchApp(dirname(app), logger, () => server.reload());
    let signal = await signals.next();
    while (signal === 'SIGHUP') {
      logger.info({ signal }, 'reload requested');
      void server.reload();
      signal = await signals.next();
    }
    logger.info({ signal, gracefulTimeout: settings.GRACEFUL_TIMEOUT }, 'shutting down gracefully');
    const code = await server.drain();
    logger.info({ exitCode: code }, 'stopped');
    return code;
  },
};
