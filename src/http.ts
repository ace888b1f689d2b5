/**
 * What a view sees and returns: the request object, the response helpers and `httpError`.
 */
import { serialize, type SerializeOptions } from 'cookie';
import { sign, unsign } from 'cookie-signature';
import { isAbsolute as isAbsolutePath, relative as relativePath, resolve as resolvePath, sep } from 'node:path';
import type { Logger } from 'pino';
import { ResponseStatusInvalid, SecretKeyMissing } from './errors.js';
import type { Form } from './form.js';
import type { FileSpec } from './pool/protocol.js';
import type { StreamSource } from './streaming.js';
import type { PublishOptions } from './events/publish.js';

/** A response header's value: one, or several (each `Set-Cookie` its own line; others joined by ", "). */
export type HeaderValue = string | readonly string[];

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
  /** The client's address: the socket's peer, or behind trusted proxies (TRUST_PROXY) the one X-Forwarded-For names. */
  readonly ip: string;
  /** Every address on the way: the socket's peer first, then X-Forwarded-For's from right to left, up to the first untrusted. */
  readonly ips: readonly string[];
  /** The Host the client asked for, port included (`X-Forwarded-Host` behind a trusted proxy). */
  readonly host: string;
  /** `http` or `https` (`X-Forwarded-Proto` behind a trusted proxy). */
  readonly protocol: string;
  /** The request's cookies, parsed from its `Cookie` header (the `cookie` package). */
  readonly cookies: Readonly<Record<string, string>>;
  /**
   * The value of a cookie set with `withCookie(…, { signed: true })`, or undefined when it is
   * missing or its signature does not match SECRET_KEY (tampered with, or signed with another key).
   */
  signedCookie(name: string): string | undefined;
  /** The raw body bytes (empty when there is none). */
  readonly body: Uint8Array;
  /** Request id, as in the `X-Request-Id` response header and the access log's `reqId`. */
  readonly id: string;
  /** A pino logger bound to this request's id. */
  readonly log: Logger;
  /**
   * Aborts when the client disconnects before its answer is complete, when the request's
   * deadline (REQUEST_TIMEOUT or the route's `timeout`) passes before the view answers, and when
   * a response stream is cancelled (the client left, or it made no progress for the timeout).
   * Pass it to `fetch()` and other cancellable work; a streaming view checks `signal.aborted`.
   */
  readonly signal: AbortSignal;
  /**
   * The body parsed as a form (`application/x-www-form-urlencoded` or `multipart/form-data`, by
   * busboy, in this worker thread): fields and files. Over FORM_MAX_FILE_SIZE, FORM_MAX_FILES or
   * FORM_MAX_FIELDS rejects with a 413 naming the limit, a malformed body with a 400, another
   * content type with a 415.
   */
  form(): Promise<Form>;
  /**
   * Publishes an event to the bus: `payload` is checked now (JSON, at most EVENT_MAX_BYTES, else
   * a coded error naming the topic) and written once the view has returned, before its response
   * is sent. A view that throws publishes nothing; a bus that cannot take the events turns the
   * response into a 503. Options: `key` (the same topic and key twice is one event), `delay` (seconds).
   */
  publish(topic: string, payload: unknown, options?: PublishOptions): void;
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
  readonly headers: Readonly<Record<string, HeaderValue>>;
  readonly body: Uint8Array | null;
  /** For file(): the file the front sends from disk. */
  readonly file?: FileSpec;
  /** For stream(), sse() and a returned stream or WHATWG Response: the body, chunk by chunk. */
  readonly stream?: StreamSource;
}

/** Options of file(). */
export interface FileOptions {
  /** The directory the file must be inside (default: the working directory, the project's root). */
  readonly root?: string;
  /** Offer it as a download with this file name (`Content-Disposition: attachment`). */
  readonly downloadName?: string;
  /** A Content-Type instead of the one guessed from the extension. */
  readonly contentType?: string;
  /** Seconds clients may cache it (`Cache-Control: public, max-age`), default 0. */
  readonly maxAge?: number;
}

/**
 * A file from disk, sent by the front thread (the bytes never cross a thread), with
 * `Content-Type`, `ETag`, `Last-Modified`, `Range` requests (206, 416) and conditional requests
 * (304), the way @fastify/static sends. `path` is relative to `root` (or absolute inside it); a
 * path that leaves `root`, a dotfile, a directory or a missing file answers 404, never the file.
 *
 * @example
 * get('/reports/<int:id>.pdf', (req) => file(`reports/${req.params.id}.pdf`, { root: '/srv/data', downloadName: 'report.pdf' }))
 */
export function file(path: string, options: FileOptions = {}): HttpResponse {
  const root = resolvePath(options.root ?? process.cwd());
  const absolute = resolvePath(root, path);
  const inside = relativePath(root, absolute);
  // A path that leaves the root is answered 404 by the front (send() refuses "..", and this never names it).
  const relative = inside.startsWith('..') || isAbsolutePath(inside) ? '/..' : `/${inside.split(sep).join('/')}`;
  const spec: FileSpec = {
    root,
    path: relative,
    download: options.downloadName ?? null,
    type: options.contentType ?? null,
    maxAge: Math.max(0, Math.floor(options.maxAge ?? 0)),
  };
  return Object.freeze({ [RESPONSE]: true as const, status: 200, headers: {}, body: null, file: spec });
}

