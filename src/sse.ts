/**
 * Server-sent events (the WHATWG `text/event-stream` format) on top of stream(): each event the
 * view's source yields is framed as `event:`/`id:`/`retry:`/`data:` lines, and a comment line
 * goes out while the source is quiet, so proxies and load balancers keep the connection open.
 */
import type { HttpResponse, ResponseInit } from './http.js';
import { stream } from './streaming.js';

/** One event. `data` that is not a string is sent as JSON; a string with newlines as several `data:` lines. */
export interface ServerSentEvent {
  readonly data: unknown;
  /** The event type (`addEventListener(type)` in the browser); `message` when absent. */
  readonly event?: string;
  /** The event id the browser sends back as `Last-Event-ID` when it reconnects. */
  readonly id?: string;
  /** Milliseconds the browser waits before reconnecting. */
  readonly retry?: number;
}

/** Options of sse(). */
export interface SseInit extends ResponseInit {
  /** Seconds of quiet after which a `: keep-alive` comment is sent (default 15; 0: never). */
  readonly keepAlive?: number;
}

const NEWLINE = /\r\n|\r|\n/;

function field(name: string, value: string): string {
  // A CR or LF would end the field early and let the value forge other fields or events.
  if (NEWLINE.test(value)) throw new TypeError(`sse(): an event's ${name} may not hold a line break: ${JSON.stringify(value)}`);
  return `${name}: ${value}\n`;
}

/** The wire form of one event (a string yielded alone is its data). */
export function formatEvent(event: ServerSentEvent | string): string {
  if (typeof event === 'string') event = { data: event };
  let frame = '';
  if (event.event !== undefined) frame += field('event', event.event);
  if (event.id !== undefined) frame += field('id', event.id);
  if (event.retry !== undefined) frame += field('retry', String(Math.max(0, Math.floor(event.retry))));
  const data = typeof event.data === 'string' ? event.data : JSON.stringify(event.data) ?? 'null';
  for (const line of data.split(NEWLINE)) frame += `data: ${line}\n`;
  return `${frame}\n`;
}

const KEEP_ALIVE = ': keep-alive\n\n';
const TICK = Symbol('tick');
const STOP = Symbol('stop');

/**
 * The framed events, with keep-alive comments in the quiet spells. An iterator object rather
 * than an async generator: a generator's `return()` waits for the `await` it is suspended at
 * (a quiet source, for up to a keep-alive interval, or forever), and a client that leaves must
 * stop the source at once.
 */
class EventFrames implements AsyncIterableIterator<string> {
  readonly #source: AsyncIterator<ServerSentEvent | string>;
  readonly #keepAliveMs: number;
  #pending: Promise<IteratorResult<ServerSentEvent | string>> | null = null;
  #stopped = false;
  #stop: () => void = () => undefined;
  readonly #stopping = new Promise<typeof STOP>((resolve) => (this.#stop = () => resolve(STOP)));

  constructor(source: AsyncIterable<ServerSentEvent | string>, keepAliveMs: number) {
    this.#source = source[Symbol.asyncIterator]();
    this.#keepAliveMs = keepAliveMs;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<string>> {
    if (this.#stopped) return { done: true, value: undefined };
    this.#pending ??= this.#source.next();
    let timer: NodeJS.Timeout | undefined;
    const racers: Promise<IteratorResult<ServerSentEvent | string> | typeof TICK | typeof STOP>[] = [this.#pending, this.#stopping];
    if (this.#keepAliveMs > 0) racers.push(new Promise((resolve) => (timer = setTimeout(resolve, this.#keepAliveMs, TICK))));
    try {
      const step = await Promise.race(racers);
      if (step === STOP) return { done: true, value: undefined };
      if (step === TICK) return { done: false, value: KEEP_ALIVE };
      this.#pending = null;
      if (step.done) return { done: true, value: undefined };
      return { done: false, value: formatEvent(step.value) };
    } finally {
      clearTimeout(timer);
    }
  }

  async return(): Promise<IteratorResult<string>> {
    if (!this.#stopped) {
      this.#stopped = true;
      this.#stop();
      void this.#source.return?.()?.catch(() => undefined);
    }
    return { done: true, value: undefined };
  }
}

/**
 * A server-sent events response (`text/event-stream`): each event `events` yields reaches the
 * browser's `EventSource` as it is produced; a `: keep-alive` comment goes out after `keepAlive`
 * seconds of quiet. When the client leaves, `events` is stopped and `req.signal` aborts.
 *
 * @example
 * get('/ticks', (req) => sse((async function* () {
 *   for (let n = 0; !req.signal.aborted; n++) {
 *     yield { event: 'tick', id: String(n), data: { n } };
 *     await setTimeout(1000);
 *   }
 * })()))
 */
export function sse(events: AsyncIterable<ServerSentEvent | string>, init: SseInit = {}): HttpResponse {
  const keepAliveMs = Math.max(0, (init.keepAlive ?? 15) * 1000);
  return stream(new EventFrames(events, keepAliveMs), {
    status: init.status,
    contentType: 'text/event-stream; charset=utf-8',
    // No caching, and no buffering by nginx (X-Accel-Buffering), so each event goes out at once.
    headers: { 'cache-control': 'no-cache', 'x-accel-buffering': 'no', ...init.headers },
  });
}
