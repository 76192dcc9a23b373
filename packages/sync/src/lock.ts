import { InvalidStateError } from "@aiots/core";
import type { FutureLike, WaitOptions } from "@aiots/core";
import { WaiterQueue, checkWaitOptions, stillOnItsWay } from "@aiots/core/internal";
import { guardGate } from "./guard.js";
import { acquireGate, describe } from "./waiting.js";

/**
 * A mutual-exclusion lock (asyncio's `Lock`). It is not owned by a task: any code may
 * release it, as in asyncio.
 *
 * **Fair.** Waiters get the lock in the order they asked for it. `release()` hands the
 * lock straight to the first waiter, and `acquire()` takes the fast path only when nobody
 * waits, so a newcomer never barges in. Until the woken waiter resumes, `locked()` says
 * false and a second `release()` throws, as in asyncio.
 *
 * **Cancellation-safe, as asyncio.** A waiter that is cancelled (its task cancelled, or its
 * `signal` aborted) before the lock reaches it leaves the queue at once, and the lock goes
 * to the next one. A waiter whose task is cancelled *after* the lock was handed to it but
 * before its code resumed does not keep it either: its `await` throws `CancelledError`
 * and the lock passes on to the next waiter (or is unlocked). So the lock is never leaked
 * and no wake-up is lost. A contended `acquire()` returns the waiter Future itself, so the
 * caller's own `await` is the one the task tracks, from the moment it starts.
 *
 * @example
 * ```ts
 * const lock = new Lock();
 * async function critical() {
 *   await using _ = await lock.guard();
 *   // only one caller at a time runs here
 * }
 * ```
 */
export class Lock {
  /** @internal Held, or being handed to a woken waiter (see `locked`). */
  _locked = false;
  /** @internal */ readonly _waiters = new WaiterQueue<true>();
  /** @internal The waiter the lock was last handed to, until it is seen to have resumed. */
  _handedTo: FutureLike<true> | undefined = undefined;
  /**
   * @internal Hands the lock to the first live waiter, or unlocks it. Also how a waiter
   * whose `await` was cancelled after the handover gives the lock back.
   */
  readonly _pass = (): void => {
    const next = this._waiters.wakeNext(true);
    this._handedTo = next;
    if (next === undefined) this._locked = false;
  };

  /**
   * Whether the lock is held. While it is on its way to a waiter that was woken and has not
   * resumed yet, it is not held (as in asyncio), yet nobody else can take it: the woken
   * waiter is first in line.
   */
  locked(): boolean {
    if (!this._locked) return false;
    const to = this._handedTo;
    if (to === undefined) return true;
    if (stillOnItsWay(to)) return false;
    this._handedTo = undefined;
    return true;
  }

  /**
   * Acquires the lock, waiting for it if it is held or if others wait already. Resolves to
   * `true` (asyncio's `acquire`). Interrupted by cancelling the awaiting task, also after
   * the lock was handed to it and before it resumed (the lock then passes on).
   *
   * @param options.signal aborting it withdraws this wait, which rejects with the
   *   signal's reason; an already aborted signal rejects at once without acquiring.
   * @throws TypeError (at the call) if `options` or `options.signal` is not what it should be.
   * @example
   * ```ts
   * await lock.acquire();
   * try { await work() } finally { lock.release() }
   * ```
   */
  acquire(options?: WaitOptions): Promise<true> {
    return acquireGate(this, checkWaitOptions(options, "Lock", "acquire"));
  }

  /** @internal The fast path: takes the lock if it is free and nobody waits. */
  _tryAcquire(): boolean {
    if (this._locked || this._waiters.size > 0) return false;
    this._locked = true;
    return true;
  }

  /**
   * Releases the lock. If tasks wait, the first live one gets it (the lock stays locked,
   * now on its behalf); otherwise it becomes unlocked.
   *
   * @throws InvalidStateError if the lock is not locked (asyncio raises `RuntimeError`);
   *   the lock is unchanged and stays usable.
   * @example
   * ```ts
   * await lock.acquire();
   * lock.release();
   * ```
   */
  release(): void {
    // Also while the lock is on its way to a woken waiter, as asyncio's RuntimeError.
    if (!this.locked()) throw new InvalidStateError("Lock.release() called on an unlocked Lock");
    // Ownership passes to the woken waiter without the lock ever being free for others,
    // which is what keeps a newcomer's fast path from taking it first.
    this._pass();
  }

  /**
   * Acquires the lock and resolves to a disposable that releases it, for
   * `await using _ = await lock.guard()` (asyncio's `async with lock`). Waits, and takes
   * `options`, and is cancelled, as `acquire`.
   *
   * @throws TypeError (at the call) for bad `options`.
   * @example
   * ```ts
   * {
   *   await using _ = await lock.guard();
   *   await work();
   * } // released here, also when work() throws or the task is cancelled
   * ```
   */
  guard(options?: WaitOptions): Promise<AsyncDisposable & Disposable> {
    return guardGate(this, this, checkWaitOptions(options, "Lock", "guard"));
  }

  get [Symbol.toStringTag](): string {
    return "Lock";
  }

  /** `Lock [locked, waiters: 3]` or `Lock [unlocked]`. */
  toString(): string {
    return describe("Lock", this.locked() ? "locked" : "unlocked", this._waiters.size);
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}
