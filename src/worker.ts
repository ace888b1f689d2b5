/**
 * The entry point of every worker thread (loaded by piscina). Imports the app once, then runs
 * tasks: the route manifest at start, and requests.
 */
import { BroadcastChannel, threadId, workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { register } from 'prom-client';
import { describeRoutes, loadApp } from './app-loader.js';
import { channelDestination, createLogger } from './logging.js';
import type { WorkerData } from './pool.js';
import type { ManifestResult, ResponseEnvelope, Task } from './protocol.js';
import type { Handler } from './http.js';
import type { Route } from './router.js';
import { isFrontOnlyMetric, type MetricSnapshot } from './view-metrics.js';
import { buildHandlers, runView } from './view.js';

const { settings, app, channel } = workerData as WorkerData;
const logChannel = new BroadcastChannel(channel);
logChannel.unref();
const logger = createLogger(settings, { worker: threadId }, channelDestination(logChannel));

// A failed import is kept and reported through the manifest task instead of crashing the thread:
// piscina would otherwise respawn it, importing the broken app again and again.
let routes: readonly Route[] = [];
let handlers: readonly Handler[] = [];
let loadError: Error | undefined;
try {
  const loaded = await loadApp(app);
  routes = loaded.routes;
  // Middleware chains are built once per thread, not per request.
  handlers = buildHandlers(routes, loaded.middleware);
} catch (err) {
  loadError = err as Error;
}

let lastMetrics = '';

/**
 * The view metrics of this thread, when they changed since the last response. They ride on the
 * response, so an increment a view made is in /metrics as soon as its response is out.
 */
async function changedMetrics(): Promise<MetricSnapshot | undefined> {
  if (register.getMetricsAsArray().length === 0) return undefined;
  const snapshot = (await register.getMetricsAsJSON()).filter((m) => !isFrontOnlyMetric(m.name));
  const text = JSON.stringify(snapshot);
  if (text === lastMetrics) return undefined;
  lastMetrics = text;
  return snapshot;
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
  if (loadError) throw loadError;
  const route = routes[task.route];
  const handler = handlers[task.route];
  if (!route || !handler) throw new Error(`route ${task.route} is not in this worker's table; the app changed without a restart`);
  const response = await runView(handler, route, task, logger, { debug: settings.DEBUG });
  const metrics = await changedMetrics();
  return transferable(metrics ? { ...response, metrics } : response);
}
