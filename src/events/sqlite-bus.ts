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
import { BusOpenFailed, BusSchemaUnknown } from '../errors.js';
import type { WriteLock } from './write-lock.js';
import type { ClaimedDelivery, DeadDelivery, EventBus, HandlerBacklog, NewEvent, PublishedEvent } from './bus.js';

/**
 * The schema's version (PRAGMA user_version). A file written with another layout is refused with
 * a message rather than misread.
 */
const SCHEMA_VERSION = 2;

// Lean on purpose: every index costs each publish a B-tree insert, and a view that publishes pays
// for them before its response leaves. So a publish writes one row per event, whatever its fan-out:
//
// - events: in commit order (`seq`, AUTOINCREMENT so a number is never reused after retention
//   deletes the newest rows). `handlers` lists (",a,b,") the handlers whose deliveries are made
//   when they claim it, not at publish time: a handler's cursor (`cursors`) says how far it has
//   taken its deliveries from the log. Only ids that need it are deduplicated (a partial unique
//   index over `checked` rows: idempotency keys, derived ids, schedule ticks); the time-ordered
//   random ids of views and tasks are unique by construction and skip the index.
// - deliveries: rows only for what is running, waiting for a retry or a delay, or dead. Found by
//   (handler, state, due time); a delivery's id is its rowid (ids of deleted rows may be reused:
//   every write checks the lease owner, so a stale owner never touches another's delivery).
//
// A delayed event gets its delivery rows at publish time, so the cursors only ever pass events
// that are already due.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL,
  checked INTEGER NOT NULL,
  topic TEXT NOT NULL,
  payload TEXT NOT NULL,
  correlation TEXT,
  published_at INTEGER NOT NULL,
  due_at INTEGER NOT NULL,
  handlers TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS events_checked_id ON events (id) WHERE checked = 1;
