/**
 * Metrics that views define with prom-client, gathered from every worker thread into /metrics.
 *
 * prom-client 15 aggregates across cluster *processes* (AggregatorRegistry over IPC) but has no
 * worker-thread story, so drover carries each thread's snapshot to the front with the response
 * it belongs to (see worker.ts) and merges them here with prom-client's own aggregator. Counters
 * and histograms of a thread that died or was recycled are folded into a "retired" total, so no
 * counter ever goes backwards; its gauges are dropped (a dead thread's gauge means nothing).
 */
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';

/** One thread's metrics, as `registry.getMetricsAsJSON()` returns them. */
export type MetricSnapshot = MetricObjectWithValues<MetricValue<string>>[];

/**
 * Metric names owned by the front: process and Node metrics are collected once there, so a view
 * that collects them in a worker cannot double them.
 */
export function isFrontOnlyMetric(name: string): boolean {
  return name.startsWith('process_') || name.startsWith('nodejs_');
}

/** The front's store of worker metric snapshots. */
export class ViewMetrics {
  readonly #live = new Map<number, MetricSnapshot>();
  #retired: MetricSnapshot = [];
  #folding: Promise<void> = Promise.resolve();

  /** Records the latest snapshot of thread `threadId`. */
  update(threadId: number, snapshot: MetricSnapshot): void {
    this.#live.set(threadId, snapshot);
  }

  /**
   * Builds a registry of every thread's metrics. Threads not in `alive` are folded into the
   * retired totals first; metrics named in `reserved` (the front's own) are left out.
   */
  async registry(alive: ReadonlySet<number>, reserved: ReadonlySet<string>): Promise<Registry> {
    // One fold at a time: calls overlap (scrapes, pushes), and a second one made while the first
    // awaits would miss the threads it took out, or overwrite its retired totals.
    const fold = this.#folding.then(async () => {
      const dead: MetricSnapshot[] = [];
      for (const [threadId, snapshot] of this.#live) {
        if (alive.has(threadId)) continue;
        dead.push(snapshot.filter((m) => String(m.type) !== 'gauge'));
        this.#live.delete(threadId);
      }
      if (dead.length > 0) this.#retired = await AggregatorRegistry.aggregate([this.#retired, ...dead]).getMetricsAsJSON();
    });
    this.#folding = fold.catch(() => undefined);
    await fold;
    const snapshots = [this.#retired, ...this.#live.values()].map((s) => s.filter((m) => !reserved.has(m.name)));
    return AggregatorRegistry.aggregate(snapshots);
  }
}
