/**
 * The front thread: fastify parses HTTP, assigns request ids, matches routes (404/405 never reach
 * a worker), answers /healthz and /metrics itself, dispatches the rest to the pool, and writes the
 * access log line and the HTTP metrics.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Settings } from '../config/settings.js';
import fastifyCors from '@fastify/cors';
import { DEFAULT_POOL } from './app/app-loader.js';
import { trustFunction } from './client-address.js';
import { refuseConnect } from './front/connect.js';
import { corsOptions } from './front/cors.js';
import { sendError } from './front/send-error.js';
import { sendFile } from './front/send-file.js';
import { sendStream, type StreamCut } from './front/send-stream.js';
import { refusal } from './front/request-target.js';
import { ClientGone, type Dispatcher } from './pool/dispatch.js';
import { SettingInvalid } from './errors.js';
import { debugPage, escapeHtml } from './http.js';
import { UNMATCHED_ROUTE, type FrontMetrics } from './metrics.js';
import type { Pools } from './pool/pools.js';
import type { SupervisorLink } from './cluster/web-process.js';
import { requestLogger } from './request-logger.js';
import { ownedBuffer, type RequestTask, type ResponseEnvelope, type RouteInfo } from './pool/protocol.js';
import { METHODS, compilePattern, convertParams, type CompiledPattern, type Method } from './router.js';
import type { ViewMetrics } from './view-metrics.js';

/** Everything the front needs; built once at boot. */
export interface FrontOptions {
  readonly settings: Settings;
  readonly routes: readonly RouteInfo[];
  readonly pools: Pools;
  readonly logger: Logger;
  readonly metrics: FrontMetrics;
  readonly viewMetrics: ViewMetrics;
  /** Serve /metrics on this instance (false when METRICS_PORT moves it elsewhere). */
  readonly serveMetrics: boolean;
  /** True once shutdown began: /readyz answers 503. */
  readonly draining: () => boolean;
  /** Absolute static directory to serve (from staticDirectory()), or null. */
  readonly staticRoot: string | null;
  /** This process's link to its supervisor (WEB_PROCESSES > 1), or null. */
  readonly supervisor?: SupervisorLink | null;
}

/** What /metrics needs: the front's registry, the workers' view metrics, which threads live, the token. */
export interface MetricsSource {
  readonly metrics: FrontMetrics;
  readonly viewMetrics: ViewMetrics;
  readonly pools: Pools;
  /** METRICS_TOKEN: when set, scrapes must send `Authorization: Bearer <token>`. */
  readonly token: string | null;
  /** This process's link to its supervisor (WEB_PROCESSES > 1): a scrape answers for every process. */
  readonly supervisor?: SupervisorLink | null;
}

/**
 * This process's metrics: the front's and every worker thread's (asked for their latest values
 * first when `fresh`, as a scrape does; otherwise what they last sent).
 *
 * @example
 * const text = await (await processRegistry({ metrics, viewMetrics, pools }, true)).metrics();
 */
export async function processRegistry(source: Pick<MetricsSource, 'metrics' | 'viewMetrics' | 'pools'>, fresh: boolean): Promise<Registry> {
  if (fresh) await source.pools.reportMetrics();
  const front = source.metrics.registry;
  const reserved = new Set(front.getMetricsAsArray().map((m) => m.name));
  const views = await source.viewMetrics.registry(source.pools.threadIds, reserved);
  return Registry.merge([front, views]);
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

/** Status drover uses in logs and metrics for a client that left before its answer (nginx's 499). */
const CLIENT_CLOSED_REQUEST = 499;


/**
 * One access log line and the HTTP metrics of one request. The line goes through the root logger
 * with the request id as a field (the same line `request.log` would write), so that no request
 * needs a child logger of its own (request-logger.ts).
 */
function recordAccess(metrics: FrontMetrics, logger: Logger, request: FastifyRequest, reply: FastifyReply, statusCode: number, streamCut?: StreamCut): void {
  const { id: reqId, method, url, routeLabel: route, worker } = request;
  const responseTime = reply.elapsedTime;
  metrics.observe(method, route, statusCode, responseTime / 1000);
  // The client's address: the socket's peer, or with TRUST_PROXY the one X-Forwarded-For names.
  const line = { reqId, method, url, route, statusCode, responseTime, worker, ip: request.ip };
  // A response stream that ended early says why: its status was sent, its body is truncated.
  logger.info(streamCut ? { ...line, streamCut } : line, 'request completed');
}

/** Writes a request's access line and HTTP metrics, with the status it ended with. */
type AccessRecorder = (request: FastifyRequest, reply: FastifyReply, statusCode: number, streamCut?: StreamCut) => void;

/** The client closed its connection before the answer: fastify's onResponse will not fire. */
function clientLeft(reply: FastifyReply): boolean {
  return reply.raw.destroyed && !reply.raw.writableFinished;
}

function headerPairs(headers: FastifyRequest['headers']): string[] {
  const pairs: string[] = [];
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined) pairs.push(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return pairs;
}

/**
 * Creates a fastify instance that only serves /metrics (for METRICS_PORT).
 *
 * @example
 * const metricsApp = buildMetricsServer(metrics, logger);
 * await metricsApp.listen({ port: 9100 });
 */
export function buildMetricsServer(source: MetricsSource, logger: Logger): FastifyInstance {
  const app = Fastify({ loggerInstance: logger as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) });
  addMetricsRoute(app, source);
  return app;
}

