/**
 * `drover/testing`: a test client that runs the whole stack — settings, front, pool, workers — in
 * the test's process without opening a port, like Django's test `Client`. Requests go through
 * fastify's `inject()`, so routing, limits, request ids, dispatch, views and metrics are the real
 * ones.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { settingsTable } from '../config/settings.js';
import { resolveAppPath } from './app/find-app.js';
import { createLogger } from './logging.js';
import { createServer, type EventRunReport } from './serve.js';

export type { EventRunReport } from './serve.js';
import { environment, loadDotenv, loadSettings } from './settings.js';

/** A response as the test client returns it. */
export interface TestResponse {
  readonly status: number;
  /** Response headers, lower-case names (several values joined by ", "). */
  readonly headers: Readonly<Record<string, string>>;
  /** Each `Set-Cookie` line of the response, whole. */
  readonly setCookies: readonly string[];
  /** The raw body. */
  readonly body: Buffer;
  /** The body parsed as JSON. */
  json<T = unknown>(): T;
  /** The body as UTF-8 text. */
  text(): string;
}

/** Options of one request. */
export interface TestRequestOptions {
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent as the body with `content-type: application/json`. */
  readonly json?: unknown;
  /** A raw body. */
  readonly body?: string | Buffer;
}

/** The client returned by testClient(). */
export interface TestClient {
  request(method: string, path: string, options?: TestRequestOptions): Promise<TestResponse>;
  get(path: string, options?: TestRequestOptions): Promise<TestResponse>;
  post(path: string, options?: TestRequestOptions): Promise<TestResponse>;
  put(path: string, options?: TestRequestOptions): Promise<TestResponse>;
  patch(path: string, options?: TestRequestOptions): Promise<TestResponse>;
  delete(path: string, options?: TestRequestOptions): Promise<TestResponse>;
  /**
   * The events published so far (by views, and by handlers during runEvents()), oldest first, of
   * one topic when given, with their payloads parsed.
   */
  published(topic?: string): Promise<TestEvent[]>;
  /**
   * Runs the app's handlers in this process, as a worker would, until none of their deliveries is
   * ready or running (the events they publish are handled too), and resolves with each handler's
   * outcomes. No worker process is needed.
   */
  runEvents(): Promise<EventRunReport>;
  /** Stops the workers. Call it when the tests are done (e.g. in a teardown). */
  close(): Promise<void>;
}

/** A published event, as a test sees it. */
export interface TestEvent {
  readonly id: string;
  readonly topic: string;
  readonly payload: unknown;
  /** The request id of the request that started the chain, or null. */
  readonly correlationId: string | null;
}

/** Options of testClient(). */
export interface TestClientOptions {
  /**
   * Settings (drover's and the app's) for this client, over the environment; LOG_LEVEL defaults
   * to `warn` here, and BUS_PATH to a fresh database of the client's own, removed by close().
   */
  readonly env?: Readonly<Record<string, string>>;
}

function toResponse(res: LightMyRequestResponse): TestResponse {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  const setCookie = res.headers['set-cookie'];
  return {
    status: res.statusCode,
    headers,
    setCookies: setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [String(setCookie)],
    body: res.rawPayload,
    json: <T>() => JSON.parse(res.payload) as T,
    text: () => res.payload,
  };
}

/**
 * Starts the app at `app` (a built module's path) in-process and returns a client for it.
 *
 * @example
 * import { testClient } from 'drover/testing';
 * const client = await testClient('dist/app/index.js');
 * const res = await client.get('/items/7');
 * assert.deepEqual(res.json(), { id: 7, name: 'item 7' });
 * await client.close();
 */
export async function testClient(app: string, options: TestClientOptions = {}): Promise<TestClient> {
  loadDotenv();
  const scratch = options.env?.BUS_PATH === undefined ? mkdtempSync(join(tmpdir(), 'drover-test-bus-')) : null;
  const env = environment({ LOG_LEVEL: 'warn', ...(scratch ? { BUS_PATH: join(scratch, 'events.db') } : {}), ...options.env });
  const settings = loadSettings(settingsTable, env);
  const server = await createServer(settings, resolveAppPath(app), createLogger(settings), env);
  const request = async (method: string, path: string, opts: TestRequestOptions = {}): Promise<TestResponse> => {
    const headers: Record<string, string> = { ...opts.headers };
    let payload = opts.body;
    if (opts.json !== undefined) {
      payload = JSON.stringify(opts.json);
      headers['content-type'] ??= 'application/json';
    }
    const res = await server.front.inject({
      method: method.toUpperCase() as 'GET',
      url: path,
      headers,
      ...(payload !== undefined ? { payload } : {}),
    });
    return toResponse(res);
  };
  return {
    request,
    get: (path, opts) => request('GET', path, opts),
    post: (path, opts) => request('POST', path, opts),
    put: (path, opts) => request('PUT', path, opts),
    patch: (path, opts) => request('PATCH', path, opts),
    delete: (path, opts) => request('DELETE', path, opts),
    async published(topic) {
      return (await server.published(topic)).map((e) => ({ id: e.id, topic: e.topic, payload: JSON.parse(e.payload) as unknown, correlationId: e.correlation }));
    },
    runEvents: () => server.runEvents(),
    async close() {
      await server.drain();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    },
  };
}
