/**
 * `drover worker [APP]`: the `worker:` process of the Procfile. It serves no HTTP: it runs the
 * app's event handlers in worker threads (the `events` pool, EVENT_THREADS), fed by a consumer
 * that claims deliveries from the bus. SIGTERM stops claiming, lets running handlers finish within
 * GRACEFUL_TIMEOUT and gives back the rest without spending an attempt; SIGHUP reloads the threads.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { startEvents } from '../../events/runtime.js';
import { openSqliteBus } from '../../events/sqlite-bus.js';
import { WriteLock } from '../../events/write-lock.js';
import { SignalQueue } from '../../lifecycle.js';
import { createLogger, forwardWorkerLogs } from '../../logging.js';
import { createFrontMetrics } from '../../metrics.js';
import { Pools } from '../../pool/pools.js';
import type { AddressInfo } from 'node:net';
import { createEventMetrics, type EventMetrics } from '../../events/metrics.js';
import { buildMetricsServer } from '../../server.js';
import { ViewMetrics } from '../../view-metrics.js';
import { appPath, parseCommand, readSettings, type Command } from './common.js';

export const worker: Command = {
  usage: 'drover worker [APP]',
  summary: "Run the app's event handlers (the Procfile's worker: process): claim deliveries from the bus, run them in worker threads.",
  async run(args) {
    const { positionals } = parseCommand(worker, args, 1);
    const signals = new SignalQueue();
    const { settings, env } = readSettings();
    const app = appPath(positionals[0], settings).path;
    const logger = createLogger(settings);
    const channel = `drover:${process.pid}:${randomUUID()}`;
    const pools = new Pools(settings, app, channel, logger, env); // no thread yet
    // An unusable file stops boot, naming it; the main thread takes the threads' write lock too.
    const bus = openSqliteBus(resolve(settings.BUS_PATH), { lock: new WriteLock(pools.busLock) });
    const forwarder = forwardWorkerLogs(channel, settings.LOG_FORMAT);
    const metrics = createFrontMetrics(() => pools.states());
    const viewMetrics = new ViewMetrics();
    let eventMetrics: EventMetrics | undefined;
    let handlers;
    try {
      handlers = await pools.startEvents(settings.EVENT_THREADS, metrics, {
        metrics: (threadId, snapshot) => viewMetrics.update(threadId, snapshot),
        published: (counts) => eventMetrics?.published(counts),
        restart: (pool, reason) => logger[reason === 'max_requests' || reason === 'reload' ? 'info' : 'warn']({ pool, reason }, 'worker thread replaced'),
        failure: (pool, err) => logger.error({ pool, err }, err.message),
      });
    } catch (err) {
      await forwarder.close();
      await bus.close();
      throw err;
    }
    eventMetrics = createEventMetrics(metrics.registry, handlers.map((h) => h.name), () => bus.backlog());
    const consumer = startEvents({ pools, handlers, schedules: pools.declaredSchedules, bus, logger, settings, metrics: eventMetrics });
    // The worker serves no HTTP, but its metrics when METRICS_PORT is set (the same /metrics as serve's).
    const metricsApp = settings.METRICS_PORT !== null ? buildMetricsServer({ metrics, viewMetrics, pools, token: settings.METRICS_TOKEN }, logger) : null;
    await metricsApp?.listen({ port: settings.METRICS_PORT ?? 0, host: settings.HOST });
    const metricsUrl = metricsApp ? `http://${settings.HOST === '0.0.0.0' ? '127.0.0.1' : settings.HOST}:${(metricsApp.server.address() as AddressInfo).port}/metrics` : null;
    logger.info({ app, handlers: handlers.map((h) => `${h.topic} -> ${h.name}`), schedules: pools.declaredSchedules.map((s) => `${s.cron} -> ${s.topic}`), threads: settings.EVENT_THREADS, bus: resolve(settings.BUS_PATH), metricsUrl }, 'worker ready');
    let signal = await signals.next();
    while (signal === 'SIGHUP') {
      await pools.reload().catch((err: Error) => logger.error({ err }, err.message));
      logger.info({ reason: 'SIGHUP' }, 'workers reloaded');
      signal = await signals.next();
    }
    logger.info({ signal, gracefulTimeout: settings.GRACEFUL_TIMEOUT }, 'shutting down gracefully');
    await consumer.stop(settings.GRACEFUL_TIMEOUT * 1000);
    await metricsApp?.close();
    if (consumer.running > 0) {
      pools.abandonAll();
      await pools.destroy();
    } else {
      await pools.close();
    }
    await bus.close();
    await forwarder.close();
    logger.info({ exitCode: 0 }, 'stopped');
    return 0;
  },
};
