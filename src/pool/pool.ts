/**
 * The worker pool: WEB_CONCURRENCY slots (slot.ts), chosen per request by the dispatcher.
 *
 * drover needs to know which thread runs which request — to recycle one thread after
 * MAX_REQUESTS, to reload threads one at a time, to replace a thread that died and to attribute
 * restarts — so each thread is its own slot, with its own piscina for its life cycle.
 */
import { EventEmitter } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import type { Settings } from '../../config/settings.js';
import { ReloadRefused, WorkerBootFailed } from '../errors.js';
import { threadFailure } from '../app/app-errors.js';
import type { ManifestResult, PoolSpec, RouteInfo, WorkerData } from './protocol.js';
import type { HandlerInfo } from '../events/handlers.js';
import type { ScheduleInfo } from '../events/schedules.js';
import { WorkerSlot, type SlotCapacity } from './slot.js';

/** Why a worker thread was replaced (the `reason` label of drover_worker_restarts_total). */
export type RestartReason = 'timeout' | 'crash' | 'memory' | 'max_requests' | 'reload';

/**
 * After a replacement thread fails to boot (its import or startup hook fails, or passes
 * BOOT_TIMEOUT), the next attempt waits 1 s, doubling up to a minute: the other threads keep
 * serving, and a database that is down is not hammered by a boot loop.
 */
const REBOOT_DELAY_MS = 1000;
const MAX_REBOOT_DELAY_MS = 60_000;

/**
 * Events: `restart` (reason) whenever a thread is replaced, whoever noticed; `free` when a slot
 * can take more work; `metrics` (threadId, snapshot) from the threads; `failure` (Error) for
 * problems the owner should log.
 */
