import type { TimerCallbackHandle } from "./handle.js";

/**
 * A binary min-heap of timer handles ordered by (deadline, sequence), so timers with equal
 * deadlines run in the order they were scheduled. The keys live in their own arrays of
 * numbers beside the handles, so sifting compares unboxed doubles in contiguous memory
 * instead of reading two fields of a handle scattered in the heap at every step.
 * Cancelled handles are not removed on cancel (O(1)); they are dropped when they reach the
 * top, and the loop compacts the heap when more than half of it is cancelled.
 */
export class TimerHeap {
  /** @internal */ readonly _items: TimerCallbackHandle[] = [];
  /** @internal */ readonly _when: number[] = [];
  /** @internal */ readonly _seq: number[] = [];

  get size(): number {
    return this._items.length;
  }

  peek(): TimerCallbackHandle | undefined {
    return this._items[0];
  }

  push(handle: TimerCallbackHandle): void {
    const items = this._items;
    const whens = this._when;
    const seqs = this._seq;
    const w = handle._when;
    const s = handle._seq;
    let i = items.length;
    items.push(handle);
    whens.push(w);
    seqs.push(s);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pw = whens[parent]!;
      if (pw < w || (pw === w && seqs[parent]! < s)) break;
      items[i] = items[parent]!;
      whens[i] = pw;
      seqs[i] = seqs[parent]!;
      i = parent;
    }
    items[i] = handle;
    whens[i] = w;
    seqs[i] = s;
  }

  pop(): TimerCallbackHandle | undefined {
    const items = this._items;
    const top = items[0];
    const last = items.pop();
    const w = this._when.pop()!;
    const s = this._seq.pop()!;
    if (items.length > 0 && last !== undefined) this._siftDown(0, last, w, s);
    return top;
  }

  /** Drops every cancelled handle and restores the heap order, in O(n). */
  compact(): void {
    const items = this._items;
    const whens = this._when;
    const seqs = this._seq;
    let j = 0;
    for (let i = 0; i < items.length; i++) {
      const h = items[i]!;
      if (!h._cancelled) {
        items[j] = h;
        whens[j] = whens[i]!;
        seqs[j] = seqs[i]!;
        j++;
      }
    }
    items.length = whens.length = seqs.length = j;
    for (let i = (j >> 1) - 1; i >= 0; i--) this._siftDown(i, items[i]!, whens[i]!, seqs[i]!);
  }

  clear(): void {
    this._items.length = this._when.length = this._seq.length = 0;
  }

  /** @internal */
  _siftDown(start: number, handle: TimerCallbackHandle, w: number, s: number): void {
    const items = this._items;
    const whens = this._when;
    const seqs = this._seq;
    const n = items.length;
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      let cw = whens[child]!;
      const right = child + 1;
      if (right < n) {
        const rw = whens[right]!;
        if (rw < cw || (rw === cw && seqs[right]! < seqs[child]!)) {
          child = right;
          cw = rw;
        }
      }
      if (w < cw || (w === cw && s < seqs[child]!)) break;
      items[i] = items[child]!;
      whens[i] = cw;
      seqs[i] = seqs[child]!;
      i = child;
    }
    items[i] = handle;
    whens[i] = w;
    seqs[i] = s;
  }
}
