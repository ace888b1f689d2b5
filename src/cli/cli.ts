#!/usr/bin/env node
/**
 * The `drover` command. Errors print one line on stderr (followed by the app's stack when the
 * app's own code failed) and exit non-zero; the web process's stdout carries JSON log lines only.
 */
import { readFileSync } from 'node:fs';
import { CliUnfinished, CliUsage } from '../errors.js';
import { flushStdout } from '../logging.js';
import { check } from './commands/check.js';
import { optionList, type Command } from './commands/common.js';
import { dev } from './commands/dev.js';
import { init } from './commands/init.js';
import { routes } from './commands/routes.js';
import { run } from './commands/run.js';
import { serve } from './commands/serve.js';
import { worker } from './commands/worker.js';
import { events } from './commands/events.js';

const commands: Record<string, Command> = { serve, worker, events, dev, check, routes, run, init };

/** drover's version, from the package.json of the installed package (or this repository). */
function version(): string {
  return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

function help(): string {
  const width = Math.max(...Object.values(commands).map((c) => c.usage.length));
  const lines = Object.values(commands).map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`);
  return [
    'Usage: drover <command> [options]',
    '',
    'Commands:',
    ...lines,
    `  ${'drover help [COMMAND]'.padEnd(width)}  This help, or one command's.`,
    `  ${'drover --version'.padEnd(width)}  Print drover's version.`,
    '',
    'Settings come from the environment (and .env); `drover check` prints them. See the README.',
    '',
  ].join('\n');
}

function commandHelp(name: string, command: Command): string {
  const options = Object.entries(command.options ?? {}).map(([flag, o]) => `  --${flag}${o.type === 'string' ? ' VALUE' : ''}  ${o.description}`);
  return [`Usage: ${command.usage}`, '', command.summary, '', 'Options:', ...options, '  --help  Show this help.', '', `See also: drover help (every command). [${name}]`, ''].join('\n');
}

function unknownCommand(name: string): never {
  throw new CliUsage(`unknown command "${name}"; commands: ${Object.keys(commands).join(', ')}, help; run "drover --help" for details`);
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(help());
    return 2;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (name === 'help' || name === '--help' || name === '-h') {
    const topic = rest[0];
    if (topic === undefined) process.stdout.write(help());
    else process.stdout.write(commandHelp(topic, commands[topic] ?? unknownCommand(topic)));
    return 0;
  }
  if (name.startsWith('-')) throw new CliUsage(`unknown option ${name}; before a command drover takes --help and --version; commands: ${Object.keys(commands).join(', ')}`);
  const command = commands[name] ?? unknownCommand(name);
  // `drover run` passes everything after MODULE to the task, --help included.
  const ownArgs = name === 'run' ? rest.slice(0, 1) : rest;
  if (ownArgs.includes('--help') || ownArgs.includes('-h')) {
    process.stdout.write(commandHelp(name, command));
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    const error = err as Error & { code?: string };
    if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || error.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      throw new CliUsage(`${error.message.split('. ')[0]} for "${command.usage}"; ${optionList(command)}`);
    }
    throw err;
  }
}

let verdict = false;
// A command whose work waits on something that never settles (an import awaiting a promise nothing
// resolves) would otherwise end with exit code 0 and nothing printed once the event loop runs dry.
process.on('exit', (code) => {
  if (verdict || code !== 0) return;
  const error = new CliUnfinished();
  process.stderr.write(`drover: ${error.code}: ${error.message}\n`);
  process.exitCode = 1;
});

main(process.argv.slice(2)).then(
  async (code) => {
    verdict = true;
    await flushStdout();
    process.exit(code);
  },
  async (err: Error & { code?: string; appStack?: string }) => {
    verdict = true;
    const stack = err.appStack ? `\n${err.appStack}` : '';
    process.stderr.write(`drover: ${err.code ? `${err.code}: ` : ''}${err.message}${stack}\n`);
    await flushStdout();
    process.exit(err.code === 'DROVER_ERR_CLI_USAGE' || err.code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1);
  },
);
