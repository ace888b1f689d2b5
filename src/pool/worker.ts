/**
 * The entry point of every worker thread (loaded by piscina). Imports the app once, runs its
 * `startup` hook in the manifest task and answers with the route table, then serves request
 * batches on the channel it was given; a `shutdown` task runs the app's `shutdown` hook when the
 * thread retires.
 */
import { getHeapStatistics } from 'node:v8';
import { BroadcastChannel, MessageChannel, threadId, workerData, type MessagePort } from 'node:worker_threads';
import { register } from 'prom-client';
import { threadError } from '../app/app-errors.js';
import { describeRoutes, loadApp, type HookContext, type LoadedApp } from '../app/app-loader.js';
import { checkMetricsRegistry } from '../app/metrics-registry.js';
import { StartupFailed } from '../errors.js';
import { trustFunction } from '../client-address.js';
import { setSecretKey } from '../http.js';
import { channelDestination, createLogger } from '../logging.js';
import { setSettingsEnvironment } from '../settings.js';
import { isFrontOnlyMetric, type MetricSnapshot } from '../view-metrics.js';
import { buildHandlers, createRequest, runView, type EventPublishing, type ViewEntry, type ViewOutcome, type ViewRunOptions } from '../view.js';
import { pumpStream } from './stream-source.js';
import { resolve as resolvePath } from 'node:path';
import type { EventBus } from '../events/bus.js';
import { openSqliteBus } from '../events/sqlite-bus.js';
import { WriteLock } from '../events/write-lock.js';
import { describeHandlers } from '../events/handlers.js';
import { runHandler } from '../events/run-handler.js';
import { claimStart } from './claims.js';
import {
  BootStage,
  EVENT_METHOD,
  type AbortRequest,
  METRICS_PUSH_MS,
  packResponse,
  unpackRequests,
  type FrontMessage,
  type ManifestResult,
  type ManifestTask,
  type RequestTask,
  type ResponseBatch,
  type ResponseTuple,
  type ShutdownResult,
  type ShutdownTask,
  type WorkerData,
} from './protocol.js';
import type { Route } from '../router.js';

const { settings, app, channel, pool, env, stage, busLock } = workerData as WorkerData;
const bootStage = new Int32Array(stage);
const logChannel = new BroadcastChannel(channel);
logChannel.unref();
const logger = createLogger(settings, { worker: threadId }, channelDestination(logChannel));

setSettingsEnvironment(env);
setSecretKey(settings.SECRET_KEY);
let loaded: LoadedApp | undefined;
let routes: readonly Route[] = [];
let views: readonly ViewEntry[] = [];
const trust = trustFunction(settings.TRUST_PROXY);
const formLimits = { maxFileSize: settings.FORM_MAX_FILE_SIZE, maxFiles: settings.FORM_MAX_FILES, maxFields: settings.FORM_MAX_FIELDS };
let viewOptions: ViewRunOptions = { debug: settings.DEBUG, trust, formLimits };

let bus: EventBus | undefined;
/** Events published since the last batch, by topic: they ride with the next batch (the front counts them). */
const published = new Map<string, number>();

/**
 * Publishing from this thread's views: each thread writes its requests' events to the bus itself
 * (its own connection, opened on first publish), so the front thread never waits on the bus.
 */
function eventPublishing(app: LoadedApp): EventPublishing {
  const byTopic = new Map<string, string[]>();
  for (const h of app.events) byTopic.set(h.topic, [...(byTopic.get(h.topic) ?? []), h.name]);
  return {
    handlersOf: (topic) => byTopic.get(topic) ?? [],
    maxBytes: settings.EVENT_MAX_BYTES,
    bus: () => (bus ??= openSqliteBus(resolvePath(settings.BUS_PATH), { lock: new WriteLock(busLock) })),
    published: (topics) => {
      for (const topic of topics) published.set(topic, (published.get(topic) ?? 0) + 1);
    },
  };
}

/** What the app's hooks receive in this thread. */
const hookContext = (): HookContext => ({ pool, settings: loaded?.settings ?? {}, log: logger });
let started = false;

let lastMetrics = '';

