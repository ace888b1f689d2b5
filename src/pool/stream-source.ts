/**
 * The worker's end of a response stream: pulls chunks from the view's source and posts them on
 * the stream's own channel, never more than STREAM_WINDOW bytes ahead of what the client's
 * connection took (the front says how much, StreamControl). That is the backpressure: a slow
 * client stops the pulling, and so the view, which runs only as fast as its chunks are wanted.
 *
 * Each stream has a channel of its own (not the thread's request channel), so its chunks never
 * wait behind a batch of responses, and closing it is the end of the stream for both sides.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import { chunkBytes, type ChunkReader } from '../streaming.js';
import { ABORT_GRACE_MS, ownedBuffer, STREAM_WINDOW, type StreamControl, type StreamMessage } from './protocol.js';

/**
 * Chunks produced within one turn are sent together up to this size: a source that yields many
 * small chunks (lines, events) costs a message per batch, not per chunk, and a chunk produced
 * after an `await` on I/O still leaves at once.
 */
const COALESCE_BYTES = 64 * 1024;

/** Why a stream's view is told to stop: `req.signal`'s reason. */
function abortReason(cancel: 'client' | 'timeout' | 'shutdown'): DOMException {
  if (cancel === 'timeout') return new DOMException('the response stream made no progress for the request timeout', 'TimeoutError');
  if (cancel === 'shutdown') return new DOMException('the worker thread is stopping', 'AbortError');
  return new DOMException('the client disconnected', 'AbortError');
}

/** What a running stream needs from its request. */
export interface StreamOwner {
  /** The route's pattern, for errors and logs. */
  readonly route: string;
  /** Aborts the request's `req.signal`. */
  abort(reason: unknown): void;
  readonly log: Logger;
}

/**
 * Streams `reader` to the front over `port` until the source ends, fails, or the front cancels.
 * Resolves when the stream is over, whichever way (it never rejects).
 *
 * @example
 * const { port1, port2 } = new MessageChannel();
 * void pumpStream(chunkReader(source), port1, { route: '/export', abort: (r) => controller.abort(r), log });
 * // port2 goes to the front with the response's status and headers
 */
export function pumpStream(reader: ChunkReader, port: MessagePort, owner: StreamOwner): Promise<void> {
  let credit = STREAM_WINDOW;
  let cancelled = false;
  let wake: (() => void) | null = null;
  let pending: ArrayBuffer[] = [];
  let pendingBytes = 0;
  let flushQueued = false;

  const flush = (): void => {
    flushQueued = false;
    if (cancelled || pending.length === 0) return;
    const chunks = pending;
    pending = [];
    pendingBytes = 0;
    if (chunks.length === 1) {
      const only = chunks[0] as ArrayBuffer;
      port.postMessage(only satisfies StreamMessage, [only]);
      return;
    }
    const joined = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
    let offset = 0;
    for (const chunk of chunks) {
      joined.set(new Uint8Array(chunk), offset);
      offset += chunk.byteLength;
    }
    port.postMessage(joined.buffer satisfies StreamMessage, [joined.buffer]);
  };

  port.on('message', (control: StreamControl) => {
    if (typeof control === 'number') {
      credit += control;
    } else if (!cancelled) {
      cancelled = true;
      owner.abort(abortReason(control.cancel));
      // Answered once the source has stopped (its `finally` blocks ran, their log lines out), or
      // at half the grace if it takes longer: the answer tells the front the thread's event loop
      // runs, so only a thread that cannot answer at all is taken for stuck.
      let timer: NodeJS.Timeout | undefined;
      const halfGrace = new Promise<void>((resolve) => (timer = setTimeout(resolve, ABORT_GRACE_MS / 2)));
      void Promise.race([reader.cancel(abortReason(control.cancel)), halfGrace]).then(() => {
        clearTimeout(timer);
        port.postMessage('cancelled' satisfies StreamMessage);
      });
    }
    wake?.();
  });
  // The front closed the channel (it got the end, or gave up), or the front's side is gone.
  port.on('close', () => {
    if (!cancelled) {
      cancelled = true;
      owner.abort(abortReason('shutdown'));
      void reader.cancel(abortReason('shutdown'));
    }
    wake?.();
  });

  return (async () => {
    try {
      for (;;) {
        while (credit <= 0 && !cancelled) await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
        if (cancelled) return;
        const step = await reader.next();
        if (cancelled) return;
        if (step.done) {
          flush();
          port.postMessage({ end: true } satisfies StreamMessage);
          return;
        }
        const bytes = chunkBytes(step.value, owner.route);
        if (bytes.byteLength === 0) continue;
        pending.push(ownedBuffer(bytes));
        pendingBytes += bytes.byteLength;
        credit -= bytes.byteLength;
        if (pendingBytes >= COALESCE_BYTES || credit <= 0) flush();
        else if (!flushQueued) {
          flushQueued = true;
          setImmediate(flush);
        }
      }
    } catch (err) {
      if (cancelled) return; // the source's own complaint about being cancelled
      owner.log.error({ err, route: owner.route }, 'response stream failed; the client gets a truncated response');
      flush();
      void reader.cancel(err);
      port.postMessage({ error: (err as Error)?.message ?? String(err) } satisfies StreamMessage);
    }
  })();
}
