/**
 * `drover check` and `drover routes` load the app in a worker thread of their own, like `serve`,
 * rather than in the CLI's main thread: an import that never settles, or one stuck in a busy loop,
 * is then stopped at BOOT_TIMEOUT with the stage named, where a timer in the main thread could
 * never fire.
 */
import { Worker } from 'node:worker_threads';
import type { HandlerInfo } from '../events/handlers.js';
import type { ScheduleInfo } from '../events/schedules.js';
import type { Settings } from '../../config/settings.js';
import { threadError, threadFailure } from '../app/app-errors.js';
import type { PoolSpec, RouteInfo, ThreadError } from '../pool/protocol.js';
import { AppThreadExited, BootTimedOut } from '../errors.js';

/** What the inspecting thread receives. */
export interface InspectData {
  readonly app: string;
  /** The environment the CLI read (with .env): the app's settings are parsed from it. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** What the app declares, as plain data. */
export interface AppReport {
  readonly routes: readonly RouteInfo[];
  readonly middleware: number;
  readonly pools: Readonly<Record<string, PoolSpec>>;
  /** The lifecycle hooks it exports. */
  readonly hooks: readonly string[];
  /** Its settings as `NAME=value` lines (secrets masked), or null without a `settings` export. */
  readonly settings: readonly string[] | null;
  /** Its event handlers (the `events` export). */
  readonly events: readonly HandlerInfo[];
  /** Its periodic events (the `schedules` export). */
  readonly schedules: readonly ScheduleInfo[];
}

/** The inspecting thread's answer. */
export type InspectResult = { readonly ok: true; readonly report: AppReport } | { readonly ok: false; readonly error: ThreadError };

const WORKER_FILE = new URL('./inspect-worker.js', import.meta.url);

/**
 * Imports and validates the app at `path` in a new thread, within BOOT_TIMEOUT; throws the app's
 * coded error (with its stack) or DROVER_ERR_BOOT_TIMEOUT.
 *
 * @example
 * const report = await inspectApp('/srv/shop/dist/app/index.js', settings, env);
 * report.routes.length // 12
 */
export async function inspectApp(path: string, settings: Settings, env: InspectData['env']): Promise<AppReport> {
  const worker = new Worker(WORKER_FILE, {
    workerData: { app: path, env } satisfies InspectData,
    resourceLimits: { maxOldGenerationSizeMb: settings.WORKER_MAX_MEMORY_MB },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const stage = `importing the app module ${path}`;
    const died = (cause: unknown): Error => {
      const { message, appStack } = threadError(cause);
      return Object.assign(new AppThreadExited(stage, message), { appStack });
    };
    const result = await new Promise<InspectResult>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', (err) => reject(died(err)));
      worker.once('exit', (code) => reject(died(new Error(`exit code ${code}`))));
      timer = setTimeout(() => reject(new BootTimedOut(String(settings.BOOT_TIMEOUT), stage)), settings.BOOT_TIMEOUT * 1000);
    });
    if (!result.ok) throw threadFailure(result.error);
    return result.report;
  } finally {
    clearTimeout(timer);
    await worker.terminate();
  }
}
