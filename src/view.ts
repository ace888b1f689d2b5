/**
 * Runs one view on one request envelope and turns whatever it returned or threw into a response
 * envelope. Runs inside a worker thread.
 */
import { threadId } from 'node:worker_threads';
import type { Logger } from 'pino';
import { ViewReturnedUndefined, ViewReturnedUnsupported } from './errors.js';
import { bytes, errorPayload, httpError, isHttpError, isResponse, json, text, type HttpResponse, type Request } from './http.js';
import { ownedBuffer, type RequestTask, type ResponseEnvelope } from './protocol.js';
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
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  readonly id: string;
  readonly #logger: Logger;
  #log: Logger | undefined;
  #json: { value: unknown } | undefined;

  constructor(task: RequestTask, logger: Logger) {
    this.method = task.method;
    this.path = task.path;
    this.url = task.url;
    this.params = task.params;
    this.query = task.query;
    this.headers = task.headers;
    this.body = task.body ? new Uint8Array(task.body) : EMPTY;
    this.id = task.id;
    this.#logger = logger;
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
    headers: response.headers,
    body: response.body ? ownedBuffer(response.body) : null,
    worker: threadId,
  };
}

/** Options of runView that come from settings. */
export interface ViewRunOptions {
  readonly debug: boolean;
}

/**
 * Runs `route`'s view for `task`. Never throws: an `httpError` becomes its status, anything else
 * a 500 whose body names only the request id (plus the error in DEBUG), with the error logged.
 */
export async function runView(route: Route, task: RequestTask, logger: Logger, options: ViewRunOptions): Promise<ResponseEnvelope> {
  const req = new ViewRequest(task, logger);
  const viewName = route.view.name || route.pattern;
  try {
    const result: unknown = await (route.view as (r: Request) => unknown)(req);
    return envelope(toResponse(result, viewName));
  } catch (err) {
    if (isHttpError(err)) {
      return envelope(json(errorPayload(err.status, err.message, task.id), { status: err.status }));
    }
    req.log.error({ err, route: route.pattern, view: viewName }, 'view failed');
    const error = err as Error & { code?: string };
    const detail = options.debug ? { detail: { message: String(error?.message ?? err), code: error?.code, stack: error?.stack } } : undefined;
    return envelope(json(errorPayload(500, 'Internal Server Error', task.id, detail), { status: 500 }));
  }
}
