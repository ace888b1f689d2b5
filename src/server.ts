/**
 * The front thread: fastify parses HTTP, assigns request ids, matches routes (404/405 never reach
 * a worker), answers /healthz and /metrics itself, dispatches the rest to the pool, and writes the
 * access log line and the HTTP metrics.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Dispatch } from './dispatch.js';
import { errorPayload } from './http.js';
import { UNMATCHED_ROUTE, type FrontMetrics } from './metrics.js';
import { ownedBuffer, type RequestTask, type RouteInfo } from './protocol.js';
import { METHODS, compilePattern, convertParams, type CompiledPattern, type Method } from './router.js';

/** Everything the front needs; built once at boot. */
export interface FrontOptions {
  readonly routes: readonly RouteInfo[];
  readonly dispatch: Dispatch;
  readonly logger: Logger;
  readonly metrics: FrontMetrics;
  /** Serve /metrics on this instance (false when METRICS_PORT moves it elsewhere). */
  readonly serveMetrics: boolean;
}

/** Per-route data fastify keeps for us in `config`. */
interface RouteConfig {
  /** The `route` label and log field: the declared pattern. */
  readonly routeLabel?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The route label, or UNMATCHED_ROUTE once a request turns out to match nothing. */
    routeLabel: string;
    /** threadId of the worker that answered, for the access log. */
    worker: number | null;
  }
}

/** Request ids we accept from clients: short, printable, safe in logs and headers. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._~:=+/-]{1,128}$/;

function requestId(raw: IncomingMessage): string {
  const given = raw.headers['x-request-id'];
  return typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
}

function sendError(reply: FastifyReply, status: number, message: string, extra?: Record<string, unknown>): FastifyReply {
  return reply
    .code(status)
    .type('application/json; charset=utf-8')
    .send(JSON.stringify(errorPayload(status, message, reply.request.id, extra)));
}

function flattenHeaders(headers: FastifyRequest['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/**
 * Creates a fastify instance that only serves /metrics (for METRICS_PORT).
 *
 * @example
 * const metricsApp = buildMetricsServer(metrics, logger);
 * await metricsApp.listen({ port: 9100 });
 */
export function buildMetricsServer(metrics: FrontMetrics, logger: Logger): FastifyInstance {
  const app = Fastify({ loggerInstance: logger as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) });
  addMetricsRoute(app, metrics);
  return app;
}

function addMetricsRoute(app: FastifyInstance, metrics: FrontMetrics): void {
  app.get('/metrics', { config: { routeLabel: '/metrics' } satisfies RouteConfig }, async (_request, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });
}

/**
 * Builds the front server for an app's route table.
 *
 * @example
 * const front = buildFront({ routes, dispatch, logger, metrics, serveMetrics: true });
 * await front.listen({ port: settings.PORT, host: settings.HOST });
 */
export function buildFront(options: FrontOptions): FastifyInstance {
  const { logger, metrics, dispatch } = options;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // The access line is ours (one per request, with route and worker); fastify's two are off.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestId,
    routerOptions: { maxParamLength: 500 },
    return503OnClosing: true,
  });

  app.decorateRequest('routeLabel', UNMATCHED_ROUTE);
  app.decorateRequest('worker', null);

  // Views get raw bytes whatever the content type; they parse with req.json() / req.text().
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.addHook('onRequest', async (request) => {
    request.routeLabel = (request.routeOptions.config as RouteConfig).routeLabel ?? UNMATCHED_ROUTE;
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    const { method, url, routeLabel: route, worker } = request;
    const statusCode = reply.statusCode;
    const responseTime = reply.elapsedTime;
    metrics.observe(method, route, statusCode, responseTime / 1000);
    request.log.info({ method, url, route, statusCode, responseTime, worker }, 'request completed');
  });

  app.setNotFoundHandler((request, reply) => {
    request.routeLabel = UNMATCHED_ROUTE;
    return sendError(reply, 404, `no route matches ${request.method} ${request.url.split('?')[0]}`);
  });
  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) return sendError(reply, status, error.message);
    request.log.error({ err: error, route: request.routeLabel }, 'request failed');
    return sendError(reply, 500, 'Internal Server Error');
  });

  app.get('/healthz', { config: { routeLabel: '/healthz' } satisfies RouteConfig }, async () => ({ status: 'ok' }));
  if (options.serveMetrics) addMetricsRoute(app, metrics);

  registerRoutes(app, options.routes, dispatch);
  return app;
}

/** Registers each route with fastify, plus one 405 route per pattern for the methods it lacks. */
function registerRoutes(app: FastifyInstance, routes: readonly RouteInfo[], dispatch: Dispatch): void {
  const allowed = new Map<string, { compiled: CompiledPattern; methods: Set<Method> }>();
  for (const info of routes) {
    const compiled = compilePattern(info.pattern);
    const entry = allowed.get(compiled.routerUrl) ?? { compiled, methods: new Set<Method>() };
    allowed.set(compiled.routerUrl, entry);
    for (const m of info.methods) entry.methods.add(m);
    app.route({
      method: [...info.methods],
      url: compiled.routerUrl,
      config: { routeLabel: info.pattern } satisfies RouteConfig,
      handler: (request, reply) => handleView(info, compiled, dispatch, request, reply),
    });
  }
  for (const { compiled, methods } of allowed.values()) {
    // fastify answers HEAD from GET routes on its own (exposeHeadRoutes).
    if (methods.has('GET')) methods.add('HEAD');
    const allow = METHODS.filter((m) => methods.has(m)).join(', ');
    const others = METHODS.filter((m) => !methods.has(m));
    if (others.length === 0) continue;
    app.route({
      method: others,
      url: compiled.routerUrl,
      config: { routeLabel: compiled.pattern } satisfies RouteConfig,
      handler: async (request, reply) => {
        reply.header('allow', allow);
        return sendError(reply, 405, `${request.method} is not allowed on ${compiled.pattern}; allowed: ${allow}`);
      },
    });
  }
}

async function handleView(
  info: RouteInfo,
  compiled: CompiledPattern,
  dispatch: Dispatch,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const params = convertParams(compiled, request.params as Record<string, string | undefined>);
  if (!params) {
    // A converter refused the value (e.g. an int beyond 2^53): Django's "no match", so a 404.
    reply.callNotFound();
    return reply;
  }
  const url = request.url;
  const q = url.indexOf('?');
  const body = request.body instanceof Buffer && request.body.byteLength > 0 ? ownedBuffer(request.body) : null;
  const task: RequestTask = {
    kind: 'request',
    route: info.id,
    id: request.id,
    method: request.method,
    url,
    path: q === -1 ? url : url.slice(0, q),
    params,
    query: { ...(request.query as Record<string, string | string[]>) },
    headers: flattenHeaders(request.headers),
    body,
  };
  const response = await dispatch(task);
  request.worker = response.worker;
  return reply
    .code(response.status)
    .headers(response.headers)
    .send(response.body ? Buffer.from(response.body) : '');
}
