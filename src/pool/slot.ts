/**
 * One worker thread and the channel its requests travel on.
 *
 * piscina owns the thread's life cycle: spawn, resource limits (WORKER_MAX_MEMORY_MB), close. The
 * requests do not go through `piscina.run()`, though: one task per request cost more than the
 * view itself for light views (piscina's per-task bookkeeping plus a message each way). At boot
 * the slot hands the thread a MessageChannel with its one piscina task (the manifest); after
 * that, every request bound for the thread in one event-loop turn travels in one message, and
 * the thread answers every request finished in one of its turns in one message, with its metric
 * snapshot. Response bodies are transferred; request bodies are copied (protocol.ts says why).
 */
import { EventEmitter } from 'node:events';
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Settings } from '../../config/settings.js';
import { threadError } from '../app/app-errors.js';
import { AppThreadExited, BootTimedOut, ShutdownHookFailed } from '../errors.js';
import { StartClaims } from './claims.js';
import {
  ABORT_GRACE_MS,
  BootStage,
  METRICS_REPORT_WAIT_MS,
  packRequests,
  type ManifestResult,
  type MetricsRequest,
  type ManifestTask,
  type RequestTask,
  type ResponseBatch,
  type ResponseEnvelope,
  type AbortRequest,
  type ShutdownResult,
  type ShutdownTask,
  type StreamControl,
  type StreamHandle,
  type ThreadError,
  type WorkerData,
} from './protocol.js';
import type { MetricSnapshot } from '../view-metrics.js';

const WORKER_FILE = new URL('./worker.js', import.meta.url).href;

/** Where one request's outcome goes: exactly one of the three is called, once. */
export interface Delivery {
  /** The view's response; `startedAt` is when it started, in milliseconds since the epoch. */
  delivered(response: ResponseEnvelope, startedAt: number): void;
  /** The thread stopped while running it. */
  failed(error: Error): void;
  /** The thread stopped before starting it: it may run elsewhere. */
  returned(): void;
}

/** A request sent to the thread and not answered yet. */
interface InFlight {
  readonly seq: number;
  readonly delivery: Delivery;
}

const sleep = (ms: number) => new Promise<'timeout'>((resolve) => setTimeout(resolve, ms, 'timeout').unref());

/** What a boot that passed BOOT_TIMEOUT was doing, for the error. */
function stageText(stage: number, app: string): string {
  if (stage === BootStage.startup) return "running the app's startup hook";
  if (stage === BootStage.importing) return `importing the app module ${app}`;
  return 'starting the worker thread';
}

/** A ThreadError from one of drover's own coded errors. */
function plain(error: Error & { code?: string }): ThreadError {
  return { code: error.code, message: error.message };
}

/** How many requests a slot takes: running at once, and sent ahead to wait in its inbox. */
export interface SlotCapacity {
  readonly concurrency: number;
  readonly prefetch: number;
}

