/**
 * The front thread's Prometheus registry: default process/Node metrics (collected once, here), the
 * HTTP request metrics labelled by route pattern (never by raw path), and the pool's metrics.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RestartReason } from './pool.js';

/** The `route` label of requests that matched no route: one fixed value, so raw paths never become labels. */
export const UNMATCHED_ROUTE = '<unmatched>';

const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];
const RESTART_REASONS: readonly RestartReason[] = ['timeout', 'crash', 'memory', 'max_requests', 'reload'];

/** Seconds; finer than prom-client's defaults at the low end, where a thread hop lives. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const WAIT_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30];

/** The pool's metrics, updated by the dispatcher and the pool. */
export interface PoolMetrics {
  readonly queueWait: Histogram;
  readonly timeouts: Counter<'route'>;
  readonly restarts: Counter<'reason'>;
}

/** Live values the pool gauges read at scrape time. */
export interface PoolGauges {
  workers(): number;
  queueDepth(): number;
}

/** The front's metrics. */
export interface FrontMetrics {
  readonly registry: Registry;
  readonly pool: PoolMetrics;
  /** Records one answered request. */
  observe(method: string, route: string, statusCode: number, seconds: number): void;
}

/**
 * Creates the front thread's registry. Only the front calls this, so process metrics are counted
 * once per process, not once per thread.
 *
 * @example
 * const metrics = createFrontMetrics({ workers: () => pool.alive, queueDepth: () => dispatcher.queued });
 * metrics.observe('GET', '/items/<int:id>', 200, 0.003);
 */
export function createFrontMetrics(gauges: PoolGauges): FrontMetrics {
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
    help: 'Worker threads alive.',
    registers: [registry],
    collect() {
      this.set(gauges.workers());
    },
  });
  new Gauge({
    name: 'drover_queue_depth',
    help: 'Requests waiting for a worker.',
    registers: [registry],
    collect() {
      this.set(gauges.queueDepth());
    },
  });
  const pool: PoolMetrics = {
    queueWait: new Histogram({
      name: 'drover_queue_wait_seconds',
      help: 'Time requests waited for a worker before running (0 when one was free).',
      buckets: WAIT_BUCKETS,
      registers: [registry],
    }),
    timeouts: new Counter({
      name: 'drover_request_timeouts_total',
      help: 'Requests that passed their deadline (REQUEST_TIMEOUT or the route timeout), queued or running.',
      labelNames: ['route'],
      registers: [registry],
    }),
    restarts: new Counter({
      name: 'drover_worker_restarts_total',
      help: 'Worker threads replaced, by reason.',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
  for (const reason of RESTART_REASONS) pool.restarts.inc({ reason }, 0); // every series exists from boot
  return {
    registry,
    pool,
    observe(method, route, statusCode, seconds) {
      const labels = { method, route, status_code: statusCode };
      requests.inc(labels);
      duration.observe(labels, seconds);
    },
  };
}
