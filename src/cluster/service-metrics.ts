/**
 * The supervisor's store of its web processes' metrics: one /metrics for the whole service,
 * whichever process a scrape reaches. Built on prom-client's own aggregation
 * (AggregatorRegistry.aggregate, as its cluster support does), through ViewMetrics: a process
 * that is gone has its counters and histograms folded into retired totals, so they never go
 * backwards when a process is replaced, and its gauges dropped.
 */
import type { Worker } from 'node:cluster';
import { ViewMetrics, type MetricSnapshot } from '../view-metrics.js';
import type { SupervisorMessage } from './messages.js';

/** How long a scrape waits for the other processes' answers; one that is late counts with its last values. */
const REPORT_WAIT_MS = 1000;

/** Every web process's metrics, latest first-hand values (pushes, scrape answers) kept. */
export class ServiceMetrics {
  readonly #store = new ViewMetrics();
  readonly #waiting = new Map<number, { left: Set<number>; done: () => void }>();
  #nextReport = 0;

  /** Keeps the latest snapshot of process `workerId`; `reportId` marks the answer to a report request. */
  received(workerId: number, snapshot: MetricSnapshot, reportId?: number): void {
    this.#store.update(workerId, snapshot);
    if (reportId === undefined) return;
    const waiting = this.#waiting.get(reportId);
    waiting?.left.delete(workerId);
    if (waiting?.left.size === 0) waiting.done();
  }

  /**
   * Answers the scrape `id` that `asker` received (its own fresh `snapshot` with it): asks every
   * other live process for its values now, then sends back the whole service's text.
   */
  async scrape(asker: Worker, id: number, snapshot: MetricSnapshot, live: () => readonly Worker[]): Promise<void> {
    this.#store.update(asker.id, snapshot);
    const others = live().filter((w) => w !== asker && w.isConnected());
    if (others.length > 0) {
      const reportId = ++this.#nextReport;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, REPORT_WAIT_MS);
        this.#waiting.set(reportId, {
          left: new Set(others.map((w) => w.id)),
          done: () => {
            clearTimeout(timer);
            resolve();
          },
        });
        for (const w of others) w.send({ drover: 'report', id: reportId } satisfies SupervisorMessage);
      });
      this.#waiting.delete(reportId);
    }
    // The processes alive now, not when the scrape began: one forked meanwhile is not folded as dead.
    const registry = await this.#store.registry(new Set(live().map((w) => w.id)), new Set());
    if (asker.isConnected()) asker.send({ drover: 'scraped', id, text: await registry.metrics() } satisfies SupervisorMessage);
  }
}
