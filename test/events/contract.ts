/**
 * The contract every bus backend must pass (src/events/bus.ts): fan-out, idempotent ids, leases
 * that a dead owner loses and a live one keeps, attempts spent and given back, retries, dead
 * letters. A backend's test file calls busContract() with a way to open a fresh bus.
 */
import type { Test } from 'tap';
import type { EventBus, NewEvent } from '../../src/events/bus.js';

/** Opens a fresh, empty bus; `reopen` opens the same storage again (durability). */
export interface BusFactory {
  fresh(): Promise<{ bus: EventBus; reopen: () => Promise<EventBus> }>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const event = (id: string, handlers: string[], extra: Partial<NewEvent> = {}): NewEvent => ({
  id,
  topic: 'video.uploaded',
  payload: JSON.stringify({ id }),
  correlation: 'req-1',
  handlers,
  availableAt: Date.now(),
  ...extra,
});

export function busContract(t: Test, factory: BusFactory): void {
  const open = async (t: Test) => {
    const opened = await factory.fresh();
    t.teardown(() => opened.bus.close());
    return opened;
  };

  t.test('fan-out: one delivery per handler, each claimed on its own', async (t) => {
    const { bus } = await open(t);
    t.equal(await bus.publish([event('e1', ['resize', 'thumbnail'])]), 1);
    const resize = await bus.claim('w1', 'resize', 10, 10_000);
    const thumb = await bus.claim('w1', 'thumbnail', 10, 10_000);
    t.equal(resize.length, 1);
    t.equal(thumb.length, 1);
    t.match(resize[0], { eventId: 'e1', topic: 'video.uploaded', handler: 'resize', payload: '{"id":"e1"}', correlation: 'req-1', attempt: 1 });
    t.not(resize[0]?.id, thumb[0]?.id, 'two deliveries');
    t.same(await bus.claim('w2', 'resize', 10, 10_000), [], 'a claimed delivery is not claimed twice');
  });

  t.test('the same event id twice is one event', async (t) => {
    const { bus } = await open(t);
    t.equal(await bus.publish([event('dup', ['a'])]), 1);
    t.equal(await bus.publish([event('dup', ['a']), event('other', ['a'])]), 1, 'only the new one counts');
    t.equal((await bus.claim('w', 'a', 10, 10_000)).length, 2);
  });

  t.test('events lists what was published, oldest first, by topic', async (t) => {
    const { bus } = await open(t);
    await bus.publish([event('one', ['a']), event('two', [], { topic: 'other.topic' })]);
    t.match(await bus.events(), [{ id: 'one', topic: 'video.uploaded', payload: '{"id":"one"}', correlation: 'req-1' }, { id: 'two', topic: 'other.topic' }]);
    t.same((await bus.events('other.topic')).map((e) => e.id), ['two']);
  });

  t.test('claims come in due order, up to the limit; a delayed one waits', async (t) => {
    const { bus } = await open(t);
    await bus.publish([event('later', ['a'], { availableAt: Date.now() + 1500 }), event('first', ['a']), event('second', ['a'])]);
    const claimed = await bus.claim('w', 'a', 1, 10_000);
    t.same(claimed.map((d) => d.eventId), ['first']);
    t.same((await bus.claim('w', 'a', 10, 10_000)).map((d) => d.eventId), ['second'], 'the delayed one is not due');
    const backlog = await bus.backlog();
    t.match(backlog, [{ handler: 'a', ready: 0, delayed: 1, running: 2, dead: 0 }]);
    await sleep(1600);
    t.same((await bus.claim('w', 'a', 10, 10_000)).map((d) => d.eventId), ['later']);
  });

  t.test('a lease that runs out makes the delivery claimable again; a renewed one does not', async (t) => {
    const { bus } = await open(t);
    await bus.publish([event('lost', ['a']), event('kept', ['b'])]);
    // Margins of hundreds of ms: a loaded machine's timers and writes run late.
    const [lost] = await bus.claim('dead-owner', 'a', 1, 500);
    const [kept] = await bus.claim('live-owner', 'b', 1, 750);
    await sleep(500);
    t.same(await bus.renew('live-owner', [kept?.id as string], 1500), [kept?.id], 'the live owner renews');
    await sleep(750); // past both first leases; within the renewed one
    const retaken = await bus.claim('w2', 'a', 1, 10_000);
    t.match(retaken, [{ id: lost?.id, attempt: 2 }], 'the dead owner\'s delivery is taken up, the attempt counted');
    t.same(await bus.claim('w2', 'b', 1, 10_000), [], 'the renewed lease holds');
    t.equal(await bus.ack('dead-owner', lost?.id as string), false, 'a stale owner cannot ack what it lost');
    t.same(await bus.renew('dead-owner', [lost?.id as string], 300), [], 'nor renew it');
    t.equal(await bus.ack('w2', lost?.id as string), true);
  });

  t.test('ack ends a delivery; release gives it back without spending the attempt', async (t) => {
    const { bus } = await open(t);
    await bus.publish([event('e', ['a'])]);
    const [first] = await bus.claim('w', 'a', 1, 10_000);
    t.equal(await bus.release('w', [first?.id as string]), 1);
    const [again] = await bus.claim('w', 'a', 1, 10_000);
    t.equal(again?.attempt, 1, 'released unrun: still the first attempt');
    t.equal(await bus.ack('w', again?.id as string), true);
    t.same(await bus.claim('w', 'a', 1, 10_000), []);
    t.same(await bus.backlog(), [], 'nothing left');
  });

  t.test('retry at a later time spends the attempt; bury makes it dead; revive and purge', async (t) => {
    const { bus } = await open(t);
    await bus.publish([event('flaky', ['a'])]);
    const [one] = await bus.claim('w', 'a', 1, 10_000);
    t.equal(await bus.retry('w', one?.id as string, Date.now() + 1000, 'boom 1'), true);
    t.same(await bus.claim('w', 'a', 1, 10_000), [], 'not before its backoff');
    await sleep(1100);
    const [two] = await bus.claim('w', 'a', 1, 10_000);
    t.equal(two?.attempt, 2);
    t.ok((two?.dueAt ?? 0) > (two?.publishedAt ?? 0), 'due at its retry time');
    t.equal(await bus.bury('w', two?.id as string, 'boom 2'), true);
    const dead = await bus.dead();
    t.match(dead, [{ id: two?.id, eventId: 'flaky', handler: 'a', attempts: 2, lastError: 'boom 2' }]);
    t.same(await bus.dead('other'), [], 'filtered by handler');
    t.match(await bus.backlog(), [{ handler: 'a', dead: 1, ready: 0 }]);
    t.equal(await bus.revive([two?.id as string]), 1);
    const [three] = await bus.claim('w', 'a', 1, 10_000);
    t.equal(three?.attempt, 1, 'revived with fresh attempts');
    await bus.bury('w', three?.id as string, 'boom 3');
    t.equal(await bus.purgeDead(), 1);
    t.same(await bus.dead(), []);
  });

  t.test('forget: old events without deliveries go; pending and recent ones stay', async (t) => {
    const { bus } = await open(t);
    await bus.publish([event('done', ['a']), event('pending', ['b']), event('nobody', [])]);
    const [done] = await bus.claim('w', 'a', 1, 10_000);
    await bus.ack('w', done?.id as string);
    t.equal(await bus.forget(Date.now() - 60_000, 100), 0, 'nothing is old enough');
    await sleep(5);
    t.equal(await bus.forget(Date.now(), 100), 2, 'the handled one and the one nobody handles');
    t.same((await bus.events()).map((e) => e.id), ['pending'], 'the one with a delivery left stays');
    t.equal(await bus.publish([event('done', ['a'])]), 1, 'a forgotten id no longer deduplicates');
  });

  t.test('forget steps past the events that must stay, however many come first', async (t) => {
    const { bus } = await open(t);
    await bus.publish(Array.from({ length: 10 }, (_, i) => event(`held-${i}`, ['never-runs'])));
    await bus.publish([event('free-1', []), event('free-2', []), event('free-3', [])]);
    await sleep(5);
    t.equal(await bus.forget(Date.now(), 2), 2, 'two of the three nobody handles, past the ten held ones');
    t.equal(await bus.forget(Date.now(), 2), 1, 'then the last one');
    t.equal((await bus.events()).length, 10, 'the held ones stay');
  });

  t.test('backlog: the oldest ready delivery\'s age', async (t) => {
    const { bus } = await open(t);
    await bus.publish([event('old', ['a'], { availableAt: Date.now() - 5000 }), event('new', ['a'])]);
    const [row] = await bus.backlog();
    t.equal(row?.ready, 2);
    t.ok((row?.oldestReadyMs ?? 0) >= 5000, `oldest ready ${row?.oldestReadyMs} ms`);
  });

  t.test('what was written survives a reopen', async (t) => {
    const { bus, reopen } = await open(t);
    await bus.publish([event('durable', ['a'])]);
    await bus.close();
    const again = await reopen();
    t.teardown(() => again.close());
    t.match(await again.claim('w', 'a', 1, 10_000), [{ eventId: 'durable' }]);
  });
}
