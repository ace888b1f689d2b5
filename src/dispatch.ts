/**
 * Admission and scheduling: the one place requests cross to the workers.
 *
 * drover queues in front of the worker slots (instead of inside piscina) so that it always knows
 * whether a request is waiting or running. That is what the operating guarantees need: a queued
 * request past its deadline is dropped without running, a running one is answered 504 and its
 * thread terminated (uWSGI's harakiri); a queued request whose client left is dropped, a running
 * one is left to finish (killing threads on disconnects would invite respawn storms); and the
 * queue is bounded (MAX_QUEUE), so overload is answered 503 at once instead of buffered.
 */
import type { Logger } from 'pino';
import { RequestTimedOut, ServerOverloaded, ShuttingDown, WorkerStopped } from './errors.js';
import type { PoolMetrics } from './metrics.js';
import type { WorkerPool } from './pool.js';
import type { WorkerSlot } from './slot.js';
import type { RequestTask, ResponseEnvelope } from './protocol.js';

/** Per-request scheduling facts from the front. */
export interface DispatchOptions {
  /** The route pattern, for logs and the timeouts metric. */
  readonly route: string;
  /** The request's deadline in seconds (REQUEST_TIMEOUT or the route's `timeout`). */
  readonly timeout: number;
  /** Milliseconds since the request arrived (body upload included). */
  readonly elapsedMs: number;
}

/** Thrown (and not answered) when the client went away while its request was queued. */
export class ClientGone extends Error {
  readonly code = 'DROVER_CLIENT_GONE';
}

interface Ticket {
  readonly task: RequestTask;
  readonly options: DispatchOptions;
  readonly enqueuedAt: number;
  /** Where it runs, once started. */
  slot: WorkerSlot | undefined;
  timer: NodeJS.Timeout | undefined;
  state: 'queued' | 'running' | 'done';
  resolve(response: ResponseEnvelope): void;
  reject(error: Error): void;
}

/**
 * Schedules requests onto `pool`.
 *
 * @example
 * const dispatcher = new Dispatcher(pool, settings.MAX_QUEUE, metrics.forPool('default'), logger);
 * const response = await dispatcher.dispatch(task, { route: '/report', timeout: 25, elapsedMs: 1.2 });
 */
export class Dispatcher {
  // A Set is a FIFO with O(1) removal from the middle (a dropped request), in insertion order.
  readonly #queue = new Set<Ticket>();
  readonly #running = new Set<Ticket>();
  readonly #pool: WorkerPool;
  readonly #maxQueue: number;
  readonly #metrics: PoolMetrics;
  readonly #logger: Logger;

  constructor(pool: WorkerPool, maxQueue: number, metrics: PoolMetrics, logger: Logger) {
    this.#pool = pool;
    this.#maxQueue = maxQueue;
    this.#metrics = metrics;
    this.#logger = logger;
    pool.on('free', () => this.#pump());
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.#queue.size;
  }

  /** Requests running in workers. */
  get running(): number {
    return this.#running.size;
  }

  /** Runs `task` on a worker, or queues it, or refuses it (503) when the queue is full. */
  dispatch(task: RequestTask, options: DispatchOptions): Promise<ResponseEnvelope> {
    return new Promise<ResponseEnvelope>((resolve, reject) => {
      const ticket: Ticket = {
        task,
        options,
        enqueuedAt: performance.now(),
        slot: undefined,
        timer: undefined,
        state: 'queued',
        resolve,
        reject,
      };
      const slot = this.#queue.size === 0 ? this.#pool.pick() : undefined;
      if (!slot && this.#queue.size >= this.#maxQueue) {
        reject(new ServerOverloaded(String(this.#running.size), String(this.#queue.size)));
        return;
      }
      const remaining = options.timeout * 1000 - options.elapsedMs;
      ticket.timer = setTimeout(() => this.#deadline(ticket), Math.max(0, remaining));
      if (slot) this.#start(ticket, slot);
      else this.#queue.add(ticket);
    });
  }

  /** The client disconnected: a queued request is dropped; a running one finishes undisturbed. */
  clientGone(task: RequestTask): void {
    for (const ticket of this.#queue) {
      if (ticket.task === task) {
        this.#queue.delete(ticket);
        this.#settle(ticket, new ClientGone('the client disconnected while the request was queued'));
        return;
      }
    }
  }

  /** Answers everything still queued or running with 503 (the graceful timeout ran out). */
  abandonAll(): void {
    for (const ticket of [...this.#queue, ...this.#running]) this.#settle(ticket, new ShuttingDown());
    this.#queue.clear();
  }

  #start(ticket: Ticket, slot: WorkerSlot): void {
    ticket.state = 'running';
    ticket.slot = slot;
    this.#running.add(ticket);
    slot.inFlight++;
    this.#metrics.observeWait((performance.now() - ticket.enqueuedAt) / 1000);
    slot.send(ticket.task).then(
      (response) => this.#settle(ticket, response),
      (err: Error & { code?: string }) => this.#failed(ticket, err),
    ).finally(() => {
      this.#running.delete(ticket);
      this.#pool.finished(slot);
    });
  }

  #pump(): void {
    while (this.#queue.size > 0) {
      const slot = this.#pool.pick();
      if (!slot) return;
      const ticket = this.#queue.values().next().value as Ticket;
      this.#queue.delete(ticket);
      this.#start(ticket, slot);
    }
  }

  #deadline(ticket: Ticket): void {
    const { route, timeout } = ticket.options;
    const fields = { reqId: ticket.task.id, route, timeout, pool: this.#pool.name };
    this.#metrics.timedOut(route);
    if (ticket.state === 'queued') {
      this.#queue.delete(ticket);
      this.#logger.warn(fields, 'request dropped: its deadline passed while it waited for a worker');
    } else if (ticket.state === 'running') {
      this.#logger.error(fields, 'request timed out: answering 504 and replacing its worker thread');
      this.#pool.recordRestart('timeout');
      ticket.slot?.terminate();
    }
    this.#settle(ticket, new RequestTimedOut(String(timeout), route));
  }

  #failed(ticket: Ticket, err: Error & { code?: string }): void {
    if (ticket.state === 'done') return; // already answered (timeout, shutdown)
    let why: string;
    // The restart itself is counted once per thread by the pool, not once per request.
    if (ticket.slot?.terminatedByUs) {
      why = 'another request on the same thread timed out and the thread was replaced';
    } else if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
      why = 'it ran out of memory (WORKER_MAX_MEMORY_MB)';
    } else {
      why = `it crashed: ${err.message}`;
    }
    this.#logger.error({ reqId: ticket.task.id, route: ticket.options.route, err }, `worker thread stopped: ${why}`);
    this.#settle(ticket, new WorkerStopped(why));
  }

  #settle(ticket: Ticket, outcome: ResponseEnvelope | Error): void {
    if (ticket.state === 'done') return;
    ticket.state = 'done';
    clearTimeout(ticket.timer);
    if (outcome instanceof Error) ticket.reject(outcome);
    else ticket.resolve(outcome);
  }
}
