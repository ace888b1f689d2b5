/**
 * `drover dev [APP]`: the development loop. Runs the project's own `tsc --watch` (its output on
 * stderr, so compiler errors show as they happen) and serves the app with pretty logs; after each
 * compile without errors the workers are reloaded once (one log line), and after a compile with
 * errors the server keeps serving the last good build and says so (`--noEmitOnError` keeps that
 * build on disk).
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CliUsage } from '../../errors.js';
import { SignalQueue } from '../../lifecycle.js';
import { createLogger } from '../../logging.js';
import { startServer, type RunningServer } from '../../serve.js';
import { appPath, parseCommand, readSettings, type Command } from './common.js';

/** The project's TypeScript compiler, resolved from the working directory (never drover's own). */
function projectTsc(cwd: string): string {
  try {
    return createRequire(join(cwd, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    throw new CliUsage(`drover dev runs the project's TypeScript compiler, and none is installed in ${cwd}: npm install --save-dev typescript`);
  }
}

/** tsc's summary line after each (re)compile in watch mode, e.g. "Found 2 errors. Watching for file changes." */
const SUMMARY = /Found (\d+) errors?\b/;

export const dev: Command = {
  usage: 'drover dev [APP]',
  summary: 'Development: tsc --watch (errors shown as they happen) and serve APP with pretty logs, reloading the workers after each clean compile.',
  async run(args) {
    const { positionals } = parseCommand(dev, args, 1);
    const signals = new SignalQueue();
    const { settings, env } = readSettings({ LOG_FORMAT: 'pretty' });
    const logger = createLogger(settings);
    const tsc = spawn(process.execPath, [projectTsc(process.cwd()), '-p', '.', '--watch', '--preserveWatchOutput', '--noEmitOnError'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let server: RunningServer | undefined;
    let booting: Promise<void> | undefined;
    const compiled = (errors: number): void => {
      if (errors > 0) {
        if (server || booting) {
          logger.warn({ errors }, `TypeScript found ${errors} error(s): still serving the last good build`);
          return;
        }
        // A build from before may exist: serve it meanwhile, saying so.
        let built = true;
        try {
          appPath(positionals[0], settings);
        } catch {
          built = false;
        }
        logger.warn({ errors }, `TypeScript found ${errors} error(s): ${built ? 'serving the last good build meanwhile' : 'fix them to start the server'}`);
        if (!built) return;
      }
      if (server) {
        void server.reload('compiled');
        return;
      }
      booting ??= startServer(settings, appPath(positionals[0], settings).path, logger, env).then(
        (started) => {
          server = started;
          const app = appPath(positionals[0], settings).path;
          logger.info(
            { url: started.url, metricsUrl: started.metricsUrl ?? `${started.url}/metrics`, workers: settings.WEB_CONCURRENCY, app, routes: started.routes.length },
            'listening',
          );
        },
        (err: Error) => {
          booting = undefined;
          logger.error({ err }, `${(err as Error & { code?: string }).code ?? 'Error'}: ${err.message}; waiting for the next compile`);
        },
      );
    };
    createInterface({ input: tsc.stdout }).on('line', (line) => {
      process.stderr.write(`${line}\n`);
      const match = SUMMARY.exec(line);
      if (match) compiled(Number(match[1]));
    });
    const tscExited = new Promise<'tsc exited'>((resolve) => tsc.once('exit', () => resolve('tsc exited')));
    let stop = await Promise.race([signals.next(), tscExited]);
    while (stop === 'SIGHUP') {
      if (server) void server.reload('SIGHUP');
      stop = await Promise.race([signals.next(), tscExited]);
    }
    tsc.kill();
    logger.info({ signal: stop }, 'stopping');
    // A first boot still under way is abandoned, not waited for (it may take up to BOOT_TIMEOUT):
    // the process exits, its threads with it.
    if (!server) return stop === 'tsc exited' ? 1 : 0;
    const code = await server.drain();
    return stop === 'tsc exited' ? 1 : code;
  },
};
