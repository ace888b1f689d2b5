/**
 * The app's worker pools (bulkheads): `default`, sized by WEB_CONCURRENCY, and every pool the app
 * declares, each with its own threads, queue and dispatcher, so a saturated pool never delays the
 * routes of another.
 */
import type { Logger } from 'pino';
import type { Settings } from '../../config/settings.js';
import { DEFAULT_POOL, checkPoolThreads } from '../app/app-loader.js';
import { Dispatcher } from './dispatch.js';
import type { FrontMetrics, PoolState } from '../metrics.js';
import { WorkerPool, type RestartReason } from './pool.js';
import type { PoolSpec, RouteInfo, WorkerData } from './protocol.js';
import type { MetricSnapshot } from '../view-metrics.js';
import { EVENTS_POOL, type HandlerInfo } from '../events/handlers.js';
import type { ScheduleInfo } from '../events/schedules.js';
import { PoolInvalid } from '../errors.js';

interface Member {
  readonly pool: WorkerPool;
  readonly dispatcher: Dispatcher;
}

/** Hooks the owner gives: where restarts, metrics and problems go. */
export interface PoolEvents {
  metrics(threadId: number, snapshot: MetricSnapshot): void;
  restart(pool: string, reason: RestartReason): void;
  failure(pool: string, err: Error): void;
  /** Events published by the pool's views and handlers, by topic. */
  published?(counts: readonly (readonly [string, number])[]): void;
}

/** Every pool of the app, started from the default pool's manifest. */
export class Pools {
  readonly #members = new Map<string, Member>();
  readonly #settings: Settings;
  readonly #appPath: string;
  readonly #channel: string;
  readonly #logger: Logger;
  readonly #env: WorkerData['env'];
  /** One bus write lock for every thread of the process (events/write-lock.ts). */
  readonly #busLock = new SharedArrayBuffer(4);

  constructor(settings: Settings, appPath: string, channel: string, logger: Logger, env: WorkerData['env']) {
    this.#env = env;
    this.#settings = settings;
    this.#appPath = appPath;
    this.#channel = channel;
    this.#logger = logger;
  }

