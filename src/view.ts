/**
 * Runs one view on one request envelope and turns whatever it returned or threw into a response
 * envelope. Runs inside a worker thread.
 */
import { threadId } from 'node:worker_threads';
import type { Logger } from 'pino';
import { parse as parseCookies } from 'cookie';
import { ResponseHeaderInvalid, ViewReturnedUndefined, ViewReturnedUnsupported } from './errors.js';
import {
  bytes,
  debugPage,
  errorPayload,
  escapeHtml,
  html,
  httpError,
  isHttpError,
  isResponse,
  json,
  text,
  unsignCookie,
  withHeaders,
  type Handler,
  type HeaderValue,
  type HttpResponse,
  type Middleware,
  type Request,
} from './http.js';
import { ownedBuffer, type HeaderPairs, type RequestTask, type ResponseEnvelope } from './pool/protocol.js';
import { chunkReader, fromWebResponse, isStreamSource, stream, type ChunkReader } from './streaming.js';
import { clientAddress, type ClientAddress, type TrustFunction } from './client-address.js';
import { parseForm, type Form, type FormLimits } from './form.js';
import { BusUnavailable } from './errors.js';
import { Outbox, randomIds, type PublishOptions } from './events/publish.js';
import type { EventBus } from './events/bus.js';
import { UNMATCHED_ROUTE } from './metrics.js';
import type { Route } from './router.js';

const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);
/** application/json, and structured types such as application/problem+json. */
const JSON_TYPE = /^application\/([\w.-]+\+)?json\s*(;|$)/i;

/** The request object views receive, built from the envelope without copying the body. */
class ViewRequest implements Request {
  readonly method: string;
  readonly path: string;
  readonly url: string;
  readonly params: Record<string, string | number>;
  readonly query: Readonly<Record<string, string | string[]>>;
  readonly body: Uint8Array;
  readonly id: string;
  readonly #logger: Logger;
  readonly #headerPairs: HeaderPairs;
  #headers: Record<string, string> | undefined;
  #log: Logger | undefined;
  #json: { value: unknown } | undefined;
  #cookies: Readonly<Record<string, string>> | undefined;
  readonly #remoteAddress: string;
  readonly #trust: TrustFunction;
  #client: ClientAddress | undefined;
  #form: Promise<Form> | undefined;
  readonly #formLimits: FormLimits;
  #controller: AbortController | undefined;
  #abortReason: unknown;
  readonly #publishing: EventPublishing | null;
  #outbox: Outbox | undefined;

  constructor(task: RequestTask, logger: Logger, trust: TrustFunction, formLimits: FormLimits, publishing: EventPublishing | null) {
    this.#formLimits = formLimits;
    this.#publishing = publishing;
    this.#remoteAddress = task.remoteAddress;
    this.#trust = trust;
    this.method = task.method;
    this.path = task.path;
    this.url = task.url;
    this.params = task.params;
    this.query = task.query;
    this.#headerPairs = task.headers;
    this.body = task.body ? new Uint8Array(task.body) : EMPTY;
    this.id = task.id;
    this.#logger = logger;
  }

  /** Made on first use: most views never ask. The front says when it aborts (abort()). */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  publish(topic: string, payload: unknown, options?: PublishOptions): void {
    const publishing = this.#publishing;
    if (!publishing) throw new Error('publish() is not available here');
    this.#outbox ??= new Outbox(publishing.handlersOf, publishing.maxBytes, randomIds, this.id);
    this.#outbox.publish(topic, payload, options);
  }

  /** The view threw: what it published is dropped (the transactional-outbox rule). */
  discardEvents(): void {
    this.#outbox = undefined;
  }

  /** The events this request published, for writing once the view succeeded. */
  get outbox(): Outbox | undefined {
    return this.#outbox;
  }

