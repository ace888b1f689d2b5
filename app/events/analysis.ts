/**
 * Analysis modules: each consumes the events the booking views publish, for its own purpose, and
 * none of them is known to the views (a new one is one more on() line). Each records the events
 * it applied, so a delivery that runs twice counts once.
 */
import type { EventContext } from 'drover';
import { once, store } from '../store.js';

export interface Action {
  readonly session: string;
  readonly to: string;
}

/** Popular destinations: searches and bookings per destination. */
export function countSearch(action: Action, ctx: EventContext): void {
  once('popular-searches', ctx.eventId, (db) => {
    db.prepare('INSERT INTO destinations (name, searches) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET searches = searches + 1').run(action.to);
  });
}

export function countBooking(action: Action, ctx: EventContext): void {
  once('popular-bookings', ctx.eventId, (db) => {
    db.prepare('INSERT INTO destinations (name, bookings) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET bookings = bookings + 1').run(action.to);
  });
}

/** Abandoned searches: a search stays abandoned until the same session books that destination. */
export function trackSearch(action: Action, ctx: EventContext): void {
  once('abandoned-searches', ctx.eventId, (db) => {
    db.prepare('INSERT INTO searches (session, destination, searched_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(action.session, action.to, new Date().toISOString());
  });
}

export function trackBooking(action: Action, ctx: EventContext): void {
  once('abandoned-bookings', ctx.eventId, (db) => {
    db.prepare('INSERT INTO searches (session, destination, searched_at, booked) VALUES (?, ?, ?, 1) ON CONFLICT (session, destination) DO UPDATE SET booked = 1').run(action.session, action.to, new Date().toISOString());
  });
}

/** The most searched and booked destinations. */
export function topDestinations(limit: number): { destination: string; searches: number; bookings: number }[] {
  return store()
    .prepare('SELECT name AS destination, searches, bookings FROM destinations ORDER BY searches + bookings DESC, name LIMIT ?')
    .all(limit) as { destination: string; searches: number; bookings: number }[];
}

/** The nightly report (a scheduled event): logs the top destinations. */
export function nightlyReport(_payload: unknown, ctx: EventContext): void {
  ctx.log.info({ top: topDestinations(3) }, 'nightly report');
}
