import { TimeoutError } from "@aiots/core";
import type { AwaitableLike, EventLoop, FutureLike, Handle, WaitOptions } from "@aiots/core";
import { checkTimeout, checkWaitOptions, whenAborted } from "@aiots/core/internal";
import { currentTask, isFuture } from "@aiots/future";
import { getEventLoop } from "@aiots/loop";
import type { Future } from "@aiots/future";
import { cancelAndWait, collect, thrownBy, toFutures } from "./awaitables.js";

/**
 * Waits for `aw` for at most `timeout` ms (asyncio's `wait_for`). At the deadline `aw` is
 * cancelled, waited for until it has finished (its `finally` blocks have run), and
 * `TimeoutError` is thrown, with the `CancelledError` as its `cause`. A result is never
 * lost: if `aw` swallowed the cancellation and returned a value, that value is returned, and
 * if it failed while being cancelled, that error is thrown (asyncio 3.12+). A function's
 * deadline is set before it starts (asyncio enters the timeout first), so its own timer due
 * at the same moment fires after the deadline, and the deadline cancels it in its own
 * callback, so its cleanup goes before tasks woken by timers due at that moment and set
 * after it. A Future or Task passed in is cancelled in the deadline's callback too; one
 * settled before it (by a timer due at the same moment that fired first) gives its value,
 * as does a promise that settles by the microtask after the deadline (asyncio raises
 * `TimeoutError` in both cases: its deadline cancels the waiting task, which had not
 * resumed yet). With a timeout `<= 0`, a pending `aw` is cancelled and waited for through its
 * done callback, a loop turn later, as asyncio's.
 *
 * `timeout` `null` (or `Infinity`) means no deadline; `<= 0` means "only if already done":
 * a pending `aw` is cancelled at once (a function passed in never starts).
 * The caller awaits `aw` itself, as asyncio 3.12+ does inside its timeout scope: cancelling
 * the caller cancels `aw` too, and waits for it; a cancel that comes after a lock, permit or
 * item was handed over through `aw`, before the caller resumes, gives it back (as for any
 * late-cancelled await). To keep `aw` running past the
 * deadline, pass `shield(aw)`.
 *
 * Called from a task (or callback) of a loop, a function is started as a task at once,
 * inside the call (it runs up to its first wait before waitFor returns), as asyncio 3.12+
 * runs a coroutine in the caller's own step: a cancel of the caller that comes right after
 * always finds it started, and one that comes after the function has finished (its value
 * on the way back to the caller) is thrown at the caller's next await, not here, so the
 * value (an item, a permit the function took) is not lost. (From plain code outside any
 * loop it starts on the loop's next iteration, as an eager task would there.)
 *
 * Which awaitables stop: a function (started as a task) and a Task are interrupted at their
 * current await; a Future is cancelled; a plain promise cannot be stopped: waitFor stops
 * waiting for it and throws, the promise runs on. So pass `() => work()`, not `work()`. A
 * function awaiting a plain promise at the deadline is interrupted at its next aiots await;
 * if it returns before any, it was never interrupted, and waitFor returns its value.
 *
 * Unlike `timeout()`, waitFor never cancels the calling task, so several can run side by
 * side in one task (`Promise.all([waitFor(a, 100), waitFor(b, 200)])`).
 *
 * @param options.signal aborting it cancels `aw` like a cancel of the caller, waits for it,
 *   and rejects with the signal's `reason` (an already aborted signal rejects at once,
 *   starts nothing, and cancels a pending Future or Task passed in, so a wait withdrawn that
 *   way takes nothing; work that is done already, or a promise that settles by the next
 *   microtask, counts as done, as with a timeout of 0).
 * @throws TimeoutError at the deadline; TypeError/RangeError at the call for a bad `aw`,
 *   `timeout` or `options`.
 * @example
 * ```ts
 * const v = await waitFor(async () => { await sleep(10); return "fast" }, 1000); // "fast"
 * await waitFor(() => sleep(5000), 100); // throws TimeoutError after 100 ms; the sleep is cancelled
 * ```
 */
export function waitFor<T>(aw: AwaitableLike<T>, timeout: number | null, options?: WaitOptions): Promise<T> {
  checkTimeout(timeout, "waitFor timeout");
  const signal = checkWaitOptions(options, "waitFor");
  collect([aw], "waitFor");
  if (signal !== undefined && signal.aborted) {
    // Withdrawn before it began: a function is not started, and a pending Future (or Task)
    // passed in is cancelled, so a wait withdrawn that way takes nothing.
    if (typeof aw === "function") return Promise.reject(signal.reason);
    if (isFuture(aw) && !(aw as FutureLike<T>).done()) {
      (aw as FutureLike<T>).cancel();
      return Promise.reject(signal.reason);
    }
    // Work done already (a done future, or a promise settled by the next microtask, such as
    // an uncontended acquire's) counts as done, as with a timeout of 0: what it took is
    // the caller's, not lost.
    const { loop, unique } = toFutures([aw], "waitFor", false, true);
    return settledOr(unique[0]!, loop, () => signal.reason);
  }
  // A function runs at once, as asyncio 3.12+ runs a coroutine inside the caller's own step;
  // with a timeout <= 0 it never starts (asyncio wraps it in a task and cancels that at once).
  // Its deadline is set first, as asyncio enters the timeout before it runs the coroutine: a
  // timer of the function's own due at the same moment fires after it.
  const deadline = typeof aw === "function" && timeout !== null && timeout > 0 && timeout !== Infinity ? new Deadline(getEventLoop(), timeout) : undefined;
  const { loop, unique } = toFutures([aw], "waitFor", timeout === null || timeout > 0, true);
  return waitForFuture(unique[0]!, loop, timeout ?? null, signal, deadline, isFuture(aw));
}

