
import type { Handle, WaitOptions } from "@aiots/core";
import { checkTime, checkWaitOptions, linkAbort, loopForCurrentCode, markResumption, onSettle, settleInPlace } from "@aiots/core/internal";
import { Future } from "./future.js";
import { callSoonOne } from "./schedule.js";

/**
 * A future that resolves to `value` after `ms` milliseconds (asyncio's `sleep`). `sleep(0)`
 * (or any delay <= 0) yields to the loop for one iteration; `Infinity` sleeps until
 * cancelled. Cancelling it (or the task awaiting it) drops its timer at once, except that a
 * task waiting in `sleep(0)` (asyncio's bare yield) takes a `cancel()` where its wake-up
 * stands in the loop's ready queue, with the latest cancel's message.
 *
 * @param options.signal aborting it rejects the sleep with the signal's reason.
 * @throws TypeError if `ms` is not a number; RangeError if it is `NaN`.
 * @example
 * ```ts
 * const start = Date.now();
 * const v = await sleep(50, "done");
 * console.log(v, Date.now() - start >= 50); // "done" true
 * ```
 */
export function sleep(ms: number, value?: undefined, options?: WaitOptions): Future<void>;
export function sleep<T>(ms: number, value: T, options?: WaitOptions): Future<T>;
export function sleep<T>(ms: number, value?: T, options?: WaitOptions): Future<T> {
  checkTime(ms, "sleep delay");
  const signal = checkWaitOptions(options, "sleep");
  const loop = loopForCurrentCode();
  const future = new Future<T>(loop);
  if (signal !== undefined && signal.aborted) {
    future.setException(signal.reason);
    return future;
  }
  let handle: Handle | undefined;
  if (ms !== Infinity) {
    // (At Infinity there is nothing to schedule: only a cancel or an abort ends it.)
    handle =
      value === undefined
        ? ms <= 0
          ? callSoonOne(loop, wakeNowEmpty, future as Future<unknown>)
          : loop.callLater(ms, wakeEmpty, future as Future<unknown>)
        : ms <= 0
          ? loop.callSoon(wakeNow<T>, future, value as T)
          : loop.callLater(ms, wake<T>, future, value as T);
    // The handle itself is the cancel hook: no closure per sleep.
    future._onCancel = handle;
  }
  if (signal !== undefined) {
    // An abort rejects the sleep; once it settles, however it settles, the listener goes
    // (linkAbort), and the timer with it (a no-op for a timer that already fired).
    linkAbort(future, signal);
    if (handle !== undefined) onSettle(future, () => handle.cancel());
  }
  return future;
}

/**
 * Whether `future` is a `sleep(0)` (a delay <= 0) not yet run: asyncio's bare yield, which has
 * no future a task's `cancel()` could cancel. The cancel waits for it (`_must_cancel`), and its
 * wake-up, at its place in the ready queue, throws `CancelledError` with the latest cancel's
 * message. Told by its cancel hook, the loop handle of its wake-up (nothing is added to a
 * sleep for this: a `WeakSet` of them cost the spawn benchmark 15% on Node 24); a sleep on a
 * loop whose handles are not aiots' is cancelled as any future.
 */
export function isBareYield(future: Future<unknown>): boolean {
  const hook = future._onCancel as { _callback?: unknown } | undefined;
  if (hook === undefined || typeof hook !== "object") return false;
  const callback = hook._callback;
  return callback === wakeNowEmpty || callback === wakeNow;
}

function wakeEmpty(future: Future<unknown>): void {
  wake(future, undefined);
}

function wakeNowEmpty(future: Future<unknown>): void {
  wakeNow(future, undefined);
}
markResumption(wakeNowEmpty);

/** `sleep(0)`'s wake-up: it is the awaiting task's next step (asyncio's bare yield), not a callback that wakes it. */
function wakeNow<T>(future: Future<T>, value: T): void {
  settleInPlace(wake<T>, future, value);
}
markResumption(wakeNow);

function wake<T>(future: Future<T>, value: T): void {
  if (!future.done()) {
    future._onCancel = undefined;
    future.setResult(value);
  }
}
