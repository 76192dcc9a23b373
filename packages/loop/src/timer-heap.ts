import type { TimerCallbackHandle } from "./handle.js";

/**
 * A binary min-heap of timer handles ordered by (deadline, sequence), so timers with equal
 * deadlines run in the order they were scheduled. Cancelled handles are not removed on
 * cancel (O(1)); they are dropped when they reach the top, and the loop compacts the heap
 * when more than half of it is cancelled, keeping memory bounded.
 */
export class TimerHeap {
  /** @internal */ readonly _items: TimerCallbackHandle[] = [];

  get size(): number {
    return this._items.length;
  }

  peek(): TimerCallbackHandle | undefined {
    return this._items[0];
  }

  push(handle: TimerCallbackHandle): void {
    const items = this._items;
    let i = items.length;
    items.push(handle);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (!before(handle, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = handle;
  }

  pop(): TimerCallbackHandle | undefined {
    const items = this._items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) this._siftDown(0, last);
    return top;
  }

  /** Drops every cancelled handle and restores the heap order, in O(n). */
  compact(): void {
    const items = this._items;
    let j = 0;
    for (let i = 0; i < items.length; i++) {
      const h = items[i]!;
      if (!h._cancelled) items[j++] = h;
    }
    items.length = j;
    for (let i = (j >> 1) - 1; i >= 0; i--) this._siftDown(i, items[i]!);
  }

  clear(): void {
    this._items.length = 0;
  }

  /** @internal */
  _siftDown(start: number, handle: TimerCallbackHandle): void {
    const items = this._items;
    const n = items.length;
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && before(items[right]!, items[child]!)) child = right;
      const c = items[child]!;
      if (!before(c, handle)) break;
      items[i] = c;
      i = child;
    }
    items[i] = handle;
  }
}

function before(a: TimerCallbackHandle, b: TimerCallbackHandle): boolean {
  return a._when < b._when || (a._when === b._when && a._seq < b._seq);
}