export class WorkerPool extends EventEmitter {
  #slots: WorkerSlot[] = [];
  #retiring: WorkerSlot[] = [];
  #app: {
    routes: readonly RouteInfo[];
    pools: Readonly<Record<string, PoolSpec>>;
    notFound: boolean;
    events: readonly HandlerInfo[];
    schedules: readonly ScheduleInfo[];
  } = { routes: [], pools: {}, notFound: false, events: [], schedules: [] };
  readonly #settings: Settings;
  readonly #workerData: Omit<WorkerData, 'stage'>;
  readonly #threads: number;
  readonly #capacity: SlotCapacity;
  #closing = false;
  #cursor = 0;

  /** The pool's name (the `pool` label of its metrics). */
  readonly name: string;

  constructor(settings: Settings, appPath: string, channel: string, name: string, size: PoolSpec, env: WorkerData['env'], busLock: SharedArrayBuffer) {
    super();
    this.#settings = settings;
    this.#workerData = { settings, app: appPath, channel, pool: name, env, busLock };
    this.name = name;
    this.#threads = size.threads;
    this.#capacity = { concurrency: size.concurrency ?? settings.WORKER_CONCURRENCY, prefetch: size.prefetch ?? settings.WORKER_PREFETCH };
  }

  /** Requests one slot may hold at once: running, and waiting in its inbox. */
  get perSlot(): number {
    return this.#capacity.concurrency + this.#capacity.prefetch;
  }

  /** The extra pools the app declares. */
  get declaredPools(): Readonly<Record<string, PoolSpec>> {
    return this.#app.pools;
  }

  /** The app's periodic events, as its threads reported them. */
  get declaredSchedules(): readonly ScheduleInfo[] {
    return this.#app.schedules;
  }

  /** The app's event handlers, as its threads reported them. */
  get declaredEvents(): readonly HandlerInfo[] {
    return this.#app.events;
  }

  /** True when the app exports a `notFound` view (run at route index routes.length). */
  get hasNotFoundView(): boolean {
    return this.#app.notFound;
  }

  /** The slots taking new work (not the retiring ones). */
  get slots(): readonly WorkerSlot[] {
    return this.#slots;
  }

  /** Worker threads alive now (retiring ones included until they leave). */
  /** Threads the pool is configured to run. */
  get size(): number {
    return this.#threads;
  }

  get alive(): number {
    return [...this.#slots, ...this.#retiring].reduce((n, s) => n + s.threads, 0);
  }

  /** Asks every thread for its metrics now (a scrape); resolves when all answered, or waited enough. */
  async reportMetrics(): Promise<void> {
    await Promise.all([...this.#slots, ...this.#retiring, ...this.#leaving].map((slot) => slot.reportMetrics()));
  }

  /**
   * Threads whose metrics may still change, by thread id (to tell live workers' metrics from dead
   * ones'): a retiring thread counts until it has exited, since its last values come with its
   * shutdown; folding it earlier would count them twice.
   */
  get threadIds(): Set<number> {
    const ids = new Set<number>();
    for (const slot of [...this.#slots, ...this.#retiring, ...this.#leaving]) if (slot.threadRuns && slot.threadId !== undefined) ids.add(slot.threadId);
    return ids;
  }

  /** True while at least one slot is up and the pool is not closing. */
  get ready(): boolean {
    return !this.#closing && this.#slots.some((s) => s.threads > 0);
  }

  /**
   * Starts every slot and waits until each has imported the app. Throws with the app's own message
   * when the import fails, after stopping the threads (no respawn loop).
   */
  async start(): Promise<readonly RouteInfo[]> {
    const slots = Array.from({ length: this.#threads }, () => this.#newSlot());
    const manifests = await Promise.all(slots.map((s) => s.boot()));
    const failed = manifests.find((m) => !m.ok);
    if (failed && !failed.ok) {
      await Promise.allSettled(slots.map((s) => s.destroy()));
      throw threadFailure(failed.error);
    }
    this.#slots = slots;
    const { routes, pools, notFound, events, schedules } = manifests[0] as Extract<ManifestResult, { ok: true }>;
    this.#app = { routes, pools, notFound, events, schedules };
    this.#prepareStandby();
    return routes;
  }

  #newSlot(): WorkerSlot {
    const slot = new WorkerSlot(this.#settings, this.#workerData, this.#capacity);
    slot.on('metrics', (threadId: number, snapshot: unknown) => this.emit('metrics', threadId, snapshot));
    slot.on('published', (counts: unknown) => this.emit('published', counts));
    slot.on('dead', (err: Error & { code?: string }, terminatedByUs: boolean) => this.#died(slot, err, terminatedByUs));
    slot.on('recycle', () => this.#recycle(slot, 'memory'));
    slot.on('failure', (err: Error) => this.emit('failure', err));
    // A response stream's view blocks its thread (it never answered the stream's cancel): replaced
    // as a view past its deadline is (uWSGI's harakiri).
    slot.on('stuck', () => {
      if (slot.dead) return;
      this.recordRestart('timeout');
      slot.terminate();
    });
    return slot;
  }

  /** A thread stopped unasked: count it (a timeout was counted when it was decided) and replace it. */
  #died(slot: WorkerSlot, err: Error & { code?: string }, terminatedByUs: boolean): void {
    if (!terminatedByUs) this.recordRestart(err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'memory' : 'crash');
    this.#retiring = this.#retiring.filter((s) => s !== slot);
    if (this.#closing || !this.#slots.includes(slot)) return;
    const spare = this.#takeStandby();
    if (spare) {
      this.#slots[this.#slots.indexOf(slot)] = spare;
      this.emit('free');
      return;
    }
    const reboot = (): void => {
      if (this.#closing || !this.#slots.includes(slot)) return;
      this.#boot().then(
        (fresh) => {
          const index = this.#slots.indexOf(slot);
          if (index === -1 || this.#closing) void fresh.destroy();
          else {
            this.#slots[index] = fresh;
            this.emit('free');
          }
        },
        (error: Error) => {
          this.emit('failure', error);
          setTimeout(reboot, this.#backoffMs()).unref();
        },
      );
    };
    reboot();
  }

  /** Reports a replaced thread (the one funnel for drover_worker_restarts_total). */
  recordRestart(reason: RestartReason): void {
    this.emit('restart', reason);
  }

  /** True when `slot` may be sent one more request now. */
  canTake(slot: WorkerSlot): boolean {
    if (slot.retiring || slot.dead || slot.inFlight >= this.perSlot) return false;
    // A thread near MAX_REQUESTS gets no more than it may still serve: it never overshoots, unless
    // replacements are failing to boot: then it keeps serving past its limit rather than starve.
    return slot.recycleAfter === 0 || slot.served + slot.inFlight < slot.recycleAfter || this.#bootFailures > 0;
  }

  /**
   * The least busy slot that can take another request now, if any. Ties go round-robin, so light
   * sequential traffic spreads over every thread instead of wearing out the first one.
   */
  pick(): WorkerSlot | undefined {
    const slots = this.#slots;
    let best: WorkerSlot | undefined;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[(this.#cursor + i) % slots.length] as WorkerSlot;
      if (!this.canTake(slot)) continue;
      if (!best || slot.inFlight < best.inFlight) best = slot;
      if (slot.inFlight === 0) break;
    }
    this.#cursor = (this.#cursor + 1) % Math.max(1, slots.length);
    return best;
  }

  /**
   * Called by the dispatcher when a request on `slot` ends; `served` is false for one the thread
   * never ran (taken back, or returned by a thread that stopped).
   */
  finished(slot: WorkerSlot, served = true): void {
    slot.inFlight--;
    if (served) slot.served++;
    if (slot.retiring && slot.inFlight === 0) void this.#leave(slot);
    if (slot.recycleAfter > 0 && slot.served >= slot.recycleAfter) this.#recycle(slot, 'max_requests');
    this.emit('free');
  }

  /** Replaces a thread that reached MAX_REQUESTS or WORKER_RECYCLE_HEAP_MB, gracefully. */
  #recycle(slot: WorkerSlot, reason: 'max_requests' | 'memory'): void {
    if (slot.replacing || slot.retiring || slot.dead || this.#closing) return;
    // A replacement failed to boot lately: the old thread keeps serving until the backoff ends.
    if (performance.now() < this.#bootFailedUntil) return;
    const spare = this.#takeStandby();
    if (spare) this.#swap(slot, spare, reason);
    // No spare ready (two recycles at once): the worker keeps serving until its replacement is up.
    else
      this.replace(slot, reason).catch((err: Error) => {
        this.emit('failure', err);
        this.emit('free'); // the old thread may now serve past its limit (canTake): wake the queue
      });
  }

  /**
   * With MAX_REQUESTS (or WORKER_RECYCLE_HEAP_MB), one thread is kept booted and idle so a worker that reaches its limit is
   * swapped out at once: it takes no request past the limit, and no request waits for a boot.
   */
  #standby: WorkerSlot | undefined;
  #standbyBooting = false;
  /** Bumped by each reload: a standby booted for an older generation runs old code. */
  #generation = 0;

  #prepareStandby(): void {
    if ((this.#settings.MAX_REQUESTS === 0 && this.#settings.WORKER_RECYCLE_HEAP_MB === 0) || this.#standby || this.#standbyBooting || this.#closing) return;
    // While replacements fail to boot, the standby waits for the backoff too (one boot at a time).
    const wait = Math.max(0, this.#bootFailedUntil - performance.now());
    if (wait > 0) {
      this.#standbyBooting = true;
      setTimeout(() => {
        this.#standbyBooting = false;
        this.#prepareStandby();
      }, wait).unref();
      return;
    }
    this.#standbyBooting = true;
    const generation = this.#generation;
    this.#boot().then(
      (slot) => {
        this.#standbyBooting = false;
        if (this.#closing || generation !== this.#generation) void slot.close();
        else this.#standby = slot;
        if (generation !== this.#generation) this.#prepareStandby();
      },
      (err: Error) => {
        this.#standbyBooting = false;
        this.emit('failure', err);
        this.emit('free');
      },
    );
  }

  #takeStandby(): WorkerSlot | undefined {
    const spare = this.#standby;
    this.#standby = undefined;
    this.#prepareStandby();
    return spare;
  }

  #bootFailures = 0;
  #bootFailedUntil = 0;

  /** The wait before the next boot attempt after consecutive failures. */
  #backoffMs(): number {
    return Math.min(MAX_REBOOT_DELAY_MS, REBOOT_DELAY_MS * 2 ** Math.max(0, this.#bootFailures - 1));
  }

  /** Starts a thread and waits for its app import; refuses one that cannot take over. */
  async #boot(): Promise<WorkerSlot> {
    try {
      const slot = await this.#tryBoot();
      this.#bootFailures = 0;
      return slot;
    } catch (err) {
      this.#bootFailures++;
      this.#bootFailedUntil = performance.now() + this.#backoffMs();
      throw err;
    }
  }

  async #tryBoot(): Promise<WorkerSlot> {
    const fresh = this.#newSlot();
    const manifest = await fresh.boot();
    const refusal = !manifest.ok
      ? `the app failed to boot in a new worker: ${manifest.error.code ? `${manifest.error.code}: ` : ''}${manifest.error.message}`
      : !isDeepStrictEqual({ routes: manifest.routes, pools: manifest.pools, notFound: manifest.notFound, events: manifest.events, schedules: manifest.schedules }, this.#app)
        ? 'the route table, pools or event handlers changed; restart the server to apply them'
        : this.#closing
          ? 'the server is shutting down'
          : null;
    if (refusal) {
      await fresh.destroy();
      throw Object.assign(new WorkerBootFailed(refusal), { reason: refusal });
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
    if (!this.#slots.includes(slot) || slot.dead) {
      await fresh.destroy();
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

  /** Retired threads still running their shutdown hook: close() and destroy() wait for them too. */
  readonly #leaving = new Set<WorkerSlot>();

  async #leave(slot: WorkerSlot): Promise<void> {
    this.#retiring = this.#retiring.filter((s) => s !== slot);
    this.#leaving.add(slot);
    try {
      await slot.close();
    } finally {
      this.#leaving.delete(slot);
    }
  }

  #reloadsStopped = false;

  /** Stops a reload in progress after the thread it is replacing now (a drain is starting). */
  stopReloading(): void {
    this.#reloadsStopped = true;
  }

  /**
   * Replaces every slot, one at a time, with threads that import the app afresh (SIGHUP). The
   * standby, booted with the old code, is replaced too.
   */
  async reload(): Promise<void> {
    this.#generation++;
    const stale = this.#standby;
    this.#standby = undefined;
    if (stale) void stale.close();
    this.#prepareStandby();
    for (const slot of [...this.#slots]) {
      if (this.#closing || this.#reloadsStopped) return;
      if (slot.retiring || slot.replacing || slot.dead) continue;
      try {
        await this.replace(slot, 'reload');
      } catch (err) {
        const reason = (err as { reason?: string }).reason;
        throw reason === undefined ? err : new ReloadRefused(reason);
      }
    }
  }

  /** Stops every thread now, whatever it runs (the graceful timeout ran out). */
  async destroy(): Promise<void> {
    this.#closing = true;
    await Promise.allSettled(this.#all().map((s) => s.destroy()));
  }

  /** Lets running requests finish, then stops every thread. */
  async close(): Promise<void> {
    this.#closing = true;
    // A leaving slot's close() is already under way; calling it again waits for the same end.
    await Promise.all(this.#all().map((s) => s.close()));
  }

  #all(): WorkerSlot[] {
    return [...this.#slots, ...this.#retiring, ...this.#leaving, ...(this.#standby ? [this.#standby] : [])];
  }
}
