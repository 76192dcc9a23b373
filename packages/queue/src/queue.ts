import { InvalidStateError, QueueEmpty, QueueFull, QueueShutDown } from "@aiots/core";
import type { WaitOptions } from "@aiots/core";
import { checkWaitOptions, linkAbort } from "@aiots/core/internal";
// getEventLoop is the running loop or the default one; importing it from @aiots/loop is also
// what registers the default loop, so a queue works in plain async code with no other import.
import { getEventLoop } from "@aiots/loop";
import { QueueCore } from "./hand-over.js";
import { QueueIterator } from "./support.js";
import { FifoStore } from "./store.js";

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
 * No item is ever lost or duplicated. Cancellation is asyncio's: a getter whose task is
 * cancelled after an item was handed to it, but before its code resumed, throws
 * `CancelledError` and the item goes back at the cancel (to the next waiting getter, else to
 * the front; getters woken later move up one item first, so no consumer gets an item after
 * a later one);
 * a putter cancelled after a slot was made for it, but before it resumed, throws
 * `CancelledError` and puts nothing. Once the caller's code has resumed with the item (or
 * past the put), the operation has happened: a later cancel surfaces at its next await.
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
export class Queue<T> extends QueueCore<T> implements AsyncIterable<T> {
  /** A queue holding at most `maxsize` items (`<= 0` or `Infinity`: unbounded). */
  constructor(maxsize = 0) {
    super(maxsize, new FifoStore<T>());
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
   * the item is put. Rejects with `QueueShutDown` after `shutdown()`, also when the queue is
   * shut down while it waits (the item is then not put). Cancelling the awaiting task, or
   * aborting `options.signal`, while it waits withdraws it and puts nothing; so does a task
   * cancel that lands after a slot was made for it but before its code resumed: as in
   * asyncio the `await` throws `CancelledError`, nothing is put, and the slot goes to the
   * next putter.
   *
   * A blocked put returns the waiter Future itself, so the caller's own `await` is the one
   * the task tracks. Its item goes in once that `await` was delivered (after every callback
   * chained straight on the returned Future with `.then`, if there are any), before the
   * caller's code resumes. On a `PriorityQueue`, an item that cannot be compared with
   * the items held makes a put that would wait fail at once.
   * @throws TypeError at the call for bad options.
   */
  put(item: T, options?: WaitOptions): Promise<void> {
    const signal = checkWaitOptions(options, this[Symbol.toStringTag], "put");
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
    // The store must be able to take the item later (a PriorityQueue compares it now).
    try {
      this._store.check(item);
      if (this._inFlight.length > 0) this._checkAgainstInFlight(item);
    } catch (error) {
      return Promise.reject(error);
    }
    const waiter = this._waitToPut(item);
    if (signal !== undefined) linkAbort(waiter, signal);
    return waiter as unknown as Promise<void>;
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
    const item = this._takeOldest();
    if (this._putters.size > 0) this._admitPutters();
    return item;
  }

  /**
   * Takes the next item, waiting for one if the queue is empty (FIFO among getters). Rejects
   * with `QueueShutDown` once the queue is shut down and empty (at once after
   * `shutdown(true)`). Cancelling the awaiting task, or aborting `options.signal`, while it
   * waits withdraws it and takes nothing. A task cancel that lands after an item was handed
   * to it but before its code resumed makes the `await` throw `CancelledError` (asyncio's
   * rule) and the item is given back: to the next waiting getter, else to the front. Throws
   * `TypeError` at the call for bad options.
   *
   * A blocked get returns the waiter Future itself, so the caller's own `await` is the one
   * the task tracks, up to the moment its code resumes.
   */
  get(options?: WaitOptions): Promise<T> {
    const signal = checkWaitOptions(options, this[Symbol.toStringTag], "get");
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
    const waiter = this._waitToGet();
    if (signal !== undefined) linkAbort(waiter, signal);
    return waiter as unknown as Promise<T>;
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
    const signal = checkWaitOptions(options, this[Symbol.toStringTag], "join");
    if (signal !== undefined && signal.aborted) return Promise.reject(signal.reason);
    if (this._unfinished === 0) return DONE;
    const joiner = this._joiners.add(getEventLoop());
    if (signal !== undefined) linkAbort(joiner, signal);
    return joiner as unknown as Promise<void>;
  }

  /**
   * Shuts the queue down (asyncio 3.13): from now on `put`/`putNowait` throw
   * `QueueShutDown`, and so do `get`/`getNowait` once the queue is empty; waiting putters and
   * getters are rejected with `QueueShutDown`. With `immediate`, the buffered items are
   * dropped too, each counting as done for `join()`, which resumes if nothing else is
   * unfinished; `get` then throws at once. An item already handed to a getter is that
   * getter's (unless its task is cancelled before it resumes: the item is then dropped too),
   * and a put already admitted into a free slot has happened (`shutdown(true)` drops its item).
   * Calling it again is allowed (`true` then drains).
   * @throws TypeError if `immediate` is not a boolean.
   */
  shutdown(immediate = false): void {
    if (typeof immediate !== "boolean") {
      throw new TypeError(`${this[Symbol.toStringTag]}.shutdown immediate must be a boolean, got ${typeof immediate}`);
    }
    this._shutDown(immediate);
  }

  /** Iterates with `get()` until the queue is shut down and empty. It does not call `taskDone()`. */
  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    return new QueueIterator(this);
  }

  override get [Symbol.toStringTag](): string {
    return "Queue";
  }

  /**
   * e.g. `Queue [maxsize: 10, size: 3, getters: 0, putters: 2]`, with `, unfinished: 4` while
   * items wait for `taskDone()` (asyncio's `tasks=4`) and `, shut down` once shut down.
   */
  override toString(): string {
    const unfinished = this._unfinished > 0 ? `, unfinished: ${this._unfinished}` : "";
    const state = this._state === "open" ? "" : `, ${this._state}`;
    return (
      `${this[Symbol.toStringTag]} [maxsize: ${this._maxsize}, size: ${this._store.length}, ` +
      `getters: ${this._getters.size}, putters: ${this._putters.size}${unfinished}${state}]`
    );
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}
