import { InvalidStateError, QueueEmpty, QueueFull, QueueShutDown } from "@aiots/core";
import type { FutureLike, WaitOptions } from "@aiots/core";
import { WaiterQueue, checkWaitOptions, linkAbort, onSettle } from "@aiots/core/internal";
// getEventLoop is the running loop or the default one; importing it from @aiots/loop is also
// what registers the default loop, so a queue works in plain async code with no other import.
import { getEventLoop } from "@aiots/loop";
import { QueueIterator, checkMaxsize, linkResult, woken } from "./support.js";
import type { QueueState } from "./support.js";
import { FifoStore } from "./store.js";
import type { ItemStore } from "./store.js";

/** One shared settled promise for every put/join that does not wait: the fast path allocates nothing. */
const DONE: Promise<void> = Promise.resolve();

/**
 * A first-in, first-out queue for producers and consumers (asyncio's `Queue`).
 *
 * `maxsize <= 0` (the default) or `Infinity` means unbounded; otherwise `put` waits while the
 * queue is full. Waits are FIFO-fair and nobody barges: a `put` that finds a getter waiting
 * hands the item straight to it, and a `get` that frees a slot reserves it for the first
 * waiting putter. Every wait (`put`, `get`, `join`) is an aiots Future, so cancelling the task
 * that awaits it (or `waitFor`, or aborting the `signal` option) withdraws it: the waiter
 * leaves the queue and nothing is consumed.
 *
 * No item is ever lost or duplicated. As in asyncio, a getter cancelled in the same step as
 * the put that handed it an item gives the item back (to the front, or to the next getter)
 * and throws `CancelledError`; a putter cancelled in the same step as the get that made room
 * for it puts nothing. Once a `get` has resolved, the item is the caller's: a cancel arriving
 * after that surfaces at the task's next await.
 *
 * `taskDone()`/`join()` count unfinished work; `shutdown()` stops the queue (asyncio 3.13);
 * `for await (const item of queue)` gets items until the queue is shut down and empty.
 *
 * @throws TypeError / RangeError from the constructor for a maxsize that is not an integer.
 * @example
 * ```ts
 * const queue = new Queue<string>(10);
 * const worker = createTask(async () => {
 *   for await (const job of queue) {
 *     console.log("doing", job);
 *     queue.taskDone();
 *   }
 * });
 * await queue.put("a");
 * await queue.put("b");
 * await queue.join(); // "doing a", "doing b"
 * queue.shutdown();
 * await worker;
 * ```
 */
export class Queue<T> implements AsyncIterable<T> {
  /** @internal */ readonly _maxsize: number;
  /** @internal */ _store: ItemStore<T>;
  /** @internal Consumers waiting on an empty queue; each waiter is resolved with its item. */
  readonly _getters = new WaiterQueue<T>();
  /** @internal Producers waiting on a full queue; each waiter is resolved with a reserved slot. */
  readonly _putters = new WaiterQueue<void>();
  /** @internal */ readonly _joiners = new WaiterQueue<void>();
  /**
   * @internal Slots held by hand-overs still in progress: items handed to getters that have
   * not taken them yet, and slots reserved for putters whose items are not in yet. They
   * count towards `full()`, so an item a getter gives back always fits.
   */
  _reserved = 0;
  /** @internal */ _unfinished = 0;
  /** @internal */ _state: QueueState = "open";

  /** A queue holding at most `maxsize` items (`<= 0` or `Infinity`: unbounded). */
  constructor(maxsize = 0) {
    this._maxsize = checkMaxsize(maxsize, this[Symbol.toStringTag]);
    this._store = new FifoStore<T>();
  }

  /** The number of items the queue holds at most, as given (`<= 0` or `Infinity`: unbounded). */
  get maxsize(): number {
    return this._maxsize;
  }

  /** The number of items buffered now. */
  qsize(): number {
    return this._store.length;
  }

  /** Whether no item is buffered. */
  empty(): boolean {
    return this._store.length === 0;
  }

  /**
   * Whether the queue has no room: `maxsize` items buffered, counting items being handed to
   * getters that have not resumed yet (as asyncio counts them). Never true when unbounded.
   */
  full(): boolean {
    return this._maxsize > 0 && this._store.length + this._reserved >= this._maxsize;
  }

