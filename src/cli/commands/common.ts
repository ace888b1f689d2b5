/**
 * What every CLI command shares: how it parses its arguments, reads settings, and finds and loads
 * the user's app.
 */
import { parseArgs } from 'node:util';
import { settingsTable, type Settings } from '../../../config/settings.js';
import { loadApp, type LoadedApp } from '../../app/app-loader.js';
import { findApp, type FoundApp } from '../../app/find-app.js';
import { BootTimedOut, CliUsage } from '../../errors.js';
import { environment, loadDotenv, loadSettings, setSettingsEnvironment } from '../../settings.js';

/** One option of a command, as node:util parseArgs takes it, with its help text. */
export interface CommandOption {
  readonly type: 'boolean' | 'string';
  readonly short?: string;
  readonly description: string;
}

/** One `drover` subcommand. */
export interface Command {
  readonly usage: string;
  readonly summary: string;
  /** Its options (besides --help), for parsing and for `drover <command> --help`. */
  readonly options?: Readonly<Record<string, CommandOption>>;
  /** Runs with the arguments after the command name; resolves with the exit code. */
  run(args: readonly string[]): Promise<number>;
}

/**
 * Parses a command's arguments strictly: an unknown option, or more positionals than `max`, is a
 * usage error that lists what the command takes.
 */
export function parseCommand(
  command: Command,
  args: readonly string[],
  max: number,
): { positionals: string[]; values: Record<string, string | boolean | undefined> } {
  const options = Object.fromEntries(Object.entries(command.options ?? {}).map(([name, o]) => [name, { type: o.type, ...(o.short ? { short: o.short } : {}) }]));
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliUsage(`${(err as Error).message.split('. ')[0]} for "${command.usage}"; ${optionList(command)}`);
  }
  if (parsed.positionals.length > max) {
    throw new CliUsage(`too many arguments for "${command.usage}": ${parsed.positionals.join(' ')}`);
  }
  return { positionals: parsed.positionals, values: parsed.values as Record<string, string | boolean | undefined> };
}

/** "valid options: --reload, --help" for a command. */
export function optionList(command: Command): string {
  const names = [...Object.keys(command.options ?? {}), 'help'].map((n) => `--${n}`);
  return `valid options: ${names.join(', ')}`;
}

/** The settings and the environment they were read from (the one the app's settings use too). */
export interface Environment {
  readonly settings: Settings;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * Loads `.env`, reads and validates every drover setting (a bad one throws, naming it), and makes
 * the same environment the one the app's settings are read from in this thread. `defaults` apply
 * where neither the environment nor `.env` sets a variable (`drover dev`'s pretty logs).
 */
export function readSettings(defaults: Readonly<Record<string, string>> = {}): Environment {
  loadDotenv();
  const env: Record<string, string | undefined> = { ...environment() };
  for (const [name, value] of Object.entries(defaults)) if (!env[name]) env[name] = value;
  const settings = loadSettings(settingsTable, env);
  setSettingsEnvironment(env);
  return { settings, env };
}

/** The app module: the command line's path, else APP, else package.json, else the conventions. */
export function appPath(positional: string | undefined, settings: Settings): FoundApp {
  return findApp(positional, settings.APP);
}

/**
 * Imports and checks the app in this thread (`drover run`, whose task shares the app's module
 * state), within BOOT_TIMEOUT: an import that never settles fails with the stage named instead of
 * hanging (or, worse, letting the process exit 0 with nothing printed once the event loop runs
 * dry). `check` and `routes` use inspectApp(), which also stops a busy loop.
 */
export async function loadAppWithin(path: string, settings: Settings): Promise<LoadedApp> {
  return within(loadApp(path), settings.BOOT_TIMEOUT, `importing the app module ${path}`);
}

/**
 * `work`, or after `seconds` the error `timedOut()` makes (a BootTimedOut naming `stage` by
 * default). The timer keeps the process alive meanwhile.
 */
export async function within<T>(
  work: Promise<T>,
  seconds: number,
  stage: string,
  timedOut: () => Error = () => new BootTimedOut(String(seconds), stage),
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut()), seconds * 1000);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
