/**
 * The front's end of a response stream: a Node Readable fed by the stream's channel, handed to
 * fastify (`reply.send(stream)`), which pipes it to the socket with the usual hooks (request id,
 * CORS) and backpressure. The Readable tells the worker how many bytes the connection took each
 * time it wants more (`_read`), and the worker never runs more than STREAM_WINDOW ahead of that,
 * so a stream to a slow client holds at most about STREAM_WINDOW + the socket's buffers here.
 *
 * REQUEST_TIMEOUT (or the route's `timeout`) bounds a stream's silence, not its length (as
 * nginx's `send_timeout` and `proxy_read_timeout` do): it restarts whenever the view produces a
 * chunk or the client takes one. When neither happens for that long, the stream is cancelled
 * (the view's `req.signal` aborts) and the connection closed without the final chunk, so the
 * client sees a truncated response rather than a complete one.
 */
import { Readable } from 'node:stream';
import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import { ABORT_GRACE_MS, type StreamControl, type StreamHandle, type StreamMessage } from '../pool/protocol.js';

/** How a stream ended early: the access log's `streamCut`. */
export type StreamCut = 'client' | 'timeout' | 'view' | 'thread';

/** What a stream needs from the front. */
export interface StreamOptions {
  /** The route's pattern, for logs. */
  readonly route: string;
  /** Milliseconds without progress after which the stream is cut (REQUEST_TIMEOUT or the route's). */
  readonly idleMs: number;
  /** The request's logger. */
  readonly log: FastifyBaseLogger;
  /** Counts a timeout (drover_request_timeouts_total). */
  readonly timedOut: () => void;
  /** The stream ended early: the access line is written with why (fastify's onResponse will not fire). */
  readonly cut: (why: StreamCut) => void;
}

class ThreadStream extends Readable {
  readonly #handle: StreamHandle;
  readonly #options: StreamOptions;
  readonly #reply: FastifyReply;
  /** Bytes pushed and not yet reported to the worker. */
  #unacked = 0;
  /** The stream is over on the worker's side (ended, failed, cancelled or its thread gone). */
  #over = false;
  #lastProgress = performance.now();
  #idleTimer: NodeJS.Timeout;
  #answerTimer: NodeJS.Timeout | undefined;

  constructor(handle: StreamHandle, reply: FastifyReply, options: StreamOptions) {
    super({ highWaterMark: 64 * 1024 });
    this.#handle = handle;
    this.#reply = reply;
    this.#options = options;
    // One timer that re-arms itself for what is left, rather than one reset per chunk.
    this.#idleTimer = setTimeout(this.#checkIdle, options.idleMs);
    handle.port.on('message', this.#received);
    handle.port.once('close', this.#closed);
  }

  override _read(): void {
    // The head goes out now, not with the first chunk: the client learns the status at once (and
    // an EventSource that its stream is open). Here, because fastify has set every header by the
    // time it pipes the stream, and piping is what first asks for data.
    if (!this.#reply.raw.headersSent) this.#reply.raw.flushHeaders();
    this.#lastProgress = performance.now();
    if (this.#unacked > 0 && !this.#over) {
      this.#handle.port.postMessage(this.#unacked satisfies StreamControl);
      this.#unacked = 0;
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#idleTimer);
    // fastify destroys the payload when the response closes first: the client left.
    if (!this.#over) {
      this.#options.cut('client');
      this.#cancel('client');
    }
    callback(error);
  }

  readonly #received = (message: StreamMessage): void => {
    if (message instanceof ArrayBuffer) {
      this.#lastProgress = performance.now();
      this.#unacked += message.byteLength;
      this.push(Buffer.from(message));
    } else if (message === 'cancelled') {
      clearTimeout(this.#answerTimer);
      this.#handle.port.close();
      if (this.#over) return;
      // Not ours: its thread retired (a reload, a recycle) and GRACEFUL_TIMEOUT ran out.
      this.#finish();
      this.#options.log.warn({ route: this.#options.route }, 'response stream cut: its worker thread retired and GRACEFUL_TIMEOUT ran out');
      this.#options.cut('thread');
      this.#reply.raw.destroy();
    } else if ('end' in message) {
      this.#finish();
      this.#handle.port.close();
      this.push(null);
    } else {
      // The view's stream threw after the head was sent (the worker logged it, with the route).
      this.#finish();
      this.#options.cut('view');
      this.#reply.raw.destroy();
    }
  };

  /** The channel closed: normal after the end or a cancel; otherwise its thread stopped. */
  readonly #closed = (): void => {
    clearTimeout(this.#answerTimer);
    if (this.#over) return;
    this.#finish();
    this.#options.log.warn({ route: this.#options.route }, 'response stream cut: its worker thread stopped');
    this.#options.cut('thread');
    this.#reply.raw.destroy();
  };

  readonly #checkIdle = (): void => {
    if (this.#over) return;
    const quiet = performance.now() - this.#lastProgress;
    if (quiet < this.#options.idleMs) {
      this.#idleTimer = setTimeout(this.#checkIdle, this.#options.idleMs - quiet);
      return;
    }
    // Whose silence: a client that takes nothing leaves the buffers full; otherwise the view is quiet.
    const clientStalled = this.readableLength >= this.readableHighWaterMark || this.#reply.raw.writableNeedDrain;
    this.#options.log.warn(
      { route: this.#options.route, timeout: this.#options.idleMs / 1000 },
      clientStalled
        ? 'response stream cut: the client took nothing for the request timeout'
        : 'response stream cut: the view produced nothing for the request timeout',
    );
    this.#options.timedOut();
    this.#options.cut('timeout');
    this.#cancel('timeout');
    this.#reply.raw.destroy();
  };

  /** Tells the worker to stop the view's stream; a thread that does not answer is stuck. */
  #cancel(why: 'client' | 'timeout'): void {
    this.#finish();
    this.#handle.port.postMessage({ cancel: why } satisfies StreamControl);
    this.#answerTimer = setTimeout(() => {
      this.#options.log.error({ route: this.#options.route }, "response stream's worker thread does not answer (a view blocking its event loop): replacing it");
      this.#handle.port.close();
      this.#handle.stuck();
    }, ABORT_GRACE_MS);
  }

  #finish(): void {
    this.#over = true;
    clearTimeout(this.#idleTimer);
  }
}

/**
 * Answers `reply` with a streamed body: the status and headers now, the chunks as the worker's
 * view produces them.
 *
 * @example
 * sendStream(reply, 200, headers, response.stream, { route, idleMs: 25_000, log: request.log, timedOut, cut });
 */
export function sendStream(reply: FastifyReply, status: number, headers: readonly string[], handle: StreamHandle, options: StreamOptions): void {
  reply.code(status);
  for (let i = 0; i < headers.length; i += 2) reply.header(headers[i] as string, headers[i + 1]);
  reply.send(new ThreadStream(handle, reply, options));
}
