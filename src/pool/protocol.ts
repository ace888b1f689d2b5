/**
 * Everything that crosses between the front thread and a worker thread, typed in one place.
 *
 * Envelopes are plain, structured-clone-safe data; requests and responses cross as tuples, and
 * headers as flat name/value arrays (RequestTuple says why). Bodies travel as `ArrayBuffer`s of
 * exactly their size. Response bodies are transferred (moved, not copied). Request bodies are
 * copied: the front keeps each until its request is answered, because a request that has not
 * started may be taken back and sent to another thread (work stealing, or its thread died), body
 * included.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Settings } from '../../config/settings.js';
import type { Method } from '../router.js';
import type { MetricSnapshot } from '../view-metrics.js';
import type { HandlerInfo } from '../events/handlers.js';
import type { ScheduleInfo } from '../events/schedules.js';

/** What every worker thread receives at start, in `workerData`. */
export interface WorkerData {
  readonly settings: Settings;
  /** Absolute path of the app module to import. */
  readonly app: string;
  /** Name of the BroadcastChannel carrying log lines to the front. */
  readonly channel: string;
  /** The pool the thread belongs to (the hooks' `ctx.pool`). */
  readonly pool: string;
  /**
   * The environment the front read at boot (with `.env`), which the app's settings are parsed
   * from in every thread: the front is the only reader of `process.env`.
   */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** One Int32 the thread sets to its BootStage, so the front can say where a boot got stuck. */
  readonly stage: SharedArrayBuffer;
  /** The process's bus write lock (events/write-lock.ts), shared by every thread of every pool. */
  readonly busLock: SharedArrayBuffer;
}

/** How far a worker thread's boot got (written to WorkerData.stage). */
export const BootStage = { starting: 0, importing: 1, startup: 2, ready: 3 } as const;

/** An error that stopped a thread's boot or hook, as plain data. */
export interface ThreadError {
  readonly code?: string;
  readonly message: string;
  /** The app's frames of the stack (app-errors.ts), '' when none. */
  readonly appStack?: string;
}

/** Run when the thread retires: the app's `shutdown` hook. */
export interface ShutdownTask {
  readonly kind: 'shutdown';
}

/** The worker's answer to a ShutdownTask. */
export type ShutdownResult = ({ readonly ok: true } | { readonly ok: false; readonly error: ThreadError }) & {
  /** The thread's last metrics, after its shutdown hook: what it counted is kept when it is gone. */
  readonly metrics?: MetricSnapshot;
};

/**
 * The one piscina task a worker thread runs: import the app, report its route table, and take
 * `port`, the channel every request of this thread travels on afterwards.
 */
export interface ManifestTask {
  readonly kind: 'manifest';
  readonly port: MessagePort;
  /** The thread's start claims (claims.ts), shared with the front. */
  readonly claims: SharedArrayBuffer;
  /** Views the thread runs at once (WORKER_CONCURRENCY or the pool's `concurrency`). */
  readonly concurrency: number;
}

/**
 * Header names and values, flat: `[name, value, name, value, …]`, names lower-case, a repeated
 * header's values joined with ", ". A flat array of strings is cheaper to post than an object.
 */
export type HeaderPairs = readonly string[];

/**
 * The `method` of a task that is an event delivery rather than an HTTP request: it travels the
 * same way (dispatcher, deadlines, slots) to the app's handler at index `route` of its `events`;
 * `query` carries the delivery (DeliveryQuery) and `body` the payload's JSON.
 */
export const EVENT_METHOD = 'EVENT';

/** What a delivery task's `query` holds. */
export interface DeliveryQuery {
  readonly eventId: string;
  readonly topic: string;
  readonly attempt: string;
  /** The correlation id, '' when none. */
  readonly correlation: string;
  [key: string]: string;
}

/** One HTTP request, routed and ready for its view (or an event delivery, EVENT_METHOD). */
export interface RequestTask {
  /** Sequence number on the slot's channel, set by the slot when sent; the response carries it back. */
  seq?: number;
  /** The request's start-claim cell (claims.ts), set by the slot when sent. */
  cell?: number;
  /** Index of the route in the app's route table. */
  readonly route: number;
  /** Request id (X-Request-Id). */
  readonly id: string;
  readonly method: string;
  /** Path and query, as received. */
  readonly url: string;
  /** Path without the query. */
  readonly path: string;
  /** Converted parameters. */
  readonly params: Record<string, string | number>;
  readonly query: Record<string, string | string[]>;
  readonly headers: HeaderPairs;
  /** Raw body bytes (copied to the thread; the front keeps its own), or null when there is none. */
  readonly body: ArrayBuffer | null;
  /**
   * The peer's address on the socket. The worker works out `req.ip`, `ips`, `host` and
   * `protocol` from it and the headers (TRUST_PROXY), on first use: the front pays one string.
   */
  readonly remoteAddress: string;
}

