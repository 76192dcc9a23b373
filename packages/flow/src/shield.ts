import type { AwaitableLike } from "@aiots/core";
import { Future } from "@aiots/future";
import { collect, copyOutcome, toFutures } from "./awaitables.js";

/**
 * Protects `aw` from cancellation (asyncio's `shield`): returns a Future that settles as `aw`
 * does, but cancelling it, or the task awaiting it, does not cancel `aw`. The caller's
 * `await` still throws `CancelledError`; `aw` runs on to its end. If `aw` itself is cancelled
 * by other means, the shield is cancelled too. A done `aw` comes back as it is.
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
  // After the outer was cancelled, nobody waits for `inner` through the shield: its error
  // is left unretrieved, so debug mode reports it instead of it vanishing.
  const onInnerDone = () => {
    if (!outer.cancelled()) copyOutcome(inner, outer);
  };
  const onOuterDone = () => {
    if (!inner.done()) inner.removeDoneCallback(onInnerDone);
  };
  inner.addDoneCallback(onInnerDone);
  outer.addDoneCallback(onOuterDone);
  return outer;
}