  /**
   * Starts the default pool, learns the declared pools from its manifest, then starts them.
   * Throws with the app's message when it cannot be imported, or naming POOL_THREADS when it
   * sizes a pool the app does not declare; no thread is left running then.
   */
  async start(metrics: FrontMetrics, events: PoolEvents): Promise<readonly RouteInfo[]> {
    const first = this.#add(DEFAULT_POOL, { threads: this.#settings.WEB_CONCURRENCY }, metrics, events);
    const routes = await first.start();
    const declared = first.declaredPools;
    try {
      checkPoolThreads(this.#settings.POOL_THREADS, declared);
      for (const [name, spec] of Object.entries(declared)) {
        const threads = this.#settings.POOL_THREADS[name] ?? spec.threads;
        await this.#add(name, { ...spec, threads }, metrics, events).start();
      }
    } catch (err) {
      await this.destroy();
      throw err;
    }
    return routes;
  }

  /**
   * For a process that runs event handlers: starts the `events` pool (`threads` threads, no
   * prefetch: the consumer holds what is claimed and not started, so a stop can give it back),
   * learns the handlers from its manifest, then starts every other pool a handler names, which the
   * app must declare. Returns the handlers.
   */
  async startEvents(threads: number, metrics: FrontMetrics, events: PoolEvents): Promise<readonly HandlerInfo[]> {
    const first = this.#add(EVENTS_POOL, { threads, prefetch: 0 }, metrics, events);
    await first.start();
    const handlers = first.declaredEvents;
    const declared = first.declaredPools;
    try {
      checkPoolThreads(this.#settings.POOL_THREADS, { ...declared, [EVENTS_POOL]: { threads } });
      for (const name of new Set(handlers.map((h) => h.pool))) {
        if (name === EVENTS_POOL) continue;
        const spec = declared[name];
        if (!spec) {
          const users = handlers.filter((h) => h.pool === name).map((h) => `"${h.name}"`).join(', ');
          throw new PoolInvalid(`event handler ${users} uses pool "${name}", which ${this.#appPath} does not declare; add it to \`export const pools\``);
        }
        await this.#add(name, { ...spec, threads: this.#settings.POOL_THREADS[name] ?? spec.threads, prefetch: 0 }, metrics, events).start();
      }
    } catch (err) {
      await this.destroy();
      throw err;
    }
    return handlers;
  }

  /**
   * For `serve` when it consumes: the handlers the app declares (from the default pool's
   * manifest), and an `events` pool of `threads` threads for them, started beside the others so
   * handlers never take threads from views. Other pools a handler names must be declared (they
   * are already running).
   */
  async addEvents(threads: number, metrics: FrontMetrics, events: PoolEvents): Promise<readonly HandlerInfo[]> {
    const first = this.#members.get(DEFAULT_POOL)?.pool;
    const handlers = first?.declaredEvents ?? [];
    if (handlers.length === 0) return handlers;
    for (const h of handlers) {
      if (h.pool !== EVENTS_POOL && !this.#members.has(h.pool)) {
        throw new PoolInvalid(`event handler "${h.name}" uses pool "${h.pool}", which ${this.#appPath} does not declare; add it to \`export const pools\``);
      }
    }
    if (!this.#members.has(EVENTS_POOL)) await this.#add(EVENTS_POOL, { threads, prefetch: 0 }, metrics, events).start();
    return handlers;
  }

  /** Threads pool `name` is configured to run. */
  threads(name: string): number {
    return this.#members.get(name)?.pool.size ?? 0;
  }

  #add(name: string, size: PoolSpec, metrics: FrontMetrics, events: PoolEvents): WorkerPool {
    const pool = new WorkerPool(this.#settings, this.#appPath, this.#channel, name, size, this.#env, this.#busLock);
    const poolMetrics = metrics.forPool(name);
    pool.on('metrics', (threadId: number, snapshot: MetricSnapshot) => events.metrics(threadId, snapshot));
    pool.on('published', (counts: readonly (readonly [string, number])[]) => events.published?.(counts));
    pool.on('restart', (reason: RestartReason) => {
      poolMetrics.restarted(reason);
      events.restart(name, reason);
    });
    pool.on('failure', (err: Error) => events.failure(name, err));
    const dispatcher = new Dispatcher(pool, this.#settings.MAX_QUEUE, poolMetrics, this.#logger);
    this.#members.set(name, { pool, dispatcher });
    return pool;
  }

  /** The process's bus write lock: the threads' buses take it, and so does the main thread's. */
  get busLock(): SharedArrayBuffer {
    return this.#busLock;
  }

  /** The app's periodic events, from the manifest of the first pool started. */
  get declaredSchedules(): readonly ScheduleInfo[] {
    return this.#members.values().next().value?.pool.declaredSchedules ?? [];
  }

  /** The app's event handlers, from the default pool's manifest. */
  get declaredEvents(): readonly HandlerInfo[] {
    return this.#members.get(DEFAULT_POOL)?.pool.declaredEvents ?? [];
  }

  /** True when the app exports a `notFound` view (it runs in the default pool). */
  get notFoundView(): boolean {
    return this.#members.get(DEFAULT_POOL)?.pool.hasNotFoundView ?? false;
  }

  /** The dispatcher of pool `name`. */
  dispatcher(name: string): Dispatcher {
    const member = this.#members.get(name);
    if (!member) throw new Error(`no pool named "${name}"`);
    return member.dispatcher;
  }

  /** True when every pool has a thread up and none is closing. */
  get ready(): boolean {
    return [...this.#members.values()].every((m) => m.pool.ready);
  }

  /** Asks every thread of every pool for its metrics now (a scrape of /metrics). */
  async reportMetrics(): Promise<void> {
    await Promise.all([...this.#members.values()].map((m) => m.pool.reportMetrics()));
  }

  /** Live threads of every pool, by thread id. */
  get threadIds(): Set<number> {
    const ids = new Set<number>();
    for (const m of this.#members.values()) for (const id of m.pool.threadIds) ids.add(id);
    return ids;
  }

  /** Each pool's live numbers, for the gauges. */
  states(): PoolState[] {
    return [...this.#members.entries()].map(([name, m]) => ({ name, workers: m.pool.alive, queued: m.dispatcher.queued }));
  }

  /** Requests running or queued, over every pool. */
  get load(): { running: number; queued: number } {
    let running = 0;
    let queued = 0;
    for (const m of this.#members.values()) {
      running += m.dispatcher.running;
      queued += m.dispatcher.queued;
    }
    return { running, queued };
  }

  /** Replaces every pool's workers, one at a time (SIGHUP). */
  async reload(): Promise<void> {
    for (const m of this.#members.values()) await m.pool.reload();
  }

  /** Stops a reload in progress after the threads it is replacing now (a drain is starting). */
  stopReloading(): void {
    for (const m of this.#members.values()) m.pool.stopReloading();
  }

  /** Answers everything still queued or running with 503 (graceful timeout). */
  abandonAll(): void {
    for (const m of this.#members.values()) m.dispatcher.abandonAll();
  }

  /** Lets running requests finish, then stops every thread. */
  async close(): Promise<void> {
    await Promise.all([...this.#members.values()].map((m) => m.pool.close()));
  }

  /** Stops every thread now. */
  async destroy(): Promise<void> {
    await Promise.allSettled([...this.#members.values()].map((m) => m.pool.destroy()));
  }
}
