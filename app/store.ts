/**
 * The example app's own data: an SQLite file (better-sqlite3) that every thread and process of
 * the app opens, in WAL mode. Handlers run at least once, so each records the events it has
 * applied and applies an event only the first time (see `once`).
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { settings } from './settings.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS uploads (id TEXT PRIMARY KEY, name TEXT NOT NULL, size INTEGER NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS upload_steps (upload_id TEXT NOT NULL, step TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (upload_id, step));
CREATE TABLE IF NOT EXISTS destinations (name TEXT PRIMARY KEY, searches INTEGER NOT NULL DEFAULT 0, bookings INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS searches (session TEXT NOT NULL, destination TEXT NOT NULL, searched_at TEXT NOT NULL, booked INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (session, destination));
CREATE TABLE IF NOT EXISTS applied (handler TEXT NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (handler, event_id));
`;

let db: Database.Database | undefined;

/** This thread's connection, opened on first use. */
export function store(): Database.Database {
  if (!db) {
    const path = resolve(settings.APP_DB);
    mkdirSync(dirname(path), { recursive: true });
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.exec(SCHEMA);
  }
  return db;
}

/**
 * Runs `apply` once per handler and event, in one transaction with the record that it ran: a
 * delivery that runs twice (at least once) changes nothing the second time.
 */
export function once(handler: string, eventId: string, apply: (db: Database.Database) => void): boolean {
  const conn = store();
  return conn.transaction(() => {
    const fresh = conn.prepare('INSERT OR IGNORE INTO applied (handler, event_id) VALUES (?, ?)').run(handler, eventId).changes === 1;
    if (fresh) apply(conn);
    return fresh;
  })();
}

/** Closes this thread's connection (the app's shutdown hook). */
export function closeStore(): void {
  db?.close();
  db = undefined;
}
