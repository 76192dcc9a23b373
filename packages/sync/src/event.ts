import type { WaitOptions } from "@aiots/core";
import { WaiterQueue, checkWaitOptions } from "@aiots/core/internal";
import { ACQUIRED, aborted, describe, waitIn } from "./waiting.js";

/**
 * A flag that tasks can wait for (asyncio's `Event`). `set()` wakes every waiter and lets
 * later `wait()` calls through until `clear()`.
 *
 * A waiter cancelled or aborted before `set()` leaves the queue at once. A waiter whose
 * task is cancelled after `set()` woke it but before its code resumed throws
 * `CancelledError`, as in asyncio (there is nothing to give back: every waiter is woken).
 *
 * @example
 * ```ts
 * const ready = new Event();
 * createTask(async () => { await ready.wait(); console.log("go") });
 * ready.set(); // logs "go" soon after
 * ```
 */
export class Event {
  /** @internal */ _value = false;
  /** @internal */ readonly _waiters = new WaiterQueue<true>();

  /** Whether the flag is set (asyncio's `is_set`). */
  isSet(): boolean {
    return this._value;
  }

  /**
   * Sets the flag and wakes every waiter, first to last. Does nothing if already set.
   *
   * @example
   * ```ts
   * event.set();
   * console.log(event.isSet()); // true
   * ```
   */
  set(): void {
    if (this._value) return;
    this._value = true;
    this._waiters.wakeAll(true);
  }

  /**
   * Clears the flag: later `wait()` calls block until the next `set()`. Waiters already
   * woken by a `set()` stay woken.
   *
   * @example
   * ```ts
   * event.clear();
   * console.log(event.isSet()); // false
   * ```
   */
  clear(): void {
    this._value = false;
  }

  /**
   * Resolves to `true` once the flag is set (at once if it is). Interrupted by cancelling
   * the awaiting task, also after `set()` woke it and before it resumed.
   *
   * @param options.signal aborting it withdraws this wait, which rejects with the
   *   signal's reason; an already aborted signal rejects at once.
   * @throws TypeError (at the call) for bad `options`.
   * @example
   * ```ts
   * await event.wait({ signal: AbortSignal.timeout(1000) });
   * ```
   */
  wait(options?: WaitOptions): Promise<true> {
    const signal = checkWaitOptions(options, "Event.wait");
    if (signal !== undefined && signal.aborted) return aborted(signal);
    if (this._value) return ACQUIRED;
    return waitIn(this._waiters, signal);
  }

  get [Symbol.toStringTag](): string {
    return "Event";
  }

  /** `Event [set]` or `Event [unset, waiters: 2]`. */
  toString(): string {
    return describe("Event", this._value ? "set" : "unset", this._waiters.size);
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}
