/**
 * The web process's side of the supervisor (WEB_PROCESSES > 1): it tells the supervisor when it
 * is ready, sends its metrics when they changed (at most every METRICS_PUSH_MS, and its last
 * values when it stops), and answers a scrape with the whole service's metrics, aggregated by
 * the supervisor from every process.
 */
import cluster from 'node:cluster';
import type { Logger } from 'pino';
import type { MetricSnapshot } from '../view-metrics.js';
import { METRICS_PUSH_MS } from '../pool/protocol.js';
import { isDroverMessage, type SupervisorMessage, type WebProcessMessage } from './messages.js';

/** How long a scrape waits for the supervisor's aggregate before answering with this process's own metrics. */
const SCRAPE_WAIT_MS = 3000;

/**
 * Marks every gauge of `snapshot` with the process's pid: a gauge is one process's figure
 * (memory, event-loop lag, pool state), and the label keeps the processes apart once aggregated.
 * Counters and histograms are summed over the processes. A gauge declared with another aggregator
 * than prom-client's default sum is one figure for the service (the bus's backlog, which every
 * process reads from the same bus): it keeps its aggregator and gets no label.
 */
export function labelGauges(snapshot: MetricSnapshot, pid: number): MetricSnapshot {
  return snapshot.map((m) =>
    String(m.type) === 'gauge' && (m.aggregator ?? 'sum') === 'sum'
      ? { ...m, values: m.values.map((v) => ({ ...v, labels: { ...v.labels, pid: String(pid) } })) }
      : m,
  );
}

/** This process's link to its supervisor, when it has one. */
export interface SupervisorLink {
  /** The service's metrics as text (every process's), for a scrape this process received. */
  scrape(): Promise<string>;
  /** Sends the last values before the process exits. */
  close(): Promise<void>;
}

/**
 * Joins the supervisor when this process is one of its web processes; null otherwise.
 * `collect(fresh)`: this process's metrics, its threads asked for their latest when `fresh`.
 *
 * @example
 * const link = joinSupervisor(
 *   async (fresh) => (await processRegistry(source, fresh)).getMetricsAsJSON(),
 *   async () => (await processRegistry(source, false)).metrics(),
 *   logger,
 * );
 * link?.ready();
 */
export function joinSupervisor(
  collect: (fresh: boolean) => Promise<MetricSnapshot>,
  local: () => Promise<string>,
  logger: Logger,
): (SupervisorLink & { ready(): void }) | null {
  if (!cluster.isWorker || !process.send) return null;
  const send = (message: WebProcessMessage) =>
    new Promise<void>((resolve) => {
      if (!process.connected) return resolve();
      process.send?.(message, undefined, undefined, () => resolve());
    });
  const snapshot = async (fresh: boolean) => labelGauges(await collect(fresh), process.pid);
  let last = '';
  const push = async () => {
    const values = await snapshot(false);
    const text = JSON.stringify(values);
    if (text === last) return;
    last = text;
    await send({ drover: 'metrics', snapshot: values });
  };
  const failed = (err: unknown) => logger.error({ err }, 'cannot send this process\'s metrics to the supervisor');
  const timer = setInterval(() => push().catch(failed), METRICS_PUSH_MS);
  timer.unref();
  let nextId = 0;
  const scrapes = new Map<number, (text: string) => void>();
  const onMessage = (message: unknown) => {
    if (!isDroverMessage<SupervisorMessage>(message)) return;
    if (message.drover === 'report') {
      snapshot(true)
        .then((values) => send({ drover: 'metrics', snapshot: values, id: message.id }))
        .catch(failed);
    } else if (message.drover === 'scraped') {
      scrapes.get(message.id)?.(message.text);
      scrapes.delete(message.id);
    }
  };
  process.on('message', onMessage);
  return {
    ready() {
      void send({ drover: 'ready' });
    },
    async scrape() {
      const id = ++nextId;
      const answered = new Promise<string | null>((resolve) => {
        scrapes.set(id, resolve);
        setTimeout(() => resolve(null), SCRAPE_WAIT_MS).unref();
      });
      await send({ drover: 'scrape', id, snapshot: await snapshot(true) });
      const text = await answered;
      scrapes.delete(id);
      // No answer (the supervisor is gone or stuck): this process's own figures, rather than none.
      return text ?? local();
    },
    async close() {
      clearInterval(timer);
      await snapshot(false)
        .then((values) => send({ drover: 'metrics', snapshot: values }))
        .catch(failed);
      process.off('message', onMessage);
    },
  };
}
