/**
 * The worker pool: WEB_CONCURRENCY slots, each a single-thread piscina pool.
 *
 * Why one piscina per thread: piscina owns a thread's life cycle (spawn, replace after a crash,
 * resource limits, graceful close), but schedules tasks itself across its threads. drover needs
 * to know which thread runs which request — to recycle one thread after MAX_REQUESTS, to reload
 * threads one at a time, and to attribute restarts — so each thread gets its own piscina and the
 * dispatcher chooses the slot.
 */
import { EventEmitter } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import { Piscina } from 'piscina';
import type { Settings } from '../config/settings.js';
import { ReloadRefused } from './errors.js';
import type { ManifestResult, RequestTask, ResponseEnvelope, RouteInfo } from './protocol.js';

/** Why a worker thread was replaced (the `reason` label of drover_worker_restarts_total). */
export type RestartReason = 'timeout' | 'crash' | 'memory' | 'max_requests' | 'reload';

/** What every worker thread receives at start, in `workerData`. */
export interface WorkerData {
  readonly settings: Settings;
  /** Absolute path of the app module to import. */
  readonly app: string;
  /** Name of the BroadcastChannel carrying log lines and metrics to the front. */
  readonly channel: string;
}

const WORKER_FILE = new URL('./worker.js', import.meta.url).href;

/** One worker thread and the requests it is running. */
export class WorkerSlot {
  readonly piscina: Piscina;
  /** Requests running on this slot now. */
  inFlight = 0;
  /** Requests finished since the slot started. */
  served = 0;
  /** Recycle after this many requests (MAX_REQUESTS plus this slot's jitter); 0 never. */
  readonly recycleAfter: number;
  /** Being replaced: the dispatcher gives it no new work. */
  retiring = false;
  /** A replacement is being started. */
  replacing = false;

  constructor(settings: Settings, workerData: WorkerData) {
    this.piscina = new Piscina({
      filename: WORKER_FILE,
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: settings.WORKER_CONCURRENCY,
      // Threads live until replaced: an idle thread that exits would re-import the app on the next burst.
      idleTimeout: Number.POSITIVE_INFINITY,
      // drover queues in front of the slots (dispatch.ts); a slot is only given what it can run now.
      maxQueue: 0,
      resourceLimits: { maxOldGenerationSizeMb: settings.WORKER_MAX_MEMORY_MB },
      workerData,
    });
    const jitter = settings.MAX_REQUESTS > 0 ? Math.floor(Math.random() * (settings.MAX_REQUESTS_JITTER + 1)) : 0;
    this.recycleAfter = settings.MAX_REQUESTS > 0 ? settings.MAX_REQUESTS + jitter : 0;
  }

  /** Threads alive in this slot (0 or 1). */
  get threads(): number {
    return this.piscina.threads.length;
  }

  /** Imports the app in this slot's thread and returns its route table. */
  async manifest(): Promise<ManifestResult> {
    try {
      return (await this.piscina.run({ kind: 'manifest' })) as ManifestResult;
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  }

  /** The id of the thread running now (undefined while piscina starts a replacement). */
  get threadId(): number | undefined {
    return this.piscina.threads[0]?.threadId;
  }

  /** Runs one request on this slot's thread. */
  run(task: RequestTask): Promise<ResponseEnvelope> {
    // No AbortSignal: piscina runs an abortable task alone on its thread (its balancer skips busy
    // workers for them), which would cap WORKER_CONCURRENCY at 1. drover terminates threads itself.
    return this.piscina.run(task, { transferList: task.body ? [task.body] : [] }) as Promise<ResponseEnvelope>;
  }

  readonly #terminated = new Set<number>();

  /**
   * Terminates the running thread (uWSGI's harakiri). piscina then fails the thread's other tasks
   * and starts a replacement in this slot.
   */
  terminate(): void {
    const thread = this.piscina.threads[0];
    if (!thread) return;
    this.#terminated.add(thread.threadId);
    void thread.terminate();
  }

  /** True when drover itself terminated thread `threadId` (its tasks' failures are not crashes). */
  wasTerminated(threadId: number | undefined): boolean {
    return threadId !== undefined && this.#terminated.has(threadId);
  }
}

/**
 * Events: `restart` (reason) whenever a thread is replaced, whoever noticed; `free` when a slot can
 * take more work; `failure` (Error) for problems the owner should log.
 */
export class WorkerPool extends EventEmitter {
  #slots: WorkerSlot[] = [];
  #routes: readonly RouteInfo[] = [];
  readonly #settings: Settings;
  readonly #workerData: WorkerData;
  #closing = false;

