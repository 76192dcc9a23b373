import { checkOrderable, defaultCompare } from "./compare.js";
import type { ItemStore } from "./store.js";

/**
 * A binary min-heap on a plain array (CPython's `heapq`), smallest item by `compare` first.
 *
 * The array's length is always the number of items (push/pop at its end), so it never keeps
 * slots, or references to items, that were taken out. A `compare` that throws leaves the heap
 * exactly as it was: `add` finds the item's place before it moves anything, and `take` undoes
 * the moves it made, so a failed put or get neither loses nor corrupts an item (internal).
 */
export class HeapStore<T> implements ItemStore<T> {
  /** @internal */ _items: T[] = [];
  /** @internal */ readonly _compare: (a: T, b: T) => number;

  constructor(compare: (a: T, b: T) => number) {
    this._compare = compare;
  }

  get length(): number {
    return this._items.length;
  }

  /** Items come out by priority, not in the order they went in. */
  get fifo(): boolean {
    return false;
  }

  frontRank(): undefined {
    return undefined;
  }

  add(item: T): void {
    if (this._items.length === 0) this.check(item);
    this._insert(item);
  }

  /** @internal Adds `item` unchecked: an item given back was let in before, it must go back in. */
  _insert(item: T): void {
    const items = this._items;
    const compare = this._compare;
    const end = items.length;
    // Find the place first, comparing only: a comparator that throws changes nothing.
    let place = end;
    while (place > 0) {
      const parent = (place - 1) >> 1;
      if (!(compare(item, items[parent] as T) < 0)) break;
      place = parent;
    }
    items.push(item);
    for (let i = end; i > place; ) {
      const parent = (i - 1) >> 1;
      items[i] = items[parent] as T;
      i = parent;
    }
    items[place] = item;
  }

  check(item: T): void {
    if (this._items.length > 0) this._compare(item, this._items[0] as T);
    else if (this._compare === defaultCompare) checkOrderable(item);
  }

  checkAgainst(item: T, other: T): void {
    this._compare(item, other);
  }

  take(): T {
    const items = this._items;
    const top = items[0] as T;
    const size = items.length - 1;
    if (size === 0) {
      items.pop();
      return top;
    }
    const last = items[size] as T;
    const compare = this._compare;
    let hole = 0;
    try {
      for (;;) {
        let child = 2 * hole + 1;
        if (child >= size) break;
        if (child + 1 < size && compare(items[child + 1] as T, items[child] as T) < 0) child++;
        if (!(compare(items[child] as T, last) < 0)) break;
        items[hole] = items[child] as T;
        hole = child;
      }
    } catch (error) {
      // Each step moved a child up into its parent's slot: move them back down the path.
      while (hole > 0) {
        const parent = (hole - 1) >> 1;
        items[hole] = items[parent] as T;
        hole = parent;
      }
      items[0] = top;
      throw error;
    }
    items[hole] = last;
    items.pop();
    return top;
  }

  restore(item: T): void {
    this._insert(item);
  }

  clear(): void {
    this._items = [];
  }
}