/** A waitFor deadline set before its work starts; what it stops is given once the work runs. */
class Deadline {
  readonly handle: Handle;
  stop: ((why: "deadline") => void) | undefined = undefined;

  constructor(loop: EventLoop, timeout: number) {
    this.handle = loop.callLater(timeout, () => this.stop?.("deadline"));
  }
}

async function waitForFuture<T>(
  fut: Future<T>,
  loop: EventLoop,
  timeout: number | null,
  signal: AbortSignal | undefined,
  deadline: Deadline | undefined,
  isOwnFuture: boolean,
): Promise<T> {
  if (timeout === null && signal === undefined) return await fut;
  if (timeout !== null && timeout <= 0) return settledOr(fut, loop, timeoutError);
  // The caller awaits `fut` itself, as asyncio 3.12+ does inside a timeout scope: its task
  // tracks the await, so a cancel of the caller cancels `fut` (and, for a task, waits for
  // it), and a cancel that comes after a hand-over through `fut`, before the caller
  // resumes, gives that hand-over back. The deadline and the signal cancel `fut` too.
  const caller = currentTask();
  const cancelsBefore = caller?.cancelling() ?? 0;
  let stoppedBy: "deadline" | "signal" | undefined;
  const cancelNow = (why: "deadline" | "signal") => {
    // Once the caller's own cancel has gone to `fut`, its cleanup is not cut short by a second one.
    if (fut.done() || stoppedBy !== undefined || (caller?.cancelling() ?? 0) > cancelsBefore) return;
    stoppedBy = why;
    fut.cancel();
  };
  const stop = (why: "deadline" | "signal") => {
    // One microtask later: a plain promise that was already settled (an uncontended acquire)
    // has settled `fut`, its wrapper, by then, and done at the same moment as the deadline
    // still counts as done in time.
    void SETTLED.then(() => cancelNow(why));
  };
  let handle: Handle | undefined;
  if (deadline !== undefined) {
    // A function's task is cancelled right in the deadline's callback, as asyncio's timeout
    // cancels the caller there: its wake-up comes before those of timers due at the same
    // moment that fire after it.
    deadline.stop = cancelNow;
    handle = deadline.handle;
  } else if (timeout !== null && timeout !== Infinity) {
    // So is a Future or Task passed in (there is no wrapper to wait for): a hand-over it made
    // before is its result, one it makes later in that iteration never happens.
    handle = loop.callLater(timeout, isOwnFuture ? cancelNow : stop, "deadline");
  }
  const unlink = signal === undefined ? undefined : whenAborted(signal, () => stop("signal"));
  try {
    return await fut;
  } catch (error) {
    // Our own stop ended it (and nobody cancelled the caller meanwhile): the deadline's
    // TimeoutError, or the signal's reason. Anything else (the caller's own cancel, the
    // work's own failure) is the answer as it is.
    if (stoppedBy !== undefined && fut.cancelled() && (caller?.cancelling() ?? 0) <= cancelsBefore) {
      throw stoppedBy === "signal" ? signal!.reason : timeoutError(error);
    }
    throw error;
  } finally {
    handle?.cancel();
    unlink?.();
  }
}

const SETTLED = Promise.resolve();

/**
 * `fut`'s outcome if it is done by the next microtask (a plain promise that was already
 * settled settles its wrapper one microtask later); else `fut` is cancelled, and once it is
 * done, `error(its CancelledError)` is thrown unless it finished anyway.
 */
async function settledOr<T>(fut: Future<T>, loop: EventLoop, error: (cancelled: unknown) => unknown): Promise<T> {
  if (!fut.done()) await SETTLED;
  if (fut.done()) return fut.result();
  await cancelAndWait([fut], loop);
  return outcome(fut, error);
}

/** The result of the done `fut`, its own error, or (if it ended cancelled) `replace(error)`. */
function outcome<T>(fut: Future<T>, replace: (cancelled: unknown) => unknown): T {
  if (!fut.cancelled()) return fut.result();
  throw replace(thrownBy(fut)!.error);
}

function timeoutError(cause: unknown): TimeoutError {
  return new TimeoutError("waitFor timed out", { cause });
}
