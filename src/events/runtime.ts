/**
 * The background half of a process that consumes (`drover worker`, `serve` with SERVE_EVENTS):
 * the consumer over the pools' dispatchers, and the scheduler for the app's periodic events.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Settings } from '../../config/settings.js';
import type { Pools } from '../pool/pools.js';
import type { EventBus } from './bus.js';
import { Consumer } from './consumer.js';
import type { HandlerInfo } from './handlers.js';
import type { EventMetrics } from './metrics.js';
import { Scheduler, type ScheduleInfo } from './schedules.js';

/** A running consumer and scheduler. */
export interface EventRuntime {
  /** Deliveries running now. */
  readonly running: number;
  /** Stops the schedules and the consumer: running handlers get `graceMs`, the rest is given back. */
  stop(graceMs: number): Promise<void>;
}

/**
 * Starts consuming `handlers` through `pools` and publishing `schedules`.
 *
 * @example
 * const runtime = startEvents({ pools, handlers, schedules, bus, logger, settings, metrics });
 * await runtime.stop(settings.GRACEFUL_TIMEOUT * 1000);
 */
export function startEvents(options: {
  readonly pools: Pools;
  readonly handlers: readonly HandlerInfo[];
  readonly schedules: readonly ScheduleInfo[];
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly settings: Settings;
  readonly metrics: EventMetrics;
}): EventRuntime {
  const { pools, handlers, bus, logger, settings, metrics } = options;
  const consumer = new Consumer(
    handlers.map((info, index) => ({ info, index, dispatcher: pools.dispatcher(info.pool), capacity: info.concurrency * pools.threads(info.pool) })),
    {
      bus,
      logger,
      leaseMs: settings.EVENT_LEASE * 1000,
      // Unique per process start: a restarted process never mistakes its predecessor's leases for its own.
      owner: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
      settled: (handler, outcome, seconds, lag) => metrics.settled(handler, outcome, seconds, lag),
    },
  );
  const byTopic = new Map<string, string[]>();
  for (const h of handlers) byTopic.set(h.topic, [...(byTopic.get(h.topic) ?? []), h.name]);
  const scheduler = new Scheduler(options.schedules, { bus, logger, handlersOf: (topic) => byTopic.get(topic) ?? [] });
  consumer.start();
  scheduler.start();
  // Retention: every minute, events older than EVENT_RETENTION with no delivery left are deleted,
  // a thousand at a time, so the bus file does not grow forever.
  const forget = setInterval(() => {
    void (async () => {
      const before = Date.now() - settings.EVENT_RETENTION * 1000;
      try {
        while ((await bus.forget(before, 1000)) === 1000) await new Promise((resolve) => setImmediate(resolve));
      } catch (err) {
        logger.error({ err }, 'cannot forget old events; the bus file keeps growing until this works');
      }
    })();
  }, 60_000);
  forget.unref();
  return {
    get running() {
      return consumer.running;
    },
    async stop(graceMs) {
      clearInterval(forget);
      scheduler.stop();
      await consumer.stop(graceMs);
    },
  };
}