  /**
   * Puts `item` without waiting: to the first waiting getter, else into the buffer.
   * @throws QueueFull if the queue is full; QueueShutDown after `shutdown()`.
   */
  putNowait(item: T): void {
    if (this._state !== "open") throw new QueueShutDown();
    if (this.full()) throw new QueueFull();
    this._deliver(item);
  }

  /**
   * Puts `item`, waiting for room if the queue is full (FIFO among putters). Resolves once
   * the item is in the queue or handed to a getter. Rejects with `QueueShutDown` after
   * `shutdown()`, also when the queue is shut down while it waits (the item is then not put).
   * Cancelling the awaiting task, or aborting `options.signal`, withdraws the wait and puts
   * nothing. Throws `TypeError` at the call for bad options.
   */
  put(item: T, options?: WaitOptions): Promise<void> {
    const signal = checkWaitOptions(options, `${this[Symbol.toStringTag]}.put`);
    if (signal !== undefined && signal.aborted) return Promise.reject(signal.reason);
    if (this._state !== "open") return Promise.reject(new QueueShutDown());
    if (!this.full()) {
      try {
        this._deliver(item);
      } catch (error) {
        return Promise.reject(error);
      }
      return DONE;
    }
    const loop = getEventLoop();
    const waiter = this._putters.add(loop);
    const result = loop.createFuture<void>();
    onSettle(waiter, (w) => {
      if (woken(w, result)) queueMicrotask(() => this._finishPut(result, item));
    });
    linkResult(result, waiter, signal);
    return result as unknown as Promise<void>;
  }

  /**
   * Takes the next item without waiting.
   * @throws QueueEmpty if no item is buffered; QueueShutDown if the queue is shut down and empty.
   */
  getNowait(): T {
    if (this._store.length === 0) {
      if (this._state !== "open") throw new QueueShutDown();
      throw new QueueEmpty();
    }
    const item = this._store.take();
    if (this._putters.size > 0) this._admitPutters();
    return item;
  }

  /**
   * Takes the next item, waiting for one if the queue is empty (FIFO among getters). Rejects
   * with `QueueShutDown` once the queue is shut down and empty (at once after
   * `shutdown(true)`). Cancelling the awaiting task, or aborting `options.signal`, withdraws
   * the wait and takes nothing. Throws `TypeError` at the call for bad options.
   */
  get(options?: WaitOptions): Promise<T> {
    const signal = checkWaitOptions(options, `${this[Symbol.toStringTag]}.get`);
    if (signal !== undefined && signal.aborted) return Promise.reject(signal.reason);
    if (this._store.length > 0) {
      let item: T;
      try {
        item = this.getNowait();
      } catch (error) {
        return Promise.reject(error);
      }
      return Promise.resolve(item);
    }
    if (this._state !== "open") return Promise.reject(new QueueShutDown());
    const loop = getEventLoop();
    const waiter = this._getters.add(loop);
    const result = loop.createFuture<T>();
    onSettle(waiter, (w) => {
      if (woken(w, result)) {
        const item = w.result();
        queueMicrotask(() => this._finishGet(result, item));
      }
    });
    linkResult(result, waiter, signal);
    return result as unknown as Promise<T>;
  }

  /**
   * Marks one item that was got as processed (asyncio's `task_done`). When every item put
   * has been marked, `join()` waiters resume.
   * @throws InvalidStateError if called more times than items were put (asyncio: ValueError).
   */
  taskDone(): void {
    if (this._unfinished <= 0) {
      throw new InvalidStateError(`${this[Symbol.toStringTag]}.taskDone() called more times than items were put`);
    }
    this._finished(1);
  }

  /**
   * Waits until every item put has been marked with `taskDone()` (at once if none is
   * unfinished). Cancelling the awaiting task, or aborting `options.signal`, withdraws it.
   */
  join(options?: WaitOptions): Promise<void> {
    const signal = checkWaitOptions(options, `${this[Symbol.toStringTag]}.join`);
    if (signal !== undefined && signal.aborted) return Promise.reject(signal.reason);
    if (this._unfinished === 0) return DONE;
    const joiner = this._joiners.add(getEventLoop());
    if (signal !== undefined) onSettle(joiner, linkAbort(joiner, signal));
    return joiner as unknown as Promise<void>;
  }

