/**
 * Runs one view on one request envelope and turns whatever it returned or threw into a response
 * envelope. Runs inside a worker thread.
 */
import { threadId } from 'node:worker_threads';
import type { Logger } from 'pino';
import { ViewReturnedUndefined, ViewReturnedUnsupported } from './errors.js';
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
  type Handler,
  type HttpResponse,
  type Middleware,
  type Request,
} from './http.js';
import { ownedBuffer, type HeaderPairs, type RequestTask, type ResponseEnvelope } from './pool/protocol.js';
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

  constructor(task: RequestTask, logger: Logger) {
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

  /** Built on first use, from the pairs the request travelled as. */
  get headers(): Readonly<Record<string, string>> {
    return (this.#headers ??= fromPairs(this.#headerPairs));
  }

  /** Created on first use: most views never log, and a pino child costs an allocation. */
  get log(): Logger {
    return (this.#log ??= this.#logger.child({ reqId: this.id }));
  }

  text(): string {
    return decoder.decode(this.body);
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

function toPairs(headers: Readonly<Record<string, string>>): string[] {
  const pairs: string[] = [];
  for (const name in headers) pairs.push(name, headers[name] as string);
  return pairs;
}

function toResponse(result: unknown, viewName: string): HttpResponse {
  if (isResponse(result)) return result;
  if (result === undefined) throw new ViewReturnedUndefined(viewName);
  if (typeof result === 'string') return text(result);
  if (result instanceof Uint8Array) return bytes(result);
  if (result instanceof ArrayBuffer) return bytes(new Uint8Array(result));
  if (result === null || typeof result === 'object') return json(result);
  throw new ViewReturnedUnsupported(viewName, `a ${typeof result}`);
}

function envelope(response: HttpResponse): ResponseEnvelope {
  return {
    status: response.status,
    headers: toPairs(response.headers),
    body: response.body ? ownedBuffer(response.body) : null,
    worker: threadId,
  };
}

/**
 * The 500 response. Outside DEBUG it names only the request id. In DEBUG it shows the error and
 * its stack: an HTML page for a browser (Accept: text/html), JSON otherwise.
 */
function serverError(err: unknown, req: Request, options: ViewRunOptions): HttpResponse {
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

/** Options of runView that come from settings. */
export interface ViewRunOptions {
  readonly debug: boolean;
}

/**
 * Builds the handler of every route once: the view, normalised to a response, wrapped by the
 * middleware in reverse order so that `middleware[0]` is outermost (Django's order).
 */
export function buildHandlers(routes: readonly Route[], middleware: readonly Middleware[]): readonly Handler[] {
  return Object.freeze(
    routes.map((route) => {
      const viewName = route.view.name || route.pattern;
      const view = route.view as (r: Request) => unknown;
      let handler: Handler = async (req) => toResponse(await view(req), viewName);
      for (const mw of [...middleware].reverse()) {
        const wrapped = mw(handler);
        const name = `middleware ${mw.name || 'anonymous'}`;
        handler = async (req) => toResponse(await wrapped(req), name);
      }
      return handler;
    }),
  );
}

/**
 * Runs `handler` (route `route`) for `task`. Never throws: an `httpError` becomes its status,
 * anything else a 500 whose body names only the request id (plus the error in DEBUG), with the
 * error logged.
 */
export async function runView(
  handler: Handler,
  route: Route,
  task: RequestTask,
  logger: Logger,
  options: ViewRunOptions,
): Promise<ResponseEnvelope> {
  const req = new ViewRequest(task, logger);
  try {
    return envelope(await handler(req));
  } catch (err) {
    if (isHttpError(err)) {
      return envelope(json(errorPayload(err.status, err.message, task.id), { status: err.status }));
    }
    const viewName = route.view.name || route.pattern;
    req.log.error({ err, route: route.pattern, view: viewName }, 'view failed');
    return envelope(serverError(err, req, options));
  }
}
