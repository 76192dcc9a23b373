/**
 * Bodies that cancel the task they run in (internal): `timeout` and `taskGroup` interrupt
 * their body by cancelling the current task, as asyncio's do. That is only right while the
 * body is the one thing the task is doing. In asyncio a task is one call stack, so a second
 * scope can only be nested in the first; in JavaScript a task's function can start two async
 * calls side by side (`Promise.all([timeout(...), timeout(...)])`), and the expiry of one
 * would cancel the other's awaits too. So every body records a frame: the innermost active
 * frame of each task, and (through an AsyncLocalStorage) the frame the running code is
 * nested in. A new body may run in the task only if it is nested in the task's innermost
 * frame; otherwise it is side by side with it, and refused with a message that says why.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { InvalidStateError } from "@aiots/core";
import type { TaskLike } from "@aiots/core";
import { Task, createTask, currentTask } from "@aiots/future";

interface Frame {
  readonly task: TaskLike<unknown>;
  readonly parent: Frame | undefined;
  readonly what: string;
  active: boolean;
}

const enclosing = new AsyncLocalStorage<Frame>();
const innermost = new WeakMap<TaskLike<unknown>, Frame>();

/**
 * Runs `body(task)` in the current task, or, outside any task, in a new task (so that it
 * can be interrupted at all), and returns its result. `what` names the caller in errors.
 *
 * @throws InvalidStateError (as a rejection) if another scope or task group is active in
 *   the current task and this call is not nested inside it.
 */
export async function inTask<T>(what: string, body: (task: Task<unknown>) => Promise<T>): Promise<T> {
  const task = currentTask();
  if (task === undefined) {
    // Plain async code: nothing to interrupt, so the body gets a task of its own; the caller
    // cannot be cancelled anyway, and awaiting the task gives it the body's outcome.
    return await createTask(() => body(currentTask()!));
  }
  const top = innermost.get(task);
  if (top !== undefined && enclosing.getStore() !== top) {
    throw new InvalidStateError(
      `${what} cannot start beside the ${top.what} already active in ${task.getName()}: ` +
        `it would cancel the other's awaits; run side-by-side work in separate tasks (createTask, gather)`,
    );
  }
  return await body(task);
}

/** Runs `fn` as the body of a frame of `task`: nested calls see it as their enclosing frame. */
export async function runBody<T>(task: TaskLike<unknown>, what: string, fn: () => T | PromiseLike<T>): Promise<Awaited<T>> {
  const frame: Frame = { task, parent: innermost.get(task), what, active: true };
  innermost.set(task, frame);
  try {
    return await enclosing.run(frame, fn);
  } finally {
    frame.active = false;
    // A nested body that was not awaited may still be running: it stays the innermost,
    // and skips this frame when it ends.
    if (innermost.get(task) === frame) {
      let parent = frame.parent;
      while (parent !== undefined && !parent.active) parent = parent.parent;
      if (parent === undefined) innermost.delete(task);
      else innermost.set(task, parent);
    }
  }
}
