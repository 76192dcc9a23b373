import { InvalidStateError, isCancelledError } from "@aiots/core";
import type { FutureLike, WaitOptions } from "@aiots/core";
import { WaiterQueue, checkFunction, checkInteger, checkWaitOptions, onSettle } from "@aiots/core/internal";
import { Lock } from "./lock.js";
import { aborted, describe, enqueue } from "./waiting.js";
import type { Turns } from "./waiting.js";

/**
 * A condition variable (asyncio's `Condition`): tasks holding its lock `wait()` until
 * another task `notify()`s them. `new Condition(lock?)` uses `lock` (a `Lock`) or a new one;
 * `acquire`, `release`, `locked` and `guard` are the lock's.
 *
 * **Always returns holding the lock.** `wait()` releases the lock, waits for a notify, and
 * re-acquires the lock before it returns *or throws*: also when cancelled or aborted
 * (then it keeps re-acquiring through further cancellations, and throws the last
 * `CancelledError`, or the abort reason, once it holds the lock again), as asyncio.
 *
 * **No lost notify.** Notified waiters are woken first to last. A waiter that was
 * notified but then throws passes its notify on to the next waiter, as asyncio 3.13: its
 * task was cancelled after the notify reached it and before it resumed (the `wait()`
 * throws `CancelledError`, as in asyncio, once it holds the lock again), or while it
 * re-acquired the lock. A waiter cancelled or aborted before any notify reached it simply
 * leaves the queue.
 *
 * @throws TypeError if `lock` is given and is not a `Lock`.
 * @example
 * ```ts
 * const cond = new Condition();
 * const items: number[] = [];
 * async function consumer() {
 *   await using _ = await cond.guard();
 *   await cond.waitFor(() => items.length > 0);
 *   return items.shift();
 * }
 * async function producer(item: number) {
 *   await using _ = await cond.guard();
 *   items.push(item);
 *   cond.notify();
 * }
 * ```
 */
export class Condition {
  /** @internal */ readonly _lock: Lock;
  /** @internal */ readonly _waiters = new WaiterQueue<true>();
  /** @internal Gives a notify that a waiter will not act on to the next waiter. */
  readonly _passOn = (): void => {
    this._wake();
  };
  /** @internal Reserves the turn of a waiter that was cancelled or aborted (see `_wait`). */
  readonly _withdrawn = (waiter: FutureLike<true>): void => {
    const turns = this._turns;
    // Only behind woken parties that have not gone yet; with none, it leaves at once (asyncio's
    // step would run before anything scheduled after the cancel).
    if (turns !== undefined && turns.busy() && (waiter.cancelled() || waiter.exception() !== null)) turns.reserve(waiter);
  };

  /** @internal With turns (a Barrier's), woken waiters go on one per loop iteration. */
  _turns: Turns | undefined = undefined;

  constructor(lock?: Lock) {
    if (lock === undefined || lock === null) lock = new Lock();
    else if (!(lock instanceof Lock)) {
      throw new TypeError(`Condition lock must be a Lock, got ${typeof lock === "object" ? String(lock) : typeof lock}`);
    }
    this._lock = lock;
  }

  /** Whether the underlying lock is held. */
  locked(): boolean {
    return this._lock.locked();
  }

  /** Acquires the underlying lock (see `Lock.acquire`). */
  acquire(options?: WaitOptions): Promise<true> {
    return this._lock.acquire(options);
  }

  /**
   * Releases the underlying lock (see `Lock.release`).
   *
   * @throws InvalidStateError if it is not locked.
   */
  release(): void {
    this._lock.release();
  }

  /** Acquires the underlying lock for `await using _ = await cond.guard()` (see `Lock.guard`). */
  guard(options?: WaitOptions): Promise<AsyncDisposable & Disposable> {
    return this._lock.guard(options);
  }

  /**
   * Releases the lock, waits until notified, re-acquires the lock, and resolves to `true`.
   * Interrupted by cancelling the awaiting task (also after a notify reached it, before it
   * resumed: the notify then goes to the next waiter), but always re-acquires the lock first.
   * As asyncio warns, wake-ups may be spurious: re-check the state, or use `waitFor`.
   *
   * @param options.signal aborting it withdraws the wait for a notify; the lock is then
   *   re-acquired and the call rejects with the signal's reason. An already aborted signal
   *   rejects at once, with the lock still held.
   * @throws InvalidStateError (at the call) if the lock is not held; TypeError for bad `options`.
   * @example
   * ```ts
   * await cond.acquire();
   * try {
   *   while (!ready) await cond.wait();
   * } finally { cond.release() }
   * ```
   */
  wait(options?: WaitOptions): Promise<true> {
    const signal = checkWaitOptions(options, "Condition.wait");
    if (!this._lock.locked()) throw new InvalidStateError("Condition.wait() called without holding the lock");
    if (signal !== undefined && signal.aborted) return aborted(signal);
    return this._wait(signal);
  }

