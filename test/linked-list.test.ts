// The dispatcher's queue and running list: order, removal from anywhere, and links cleared on
// removal (a removed item must not keep its old neighbours alive).
import t from 'tap';
import { LinkedList, type Linked } from '../dist/src/linked-list.js';

interface Item extends Linked<Item> {
  readonly name: string;
}

function item(name: string): Item {
  return { name, prev: undefined, next: undefined, list: undefined };
}

const names = (list: LinkedList<Item>) => [...list].map((i) => i.name);

t.test('push appends, unshift prepends, shift takes the first', async (t) => {
  const list = new LinkedList<Item>();
  const [a, b, c] = [item('a'), item('b'), item('c')];
  list.push(b);
  list.push(c);
  list.unshift(a);
  t.same(names(list), ['a', 'b', 'c']);
  t.equal(list.size, 3);
  t.equal(list.shift(), a);
  t.same(names(list), ['b', 'c']);
  t.equal(list.size, 2);
  t.equal(new LinkedList<Item>().shift(), undefined);
});

t.test('remove takes an item out of the middle, the ends, or nowhere', async (t) => {
  const list = new LinkedList<Item>();
  const items = ['a', 'b', 'c', 'd'].map(item);
  for (const i of items) list.push(i);
  const [a, b, c, d] = items as [Item, Item, Item, Item];
  t.ok(list.remove(b));
  t.same(names(list), ['a', 'c', 'd']);
  t.ok(list.remove(d));
  t.ok(list.remove(a));
  t.same(names(list), ['c']);
  t.notOk(list.remove(b), 'an item no longer in the list');
  t.notOk(new LinkedList<Item>().remove(c), 'an item of another list');
  t.equal(c.list, list);
  t.equal(list.size, 1);
  list.push(a);
  t.same(names(list), ['c', 'a'], 'a removed item can be added again');
});

t.test('a removed item keeps no links', async (t) => {
  const list = new LinkedList<Item>();
  const [a, b, c] = [item('a'), item('b'), item('c')];
  list.push(a);
  list.push(b);
  list.push(c);
  list.remove(b);
  t.same([b.prev, b.next, b.list], [undefined, undefined, undefined]);
  list.clear();
  t.equal(list.size, 0);
  t.same(names(list), []);
  t.same([a.next, c.prev, a.list], [undefined, undefined, undefined]);
});

t.test('an item is in one list at a time; iteration survives removing the current item', async (t) => {
  const one = new LinkedList<Item>();
  const other = new LinkedList<Item>();
  const items = ['a', 'b', 'c'].map(item);
  for (const i of items) one.push(i);
  t.throws(() => other.push(items[0] as Item), /in a list already/);
  const seen: string[] = [];
  for (const i of one) {
    seen.push(i.name);
    one.remove(i);
  }
  t.same(seen, ['a', 'b', 'c']);
  t.equal(one.size, 0);
});
