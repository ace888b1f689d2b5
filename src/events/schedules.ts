/**
 * Periodic events (Celery beat, Sidekiq's periodic jobs): `export const schedules =
 * [schedule('0 3 * * *', 'report.due', payload)]`. Cron expressions are parsed by cron-parser.
 *
 * Every process that consumes events (`drover worker`, `serve` with SERVE_EVENTS) runs the
 * schedules, and each tick is published once however many run them: its event id is derived from
 * the schedule and the tick's time, so the second process's publish of the same tick is the same
 * event, which the bus ignores. There is no leader to elect and none to lose. A tick that falls
 * while no consuming process runs is not published later.
 */
import { createHash } from 'node:crypto';
import { CronExpressionParser } from 'cron-parser';
import type { Logger } from 'pino';
import { AppEventsInvalid } from '../errors.js';
import type { EventBus } from './bus.js';
import { encodePayload } from './publish.js';

/** Options of schedule(). */
export interface ScheduleOptions {
  /** The time zone the expression is read in (an IANA name such as `Europe/Paris`; default UTC). */
  readonly tz?: string;
}

const SCHEDULE = Symbol.for('drover.schedule');

/** A periodic event, as declared. */
export interface Schedule {
  readonly [SCHEDULE]: true;
  readonly cron: string;
  readonly topic: string;
  /** The payload as JSON text. */
  readonly payload: string;
  readonly tz: string;
}

/** A schedule as plain data (it crosses from the worker threads to the consumer's thread). */
export type ScheduleInfo = Omit<Schedule, typeof SCHEDULE>;

const TOPIC = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/**
 * Publishes `topic` with `payload` at every tick of the cron expression `cron` (five fields, or
 * six with seconds first), read in UTC unless `tz` says otherwise.
 *
 * @example
 * export const schedules = [schedule('0 3 * * *', 'report.due', { kind: 'daily' })];
 */
export function schedule(cron: string, topic: string, payload: unknown = null, options: ScheduleOptions = {}): Schedule {
  if (typeof topic !== 'string' || !TOPIC.test(topic)) {
    throw new AppEventsInvalid(`schedule("${cron}"): the topic must be letters, digits, ".", "_" and "-", not ${JSON.stringify(topic)}`);
  }
  const tz = options.tz ?? 'UTC';
  try {
    CronExpressionParser.parse(cron, { tz });
  } catch (err) {
    throw new AppEventsInvalid(`schedule("${cron}", "${topic}"): not a cron expression cron-parser reads (${(err as Error).message}); e.g. "0 3 * * *" for 03:00 every day`);
  }
  return Object.freeze({ [SCHEDULE]: true as const, cron, topic, payload: encodePayload(topic, payload, Number.POSITIVE_INFINITY), tz });
}

/** The app's `schedules` export, checked: an array of schedule() entries. */
export function checkSchedules(path: string, value: unknown): readonly ScheduleInfo[] {
  if (value === undefined) return Object.freeze([]);
  if (!Array.isArray(value)) throw new AppEventsInvalid(`${path} exports \`schedules\` as ${typeof value}; export an array of schedule(cron, topic, payload) entries`);
  const bad = value.findIndex((entry) => !(typeof entry === 'object' && entry !== null && (entry as Partial<Schedule>)[SCHEDULE] === true));
  if (bad !== -1) throw new AppEventsInvalid(`${path}: \`schedules\`[${bad}] is not made with schedule(cron, topic, payload)`);
  return Object.freeze((value as Schedule[]).map(({ cron, topic, payload, tz }) => Object.freeze({ cron, topic, payload, tz })));
}

/** The longest a timer waits before the next tick is worked out again (clock changes, drift). */
const MAX_WAIT_MS = 60_000;

/** What the scheduler needs from the process. */
export interface SchedulerOptions {
  readonly bus: EventBus;
  /** The handlers of a topic: one delivery each. */
  readonly handlersOf: (topic: string) => readonly string[];
  readonly logger: Logger;
}

/**
 * Publishes every schedule's ticks while it runs.
 *
 * @example
 * const scheduler = new Scheduler(schedules, { bus, handlersOf, logger });
 * scheduler.start();
 * // on SIGTERM
 * scheduler.stop();
 */
export class Scheduler {
  readonly #schedules: readonly ScheduleInfo[];
  readonly #options: SchedulerOptions;
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;

  constructor(schedules: readonly ScheduleInfo[], options: SchedulerOptions) {
    this.#schedules = schedules;
    this.#options = options;
  }

  start(): void {
    for (const s of this.#schedules) this.#arm(s, Date.now());
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  /** Waits for the first tick of `s` after `after` (ms since the epoch). */
  #arm(s: ScheduleInfo, after: number): void {
    if (this.#stopped) return;
    const tick = CronExpressionParser.parse(s.cron, { tz: s.tz, currentDate: new Date(after) }).next().getTime();
    const wait = Math.min(MAX_WAIT_MS, Math.max(0, tick - Date.now()));
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (Date.now() < tick) this.#arm(s, after); // woke early (a long wait is split): not yet
      else void this.#publish(s, tick).finally(() => this.#arm(s, tick));
    }, wait);
    this.#timers.add(timer);
  }

  async #publish(s: ScheduleInfo, tick: number): Promise<void> {
    const id = `s-${createHash('sha256').update([s.cron, s.tz, s.topic, String(tick)].join('\0')).digest('hex').slice(0, 32)}`;
    try {
      const written = await this.#options.bus.publish([{ id, topic: s.topic, payload: s.payload, correlation: null, handlers: this.#options.handlersOf(s.topic), availableAt: tick }]);
      if (written > 0) this.#options.logger.info({ topic: s.topic, cron: s.cron, tick: new Date(tick).toISOString(), eventId: id }, 'scheduled event published');
    } catch (err) {
      this.#options.logger.error({ err, topic: s.topic, cron: s.cron }, 'cannot publish a scheduled event; the next tick will try again');
    }
  }
}