/**
 * A request as posted: its fields in a fixed order. Tuples, not objects, cross the thread
 * boundary: V8's structured clone writes and reads every property name of every object, and for
 * light views that was a measurable share of the front thread's time per request.
 */
type RequestTuple = readonly [
  seq: number,
  cell: number,
  route: number,
  id: string,
  method: string,
  url: string,
  path: string,
  params: RequestTask['params'],
  query: RequestTask['query'],
  headers: HeaderPairs,
  body: ArrayBuffer | null,
  remoteAddress: string,
];

/** What the front posts on a thread's channel: every request for it from one event-loop turn. */
export type RequestBatch = readonly RequestTuple[];

/** The front's side: `tasks` as one message. */
export function packRequests(tasks: readonly RequestTask[]): RequestBatch {
  return tasks.map((t) => [t.seq as number, t.cell as number, t.route, t.id, t.method, t.url, t.path, t.params, t.query, t.headers, t.body, t.remoteAddress]);
}

/** The worker's side: the requests of one message. */
export function unpackRequests(batch: RequestBatch): RequestTask[] {
  return batch.map(([seq, cell, route, id, method, url, path, params, query, headers, body, remoteAddress]) => ({
    seq,
    cell,
    route,
    id,
    method,
    url,
    path,
    params,
    query,
    headers,
    body,
    remoteAddress,
  }));
}

/**
 * What the front posts on a thread's channel besides request batches: the client of a running
 * request left, or its deadline passed, so its `req.signal` aborts (the request at `cell`, if its
 * sequence number is `seq`).
 */
export interface AbortRequest {
  readonly abort: readonly [cell: number, seq: number, why: 'client' | 'timeout'];
}

/**
 * How long a thread has, after the front asked it to stop something (a view past its deadline, a
 * cancelled response stream), to show its event loop still runs: the view settles, or the stream
 * answers. Past it the thread is taken for stuck (a view busy on the CPU) and replaced.
 */
export const ABORT_GRACE_MS = 1000;

/**
 * The front asks a thread for its metrics now (a scrape of /metrics): the thread answers with a
 * batch that has `reported` set, and its metrics when they changed.
 */
export interface MetricsRequest {
  readonly report: true;
}

/**
 * How often a thread sends its metrics when they changed, in milliseconds: what a thread that
 * crashes (or is terminated, stuck) may lose of them. A scrape asks every thread at once, and a
 * retiring thread sends its last values with its shutdown, so neither waits for this.
 */
export const METRICS_PUSH_MS = 1000;

/** How long a scrape waits for a thread's answer: a thread busy on the CPU answers late, and its last values stand in. */
export const METRICS_REPORT_WAIT_MS = 500;

/** Everything the front posts on a thread's channel. */
export type FrontMessage = RequestBatch | AbortRequest | MetricsRequest;

/**
 * Bytes one response stream may have in flight between its worker thread and the front: sent by
 * the view and not yet taken by the client's connection. With the socket's own buffers, this is
 * what a stream to a slow client holds in memory, however long the stream is.
 */
export const STREAM_WINDOW = 1024 * 1024;

/**
 * What a worker posts on a response stream's own channel: a chunk, the end, a failure (the
 * view's stream threw; its message), or `cancelled` (the answer to a cancel, which tells the front
 * the thread is not stuck).
 */
export type StreamMessage = ArrayBuffer | { readonly end: true } | { readonly error: string } | 'cancelled';

/**
 * What the front posts on a response stream's channel: bytes the client's connection took (the
 * worker may send that many more), or a cancel (the client left, the stream's timeout passed,
 * its thread retires), with the reason `req.signal` aborts with.
 */
export type StreamControl = number | { readonly cancel: 'client' | 'timeout' | 'shutdown' };

/** A route as the front thread sees it: data only, the view stays in the worker. */
export interface RouteInfo {
  readonly id: number;
  readonly methods: readonly Method[];
  readonly pattern: string;
  readonly name: string | null;
  /** Seconds; overrides REQUEST_TIMEOUT for this route. */
  readonly timeout: number | null;
  /** The pool that runs it. */
  readonly pool: string;
}

