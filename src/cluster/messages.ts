/**
 * What the supervisor and its web processes say to each other over node:cluster's IPC channel.
 * Every message carries `drover`, so an app's own cluster messages (if any) are left alone.
 */
import type { MetricSnapshot } from '../view-metrics.js';

/** Supervisor to a web process. */
export type SupervisorMessage =
  /** Send your metrics now (request `id`), for a scrape another process received. */
  | { readonly drover: 'report'; readonly id: number }
  /** The whole service's metrics, as text, for the scrape `id` this process asked about. */
  | { readonly drover: 'scraped'; readonly id: number; readonly text: string };

/** A web process to its supervisor. */
export type WebProcessMessage =
  /** Booted and listening: the supervisor may retire the process it replaces. */
  | { readonly drover: 'ready' }
  /** This process's metrics: pushed when they changed, or the answer to report `id`. */
  | { readonly drover: 'metrics'; readonly snapshot: MetricSnapshot; readonly id?: number }
  /** A scrape reached this process (`snapshot`: its own metrics, fresh): answer with everyone's. */
  | { readonly drover: 'scrape'; readonly id: number; readonly snapshot: MetricSnapshot };

/** True for a message of drover's own on the cluster channel. */
export function isDroverMessage<T extends { drover: string }>(message: unknown): message is T {
  return typeof message === 'object' && message !== null && typeof (message as { drover?: unknown }).drover === 'string';
}
