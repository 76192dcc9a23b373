import { isCancelledError } from "@aiots/core";
import type { AwaitableLike, FutureLike } from "@aiots/core";
import { classNameOf } from "@aiots/core/internal";
import { Future } from "@aiots/future";
import { collect, copyOutcome, toFutures } from "./awaitables.js";

/**
 * Protects `aw` from cancellation (asyncio's `shield`): returns a Future that settles as `aw`
 * does, but cancelling it, or the task awaiting it, does not cancel `aw`. The caller's
 * `await` still throws `CancelledError`; `aw` runs on to its end. If `aw` itself is cancelled
 * by other means, the shield is cancelled too. A done `aw` comes back as it is. If `aw`
 * fails after its shield was cancelled, the error goes to the loop's exception handler
 * ("Error exception in shielded future"), once, as in asyncio 3.14.
 *
 * Pass a function or a Task for work that must survive: a promise returned by an async
 * function that was called inside the current task is part of that task, and cancelling
 * the task interrupts its awaits whether or not it is shielded.
 *
 * @throws TypeError at the call if `aw` is not a Future, a promise or a function.
 * @example
 * ```ts
 * const save = createTask(() => writeToDisk(data));
 * try {
 *   await shield(save); // a cancel of this task does not stop the write
 * } catch (e) {
 *   if (isCancelledError(e)) await save; // let it finish, then go
 *   throw e;
 * }
 * ```
 */
export function shield<T>(aw: AwaitableLike<T>): Future<T> {
  collect([aw], "shield");
  const { loop, unique } = toFutures([aw], "shield");
  const inner = unique[0]!;
  if (inner.done()) return inner;
  const outer = new Future<T>(loop);
  const onInnerDone = () => {
    if (!outer.cancelled()) copyOutcome(inner, outer);
  };
  const onOuterDone = () => {
    if (inner.done()) return;
    inner.removeDoneCallback(onInnerDone);
    // Nobody waits for `inner` through this shield any more: a failure of it is reported to
    // the loop's exception handler (asyncio 3.14), once however many shields were cancelled.
    inner.removeDoneCallback(reportShieldedFailure);
    inner.addDoneCallback(reportShieldedFailure);
  };
  inner.addDoneCallback(onInnerDone);
  outer.addDoneCallback(onOuterDone);
  return outer;
}

/**
 * A shielded future's failure that nobody waits for any more, reported to its loop. A
 * cancellation is not a failure: neither a cancelled future nor one that failed with a
 * `CancelledError` (as asyncio's task whose coroutine raises it ends cancelled) is reported.
 */
function reportShieldedFailure(inner: FutureLike<unknown>): void {
  if (inner.cancelled()) return;
  const error = inner.exception();
  if (error === null || isCancelledError(error)) return;
  const kind = classNameOf(error) ?? typeof error;
  inner.getLoop().callExceptionHandler({ message: `${kind} exception in shielded future`, exception: error, future: inner });
}