/** A worker pool the app declares (`export const pools`), besides `default`. */
export interface PoolSpec {
  /** Worker threads (POOL_THREADS overrides it). */
  readonly threads: number;
  /** Views one thread runs at once (WORKER_CONCURRENCY when not given). */
  readonly concurrency?: number;
  /** Requests sent ahead to a thread (WORKER_PREFETCH when not given); 0 suits slow, CPU-bound views. */
  readonly prefetch?: number;
}

/** The worker's answer to a ManifestTask. */
export type ManifestResult =
  | {
      readonly ok: true;
      readonly routes: readonly RouteInfo[];
      readonly pools: Readonly<Record<string, PoolSpec>>;
      /** The app exports a `notFound` view: the front sends unmatched requests to it (route index routes.length). */
      readonly notFound: boolean;
      /** The app's event handlers (its `events` export), in order: a delivery task's `route` indexes them. */
      readonly events: readonly HandlerInfo[];
      /** The app's periodic events (its `schedules` export). */
      readonly schedules: readonly ScheduleInfo[];
    }
  | { readonly ok: false; readonly error: ThreadError };

/** The worker's answer to a RequestTask. */
export interface ResponseEnvelope {
  readonly status: number;
  readonly headers: HeaderPairs;
  /** Body bytes (transferred), or null for an empty body. */
  readonly body: ArrayBuffer | null;
  /** threadId of the worker that ran the view (the access log's `worker`); not posted, the slot knows it. */
  readonly worker: number;
  /** A file the front sends instead of a body (file()). */
  readonly file?: FileSpec;
  /** A streamed body, in the front: the channel its chunks arrive on, and its thread's fate. */
  readonly stream?: StreamHandle;
}

/** A streamed response body as the front receives it. */
export interface StreamHandle {
  /** The stream's own channel: StreamMessage in, StreamControl out. */
  readonly port: MessagePort;
  /** The thread does not answer a cancel (a view stuck on the CPU): replace it, as a timeout does. */
  stuck(): void;
}

/**
 * A response as posted (a tuple, as requests are): the request's sequence number and start-claim
 * cell, as sent, and when its view started, in milliseconds since the epoch (from
 * `performance.timeOrigin + performance.now()`).
 */
export type ResponseTuple = readonly [
  seq: number,
  cell: number,
  startedAt: number,
  status: number,
  headers: HeaderPairs,
  body: ArrayBuffer | null,
  /** Only for a file() response: the front sends the file (absent otherwise, so it costs nothing). */
  file?: FileSpec,
  /** Only for a streamed response: the channel of its chunks (transferred). */
  stream?: MessagePort,
];

/** A file the front sends from disk for a file() response: the bytes never cross a thread. */
export interface FileSpec {
  /** The directory the file must be inside. */
  readonly root: string;
  /** The file's path relative to `root`, starting with "/". */
  readonly path: string;
  /** `Content-Disposition: attachment` with this name, or null to show it inline. */
  readonly download: string | null;
  /** A Content-Type instead of the one guessed from the extension, or null. */
  readonly type: string | null;
  /** `Cache-Control: max-age`, seconds. */
  readonly maxAge: number;
}

/** What a thread posts back: every response finished in one of its turns, and its metrics. */
export interface ResponseBatch {
  readonly responses: readonly ResponseTuple[];
  /**
   * The thread's prom-client metrics, when they changed since it last sent them: at most every
   * METRICS_PUSH_MS, and when the front asks (never with every batch of responses).
   */
  readonly metrics?: MetricSnapshot;
  /** Set on the answer to a MetricsRequest. */
  readonly reported?: true;
  /** Set once, when the thread's heap passed WORKER_RECYCLE_HEAP_MB: replace it gracefully. */
  readonly recycle?: true;
  /** Events this thread's views and handlers published since its last batch, by topic (absent when none). */
  readonly published?: readonly (readonly [topic: string, count: number])[];
}

/** The worker's side: one response of a batch. */
export function packResponse(seq: number, cell: number, startedAt: number, response: ResponseEnvelope, stream?: MessagePort): ResponseTuple {
  if (stream) return [seq, cell, startedAt, response.status, response.headers, null, undefined, stream];
  return response.file ? [seq, cell, startedAt, response.status, response.headers, null, response.file] : [seq, cell, startedAt, response.status, response.headers, response.body];
}

/**
 * Returns an ArrayBuffer holding exactly `bytes`, without copying when `bytes` already owns its
 * whole buffer. A view over a larger buffer (Node's pooled small Buffers) is copied: transferring
 * the pool would detach it under every other Buffer that shares it, and cloning it would copy the
 * whole pool.
 */
export function ownedBuffer(bytes: Uint8Array): ArrayBuffer {
  const buffer = bytes.buffer;
  if (buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength) {
    return buffer;
  }
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}
