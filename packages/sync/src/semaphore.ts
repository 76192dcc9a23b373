import type { WaitOptions } from "@aiots/core";
import { WaiterQueue, checkInteger, checkWaitOptions } from "@aiots/core/internal";
import { guardGate } from "./guard.js";
import { acquireGate, describe } from "./waiting.js";

/**
 * A counter of permits (asyncio's `Semaphore`): `acquire()` takes one, waiting while
 * there are none; `release()` gives one back. `new Semaphore(value = 1)`.
 *
 * **Fair.** Waiters get permits in the order they asked. `release()` hands its permit
 * straight to the first waiter (the count never shows it as free), and `acquire()` takes
 * the fast path only when nobody waits, so a newcomer never barges in.
 *
 * **Cancellation-safe, as asyncio.** A waiter cancelled (task cancelled, or `signal`
 * aborted) before a permit reaches it leaves the queue and consumes nothing. A waiter
 * whose task is cancelled after it was handed a permit but before its code resumed does
 * not keep it: its `await` throws `CancelledError` and the permit goes to the next waiter
 * (or back to the count). See `Lock` for the one microtask where a handover wins instead.
 *
 * @throws TypeError if `value` is not a number; RangeError if it is not an integer >= 0.
 * @example
 * ```ts
 * const slots = new Semaphore(3);
 * await Promise.all(urls.map(async (url) => {
 *   await using _ = await slots.guard(); // at most 3 fetches at a time
 *   return fetch(url);
 * }));
 * ```
 */
export class Semaphore {
  /** @internal The free permits. While anyone waits it is 0: a release hands its permit over. */
  _value: number;
  /**
   * @internal Until a woken waiter's `await` is delivered (`handing`), the semaphore counts
   * as locked, as asyncio keeps a woken waiter in its line until it resumes: permits
   * released in the meantime go to the waiters and newcomers behind it, in order.
   */
  readonly _waiters = new WaiterQueue<true>(() => this._handedOver());
  /**
   * @internal Hands a permit to the first live waiter, or back to the count (never
   * bounded: also how a waiter whose `await` was cancelled after the handover gives back
   * the permit it was handed).
   */
  readonly _pass = (): void => {
    if (!this._waiters.wakeFirst(true)) this._value++;
  };

  constructor(value = 1) {
    checkInteger(value, `${new.target.name} value`, 0);
    this._value = value;
  }

  /**
   * Whether `acquire()` would wait: no free permit, others wait already, or a permit was
   * just handed to a waiter that has not resumed yet (asyncio's `locked()`).
   */
  locked(): boolean {
    return this._value === 0 || this._waiters.size > 0 || this._waiters.handing > 0;
  }

  /**
   * Takes a permit, waiting for one if none is free or if others wait already. Resolves to
   * `true`. Interrupted by cancelling the awaiting task, also after a permit was handed to
   * it and before it resumed (the permit then passes on).
   *
   * @param options.signal aborting it withdraws this wait, which rejects with the
   *   signal's reason; an already aborted signal rejects at once without taking a permit.
   * @throws TypeError (at the call) for bad `options`.
   * @example
   * ```ts
   * await sem.acquire();
   * try { await work() } finally { sem.release() }
   * ```
   */
  acquire(options?: WaitOptions): Promise<true> {
    return acquireGate(this, checkWaitOptions(options, this._name(), "acquire"));
  }

  /** @internal The fast path: takes a free permit if nobody waits. */
  _tryAcquire(): boolean {
    if (this._value === 0 || this._waiters.size > 0 || this._waiters.handing > 0) return false;
    this._value--;
    return true;
  }

  /**
   * Gives a permit back: to the first live waiter if there is one, else to the count.
   * A plain `Semaphore` never checks how many were taken (as asyncio); use
   * `BoundedSemaphore` for that.
   *
   * @example
   * ```ts
   * sem.release();
   * ```
   */
  release(): void {
    this._pass();
  }

  /**
   * Takes a permit and resolves to a disposable that gives it back, for
   * `await using _ = await sem.guard()` (asyncio's `async with sem`). Waits, and takes
   * `options`, and is cancelled, as `acquire`.
   *
   * @throws TypeError (at the call) for bad `options`.
   * @example
   * ```ts
   * await using _ = await sem.guard();
   * ```
   */
  guard(options?: WaitOptions): Promise<AsyncDisposable & Disposable> {
    return guardGate(this, this, checkWaitOptions(options, this._name(), "guard"));
  }

  /**
   * @internal A woken waiter's `await` was delivered. Permits released meanwhile went to
   * the count, and newcomers queued behind that waiter: they get those permits now, in
   * order (asyncio's woken waiter does this when it resumes).
   */
  _handedOver(): void {
    while (this._value > 0 && this._waiters.size > 0) {
      this._value--;
      this._pass();
    }
  }

  /** @internal */
  _name(): string {
    return "Semaphore";
  }

  get [Symbol.toStringTag](): string {
    return this._name();
  }

  /** `Semaphore [unlocked, value: 2]` or `Semaphore [locked, waiters: 3]`. */
  toString(): string {
    const state = this.locked() ? "locked" : `unlocked, value: ${this._value}`;
    return describe(this._name(), state, this._waiters.size);
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

/**
 * A `Semaphore` that refuses to be released more often than it was acquired (asyncio's
 * `BoundedSemaphore`): `release()` throws `RangeError` when the count would go above
 * its initial value.
 *
 * @throws TypeError if `value` is not a number; RangeError if it is not an integer >= 0.
 * @example
 * ```ts
 * const sem = new BoundedSemaphore(1);
 * await sem.acquire();
 * sem.release();
 * sem.release(); // RangeError: BoundedSemaphore released too many times
 * ```
 */
export class BoundedSemaphore extends Semaphore {
  /** @internal */ readonly _bound: number;

  constructor(value = 1) {
    super(value);
    this._bound = value;
  }

  /**
   * Gives a permit back, as `Semaphore.release`.
   *
   * @throws RangeError if every permit is already free (released more often than
   *   acquired); the semaphore is unchanged and stays usable.
   */
  override release(): void {
    // While anyone waits the count is 0, so this only refuses when nobody holds a permit.
    if (this._value >= this._bound) {
      throw new RangeError(`BoundedSemaphore released too many times: all ${this._bound} permits are already free`);
    }
    super.release();
  }

  /** @internal */
  override _name(): string {
    return "BoundedSemaphore";
  }
}