/** Constant-time comparison, so a wrong token's answer time says nothing about the right one. */
function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function addMetricsRoute(app: FastifyInstance, source: MetricsSource): void {
  const { metrics, token, supervisor } = source;
  app.get('/metrics', { config: { routeLabel: '/metrics' } satisfies RouteConfig }, async (request, reply) => {
    if (token !== null && !bearerMatches(request.headers.authorization, token)) {
      reply.header('www-authenticate', 'Bearer realm="metrics"');
      return sendError(reply, 401, 'metrics need Authorization: Bearer <METRICS_TOKEN>');
    }
    // Every thread's latest values, not its last push's; with a supervisor, every process's.
    const body = supervisor ? await supervisor.scrape() : await (await processRegistry(source, true)).metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });
}

/**
 * Builds the front server for an app's route table.
 *
 * @example
 * const front = buildFront({ settings, routes, pools, logger, metrics, viewMetrics, serveMetrics: true, draining: () => false, staticRoot: null });
 * await front.listen({ port: settings.PORT, host: settings.HOST });
 */
export function buildFront(options: FrontOptions): FastifyInstance {
  const { settings, logger, metrics, pools } = options;
  const access: AccessRecorder = (request, reply, statusCode, streamCut) => recordAccess(metrics, logger, request, reply, statusCode, streamCut);
  // The slowest route may take this long to upload its request; its deadline covers the upload.
  const receiveMs = Math.max(settings.REQUEST_TIMEOUT, ...options.routes.map((r) => r.timeout ?? 0)) * 1000;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // The access line is ours (one per request, with route and worker); fastify's two are off.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestId,
    childLoggerFactory: requestLogger,
    routerOptions: { maxParamLength: 500 },
    // The access log's `ip` behind a PaaS router; views get the same from client-address.ts.
    // Off by default: fastify's plain `ip` getter (the socket's peer), no proxy-addr per request.
    trustProxy: settings.TRUST_PROXY === false ? false : trustFunction(settings.TRUST_PROXY),
    bodyLimit: settings.BODY_LIMIT,
    // Slow clients (slowloris): headers must arrive within HEADER_TIMEOUT and the whole request
    // within its deadline, else 408 and the connection is closed. Node checks these only every
    // connectionsCheckingInterval (30 s by default), hence the 1 s interval.
    requestTimeout: Math.ceil(receiveMs),
    http: {
      headersTimeout: Math.ceil(Math.min(settings.HEADER_TIMEOUT * 1000, receiveMs)),
      connectionsCheckingInterval: 1000,
    },
    // Alone, a closing server answers a request on an open connection 503 (it is shutting down).
    // A web process of a supervisor serves it (with `Connection: close`): node:cluster may hand it
    // a connection in the moment it retires (a SIGHUP), and the other processes carry on.
    return503OnClosing: !options.supervisor,
    // fastify answers a URL it cannot decode (broken percent-encoding) before any hook: give it
    // drover's JSON error shape and request id like every other 4xx.
    frameworkErrors: (error, _request, reply) => {
      sendError(reply, error.statusCode ?? 400, error.message);
    },
  });

  app.decorateRequest('routeLabel', UNMATCHED_ROUTE);
  app.decorateRequest('worker', null);
  // Before the routes, so its hook and preflight route load first (avvio keeps this order).
  const cors = corsOptions(settings);
  if (cors) void app.register(fastifyCors, cors);

  // Views get raw bytes whatever the content type; they parse with req.json() / req.text().
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  const staticRoot = options.staticRoot;
  const staticLabel = `${settings.STATIC_URL}*`;
  // Callback-style hooks: they run on every request, and async ones cost a promise each.
  app.addHook('onRequest', (request, reply, done) => {
    const raw = request.raw;
    const refused = refusal(request.method, raw.url ?? '', raw.rawHeaders);
    if (refused) {
      request.routeLabel = UNMATCHED_ROUTE;
      if (refused.status === 204) reply.code(204).header('allow', refused.allow).send();
      else sendError(reply, 400, refused.message);
      return; // answered: the request goes no further
    }
    const label = (request.routeOptions.config as RouteConfig).routeLabel;
    request.routeLabel = label ?? (staticRoot && request.routeOptions.url?.startsWith(settings.STATIC_URL) ? staticLabel : UNMATCHED_ROUTE);
    done();
  });
  // CONNECT (authority-form) never reaches fastify: Node hands it to 'connect' listeners, and with
  // none it closes the connection without a word. drover is no proxy: a 405 naming its methods.
  app.server.on('connect', (req: IncomingMessage, socket: Duplex) => refuseConnect(req, socket, logger, metrics));
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    // While draining, every answer closes its connection: a keep-alive connection that carried
    // an in-flight request would otherwise stay open, idle, and hold the drain until it times out.
    if (options.draining()) reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    access(request, reply, reply.statusCode);
    done();
  });

  // The app's notFound view (Django's handler404), when it has one: a view like any other, in the
  // default pool, at the index after the routes; DEBUG keeps the technical 404 (as Django does).
  const notFoundView: RouteInfo | null =
    pools.notFoundView && !settings.DEBUG
      ? { id: options.routes.length, methods: [], pattern: UNMATCHED_ROUTE, name: null, timeout: null, pool: DEFAULT_POOL }
      : null;
  const defaultDispatcher = pools.dispatcher(DEFAULT_POOL);
  app.setNotFoundHandler((request, reply) => {
    request.routeLabel = UNMATCHED_ROUTE;
    if (notFoundView) return dispatchView(notFoundView, {}, defaultDispatcher, settings.REQUEST_TIMEOUT, access, request, reply);
    const message = `no route matches ${request.method} ${request.url.split('?')[0]}`;
    if (!settings.DEBUG) return sendError(reply, 404, message);
    // DEBUG: list the patterns tried, as Django's technical 404 page does.
    const tried = options.routes.map((r) => `${r.methods.join(',')} ${r.pattern}`);
    if (staticRoot) tried.push(`GET ${staticLabel} (static files from ${staticRoot})`);
    if (/\btext\/html\b/.test(request.headers.accept ?? '')) {
      const items = tried.map((t) => `<li><code>${escapeHtml(t)}</code></li>`).join('');
      const page = debugPage('404', `<h1>Page not found (DEBUG)</h1><p>${escapeHtml(message)}</p><p>Routes tried, in order:</p><ol>${items}</ol>`);
      return reply.code(404).type('text/html; charset=utf-8').send(page);
    }
    return sendError(reply, 404, message, { routesTried: tried });
  });
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (error instanceof ClientGone) return sendError(reply, CLIENT_CLOSED_REQUEST, error.message);
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) return sendError(reply, status, error.message);
    // drover's own dispatch errors (504, 503, 502) say what happened without leaking app details.
    if (error.code?.startsWith('DROVER_ERR_DISPATCH_')) {
      if (status === 503) reply.header('retry-after', '1');
      return sendError(reply, status, error.message);
    }
    request.log.error({ err: error, route: request.routeLabel }, 'request failed');
    return sendError(reply, 500, 'Internal Server Error');
  });

  app.get('/healthz', { config: { routeLabel: '/healthz' } satisfies RouteConfig }, async () => ({ status: 'ok' }));
  app.get('/readyz', { config: { routeLabel: '/readyz' } satisfies RouteConfig }, async (_request, reply) => {
    const status = options.draining() ? 'draining' : pools.ready ? 'ready' : 'starting';
    return reply.code(status === 'ready' ? 200 : 503).send({ status });
  });
  if (options.serveMetrics) addMetricsRoute(app, { ...options, token: settings.METRICS_TOKEN });
  if (staticRoot) {
    // Static files are the front's job (nginx in front of uWSGI): they never wait for a worker.
    void app.register(fastifyStatic, {
      root: staticRoot,
      prefix: settings.STATIC_URL,
      decorateReply: false,
      index: false,
      dotfiles: 'ignore',
      etag: true,
      lastModified: true,
      cacheControl: true,
      maxAge: settings.STATIC_MAX_AGE * 1000,
      immutable: false,
    });
  }

  registerRoutes(app, options.routes, pools, settings, access);
  return app;
}

