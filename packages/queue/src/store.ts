import { Deque } from "@aiots/core/internal";

/**
 * Where a queue keeps its buffered items: the only thing the three queue kinds do
 * differently (CPython's overridable `_init`/`_put`/`_get`) (internal).
 */
export interface ItemStore<T> {
  /** How many items are buffered. */
  readonly length: number;
  /** Buffers `item`. Throws without changing anything if it cannot (a comparator that throws). */
  add(item: T): void;
  /**
   * Throws, changing nothing, if `item` could not be added now (a PriorityQueue comparator
   * that cannot compare it with the items held): a put that must wait fails at once.
   */
  check(item: T): void;
  /** Removes and returns the next item; only called when `length > 0`. */
  take(): T;
  /** Puts back an item that was taken (handed to a getter that gave up), so it is the next one out. */
  restore(item: T): void;
  /** Drops every item and the memory that held them. */
  clear(): void;
}

/**
 * Buffered items on the ring buffer `Deque`: O(1) at both ends, and memory bounded by the
 * largest number of items ever buffered at once, not by how many went through. Items always
 * go in at the back; `lifo` says whether they come out at the back or the front (internal).
 */
class DequeStore<T> implements ItemStore<T> {
  /** @internal */ _items = new Deque<T>();
  /** @internal */ readonly _lifo: boolean;
  /**
   * @internal (FIFO) How many items at the front were given back. Items are handed to
   * getters in put order and given back in that order, so each one goes behind the ones
   * given back before it, not in front: two getters cancelled together leave x, y, not y, x.
   */
  _restored = 0;

  constructor(lifo: boolean) {
    this._lifo = lifo;
  }

  get length(): number {
    return this._items.length;
  }

  add(item: T): void {
    this._items.push(item);
  }

  check(_item: T): void {}

  take(): T {
    if (this._lifo) return this._items.pop() as T;
    if (this._restored > 0) this._restored--;
    return this._items.shift() as T;
  }

  restore(item: T): void {
    const items = this._items;
    if (this._lifo) {
      items.push(item);
      return;
    }
    // Rare (a getter cancelled after an item was handed to it): O(given back so far).
    const ahead: T[] = [];
    for (let i = 0; i < this._restored; i++) ahead.push(items.shift() as T);
    items.unshift(item);
    for (let i = ahead.length - 1; i >= 0; i--) items.unshift(ahead[i]!);
    this._restored++;
  }

  clear(): void {
    this._items = new Deque<T>();
    this._restored = 0;
  }
}

/** First in, first out, on the ring buffer `Deque` (internal). */
export class FifoStore<T> extends DequeStore<T> {
  constructor() {
    super(false);
  }
}

/** Last in, first out, on the same ring buffer (internal). */
export class LifoStore<T> extends DequeStore<T> {
  constructor() {
    super(true);
  }
}
