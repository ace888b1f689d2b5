// Event handlers are data, like routes: on(topic, handler, { name, … }) in an `events` export,
// validated at boot and listed by `drover check`; a bad declaration is a coded error.
import t from 'tap';
import { on } from 'drover';
import { fixture, runDrover } from './helpers/server.js';

t.test('drover check lists every handler with its options', async (t) => {
  const { code, stdout } = await runDrover(['check', fixture('events.js')]);
  t.equal(code, 0);
  t.match(stdout, /^Event handlers:\n {2}video\.uploaded -> resize \(pool events, 5 attempts, timeout 120s, concurrency 1\)\n {2}video\.uploaded -> thumbnail \(pool events, 3 attempts, timeout 60s, concurrency 4\)\n {2}video\.resized -> notify \(pool mail, 3 attempts, timeout 60s, concurrency 1\)$/m);
});

t.test('an app without handlers says so', async (t) => {
  const { stdout } = await runDrover(['check', fixture('views.js')]);
  t.match(stdout, /^Event handlers: none$/m);
});

t.test('on() refuses what it cannot run, naming the handler', async (t) => {
  const noop = () => undefined;
  t.throws(() => on('video.uploaded', noop, {} as never), { code: 'DROVER_ERR_APP_EVENTS', message: /give the handler a unique name/ });
  t.throws(() => on('video uploaded', noop, { name: 'x' }), { message: /handler "x": the topic must be letters/ });
  t.throws(() => on('t', noop, { name: 'x', attempts: 0 }), { message: /handler "x": attempts must be an integer from 1 to 1000, not 0/ });
  t.throws(() => on('t', noop, { name: 'x', timeout: -1 }), { message: /timeout must be a number/ });
  t.throws(() => on('t', 'nope' as never, { name: 'x' }), { message: /must be a function/ });
  t.match(on('t', noop, { name: 'x' }), { topic: 't', name: 'x', pool: 'events', attempts: 3, backoff: 1, timeout: 60, concurrency: 1 });
});

t.test('an events export that is not a list of on() entries, or reuses a name, stops boot', async (t) => {
  const dup = await runDrover(['check', fixture('events-duplicate.js')]);
  t.equal(dup.code, 1);
  t.match(dup.stderr, /DROVER_ERR_APP_EVENTS: .*two handlers are named "resize"/);
  const notList = await runDrover(['check', fixture('events-not-list.js')]);
  t.equal(notList.code, 1);
  t.match(notList.stderr, /DROVER_ERR_APP_EVENTS: .*exports `events` as object; export an array of on\(topic, handler, \{ name \}\) entries/);
});