/**
 * The static directory to serve, or null. The default (app/static) is skipped when absent; a
 * directory named explicitly must exist, else boot stops naming the setting.
 */
export function staticDirectory(settings: Settings): string | null {
  const dir = resolve(process.cwd(), settings.STATIC_DIR);
  if (existsSync(dir) && statSync(dir).isDirectory()) return dir;
  if (settings.STATIC_DIR === 'app/static') return null;
  throw new SettingInvalid('STATIC_DIR', JSON.stringify(settings.STATIC_DIR), `an existing directory (${dir} is not one)`);
}

/** Registers each route with fastify, plus one 405 route per pattern for the methods it lacks. */
function registerRoutes(
  app: FastifyInstance,
  routes: readonly RouteInfo[],
  pools: Pools,
  settings: Settings,
  access: AccessRecorder,
): void {
  const allowed = new Map<string, { compiled: CompiledPattern; methods: Set<Method> }>();
  for (const info of routes) {
    const compiled = compilePattern(info.pattern);
    const entry = allowed.get(compiled.routerUrl) ?? { compiled, methods: new Set<Method>() };
    allowed.set(compiled.routerUrl, entry);
    for (const m of info.methods) entry.methods.add(m);
    const dispatcher = pools.dispatcher(info.pool);
    app.route({
      method: [...info.methods],
      url: compiled.routerUrl,
      config: { routeLabel: info.pattern } satisfies RouteConfig,
      handler: (request, reply) => handleView(info, compiled, dispatcher, info.timeout ?? settings.REQUEST_TIMEOUT, access, request, reply),
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

/**
 * Hands a view request to its pool's dispatcher and answers with what comes back. It returns
 * nothing on purpose: a handler that returns the reply makes fastify await it as a thenable
 * (stream listeners and a promise per request).
 */
function handleView(
  info: RouteInfo,
  compiled: CompiledPattern,
  dispatcher: Dispatcher,
  timeout: number,
  access: AccessRecorder,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const params = convertParams(compiled, request.params as Record<string, string | undefined>);
  if (!params) {
    // A converter refused the value (e.g. an int beyond 2^53): Django's "no match", so a 404.
    reply.callNotFound();
    return;
  }
  dispatchView(info, params, dispatcher, timeout, access, request, reply);
}

/** Sends a request to the view `info` (a route's, or the app's notFound view) and answers. */
function dispatchView(
  info: RouteInfo,
  params: Record<string, string | number>,
  dispatcher: Dispatcher,
  timeout: number,
  access: AccessRecorder,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const url = request.url;
  const q = url.indexOf('?');
  const body = request.body instanceof Buffer && request.body.byteLength > 0 ? ownedBuffer(request.body) : null;
  const task: RequestTask = {
    route: info.id,
    id: request.id,
    method: request.method,
    url,
    path: q === -1 ? url : url.slice(0, q),
    params,
    query: q === -1 ? {} : { ...(request.query as Record<string, string | string[]>) },
    headers: headerPairs(request.headers),
    body,
    remoteAddress: request.raw.socket.remoteAddress ?? '',
  };
  // A callback, not an async handler: no promise per request on the front.
  const state = dispatcher.dispatch(task, { route: info.pattern, timeout, elapsedMs: reply.elapsedTime }, (err, response) => {
    if (response) request.worker = response.worker;
    // fastify's onResponse never fires for a client that left: its access line is written here.
    if (clientLeft(reply)) access(request, reply, CLIENT_CLOSED_REQUEST);
    if (err) {
      reply.send(err); // to the error handler
      return;
    }
    const { status, headers, body, file, stream } = response as ResponseEnvelope;
    if (file) {
      sendFile(reply, headers, file);
      return;
    }
    if (stream) {
      sendStream(reply, status, headers, stream, {
        route: info.pattern,
        idleMs: timeout * 1000,
        log: request.log,
        timedOut: () => dispatcher.streamTimedOut(info.pattern),
        cut: (why) => access(request, reply, status, why),
      });
      return;
    }
    reply.code(status);
    for (let i = 0; i < headers.length; i += 2) reply.header(headers[i] as string, headers[i + 1]);
    reply.send(body ? Buffer.from(body) : '');
  });
  // A client that leaves while its request waits (queued, or in a thread's inbox) gets it dropped.
  if (state !== 'done') {
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) dispatcher.clientGone(task);
    });
  }
}
