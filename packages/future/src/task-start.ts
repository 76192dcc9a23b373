import { checkOptionalBoolean, checkSignal, promiseSettled, taskStorage } from "@aiots/core/internal";
import type { TaskFunction, TaskOptions } from "@aiots/core";
import { Future, isFuture } from "./future.js";
import { adoptHandOver } from "./reaction.js";
import type { Task } from "./task.js";

/* How a task starts: its options checked, its function run in its context, and the outcome
 * of that function collected. */

/**
 * Checks `createTask`'s options before anything is made, so that a bad call throws at the
 * call and leaves no half-built task behind (a wrong `eagerStart` would otherwise read as false).
 */
export function checkTaskOptions(options: TaskOptions | undefined): void {
  if (options === undefined || options === null) return;
  if (typeof options !== "object") throw new TypeError(`task options must be an object, got ${typeof options}`);
  const { name, eagerStart, signal } = options;
  if (name !== undefined && typeof name !== "string") throw new TypeError(`task name must be a string, got ${typeof name}`);
  checkSignal(signal, "task signal");
  checkOptionalBoolean(eagerStart, "task option eagerStart");
}

export function reasonMessage(reason: unknown): string | undefined {
  if (reason instanceof Error) return reason.message;
  return reason === undefined ? undefined : String(reason);
}

/**
 * Runs in the task's context (see `taskContext`), so a thenable result's `then` sees the
 * task as current, and so do the outcome handlers below.
 */
export function runFunction<T>(task: Task<T>, fn: TaskFunction<T>): void {
  let result: T | PromiseLike<T>;
  try {
    result = fn();
  } catch (error) {
    task._onRejected(error);
    return;
  }
  if (result instanceof Promise && !(result instanceof Future)) {
    // The usual case, an async function. The reactions are shared functions, not closures:
    // they run in the context `then` was called in, this task's, so the store is the task.
    result.then(settleFulfilled, settleRejected);
    if (!task.done()) task._running = result;
  } else if (result !== null && (typeof result === "object" || typeof result === "function") && typeof (result as PromiseLike<T>).then === "function") {
    // A Future (or other thenable) returned as it is: its `then` must be called now, in
    // the task's context, so the task tracks it from this moment (an `await` would call it
    // one turn later, after a hand-over and a cancel could both have happened).
    const future = isFuture(result) ? (result as unknown as Future<T>) : undefined;
    if (future !== undefined && future.done()) {
      // Done already (a fast path's hand-over): the function is as good as finished (see
      // `Task.cancel`), and the task passes the hand-over on, so a dropped result of the
      // task gives it back. (`then` on a done future takes the hand-over at once.) A pending
      // one is tracked by `then` as an await of the task's.
      task._running = future;
      adoptInto(task, future);
    }
    (result as PromiseLike<T>).then(
      (value) => {
        // A hand-over (a lock, a permit, a queue item) the task only passes on: if its own
        // result is then dropped, what was handed over goes back to the primitive.
        if (future !== undefined) adoptInto(task, future);
        task._onFulfilled(value);
      },
      (error: unknown) => task._onRejected(error),
    );
  } else {
    task._onFulfilled(result as T);
  }
}

function settleFulfilled(value: unknown): void {
  (taskStorage.getStore() as Task<unknown>)._onFulfilled(value, true);
}

function settleRejected(error: unknown): void {
  (taskStorage.getStore() as Task<unknown>)._onRejected(error, true);
}

function adoptInto(task: Task<unknown>, future: Future<unknown>): void {
  const giveBack = adoptHandOver(future as { _onDropped?: (value: never) => void });
  if (giveBack !== undefined) task._onDropped = giveBack;
}

/**
 * Whether what a task's function returned has settled, so the function is finished: a
 * Future that is done, or a native promise that is settled.
 */
export function finished(returned: Promise<unknown>): boolean {
  return isFuture(returned) ? returned.done() : promiseSettled(returned);
}