CREATE TABLE IF NOT EXISTS cursors (
  handler TEXT PRIMARY KEY,
  seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY,
  event_seq INTEGER NOT NULL,
  handler TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('ready', 'running', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  available_at INTEGER NOT NULL,
  lease_owner TEXT,
  lease_until INTEGER,
  last_error TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (handler, state, available_at);
PRAGMA user_version = ${SCHEMA_VERSION};
`;

/** A delivery row that may be claimed, with its event. */
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

/** An event of the log a handler has not taken its delivery of yet. */
interface LogRow {
  seq: number;
  id: string;
  topic: string;
  payload: string;
  correlation: string | null;
  published_at: number;
  due_at: number;
}

/** Other handlers' events an idle handler's poll may read past its cursor before a claim moves it. */
const CURSOR_SLACK = 1000;

/** How a handler's name appears in an event's `handlers` column. */
const needle = (handler: string): string => `,${handler},`;

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
  let opened: Database.Database | undefined;
  let version: number;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    opened = db;
    db.pragma('journal_mode = WAL');
    // WAL with synchronous=NORMAL survives a process crash (kill -9) with every committed
    // transaction; only a power loss may lose the last ones. FULL would fsync every publish.
    db.pragma('synchronous = NORMAL');
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    // Created in one transaction, so another thread or process opening the file meanwhile sees
    // all of it with its version or none of it. A file that has it is only read here: opening
    // needs no write lock, and a bus locked by another program fails at the write, not at boot.
    if (db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'events'").get() === undefined) db.exec(`BEGIN IMMEDIATE; ${SCHEMA} COMMIT;`);
    version = db.pragma('user_version', { simple: true }) as number;
  } catch (err) {
    opened?.close(); // a transaction left open would hold the file's write lock
    throw new BusOpenFailed(path, (err as Error).message);
  }
  if (version !== SCHEMA_VERSION) {
    opened.close();
    throw new BusSchemaUnknown(path, String(version), String(SCHEMA_VERSION));
  }
  return new SqliteBus(opened, options.lock ?? null);
}

class SqliteBus implements EventBus {
  readonly #db: Database.Database;
  readonly #lock: WriteLock | null;
  readonly #insertChecked: Database.Statement;
  readonly #insertUnique: Database.Statement;
  readonly #insertDelivery: Database.Statement;
  readonly #addCursor: Database.Statement;
  readonly #claimable: Database.Statement;
  readonly #pastCursor: Database.Statement;
  readonly #lastSeq: Database.Statement;
  readonly #cursorOf: Database.Statement;
  readonly #moveCursor: Database.Statement;
  readonly #anyClaimable: Database.Statement;
  readonly #materialize: Database.Statement;
  readonly #take: Database.Statement;
  readonly #renew: Database.Statement;
  readonly #delete: Database.Statement;
  readonly #retry: Database.Statement;
  readonly #bury: Database.Statement;
  readonly #release: Database.Statement;
  readonly #publishAll: (events: readonly NewEvent[]) => number;
  readonly #claimAll: (owner: string, handler: string, limit: number, leaseMs: number) => ClaimedDelivery[];
  /** The `handlers` column of a handlers list: one string per list (the app's lists are reused for every event of a topic). */
  readonly #handlerColumns = new WeakMap<readonly string[], string>();

  constructor(db: Database.Database, lock: WriteLock | null) {
    this.#db = db;
    this.#lock = lock;
    const insert = 'INTO events (id, checked, topic, payload, correlation, published_at, due_at, handlers) VALUES';
    this.#insertChecked = db.prepare(`INSERT OR IGNORE ${insert} (?, 1, ?, ?, ?, ?, ?, ?)`);
    this.#insertUnique = db.prepare(`INSERT ${insert} (?, 0, ?, ?, ?, ?, ?, ?)`);
    this.#insertDelivery = db.prepare("INSERT INTO deliveries (event_seq, handler, state, available_at) VALUES (?, ?, 'ready', ?)");
    this.#addCursor = db.prepare('INSERT OR IGNORE INTO cursors (handler, seq) VALUES (?, ?)');
    // Ready and due, oldest due first; then running ones whose lease ran out (their owner died).
    this.#claimable = db.prepare(`
      SELECT d.id, e.id AS event_id, e.topic, d.handler, e.payload, e.correlation, d.attempts, e.published_at, d.available_at
      FROM deliveries d JOIN events e ON e.seq = d.event_seq
      WHERE d.id IN (
        SELECT id FROM deliveries WHERE handler = @handler AND state = 'ready' AND available_at <= @now
        UNION ALL
        SELECT id FROM deliveries WHERE handler = @handler AND state = 'running' AND lease_until < @now
      )
      ORDER BY d.available_at, d.id
      LIMIT @limit`);
    // The log past a handler's cursor: the events it has yet to take its delivery of, in order.
    this.#pastCursor = db.prepare(
      'SELECT seq, id, topic, payload, correlation, published_at, due_at FROM events WHERE seq > ? AND instr(handlers, ?) > 0 ORDER BY seq LIMIT ?',
    );
    this.#lastSeq = db.prepare('SELECT MAX(seq) FROM events').pluck();
    this.#cursorOf = db.prepare('SELECT seq FROM cursors WHERE handler = ?').pluck();
    this.#moveCursor = db.prepare('INSERT INTO cursors (handler, seq) VALUES (?, ?) ON CONFLICT (handler) DO UPDATE SET seq = excluded.seq');
    // Something to claim: a due delivery row, or an event of the handler's past its cursor. Or
    // many events of other handlers past it: then the claim's write moves the cursor past them, so
    // this read never scans more than CURSOR_SLACK of them.
    // The cheap tests first: SQLite stops at the first true one.
    this.#anyClaimable = db.prepare(`
      WITH c AS (SELECT COALESCE((SELECT seq FROM cursors WHERE handler = @handler), (SELECT MAX(seq) FROM events), 0) AS seq)
      SELECT EXISTS (SELECT 1 FROM deliveries WHERE handler = @handler AND ((state = 'ready' AND available_at <= @now) OR (state = 'running' AND lease_until < @now)))
          OR (SELECT MAX(seq) FROM events) - (SELECT seq FROM c) > ${CURSOR_SLACK}
          OR EXISTS (SELECT 1 FROM events, c WHERE events.seq > c.seq AND instr(handlers, @needle) > 0)`).pluck();
    this.#materialize = db.prepare(
      "INSERT INTO deliveries (event_seq, handler, state, attempts, available_at, lease_owner, lease_until) VALUES (?, ?, 'running', 1, ?, ?, ?)",
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
    // claim's reads and writes see no other process's claim in between (BEGIN IMMEDIATE takes the
    // write lock first).
    this.#publishAll = db.transaction((events: readonly NewEvent[]) => this.#insertAll(events));
    const claim = db.transaction((owner: string, handler: string, limit: number, leaseMs: number) => this.#claimDue(owner, handler, limit, leaseMs));
    this.#claimAll = (owner, handler, limit, leaseMs) => claim.immediate(owner, handler, limit, leaseMs);
  }

  /** Runs a write holding the process's write lock, when the bus has one. */
  #write<T>(write: () => T): T {
    return this.#lock ? this.#lock.run(write) : write();
  }

  #handlerColumn(handlers: readonly string[]): string {
    let column = this.#handlerColumns.get(handlers);
    if (column === undefined) {
      column = `,${handlers.join(',')},`;
      this.#handlerColumns.set(handlers, column);
    }
    return column;
  }

  /** The body of publish(), inside its transaction. */
  #insertAll(events: readonly NewEvent[]): number {
    const now = Date.now();
    let written = 0;
    let cursorsFor: readonly string[] | undefined;
    for (const e of events) {
      // A due event leaves its deliveries to the log (one row); a delayed one gets them now.
      const logged = e.availableAt <= now && e.handlers.length > 0;
      const insert = e.uniqueId ? this.#insertUnique : this.#insertChecked;
      const { changes, lastInsertRowid } = insert.run(e.id, e.topic, e.payload, e.correlation, now, e.availableAt, logged ? this.#handlerColumn(e.handlers) : null);
      if (changes === 0) continue; // the same id again: one event
      written++;
      if (!logged) for (const handler of e.handlers) this.#insertDelivery.run(lastInsertRowid, handler, e.availableAt);
      else if (e.handlers !== cursorsFor) {
        // A handler's first event gives it a cursor, just before that event (so neither a claim
        // nor backlog() reads the older log, none of which is the handler's). Once per handlers
        // list and transaction: a lookup that finds the row, in the common case.
        cursorsFor = e.handlers;
        for (const handler of e.handlers) this.#addCursor.run(handler, Number(lastInsertRowid) - 1);
      }
    }
    return written;
  }

  /**
   * The body of claim(), inside its transaction: due delivery rows (retries, delays, leases that
   * ran out) and the log past the handler's cursor, merged in due order, up to `limit`. The log's
   * events taken get their delivery rows now; the cursor moves past them and past every event
   * that is not the handler's.
   */
  #claimDue(owner: string, handler: string, limit: number, leaseMs: number): ClaimedDelivery[] {
    const now = Date.now();
    const until = now + leaseMs;
    const rows = this.#claimable.all({ handler, now, limit }) as DeliveryRow[];
    // No cursor: no event ever listed the handler (a publish makes one), so none is past the end.
    const cursor = (this.#cursorOf.get(handler) as number | undefined) ?? ((this.#lastSeq.get() as number | null) ?? 0);
    const log = this.#pastCursor.all(cursor, needle(handler), limit) as LogRow[];
    const claimed: ClaimedDelivery[] = [];
    let r = 0;
    let l = 0;
    while (claimed.length < limit && (r < rows.length || l < log.length)) {
      const row = rows[r];
      const next = log[l];
      if (row && (!next || row.available_at <= next.due_at)) {
        r++;
        this.#take.run(owner, until, row.id);
        claimed.push({
          id: String(row.id),
          eventId: row.event_id,
          topic: row.topic,
          handler,
          payload: row.payload,
          correlation: row.correlation,
          attempt: row.attempts + 1,
          publishedAt: row.published_at,
          dueAt: row.available_at,
        });
      } else if (next) {
        l++;
        const { lastInsertRowid } = this.#materialize.run(next.seq, handler, next.due_at, owner, until);
        claimed.push({
          id: String(lastInsertRowid),
          eventId: next.id,
          topic: next.topic,
          handler,
          payload: next.payload,
          correlation: next.correlation,
          attempt: 1,
          publishedAt: next.published_at,
          dueAt: next.due_at,
        });
      }
    }
    // Every log event of the handler's was taken and the query found fewer than it could: nothing
    // of the handler's is left up to the log's end, so the cursor goes there (past other handlers' events).
    const moved = l === log.length && log.length < limit ? Math.max(cursor, (this.#lastSeq.get() as number | null) ?? 0) : l > 0 ? (log[l - 1] as LogRow).seq : cursor;
    if (moved !== cursor) this.#moveCursor.run(handler, moved);
    return claimed;
  }

  async publish(events: readonly NewEvent[]): Promise<number> {
    return this.#write(() => this.#publishAll(events));
  }

  async claim(owner: string, handler: string, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    // A read first: an idle handler's poll takes no write lock (in WAL, readers never block the
    // writer), so the consumer's polling does not stand in the way of views that publish, even
    // while other handlers' events stream past.
    if (this.#anyClaimable.get({ handler, needle: needle(handler), now: Date.now() }) !== 1) return [];
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
    // One read transaction: the delivery rows and the cursors from the same moment, so a claim
    // committed in between cannot make an event neither ready nor running.
    return this.#db.transaction(() => this.#readBacklog())();
  }

  #readBacklog(): HandlerBacklog[] {
    const now = Date.now();
    const counts = new Map<string, { ready: number; delayed: number; running: number; dead: number; oldest: number | null }>();
    const rows = this.#db
      .prepare(
        `SELECT handler,
           SUM(state = 'ready' AND available_at <= @now) AS ready,
           SUM(state = 'ready' AND available_at > @now) AS delayed,
           SUM(state = 'running') AS running,
           SUM(state = 'dead') AS dead,
           MIN(CASE WHEN state = 'ready' AND available_at <= @now THEN available_at END) AS oldest
         FROM deliveries GROUP BY handler`,
      )
      .all({ now }) as { handler: string; ready: number; delayed: number; running: number; dead: number; oldest: number | null }[];
    for (const { handler, ...row } of rows) counts.set(handler, row);
    // The log past each cursor: due events whose delivery the handler has yet to take.
    const logged = this.#db.prepare('SELECT COUNT(*) AS ready, MIN(due_at) AS oldest FROM events WHERE seq > ? AND instr(handlers, ?) > 0');
    for (const { handler, seq } of this.#db.prepare('SELECT handler, seq FROM cursors').all() as { handler: string; seq: number }[]) {
      const log = logged.get(seq, needle(handler)) as { ready: number; oldest: number | null };
      if (log.ready === 0) continue;
      const row = counts.get(handler) ?? { ready: 0, delayed: 0, running: 0, dead: 0, oldest: null };
      row.ready += log.ready;
      row.oldest = row.oldest === null || (log.oldest !== null && log.oldest < row.oldest) ? log.oldest : row.oldest;
      counts.set(handler, row);
    }
    return [...counts]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([handler, r]) => ({ handler, ready: r.ready, delayed: r.delayed, running: r.running, dead: r.dead, oldestReadyMs: r.oldest === null ? null : now - r.oldest }));
  }

  async dead(handler?: string): Promise<DeadDelivery[]> {
    const rows = this.#db
      .prepare(
        `SELECT d.id, e.id AS event_id, e.topic, d.handler, d.attempts, d.last_error, e.published_at
         FROM deliveries d JOIN events e ON e.seq = d.event_seq
         WHERE d.state = 'dead' AND (@handler IS NULL OR d.handler = @handler)
         ORDER BY e.seq, d.id`,
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
      .prepare('SELECT id, topic, payload, correlation, published_at FROM events WHERE (@topic IS NULL OR topic = @topic) ORDER BY seq')
      .all({ topic: topic ?? null }) as { id: string; topic: string; payload: string; correlation: string | null; published_at: number }[];
    return rows.map((r) => ({ id: r.id, topic: r.topic, payload: r.payload, correlation: r.correlation, publishedAt: r.published_at }));
  }

  async forget(before: number, limit: number): Promise<number> {
    const inFlightSeqs = this.#db.prepare('SELECT DISTINCT event_seq FROM deliveries').pluck();
    const cursorRows = this.#db.prepare('SELECT handler, seq FROM cursors');
    const page = this.#db.prepare('SELECT seq, handlers, published_at FROM events WHERE seq > ? ORDER BY seq LIMIT 500');
    const remove = this.#db.prepare('DELETE FROM events WHERE seq = ?');
    // BEGIN IMMEDIATE: the write lock first, so the transaction waits for another process's
    // writes (busy_timeout) rather than failing at its first DELETE after reading.
    const forgetSome = this.#db.transaction(() => {
      // Oldest first, page by page, past the events that must stay: one with a delivery row
      // (ready, running, dead) or a handler whose cursor has not passed it. The deliveries table
      // holds only what is in flight, so its events are read once.
      const inFlight = new Set(inFlightSeqs.all() as number[]);
      const cursors = new Map((cursorRows.all() as { handler: string; seq: number }[]).map((c) => [c.handler, c.seq]));
      const passed = (seq: number, handlers: string | null) =>
        handlers === null || handlers.split(',').every((h) => h === '' || (cursors.get(h) ?? 0) >= seq);
      // The log is in publishing order: the scan stops at the first event published since `before`.
      let deleted = 0;
      let after = 0;
      for (let scanned = 0; deleted < limit && scanned < limit * 100; ) {
        const rows = page.all(after) as { seq: number; handlers: string | null; published_at: number }[];
        if (rows.length === 0) return deleted;
        scanned += rows.length;
        for (const e of rows) {
          if (e.published_at >= before || deleted >= limit) return deleted;
          after = e.seq;
          if (inFlight.has(e.seq) || !passed(e.seq, e.handlers)) continue;
          remove.run(e.seq);
          deleted++;
        }
      }
      return deleted;
    });
    return this.#write(() => forgetSome.immediate());
  }

  async purgeDead(): Promise<number> {
    return this.#write(() => this.#db.prepare("DELETE FROM deliveries WHERE state = 'dead'").run().changes);
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}