  /** Aborts `signal` with `reason` (the client left, the deadline passed, a stream was cancelled), once. */
  abort(reason: unknown): void {
    if (this.#abortReason !== undefined) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  /** Built on first use, from the pairs the request travelled as. */
  get headers(): Readonly<Record<string, string>> {
    return (this.#headers ??= fromPairs(this.#headerPairs));
  }

  /** Worked out on first use of any of the four: most views never ask. */
  get #address(): ClientAddress {
    return (this.#client ??= clientAddress(this.#remoteAddress, this.headers, this.#trust));
  }

  get ip(): string {
    return this.#address.ip;
  }

  get ips(): readonly string[] {
    return this.#address.ips;
  }

  get host(): string {
    return this.#address.host;
  }

  get protocol(): string {
    return this.#address.protocol;
  }

  /** Parsed on first use (the `cookie` package): most views read no cookie. */
  get cookies(): Readonly<Record<string, string>> {
    if (!this.#cookies) {
      const header = this.headers.cookie;
      const parsed = header ? parseCookies(header) : {};
      const cookies: Record<string, string> = {};
      for (const [name, value] of Object.entries(parsed)) if (value !== undefined) cookies[name] = value;
      this.#cookies = Object.freeze(cookies);
    }
    return this.#cookies;
  }

  signedCookie(name: string): string | undefined {
    return unsignCookie(this.cookies[name], name);
  }

  /** Created on first use: most views never log, and a pino child costs an allocation. */
  get log(): Logger {
    return (this.#log ??= this.#logger.child({ reqId: this.id }));
  }

  text(): string {
    return decoder.decode(this.body);
  }

  form(): Promise<Form> {
    return (this.#form ??= parseForm(this.headers['content-type'], this.body, this.#formLimits));
  }

  json<T = unknown>(): T {
    if (!this.#json) {
      const type = this.headers['content-type'];
      // A body declared as something else is not JSON by accident: say so (415) instead of guessing.
      if (type !== undefined && !JSON_TYPE.test(type)) {
        throw httpError(415, `unsupported content type "${type}"; send application/json`);
      }
      if (this.body.byteLength === 0) throw httpError(400, 'the request body is empty; send a JSON document');
      try {
        this.#json = { value: JSON.parse(this.text()) };
      } catch (err) {
        throw httpError(400, `malformed JSON body: ${(err as Error).message}`);
      }
    }
    return this.#json.value as T;
  }
}

function fromPairs(pairs: HeaderPairs): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let i = 0; i < pairs.length; i += 2) headers[pairs[i] as string] = pairs[i + 1] as string;
  return headers;
}

/** RFC 9110 token (a header name), and what a header value may not hold (RFC 9110 §5.5). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FORBIDDEN_IN_VALUE = /[\r\n\0]/;

/**
 * Headers as flat pairs for the trip to the front. Several values: one pair each for Set-Cookie
 * (fastify appends those), joined by ", " for the others (the same field, RFC 9110 §5.3). A name
 * or value that is not legal HTTP is a coded error naming the route and the header, answered as
 * a 500 (and not fastify's raw one, or a response split in two).
 */
function toPairs(headers: Readonly<Record<string, HeaderValue>>, route: string): string[] {
  const pairs: string[] = [];
  for (const name in headers) {
    const value = headers[name] as HeaderValue;
    if (!TOKEN.test(name)) throw new ResponseHeaderInvalid(route, JSON.stringify(name), 'the name is not a token');
    if (typeof value === 'string') {
      if (FORBIDDEN_IN_VALUE.test(value)) throw new ResponseHeaderInvalid(route, name, 'its value holds CR, LF or NUL');
      pairs.push(name, value);
      continue;
    }
    if (value.some((v) => FORBIDDEN_IN_VALUE.test(v))) throw new ResponseHeaderInvalid(route, name, 'a value holds CR, LF or NUL');
    if (name === 'set-cookie') for (const v of value) pairs.push(name, v);
    else pairs.push(name, value.join(', '));
  }
  return pairs;
}

/**
 * What a returned object is, when drover cannot send it as the JSON it would silently become
 * (`{}` for a Map, an Error or a stream), or null for plain data.
 */
function unsendable(value: object): string | null {
  // The common case first, at the cost of one lookup: plain objects and arrays are JSON.
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === Array.prototype || proto === null) return null;
  if (value instanceof Map || value instanceof Set || value instanceof WeakMap || value instanceof WeakSet) return `a ${value.constructor.name} (JSON would drop its entries; return an object or an array)`;
  if (value instanceof Error) return `an Error (throw it, or httpError(status, message), instead)`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} (return a Uint8Array or bytes() for binary data)`;
  if (typeof (value as { pipe?: unknown }).pipe === 'function') return 'a writable Node stream (return a Readable, or an async iterable, to stream)';
  if (typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function') return 'an iterator or generator (stream with an `async function*`, or return an array)';
  return null;
}

function toResponse(result: unknown, viewName: string): HttpResponse {
  if (isResponse(result)) return result;
  if (result === undefined) throw new ViewReturnedUndefined(viewName);
  if (typeof result === 'string') return text(result);
  if (result instanceof Uint8Array) return bytes(result);
  if (result instanceof ArrayBuffer) return bytes(new Uint8Array(result));
  if (result === null) return json(null);
  if (typeof result === 'object') {
    if (typeof Response === 'function' && result instanceof Response) return fromWebResponse(result);
    if (isStreamSource(result)) return stream(result);
    const what = unsendable(result);
    if (what !== null) throw new ViewReturnedUnsupported(viewName, what);
    try {
      return json(result);
    } catch (err) {
      // JSON.stringify's own refusals: a BigInt, a circular structure.
      throw new ViewReturnedUnsupported(viewName, `a value JSON cannot encode (${(err as Error).message})`);
    }
  }
  throw new ViewReturnedUnsupported(viewName, typeof result === 'function' ? 'a function (call it?)' : `a ${typeof result}`);
}

/** A view's answer as the worker sends it: the envelope, and for a stream the reader of its body. */
export interface ViewOutcome {
  readonly envelope: ResponseEnvelope;
  /** The body to stream (pool/stream-source.ts), or undefined. */
  readonly reader?: ChunkReader;
  /**
   * Events the request published, still to be written before the response may leave, and the
   * 503 that replaces the response if the bus does not take them.
   */
  readonly events?: { readonly outbox: Outbox; unavailable(err: unknown): ViewOutcome };
}

function envelope(response: HttpResponse, route: string, method: string): ViewOutcome {
  const headers = toPairs(response.headers, route);
  if (response.stream) {
    const reader = chunkReader(response.stream);
    const body = { status: response.status, headers, body: null, worker: threadId };
    // HEAD, 204, 304: no body is sent, so the stream is stopped before it produces anything.
    if (method === 'HEAD' || response.body === null && (response.status === 204 || response.status === 304 || response.status < 200)) {
      void reader.cancel(new DOMException('the response has no body', 'AbortError'));
      return { envelope: body };
    }
    return { envelope: body, reader };
  }
  return {
    envelope: {
      status: response.status,
      headers,
      body: response.body ? ownedBuffer(response.body) : null,
      worker: threadId,
      ...(response.file ? { file: response.file } : {}),
    },
  };
}

/**
 * The 500 response. Outside DEBUG it names only the request id. In DEBUG it shows the error and
 * its stack: an HTML page for a browser (Accept: text/html), JSON otherwise.
 */
function serverError(err: unknown, req: Request, options: Pick<ViewRunOptions, 'debug'>): HttpResponse {
  if (!options.debug) return json(errorPayload(500, 'Internal Server Error', req.id), { status: 500 });
  const error = err as Error & { code?: string };
  const detail = { message: String(error?.message ?? err), code: error?.code, stack: error?.stack };
  if (/\btext\/html\b/.test(req.headers.accept ?? '')) return html(debugErrorPage(req, detail), { status: 500 });
  return json(errorPayload(500, 'Internal Server Error', req.id, { detail }), { status: 500 });
}

function debugErrorPage(task: Request, detail: { message: string; code?: string | undefined; stack?: string | undefined }): string {
  return debugPage(
    `500 · ${detail.message}`,
    `<h1>Server error (DEBUG)</h1>
<p><b>${escapeHtml(task.method)} ${escapeHtml(task.url)}</b> · request id <code>${escapeHtml(task.id)}</code></p>
<h2>${escapeHtml(detail.code ? `${detail.code}: ` : '')}${escapeHtml(detail.message)}</h2>
<pre>${escapeHtml(detail.stack ?? '')}</pre>`,
  );
}

/** The app's `serverError` view (Django's handler500): the request and what was thrown. */
export type ServerErrorView = (req: Request, error: unknown) => unknown;

/** Options of the handlers that come from settings and the app's error views. */
export interface ViewRunOptions {
  readonly debug: boolean;
  /** The app's `serverError` export, answering a view's unexpected error (outside DEBUG). */
  readonly serverError?: ServerErrorView | null;
  /** TRUST_PROXY as a function (client-address.ts). */
  readonly trust: TrustFunction;
  /** FORM_MAX_FILE_SIZE, FORM_MAX_FILES, FORM_MAX_FIELDS. */
  readonly formLimits: FormLimits;
  /** How `req.publish()` writes to the bus; null where views cannot publish. */
  readonly publishing?: EventPublishing | null;
}

/** What publishing from views needs: the app's handlers by topic, the payload limit, the bus. */
export interface EventPublishing {
  /** The names of the handlers of `topic` (each gets a delivery). */
  readonly handlersOf: (topic: string) => readonly string[];
  /** EVENT_MAX_BYTES. */
  readonly maxBytes: number;
  /** The bus, opened on first use (an app that never publishes never opens it). */
  readonly bus: () => EventBus;
  /** The events written, one topic per event (drover_events_published_total). */
  readonly published: (topics: readonly string[]) => void;
}

/** A view drover runs in a worker: a route's, or the app's `notFound` view. */
export interface ViewEntry {
  /** The view's name, for logs. */
  readonly name: string;
  /** The route's pattern (the `route` of logs), `<unmatched>` for the notFound view. */
  readonly pattern: string;
  /** The view wrapped by the middleware, built once per thread. */
  readonly handler: Handler;
}

/**
 * What a view's error becomes: an `httpError` its status; anything else is logged and answered
 * 500, by the app's `serverError` view when it has one (outside DEBUG), else with drover's body
 * (the request id only; the error and its stack in DEBUG).
 */
async function errorResponse(err: unknown, req: Request, entry: Pick<ViewEntry, 'name' | 'pattern'>, options: ViewRunOptions): Promise<HttpResponse> {
  if (isHttpError(err)) return json(errorPayload(err.status, err.message, req.id), { status: err.status });
  req.log.error({ err, route: entry.pattern, view: entry.name }, 'view failed');
  if (options.serverError && !options.debug) {
    try {
      const response = toResponse(await options.serverError(req, err), 'serverError');
      return response.status >= 500 ? response : withStatus(response, 500);
    } catch (failure) {
      req.log.error({ err: failure, route: entry.pattern }, "the app's serverError view failed; answering with drover's 500");
    }
  }
  return serverError(err, req, options);
}

/** `response` with another status (a serverError view that forgot to say 500). */
function withStatus(response: HttpResponse, status: number): HttpResponse {
  return Object.freeze({ ...response, status });
}

/**
 * Builds the handler of every route once (and of the app's `notFound` view, last): the view,
 * normalised to a response, wrapped by the middleware in reverse order so that `middleware[0]` is
 * outermost (Django's order). Errors are responses: a view that throws is answered here, inside
 * the middleware, so `await next(req)` always resolves and middleware decorates every answer,
 * errors included.
 */
export function buildHandlers(
  routes: readonly Route[],
  middleware: readonly Middleware[],
  options: ViewRunOptions & { readonly notFound?: ((req: Request) => unknown) | null },
): readonly ViewEntry[] {
  const views = routes.map((route) => ({ name: route.view.name || route.pattern, pattern: route.pattern, view: route.view as (r: Request) => unknown }));
  const notFound = options.notFound;
  if (notFound) {
    // A not-found page that says 200 would be a soft 404 to crawlers and clients: a 2xx becomes 404.
    const view = async (req: Request): Promise<HttpResponse> => {
      const response = toResponse(await notFound(req), notFound.name || 'notFound');
      return response.status < 300 ? withStatus(response, 404) : response;
    };
    views.push({ name: notFound.name || 'notFound', pattern: UNMATCHED_ROUTE, view });
  }
  return Object.freeze(
    views.map(({ name, pattern, view }) => {
      let handler: Handler = async (req) => {
        try {
          return toResponse(await view(req), name);
        } catch (err) {
          (req as ViewRequest).discardEvents();
          return errorResponse(err, req, { name, pattern }, options);
        }
      };
      for (const mw of [...middleware].reverse()) {
        const wrapped = mw(handler);
        const mwName = `middleware ${mw.name || 'anonymous'}`;
        handler = async (req) => toResponse(await wrapped(req), mwName);
      }
      return Object.freeze({ name, pattern, handler });
    }),
  );
}

/**
 * The request object a view receives, for `task`; made before the view runs so the worker can
 * abort its `signal` when the client leaves.
 *
 * @example
 * const req = createRequest(task, logger, options);
 * const outcome = await runView(entry, req, options);
 */
export function createRequest(task: RequestTask, logger: Logger, options: ViewRunOptions): ViewRequest {
  return new ViewRequest(task, logger, options.trust, options.formLimits, options.publishing ?? null);
}

export type { ViewRequest };

/**
 * Runs `entry`'s handler for `req`. Never throws: what a middleware throws is answered as a
 * view's error is (errorResponse).
 */
export async function runView(entry: ViewEntry, req: ViewRequest, options: ViewRunOptions): Promise<ViewOutcome> {
  try {
    const response = await entry.handler(req);
    const outbox = req.outbox;
    if (outbox && outbox.size > 0) {
      // After the view succeeded, before its answer leaves: never a 200 for work that was lost.
      const unavailable = (err: unknown): ViewOutcome => {
        const error = new BusUnavailable(String(outbox.size), (err as Error).message);
        req.log.error({ err, route: entry.pattern, topics: outbox.topics }, error.message);
        return envelope(withHeaders(json(errorPayload(503, error.message, req.id), { status: 503 }), { 'retry-after': '1' }), entry.pattern, req.method);
      };
      // A plain response's events are written by the thread with the other responses of its turn,
      // in one transaction (group commit); a stream's now, since its head leaves with its first chunk.
      if (!response.stream) return { ...envelope(response, entry.pattern, req.method), events: { outbox, unavailable } };
      try {
        await outbox.flush((options.publishing as EventPublishing).bus());
        (options.publishing as EventPublishing).published(outbox.topics);
      } catch (err) {
        return unavailable(err);
      }
    }
    return envelope(response, entry.pattern, req.method);
  } catch (err) {
    // Also what envelope() refuses (an illegal header): answered as any view error is.
    const response = await errorResponse(err, req, entry, options);
    try {
      return envelope(response, entry.pattern, req.method);
    } catch (again) {
      // The app's serverError view answered with an illegal header too: drover's own 500.
      req.log.error({ err: again, route: entry.pattern }, "the app's serverError view failed; answering with drover's 500");
      return envelope(serverError(err, req, options), entry.pattern, req.method);
    }
  }
}
