// Work stealing: requests sent ahead to a thread stuck in a slow view move to a thread that has
// nothing left to do, instead of waiting for the slow view to end.
import t from 'tap';
import { fixture, startDrover } from './helpers/server.js';

// Two threads running one view at a time: what else a thread is sent waits in its inbox.
const server = await startDrover({
  app: fixture('faults.js'),
  env: { WEB_CONCURRENCY: '2', WORKER_CONCURRENCY: '1', WORKER_PREFETCH: '8' },
});
t.teardown(() => server.stop());
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends named requests and records the order their answers arrive in. */
function recorder() {
  const finished: string[] = [];
  const call = (name: string, path: string) =>
    fetch(server.url + path).then(async (res) => {
      finished.push(name);
      return { name, status: res.status, body: (await res.json()) as { thread?: number } };
    });
  return { finished, call };
}

t.test('requests waiting behind a slow view are run by the thread that went idle', async (t) => {
  const { finished, call } = recorder();
  const slow = call('slow', '/spin?ms=2500');
  await pause(150);
  // The other thread is busy for a moment too, so the quick requests are spread over both inboxes.
  const medium = call('medium', '/spin?ms=400');
  await pause(150);
  const quick = await Promise.all(Array.from({ length: 6 }, (_, i) => call(`quick-${i}`, '/ok')));
  const [slowResult, mediumResult] = await Promise.all([slow, medium]);
  t.same([slowResult, mediumResult, ...quick].map((r) => r.status), [200, 200, 200, 200, 200, 200, 200, 200]);
  t.equal(finished.at(-1), 'slow', 'every quick request was answered before the slow view ended');
  t.ok(
    quick.every((r) => r.body.thread === mediumResult.body.thread),
    'all of them ran on the thread that was free, none on the one running the slow view',
  );
  t.not(slowResult.body.thread, mediumResult.body.thread);
});

t.test('a request with a body keeps it when it moves to another thread', async (t) => {
  const slow = fetch(server.url + '/spin?ms=2000');
  await pause(150);
  const medium = fetch(server.url + '/spin?ms=400');
  await pause(150);
  const bodies = Array.from({ length: 6 }, (_, i) => `body number ${i} `.repeat(50 + i));
  const answers = await Promise.all(bodies.map((body) => fetch(server.url + '/echo', { method: 'POST', body })));
  t.same(answers.map((r) => r.status), [200, 200, 200, 200, 200, 200]);
  const echoed = await Promise.all(answers.map(async (r) => ((await r.json()) as { text: string }).text));
  t.same(echoed, bodies, 'every body arrived whole, on whichever thread ran it');
  await Promise.all([slow, medium]);
});

t.test('a thread that joins the pool takes over requests waiting in another thread’s inbox', async (t) => {
  const { finished, call } = recorder();
  // One thread is about to die; the other sleeps in a view. The quick requests land in both
  // inboxes; the dying thread's unstarted ones go back to the queue and on to the sleeping
  // thread's inbox, the only place with room. Only the replacement thread can run them soon.
  const crash = call('crash', '/spin-then-exit?ms=400');
  await pause(100);
  const slow = call('slow', '/slow?ms=8000'); // long enough for the replacement to boot on a loaded machine
  await pause(100);
  const quick = await Promise.all(Array.from({ length: 4 }, (_, i) => call(`quick-${i}`, '/ok')));
  const [crashResult, slowResult] = await Promise.all([crash, slow]);
  t.equal(crashResult.status, 502, 'the request that crashed its thread is answered 502');
  t.same([slowResult, ...quick].map((r) => r.status), [200, 200, 200, 200, 200]);
  t.equal(finished.at(-1), 'slow', 'every quick request was answered before the sleeping view ended');
  t.ok(
    quick.every((r) => r.body.thread !== slowResult.body.thread),
    'none of them waited for the sleeping view: they ran on the replacement thread',
  );
});
