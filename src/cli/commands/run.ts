/**
 * `drover run MODULE [ARGS...]`: a twelve-factor admin process (XII). Runs the module's default
 * export `(args, { settings, log }) => exitCode` with the same settings and logger as the web
 * process.
 */
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import type { Settings } from '../../../config/settings.js';
import { resolveAppPath } from '../../app/app-loader.js';
import { CliUsage } from '../../errors.js';
import { createLogger } from '../../logging.js';
import { readSettings, type Command } from './common.js';

/** What an admin task's default export receives after its arguments. */
export interface TaskContext {
  /** The same frozen settings as the web process. */
  readonly settings: Settings;
  /** The same JSON logger, bound to `task`. */
  readonly log: Logger;
}

export const run: Command = {
  usage: 'drover run MODULE [ARGS...]',
  summary: 'Run an admin task: MODULE\'s default export (args, { settings, log }) => exitCode.',
  async run(args) {
    const [module, ...rest] = args;
    if (module === undefined) throw new CliUsage('drover run needs a MODULE path');
    const settings = readSettings();
    const log = createLogger(settings, { task: module });
    const mod = (await import(pathToFileURL(resolveAppPath(module)).href)) as { default?: unknown };
    if (typeof mod.default !== 'function') {
      throw new CliUsage(`${module} must export default a function (args, { settings, log }) => exitCode`);
    }
    try {
      const context: TaskContext = { settings, log };
      const code: unknown = await (mod.default as (a: string[], c: TaskContext) => unknown)(rest, context);
      return typeof code === 'number' && Number.isInteger(code) ? code : 0;
    } catch (err) {
      log.error({ err }, 'task failed');
      return 1;
    }
  },
};
