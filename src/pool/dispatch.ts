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
import { RequestTimedOut, ServerOverloaded, ShuttingDown, WorkerStopped } from '../errors.js';
import type { PoolMetrics } from '../metrics.js';
import type { WorkerPool } from './pool.js';
import { LinkedList, type Linked } from '../linked-list.js';
import type { Delivery, WorkerSlot } from './slot.js';
import { ABORT_GRACE_MS, type RequestTask, type ResponseEnvelope } from './protocol.js';

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

/** Receives a request's outcome: an error (503, 504, 502, ClientGone), or the view's response. */
export type DispatchCallback = (error: Error | null, response?: ResponseEnvelope) => void;

/** Where a request stands. */
type TicketState = 'queued' | 'running' | 'done';

interface Ticket extends Delivery, Linked<Ticket> {
  readonly task: RequestTask;
  readonly options: DispatchOptions;
  /** When it was admitted, in milliseconds since the epoch (comparable across threads). */
  readonly enqueuedAt: number;
  readonly done: DispatchCallback;
  /** Where it runs, once started. */
  slot: WorkerSlot | undefined;
  timer: NodeJS.Timeout | undefined;
  state: TicketState;
}

/**
 * Schedules requests onto `pool`.
 *
 * @example
 * const dispatcher = new Dispatcher(pool, settings.MAX_QUEUE, metrics.forPool('default'), logger);
 * dispatcher.dispatch(task, { route: '/report', timeout: 25, elapsedMs: 1.2 }, (err, response) => {
 *   // answer the client
 * });
 */
export class Dispatcher {
  // FIFOs with O(1) removal from the middle (a dropped request); see linked-list.ts for why not Sets.
  readonly #queue = new LinkedList<Ticket>();
  readonly #running = new LinkedList<Ticket>();
  readonly #pool: WorkerPool;
  readonly #maxQueue: number;
  readonly #metrics: PoolMetrics;
  readonly #logger: Logger;
  #stealing = false;

