/**
 * Process signals. Handlers only record the signal (gunicorn's arbiter discipline); the serve loop
 * awaits it and does the work in one place, outside the handler.
 */

const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Resolves with the first SIGTERM or SIGINT. The handlers stay installed afterwards, so a repeated
 * signal (a PaaS may send several) is recorded rather than killing the process mid-drain.
 *
 * @example
 * const signal = await shutdownRequested();
 * await server.close();
 */
export function shutdownRequested(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    for (const signal of SHUTDOWN_SIGNALS) process.on(signal, () => resolve(signal));
  });
}