/** Options of the response helpers. */
export interface ResponseInit {
  /** HTTP status, default 200. */
  readonly status?: number;
  /** Extra response headers; an array gives a header several values. */
  readonly headers?: Readonly<Record<string, HeaderValue>>;
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

/**
 * A frozen response. `contentType` is set unless the status forbids a body or the headers give
 * one (null: none); `stream`, when given, is the body instead of `body`.
 */
export function makeResponse(helper: string, contentType: string | null, body: Uint8Array | null, init: ResponseInit, stream?: StreamSource): HttpResponse {
  const status = checkStatus(helper, init.status ?? 200);
  const headers: Record<string, HeaderValue> = {};
  // Statuses that forbid a body (RFC 9110 §15.3.5, §15.4.5) get none, whatever the view passed.
  const bodiless = status === 204 || status === 304 || status < 200;
  if (!bodiless && contentType !== null) headers['content-type'] = contentType;
  for (const [name, value] of Object.entries(init.headers ?? {})) headers[name.toLowerCase()] = headerValue(value);
  const response = { [RESPONSE]: true as const, status, headers, body: bodiless ? null : body };
  return Object.freeze(stream ? { ...response, stream } : response);
}

const respond = makeResponse;

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
 * A binary response (`application/octet-stream` unless a content-type header says otherwise). The
 * bytes are copied, so the view may reuse or change its array afterwards.
 *
 * @example
 * return bytes(png, { headers: { 'content-type': 'image/png' } });
 */
export function bytes(body: Uint8Array, init: ResponseInit = {}): HttpResponse {
  // A copy: the body's buffer is moved (transferred) to the front thread, which would leave the
  // view's own array empty for the next request (a module-level constant, say).
  return respond('bytes', 'application/octet-stream', new Uint8Array(body), init); // a copy: Buffer's slice() is a view
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
export function withHeaders(response: HttpResponse, headers: Readonly<Record<string, HeaderValue>>): HttpResponse {
  const merged: Record<string, HeaderValue> = { ...response.headers };
  for (const [name, value] of Object.entries(headers)) merged[name.toLowerCase()] = headerValue(value);
  return Object.freeze({ ...response, headers: merged });
}

const headerValue = (value: HeaderValue): HeaderValue => (Array.isArray(value) ? Object.freeze(value.map(String)) : String(value));

const SECRET_KEY = Symbol.for('drover.secretKey');

/**
 * Makes `secret` the key signed cookies use in this thread (drover calls it in each worker with
 * SECRET_KEY). A global symbol, so an app's own copy of drover signs with the same key.
 */
export function setSecretKey(secret: string | null): void {
  (globalThis as Record<symbol, unknown>)[SECRET_KEY] = secret;
}

/** SECRET_KEY, or a coded error naming what needed it. */
export function secretKey(what: string): string {
  const secret = (globalThis as Record<symbol, unknown>)[SECRET_KEY];
  if (typeof secret !== 'string' || secret === '') throw new SecretKeyMissing(what);
  return secret;
}

/** Options of withCookie(): the cookie attributes (the `cookie` package's), and `signed`. */
export interface CookieOptions extends Omit<SerializeOptions, 'encode'> {
  /** Sign the value with SECRET_KEY (HMAC-SHA256); read it back with `req.signedCookie(name)`. */
  readonly signed?: boolean;
}

/**
 * A copy of `response` that also sets a cookie: one more `Set-Cookie` line, with every attribute
 * (`maxAge` in seconds, `expires`, `path` (default `/`), `domain`, `secure`, `httpOnly`,
 * `sameSite` (default `lax`), `partitioned`, `priority`), serialized by the `cookie` package.
 * A name or value it cannot encode safely is refused with its error.
 *
 * @example
 * return withCookie(json({ ok: true }), 'session', id, { httpOnly: true, secure: true, maxAge: 3600, signed: true });
 */
export function withCookie(response: HttpResponse, name: string, value: string, options: CookieOptions = {}): HttpResponse {
  const { signed, ...attributes } = options;
  const stored = signed ? `s:${sign(value, secretKey(`the signed cookie "${name}"`))}` : value;
  const line = serialize(name, stored, { path: '/', sameSite: 'lax', ...attributes });
  const existing = response.headers['set-cookie'];
  const lines = existing === undefined ? [line] : [...(Array.isArray(existing) ? existing : [existing as string]), line];
  return withHeaders(response, { 'set-cookie': lines });
}

/**
 * A copy of `response` that deletes a cookie (an empty value that expired in 1970); give the same
 * `path` and `domain` it was set with.
 *
 * @example
 * return withoutCookie(redirect('/'), 'session');
 */
export function withoutCookie(response: HttpResponse, name: string, options: Pick<CookieOptions, 'path' | 'domain'> = {}): HttpResponse {
  return withCookie(response, name, '', { ...options, expires: new Date(0), maxAge: 0 });
}

/** The value of a signed cookie's raw text, or undefined when its signature does not verify. */
export function unsignCookie(raw: string | undefined, name: string): string | undefined {
  if (raw === undefined || !raw.startsWith('s:')) return undefined;
  const value = unsign(raw.slice(2), secretKey(`the signed cookie "${name}"`));
  return value === false ? undefined : value;
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
