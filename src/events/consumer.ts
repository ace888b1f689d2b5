/**
 * The consumer: in the main thread of `drover worker` (and of `serve` when it consumes), it
 * claims deliveries from the bus for every handler, hands them to the handler's pool through the
 * same dispatcher views use (deadlines that replace a stuck thread, crash isolation, recycling),
 * and settles each: ack, retry with backoff, or dead.
 *
 * Leases are renewed here, by the thread that dispatched the deliveries and not by the threads
 * that run them: a handler busy on the CPU for minutes blocks its own thread only, so its lease
 * stays alive and it is never handed to a second worker. A process that dies stops renewing, and
 * its deliveries become claimable again once their lease runs out (EVENT_LEASE).
 */
import type { Logger } from 'pino';
import type { Dispatcher } from '../pool/dispatch.js';
import { EVENT_METHOD, type DeliveryQuery, type RequestTask, type ResponseEnvelope } from '../pool/protocol.js';
import type { ClaimedDelivery, EventBus } from './bus.js';
import type { HandlerInfo } from './handlers.js';
import type { HandlerFailure } from './run-handler.js';

/** How a delivery ended: the `outcome` of its log line (and, later, of its metric). */
export type DeliveryOutcome = 'ok' | 'retry' | 'dead' | 'timeout';

/** A handler as the consumer runs it. */
export interface ConsumedHandler {
  readonly info: HandlerInfo;
  /** Its index in the app's `events` (the delivery task's `route`). */
  readonly index: number;
  /** Its pool's dispatcher. */
  readonly dispatcher: Dispatcher;
  /** Deliveries of it in flight at most (its concurrency times its pool's threads). */
  readonly capacity: number;
}

/** What the consumer needs besides its handlers. */
export interface ConsumerOptions {
  readonly bus: EventBus;
  readonly logger: Logger;
  /** Lease length in milliseconds (EVENT_LEASE); renewed every third of it. */
  readonly leaseMs: number;
  /** This process's name on its leases. */
  readonly owner: string;
  /** Called after each delivery settles (metrics). */
  readonly settled?: (handler: string, outcome: DeliveryOutcome, seconds: number, lagSeconds: number) => void;
}

/** Polling: at once after a full claim, then backing off to this when a handler has nothing ready. */
const IDLE_POLL_MS = 100;
const MAX_BACKOFF_MS = 3_600_000;

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * The wait before attempt `attempt + 1`: `backoff` seconds doubled per attempt, capped at an
 * hour, with full jitter (a random wait up to it), so failures that happened together are not
 * retried together.
 */
