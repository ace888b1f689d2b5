/**
 * What the app's own code receives from drover: the context of its lifecycle hooks and of its
 * admin tasks. Both carry the app's settings typed by their `settings` export.
 */
import type { Logger } from 'pino';
import type { Settings } from '../../config/settings.js';
import type { PublishOptions } from '../events/publish.js';

/**
 * What the app's `startup` and `shutdown` hooks receive. `S` is the type of the app's `settings`
 * export (`HookContext<typeof settings>`).
 *
 * @example
 * let pool: Pool;
 * export async function startup(ctx: HookContext<typeof settings>) {
 *   pool = new Pool({ connectionString: ctx.settings.DATABASE_URL, max: 5 });
 * }
 * export async function shutdown() { await pool.end(); }
 */
export interface HookContext<S = Readonly<Record<string, unknown>>> {
  /** The worker pool this thread belongs to (`default`, a declared pool), or `task` in `drover run`. */
  readonly pool: string;
  /** The app's settings (its `settings` export), validated. */
  readonly settings: S;
  /** A pino logger bound to this thread. */
  readonly log: Logger;
}

/** A lifecycle hook: `startup(ctx)` or `shutdown(ctx)`, sync or async. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Hook = (ctx: HookContext<any>) => unknown;

/**
 * What an admin task's default export receives after its arguments. `S` is the type of the app's
 * `settings` export (`TaskContext<typeof settings>`).
 *
 * @example
 * export default function migrate(args: string[], { settings, log }: TaskContext<typeof appSettings>) {
 *   log.info({ db: settings.DATABASE_URL }, 'migrating');
 *   return 0;
 * }
 */
export interface TaskContext<S = Readonly<Record<string, unknown>>> {
  /** The app's settings (its `settings` export), validated, as in views and hooks. */
  readonly settings: S;
  /** drover's own settings, the same frozen values as the web process's. */
  readonly drover: Settings;
  /** The same JSON logger, bound to `task`. */
  readonly log: Logger;
  /**
   * Publishes an event to the bus, written at once (a task is a script: what it published stays
   * published if it fails later). The payload is checked as a view's is.
   */
  publish(topic: string, payload: unknown, options?: PublishOptions): Promise<void>;
}
