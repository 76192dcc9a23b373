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
  /**
   * Throws, changing nothing, if `item` and `other` (an item handed to a getter, which may
   * come back) could not be ordered together (a PriorityQueue comparator that throws).
   */
  checkAgainst(item: T, other: T): void;
  /** Removes and returns the next item; only called when `length > 0`. */
  take(): T;
  /** Whether items come out in the order they went in (a FIFO queue). */
  readonly fifo: boolean;
  /** The rank of the next item out if it was given back (see `restore`), else undefined. */
  frontRank(): number | undefined;
  /**
   * Puts back an item that was handed to a getter that gave up, so it is the next one out;
   * `rank` orders the items given back among themselves (put order).
   */
  restore(item: T, rank: number): void;
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
   * @internal (FIFO) The ranks of the items at the front that were given back, in order.
   * Getters can give their items back in any order (each is cancelled on its own), so each
   * goes in by its rank: two getters cancelled together leave x, y, not y, x.
   */
  _restored: number[] = [];

  constructor(lifo: boolean) {
    this._lifo = lifo;
  }

  get fifo(): boolean {
    return !this._lifo;
  }

  get length(): number {
    return this._items.length;
  }

  add(item: T): void {
    this._items.push(item);
  }

  check(_item: T): void {}

  checkAgainst(_item: T, _other: T): void {}

  frontRank(): number | undefined {
    return this._lifo ? undefined : this._restored[0];
  }

  take(): T {
    if (this._lifo) return this._items.pop() as T;
    if (this._restored.length > 0) this._restored.shift();
    return this._items.shift() as T;
  }

  restore(item: T, rank: number): void {
    const items = this._items;
    if (this._lifo) {
      items.push(item);
      return;
    }
    // Rare (a getter cancelled after an item was handed to it): O(given back so far).
    const restored = this._restored;
    let ahead = 0;
    while (ahead < restored.length && restored[ahead]! < rank) ahead++;
    const before: T[] = [];
    for (let i = 0; i < ahead; i++) before.push(items.shift() as T);
    items.unshift(item);
    for (let i = before.length - 1; i >= 0; i--) items.unshift(before[i]!);
    restored.splice(ahead, 0, rank);
  }

  clear(): void {
    this._items = new Deque<T>();
    this._restored = [];
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
