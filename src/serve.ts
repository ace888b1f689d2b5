/**
 * Boot: start the pool, learn the route table from a worker, build the front, listen.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Piscina } from 'piscina';
import type { Logger } from 'pino';
import type { Settings } from '../config/settings.js';
import { createDispatch } from './dispatch.js';
import { AppImportFailed } from './errors.js';
import { createFrontMetrics } from './metrics.js';
import { createPool, fetchManifest } from './pool.js';
import type { RouteInfo } from './protocol.js';
import { buildFront, buildMetricsServer } from './server.js';

/** A running drover server. */
export interface RunningServer {
  /** Base URL of the web listener, e.g. `http://127.0.0.1:8000`. */
  readonly url: string;
  /** Base URL of the metrics listener when METRICS_PORT is set. */
  readonly metricsUrl: string | null;
  readonly routes: readonly RouteInfo[];
  /** Stops accepting, lets in-flight requests finish, then stops the workers. */
  close(): Promise<void>;
}

function baseUrl(app: FastifyInstance, host: string): string {
  const { port } = app.server.address() as AddressInfo;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
}

/**
 * Starts the pool and the front for the app at `appPath` and listens on HOST:PORT.
 * Rejects (after stopping the workers) when the app cannot be loaded.
 *
 * @example
 * const server = await startServer(settings, '/srv/app/dist/app/index.js', logger);
 * // … later
 * await server.close();
 */
export async function startServer(settings: Settings, appPath: string, logger: Logger): Promise<RunningServer> {
  const pool: Piscina = createPool(settings, appPath);
  const manifest = await fetchManifest(pool).catch((err: Error) => ({ ok: false as const, error: err.message }));
  if (!manifest.ok) {
    await pool.destroy();
    // The worker already formatted the app's error (with its code); keep it as the message.
    throw Object.assign(new AppImportFailed(appPath, manifest.error), { message: manifest.error });
  }
  const metrics = createFrontMetrics();
  const separateMetrics = settings.METRICS_PORT !== null;
  const front = buildFront({
    routes: manifest.routes,
    dispatch: createDispatch(pool),
    logger,
    metrics,
    serveMetrics: !separateMetrics,
  });
  const metricsApp = separateMetrics ? buildMetricsServer(metrics, logger) : null;
  try {
    await front.listen({ port: settings.PORT, host: settings.HOST });
    if (metricsApp) await metricsApp.listen({ port: settings.METRICS_PORT ?? 0, host: settings.HOST });
  } catch (err) {
    await Promise.allSettled([front.close(), metricsApp?.close(), pool.destroy()]);
    throw err;
  }
  return {
    url: baseUrl(front, settings.HOST),
    metricsUrl: metricsApp ? baseUrl(metricsApp, settings.HOST) : null,
    routes: manifest.routes,
    async close() {
      await Promise.all([front.close(), metricsApp?.close()]);
      await pool.close();
    },
  };
}