  /**
   * Waits until `predicate()` is truthy and resolves to its value; it is checked first
   * (the lock is not needed if it is truthy already) and after every wake-up, with the lock
   * held (asyncio's `wait_for`).
   *
   * @param options.signal as `wait`; it applies to every wait inside.
   * @throws TypeError (at the call) if `predicate` is not a function or `options` is bad;
   *   InvalidStateError (at the call) if the predicate is falsy and the lock is not held.
   * @example
   * ```ts
   * await using _ = await cond.guard();
   * const item = await cond.waitFor(() => queue.shift());
   * ```
   */
  waitFor<T>(predicate: () => T, options?: WaitOptions): Promise<T> {
    checkFunction(predicate, "Condition.waitFor predicate");
    const signal = checkWaitOptions(options, "Condition.waitFor");
    if (signal !== undefined && signal.aborted) return aborted(signal);
    let result: T;
    try {
      result = predicate();
    } catch (error) {
      return Promise.reject(error as unknown);
    }
    if (result) return Promise.resolve(result);
    if (!this._lock.locked()) throw new InvalidStateError("Condition.waitFor() called without holding the lock");
    return this._waitFor(predicate, signal);
  }

  /**
   * Wakes up to `n` waiters (default 1), first to last. They return from `wait()` only once
   * they re-acquire the lock, which the caller still holds.
   *
   * @throws InvalidStateError if the lock is not held; TypeError/RangeError if `n` is not an
   *   integer >= 0 (or `Infinity`).
   * @example
   * ```ts
   * await using _ = await cond.guard();
   * cond.notify(2);
   * ```
   */
  notify(n = 1): void {
    if (n !== Infinity) checkInteger(n, "Condition.notify n", 0);
    if (!this._lock.locked()) throw new InvalidStateError("Condition.notify() called without holding the lock");
    for (let i = 0; i < n && this._wake(); i++);
  }

  /**
   * Wakes every waiter (asyncio's `notify_all`).
   *
   * @throws InvalidStateError if the lock is not held.
   * @example
   * ```ts
   * await using _ = await cond.guard();
   * cond.notifyAll();
   * ```
   */
  notifyAll(): void {
    if (!this._lock.locked()) throw new InvalidStateError("Condition.notifyAll() called without holding the lock");
    while (this._wake());
  }

  /** @internal Wakes the first waiter (reserving its turn, with turns); false if none waits. */
  _wake(): boolean {
    const waiter = this._waiters.wakeNext(true);
    if (waiter === undefined) return false;
    this._turns?.reserve(waiter);
    return true;
  }

  /** @internal `signal` is not aborted. */
  _wait(signal: AbortSignal | undefined): Promise<true> {
    // Checked again here for `waitFor`, whose predicate could have released the lock.
    if (!this._lock.locked()) throw new InvalidStateError("Condition.wait() called without holding the lock");
    const waiter = enqueue(this._waiters, signal);
    // asyncio schedules the step of a withdrawn waiter's task at once, behind the steps of
    // parties woken before: its turn is reserved then.
    if (this._turns !== undefined) onSettle(waiter, this._withdrawn);
    // The lock is known to be held, so the release cannot throw and leave a waiter behind.
    this._lock.release();
    return this._waitThenRelock(waiter);
  }

  /** @internal Runs in the caller's context, so a task's cancel interrupts its awaits. */
  async _waitThenRelock(waiter: FutureLike<true>): Promise<true> {
    let notified = false;
    let failed = false;
    let error: unknown;
    try {
      // The waiter itself is awaited, so the task tracks it: a cancel before the notify
      // withdraws it; one after the notify, before this code resumes, throws here too.
      await waiter;
      notified = true;
    } catch (e) {
      // Withdrawn before a notify, or notified and then cancelled before this code resumed
      // (the waiter is resolved then): that notify is passed on below, once the lock is ours
      // again, as asyncio does.
      failed = true;
      error = e;
      if (!notified && waiter.done() && !waiter.cancelled() && waiter.exception() === null) notified = true;
    }
    // A woken waiter goes on in its turn, and so does one leaving on an error (a step of its
    // own in asyncio, run behind the steps scheduled before it): the turn reserved when this
    // waiter was woken, or when it was withdrawn.
    const turn = this._turns?.take(waiter);
    if (turn !== undefined) {
      try {
        await turn;
      } catch (e) {
        // Cancelled while waiting for the turn: that cancel is the one thrown.
        failed = true;
        error = e;
      }
    }
    // Must own the lock again before returning or throwing, even when cancelled meanwhile:
    // a cancel that lands on the re-acquire is remembered and the re-acquire retried (a
    // lock handed over and then dropped by such a cancel passes on to its next waiter).
    for (;;) {
      try {
        await this._lock.acquire();
        break;
      } catch (e) {
        if (!isCancelledError(e)) {
          if (notified) this._passOn();
          throw e;
        }
        failed = true;
        error = e;
      }
    }
    if (failed) {
      // Notified, but throwing instead of returning: the notify goes to the next waiter,
      // or it would be lost with us (the asyncio 3.13 fix).
      if (notified) this._passOn();
      throw error;
    }
    return true;
  }

  /** @internal */
  async _waitFor<T>(predicate: () => T, signal: AbortSignal | undefined): Promise<T> {
    for (;;) {
      await this._wait(signal);
      const result = predicate();
      if (result) return result;
      if (signal !== undefined && signal.aborted) throw signal.reason;
    }
  }

  get [Symbol.toStringTag](): string {
    return "Condition";
  }

  /** `Condition [locked, waiters: 2]` or `Condition [unlocked]`. */
  toString(): string {
    return describe("Condition", this._lock.locked() ? "locked" : "unlocked", this._waiters.size);
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}
