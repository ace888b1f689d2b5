// The embedded backend passes the bus contract, shares one file between processes' connections,
// takes each handler's deliveries from the log in order past the events that are not its own, and
// names its file when it cannot open it or cannot read it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { openSqliteBus } from '../src/events/sqlite-bus.js';
import { busContract } from './events/contract.js';

const dir = mkdtempSync(join(tmpdir(), 'drover-bus-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

busContract(t, {
  async fresh() {
    const path = join(dir, `bus-${++n}`, 'events.db');
    return { bus: openSqliteBus(path), reopen: async () => openSqliteBus(path) };
  },
});

t.test('two connections to one file (web and worker): a claim is taken once', async (t) => {
  const path = join(dir, 'shared.db');
  const web = openSqliteBus(path);
  const worker1 = openSqliteBus(path);
  const worker2 = openSqliteBus(path);
  t.teardown(async () => Promise.all([web.close(), worker1.close(), worker2.close()]).then(() => undefined));
  const events = Array.from({ length: 200 }, (_, i) => ({ id: `e${i}`, topic: 't', payload: '{}', correlation: null, handlers: ['h'], availableAt: Date.now() }));
  t.equal(await web.publish(events), 200);
  const seen = new Set<string>();
  for (;;) {
    const batch = [...(await worker1.claim('w1', 'h', 7, 10_000)), ...(await worker2.claim('w2', 'h', 5, 10_000))];
    if (batch.length === 0) break;
    for (const d of batch) {
      t.notOk(seen.has(d.id), `delivery ${d.id} claimed once`);
      seen.add(d.id);
    }
  }
  t.equal(seen.size, 200);
});

t.test('a file that cannot be opened is a coded error naming it', async (t) => {
  const blocker = join(dir, 'not-a-folder');
  writeFileSync(blocker, 'x');
  const path = join(blocker, 'events.db');
  t.throws(() => openSqliteBus(path), { code: 'DROVER_ERR_BUS_OPEN', message: new RegExp(`cannot open the event database ${path}`) });
});

t.test("a handler takes its deliveries from the log in order, past the events that are not its own", async (t) => {
  const bus = openSqliteBus(join(dir, 'log.db'));
  t.teardown(() => bus.close());
  const event = (id: string, handlers: string[]) => ({ id, topic: 't', payload: '{}', correlation: null, handlers, availableAt: Date.now(), uniqueId: true });
  const events = Array.from({ length: 300 }, (_, i) => event(`b${i}`, ['b']));
  for (const [at, id] of [[10, 'a1'], [150, 'a2'], [290, 'a3']] as const) events.splice(at, 0, event(id, ['a']));
  events.push(event('ab1', ['a', 'b']), event('ab2', ['a', 'b']));
  t.equal(await bus.publish(events), 305);
  t.match(await bus.backlog(), [{ handler: 'a', ready: 5, running: 0 }, { handler: 'b', ready: 302, running: 0 }], 'counted before any claim');
  t.same((await bus.claim('w', 'a', 2, 10_000)).map((d) => d.eventId), ['a1', 'a2']);
  t.same((await bus.claim('w', 'a', 10, 10_000)).map((d) => d.eventId), ['a3', 'ab1', 'ab2']);
  t.same(await bus.claim('w', 'a', 10, 10_000), [], 'nothing left for a');
  t.match(await bus.backlog(), [{ handler: 'a', ready: 0, running: 5 }, { handler: 'b', ready: 302 }]);
  await bus.publish([event('a4', ['a'])]);
  t.same((await bus.claim('w', 'a', 10, 10_000)).map((d) => d.eventId), ['a4'], 'a new event after the cursor');
  let taken = 0;
  for (let batch = await bus.claim('w', 'b', 64, 10_000); batch.length > 0; batch = await bus.claim('w', 'b', 64, 10_000)) taken += batch.length;
  t.equal(taken, 302, "b's own, each once");
});

t.test('a file written with another layout is refused with a coded error naming it', async (t) => {
  const path = join(dir, 'older.db');
  const db = new Database(path);
  db.exec('CREATE TABLE events (id TEXT PRIMARY KEY, topic TEXT); PRAGMA user_version = 1;');
  db.close();
  t.throws(() => openSqliteBus(path), { code: 'DROVER_ERR_BUS_SCHEMA', message: new RegExp(`the event database ${path} was written by another version of drover \\(schema 1; this one reads schema 2\\)`) });
});
