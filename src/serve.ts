/**
 * Boot and shutdown: start the pool (every worker imports the app), build the front, listen;
 * later drain gracefully or reload the workers.
 */
import { randomUUID } from 'node:crypto';
import { resolve as resolvePath } from 'node:path';
import type { EventBus, PublishedEvent } from './events/bus.js';
import type { DeliveryOutcome } from './events/consumer.js';
import { startEvents, type EventRuntime } from './events/runtime.js';
import { createEventMetrics, type EventMetrics } from './events/metrics.js';
import { openSqliteBus } from './events/sqlite-bus.js';
import { WriteLock } from './events/write-lock.js';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Settings } from '../config/settings.js';
import { corsOptions } from './front/cors.js';
import { IdleSockets } from './idle-sockets.js';
import { forwardWorkerLogs } from './logging.js';
import { createFrontMetrics } from './metrics.js';
import { Pools, type PoolEvents } from './pool/pools.js';
import type { RouteInfo, WorkerData } from './pool/protocol.js';
import { environment } from './settings.js';
import { buildFront, buildMetricsServer, processRegistry, staticDirectory } from './server.js';
import { joinSupervisor } from './cluster/web-process.js';
import { ViewMetrics, type MetricSnapshot } from './view-metrics.js';

/** Each handler's delivery outcomes in a runEvents(). */
export type EventRunReport = Record<string, Record<DeliveryOutcome, number>>;

/** A drover server: workers started, front built, not necessarily listening. */
export interface DroverServer {
  /** The front fastify instance (`inject()` drives it without a socket). */
  readonly front: FastifyInstance;
  /** The metrics-only instance when METRICS_PORT is set. */
  readonly metricsApp: FastifyInstance | null;
  readonly routes: readonly RouteInfo[];
  /** Listens on HOST:PORT (and METRICS_PORT) and returns the base URLs. */
  listen(): Promise<{ url: string; metricsUrl: string | null }>;
  /**
   * Graceful shutdown: /readyz turns 503, the listeners stop accepting, in-flight and queued
   * requests finish, idle keep-alive connections close, the workers stop, worker logs are
   * flushed. Past GRACEFUL_TIMEOUT what is left is answered 503. Resolves with the exit code.
   */
  drain(): Promise<number>;
  /**
   * Replaces the workers one at a time with threads that import the app afresh; logs one line
   * when done, with `reason` (e.g. `SIGHUP`, `files changed`).
   */
  reload(reason?: string): Promise<void>;
  /**
   * Runs the app's handlers in this process until no delivery of theirs is ready or running (the
   * events they publish included; delayed ones, such as retries in their backoff, are left), then
   * stops consuming. Resolves with each handler's outcomes. For tests (`drover/testing`).
   */
  runEvents(): Promise<EventRunReport>;
  /** The events published so far, oldest first (of one topic when given). */
  published(topic?: string): Promise<PublishedEvent[]>;
}

function baseUrl(app: FastifyInstance, host: string): string {
  const { port } = app.server.address() as AddressInfo;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
}

const sleep = (ms: number) => new Promise<'timeout'>((resolve) => setTimeout(resolve, ms, 'timeout').unref());

/** A drover server listening on its ports. */
export interface RunningServer extends DroverServer {
  /** Base URL of the web listener, e.g. `http://127.0.0.1:8000`. */
  readonly url: string;
  /** Base URL of the metrics listener when METRICS_PORT is set. */
  readonly metricsUrl: string | null;
}

/**
 * Starts the workers and the front for the app at `appPath` and listens on HOST:PORT.
 * Rejects (after stopping the workers) when the app cannot be loaded.
 *
 * @example
 * const server = await startServer(settings, '/srv/app/dist/app/index.js', logger);
 * // … on SIGTERM
 * process.exitCode = await server.drain();
 */
export async function startServer(settings: Settings, appPath: string, logger: Logger, env: WorkerData['env'] = environment()): Promise<RunningServer> {
  const server = await createServer(settings, appPath, logger, env);
  try {
    return { ...server, ...(await server.listen()) };
  } catch (err) {
    await server.drain();
    throw err;
  }
}

/**
 * Starts the workers and builds the front for the app at `appPath`, without listening.
 * Rejects (after stopping the workers) when the app cannot be loaded or its startup hook fails;
 * `env` is the environment the app's settings are read from (the process's, by default).
 *
 * @example
 * const server = await createServer(settings, appPath, logger);
 * const res = await server.front.inject({ url: '/hello' });
 */
