/**
 * Start claims: which requests sent to a worker thread have started running there.
 *
 * The front sends requests ahead of need (WORKER_PREFETCH), so a thread always has its next batch
 * at hand instead of waiting a round trip for it: that is what lets one thread hop per event-loop
 * turn carry dozens of requests. A request waiting in a thread's inbox has not run, so it must not
 * share the fate of the ones that have: when the thread dies, or its deadline passes first, it is
 * taken back (run elsewhere, or answered 504) without harm. Telling the two apart takes one shared
 * Int32 per request in flight, with no message: the front writes the request's sequence number
 * into a free cell; the worker turns it negative before it starts the view; the front takes a
 * request back by zeroing the cell. Both sides use compare-and-swap, so exactly one of "started"
 * and "taken back" wins, whichever thread gets there first.
 */

/** The shared cells of one thread; `size` is the most requests that may be in flight to it. */
export class StartClaims {
  readonly buffer: SharedArrayBuffer;
  readonly #cells: Int32Array;
  readonly #free: number[];

  constructor(size: number) {
    this.buffer = new SharedArrayBuffer(size * Int32Array.BYTES_PER_ELEMENT);
    this.#cells = new Int32Array(this.buffer);
    this.#free = Array.from({ length: size }, (_, i) => size - 1 - i);
  }

  /** Marks request `seq` as sent and not started; returns its cell. */
  sent(seq: number): number {
    const cell = this.#free.pop();
    if (cell === undefined) throw new Error('more requests in flight than the thread has claim cells');
    Atomics.store(this.#cells, cell, seq);
    return cell;
  }

  /** True while request `seq` is sent and neither started nor taken back. */
  waiting(cell: number, seq: number): boolean {
    return Atomics.load(this.#cells, cell) === seq;
  }

  /** Takes request `seq` back if its thread has not started it; true when taken back. */
  revoke(cell: number, seq: number): boolean {
    return Atomics.compareExchange(this.#cells, cell, seq, 0) === seq;
  }

  /** The request in `cell` is over (answered or taken back): the cell may carry another. */
  release(cell: number): void {
    this.#free.push(cell);
  }
}

/**
 * The worker's side: claims request `seq` in `cell` before running its view. False means the front
 * took it back (its deadline passed, or it runs elsewhere): the thread must skip it.
 *
 * @example
 * if (claimStart(cells, task.cell, task.seq)) await runTheView(task);
 */
export function claimStart(cells: Int32Array<ArrayBufferLike>, cell: number, seq: number): boolean {
  return Atomics.compareExchange(cells, cell, seq, -seq) === seq;
}
