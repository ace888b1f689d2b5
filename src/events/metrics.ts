/**
 * The bus's metrics, in the process's own registry (the front's in `serve`, the worker's in
 * `drover worker`): events published by topic, deliveries by handler and outcome, handler
 * duration, publish-to-start lag, and the backlog by handler and state (read from the bus at
 * scrape time, so every process that scrapes sees the same figures).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { HandlerBacklog } from './bus.js';
import type { DeliveryOutcome } from './consumer.js';

const OUTCOMES: readonly DeliveryOutcome[] = ['ok', 'retry', 'dead', 'timeout'];
const STATES = ['ready', 'delayed', 'running', 'dead'] as const;
/** Seconds, from a no-op handler's milliseconds to a long job's minutes. */
const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

/** What the publisher and the consumer report. */
export interface EventMetrics {
  /** Events written by the process's threads, by topic. */
  published(counts: readonly (readonly [string, number])[]): void;
  /** One delivery settled. */
  settled(handler: string, outcome: DeliveryOutcome, seconds: number, lagSeconds: number): void;
}

/**
 * Registers the bus's metrics in `registry`. `handlers` get every deliveries series from the
 * start (at 0); `backlog` is read at each scrape, or null where the process has no bus open.
 *
 * @example
 * const events = createEventMetrics(metrics.registry, ['resize', 'thumbnail'], () => bus.backlog());
 * events.settled('resize', 'ok', 0.12, 0.003);
 */
export function createEventMetrics(registry: Registry, handlers: readonly string[], backlog: (() => Promise<HandlerBacklog[]>) | null): EventMetrics {
  const published = new Counter({
    name: 'drover_events_published_total',
    help: 'Events published by views and handlers of this process, by topic.',
    labelNames: ['topic'],
    registers: [registry],
  });
  const deliveries = new Counter({
    name: 'drover_event_deliveries_total',
    help: 'Event deliveries run by this process, by handler and outcome (ok, retry, dead, timeout).',
    labelNames: ['handler', 'outcome'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'drover_event_handler_duration_seconds',
    help: 'Time one delivery took, from dispatch to its outcome, by handler.',
    labelNames: ['handler'],
    buckets: BUCKETS,
    registers: [registry],
  });
  const lag = new Histogram({
    name: 'drover_event_lag_seconds',
    help: 'Time from when a delivery was due (published, or its retry time) to when its handler started, by handler.',
    labelNames: ['handler'],
    buckets: BUCKETS,
    registers: [registry],
  });
  for (const handler of handlers) for (const outcome of OUTCOMES) deliveries.inc({ handler, outcome }, 0);
  if (backlog) {
    new Gauge({
      name: 'drover_event_backlog',
      help: 'Deliveries on the bus, by handler and state (ready, delayed, running, dead).',
      labelNames: ['handler', 'state'],
      registers: [registry],
      // One figure for the whole bus, which every consuming process reads alike: across web
      // processes (WEB_PROCESSES), the largest reading stands, not their sum.
      aggregator: 'max',
      async collect() {
        this.reset();
        for (const handler of handlers) for (const state of STATES) this.set({ handler, state }, 0);
        for (const row of await backlog()) for (const state of STATES) this.set({ handler: row.handler, state }, row[state]);
      },
    });
  }
  return {
    published(counts) {
      for (const [topic, n] of counts) published.inc({ topic }, n);
    },
    settled(handler, outcome, seconds, lagSeconds) {
      deliveries.inc({ handler, outcome });
      duration.observe({ handler }, seconds);
      lag.observe({ handler }, lagSeconds);
    },
  };
}
