/**
 * A doubly linked list whose items carry their own links: O(1) append, prepend and removal from
 * anywhere, iteration in order.
 *
 * Why by hand, and not a Set or a Map: the dispatcher adds and removes one entry per request.
 * V8 rebuilds a Set's or Map's table every few dozen deletions and leaves the old table pointing
 * at the new one, entries and all. Once one of those tables has aged into the old generation
 * (an idle spell is enough), every table after it is kept alive by its dead predecessor until the
 * next full GC, and with it every request it held: under load the front thread promoted about
 * 3 MB per young-generation GC, and its GC pauses grew from about 1 ms to 5 ms. The links here are
 * cleared on removal, so a finished request references nothing newer than itself. (Node's own
 * timer lists are built the same way; that module is internal. yallist clears its links too, but
 * wraps each entry in a node object of its own, one more allocation per request, and hands the
 * node back only through `tail`: here the request's ticket is its own node.)
 */

/** What an item of a LinkedList carries. */
export interface Linked<T> {
  prev: T | undefined;
  next: T | undefined;
  /** The list the item is in, if any: an item is in one list at a time. */
  list: object | undefined;
}

/**
 * The list. Items are the caller's own objects; each is in at most one list at a time.
 *
 * @example
 * const queue = new LinkedList<Ticket>();
 * queue.push(ticket);
 * const first = queue.shift();
 */
export class LinkedList<T extends Linked<T>> {
  #head: T | undefined;
  #tail: T | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Appends `item` (which must not be in a list). */
  push(item: T): void {
    this.#link(item, this.#tail, undefined);
  }

  /** Puts `item` (which must not be in a list) first. */
  unshift(item: T): void {
    this.#link(item, undefined, this.#head);
  }

  /** Removes `item` if it is in this list; true when it was. */
  remove(item: T): boolean {
    if (item.list !== this) return false;
    const { prev, next } = item;
    if (prev) prev.next = next;
    else this.#head = next;
    if (next) next.prev = prev;
    else this.#tail = prev;
    item.prev = undefined;
    item.next = undefined;
    item.list = undefined;
    this.#size--;
    return true;
  }

  /** Removes and returns the first item. */
  shift(): T | undefined {
    const head = this.#head;
    if (head) this.remove(head);
    return head;
  }

  /** Removes every item. */
  clear(): void {
    while (this.shift());
  }

  /** The items in order. Removing the current item while iterating is safe. */
  *[Symbol.iterator](): IterableIterator<T> {
    let item = this.#head;
    while (item) {
      const next = item.next;
      yield item;
      item = next;
    }
  }

  #link(item: T, prev: T | undefined, next: T | undefined): void {
    if (item.list) throw new Error('the item is in a list already');
    item.prev = prev;
    item.next = next;
    item.list = this;
    if (prev) prev.next = item;
    else this.#head = item;
    if (next) next.prev = item;
    else this.#tail = item;
    this.#size++;
  }
}
