/**
 * What a view sees and returns: the request object, the response helpers and `httpError`.
 */
import type { Logger } from 'pino';
import { ResponseStatusInvalid } from './errors.js';

/** The request a view receives. `P` is the typed `params` of the route's pattern. */
export interface Request<P = Record<string, string | number>> {
  readonly method: string;
  /** Path without the query string, e.g. `/items/7`. */
  readonly path: string;
  /** Path and query as received, e.g. `/items/7?full=1`. */
  readonly url: string;
  /** Converted path parameters: `<int:id>` gives a number. */
  readonly params: P;
  /** Query parameters; a repeated key gives an array. */
  readonly query: Readonly<Record<string, string | string[]>>;
  /** Request headers, names lower-case. */
  readonly headers: Readonly<Record<string, string>>;
  /** The raw body bytes (empty when there is none). */
  readonly body: Uint8Array;
  /** Request id, as in the `X-Request-Id` response header and the access log's `reqId`. */
  readonly id: string;
  /** A pino logger bound to this request's id. */
  readonly log: Logger;
  /** The body parsed as JSON; a malformed body throws a 400 `httpError`. */
  json<T = unknown>(): T;
  /** The body decoded as UTF-8. */
  text(): string;
}

/** A view: `(req) => result`, sync or async. See the README for what a result may be. */
export type View<P = Record<string, string | number>> = (req: Request<P>) => unknown;

// Brands are global symbols rather than `instanceof`, so an app that resolves its own copy of
// drover (a linked or nested install) still produces responses this copy recognises.
const RESPONSE = Symbol.for('drover.response');
const HTTP_ERROR = Symbol.for('drover.httpError');

/** A response built by json(), text(), html(), bytes() or redirect(). */
export interface HttpResponse {
  readonly [RESPONSE]: true;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array | null;
}

/** Options of the response helpers. */
export interface ResponseInit {
  /** HTTP status, default 200. */
  readonly status?: number;
  /** Extra response headers. */
  readonly headers?: Readonly<Record<string, string>>;
}

const encoder = new TextEncoder();

/** True when `value` was made by one of the response helpers. */
export function isResponse(value: unknown): value is HttpResponse {
  return typeof value === 'object' && value !== null && (value as Partial<HttpResponse>)[RESPONSE] === true;
}

function checkStatus(helper: string, status: number, min = 100, max = 599): number {
  if (!Number.isInteger(status) || status < min || status > max) throw new ResponseStatusInvalid(helper, String(status));
  return status;
}

function respond(helper: string, contentType: string, body: Uint8Array | null, init: ResponseInit): HttpResponse {
  const status = checkStatus(helper, init.status ?? 200);
  const headers: Record<string, string> = {};
  // Statuses that forbid a body (RFC 9110 §15.3.5, §15.4.5) get none, whatever the view passed.
  const bodiless = status === 204 || status === 304 || status < 200;
  if (!bodiless) headers['content-type'] = contentType;
  for (const [name, value] of Object.entries(init.headers ?? {})) headers[name.toLowerCase()] = String(value);
  return Object.freeze({ [RESPONSE]: true as const, status, headers, body: bodiless ? null : body });
}

/**
 * A JSON response.
 *
 * @example
 * return json({ created: 7 }, { status: 201, headers: { location: '/items/7' } });
 */
export function json(data: unknown, init: ResponseInit = {}): HttpResponse {
  return respond('json', 'application/json; charset=utf-8', encoder.encode(JSON.stringify(data) ?? 'null'), init);
}

/**
 * A plain-text response.
 *
 * @example
 * return text('pong');
 */
export function text(body: string, init: ResponseInit = {}): HttpResponse {
  return respond('text', 'text/plain; charset=utf-8', encoder.encode(String(body)), init);
}

/**
 * An HTML response.
 *
 * @example
 * return html('<h1>Hello</h1>');
 */
export function html(body: string, init: ResponseInit = {}): HttpResponse {
  return respond('html', 'text/html; charset=utf-8', encoder.encode(String(body)), init);
}

/**
 * A binary response (`application/octet-stream` unless a content-type header says otherwise).
 *
 * @example
 * return bytes(png, { headers: { 'content-type': 'image/png' } });
 */
export function bytes(body: Uint8Array, init: ResponseInit = {}): HttpResponse {
  return respond('bytes', 'application/octet-stream', body, init);
}

/**
 * A redirect to `url` (302 unless told otherwise).
 *
 * @example
 * return redirect('/items/7', 301);
 */
export function redirect(url: string, status = 302): HttpResponse {
  checkStatus('redirect', status, 300, 399);
  return respond('redirect', 'text/plain; charset=utf-8', new Uint8Array(0), { status, headers: { location: url } });
}

/**
 * A copy of `response` with extra headers (responses are frozen). For middleware.
 *
 * @example
 * const timing = (next) => async (req) => withHeaders(await next(req), { 'x-took-ms': '3' });
 */
export function withHeaders(response: HttpResponse, headers: Readonly<Record<string, string>>): HttpResponse {
  const merged: Record<string, string> = { ...response.headers };
  for (const [name, value] of Object.entries(headers)) merged[name.toLowerCase()] = String(value);
  return Object.freeze({ ...response, headers: merged });
}

/** A view after drover's normalisation: always resolves to a response. What middleware wraps. */
export type Handler = (req: Request) => Promise<HttpResponse>;

/**
 * Django-style middleware: takes the next handler, returns a handler. It may answer without
 * calling `next`; whatever it returns is normalised like a view's result.
 */
export type Middleware = (next: Handler) => (req: Request) => unknown;

/** An error that a view throws to answer with an HTTP status and a JSON error body. */
export class HttpError extends Error {
  readonly [HTTP_ERROR] = true as const;
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'HttpError';
    this.status = checkStatus('httpError', status, 400, 599);
  }
}

/**
 * Makes an error that answers `status` with `{"error": message, "status", "requestId"}`.
 *
 * @example
 * if (!item) throw httpError(404, `no item ${req.params.id}`);
 */
export function httpError(status: number, message: string): HttpError {
  return new HttpError(status, message);
}

/** True when `value` was made by httpError(). */
export function isHttpError(value: unknown): value is HttpError {
  return typeof value === 'object' && value !== null && (value as Partial<HttpError>)[HTTP_ERROR] === true;
}

/** The JSON error body drover uses everywhere, front and workers: `{ error, status, requestId }`. */
export function errorPayload(
  status: number,
  message: string,
  requestId: string,
  extra?: Record<string, unknown>,
): Record<string, unknown> {
  return { error: message, status, requestId, ...extra };
}

/**
 * A DEBUG page: the same plain HTML shell for the 500 and 404 pages. `body` is already HTML.
 */
export function debugPage(title: string, body: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem}pre{background:#f6f6f6;padding:1rem;overflow:auto}</style></head>
<body>${body}
<p>Shown because DEBUG=true. Never run production with DEBUG.</p></body></html>`;
}

/** Escapes text for HTML (DEBUG pages). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}
