import { httpError, json, type Request } from 'drover';
import { topDestinations } from '../events/analysis.js';
import { store } from '../store.js';

const DESTINATION = /^[A-Za-z][A-Za-z .'-]{0,59}$/;

function destination(value: unknown): string {
  if (typeof value !== 'string' || !DESTINATION.test(value)) throw httpError(400, 'give a destination: letters, spaces, ".", "\'" and "-"');
  return value;
}

function session(value: unknown): string {
  if (typeof value !== 'string' || !/^[\w-]{1,64}$/.test(value)) throw httpError(400, 'give a session id: letters, digits, "_" and "-"');
  return value;
}

/**
 * GET /search?to=Lisbon&session=s1 — answers with (made-up) offers, and publishes what happened:
 * the analysis handlers learn of every search without the view knowing they exist.
 */
export function search(req: Request) {
  const to = destination(req.query.to);
  req.publish('search.done', { session: session(req.query.session), to });
  return { to, offers: [{ flight: `DR${to.length * 101}`, price: 99 + to.length * 7 }] };
}

/** POST /bookings {"session", "to"} — books, and publishes `booking.made`. */
export function book(req: Request) {
  const body = req.json<{ session?: unknown; to?: unknown }>();
  const to = destination(body.to);
  req.publish('booking.made', { session: session(body.session), to });
  return json({ booked: to }, { status: 201 });
}

/** GET /insights — what the analysis handlers computed from the events. */
export function insights() {
  const db = store();
  return {
    popular: topDestinations(10),
    abandonedSearches: db.prepare('SELECT session, destination, searched_at AS searchedAt FROM searches WHERE booked = 0 ORDER BY searched_at').all(),
  };
}
