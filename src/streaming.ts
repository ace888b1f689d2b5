/**
 * Streaming response bodies, on the view's side: what a view may return as a stream, the
 * `stream()` helper, and one way to pull chunks from (and cancel) each kind of source. Runs in a
 * worker thread; pool/stream-source.ts carries the chunks to the front.
 */
import type { Readable } from 'node:stream';
import { ViewStreamChunkInvalid } from './errors.js';
import { makeResponse, type HeaderValue, type HttpResponse, type ResponseInit } from './http.js';

/** What a view may stream: an async iterable of chunks, a WHATWG ReadableStream or a Node Readable. */
export type StreamSource = AsyncIterable<unknown> | ReadableStream<unknown> | Readable;

/** A chunk of a stream: bytes, or a string sent as UTF-8. */
export type StreamChunk = Uint8Array | string;

/** One way to read any StreamSource: `next()` chunk by chunk, `cancel()` from any state. */
export interface ChunkReader {
  next(): Promise<IteratorResult<unknown>>;
  /**
   * Stops the source (the client left, or the stream's deadline passed). Resolves when the
   * source has finished stopping (an async generator's `finally` blocks ran); never rejects.
   */
  cancel(reason: unknown): Promise<void>;
}

const ignore = (): void => undefined;

/** A Node Readable destroyed: resolves once it closed. */
function destroyed(source: Readable): Promise<void> {
  if (source.closed) return Promise.resolve();
  const closed = new Promise<void>((resolve) => source.once('close', () => resolve()));
  source.destroy();
  return closed;
}

function isNodeReadable(value: object): value is Readable {
  const v = value as Partial<Readable>;
  return typeof v.pipe === 'function' && typeof v.on === 'function' && typeof v.destroy === 'function' && typeof v.read === 'function';
}

function isReadableStream(value: object): value is ReadableStream<unknown> {
  return typeof (value as Partial<ReadableStream>).getReader === 'function';
}

/** True for what a view may return as a stream (an Array or a string is not one). */
export function isStreamSource(value: unknown): value is StreamSource {
  if (typeof value !== 'object' || value === null) return false;
  return isReadableStream(value) || isNodeReadable(value) || typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}

/**
 * A reader for `source`. Each kind is cancelled its own way, because an async iterator's
 * `return()` waits for a pending `next()` to settle: a ReadableStream's reader is cancelled
 * (which settles a pending read at once), a Node Readable destroyed, an async generator
 * returned (it stops at its next `yield`, after running its `finally` blocks).
 */
export function chunkReader(source: StreamSource): ChunkReader {
  if (isReadableStream(source)) {
    const reader = source.getReader();
    return { next: () => reader.read() as Promise<IteratorResult<unknown>>, cancel: (reason) => reader.cancel(reason).catch(ignore) };
  }
  if (isNodeReadable(source)) {
    const iterator = source[Symbol.asyncIterator]();
    return { next: () => iterator.next(), cancel: () => destroyed(source) };
  }
  const iterator = source[Symbol.asyncIterator]();
  return { next: () => iterator.next(), cancel: async () => void (await iterator.return?.()?.catch(ignore)) };
}

const encoder = new TextEncoder();

/**
 * A chunk as bytes the thread may transfer: a string is encoded; bytes are copied, because the
 * view may reuse its buffer for the next chunk (a transferred buffer is detached in the view).
 * Anything else is a coded error naming the route and the type found.
 */
export function chunkBytes(chunk: unknown, route: string): Uint8Array {
  if (typeof chunk === 'string') return encoder.encode(chunk);
  if (chunk instanceof Uint8Array) return new Uint8Array(chunk); // a copy (Buffer's slice() is a view)
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk.slice(0));
  const what = chunk === null ? 'null' : typeof chunk === 'object' ? `a ${chunk.constructor?.name ?? 'object'}` : `a ${typeof chunk}`;
  throw new ViewStreamChunkInvalid(route, what);
}

/** Options of stream(): status, headers, and the content type (default application/octet-stream). */
export interface StreamInit extends ResponseInit {
  readonly contentType?: string;
}

/**
 * A streaming response: the client receives each chunk as `source` produces it, with
 * backpressure (a slow client slows the source). `source` is an async iterable of `Uint8Array`
 * or string chunks (an `async function*`), a WHATWG `ReadableStream` or a Node `Readable`. When
 * the client leaves, or nothing moves for the request's timeout, the source is cancelled and
 * `req.signal` aborts. A view may also return the source itself (200, application/octet-stream).
 *
 * @example
 * get('/export.csv', (req) => stream(rows(req.signal), { contentType: 'text/csv; charset=utf-8' }))
 */
export function stream(source: StreamSource, init: StreamInit = {}): HttpResponse {
  if (!isStreamSource(source)) throw new TypeError('stream() takes an async iterable, a ReadableStream or a Node Readable');
  return makeResponse('stream', init.contentType ?? 'application/octet-stream', null, init, source);
}

/**
 * A WHATWG `Response` as drover's response: its status, its headers (each `Set-Cookie` its own
 * line, as `Headers.append` made them) and its body, streamed.
 */
export function fromWebResponse(response: Response): HttpResponse {
  const headers: Record<string, HeaderValue> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  const source = response.body ?? emptySource();
  return makeResponse('Response', headers['content-type'] as string | undefined ?? null, null, { status: response.status, headers }, source);
}

async function* emptySource(): AsyncGenerator<never> {}
