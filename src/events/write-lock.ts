/**
 * One bus writer at a time among the threads of a process. SQLite lets one connection write at
 * once; a connection that finds the file locked sleeps in SQLite's busy handler (1 ms, then 2, 5,
 * 10 … ms), and with every worker thread publishing, those sleeps, not the writes, set the pace.
 * Threads of one process instead queue here, on one Int32 in shared memory (Atomics.wait: woken
 * the moment the holder unlocks), and SQLite's busy handler is left to the rare writer of another
 * process. Hand-written because no library offers a lock shared by worker threads; it is
 * `Atomics.compareExchange` and `Atomics.wait`, as the Node documentation shows.
 */

/** A lock over one Int32 of a SharedArrayBuffer that every thread of the process holds. */
export class WriteLock {
  readonly #cell: Int32Array;

  /** `buffer`: 4 bytes shared by every thread (WorkerData.busLock). */
  constructor(buffer: SharedArrayBuffer) {
    this.#cell = new Int32Array(buffer, 0, 1);
  }

  /**
   * Runs `write` holding the lock. Only for synchronous work (a better-sqlite3 transaction): the
   * lock is never held across an `await`, so a waiting thread waits for one transaction at most.
   *
   * @example
   * lock.run(() => insertAll(events));
   */
  run<T>(write: () => T): T {
    // 0 free, 1 held. Wait while held; the timeout only guards against a holder that died holding it
    // (a terminated thread): after it, the lock is taken over.
    while (Atomics.compareExchange(this.#cell, 0, 0, 1) !== 0) {
      if (Atomics.wait(this.#cell, 0, 1, 1000) === 'timed-out') Atomics.store(this.#cell, 0, 0);
    }
    try {
      return write();
    } finally {
      Atomics.store(this.#cell, 0, 0);
      Atomics.notify(this.#cell, 0, 1);
    }
  }
}
