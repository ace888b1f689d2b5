/**
 * The entry point of every worker thread (loaded by piscina). Imports the app once, then runs
 * tasks: the route manifest at boot, and requests.
 */
import { threadId, workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { describeRoutes, loadApp } from './app-loader.js';
import { createLogger } from './logging.js';
import type { WorkerData } from './pool.js';
import type { ManifestResult, ResponseEnvelope, Task } from './protocol.js';
import type { Route } from './router.js';
import { runView } from './view.js';

const { settings, app } = workerData as WorkerData;
const logger = createLogger(settings, { worker: threadId });

// A failed import is kept and reported through the manifest task instead of crashing the thread:
// piscina would otherwise respawn it, importing the broken app again and again.
let routes: readonly Route[] = [];
let loadError: Error | undefined;
try {
  routes = await loadApp(app);
} catch (err) {
  loadError = err as Error;
}

/** Wraps an envelope so piscina transfers its body buffer back instead of cloning it. */
function transferable(response: ResponseEnvelope): unknown {
  if (!response.body) return response;
  return move({
    [transferableSymbol]: [response.body],
    [valueSymbol]: response,
  } as unknown as ArrayBuffer);
}

export default async function run(task: Task): Promise<unknown> {
  if (task.kind === 'manifest') {
    const result: ManifestResult = loadError
      ? { ok: false, error: `${(loadError as { code?: string }).code ?? 'Error'}: ${loadError.message}` }
      : { ok: true, routes: describeRoutes(routes) };
    return result;
  }
  const route = routes[task.route];
  if (!route) throw new Error(`route ${task.route} is not in this worker's table; the app changed without a restart`);
  return transferable(await runView(route, task, logger, { debug: settings.DEBUG }));
}
