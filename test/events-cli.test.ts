// `drover events`: per handler, deliveries by state and the oldest ready age; dead deliveries with
// their last error; retry (one, or --all) and purge --dead acting on them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openSqliteBus } from '../src/events/sqlite-bus.js';
import { fixture, runDrover } from './helpers/server.js';

const dir = mkdtempSync(join(tmpdir(), 'drover-events-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const BUS_PATH = join(dir, 'events.db');
const env = { BUS_PATH };
const bus = openSqliteBus(BUS_PATH);
t.teardown(() => bus.close());

const event = (id: string, topic: string, handlers: string[], availableAt = Date.now()) => ({ id, topic, payload: '{}', correlation: null, handlers, availableAt });

t.test('the backlog, per handler of the app', async (t) => {
  await bus.publish([event('a', 'video.uploaded', ['resize', 'thumbnail'], Date.now() - 3000), event('b', 'video.uploaded', ['resize']), event('c', 'flaky', ['flaky'], Date.now() + 60_000)]);
  const [running] = await bus.claim('someone', 'thumbnail', 1, 60_000);
  t.ok(running);
  await bus.publish([event('gone', 'old.topic', ['retired'])]);
  const { code, stdout } = await runDrover(['events', fixture('pipeline.js')], env);
  t.equal(code, 0);
  t.match(stdout, /^HANDLER\s+TOPIC\s+READY\s+DELAYED\s+RUNNING\s+DEAD\s+OLDEST READY$/m);
  t.match(stdout, /^resize\s+video\.uploaded\s+2\s+0\s+0\s+0\s+3\.\ds$/m, 'two ready, the oldest 3 s old');
  t.match(stdout, /^thumbnail\s+video\.uploaded\s+0\s+0\s+1\s+0\s+-$/m);
  t.match(stdout, /^flaky\s+flaky\s+0\s+1\s+0\s+0\s+-$/m, 'a delayed one');
  t.match(stdout, /^notify\s+video\.resized\s+0\s+0\s+0\s+0\s+-$/m, 'a handler with nothing on the bus');
  t.match(stdout, /^retired \(not in the app\)\s+-\s+1\s+/m, 'deliveries of a handler the app dropped');
});

t.test('dead deliveries: listed with their last error, retried, purged', async (t) => {
  await bus.publish([event('d1', 'doomed', ['doomed']), event('d2', 'doomed', ['doomed'])]);
  const claimed = await bus.claim('w', 'doomed', 2, 60_000);
  for (const d of claimed) await bus.bury('w', d.id, `boom ${d.eventId}`);
  const list = await runDrover(['events', 'dead', 'doomed'], env);
  t.equal(list.code, 0);
  t.match(list.stdout, /^ID\s+HANDLER\s+TOPIC\s+ATTEMPTS\s+PUBLISHED\s+LAST ERROR$/m);
  t.match(list.stdout, new RegExp(`^${claimed[0]?.id}\\s+doomed\\s+doomed\\s+1\\s+\\S+Z\\s+boom d1$`, 'm'));
  const one = await runDrover(['events', 'retry', claimed[0]?.id as string], env);
  t.equal(one.stdout, '1 dead delivery ready again, with fresh attempts\n');
  t.match(await bus.backlog(), [{ handler: 'doomed', ready: 1, dead: 1 }]);
  const purge = await runDrover(['events', 'purge', '--dead'], env);
  t.equal(purge.stdout, '1 dead delivery deleted\n');
  t.equal((await runDrover(['events', 'retry', '--all'], env)).stdout, '0 dead deliveries ready again, with fresh attempts\n');
});

t.test('usage errors say what the command takes', async (t) => {
  const purge = await runDrover(['events', 'purge'], env);
  t.equal(purge.code, 2);
  t.match(purge.stderr, /purge needs --dead/);
  const retry = await runDrover(['events', 'retry'], env);
  t.match(retry.stderr, /retry takes delivery IDs .* or --all/);
});
