/**
 * The front thread's Prometheus registry: default process/Node metrics (collected once, here) and
 * the HTTP request metrics, labelled by route pattern, never by raw path.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The `route` label of requests that matched no route: one fixed value, so raw paths never become labels. */
export const UNMATCHED_ROUTE = '<unmatched>';

const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** Seconds; finer than prom-client's defaults at the low end, where a thread hop lives. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The front's metrics. */
export interface FrontMetrics {
  readonly registry: Registry;
  /** Records one answered request. */
  observe(method: string, route: string, statusCode: number, seconds: number): void;
}

/**
 * Creates the front thread's registry. Only the front calls this, so process metrics are counted
 * once per process, not once per thread.
 *
 * @example
 * const metrics = createFrontMetrics();
 * metrics.observe('GET', '/items/<int:id>', 200, 0.003);
 */
export function createFrontMetrics(): FrontMetrics {
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
  return {
    registry,
    observe(method, route, statusCode, seconds) {
      const labels = { method, route, status_code: statusCode };
      requests.inc(labels);
      duration.observe(labels, seconds);
    },
  };
}
