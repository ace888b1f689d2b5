// The embedded backend passes the bus contract, shares one file between processes' connections,
// and names its file when it cannot open it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
