/**
 * The embedded backend: events in one SQLite file (better-sqlite3), in WAL mode so the web and
 * worker processes of one machine share it (readers never block the writer), durable across
 * restarts and `kill -9` (every write is a committed transaction).
 *
 * better-sqlite3 is synchronous: each call holds its thread for the statement's time (tens of
 * microseconds here). The methods still return promises, because the bus interface is shared with
 * the Redis backend, which is not synchronous.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { BusOpenFailed } from '../errors.js';
import type { WriteLock } from './write-lock.js';
import type { ClaimedDelivery, DeadDelivery, EventBus, HandlerBacklog, NewEvent, PublishedEvent } from './bus.js';

// Lean on purpose: every index costs each publish a B-tree insert. Deliveries are found by
// (handler, state, due time); a delivery's id is its rowid (ids of deleted rows may be reused:
// every write checks the lease owner, so a stale owner never touches another's delivery); the
// event id's uniqueness is what makes a repeated publish one event.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  id TEXT PRIMARY KEY,
  topic TEXT NOT NULL,
  payload TEXT NOT NULL,
  correlation TEXT,
  published_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL,
  handler TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('ready', 'running', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  available_at INTEGER NOT NULL,
  lease_owner TEXT,
  lease_until INTEGER,
  last_error TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (handler, state, available_at);
`;

interface DeliveryRow {
  id: number;
  event_id: string;
  topic: string;
  handler: string;
  payload: string;
  correlation: string | null;
  attempts: number;
  published_at: number;
  available_at: number;
}

/** Options of the SQLite bus. */
export interface SqliteBusOptions {
  /** Milliseconds a write waits for another process's write lock before failing (SQLITE_BUSY). */
  readonly busyTimeoutMs?: number;
  /** The process's write lock, shared by its threads, taken around each publish. */
  readonly lock?: WriteLock;
}

/**
 * Opens (creating it and its folder when missing) the event database at `path`.
 * A file that cannot be opened or written is a coded error naming it.
 *
 * @example
 * const bus = openSqliteBus('var/events.db');
 * await bus.publish([{ id: 'e1', topic: 'video.uploaded', payload: '{"id":7}', correlation: null, handlers: ['resize'], availableAt: Date.now() }]);
 */
export function openSqliteBus(path: string, options: SqliteBusOptions = {}): EventBus {
  let db: Database.Database;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    // WAL with synchronous=NORMAL survives a process crash (kill -9) with every committed
    // transaction; only a power loss may lose the last ones. FULL would fsync every publish.
    db.pragma('synchronous = NORMAL');
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    db.exec(SCHEMA);
  } catch (err) {
    throw new BusOpenFailed(path, (err as Error).message);
  }
  return new SqliteBus(db, options.lock ?? null);
}

class SqliteBus implements EventBus {
  readonly #db: Database.Database;
  readonly #insertEvent: Database.Statement;
  readonly #insertDelivery: Database.Statement;
  readonly #claimable: Database.Statement;
  readonly #anyClaimable: Database.Statement;
  readonly #take: Database.Statement;
  readonly #renew: Database.Statement;
  readonly #delete: Database.Statement;
  readonly #retry: Database.Statement;
  readonly #bury: Database.Statement;
  readonly #release: Database.Statement;
  readonly #publishAll: (events: readonly NewEvent[]) => number;
  readonly #claimAll: (owner: string, handler: string, limit: number, leaseMs: number) => ClaimedDelivery[];

  readonly #lock: WriteLock | null;

