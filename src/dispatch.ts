/**
 * Hands a routed request to the pool and returns the worker's response envelope.
 * The one place requests cross to the workers.
 */
import type { Piscina } from 'piscina';
import type { RequestTask, ResponseEnvelope } from './protocol.js';

/** Sends one request to a worker. */
export type Dispatch = (task: RequestTask) => Promise<ResponseEnvelope>;

/**
 * Creates the dispatcher for `pool`. The request body is transferred to the worker, not copied.
 *
 * @example
 * const dispatch = createDispatch(pool);
 * const response = await dispatch(task);
 */
export function createDispatch(pool: Piscina): Dispatch {
  return (task) =>
    pool.run(task, { transferList: task.body ? [task.body] : [] }) as Promise<ResponseEnvelope>;
}