/**
 * Events: `dead` (error) once the thread stopped without being asked to; `metrics` (threadId,
 * snapshot) before the responses they belong to are resolved; `recycle` when the thread's heap
 * passed WORKER_RECYCLE_HEAP_MB; `failure` (Error) when the app's shutdown hook failed; `stuck`
 * when the thread did not answer a response stream's cancel (its event loop is blocked).
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
  /**
   * Requests in flight, by claim cell: an array and not a Map keyed by sequence number, because a
   * Map with an entry added and deleted per request keeps finished requests alive (linked-list.ts).
   */
  readonly #pending: (InFlight | undefined)[];
  readonly #claims: StartClaims;
  readonly #concurrency: number;
  #outbox: RequestTask[] = [];
  readonly #settings: Settings;
  readonly #app: string;
  readonly #stage: Int32Array;

  constructor(settings: Settings, workerData: Omit<WorkerData, 'stage'>, capacity: SlotCapacity) {
    super();
    this.#settings = settings;
    this.#app = workerData.app;
    const stage = new SharedArrayBuffer(4);
    this.#stage = new Int32Array(stage);
    this.#concurrency = capacity.concurrency;
    this.#claims = new StartClaims(capacity.concurrency + capacity.prefetch);
    this.#pending = new Array<InFlight | undefined>(capacity.concurrency + capacity.prefetch).fill(undefined);
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
      workerData: { ...workerData, stage } satisfies WorkerData,
    });
    // piscina re-emits thread errors that hit no piscina task; the thread's own events (boot()) are
    // what drover acts on, so this listener keeps the last one, for a boot that dies, and keeps
    // them from being unhandled.
    this.#piscina.on('error', (err: Error) => (this.#lastError = err));
    const jitter = settings.MAX_REQUESTS > 0 ? Math.floor(Math.random() * (settings.MAX_REQUESTS_JITTER + 1)) : 0;
    this.recycleAfter = settings.MAX_REQUESTS > 0 ? settings.MAX_REQUESTS + jitter : 0;
  }

  /** Views the thread runs at once. */
  get concurrency(): number {
    return this.#concurrency;
  }

  /** Threads alive in this slot (0 or 1). */
  get threads(): number {
    return this.#thread && !this.dead && !this.#closing ? 1 : 0;
  }

  /** True from the thread's boot until it has exited (closing or not). */
  get threadRuns(): boolean {
    return this.#thread !== undefined && !this.#threadExited;
  }

  #threadExited = false;

  /** The id of this slot's thread. */
  get threadId(): number | undefined {
    return this.#thread?.threadId;
  }

  /**
   * Starts the thread, which imports the app, runs its startup hook and takes its end of the
   * channel. Past BOOT_TIMEOUT the thread is stopped and the result names the stage it was in
   * (an import or a hook that never settles, or a busy loop: the thread is terminated either way).
   */
  async boot(): Promise<ManifestResult> {
    const { port1, port2 } = new MessageChannel();
    let result: ManifestResult | 'timeout';
    let timer: NodeJS.Timeout | undefined;
    const task: ManifestTask = { kind: 'manifest', port: port2, claims: this.#claims.buffer, concurrency: this.#concurrency };
    const manifest = this.#piscina.run(task, { transferList: [port2] }) as Promise<ManifestResult>;
    manifest.catch(() => undefined); // after a timeout its rejection (the thread destroyed) is expected
    try {
      const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, this.#settings.BOOT_TIMEOUT * 1000, 'timeout')));
      result = await Promise.race([manifest, timeout]);
      // The timer and the answer crossed: a thread that is ready is not a timeout.
      if (result === 'timeout' && Atomics.load(this.#stage, 0) === BootStage.ready) result = await manifest;
    } catch (err) {
      // The thread died while importing or in the startup hook: say where, with the app's stack.
      port1.close();
      const cause = this.#lastError ?? err;
      const { message, appStack } = threadError(cause);
      await this.destroy();
      return { ok: false, error: { ...plain(new AppThreadExited(stageText(Atomics.load(this.#stage, 0), this.#app), message)), appStack } };
    } finally {
      clearTimeout(timer);
    }
    if (result === 'timeout') {
      port1.close();
      const error = new BootTimedOut(String(this.#settings.BOOT_TIMEOUT), stageText(Atomics.load(this.#stage, 0), this.#app));
      await this.destroy();
      return { ok: false, error: plain(error) };
    }
    const thread = this.#piscina.threads[0];
    if (!result.ok || !thread) {
      port1.close();
      return result.ok ? { ok: false, error: { message: 'the worker thread stopped during boot' } } : result;
    }
    this.#thread = thread;
    this.#port = port1;
    port1.on('message', (batch: ResponseBatch) => this.#received(batch));
    thread.on('error', (err: Error) => (this.#lastError = err));
    thread.once('exit', (code: number) => this.#exited(code));
    return result;
  }

  /**
   * Sends one request; its outcome goes to `delivery`, never synchronously. Requests of one turn
   * leave in one message. Callbacks rather than a promise: this runs for every request, and the
   * callbacks spare the front a promise chain (and its microtasks) per request.
   */
  send(task: RequestTask, delivery: Delivery): void {
    if (!this.#port || this.dead) {
      const error = this.#lastError ?? new Error('the worker thread is not running');
      queueMicrotask(() => delivery.failed(error));
      return;
    }
    const seq = ++this.#seq;
    const cell = this.#claims.sent(seq);
    task.seq = seq;
    task.cell = cell;
    this.#pending[cell] = { seq, delivery };
    this.#outbox.push(task);
    // A request for an idle thread leaves at once: nothing else is on its way, and waiting for
    // the turn to end would only add latency. Otherwise setImmediate runs after the poll phase,
    // so every request parsed in this turn joins the batch.
    if (this.inFlight <= 1) this.#flush();
    else if (this.#outbox.length === 1) setImmediate(this.#flush);
  }

  readonly #flush = (): void => {
    const batch = this.#outbox;
    this.#outbox = [];
    if (batch.length > 0 && this.#port && !this.dead) this.#port.postMessage(packRequests(batch));
  };

  /** Scrapes waiting for this thread's metrics (MetricsRequest): called when it answers. */
  #reportWaiters: (() => void)[] = [];

  /**
   * Asks the thread for its metrics now; resolves once they are in (emitted as `metrics`), or
   * after METRICS_REPORT_WAIT_MS when the thread is busy (its last values stand in). A thread
   * running its shutdown hook answers no questions, but its last values come with the hook's
   * result: that is waited for the same way, so what it counted before its last response is in
   * the scrape. A thread that does not run, or is closing but not in its hook, resolves at once.
   */
  reportMetrics(): Promise<void> {
    if (this.#closing ? !this.#inShutdownHook : !this.#port || this.dead) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, METRICS_REPORT_WAIT_MS);
      // One question answers every scrape that waits on it.
      if (this.#reportWaiters.length === 0 && !this.#closing) this.#port?.postMessage({ report: true } satisfies MetricsRequest);
      this.#reportWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** The thread's values are in (an answer, or its shutdown result), or will not come: scrapes go on. */
  #answerWaiters(): void {
    for (const answered of this.#reportWaiters.splice(0)) answered();
  }

  #received(batch: ResponseBatch): void {
    const worker = this.#thread?.threadId ?? 0;
    if (batch.recycle) this.emit('recycle');
    if (batch.metrics) this.emit('metrics', worker, batch.metrics satisfies MetricSnapshot);
    if (batch.reported) this.#answerWaiters();
    if (batch.published) this.emit('published', batch.published);
    for (const [seq, cell, startedAt, status, headers, body, file, stream] of batch.responses) {
      const pending = this.#pending[cell];
      if (pending?.seq !== seq) {
        stream?.close(); // taken back, and answered by the front already: its stream is not wanted
        continue;
      }
      this.#pending[cell] = undefined;
      this.#claims.release(cell);
      if (stream) pending.delivery.delivered({ status, headers, body, worker, stream: this.#track(stream) }, startedAt);
      else pending.delivery.delivered(file ? { status, headers, body, worker, file } : { status, headers, body, worker }, startedAt);
    }
  }

  /**
   * Response streams still open on this thread. A stream outlives its request's slot in the
   * dispatcher (a long stream, server-sent events, must not hold one of the thread's views), but
   * not the thread: close() waits for them (GRACEFUL_TIMEOUT at most), and a thread that dies
   * closes their channels, which cuts their responses.
   */
  readonly #streams = new Set<MessagePort>();
  #streamsDone: (() => void) | undefined;

  #track(port: MessagePort): StreamHandle {
    this.#streams.add(port);
    port.once('close', () => {
      this.#streams.delete(port);
      if (this.#streams.size === 0) this.#streamsDone?.();
    });
    return { port, stuck: () => this.emit('stuck') };
  }

  /** Response streams open on this thread. */
  get streams(): number {
    return this.#streams.size;
  }

  /**
   * Waits for this thread's response streams to end, at most GRACEFUL_TIMEOUT; then cancels the
   * ones left (their views see req.signal abort, their clients a truncated response) and gives
   * their views ABORT_GRACE_MS to stop before the thread goes.
   */
  async #endStreams(): Promise<void> {
    if (this.#streams.size === 0) return;
    const ended = new Promise<void>((resolve) => (this.#streamsDone = resolve));
    if ((await Promise.race([ended, sleep(this.#settings.GRACEFUL_TIMEOUT * 1000)])) !== 'timeout') return;
    // The front's end closes each channel once the view answered the cancel (send-stream.ts).
    for (const port of this.#streams) port.postMessage({ cancel: 'shutdown' } satisfies StreamControl);
    if ((await Promise.race([ended, sleep(ABORT_GRACE_MS)])) !== 'timeout') return;
    for (const port of this.#streams) port.close();
  }

  /** The client of a running request left, or its deadline passed: its view's `req.signal` aborts. */
  abort(task: RequestTask, why: 'client' | 'timeout'): void {
    const cell = task.cell as number;
    const seq = task.seq as number;
    if (this.#pending[cell]?.seq === seq && this.#port && !this.dead) this.#port.postMessage({ abort: [cell, seq, why] } satisfies AbortRequest);
  }

  #exited(code: number): void {
    this.#threadExited = true;
    const error = this.#lastError ?? new Error(`the worker thread exited with code ${code}`);
    this.#lastError = error;
    this.#port?.close();
    // Dead before anyone hears of it: a dispatcher freed by these callbacks must not pick it.
    if (!this.#closing) this.dead = true;
    const started: Delivery[] = [];
    const unstarted: Delivery[] = [];
    const inFlight: (InFlight & { cell: number })[] = [];
    this.#pending.forEach((pending, cell) => pending && inFlight.push({ ...pending, cell }));
    this.#pending.fill(undefined);
    for (const { seq, delivery, cell } of inFlight.sort((a, b) => a.seq - b.seq)) {
      (this.#claims.revoke(cell, seq) ? unstarted : started).push(delivery);
    }
    for (const delivery of started) delivery.failed(error);
    // Requests the thread never started go back newest first: the dispatcher puts each at the head
    // of its queue, so they end up there in their original order.
    for (const delivery of unstarted.reverse()) delivery.returned();
    if (!this.#closing) this.emit('dead', error, this.#terminatedByUs);
  }

  /** True while `task` waits in the thread's inbox, sent and not started. */
  waiting(task: RequestTask): boolean {
    const cell = task.cell as number;
    return this.#pending[cell]?.seq === task.seq && this.#claims.waiting(cell, task.seq as number);
  }

  /**
   * Takes `task` back if the thread has not started it: it will never run there, and its outcome
   * is the caller's to give. False when it is running (or done).
   */
  takeBack(task: RequestTask): boolean {
    const seq = task.seq as number;
    const cell = task.cell as number;
    if (this.#pending[cell]?.seq !== seq || !this.#claims.revoke(cell, seq)) return false;
    this.#pending[cell] = undefined;
    this.#claims.release(cell);
    return true;
  }

  /**
   * Terminates the thread (uWSGI's harakiri): the other requests it had started fail, the ones
   * waiting in its inbox go back to the queue, and the pool replaces the slot.
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

  /**
   * Lets running requests finish (the caller waits for inFlight 0), runs the app's shutdown hook
   * (bounded by SHUTDOWN_TIMEOUT; a failure is reported as `failure`, never blocks), then stops
   * the thread.
   */
  close(): Promise<void> {
    // Once: a retiring slot's close() may be awaited again by the pool's own close().
    this.#closed ??= (async () => {
      this.#closing = true;
      try {
        // Questions already asked get no answer through the closed port: they wait for the
        // hook's result below, or their timer.
        this.#port?.close();
        await this.#endStreams();
        // A slot destroyed meanwhile runs no hook: piscina would start a thread just for it.
        if (this.#thread && !this.dead && !this.#destroyed) {
          this.#inShutdownHook = true;
          if (!(await this.#shutdownHook())) {
            await this.#piscina.destroy(); // the hook is still running: stop it with the thread
            return;
          }
        }
        await this.#piscina.close();
      } finally {
        this.#inShutdownHook = false;
        this.#answerWaiters();
      }
    })();
    return this.#closed;
  }

  #closed: Promise<void> | undefined;
  /** Between the shutdown task's start and its result (which carries the thread's last values). */
  #inShutdownHook = false;
  #destroyed = false;

  /** Runs the app's shutdown hook in the thread; false when it is still running at the deadline. */
  async #shutdownHook(): Promise<boolean> {
    const task: ShutdownTask = { kind: 'shutdown' };
    const run = this.#piscina.run(task) as Promise<ShutdownResult>;
    run.catch(() => undefined);
    let outcome: ShutdownResult | 'timeout';
    try {
      outcome = await Promise.race([run, sleep(this.#settings.SHUTDOWN_TIMEOUT * 1000)]);
    } catch (err) {
      outcome = { ok: false, error: { message: (err as Error).message } };
    }
    if (outcome !== 'timeout' && outcome.metrics) this.emit('metrics', this.#thread?.threadId ?? 0, outcome.metrics satisfies MetricSnapshot);
    this.#inShutdownHook = false;
    this.#answerWaiters();
    if (outcome === 'timeout') {
      this.emit(
        'failure',
        new ShutdownHookFailed(
          `did not finish within SHUTDOWN_TIMEOUT (${this.#settings.SHUTDOWN_TIMEOUT} s); the thread was stopped. Put timeouts on what it awaits, or raise SHUTDOWN_TIMEOUT`,
        ),
      );
      return false;
    }
    if (!outcome.ok && this.#destroyed) {
      this.emit('failure', new ShutdownHookFailed('was cut off: GRACEFUL_TIMEOUT ran out and the thread was stopped'));
      return true;
    }
    if (!outcome.ok) {
      this.emit('failure', Object.assign(new ShutdownHookFailed(`failed: ${outcome.error.message}`), { appStack: outcome.error.appStack }));
    }
    return true;
  }

  /** Stops the thread now, whatever it runs. */
  async destroy(): Promise<void> {
    this.#destroyed = true;
    this.#closing = true;
    this.#port?.close();
    await this.#piscina.destroy();
  }
}