export function retryDelayMs(backoffSeconds: number, attempt: number): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, backoffSeconds * 1000 * 2 ** Math.max(0, attempt - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

interface InFlight {
  readonly delivery: ClaimedDelivery;
  readonly handler: ConsumedHandler;
  readonly task: RequestTask;
  readonly startedAt: number;
}

/**
 * Claims and runs deliveries until stop().
 *
 * @example
 * const consumer = new Consumer(handlers, { bus, logger, leaseMs: 30_000, owner: `worker-${process.pid}` });
 * consumer.start();
 * // on SIGTERM
 * await consumer.stop(settings.GRACEFUL_TIMEOUT * 1000);
 */
export class Consumer {
  readonly #handlers: readonly ConsumedHandler[];
  readonly #options: ConsumerOptions;
  readonly #inFlight = new Map<string, InFlight>();
  readonly #counts = new Map<string, number>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #renewer: NodeJS.Timeout | undefined;
  #stopping = false;
  #drained: (() => void) | undefined;

  constructor(handlers: readonly ConsumedHandler[], options: ConsumerOptions) {
    this.#handlers = handlers;
    this.#options = options;
  }

  /** Starts claiming for every handler, and renewing leases. */
  start(): void {
    for (const h of this.#handlers) this.#schedule(h, 0);
    this.#renewer = setInterval(() => void this.#renew(), Math.max(10, this.#options.leaseMs / 3));
  }

  /** Deliveries running now. */
  get running(): number {
    return this.#inFlight.size;
  }

  #schedule(handler: ConsumedHandler, ms: number): void {
    if (this.#stopping) return;
    clearTimeout(this.#timers.get(handler.info.name));
    this.#timers.set(handler.info.name, setTimeout(() => void this.#poll(handler, ms), ms));
  }

  /** Claims what `handler` has room for; polls again at once when the claim was full, later when not. */
  async #poll(handler: ConsumedHandler, lastWait: number): Promise<void> {
    if (this.#stopping) return;
    const room = handler.capacity - (this.#counts.get(handler.info.name) ?? 0);
    if (room <= 0) return; // a settled delivery schedules the next poll
    let claimed: ClaimedDelivery[] = [];
    try {
      claimed = await this.#options.bus.claim(this.#options.owner, handler.info.name, room, this.#options.leaseMs);
    } catch (err) {
      this.#options.logger.error({ err, handler: handler.info.name }, 'cannot claim deliveries from the bus; retrying');
      this.#schedule(handler, IDLE_POLL_MS * 10);
      return;
    }
    for (const delivery of claimed) this.#run(handler, delivery);
    if (claimed.length === room) return; // full: the next settle polls again
    this.#schedule(handler, claimed.length > 0 ? 0 : Math.min(IDLE_POLL_MS, Math.max(1, lastWait * 2)));
  }

  #run(handler: ConsumedHandler, delivery: ClaimedDelivery): void {
    const query: DeliveryQuery = { eventId: delivery.eventId, topic: delivery.topic, attempt: String(delivery.attempt), correlation: delivery.correlation ?? '' };
    const body = encoder.encode(delivery.payload);
    const task: RequestTask = {
      route: handler.index,
      id: delivery.id,
      method: EVENT_METHOD,
      url: delivery.topic,
      path: handler.info.name,
      params: {},
      query,
      headers: [],
      body: body.buffer as ArrayBuffer,
      remoteAddress: '',
    };
    const entry: InFlight = { delivery, handler, task, startedAt: Date.now() };
    this.#inFlight.set(delivery.id, entry);
    this.#counts.set(handler.info.name, (this.#counts.get(handler.info.name) ?? 0) + 1);
    handler.dispatcher.dispatch(task, { route: handler.info.name, timeout: handler.info.timeout, elapsedMs: 0 }, (err, response) => {
      void this.#settle(entry, err, response);
    });
  }

  async #settle(entry: InFlight, err: Error | null, response: ResponseEnvelope | undefined): Promise<void> {
    const { delivery, handler } = entry;
    const { bus, owner, logger } = this.#options;
    const seconds = (Date.now() - entry.startedAt) / 1000;
    const lag = Math.max(0, entry.startedAt - delivery.dueAt) / 1000;
    const code = (err as { code?: string } | null)?.code;
    let outcome: DeliveryOutcome;
    let error: string | null = null;
    try {
      if (code === 'DROVER_ERR_DISPATCH_SHUTTING_DOWN' || code === 'DROVER_ERR_DISPATCH_OVERLOADED' || code === 'DROVER_CLIENT_GONE') {
        // Never started: given back whole, the attempt not spent.
        await bus.release(owner, [delivery.id]);
        return;
      }
      if (!err && response?.status === 200) {
        outcome = 'ok';
        await bus.ack(owner, delivery.id);
      } else {
        error = err ? err.message : (JSON.parse(decoder.decode(response?.body ?? new ArrayBuffer(0)) || '{}') as Partial<HandlerFailure>).error ?? 'the handler failed';
        const timedOut = code === 'DROVER_ERR_DISPATCH_TIMEOUT';
        if (delivery.attempt >= handler.info.attempts) {
          outcome = timedOut ? 'timeout' : 'dead';
          await bus.bury(owner, delivery.id, error);
        } else {
          outcome = timedOut ? 'timeout' : 'retry';
          await bus.retry(owner, delivery.id, Date.now() + retryDelayMs(handler.info.backoff, delivery.attempt), error);
        }
      }
      // One line per delivery, with the request id that started the chain.
      const line = {
        topic: delivery.topic,
        handler: handler.info.name,
        eventId: delivery.eventId,
        attempt: delivery.attempt,
        outcome,
        durationMs: Math.round(seconds * 1000 * 100) / 100,
        ...(delivery.correlation ? { reqId: delivery.correlation } : {}),
        ...(error !== null ? { error } : {}),
      };
      const dead = outcome !== 'ok' && delivery.attempt >= handler.info.attempts;
      logger[outcome === 'ok' ? 'info' : dead ? 'error' : 'warn'](line, dead ? 'event delivery dead: out of attempts' : 'event delivered');
      this.#options.settled?.(handler.info.name, outcome, seconds, lag);
    } catch (busErr) {
      // The lease runs out and the delivery is taken up again: at least once.
      logger.error({ err: busErr, handler: handler.info.name, eventId: delivery.eventId }, 'cannot record a delivery outcome on the bus; it will run again');
    } finally {
      this.#inFlight.delete(delivery.id);
      this.#counts.set(handler.info.name, (this.#counts.get(handler.info.name) ?? 1) - 1);
      if (this.#inFlight.size === 0) this.#drained?.();
      this.#schedule(handler, 0);
    }
  }

  async #renew(): Promise<void> {
    if (this.#inFlight.size === 0) return;
    try {
      await this.#options.bus.renew(this.#options.owner, [...this.#inFlight.keys()], this.#options.leaseMs);
    } catch (err) {
      this.#options.logger.error({ err }, 'cannot renew delivery leases; they may be taken up by another worker');
    }
  }

  /**
   * Stops claiming, lets running deliveries finish within `graceMs` (their leases still renewed),
   * and gives back, without spending an attempt, what has not started by then.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    if (this.#inFlight.size > 0) {
      const drained = new Promise<void>((resolve) => (this.#drained = resolve));
      await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
    }
    clearInterval(this.#renewer);
    const left = [...this.#inFlight.keys()];
    if (left.length > 0) {
      await this.#options.bus.release(this.#options.owner, left).catch((err: Error) => this.#options.logger.error({ err }, 'cannot give deliveries back; their leases will run out'));
      this.#options.logger.warn({ deliveries: left.length }, 'graceful timeout: running deliveries given back to the bus');
    }
  }
}
