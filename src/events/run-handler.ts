/**
 * Runs one event delivery in a worker thread: the payload parsed, the handler's context built
 * (its logger, `publish` with ids derived from the delivery, the app's settings, a signal), the
 * handler awaited, then its own events written (only when it succeeded: the outbox rule holds for
 * handlers as for views). The outcome travels back as a response envelope: 200 when it succeeded,
 * 500 with `{ "error" }` when it failed; the consumer decides between retry and dead.
 */
import { threadId } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { EventPublishing } from '../view.js';
import type { DeliveryQuery, RequestTask, ResponseEnvelope } from '../pool/protocol.js';
import type { EventContext, EventHandler } from './handlers.js';
import { derivedIds, Outbox } from './publish.js';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** What a delivery needs from its thread. */
export interface HandlerRunOptions {
  readonly logger: Logger;
  readonly publishing: EventPublishing;
  /** The app's settings (its `settings` export), or an empty object. */
  readonly settings: Readonly<Record<string, unknown>>;
  /** Aborted when the delivery passes its timeout (the front of the consumer says so). */
  readonly signal: AbortSignal;
}

/** The failure of a delivery as the consumer receives it. */
export interface HandlerFailure {
  readonly error: string;
}

function failed(message: string): ResponseEnvelope {
  const body = encoder.encode(JSON.stringify({ error: message } satisfies HandlerFailure));
  return { status: 500, headers: [], body: body.buffer as ArrayBuffer, worker: threadId };
}

/**
 * Runs `handler` for the delivery `task`. Never throws: a failure is a 500 envelope with the
 * error's message (its stack is logged here, in the thread, with the delivery's fields).
 *
 * @example
 * const envelope = await runHandler(app.events[task.route], task, { logger, publishing, settings, signal });
 */
export async function runHandler(handler: EventHandler, task: RequestTask, options: HandlerRunOptions): Promise<ResponseEnvelope> {
  const { eventId, topic, attempt, correlation } = task.query as DeliveryQuery;
  const correlationId = correlation === '' ? null : correlation;
  const log = options.logger.child({ eventId, handler: handler.name, topic, attempt: Number(attempt), ...(correlationId ? { reqId: correlationId } : {}) });
  const outbox = new Outbox(options.publishing.handlersOf, options.publishing.maxBytes, derivedIds(eventId, handler.name), correlationId);
  const ctx: EventContext = {
    eventId,
    topic,
    attempt: Number(attempt),
    correlationId,
    log,
    settings: options.settings,
    signal: options.signal,
    // Checked at once (a bad payload fails this attempt where it was published), written below.
    publish: async (next, payload, publishOptions) => outbox.publish(next, payload, publishOptions),
  };
  try {
    const payload: unknown = JSON.parse(task.body ? decoder.decode(task.body) : 'null');
    await handler.handler(payload, ctx);
  } catch (err) {
    log.error({ err }, 'event handler failed');
    return failed((err as Error)?.message ?? String(err));
  }
  try {
    await outbox.flush(options.publishing.bus());
    options.publishing.published(outbox.topics);
  } catch (err) {
    log.error({ err, topics: outbox.topics }, 'the bus did not take the events this handler published; the attempt fails');
    return failed(`the bus did not take the events this handler published: ${(err as Error).message}`);
  }
  return { status: 200, headers: [], body: null, worker: threadId };
}