  constructor(settings: Settings, appPath: string, channel: string) {
    super();
    this.#settings = settings;
    this.#workerData = { settings, app: appPath, channel };
  }

  /** Requests one slot may run at once. */
  get perSlot(): number {
    return this.#settings.WORKER_CONCURRENCY;
  }

  /** The route table the workers reported at start. */
  get routes(): readonly RouteInfo[] {
    return this.#routes;
  }

  /** Worker threads alive now (retiring ones included until they leave). */
  get alive(): number {
    return this.#slots.reduce((n, s) => n + s.threads, 0) + this.#retiring.reduce((n, s) => n + s.threads, 0);
  }

  #retiring: WorkerSlot[] = [];

  /** True while at least one slot is up and the pool is not closing. */
  get ready(): boolean {
    return !this.#closing && this.#slots.some((s) => s.threads > 0);
  }

  /**
   * Starts every slot and waits until each has imported the app. Throws with the app's own message
   * when the import fails, after stopping the threads (no respawn loop).
   */
  async start(): Promise<readonly RouteInfo[]> {
    const slots = Array.from({ length: this.#settings.WEB_CONCURRENCY }, () => this.#newSlot());
    const manifests = await Promise.all(slots.map((s) => s.manifest()));
    const failed = manifests.find((m) => !m.ok);
    if (failed && !failed.ok) {
      await Promise.allSettled(slots.map((s) => s.piscina.destroy()));
      throw new Error(failed.error);
    }
    this.#slots = slots;
    this.#routes = (manifests[0] as Extract<ManifestResult, { ok: true }>).routes;
    this.#prepareStandby();
    return this.#routes;
  }

  #newSlot(): WorkerSlot {
    const slot = new WorkerSlot(this.#settings, this.#workerData);
    // piscina emits 'error' for a thread that dies with no task in flight (a throw in a stray
    // callback after the response); unhandled, that event would take the whole process down.
    slot.piscina.on('error', (err: Error & { code?: string }) => {
      this.recordRestart(err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'memory' : 'crash');
      this.emit('failure', err);
    });
    return slot;
  }

  /** Reports a replaced thread (the one funnel for drover_worker_restarts_total). */
  recordRestart(reason: RestartReason): void {
    this.emit('restart', reason);
  }

  /** Threads alive, by thread id (to tell live workers' metrics from dead ones'). */
  get threadIds(): Set<number> {
    const ids = new Set<number>();
    for (const slot of [...this.#slots, ...this.#retiring]) for (const t of slot.piscina.threads) ids.add(t.threadId);
    return ids;
  }

  #cursor = 0;

  /**
   * The least busy slot that can take another request now, if any. Ties go round-robin, so light
   * sequential traffic spreads over every thread instead of wearing out the first one.
   */
  pick(): WorkerSlot | undefined {
    const slots = this.#slots;
    let best: WorkerSlot | undefined;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[(this.#cursor + i) % slots.length] as WorkerSlot;
      if (slot.retiring || slot.inFlight >= this.perSlot) continue;
      if (!best || slot.inFlight < best.inFlight) best = slot;
      if (slot.inFlight === 0) break;
    }
    this.#cursor = (this.#cursor + 1) % Math.max(1, slots.length);
    return best;
  }

  /** Called by the dispatcher when a request on `slot` ends. */
  finished(slot: WorkerSlot): void {
    slot.inFlight--;
    slot.served++;
    if (slot.retiring && slot.inFlight === 0) void this.#leave(slot);
    if (slot.recycleAfter > 0 && slot.served >= slot.recycleAfter && !slot.replacing && !slot.retiring && !this.#closing) {
      const spare = this.#takeStandby();
      if (spare) this.#swap(slot, spare, 'max_requests');
      // No spare ready (two recycles at once): the worker keeps serving until its replacement is up.
      else this.replace(slot, 'max_requests').catch((err: Error) => this.emit('failure', err));
    }
    this.emit('free');
  }

  /**
   * With MAX_REQUESTS, one thread is kept booted and idle so a worker that reaches its limit is
   * swapped out at once: it takes no request past the limit, and no request waits for a boot.
   */
  #standby: WorkerSlot | undefined;
  #standbyBooting = false;

  #prepareStandby(): void {
    if (this.#settings.MAX_REQUESTS === 0 || this.#standby || this.#standbyBooting || this.#closing) return;
    this.#standbyBooting = true;
    this.#boot().then(
      (slot) => {
        this.#standbyBooting = false;
        if (this.#closing) void slot.piscina.destroy();
        else this.#standby = slot;
      },
      (err: Error) => {
        this.#standbyBooting = false;
        this.emit('failure', err);
      },
    );
  }

  #takeStandby(): WorkerSlot | undefined {
    const spare = this.#standby;
    this.#standby = undefined;
    this.#prepareStandby();
    return spare;
  }

  /** Starts a thread and waits for its app import; refuses one that cannot take over. */
  async #boot(): Promise<WorkerSlot> {
    const fresh = this.#newSlot();
    const manifest = await fresh.manifest();
    const refusal = !manifest.ok
      ? `the app failed to import in a new worker: ${manifest.error}`
      : !isDeepStrictEqual(manifest.routes, this.#routes)
        ? 'the route table changed; restart the server to apply a new route table'
        : this.#closing
          ? 'the server is shutting down'
          : null;
    if (refusal) {
      await fresh.piscina.destroy();
      throw new ReloadRefused(refusal);
    }
    return fresh;
  }

  /**
   * Replaces `slot` by a fresh thread: the new one imports the app first, then takes the old one's
   * place; the old one finishes what it runs and leaves. No request fails or waits for it.
   */
  async replace(slot: WorkerSlot, reason: RestartReason): Promise<void> {
    slot.replacing = true;
    let fresh: WorkerSlot;
    try {
      fresh = await this.#boot();
    } catch (err) {
      slot.replacing = false;
      throw err;
    }
    if (!this.#slots.includes(slot)) {
      await fresh.piscina.destroy();
      return;
    }
    this.#swap(slot, fresh, reason);
  }

  #swap(slot: WorkerSlot, fresh: WorkerSlot, reason: RestartReason): void {
    this.#slots[this.#slots.indexOf(slot)] = fresh;
    slot.retiring = true;
    this.#retiring.push(slot);
    this.recordRestart(reason);
    this.emit('free');
    if (slot.inFlight === 0) void this.#leave(slot);
  }

  async #leave(slot: WorkerSlot): Promise<void> {
    this.#retiring = this.#retiring.filter((s) => s !== slot);
    await slot.piscina.close();
  }

  /** Replaces every slot, one at a time, with threads that import the app afresh (SIGHUP). */
  async reload(): Promise<void> {
    for (const slot of [...this.#slots]) {
      if (this.#closing) return;
      if (!slot.retiring && !slot.replacing) await this.replace(slot, 'reload');
    }
  }

  /** Stops every thread now, whatever it runs (the graceful timeout ran out). */
  async destroy(): Promise<void> {
    this.#closing = true;
    const standby = this.#standby ? [this.#standby] : [];
    await Promise.allSettled([...this.#slots, ...this.#retiring, ...standby].map((s) => s.piscina.destroy()));
  }

  /** Lets running requests finish, then stops every thread. */
  async close(): Promise<void> {
    this.#closing = true;
    const standby = this.#standby ? [this.#standby] : [];
    await Promise.all([...this.#slots, ...this.#retiring, ...standby].map((s) => s.piscina.close()));
  }
}
