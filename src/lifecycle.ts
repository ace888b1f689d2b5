/**
 * Process signals. Handlers only record the signal (gunicorn's arbiter discipline); the serve loop
 * reads them one at a time and does the work outside the handler.
 */

/**
 * Signals drover acts on: TERM/INT drain and stop, HUP reloads the workers; TTIN/TTOU add and
 * remove a web process (a supervisor's only, WEB_PROCESSES > 1).
 */
export type ControlSignal = 'SIGTERM' | 'SIGINT' | 'SIGHUP' | 'SIGTTIN' | 'SIGTTOU';

/**
 * Records control signals in arrival order. Handlers stay installed for the life of the process,
 * so a repeated SIGTERM (a PaaS may send several) is recorded, never fatal, and cannot cut a drain
 * short.
 *
 * @example
 * const signals = new SignalQueue();
 * for (let s = await signals.next(); s === 'SIGHUP'; s = await signals.next()) await server.reload();
 */
export class SignalQueue {
  readonly #pending: ControlSignal[] = [];
  #wake: (() => void) | undefined;

  /** `signals`: the ones to record (their default action, such as stopping the process, is replaced). */
  constructor(signals: readonly ControlSignal[] = ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    for (const signal of signals) {
      process.on(signal, () => {
        this.#pending.push(signal);
        this.#wake?.();
      });
    }
  }

  /** The next recorded signal, waiting for one if none is pending. */
  async next(): Promise<ControlSignal> {
    while (this.#pending.length === 0) await new Promise<void>((resolve) => (this.#wake = resolve));
    return this.#pending.shift() as ControlSignal;
  }
}
