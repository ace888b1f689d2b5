/**
 * The worker-thread pool (piscina): a fixed number of threads, all started at boot, like
 * gunicorn's pre-forked workers.
 */
import { Piscina } from 'piscina';
import type { Settings } from '../config/settings.js';
import type { ManifestResult } from './protocol.js';

/** What every worker thread receives at start, in `workerData`. */
export interface WorkerData {
  readonly settings: Settings;
  /** Absolute path of the app module to import. */
  readonly app: string;
}

const WORKER_FILE = new URL('./worker.js', import.meta.url).href;

/**
 * Starts `WEB_CONCURRENCY` worker threads that import the app at `appPath`.
 *
 * @example
 * const pool = createPool(settings, '/srv/app/dist/app/index.js');
 */
export function createPool(settings: Settings, appPath: string): Piscina {
  const workerData: WorkerData = { settings, app: appPath };
  return new Piscina({
    filename: WORKER_FILE,
    minThreads: settings.WEB_CONCURRENCY,
    maxThreads: settings.WEB_CONCURRENCY,
    // Threads live until shutdown: an idle thread that exits would re-import the app on the next burst.
    idleTimeout: Number.POSITIVE_INFINITY,
    workerData,
  });
}

/**
 * Asks one worker for the app's route table. A worker that failed to import the app answers with
 * the error instead of crashing, so boot can stop with the app's own message (no respawn loop).
 */
export async function fetchManifest(pool: Piscina): Promise<ManifestResult> {
  return (await pool.run({ kind: 'manifest' })) as ManifestResult;
}