  constructor(pool: WorkerPool, maxQueue: number, metrics: PoolMetrics, logger: Logger) {
    this.#pool = pool;
    this.#maxQueue = maxQueue;
    this.#metrics = metrics;
    this.#logger = logger;
    pool.on('free', () => this.#pump());
  }

  /** Requests waiting: in the queue, or sent ahead to a thread that has not started them. */
  get queued(): number {
    let waiting = this.#queue.size;
    for (const ticket of this.#running) if (ticket.slot?.waiting(ticket.task)) waiting++;
    return waiting;
  }

  /** Requests sent to worker threads and not answered yet (started or waiting in an inbox). */
  get running(): number {
    return this.#running.size;
  }

  /**
   * Runs `task` on a worker, or queues it, or refuses it (503) when the queue is full. `done` is
   * called once, never synchronously. Returns where the request stands now.
   */
  dispatch(task: RequestTask, options: DispatchOptions, done: DispatchCallback): TicketState {
    const slot = this.#queue.size === 0 ? this.#pool.pick() : undefined;
    if (!slot && this.#queue.size >= this.#maxQueue) {
      const error = new ServerOverloaded(String(this.#running.size), String(this.#queue.size));
      queueMicrotask(() => done(error));
      return 'done';
    }
    // The ticket is its own delivery (slot.send's callbacks): closures instead of a promise chain
    // per request.
    const ticket: Ticket = {
      task,
      options,
      enqueuedAt: performance.timeOrigin + performance.now(),
      done,
      slot: undefined,
      timer: undefined,
      state: 'queued',
      delivered: (response, startedAt) => {
        // The wait ends when the view starts: in the front's queue, then in the thread's inbox.
        this.#metrics.observeWait(Math.max(0, startedAt - ticket.enqueuedAt) / 1000);
        this.#answered(ticket, response);
      },
      failed: (err) => this.#answered(ticket, err),
      returned: () => this.#returned(ticket),
      prev: undefined,
      next: undefined,
      list: undefined,
    };
    const remaining = options.timeout * 1000 - options.elapsedMs;
    ticket.timer = setTimeout(this.#deadline, Math.max(0, remaining), ticket);
    if (slot) this.#start(ticket, slot);
    else this.#queue.push(ticket);
    return ticket.state;
  }

  /**
   * The client disconnected: a request that has not started (queued, or waiting in a thread's
   * inbox) is dropped; a running one is left to finish (its thread is not killed), and its view's
   * `req.signal` aborts, so a view that passes it on stops early.
   */
  clientGone(task: RequestTask): void {
    const gone = () => new ClientGone('the client disconnected while the request was queued');
    for (const ticket of this.#queue) {
      if (ticket.task === task) {
        this.#queue.remove(ticket);
        this.#settle(ticket, gone());
        return;
      }
    }
    for (const ticket of this.#running) {
      const slot = ticket.slot as WorkerSlot;
      if (ticket.task !== task) continue;
      if (slot.takeBack(task)) this.#takenBack(ticket, slot, gone());
      else slot.abort(task, 'client');
      return;
    }
  }

  /** Counts a response stream that made no progress for its route's timeout (drover_request_timeouts_total). */
  streamTimedOut(route: string): void {
    this.#metrics.timedOut(route);
  }

  /** Answers everything still queued or running with 503 (the graceful timeout ran out). */
  abandonAll(): void {
    for (const ticket of [...this.#queue, ...this.#running]) this.#settle(ticket, new ShuttingDown());
    this.#queue.clear();
  }

  #start(ticket: Ticket, slot: WorkerSlot): void {
    ticket.state = 'running';
    ticket.slot = slot;
    this.#running.push(ticket);
    slot.inFlight++;
    slot.send(ticket.task, ticket);
  }

  /** The slot answered (a response, or the thread's failure): settle first, then free the slot. */
  #answered(ticket: Ticket, outcome: ResponseEnvelope | Error): void {
    const slot = ticket.slot as WorkerSlot;
    clearTimeout(ticket.timer); // a view that stopped within the grace after its deadline
    if (outcome instanceof Error) this.#failed(ticket, outcome);
    else this.#settle(ticket, outcome);
    this.#running.remove(ticket);
    this.#pool.finished(slot); // 'free': the queue moves on, and an idle thread may steal (#pump)
  }

  /**
   * Work stealing: a thread has nothing left to do while requests wait, unstarted, in another
   * thread's inbox (prefetched behind a slow view, they would wait for it to end). The oldest of
   * them are taken back and sent to the idle thread, as many as it starts at once. Only requests
   * that have not started can be taken back (the start claims decide), so none runs twice; the
   * thread they leave skips them. It runs whenever a thread frees up or joins the pool (a
   * replacement after a crash, a timeout or a recycle), only while nothing waits in the queue,
   * and a thread is idle only when there is spare capacity, so it costs nothing under full load.
   */
  #balance(): void {
    // Stealing frees the thread it takes from, whose 'free' event comes back here.
    if (this.#stealing || this.#queue.size > 0 || this.#running.size === 0) return;
    const slots = this.#pool.slots;
    // A thread holding more than it runs at once has requests waiting in its inbox.
    if (!slots.some((s) => s.inFlight > s.concurrency)) return;
    this.#stealing = true;
    try {
      for (const idle of slots) if (idle.inFlight === 0) this.#steal(idle);
    } finally {
      this.#stealing = false;
    }
  }

  #steal(idle: WorkerSlot): void {
    let room = idle.concurrency;
    for (const ticket of this.#running) {
      if (room === 0 || !this.#pool.canTake(idle)) return;
      const victim = ticket.slot as WorkerSlot;
      if (victim === idle || !victim.takeBack(ticket.task)) continue;
      this.#running.remove(ticket);
      this.#pool.finished(victim, false);
      this.#start(ticket, idle);
      room--;
    }
  }

  /** Answers a request taken back from `slot`'s inbox (it never ran there) with `error`. */
  #takenBack(ticket: Ticket, slot: WorkerSlot, error: Error): void {
    this.#settle(ticket, error);
    this.#running.remove(ticket);
    this.#pool.finished(slot, false);
  }

  /** Its thread stopped before starting it: back to the head of the queue, deadline unchanged. */
  #returned(ticket: Ticket): void {
    const slot = ticket.slot as WorkerSlot;
    this.#running.remove(ticket);
    if (ticket.state !== 'done') {
      ticket.state = 'queued';
      ticket.slot = undefined;
      this.#queue.unshift(ticket);
    }
    this.#pool.finished(slot, false);
  }

  #pump(): void {
    while (this.#queue.size > 0) {
      const slot = this.#pool.pick();
      if (!slot) return;
      this.#start(this.#queue.shift() as Ticket, slot);
    }
    this.#balance();
  }

  readonly #deadline = (ticket: Ticket): void => {
    const { route, timeout } = ticket.options;
    const fields = { reqId: ticket.task.id, route, timeout, pool: this.#pool.name };
    const slot = ticket.slot;
    this.#metrics.timedOut(route);
    if (ticket.state === 'queued') {
      this.#queue.remove(ticket);
      this.#logger.warn(fields, 'request dropped: its deadline passed while it waited for a worker');
      this.#settle(ticket, new RequestTimedOut(String(timeout), route));
    } else if (slot?.takeBack(ticket.task)) {
      // Sent ahead, still in the thread's inbox: it never ran, so nothing needs killing.
      this.#logger.warn(fields, "request dropped: its deadline passed while it waited in a worker thread's inbox");
      this.#takenBack(ticket, slot, new RequestTimedOut(String(timeout), route));
    } else {
      // Running: the client gets its 504 now, and the view its req.signal. A view that stops
      // within the grace leaves its thread (and the thread's other requests) alone; one that does
      // not, busy on the CPU or deaf to the signal, has its thread replaced (uWSGI's harakiri).
      this.#logger.warn(fields, `request timed out: answering 504 and aborting its view (req.signal); its thread is replaced unless the view stops within ${ABORT_GRACE_MS} ms`);
      this.#settle(ticket, new RequestTimedOut(String(timeout), route));
      slot?.abort(ticket.task, 'timeout');
      ticket.timer = setTimeout(this.#harakiri, ABORT_GRACE_MS, ticket, fields);
    }
  };

  /** A view that passed its deadline has not stopped within the grace: replace its thread. */
  readonly #harakiri = (ticket: Ticket, fields: Record<string, unknown>): void => {
    const slot = ticket.slot;
    if (ticket.list !== this.#running || !slot || slot.dead) return; // it stopped after all
    this.#logger.error(fields, `request timed out and its view did not stop within ${ABORT_GRACE_MS} ms: replacing its worker thread`);
    this.#pool.recordRestart('timeout');
    slot.terminate();
  };

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
    if (outcome instanceof Error) ticket.done(outcome);
    else ticket.done(null, outcome);
  }
}