  constructor(db: Database.Database, lock: WriteLock | null) {
    this.#db = db;
    this.#lock = lock;
    this.#insertEvent = db.prepare('INSERT OR IGNORE INTO events (id, topic, payload, correlation, published_at) VALUES (?, ?, ?, ?, ?)');
    this.#insertDelivery = db.prepare("INSERT INTO deliveries (event_id, handler, state, available_at) VALUES (?, ?, 'ready', ?)");
    // Ready and due, oldest due first; then running ones whose lease ran out (their owner died).
    this.#claimable = db.prepare(`
      SELECT d.id, d.event_id, e.topic, d.handler, e.payload, e.correlation, d.attempts, e.published_at, d.available_at
      FROM deliveries d JOIN events e ON e.id = d.event_id
      WHERE d.id IN (
        SELECT id FROM deliveries WHERE handler = @handler AND state = 'ready' AND available_at <= @now
        UNION ALL
        SELECT id FROM deliveries WHERE handler = @handler AND state = 'running' AND lease_until < @now
      )
      ORDER BY d.available_at, d.id
      LIMIT @limit`);
    this.#anyClaimable = db.prepare(
      "SELECT 1 FROM deliveries WHERE handler = ? AND ((state = 'ready' AND available_at <= ?) OR (state = 'running' AND lease_until < ?)) LIMIT 1",
    );
    this.#take = db.prepare("UPDATE deliveries SET state = 'running', attempts = attempts + 1, lease_owner = ?, lease_until = ? WHERE id = ?");
    this.#renew = db.prepare("UPDATE deliveries SET lease_until = ? WHERE id = ? AND lease_owner = ? AND state = 'running'");
    this.#delete = db.prepare("DELETE FROM deliveries WHERE id = ? AND lease_owner = ? AND state = 'running'");
    this.#retry = db.prepare(
      "UPDATE deliveries SET state = 'ready', available_at = ?, last_error = ?, lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ? AND state = 'running'",
    );
    this.#bury = db.prepare(
      "UPDATE deliveries SET state = 'dead', last_error = ?, lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ? AND state = 'running'",
    );
    this.#release = db.prepare(
      "UPDATE deliveries SET state = 'ready', attempts = attempts - 1, lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ? AND state = 'running'",
    );
    // One transaction per call: a publish writes all its events and deliveries or nothing, and a
    // claim's SELECT and UPDATE see no other process's claim in between (BEGIN IMMEDIATE takes the
    // write lock first).
    this.#publishAll = db.transaction((events: readonly NewEvent[]) => {
      let written = 0;
      for (const e of events) {
        const inserted = this.#insertEvent.run(e.id, e.topic, e.payload, e.correlation, Date.now()).changes;
        if (inserted === 0) continue; // the same id again: one event
        written++;
        for (const handler of e.handlers) this.#insertDelivery.run(e.id, handler, e.availableAt);
      }
      return written;
    });
    const claim = db.transaction((owner: string, handler: string, limit: number, leaseMs: number) => {
      const now = Date.now();
      const rows = this.#claimable.all({ handler, now, limit }) as DeliveryRow[];
      return rows.map((row) => {
        this.#take.run(owner, now + leaseMs, row.id);
        return {
          id: String(row.id),
          eventId: row.event_id,
          topic: row.topic,
          handler: row.handler,
          payload: row.payload,
          correlation: row.correlation,
          attempt: row.attempts + 1,
          publishedAt: row.published_at,
          dueAt: row.available_at,
        } satisfies ClaimedDelivery;
      });
    });
    this.#claimAll = (owner, handler, limit, leaseMs) => claim.immediate(owner, handler, limit, leaseMs);
  }

  /** Runs a write holding the process's write lock, when the bus has one. */
  #write<T>(write: () => T): T {
    return this.#lock ? this.#lock.run(write) : write();
  }

  async publish(events: readonly NewEvent[]): Promise<number> {
    return this.#write(() => this.#publishAll(events));
  }

  async claim(owner: string, handler: string, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    // A read first: an idle handler's poll takes no write lock (in WAL, readers never block the
    // writer), so the consumer's polling does not stand in the way of views that publish.
    if (this.#anyClaimable.get(handler, Date.now(), Date.now()) === undefined) return [];
    return this.#write(() => this.#claimAll(owner, handler, limit, leaseMs));
  }

  async renew(owner: string, ids: readonly string[], leaseMs: number): Promise<string[]> {
    const until = Date.now() + leaseMs;
    return this.#write(() => this.#db.transaction(() => ids.filter((id) => this.#renew.run(until, Number(id), owner).changes === 1))());
  }

  async ack(owner: string, id: string): Promise<boolean> {
    return this.#write(() => this.#delete.run(Number(id), owner).changes === 1);
  }

  async retry(owner: string, id: string, availableAt: number, error: string): Promise<boolean> {
    return this.#write(() => this.#retry.run(availableAt, error, Number(id), owner).changes === 1);
  }

  async bury(owner: string, id: string, error: string): Promise<boolean> {
    return this.#write(() => this.#bury.run(error, Number(id), owner).changes === 1);
  }

  async release(owner: string, ids: readonly string[]): Promise<number> {
    return this.#write(() => this.#db.transaction(() => ids.reduce((n, id) => n + this.#release.run(Number(id), owner).changes, 0))());
  }

  async backlog(): Promise<HandlerBacklog[]> {
    const now = Date.now();
    const rows = this.#db
      .prepare(
        `SELECT handler,
           SUM(state = 'ready' AND available_at <= @now) AS ready,
           SUM(state = 'ready' AND available_at > @now) AS delayed,
           SUM(state = 'running') AS running,
           SUM(state = 'dead') AS dead,
           MIN(CASE WHEN state = 'ready' AND available_at <= @now THEN available_at END) AS oldest
         FROM deliveries GROUP BY handler ORDER BY handler`,
      )
      .all({ now }) as { handler: string; ready: number; delayed: number; running: number; dead: number; oldest: number | null }[];
    return rows.map((r) => ({
      handler: r.handler,
      ready: r.ready,
      delayed: r.delayed,
      running: r.running,
      dead: r.dead,
      oldestReadyMs: r.oldest === null ? null : now - r.oldest,
    }));
  }

  async dead(handler?: string): Promise<DeadDelivery[]> {
    const rows = this.#db
      .prepare(
        `SELECT d.id, d.event_id, e.topic, d.handler, d.attempts, d.last_error, e.published_at
         FROM deliveries d JOIN events e ON e.id = d.event_id
         WHERE d.state = 'dead' AND (@handler IS NULL OR d.handler = @handler)
         ORDER BY e.published_at, d.id`,
      )
      .all({ handler: handler ?? null }) as { id: number; event_id: string; topic: string; handler: string; attempts: number; last_error: string | null; published_at: number }[];
    return rows.map((r) => ({ id: String(r.id), eventId: r.event_id, topic: r.topic, handler: r.handler, attempts: r.attempts, lastError: r.last_error, publishedAt: r.published_at }));
  }

  async revive(ids: readonly string[] | 'all'): Promise<number> {
    const now = Date.now();
    if (ids === 'all') {
      return this.#write(() => this.#db.prepare("UPDATE deliveries SET state = 'ready', attempts = 0, available_at = ? WHERE state = 'dead'").run(now).changes);
    }
    const one = this.#db.prepare("UPDATE deliveries SET state = 'ready', attempts = 0, available_at = ? WHERE id = ? AND state = 'dead'");
    return this.#write(() => this.#db.transaction(() => ids.reduce((n, id) => n + one.run(now, Number(id)).changes, 0))());
  }

  async events(topic?: string): Promise<PublishedEvent[]> {
    const rows = this.#db
      .prepare('SELECT id, topic, payload, correlation, published_at FROM events WHERE (@topic IS NULL OR topic = @topic) ORDER BY published_at, rowid')
      .all({ topic: topic ?? null }) as { id: string; topic: string; payload: string; correlation: string | null; published_at: number }[];
    return rows.map((r) => ({ id: r.id, topic: r.topic, payload: r.payload, correlation: r.correlation, publishedAt: r.published_at }));
  }

  async forget(before: number, limit: number): Promise<number> {
    // Oldest first by rowid (insertion order), so the scan stops among the old rows; an event
    // with a delivery left (ready, running, dead) is kept.
    const forget = this.#db.prepare(
      `DELETE FROM events WHERE rowid IN (
           SELECT e.rowid FROM events e WHERE e.published_at < ? AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)
           ORDER BY e.rowid LIMIT ?)`,
    );
    return this.#write(() => forget.run(before, limit).changes);
  }

  async purgeDead(): Promise<number> {
    return this.#write(() => this.#db.prepare("DELETE FROM deliveries WHERE state = 'dead'").run().changes);
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}