/**
 * This thread's view metrics, when they changed since they were last sent. Sent every
 * METRICS_PUSH_MS and when a scrape asks, not with each batch of responses: building, comparing
 * and decoding a registry's snapshot at the rate batches leave cost the front about 40 % of a
 * light view's throughput.
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
let transfer: (ArrayBuffer | MessagePort)[] = [];

/** Posts every response finished in this turn as one message (after the turn's other views). */
async function flush(): Promise<void> {
  const responses = outbox;
  const buffers = transfer;
  const writes = pendingEvents;
  outbox = [];
  transfer = [];
  pendingEvents = [];
  if (writes.length > 0) await writeEvents(writes, responses, buffers);
  let batch: ResponseBatch = { responses };
  if (published.size > 0) {
    batch = { ...batch, published: [...published] };
    published.clear();
  }
  port?.postMessage(heapOverLimit() ? { ...batch, recycle: true } : batch, buffers);
}

const recycleHeapBytes = settings.WORKER_RECYCLE_HEAP_MB * 1024 * 1024;

/**
 * True while this thread's heap is past WORKER_RECYCLE_HEAP_MB (uWSGI's reload-on-rss). Asked on
 * every batch, not once: the pool may be unable to replace the thread yet (a boot backoff).
 */
function heapOverLimit(): boolean {
  return recycleHeapBytes > 0 && getHeapStatistics().used_heap_size >= recycleHeapBytes;
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

/** A response of this turn whose request published events: they are written before it leaves. */
interface PendingEvents {
  /** Its index in the turn's responses. */
  readonly index: number;
  readonly seq: number;
  readonly cell: number;
  readonly startedAt: number;
  readonly events: NonNullable<ViewOutcome['events']>;
}
let pendingEvents: PendingEvents[] = [];

/**
 * Writes the events of every response of the turn in one transaction (group commit: one write
 * lock and one commit for many requests, where a commit per request had the threads queue for
 * the database's lock). When the bus does not take them, each of those responses becomes its 503.
 */
async function writeEvents(writes: readonly PendingEvents[], responses: ResponseTuple[], buffers: (ArrayBuffer | MessagePort)[]): Promise<void> {
  const publishing = viewOptions.publishing as EventPublishing;
  try {
    await publishing.bus().publish(writes.flatMap((w) => w.events.outbox.events));
    for (const w of writes) publishing.published(w.events.outbox.topics);
  } catch (err) {
    for (const w of writes) {
      const { envelope } = w.events.unavailable(err);
      responses[w.index] = packResponse(w.seq, w.cell, w.startedAt, envelope);
      if (envelope.body) buffers.push(envelope.body);
    }
  }
}

/**
 * What runs now in each claim cell, and its sequence number: where an abort (the client left, the
 * deadline passed) finds its request's signal. Two arrays, so a request allocates nothing here.
 */
const activeSeq: number[] = [];
const active: ({ abort(reason: unknown): void } | undefined)[] = [];

/** Runs one event delivery (EVENT_METHOD) with the app's handler at `task.route`. */
async function deliver(task: RequestTask, startedAt: number): Promise<void> {
  const handler = loaded?.events[task.route];
  const cell = task.cell as number;
  const controller = new AbortController();
  activeSeq[cell] = task.seq as number;
  active[cell] = controller;
  const envelope = handler
    ? await runHandler(handler, task, { logger, publishing: viewOptions.publishing as EventPublishing, settings: loaded?.settings ?? {}, signal: controller.signal })
    : { status: 500, headers: [], body: null, worker: threadId };
  active[cell] = undefined;
  outbox.push(packResponse(task.seq as number, cell, startedAt, envelope));
  if (envelope.body) transfer.push(envelope.body);
  finished();
}

/** A task is done: start the next, and send its answer (batched within the turn). */
function finished(): void {
  running--;
  startMore();
  // The last response of a quiet thread leaves at once; otherwise every response finished in
  // this turn leaves together, after the turn's other views.
  if (running === 0 && outbox.length === 1) void flush();
  else if (outbox.length === 1) setImmediate(() => void flush());
}

async function serve(task: RequestTask, startedAt: number): Promise<void> {
  if (task.method === EVENT_METHOD) return deliver(task, startedAt);
  const view = views[task.route];
  if (!view) throw new Error(`route ${task.route} is not in this worker's table; the app changed without a restart`);
  const cell = task.cell as number;
  const req = createRequest(task, logger, viewOptions);
  activeSeq[cell] = task.seq as number;
  active[cell] = req;
  const { envelope, reader, events } = await runView(view, req, viewOptions);
  active[cell] = undefined;
  if (events) pendingEvents.push({ index: outbox.length, seq: task.seq as number, cell, startedAt, events });
  if (reader) {
    // A streamed body gets a channel of its own; the response carries the front's end of it.
    const { port1, port2 } = new MessageChannel();
    void pumpStream(reader, port1, { route: view.pattern, abort: (reason) => req.abort(reason), log: req.log });
    outbox.push(packResponse(task.seq as number, cell, startedAt, envelope, port2));
    transfer.push(port2);
  } else {
    outbox.push(packResponse(task.seq as number, cell, startedAt, envelope));
    if (envelope.body) transfer.push(envelope.body);
  }
  finished();
}

/** Sends this thread's metrics if they changed; `reported` answers the front's MetricsRequest. */
async function sendMetrics(reported: boolean): Promise<void> {
  const metrics = await changedMetrics();
  if (!metrics && !reported) return;
  const batch: ResponseBatch = { responses: [], ...(metrics && { metrics }), ...(reported && { reported: true }) };
  port?.postMessage(batch);
}

function onMessage(message: FrontMessage): void {
  if ('report' in message) {
    sendMetrics(true).catch((err: unknown) => logger.error({ err }, 'cannot send this thread\'s metrics'));
    return;
  }
  if (!Array.isArray(message)) {
    // The client of a running request left, or its deadline passed: its view's req.signal aborts.
    const [cell, seq, why] = (message as AbortRequest).abort;
    const running = active[cell];
    if (!running || activeSeq[cell] !== seq) return;
    running.abort(
      why === 'timeout'
        ? new DOMException('the request passed its deadline (REQUEST_TIMEOUT or the route timeout)', 'TimeoutError')
        : new DOMException('the client disconnected', 'AbortError'),
    );
    return;
  }
  for (const task of unpackRequests(message)) inbox.push(task);
  startMore();
}

/**
 * The thread's first task: import the app, run its startup hook, take the request channel. The
 * import happens here, inside a piscina task, rather than at module top level: a thread that dies
 * while importing (process.exit() in the app, an error thrown from a timer) then fails this task,
 * which the front reports, instead of leaving it queued forever. A failed import is answered, not
 * thrown, so piscina does not respawn the thread into the same broken app.
 */
async function manifest(task: ManifestTask): Promise<ManifestResult> {
  Atomics.store(bootStage, 0, BootStage.importing);
  try {
    loaded = await loadApp(app);
    routes = loaded.routes;
    viewOptions = { debug: settings.DEBUG, serverError: loaded.serverError, trust, formLimits, publishing: eventPublishing(loaded) };
    // Middleware chains are built once per thread, not per request.
    views = buildHandlers(routes, loaded.middleware, { ...viewOptions, notFound: loaded.notFound });
  } catch (err) {
    return { ok: false, error: threadError(err) };
  }
  if (loaded.startup) {
    Atomics.store(bootStage, 0, BootStage.startup);
    try {
      await loaded.startup(hookContext());
    } catch (err) {
      const error = threadError(err);
      return { ok: false, error: { ...threadError(new StartupFailed(app, pool, error.message)), appStack: error.appStack } };
    }
  }
  try {
    checkMetricsRegistry(app); // again: a second prom-client may have come with the startup hook
  } catch (err) {
    return { ok: false, error: threadError(err) };
  }
  started = true;
  Atomics.store(bootStage, 0, BootStage.ready);
  claims = new Int32Array(task.claims);
  concurrency = task.concurrency;
  port = task.port;
  port.on('message', onMessage);
  // unref: the timer alone never keeps a retiring thread alive.
  setInterval(() => sendMetrics(false).catch((err: unknown) => logger.error({ err }, 'cannot send this thread\'s metrics')), METRICS_PUSH_MS).unref();
  return { ok: true, routes: describeRoutes(routes), pools: loaded.pools, notFound: loaded.notFound !== null, events: describeHandlers(loaded.events), schedules: loaded.schedules };
}

/** The thread retires: the app's shutdown hook, if its startup ran (the front bounds the time). */
async function shutdown(): Promise<ShutdownResult> {
  await bus?.close(); // its last writes checkpointed; the views are done with it
  bus = undefined;
  let result: ShutdownResult = { ok: true };
  if (started && loaded?.shutdown) {
    try {
      await loaded.shutdown(hookContext());
    } catch (err) {
      result = { ok: false, error: threadError(err) };
    }
  }
  // The last values, counted after the hook: the front keeps them once the thread is gone. Sent
  // whole, changed or not: a push the closing channel dropped may have been the last one.
  lastMetrics = '';
  const metrics = await changedMetrics();
  return metrics ? { ...result, metrics } : result;
}

export default function run(task: ManifestTask | ShutdownTask): Promise<ManifestResult | ShutdownResult> {
  return task.kind === 'manifest' ? manifest(task) : shutdown();
}
