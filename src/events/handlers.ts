/**
 * Event handlers are data, like routes: `export const events = [on(topic, handler, options)]`.
 * One topic may have many handlers; each gets its own delivery of every event (fan-out), with its
 * own retries and dead letters, under its unique name.
 */
import type { Logger } from 'pino';
import { AppEventsInvalid } from '../errors.js';
import { POOL_NAME } from '../router.js';

/** What a handler receives besides the payload. */
export interface EventContext<S = Readonly<Record<string, unknown>>> {
  /** The event's id (the same on every retry). */
  readonly eventId: string;
  readonly topic: string;
  /** This attempt's number, from 1. */
  readonly attempt: number;
  /** The X-Request-Id of the request that started the chain, or null (a schedule, a task). */
  readonly correlationId: string | null;
  /** A pino logger bound to the event id, handler and correlation id. */
  readonly log: Logger;
  /**
   * Publishes an event from this delivery. Its id derives from the delivery's, so a retried
   * handler publishes it once, not once per attempt.
   */
  publish(topic: string, payload: unknown, options?: { readonly key?: string; readonly delay?: number }): Promise<void>;
  /** The app's settings. */
  readonly settings: S;
  /** Aborts at the handler's timeout and when the worker stops. */
  readonly signal: AbortSignal;
}

/** A handler: `(payload, ctx)`, sync or async; throwing fails the attempt. */
export type EventHandlerFn<P = unknown> = (payload: P, ctx: EventContext) => unknown;

/** Options of on(). */
export interface HandlerOptions {
  /** Unique among the app's handlers: its deliveries, metrics and logs go by it. */
  readonly name: string;
  /** The worker pool that runs it (default `events`). */
  readonly pool?: string;
  /** Attempts before the delivery is dead (default 3). */
  readonly attempts?: number;
  /** Seconds before the first retry, doubled each time, with jitter (default 1). */
  readonly backoff?: number;
  /** Seconds one attempt may run before it fails and its thread is replaced (default 60). */
  readonly timeout?: number;
  /** Deliveries of this handler one thread runs at once (default 1). */
  readonly concurrency?: number;
}

const HANDLER = Symbol.for('drover.eventHandler');

/** One handler of one topic, with its options filled in. */
export interface EventHandler<P = unknown> {
  readonly [HANDLER]: true;
  readonly topic: string;
  readonly handler: EventHandlerFn<P>;
  readonly name: string;
  readonly pool: string;
  readonly attempts: number;
  readonly backoff: number;
  readonly timeout: number;
  readonly concurrency: number;
}

/** The pool handlers run in unless they name another. */
export const EVENTS_POOL = 'events';

/** Topics and handler names: letters, digits, and `.`, `_`, `-` between them. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

function numberOption(name: string, option: string, value: unknown, fallback: number, min: number, max: number, integer: boolean): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new AppEventsInvalid(`handler "${name}": ${option} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, not ${JSON.stringify(value) ?? String(value)}`);
  }
  return value;
}

/**
 * Declares `handler` for the events of `topic`. Handlers run in worker threads of the `events`
 * pool (or `pool`), at least once per event: a handler must tolerate running twice.
 *
 * @example
 * export const events = [
 *   on('video.uploaded', resize, { name: 'resize', attempts: 5 }),
 *   on('video.uploaded', thumbnail, { name: 'thumbnail' }),
 * ];
 */
export function on<P = unknown>(topic: string, handler: EventHandlerFn<P>, options: HandlerOptions): EventHandler<P> {
  const name = options?.name;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new AppEventsInvalid(`on("${topic}"): give the handler a unique name made of letters, digits, ".", "_" and "-" ({ name: 'resize' }); found ${JSON.stringify(name) ?? String(name)}`);
  }
  if (typeof topic !== 'string' || !NAME.test(topic)) {
    throw new AppEventsInvalid(`handler "${name}": the topic must be letters, digits, ".", "_" and "-" (e.g. "video.uploaded"), not ${JSON.stringify(topic) ?? String(topic)}`);
  }
  if (typeof handler !== 'function') throw new AppEventsInvalid(`handler "${name}": the handler must be a function (payload, ctx) => …`);
  const pool = options.pool ?? EVENTS_POOL;
  if (typeof pool !== 'string' || !POOL_NAME.test(pool)) throw new AppEventsInvalid(`handler "${name}": pool must be a pool name such as "events", not ${JSON.stringify(pool)}`);
  return Object.freeze({
    [HANDLER]: true as const,
    topic,
    handler,
    name,
    pool,
    attempts: numberOption(name, 'attempts', options.attempts, 3, 1, 1000, true),
    backoff: numberOption(name, 'backoff', options.backoff, 1, 0, 86_400, false),
    timeout: numberOption(name, 'timeout', options.timeout, 60, 0.001, 86_400, false),
    concurrency: numberOption(name, 'concurrency', options.concurrency, 1, 1, 1000, true),
  });
}

/** True when `value` was made by on() (by any copy of drover). */
export function isEventHandler(value: unknown): value is EventHandler {
  return typeof value === 'object' && value !== null && (value as Partial<EventHandler>)[HANDLER] === true;
}

/** The app's `events` export, checked: an array of on() entries with unique names. */
export function checkEventHandlers(path: string, value: unknown): readonly EventHandler[] {
  if (value === undefined) return Object.freeze([]);
  if (!Array.isArray(value)) throw new AppEventsInvalid(`${path} exports \`events\` as ${typeof value}; export an array of on(topic, handler, { name }) entries`);
  const bad = value.findIndex((entry) => !isEventHandler(entry));
  if (bad !== -1) throw new AppEventsInvalid(`${path}: \`events\`[${bad}] is not made with on(topic, handler, { name })`);
  const seen = new Set<string>();
  for (const entry of value as EventHandler[]) {
    if (seen.has(entry.name)) throw new AppEventsInvalid(`${path}: two handlers are named "${entry.name}"; each handler needs its own name (its deliveries go by it)`);
    seen.add(entry.name);
  }
  return Object.freeze([...(value as EventHandler[])]);
}

/** A handler as plain data (for `drover check`, `drover events` and the consumer): everything but the function. */
export type HandlerInfo = Pick<EventHandler, 'topic' | 'name' | 'pool' | 'attempts' | 'backoff' | 'timeout' | 'concurrency'>;

/** The handlers as plain data. */
export function describeHandlers(handlers: readonly EventHandler[]): HandlerInfo[] {
  return handlers.map(({ topic, name, pool, attempts, backoff, timeout, concurrency }) => ({ topic, name, pool, attempts, backoff, timeout, concurrency }));
}
