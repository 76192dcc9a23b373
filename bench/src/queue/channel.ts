/**
 * A bounded producer/consumer channel on bare native promises, the reference the queue
 * benchmark measures aiots against: a ring buffer of items plus FIFO lines of waiting
 * getters and putters. A put that finds a getter waiting hands the item straight to it;
 * a get that frees a slot moves the first waiting putter's item in. Fast paths return a
 * shared resolved promise (put) or `Promise.resolve(item)` (get). No cancellation.
 */

/** A growable power-of-two ring buffer. */
export class Ring<T> {
  buf: (T | undefined)[];
  head = 0;
  length = 0;
  mask: number;

  constructor(capacity = 16) {
    let size = 16;
    while (size < capacity) size *= 2;
    this.buf = new Array<T | undefined>(size).fill(undefined);
    this.mask = size - 1;
  }

  push(item: T): void {
    if (this.length === this.buf.length) this.grow();
    this.buf[(this.head + this.length) & this.mask] = item;
    this.length++;
  }

  /** Only called when `length > 0`. */
  shift(): T {
    const head = this.head;
    const item = this.buf[head] as T;
    this.buf[head] = undefined;
    this.head = (head + 1) & this.mask;
    this.length--;
    return item;
  }

  private grow(): void {
    const old = this.buf;
    const next = new Array<T | undefined>(old.length * 2).fill(undefined);
    for (let i = 0; i < this.length; i++) next[i] = old[(this.head + i) & this.mask];
    this.buf = next;
    this.head = 0;
    this.mask = next.length - 1;
  }
}

const DONE: Promise<void> = Promise.resolve();

export class NativeChannel<T> {
  private readonly items: Ring<T>;
  private readonly getters = new Ring<(item: T) => void>();
  private readonly putters = new Ring<() => void>();
  private readonly pending = new Ring<T>();

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be an integer >= 1, got ${capacity}`);
    this.items = new Ring<T>(capacity);
  }

  put(item: T): Promise<void> {
    // A waiting getter means the buffer is empty: hand the item over.
    if (this.getters.length > 0) {
      this.getters.shift()(item);
      return DONE;
    }
    if (this.items.length < this.capacity) {
      this.items.push(item);
      return DONE;
    }
    return new Promise<void>((resolve) => {
      this.pending.push(item);
      this.putters.push(resolve);
    });
  }

  get(): Promise<T> {
    if (this.items.length > 0) {
      const item = this.items.shift();
      // A slot is free: the first waiting putter's item takes it, in order.
      if (this.putters.length > 0) {
        this.items.push(this.pending.shift());
        this.putters.shift()();
      }
      return Promise.resolve(item);
    }
    return new Promise<T>((resolve) => this.getters.push(resolve));
  }
}
