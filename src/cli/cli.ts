#!/usr/bin/env node
/**
 * The `drover` command. Errors print one line on stderr and exit non-zero; the web process's
 * stdout carries JSON log lines only.
 */
import { parseArgs } from 'node:util';
import { check } from './commands/check.js';
import type { Command } from './commands/common.js';
import { routes } from './commands/routes.js';
import { run } from './commands/run.js';
import { serve } from './commands/serve.js';
import { CliUsage } from '../errors.js';

const commands: Record<string, Command> = { serve, routes, check, run };

function help(): string {
  const width = Math.max(...Object.values(commands).map((c) => c.usage.length));
  const lines = Object.values(commands).map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`);
  return ['Usage: drover <command> [options]', '', 'Commands:', ...lines, '', 'Settings come from the environment (and .env); see the README.', ''].join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(help());
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    parseArgs({ args: [...argv], allowPositionals: true }); // an unknown --flag is a parse error
    throw new CliUsage(`unknown command "${name}"; run "drover --help" for the list`);
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error & { code?: string }) => {
    process.stderr.write(`drover: ${err.code ? `${err.code}: ` : ''}${err.message}\n`);
    process.exit(err.code === 'DROVER_ERR_CLI_USAGE' || err.code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1);
  },
);
