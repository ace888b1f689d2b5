// schedule(cron, topic, payload): every consuming process publishes the ticks, and each tick is one
// event however many processes run (its id comes from the schedule and the tick's time).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { schedule } from 'drover';
import { fixture, runDrover, startDrover } from './helpers/server.js';

const dir = mkdtempSync(join(tmpdir(), 'drover-schedules-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('two workers, one delivery per tick', async (t) => {
  const env = { BUS_PATH: join(dir, 'ticks.db'), EVENT_THREADS: '1' };
  const a = await startDrover({ command: 'worker', app: fixture('schedules.js'), env });
  const b = await startDrover({ command: 'worker', app: fixture('schedules.js'), env });
  t.match(a.logs().find((l) => l.msg === 'worker ready'), { schedules: ['* * * * * * -> clock.tick'] });
  await new Promise((resolve) => setTimeout(resolve, 3500));
  await Promise.all([a.stop(), b.stop()]);
  const logs = [...a.logs(), ...b.logs()];
  const ticks = logs.filter((l) => l.msg === 'scheduled event published').map((l) => l.tick);
  t.ok(ticks.length >= 2, `${ticks.length} ticks published in 3.5 s`);
  t.equal(new Set(ticks).size, ticks.length, 'each tick published by one process only, though both ran the schedule');
  t.ok(a.logs().some((l) => l.msg === 'scheduled event published') || b.logs().some((l) => l.msg === 'scheduled event published'));
  const handled = logs.filter((l) => l.msg === 'tick handled');
  t.equal(new Set(handled.map((l) => l.eventId)).size, handled.length, 'no tick handled twice');
  t.ok(handled.length >= ticks.length - 1, 'every tick handled (the last may be in flight at the stop)');
  t.ok(handled.every((l) => l.source === 'cron'), 'with its payload');
});

t.test('check lists the schedules; a bad expression is a coded error', async (t) => {
  const { stdout } = await runDrover(['check', fixture('schedules.js')]);
  t.match(stdout, /^Schedules:\n {2}"\* \* \* \* \* \*" \(UTC\) -> clock\.tick$/m);
  t.throws(() => schedule('61 * * * *', 'x'), { code: 'DROVER_ERR_APP_EVENTS', message: /not a cron expression cron-parser reads/ });
  t.throws(() => schedule('* * * * *', 'x', { at: new Date() }), { code: 'DROVER_ERR_EVENT_PUBLISH' });
});
