/**
 * The front thread's Prometheus registry: default process/Node metrics (collected once, here), the
 * HTTP request metrics labelled by route pattern (never by raw path), and the pool's metrics.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RestartReason } from './pool/pool.js';

/** The `route` label of requests that matched no route: one fixed value, so raw paths never become labels. */
export const UNMATCHED_ROUTE = '<unmatched>';

const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];
const RESTART_REASONS: readonly RestartReason[] = ['timeout', 'crash', 'memory', 'max_requests', 'reload'];

/** Seconds; finer than prom-client's defaults at the low end, where a thread hop lives. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const WAIT_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30];

/** One pool's metrics, updated by its dispatcher and its pool. */
export interface PoolMetrics {
  /** A request left the queue for a worker after waiting `seconds`. */
  observeWait(seconds: number): void;
  /** A request of `route` passed its deadline. */
  timedOut(route: string): void;
  /** A thread was replaced. */
  restarted(reason: RestartReason): void;
}

/** A pool's live numbers, read at scrape time. */
export interface PoolState {
  readonly name: string;
  readonly workers: number;
  readonly queued: number;
}

/** The front's metrics. */
export interface FrontMetrics {
  readonly registry: Registry;
  /** The metrics of pool `name` (its series exist from the first call). */
  forPool(name: string): PoolMetrics;
  /** Records one answered request. */
  observe(method: string, route: string, statusCode: number, seconds: number): void;
}

/**
 * Creates the front thread's registry. Only the front calls this, so process metrics are counted
 * once per process, not once per thread.
 *
 * @example
 * const metrics = createFrontMetrics(() => [{ name: 'default', workers: pool.alive, queued: dispatcher.queued }]);
 * metrics.observe('GET', '/items/<int:id>', 200, 0.003);
 */
export function createFrontMetrics(pools: () => readonly PoolState[]): FrontMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // prom-client names three gauges `*_total`, which `promtool check metrics` rejects (only counters
  // may end in _total; prometheus/client_js#283, open). Their by-type twins (`nodejs_active_handles`
  // and friends, labelled by type) carry the same numbers: sum() them for the total.
  for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(name);

  const labelNames = ['method', 'route', 'status_code'] as const;
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status code.',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request arrival to response, by method, route pattern and status code.',
    labelNames,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  new Gauge({
    name: 'drover_workers',
    help: 'Worker threads alive, by pool.',
    labelNames: ['pool'],
    registers: [registry],
    collect() {
      for (const p of pools()) this.set({ pool: p.name }, p.workers);
    },
  });
  new Gauge({
    name: 'drover_queue_depth',
    help: 'Requests waiting for a worker, by pool.',
    labelNames: ['pool'],
    registers: [registry],
    collect() {
      for (const p of pools()) this.set({ pool: p.name }, p.queued);
    },
  });
  const queueWait = new Histogram({
    name: 'drover_queue_wait_seconds',
    help: "Time requests waited before their view started (in the front's queue, then in a thread's inbox), by pool.",
    labelNames: ['pool'],
    buckets: WAIT_BUCKETS,
    registers: [registry],
  });
  const timeouts = new Counter({
    name: 'drover_request_timeouts_total',
    help: 'Requests that passed their deadline (REQUEST_TIMEOUT or the route timeout), queued or running.',
    labelNames: ['pool', 'route'],
    registers: [registry],
  });
  const restarts = new Counter({
    name: 'drover_worker_restarts_total',
    help: 'Worker threads replaced, by pool and reason.',
    labelNames: ['pool', 'reason'],
    registers: [registry],
  });
  return {
    registry,
    forPool(name) {
      for (const reason of RESTART_REASONS) restarts.inc({ pool: name, reason }, 0); // every series exists from boot
      return {
        observeWait: (seconds) => queueWait.observe({ pool: name }, seconds),
        timedOut: (route) => timeouts.inc({ pool: name, route }),
        restarted: (reason) => restarts.inc({ pool: name, reason }),
      };
    },
    observe(method, route, statusCode, seconds) {
      const labels = { method, route, status_code: statusCode };
      requests.inc(labels);
      duration.observe(labels, seconds);
    },
  };
}
