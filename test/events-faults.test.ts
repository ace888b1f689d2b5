// Faults that must lose nothing: kill -9 of a worker in the middle of 10,000 events (every event
// handled after a restart, duplicates few), SIGTERM under load (nothing lost, no attempt spent on
// what was given back), a bus that cannot be opened at boot (a coded error naming the file) or is
// locked at publish (503, nothing half-written).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import Database from 'better-sqlite3';
import { testClient } from 'drover/testing';
import { openSqliteBus } from '../src/events/sqlite-bus.js';
import { eventually, fixture, runDrover, startDrover } from './helpers/server.js';

const dir = mkdtempSync(join(tmpdir(), 'drover-faults-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** Lines "eventId attempt" the record handler wrote. */
const records = (file: string): string[][] => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => l.split(' ')) : []);

async function publishRecords(busPath: string, file: string, count: number, ms = 0): Promise<void> {
  const bus = openSqliteBus(busPath);
  const events = Array.from({ length: count }, (_, i) => ({ id: `r${i}`, topic: 'record', payload: JSON.stringify({ file, ms }), correlation: null, handlers: ['record'], availableAt: Date.now() }));
  for (let i = 0; i < events.length; i += 1000) await bus.publish(events.slice(i, i + 1000));
  await bus.close();
}

t.test('kill -9 in the middle of 10,000 events: after a restart every one is handled, duplicates few', async (t) => {
  const busPath = join(dir, 'kill.db');
  const file = join(dir, 'kill.log');
  await publishRecords(busPath, file, 10_000);
  const env = { BUS_PATH: busPath, EVENT_THREADS: '2', EVENT_LEASE: '1', LOG_LEVEL: 'warn' };
  const first = await startDrover({ command: 'worker', app: fixture('pipeline.js'), env: { ...env, LOG_LEVEL: 'info' } });
  await eventually(() => records(file).length >= 3000, 30_000);
  first.child.kill('SIGKILL');
  const handledBefore = records(file).length;
  t.ok(handledBefore < 10_000, `killed with ${handledBefore} handled`);
  const second = await startDrover({ command: 'worker', app: fixture('pipeline.js'), env: { ...env, LOG_LEVEL: 'info' } });
  t.teardown(() => second.stop());
  await eventually(() => new Set(records(file).map(([id]) => id)).size === 10_000, 60_000);
  const lines = records(file);
  const duplicates = lines.length - new Set(lines.map(([id]) => id)).size;
  t.equal(new Set(lines.map(([id]) => id)).size, 10_000, 'none missing');
  // At most what the killed worker had claimed (16 = concurrency 8 x 2 threads) may run twice.
  t.ok(duplicates <= 16, `${duplicates} handled twice (the killed worker's in-flight deliveries)`);
  t.ok(lines.filter(([, attempt]) => attempt === '2').length >= duplicates, 'the re-runs are second attempts');
});

t.test('SIGTERM under load: nothing lost, no attempt spent on what was given back', async (t) => {
  const busPath = join(dir, 'term.db');
  const file = join(dir, 'term.log');
  await publishRecords(busPath, file, 2000, 5);
  const env = { BUS_PATH: busPath, EVENT_THREADS: '2', LOG_LEVEL: 'warn' };
  const first = await startDrover({ command: 'worker', app: fixture('pipeline.js'), env: { ...env, LOG_LEVEL: 'info' } });
  await eventually(() => records(file).length >= 300, 30_000);
  t.equal(await first.stop(), 0);
  const stoppedAt = records(file).length;
  t.ok(stoppedAt < 2000, `stopped with ${stoppedAt} handled`);
  const second = await startDrover({ command: 'worker', app: fixture('pipeline.js'), env: { ...env, LOG_LEVEL: 'info' } });
  t.teardown(() => second.stop());
  await eventually(() => records(file).length >= 2000, 60_000);
  const lines = records(file);
  t.equal(new Set(lines.map(([id]) => id)).size, 2000, 'none lost');
  t.equal(lines.length, 2000, 'none ran twice');
  t.same(lines.filter(([, attempt]) => attempt !== '1'), [], 'every delivery ran on its first attempt');
});

t.test('a bus that cannot be opened at boot: a coded error naming the file', async (t) => {
  const blocker = join(dir, 'a-file');
  writeFileSync(blocker, 'x');
  const path = join(blocker, 'events.db');
  for (const command of ['worker', 'serve']) {
    const { code, stderr } = await runDrover([command, fixture('pipeline.js')], { BUS_PATH: path });
    t.equal(code, 1, command);
    t.match(stderr, new RegExp(`^drover: DROVER_ERR_BUS_OPEN: cannot open the event database ${path}`), command);
  }
});

t.test('a bus locked by another program at publish: 503, nothing half-written', async (t) => {
  const busPath = join(dir, 'locked.db');
  openSqliteBus(busPath).close(); // the schema exists
  const client = await testClient(fixture('pipeline.js'), { env: { WEB_CONCURRENCY: '1', BUS_PATH: busPath } });
  t.teardown(() => client.close());
  const locker = new Database(busPath);
  locker.exec('BEGIN EXCLUSIVE');
  const res = await client.post('/publish/video.uploaded?id=locked&count=3'); // waits out the 5 s busy timeout
  locker.exec('ROLLBACK');
  locker.close();
  t.equal(res.status, 503);
  t.match(res.json(), { error: /did not take this request's 3 event\(s\): database is locked/ });
  t.same(await client.published(), [], 'none of the three was written');
});
