/**
 * The entry point of every worker thread (loaded by piscina). Imports the app once, answers the
 * manifest task with the route table, then serves request batches on the channel it was given.
 */
import { BroadcastChannel, threadId, workerData, type MessagePort } from 'node:worker_threads';
import { register } from 'prom-client';
import { describeRoutes, loadApp } from '../app/app-loader.js';
import { claimStart } from './claims.js';
import type { Handler } from '../http.js';
import { channelDestination, createLogger } from '../logging.js';
import {
  packResponse,
  unpackRequests,
  type ManifestResult,
  type ManifestTask,
  type PoolSpec,
  type RequestBatch,
  type RequestTask,
  type ResponseBatch,
  type ResponseTuple,
  type WorkerData,
} from './protocol.js';
import type { Route } from '../router.js';
import { isFrontOnlyMetric, type MetricSnapshot } from '../view-metrics.js';
import { buildHandlers, runView } from '../view.js';

const { settings, app, channel } = workerData as WorkerData;
const logChannel = new BroadcastChannel(channel);
logChannel.unref();
const logger = createLogger(settings, { worker: threadId }, channelDestination(logChannel));

// A failed import is kept and reported through the manifest task instead of crashing the thread:
// piscina would otherwise respawn it, importing the broken app again and again.
let routes: readonly Route[] = [];
let handlers: readonly Handler[] = [];
let pools: Readonly<Record<string, PoolSpec>> = {};
let loadError: Error | undefined;
try {
  const loaded = await loadApp(app);
  routes = loaded.routes;
  pools = loaded.pools;
  // Middleware chains are built once per thread, not per request.
  handlers = buildHandlers(routes, loaded.middleware);
} catch (err) {
  loadError = err as Error;
}

let lastMetrics = '';

/**
 * This thread's view metrics, when they changed since the last batch. They ride with the
 * responses, so an increment a view made is in /metrics as soon as its response is out.
 */
async function changedMetrics(): Promise<MetricSnapshot | undefined> {
  if (register.getMetricsAsArray().length === 0) return undefined;
  const snapshot = (await register.getMetricsAsJSON()).filter((m) => !isFrontOnlyMetric(m.name));
  const text = JSON.stringify(snapshot);
  if (text === lastMetrics) return undefined;
  lastMetrics = text;
  return snapshot;
}

let port: MessagePort | undefined;
let outbox: ResponseTuple[] = [];
let transfer: ArrayBuffer[] = [];

/** Posts every response finished in this turn as one message (after the turn's other views). */
async function flush(): Promise<void> {
  const responses = outbox;
  const buffers = transfer;
  outbox = [];
  transfer = [];
  const metrics = await changedMetrics();
  const batch: ResponseBatch = metrics ? { responses, metrics } : { responses };
  port?.postMessage(batch, buffers);
}

let claims: Int32Array<ArrayBufferLike> = new Int32Array(0);
let concurrency = 1;
let running = 0;
/** Requests sent ahead (WORKER_PREFETCH), in arrival order; `next` is the first not yet taken. */
let inbox: RequestTask[] = [];
let next = 0;

/** Starts requests from the inbox, in order, while fewer than `concurrency` views run. */
function startMore(): void {
  while (running < concurrency && next < inbox.length) {
    const task = inbox[next++] as RequestTask;
    // The front may have taken it back (its deadline passed): then it is not ours to run.
    if (!claimStart(claims, task.cell as number, task.seq as number)) continue;
    running++;
    void serve(task, now());
  }
  if (next === inbox.length) {
    inbox = [];
    next = 0;
  }
}

/** Milliseconds since the epoch, sub-millisecond: comparable with the front thread's clock. */
function now(): number {
  return performance.timeOrigin + performance.now();
}

async function serve(task: RequestTask, startedAt: number): Promise<void> {
  const route = routes[task.route];
  const handler = handlers[task.route];
  if (!route || !handler) throw new Error(`route ${task.route} is not in this worker's table; the app changed without a restart`);
  const response = await runView(handler, route, task, logger, { debug: settings.DEBUG });
  outbox.push(packResponse(task.seq as number, task.cell as number, startedAt, response));
  if (response.body) transfer.push(response.body);
  running--;
  startMore();
  // The last response of a quiet thread leaves at once; otherwise every response finished in
  // this turn leaves together, after the turn's other views.
  if (running === 0 && outbox.length === 1) void flush();
  else if (outbox.length === 1) setImmediate(() => void flush());
}

function onBatch(batch: RequestBatch): void {
  for (const task of unpackRequests(batch)) inbox.push(task);
  startMore();
}

export default function run(task: ManifestTask): ManifestResult {
  if (loadError) return { ok: false, error: `${(loadError as { code?: string }).code ?? 'Error'}: ${loadError.message}` };
  claims = new Int32Array(task.claims);
  concurrency = task.concurrency;
  port = task.port;
  port.on('message', onBatch);
  return { ok: true, routes: describeRoutes(routes), pools };
}
