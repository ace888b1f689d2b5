/**
 * What every CLI command shares: how it reads settings and finds the app.
 */
import { fileURLToPath } from 'node:url';
import { settingsTable, type Settings } from '../../../config/settings.js';
import { resolveAppPath } from '../../app/app-loader.js';
import { CliUsage } from '../../errors.js';
import { environment, loadDotenv, loadSettings } from '../../settings.js';

/** One `drover` subcommand. */
export interface Command {
  readonly usage: string;
  readonly summary: string;
  /** Runs with the arguments after the command name; resolves with the exit code. */
  run(args: readonly string[]): Promise<number>;
}

/** The example app, used when neither the command line nor APP_MODULE names one. */
const EXAMPLE_APP = fileURLToPath(new URL('../../../app/index.js', import.meta.url));

/** Loads `.env`, then reads and validates every setting (a bad one throws, naming it). */
export function readSettings(): Settings {
  loadDotenv();
  return loadSettings(settingsTable, environment());
}

/** The app path: the one argument, else APP_MODULE, else the example app. */
export function appPath(args: readonly string[], settings: Settings): string {
  if (args.length > 1) throw new CliUsage(`expected at most one APP path, got ${args.length}: ${args.join(' ')}`);
  return resolveAppPath(args[0] ?? settings.APP_MODULE ?? EXAMPLE_APP);
}
