/**
 * One worker thread and the channel its requests travel on.
 *
 * piscina owns the thread's life cycle: spawn, resource limits (WORKER_MAX_MEMORY_MB), close. The
 * requests do not go through `piscina.run()`, though: one task per request cost more than the
 * view itself for light views (piscina's per-task bookkeeping plus a message each way). At boot
 * the slot hands the thread a MessageChannel with its one piscina task (the manifest); after
 * that, every request bound for the thread in one event-loop turn travels in one message, and
 * the thread answers every request finished in one of its turns in one message, with its metric
 * snapshot. Bodies are transferred both ways.
 */
import { EventEmitter } from 'node:events';
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Settings } from '../config/settings.js';
import type { ManifestResult, RequestTask, ResponseBatch, ResponseEnvelope, WorkerData } from './protocol.js';
import type { MetricSnapshot } from './view-metrics.js';

const WORKER_FILE = new URL('./worker.js', import.meta.url).href;

interface Pending {
  resolve(response: ResponseEnvelope): void;
  reject(error: Error): void;
}

/**
 * Events: `dead` (error) once the thread stopped without being asked to; `metrics` (threadId,
 * snapshot) before the responses they belong to are resolved.
 */
export class WorkerSlot extends EventEmitter {
  readonly #piscina: Piscina;
  /** Requests running on this slot now (kept by the dispatcher). */
  inFlight = 0;
  /** Requests finished since the slot started. */
  served = 0;
  /** Recycle after this many requests (MAX_REQUESTS plus this slot's jitter); 0 never. */
  readonly recycleAfter: number;
  /** Being replaced: the dispatcher gives it no new work. */
  retiring = false;
  /** A replacement is being started. */
  replacing = false;
  /** The thread stopped unasked (crash, memory, timeout); the pool replaces the slot. */
  dead = false;

  #port: MessagePort | undefined;
  #thread: Worker | undefined;
  #closing = false;
  #terminatedByUs = false;
  #lastError: Error | undefined;
  #seq = 0;
  readonly #pending = new Map<number, Pending>();
  #outbox: RequestTask[] = [];
  #transfer: ArrayBuffer[] = [];

  constructor(settings: Settings, workerData: WorkerData) {
    super();
    this.#piscina = new Piscina({
      filename: WORKER_FILE,
      // One thread, started by the manifest task and never respawned by piscina: a slot whose
      // thread died is replaced whole by the pool, with a new channel.
      minThreads: 0,
      maxThreads: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      // The thread must stay free to read its channel; piscina's Atomics.wait loop would block it.
      atomics: 'disabled',
      resourceLimits: { maxOldGenerationSizeMb: settings.WORKER_MAX_MEMORY_MB },
      workerData,
    });
    // piscina re-emits thread errors that hit no piscina task; the thread's own events below
    // are what drover acts on, so this listener only keeps them from being unhandled.
    this.#piscina.on('error', () => undefined);
    const jitter = settings.MAX_REQUESTS > 0 ? Math.floor(Math.random() * (settings.MAX_REQUESTS_JITTER + 1)) : 0;
    this.recycleAfter = settings.MAX_REQUESTS > 0 ? settings.MAX_REQUESTS + jitter : 0;
  }

  /** Threads alive in this slot (0 or 1). */
  get threads(): number {
    return this.#thread && !this.dead && !this.#closing ? 1 : 0;
  }

  /** The id of this slot's thread. */
  get threadId(): number | undefined {
    return this.#thread?.threadId;
  }

  /** Starts the thread, which imports the app and takes its end of the channel. */
  async boot(): Promise<ManifestResult> {
    const { port1, port2 } = new MessageChannel();
    let result: ManifestResult;
    try {
      result = (await this.#piscina.run({ kind: 'manifest', port: port2 }, { transferList: [port2] })) as ManifestResult;
    } catch (err) {
      port1.close();
      return { ok: false, error: (err as Error).message };
    }
    const thread = this.#piscina.threads[0];
    if (!result.ok || !thread) {
      port1.close();
      return result.ok ? { ok: false, error: 'the worker thread stopped during boot' } : result;
    }
    this.#thread = thread;
    this.#port = port1;
    port1.on('message', (batch: ResponseBatch) => this.#received(batch));
    thread.on('error', (err: Error) => (this.#lastError = err));
    thread.once('exit', (code: number) => this.#exited(code));
    return result;
  }

  /** Sends one request; resolves with its response. Requests of one turn leave in one message. */
  send(task: RequestTask): Promise<ResponseEnvelope> {
    return new Promise((resolve, reject) => {
      if (!this.#port || this.dead) {
        reject(this.#lastError ?? new Error('the worker thread is not running'));
        return;
      }
      const seq = ++this.#seq;
      this.#pending.set(seq, { resolve, reject });
      this.#outbox.push({ ...task, seq });
      if (task.body) this.#transfer.push(task.body);
      // setImmediate runs after the poll phase: every request parsed in this turn joins the batch.
      if (this.#outbox.length === 1) setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    const batch = this.#outbox;
    const transfer = this.#transfer;
    this.#outbox = [];
    this.#transfer = [];
    if (batch.length > 0 && this.#port && !this.dead) this.#port.postMessage(batch, transfer);
  }

  #received(batch: ResponseBatch): void {
    if (batch.metrics && this.#thread) this.emit('metrics', this.#thread.threadId, batch.metrics satisfies MetricSnapshot);
    for (const { seq, response } of batch.responses) {
      const pending = this.#pending.get(seq);
      this.#pending.delete(seq);
      pending?.resolve(response);
    }
  }

  #exited(code: number): void {
    const error = this.#lastError ?? new Error(`the worker thread exited with code ${code}`);
    this.#lastError = error;
    this.#port?.close();
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
    if (this.#closing) return;
    this.dead = true;
    this.emit('dead', error, this.#terminatedByUs);
  }

  /**
   * Terminates the thread (uWSGI's harakiri): its other requests fail, and the pool replaces the
   * slot.
   */
  terminate(): void {
    if (!this.#thread || this.dead) return;
    this.#terminatedByUs = true;
    void this.#thread.terminate();
  }

  /** True when drover itself terminated this slot's thread (its requests' failures are not crashes). */
  get terminatedByUs(): boolean {
    return this.#terminatedByUs;
  }

  /** Lets running requests finish (the caller waits for inFlight 0), then stops the thread. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#port?.close();
    await this.#piscina.close();
  }

  /** Stops the thread now, whatever it runs. */
  async destroy(): Promise<void> {
    this.#closing = true;
    this.#port?.close();
    await this.#piscina.destroy();
  }
}
