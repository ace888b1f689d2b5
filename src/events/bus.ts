/**
 * The bus: what every backend (the embedded SQLite file, Redis) offers the publisher and the
 * consumer, and nothing more. Kept small on purpose, so a backend is one file, and one contract
 * test suite (test/events/contract.ts) holds every backend to the same guarantees:
 *
 * - an event is written with one delivery per handler of its topic (fan-out), all or none;
 * - the same event id twice is one event (idempotency keys, ids derived from a delivery's);
 * - a delivery is claimed by one owner at a time, under a lease the owner renews; a lease that
 *   runs out (its process died) makes the delivery claimable again: at least once;
 * - an attempt is spent when a delivery is claimed, and given back when it is released unrun;
 * - a delivery that failed is retried at a later time, or buried (dead) with its last error.
 */

/** An event to write, with the handlers that each get a delivery of it. */
export interface NewEvent {
  /** Unique; a second event with the same id is ignored (with all its deliveries). */
  readonly id: string;
  readonly topic: string;
  /** The payload as JSON text. */
  readonly payload: string;
  /** The X-Request-Id of the request that started the chain, or null. */
  readonly correlation: string | null;
  /** The handlers of the topic, by name: one delivery each. */
  readonly handlers: readonly string[];
  /** When its deliveries may first run, in milliseconds since the epoch (a delay). */
  readonly availableAt: number;
  /**
   * True when the publisher made the id unique itself (a time-ordered random id): the backend may
   * skip its duplicate check. Ids from keys, deliveries and schedule ticks are checked.
   */
  readonly uniqueId?: boolean;
}

/** A delivery claimed by a consumer: one event for one handler. */
export interface ClaimedDelivery {
  /** The delivery's id (not the event's). */
  readonly id: string;
  readonly eventId: string;
  readonly topic: string;
  readonly handler: string;
  readonly payload: string;
  readonly correlation: string | null;
  /** This attempt's number, from 1. */
  readonly attempt: number;
  /** When the event was published, in milliseconds since the epoch. */
  readonly publishedAt: number;
  /** When the delivery became due (publish time plus any delay or backoff): the lag counts from here. */
  readonly dueAt: number;
}

/** Counts of one handler's deliveries by state. */
export interface HandlerBacklog {
  readonly handler: string;
  /** Due now, waiting for a consumer. */
  readonly ready: number;
  /** Due later (a delay, or a retry's backoff). */
  readonly delayed: number;
  /** Claimed, under a lease. */
  readonly running: number;
  /** Out of attempts. */
  readonly dead: number;
  /** Milliseconds the oldest ready delivery has waited since it was due, or null. */
  readonly oldestReadyMs: number | null;
}

/** A dead delivery, for `drover events dead`. */
export interface DeadDelivery {
  readonly id: string;
  readonly eventId: string;
  readonly topic: string;
  readonly handler: string;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly publishedAt: number;
}

/** An event as it was published. */
export interface PublishedEvent {
  readonly id: string;
  readonly topic: string;
  /** The payload as JSON text. */
  readonly payload: string;
  readonly correlation: string | null;
  readonly publishedAt: number;
}

/** What every backend implements. Every method is atomic on its own. */
export interface EventBus {
  /** Writes `events` and their deliveries, all or none; resolves with how many were new. */
  publish(events: readonly NewEvent[]): Promise<number>;
  /**
   * Claims up to `limit` due deliveries of `handler` for `owner`, leased for `leaseMs`: ready
   * ones first in due order, then ones whose lease ran out (their owner died).
   */
  claim(owner: string, handler: string, limit: number, leaseMs: number): Promise<ClaimedDelivery[]>;
  /** Extends the leases `owner` holds on `ids` by `leaseMs` from now; resolves with the ids it still holds. */
  renew(owner: string, ids: readonly string[], leaseMs: number): Promise<string[]>;
  /** The handler succeeded: the delivery is done. False when `owner` no longer holds it. */
  ack(owner: string, id: string): Promise<boolean>;
  /** The handler failed: run it again at `availableAt` (the attempt is spent). */
  retry(owner: string, id: string, availableAt: number, error: string): Promise<boolean>;
  /** The handler failed its last attempt: the delivery is dead. */
  bury(owner: string, id: string, error: string): Promise<boolean>;
  /** Gives deliveries back unrun (a graceful stop): ready again, the attempt not spent. */
  release(owner: string, ids: readonly string[]): Promise<number>;
  /** Every handler's counts by state. */
  backlog(): Promise<HandlerBacklog[]>;
  /** Dead deliveries, oldest first (of one handler when given). */
  dead(handler?: string): Promise<DeadDelivery[]>;
  /** Makes dead deliveries ready again with fresh attempts (all of them for 'all'); resolves with how many. */
  revive(ids: readonly string[] | 'all'): Promise<number>;
  /** Events published, oldest first (of one topic when given), for tests and operators. */
  events(topic?: string): Promise<PublishedEvent[]>;
  /**
   * Deletes up to `limit` events published before `before` (ms since the epoch) that have no
   * delivery left (done, or purged): the bus's retention. An event's id stops deduplicating
   * (keys, derived ids, schedule ticks) once it is gone. Resolves with how many.
   */
  forget(before: number, limit: number): Promise<number>;
  /** Deletes every dead delivery; resolves with how many. */
  purgeDead(): Promise<number>;
  close(): Promise<void>;
}
