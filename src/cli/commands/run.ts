/**
 * `drover run MODULE [ARGS...]`: a twelve-factor admin process (XII). Loads the project's app (so
 * reverse() and the app's settings work), runs its `startup` hook, then the module's default export
 * `(args, ctx) => exitCode` with the same settings and logger as the web process, then `shutdown`.
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { HookContext, TaskContext } from '../../app/contexts.js';
import { resolveAppPath } from '../../app/find-app.js';
import { threadError } from '../../app/app-errors.js';
import { CliUsage, ShutdownHookFailed, StartupFailed } from '../../errors.js';
import { createLogger } from '../../logging.js';
import { resolve as resolvePath } from 'node:path';
import type { EventBus } from '../../events/bus.js';
import { Outbox, randomIds } from '../../events/publish.js';
import { openSqliteBus } from '../../events/sqlite-bus.js';
import { appPath, loadAppWithin, readSettings, within, type Command } from './common.js';

export const run: Command = {
  usage: 'drover run MODULE [ARGS...]',
  summary: "Run an admin task: MODULE's default export (args, { settings, drover, log }) => exitCode, after the app's startup hook.",
  async run(args) {
    // No option parsing: everything after MODULE belongs to the task.
    const [module, ...rest] = args;
    if (module === undefined) throw new CliUsage('drover run needs a MODULE path, e.g. drover run dist/app/tasks/migrate.js');
    const { settings } = readSettings();
    const log = createLogger(settings, { task: module });
    const found = appPath(undefined, settings);
    const app = await loadAppWithin(found.path, settings);
    const taskPath = resolveAppPath(module);
    if (!existsSync(taskPath)) throw new CliUsage(`the task module ${taskPath} does not exist`);
    const hookContext: HookContext = { pool: 'task', settings: app.settings ?? {}, log };
    if (app.startup) {
      try {
        await within(Promise.resolve().then(() => app.startup?.(hookContext)), settings.BOOT_TIMEOUT, "running the app's startup hook");
      } catch (err) {
        if ((err as { code?: unknown } | null)?.code === 'DROVER_ERR_BOOT_TIMEOUT') throw err;
        const { message, appStack } = threadError(err); // whatever was thrown, an Error or not
        throw Object.assign(new StartupFailed(found.path, 'task', message), { appStack });
      }
    }
    // Imported after startup: the task's own top-level code sees what startup prepared.
    const mod = (await import(pathToFileURL(taskPath).href)) as { default?: unknown };
    if (typeof mod.default !== 'function') {
      throw new CliUsage(`${module} must export default a function (args, { settings, drover, log }) => exitCode`);
    }
    let code = 1;
    let bus: EventBus | undefined;
    try {
      const handlersOf = (topic: string) => app.events.filter((h) => h.topic === topic).map((h) => h.name);
      const context: TaskContext = {
        settings: app.settings ?? {},
        drover: settings,
        log,
        publish: async (topic, payload, options) => {
          const outbox = new Outbox(handlersOf, settings.EVENT_MAX_BYTES, randomIds, null);
          outbox.publish(topic, payload, options);
          await outbox.flush((bus ??= openSqliteBus(resolvePath(settings.BUS_PATH))));
        },
      };
      const result: unknown = await (mod.default as (a: string[], c: TaskContext) => unknown)(rest, context);
      code = typeof result === 'number' && Number.isInteger(result) ? result : 0;
    } catch (err) {
      log.error({ err }, 'task failed');
    } finally {
      await bus?.close();
    }
    if (app.shutdown) {
      const timeout = () => new ShutdownHookFailed(`did not finish within SHUTDOWN_TIMEOUT (${settings.SHUTDOWN_TIMEOUT} s). Put timeouts on what it awaits, or raise SHUTDOWN_TIMEOUT`);
      try {
        await within(Promise.resolve().then(() => app.shutdown?.(hookContext)), settings.SHUTDOWN_TIMEOUT, "running the app's shutdown hook", timeout);
      } catch (err) {
        const error = (err as { code?: unknown } | null)?.code === 'DROVER_ERR_APP_SHUTDOWN' ? (err as Error) : new ShutdownHookFailed(`failed: ${threadError(err).message}`);
        log.error({ err: error }, error.message);
      }
    }
    return code;
  },
};
