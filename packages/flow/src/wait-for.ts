import { TimeoutError } from "@aiots/core";
import type { AwaitableLike, EventLoop, WaitOptions } from "@aiots/core";
import { checkTimeout, checkWaitOptions, giveBackResult } from "@aiots/core/internal";
import { Future } from "@aiots/future";
import { cancelAndWait, collect, thrownBy, toFutures } from "./awaitables.js";

/**
 * Waits for `aw` for at most `timeout` ms (asyncio's `wait_for`). At the deadline `aw` is
 * cancelled, waited for until it has finished (its `finally` blocks have run), and
 * `TimeoutError` is thrown, with the `CancelledError` as its `cause`. As in asyncio 3.12+,
 * a result is never lost: if `aw` finished at the same moment as the deadline, or swallowed
 * the cancellation and returned a value, that value is returned; if it failed while being
 * cancelled, that error is thrown.
 *
 * `timeout` `null` (or `Infinity`) means no deadline; `<= 0` means "only if already done":
 * a pending `aw` is cancelled at once (a function passed in never starts).
 * Cancelling the caller cancels `aw` too, and waits for it. To keep `aw` running past the
 * deadline, pass `shield(aw)`.
 *
 * Called from a task (or callback) of a loop, a function is started as a task at once,
 * inside the call (it runs up to its first wait before waitFor returns), as asyncio 3.12+
 * runs a coroutine in the caller's own step: a cancel of the caller that comes right after
 * always finds it started. (From plain code outside any loop it starts on the loop's next
 * iteration, as an eager task would there.)
 *
 * Which awaitables stop: a function (started as a task) and a Task are interrupted at their
 * current await; a Future is cancelled; a plain promise cannot be stopped: waitFor stops
 * waiting for it and throws, the promise runs on. So pass `() => work()`, not `work()`.
 *
 * Unlike `timeout()`, waitFor never cancels the calling task, so several can run side by
 * side in one task (`Promise.all([waitFor(a, 100), waitFor(b, 200)])`).
 *
 * @param options.signal aborting it cancels `aw` like a cancel of the caller, waits for it,
 *   and rejects with the signal's `reason` (an already aborted signal rejects at once and
 *   starts nothing).
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
  if (signal !== undefined && signal.aborted) return Promise.reject(signal.reason);
  // A function runs at once, as asyncio 3.12+ runs a coroutine inside the caller's own step;
  // with a timeout <= 0 it never starts (asyncio wraps it in a task and cancels that at once).
  const { loop, unique } = toFutures([aw], "waitFor", timeout === null || timeout > 0);
  return waitForFuture(unique[0]!, loop, timeout ?? null, signal);
}

async function waitForFuture<T>(fut: Future<T>, loop: EventLoop, timeout: number | null, signal: AbortSignal | undefined): Promise<T> {
  if (timeout === null && signal === undefined) return await fut;
  if (timeout !== null && timeout <= 0) {
    if (fut.done()) return fut.result();
    await cancelAndWait([fut], loop);
    return outcome(fut, (cancelled) => timeoutError(cancelled));
  }
  // One waiter future, released by whichever comes first: the result, the deadline, or the
  // signal. The caller awaits the waiter, not `fut`, so a cancel of the caller is seen
  // here first and `fut` can be cancelled and waited for on purpose.
  const waiter = new Future<void>(loop);
  const release = () => {
    if (!waiter.done()) waiter.setResult(undefined);
  };
  let aborted = false;
  const onAbort = () => {
    aborted = true;
    release();
  };
  fut.addDoneCallback(release);
  const handle = timeout === null || timeout === Infinity ? undefined : loop.callLater(timeout, release);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    try {
      await waiter;
    } catch (error) {
      // The caller was cancelled: the work it waited for must not outlive the wait.
      fut.removeDoneCallback(release);
      const wasPending = !fut.done();
      await cancelAndWait([fut], loop);
      // If the work did not end cancelled (it caught the cancel and returned, or failed
      // while stopping), that outcome is the answer, as an `await` of it would give
      // (asyncio 3.12+). A result that came with the cancel does not count: the cancel won.
      if (wasPending && !fut.cancelled()) return fut.result();
      // Done before the cancel reached this code, but not taken: a hand-over (a lock, a
      // permit, a queue item, or a task that returned one) goes back to its primitive, as a
      // late-cancelled await of it would give it back.
      if (!wasPending) giveBackResult(fut);
      throw error;
    }
    // Done at the same moment as the deadline still counts as done in time.
    if (fut.done()) return fut.result();
    fut.removeDoneCallback(release);
    await cancelAndWait([fut], loop);
    return outcome(fut, (cancelled) => (aborted ? signal!.reason : timeoutError(cancelled)));
  } finally {
    handle?.cancel();
    signal?.removeEventListener("abort", onAbort);
  }
}

/** The result of the done `fut`, its own error, or (if it ended cancelled) `replace(error)`. */
function outcome<T>(fut: Future<T>, replace: (cancelled: unknown) => unknown): T {
  if (!fut.cancelled()) return fut.result();
  throw replace(thrownBy(fut)!.error);
}

function timeoutError(cause: unknown): TimeoutError {
  return new TimeoutError("waitFor timed out", { cause });
}