  /**
   * Shuts the queue down (asyncio 3.13): from now on `put`/`putNowait` throw
   * `QueueShutDown`, and so do `get`/`getNowait` once the queue is empty; waiting putters and
   * getters are rejected with `QueueShutDown`. With `immediate`, the buffered items are
   * dropped too (and items still being handed to getters), each counting as done for
   * `join()`, which resumes if nothing else is unfinished; `get` then throws at once.
   * Calling it again is allowed (`true` then drains).
   * @throws TypeError if `immediate` is not a boolean.
   */
  shutdown(immediate = false): void {
    if (typeof immediate !== "boolean") {
      throw new TypeError(`${this[Symbol.toStringTag]}.shutdown immediate must be a boolean, got ${typeof immediate}`);
    }
    if (immediate) {
      this._state = "shut down immediately";
      const drained = this._store.length;
      this._store.clear();
      this._finished(drained);
    } else if (this._state === "open") {
      this._state = "shut down";
    }
    // Putters can never get in now; getters wait only on an empty queue, which stays empty.
    if (this._putters.size > 0) this._putters.rejectAll(new QueueShutDown());
    if (this._getters.size > 0) this._getters.rejectAll(new QueueShutDown());
  }

  /** Iterates with `get()` until the queue is shut down and empty. It does not call `taskDone()`. */
  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    return new QueueIterator(this);
  }

  /** @internal Puts an admitted item: to the first waiting getter, else into the buffer. */
  _deliver(item: T): void {
    if (this._getters.size > 0) {
      // A waiting getter means the buffer is empty. Handing it the item, rather than
      // buffering it, means no newcomer can take it before the getter wakes up.
      this._reserved++;
      this._getters.wakeFirst(item);
    } else {
      this._store.add(item);
    }
    this._unfinished++;
  }

  /** @internal Room was made: reserve it for waiting putters, first come first served. */
  _admitPutters(): void {
    while (this._putters.size > 0 && !this.full()) {
      this._reserved++;
      this._putters.wakeFirst(undefined);
    }
  }

  /** @internal `count` items are done with (taskDone, or dropped by `shutdown(true)`). */
  _finished(count: number): void {
    if (count === 0) return;
    this._unfinished = Math.max(0, this._unfinished - count);
    if (this._unfinished === 0) this._joiners.wakeAll(undefined);
  }

  /**
   * @internal A microtask after a getter was handed `item`. If the caller gave up in between
   * (a cancel in the same step as the put), asyncio's get would have raised without taking
   * the item: give it back so nothing is lost. Otherwise the get resolves with it.
   */
  _finishGet(result: FutureLike<T>, item: T): void {
    this._reserved--;
    if (result.done() || this._state === "shut down immediately") {
      if (!result.done()) result.setException(new QueueShutDown());
      this._giveBack(item, result);
      return;
    }
    result.setResult(item);
    if (this._putters.size > 0) this._admitPutters();
  }

  /** @internal A microtask after a putter was given a slot: put its item, unless it gave up. */
  _finishPut(result: FutureLike<void>, item: T): void {
    this._reserved--;
    if (!result.done()) {
      if (this._state !== "open") {
        result.setException(new QueueShutDown());
        return;
      }
      try {
        this._deliver(item);
        result.setResult(undefined);
        return;
      } catch (error) {
        result.setException(error); // the store refused the item (a comparator threw)
      }
    }
    // The slot is free again: pass it on.
    if (this._putters.size > 0) this._admitPutters();
  }

  /** @internal Takes back an item a getter gave up: the next getter's, else the front of the buffer. */
  _giveBack(item: T, result: FutureLike<unknown>): void {
    if (this._state === "shut down immediately") {
      this._finished(1); // dropped, as shutdown(true) drops what is buffered
    } else if (this._getters.size > 0) {
      this._reserved++;
      this._getters.wakeFirst(item);
    } else {
      try {
        this._store.restore(item);
      } catch (error) {
        // Only a PriorityQueue comparator that cannot compare this item can get here.
        result.getLoop().callExceptionHandler({ message: `${this[Symbol.toStringTag]} could not take back an item`, exception: error });
      }
    }
  }

  get [Symbol.toStringTag](): string {
    return "Queue";
  }

  /** e.g. `Queue [maxsize: 10, size: 3, getters: 0, putters: 2]`, with `, shut down` once shut down. */
  toString(): string {
    const state = this._state === "open" ? "" : `, ${this._state}`;
    return (
      `${this[Symbol.toStringTag]} [maxsize: ${this._maxsize}, size: ${this._store.length}, ` +
      `getters: ${this._getters.size}, putters: ${this._putters.size}${state}]`
    );
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}
