#!/usr/bin/env node
/**
 * The `drover` command. Boot errors print one line on stderr and exit non-zero; stdout carries
 * JSON log lines only.
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { settingsTable, type Settings } from '../config/settings.js';
import { resolveAppPath } from './app-loader.js';
import { CliUsage } from './errors.js';
import { SignalQueue } from './lifecycle.js';
import { createLogger } from './logging.js';
import { startServer } from './serve.js';
import { loadDotenv, loadSettings } from './settings.js';

/** The example app, served when neither the command line nor APP_MODULE names one. */
const EXAMPLE_APP = fileURLToPath(new URL('../app/index.js', import.meta.url));

interface Command {
  readonly usage: string;
  readonly summary: string;
  run(args: readonly string[]): Promise<number>;
}

function readSettings(): Settings {
  loadDotenv();
  return loadSettings(settingsTable);
}

function appPath(args: readonly string[], settings: Settings): string {
  if (args.length > 1) throw new CliUsage(`expected at most one APP path, got ${args.length}: ${args.join(' ')}`);
  return resolveAppPath(args[0] ?? settings.APP_MODULE ?? EXAMPLE_APP);
}

const commands: Record<string, Command> = {
  serve: {
    usage: 'drover serve [APP]',
    summary: 'Serve the app module at APP (default: APP_MODULE, else the example app).',
    async run(args) {
      const settings = readSettings();
      const app = appPath(args, settings);
      const logger = createLogger(settings);
      const signals = new SignalQueue();
      const server = await startServer(settings, app, logger);
      logger.info(
        { url: server.url, metricsUrl: server.metricsUrl ?? `${server.url}/metrics`, workers: settings.WEB_CONCURRENCY, app, routes: server.routes.length },
        'listening',
      );
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
  },
};

function help(): string {
  const width = Math.max(...Object.values(commands).map((c) => c.usage.length));
  const lines = Object.values(commands).map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`);
  return ['Usage: drover <command> [options]', '', 'Commands:', ...lines, '', 'Settings come from the environment (and .env); see the README.', ''].join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: { help: { type: 'boolean', short: 'h' } },
  });
  const [name, ...rest] = positionals;
  if (values.help || name === undefined || name === 'help') {
    process.stdout.write(help());
    return values.help || name === 'help' ? 0 : 2;
  }
  const command = commands[name];
  if (!command) throw new CliUsage(`unknown command "${name}"; run "drover --help" for the list`);
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error & { code?: string }) => {
    process.stderr.write(`drover: ${err.code ? `${err.code}: ` : ''}${err.message}\n`);
    process.exit(err.code === 'DROVER_ERR_CLI_USAGE' || err.code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1);
  },
);