export async function createServer(
  settings: Settings,
  appPath: string,
  logger: Logger,
  env: WorkerData['env'] = environment(),
): Promise<DroverServer> {
  const staticRoot = staticDirectory(settings); // a bad STATIC_DIR stops boot before any thread starts
  corsOptions(settings); // so does CORS_CREDENTIALS with CORS_ORIGINS=*
  const channel = `drover:${process.pid}:${randomUUID()}`;
  const forwarder = forwardWorkerLogs(channel, settings.LOG_FORMAT);
  const pools = new Pools(settings, appPath, channel, logger, env);
  const viewMetrics = new ViewMetrics();
  const metrics = createFrontMetrics(() => pools.states());
  const poolEvents: PoolEvents = {
    // Recorded before the responses they came with are answered (and even when a request was
    // already answered by a timeout): the increments happened, and counters must not lose them.
    metrics: (threadId, snapshot) => viewMetrics.update(threadId, snapshot),
    // Recycling and reloads are routine; a timeout, crash or memory exhaustion is a warning.
    restart: (pool, reason) => logger[reason === 'max_requests' || reason === 'reload' ? 'info' : 'warn']({ pool, reason }, 'worker thread replaced'),
    failure: (pool, err) => logger.error({ pool, err }, (err as Error & { code?: string }).code ? err.message : 'worker pool problem'),
    published: (counts) => eventMetrics?.published(counts),
  };
  let eventMetrics: EventMetrics | undefined;
  let routes: readonly RouteInfo[];
  try {
    routes = await pools.start(metrics, poolEvents);
  } catch (err) {
    // Lines the threads logged while booting (a startup hook's) are written before the error.
    await forwarder.close();
    throw err;
  }

  // A web process of a supervisor (WEB_PROCESSES > 1) sends it its metrics; null otherwise.
  const supervisor = joinSupervisor(
    async (fresh) => {
      const registry = await processRegistry({ metrics, viewMetrics, pools }, fresh);
      if (fresh) return registry.getMetricsAsJSON();
      // Between scrapes, what a process that dies would leave behind: its counters and histograms
      // (its gauges are dropped then). No gauge's collect() runs, so the bus's backlog is read
      // at scrape time only, not every second.
      const kept = registry.getMetricsAsArray() as unknown as { type: string; get(): Promise<MetricSnapshot[number]> }[];
      return Promise.all(kept.filter((m) => m.type !== 'gauge').map((m) => m.get()));
    },
    async () => (await processRegistry({ metrics, viewMetrics, pools }, false)).metrics(),
    logger,
  );
  const handlerNames = pools.declaredEvents.map((h) => h.name);
  const consuming = settings.SERVE_EVENTS && handlerNames.length > 0;
  // The backlog is read from the bus at scrape time, where this process consumes (it has the bus open).
  eventMetrics = createEventMetrics(metrics.registry, consuming ? handlerNames : [], consuming ? async () => (bus ? bus.backlog() : []) : null);
  let draining = false;
  const separateMetrics = settings.METRICS_PORT !== null;
  const front = buildFront({
    settings,
    routes,
    pools,
    logger,
    metrics,
    viewMetrics,
    serveMetrics: !separateMetrics,
    draining: () => draining,
    staticRoot,
    supervisor,
  });
  const idleSockets = new IdleSockets(front.server);
  const metricsApp = separateMetrics ? buildMetricsServer({ metrics, viewMetrics, pools, token: settings.METRICS_TOKEN, supervisor }, logger) : null;

  // With SERVE_EVENTS, the app's handlers run here too, started once the server listens (a test
  // client, which never listens, consumes nothing).
  let consumer: EventRuntime | null = null;
  let bus: EventBus | null = null;
  // The main thread's bus (consumer, metrics, tests) takes the threads' write lock too.
  const openBus = (): EventBus => (bus ??= openSqliteBus(resolvePath(settings.BUS_PATH), { lock: new WriteLock(pools.busLock) }));
  const startConsuming = async (): Promise<void> => {
    if (!settings.SERVE_EVENTS) return;
    const handlers = await pools.addEvents(settings.EVENT_THREADS, metrics, poolEvents);
    if (handlers.length === 0) return;
    const events = openBus();
    const schedules = pools.declaredSchedules;
    consumer = startEvents({ pools, handlers, schedules, bus: events, logger, settings, metrics: eventMetrics as EventMetrics });
    logger.info({ handlers: handlers.map((h) => `${h.topic} -> ${h.name}`), schedules: schedules.map((s) => `${s.cron} -> ${s.topic}`), threads: settings.EVENT_THREADS }, 'consuming events');
  };

  let reloading: Promise<void> = Promise.resolve();

  return {
    async published(topic) {
      return openBus().events(topic);
    },
    async runEvents() {
      const handlers = await pools.addEvents(settings.EVENT_THREADS, metrics, poolEvents);
      const events = openBus();
      const report: EventRunReport = {};
      const counting: EventMetrics = {
        published: (counts) => eventMetrics?.published(counts),
        settled: (handler, outcome, seconds, lag) => {
          eventMetrics?.settled(handler, outcome, seconds, lag);
          const counts = (report[handler] ??= { ok: 0, retry: 0, dead: 0, timeout: 0 });
          counts[outcome]++;
        },
      };
      const runtime = consumer ?? startEvents({ pools, handlers, schedules: [], bus: events, logger, settings, metrics: counting });
      const names = new Set(handlers.map((h) => h.name));
      // Quiet twice in a row: a handler that just finished may have published the next stage.
      for (let quiet = 0; quiet < 2; ) {
        await sleep(10);
        const busy = runtime.running > 0 || (await events.backlog()).some((b) => names.has(b.handler) && b.ready + b.running > 0);
        quiet = busy ? 0 : quiet + 1;
      }
      if (runtime !== consumer) await runtime.stop(0);
      return report;
    },
    front,
    metricsApp,
    routes,
    async listen() {
      await startConsuming();
      await front.listen({ port: settings.PORT, host: settings.HOST });
      if (metricsApp) await metricsApp.listen({ port: settings.METRICS_PORT ?? 0, host: settings.HOST });
      supervisor?.ready();
      return { url: baseUrl(front, settings.HOST), metricsUrl: metricsApp ? baseUrl(metricsApp, settings.HOST) : null };
    },
    reload(reason = 'SIGHUP') {
      reloading = reloading.then(async () => {
        const started = performance.now();
        try {
          await pools.reload();
          // One line per reload, once it is done (or the error line).
          const sizes = pools.states().map((p) => `${p.name}:${p.workers}`);
          logger.info({ reason, pools: sizes, ms: Math.round(performance.now() - started) }, 'workers reloaded');
        } catch (err) {
          logger.error({ err, reason }, (err as Error).message);
        }
      });
      return reloading;
    },
    async drain() {
      draining = true;
      // A reload in progress stops after the thread it is replacing now; the drain does not wait
      // for it (each replacement may take up to BOOT_TIMEOUT): a replacement that finishes
      // booting after this is refused and stopped.
      pools.stopReloading();
      // fastify.close() stops accepting, closes idle keep-alive connections, answers requests that
      // arrive on open connections with 503 (return503OnClosing), and resolves when every
      // in-flight request (queued ones included) has been answered.
      const closed = Promise.all([front.close(), metricsApp?.close(), (consumer as EventRuntime | null)?.stop(settings.GRACEFUL_TIMEOUT * 1000)]);
      // Connections that finish their last request while draining are answered `Connection:
      // close` (server.ts); this sweep closes the ones that went idle in between.
      const sweep = setInterval(() => {
        front.server.closeIdleConnections();
        idleSockets.sweep();
      }, 100);
      const outcome = await Promise.race([closed.then(() => 'closed' as const), sleep(settings.GRACEFUL_TIMEOUT * 1000)]);
      let code = 0;
      if (outcome === 'timeout') {
        logger.error(
          { ...pools.load, gracefulTimeout: settings.GRACEFUL_TIMEOUT },
          'graceful timeout: answering what is left with 503',
        );
        pools.abandonAll();
        await Promise.race([closed, sleep(1000)]);
        front.server.closeAllConnections();
        code = 1;
        await pools.destroy();
      } else {
        await pools.close();
      }
      clearInterval(sweep);
      await supervisor?.close(); // the last values, the retired threads' included (and the bus's backlog)
      await (bus as EventBus | null)?.close();
      bus = null;
      await forwarder.close();
      return code;
    },
  };
}
