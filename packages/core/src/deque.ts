/**
 * A double-ended queue on a power-of-two ring buffer: O(1) push and shift at both ends,
 * no `Array.prototype.shift` (which is O(n) past V8's small-array fast path), and memory
 * bounded by the peak length, not by how many items ever went through (internal).
 */
export class Deque<T> {
  /** @internal */ _buffer: (T | undefined)[];
  /** @internal */ _head = 0;
  /** @internal */ _length = 0;

  constructor(capacity = 16) {
    let size = 4;
    while (size < capacity) size *= 2;
    this._buffer = new Array<T | undefined>(size);
  }

  get length(): number {
    return this._length;
  }

  push(item: T): void {
    if (this._length === this._buffer.length) this._grow();
    this._buffer[(this._head + this._length) & (this._buffer.length - 1)] = item;
    this._length++;
  }

  unshift(item: T): void {
    if (this._length === this._buffer.length) this._grow();
    this._head = (this._head - 1) & (this._buffer.length - 1);
    this._buffer[this._head] = item;
    this._length++;
  }

  shift(): T | undefined {
    if (this._length === 0) return undefined;
    const item = this._buffer[this._head];
    this._buffer[this._head] = undefined;
    this._head = (this._head + 1) & (this._buffer.length - 1);
    this._length--;
    return item;
  }

  pop(): T | undefined {
    if (this._length === 0) return undefined;
    this._length--;
    const i = (this._head + this._length) & (this._buffer.length - 1);
    const item = this._buffer[i];
    this._buffer[i] = undefined;
    return item;
  }

  peekFirst(): T | undefined {
    return this._length === 0 ? undefined : this._buffer[this._head];
  }

  peekLast(): T | undefined {
    return this._length === 0 ? undefined : this._buffer[(this._head + this._length - 1) & (this._buffer.length - 1)];
  }

  /** Keeps only the items `keep` accepts, in order (O(n)). */
  filterInPlace(keep: (item: T) => boolean): void {
    const buffer = this._buffer;
    const mask = buffer.length - 1;
    let kept = 0;
    for (let i = 0; i < this._length; i++) {
      const item = buffer[(this._head + i) & mask] as T;
      if (keep(item)) buffer[(this._head + kept++) & mask] = item;
    }
    for (let i = kept; i < this._length; i++) buffer[(this._head + i) & mask] = undefined;
    this._length = kept;
  }

  clear(): void {
    this._buffer.fill(undefined);
    this._head = 0;
    this._length = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    const mask = this._buffer.length - 1;
    for (let i = 0; i < this._length; i++) yield this._buffer[(this._head + i) & mask] as T;
  }

  /** @internal */
  _grow(): void {
    const old = this._buffer;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this._length; i++) next[i] = old[(this._head + i) & (old.length - 1)];
    this._buffer = next;
    this._head = 0;
  }
}
