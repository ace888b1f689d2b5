/**
 * Publishing, on the side of whoever publishes (a view, a handler, a task): a payload checked and
 * encoded as JSON at `publish()`, an event id (random, from an idempotency key, or derived from
 * the delivery that publishes it), and the outbox of one unit of work, written to the bus in one
 * transaction once the work has succeeded (the transactional-outbox rule).
 */
import { createHash } from 'node:crypto';
import { EventPayloadTooLarge, EventPublishInvalid } from '../errors.js';
import type { EventBus, NewEvent } from './bus.js';

/** Options of publish(). */
export interface PublishOptions {
  /** An idempotency key: the same topic and key twice is one event (a client's retry, a double click). */
  readonly key?: string;
  /** Seconds before the event's deliveries may run. */
  readonly delay?: number;
}

/** Topics: letters, digits, and `.`, `_`, `-` between them (the same rule as on()). */
const TOPIC = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/** Where a value stops being JSON that comes back the same, or null when all of it is. */
function notJson(value: unknown, path: string, seen: Set<object>): string | null {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return null;
  if (typeof value === 'number') return Number.isFinite(value) ? null : `${path} is ${value} (JSON has no such number)`;
  if (typeof value === 'bigint') return `${path} is a BigInt (send it as a string)`;
  if (typeof value !== 'object') return `${path} is a ${typeof value}`;
  if (seen.has(value)) return `${path} is a circular reference`;
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const found = notJson(value[i], `${path}[${i}]`, seen);
        if (found) return found;
      }
      return null;
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const name = (value as object).constructor?.name ?? 'object';
      return `${path} is a ${name}${value instanceof Date ? ' (send date.toISOString())' : ''}; send plain objects, arrays, strings, numbers, booleans and null`;
    }
    for (const [key, item] of Object.entries(value)) {
      const found = notJson(item, `${path}.${key}`, seen);
      if (found) return found;
    }
    return null;
  } finally {
    seen.delete(value);
  }
}

const encoder = new TextEncoder();

/**
 * `payload` as JSON text, or a coded error naming the topic: a value JSON would change on the way
 * (a Date, a Map, undefined, NaN, a class instance) is refused rather than silently altered, and
 * so is one over `maxBytes`.
 */
export function encodePayload(topic: string, payload: unknown, maxBytes: number): string {
  if (payload === undefined) throw new EventPublishInvalid(topic, 'the payload is undefined; publish null, or an object');
  const wrong = notJson(payload, 'payload', new Set());
  if (wrong) throw new EventPublishInvalid(topic, `the payload is not JSON: ${wrong}`);
  const text = JSON.stringify(payload);
  const size = text.length > maxBytes / 3 ? encoder.encode(text).byteLength : text.length; // UTF-8 only when it might matter
  if (size > maxBytes) throw new EventPayloadTooLarge(topic, String(size), String(maxBytes));
  return text;
}

const hash = (...parts: string[]): string => createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 32);

/**
 * How a publisher names its events when no key is given; `unique` when every id it makes is new
 * (the bus then skips its duplicate check).
 */
export interface EventIds {
  (): string;
  readonly unique?: boolean;
}

let counter = 0;

/**
 * Unique ids for a view's or a task's events, ordered by time: milliseconds, a per-thread counter
 * and 32 random bits that keep threads and processes apart (Math.random, seeded per thread: these
 * ids need to be unique, not unguessable, and crypto's generator cost a twentieth of a publish).
 * Unique by construction (`unique: true`), so the bus need not look them up; time order keeps
 * them sorting as they were published.
 */
export const randomIds: EventIds = Object.assign(
  () => {
    counter = (counter + 1) % 0x1000000;
    const random = Math.floor(Math.random() * 0x100000000);
    return `${Date.now().toString(16).padStart(12, '0')}-${counter.toString(16).padStart(6, '0')}-${random.toString(16).padStart(8, '0')}`;
  },
  { unique: true },
);

/**
 * Ids derived from a delivery (its event and handler) and the order of publishing: the same on
 * every attempt, so a handler that is retried publishes its events once, not once per attempt.
 */
export function derivedIds(eventId: string, handler: string): EventIds {
  let n = 0;
  return () => `d-${hash(eventId, handler, String(n++))}`;
}

/**
 * The events of one unit of work (a request, a delivery), held until it succeeds. `publish()`
 * checks and encodes at once, so a bad payload fails the view where it was published.
 */
export class Outbox {
  readonly #events: NewEvent[] = [];
  readonly #handlers: (topic: string) => readonly string[];
  readonly #maxBytes: number;
  readonly #ids: EventIds;
  readonly #correlation: string | null;

  constructor(handlers: (topic: string) => readonly string[], maxBytes: number, ids: EventIds, correlation: string | null) {
    this.#handlers = handlers;
    this.#maxBytes = maxBytes;
    this.#ids = ids;
    this.#correlation = correlation;
  }

  /** Adds one event (checked now, written later by flush()). */
  publish(topic: string, payload: unknown, options: PublishOptions = {}): void {
    if (typeof topic !== 'string' || !TOPIC.test(topic)) {
      throw new EventPublishInvalid(String(topic), 'the topic must be letters, digits, ".", "_" and "-", such as "video.uploaded"');
    }
    const { key, delay = 0 } = options;
    if (key !== undefined && (typeof key !== 'string' || key === '' || key.length > 500)) {
      throw new EventPublishInvalid(topic, 'options.key must be a non-empty string of at most 500 characters');
    }
    if (typeof delay !== 'number' || !Number.isFinite(delay) || delay < 0 || delay > 366 * 86_400) {
      throw new EventPublishInvalid(topic, `options.delay must be a number of seconds from 0 to a year, not ${JSON.stringify(delay)}`);
    }
    const id = key === undefined ? this.#ids() : `k-${hash(topic, key)}`;
    this.#events.push({
      id,
      topic,
      payload: encodePayload(topic, payload, this.#maxBytes),
      correlation: this.#correlation,
      handlers: this.#handlers(topic),
      availableAt: Date.now() + delay * 1000,
      uniqueId: key === undefined && this.#ids.unique === true,
    });
  }

  /** The events published so far, as they will be written. */
  get events(): readonly NewEvent[] {
    return this.#events;
  }

  /** Events published so far. */
  get size(): number {
    return this.#events.length;
  }

  /** The topics published, one entry per event (for the published metric). */
  get topics(): string[] {
    return this.#events.map((e) => e.topic);
  }

  /** Writes every event to `bus` in one transaction; rejects when the bus does not take them. */
  async flush(bus: EventBus): Promise<void> {
    if (this.#events.length > 0) await bus.publish(this.#events);
  }
}
