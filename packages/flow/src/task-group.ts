import { ExceptionGroup, InvalidStateError, isCancelledError } from "@aiots/core";
import type { EventLoop, TaskFunction, TaskLike, TaskOptions } from "@aiots/core";
import { checkFunction } from "@aiots/core/internal";
import { Future } from "@aiots/future";
import type { Task } from "@aiots/future";
import { failureOf } from "./awaitables.js";
import { inTask, runBody } from "./structured.js";

/**
 * The lifecycle of a `TaskGroup`: made, body running, waiting for the children, over.
 *
 * @example
 * ```ts
 * const tg = new TaskGroup();
 * console.log(tg.state); // "created"
 * await tg.run(async () => console.log(tg.state)); // "entered"
 * console.log(tg.state); // "finished"
 * ```
 */
export type TaskGroupState = "created" | "entered" | "exiting" | "finished";

/**
 * Tasks that live and die together (asyncio's `TaskGroup`), for structured concurrency.
 * Use it through `taskGroup(body)` or `new TaskGroup().run(body)`: the body runs in the
 * current task and starts children with `tg.createTask(fn)`; the group then waits for every
 * child, so no child outlives it.
 *
 * - The first child that fails cancels the other children and the body; when all have
 *   finished, every failure (the body's too) is thrown together in one `ExceptionGroup`.
 * - A cancel from outside cancels the body and all children, and `CancelledError` is
 *   thrown, unless children failed: then the `ExceptionGroup` wins (and the cancel stays
 *   requested on the task, so its next await throws).
 * - A child that is cancelled on its own is not a failure.
 * - The group's own cancellation of its task is taken back when the group ends (the task's
 *   `cancelling()` count is what it was), exactly as asyncio's.
 *
 * Outside any task, the body runs in a new task so that it can be interrupted. A group
 * cancels the task it runs in, so anything else that task awaits at that moment is
 * interrupted too: await the group, and run side-by-side work in separate tasks.
 *
 * @example
 * ```ts
 * const [a, b] = await taskGroup(async (tg) => {
 *   const a = tg.createTask(() => fetchA());
 *   const b = tg.createTask(() => fetchB());
 *   return [a, b];
 * });
 * console.log(a.result(), b.result()); // both done here
 * ```
 */
export class TaskGroup {
  /** @internal */ _state: TaskGroupState = "created";
  /** @internal */ _aborting = false;
  /** @internal */ _loop: EventLoop | undefined = undefined;
  /** @internal */ _parentTask: TaskLike<unknown> | undefined = undefined;
  /** @internal Whether the group cancelled its parent task, and so must take that back. */
  _parentCancelRequested = false;
  /** @internal */ readonly _tasks = new Set<Task<unknown>>();
  /** @internal */ _errors: unknown[] = [];
  /** @internal Resolved when the last child is done, while the group waits for them. */
  _onCompleted: Future<boolean> | undefined = undefined;

  /** Where the group is in its lifecycle. */
  get state(): TaskGroupState {
    return this._state;
  }

  /** How many children are not done yet. */
  get size(): number {
    return this._tasks.size;
  }

  /**
   * Starts `fn` as a child task of the group (asyncio's `TaskGroup.create_task`).
   *
   * @throws InvalidStateError if the group has not been entered, has finished, or is
   *   shutting down after a failure or a cancel; TypeError if `fn` is not a function.
   */
  createTask<T>(fn: TaskFunction<T>, options?: TaskOptions): Task<T> {
    checkFunction(fn, "TaskGroup.createTask function");
    if (this._state === "created" || this._loop === undefined) throw new InvalidStateError("TaskGroup has not been entered");
    if (this._state === "finished" || (this._state === "exiting" && this._tasks.size === 0)) {
      throw new InvalidStateError("TaskGroup is finished");
    }
    if (this._aborting) throw new InvalidStateError("TaskGroup is shutting down");
    const task = this._loop!.createTask(fn, options) as Task<T>;
    // The callback is added even to a task that finished eagerly, so that its failure
    // aborts the group through the same path (CPython gh-128550).
    this._tasks.add(task as Task<unknown>);
    task.addDoneCallback(this._onTaskDone);
    // An eager child may already have failed and aborted the group (CPython gh-155418).
    if (this._aborting && !task.done()) task.cancel();
    return task;
  }

  /**
   * Enters the group: runs `body(this)`, then waits for every child. Resolves to what the
   * body returned. A group runs once.
   *
   * @throws ExceptionGroup of the failures; CancelledError on a cancel from outside;
   *   InvalidStateError if the group was already entered; TypeError if `body` is not a function.
   */
  run<T>(body: (tg: TaskGroup) => T | PromiseLike<T>): Promise<Awaited<T>> {
    checkFunction(body, "TaskGroup body");
    if (this._state !== "created") throw new InvalidStateError("TaskGroup has already been entered");
    this._state = "entered";
    return inTask("taskGroup()", async (task): Promise<Awaited<T>> => {
      this._parentTask = task;
      this._loop = task.getLoop();
      let value: Awaited<T> | undefined;
      let failed = false;
      let error: unknown;
      try {
        value = await runBody(task, "taskGroup()", () => body(this));
      } catch (e) {
        failed = true;
        error = e;
      }
      await this._exit(failed, error);
      return value as Awaited<T>;
    });
  }

  /** @internal asyncio's `__aexit__`: wait for the children, then decide what to throw. */
  async _exit(failed: boolean, error: unknown): Promise<void> {
    this._state = "exiting";
    const parent = this._parentTask!;
    let propagateCancel: unknown = failed && isCancelledError(error) ? error : undefined;
    let propagating = propagateCancel !== undefined;
    // The body failed or was cancelled: its children must not go on without it.
    if (failed && !this._aborting) this._abort();
    // The wait is repeated because it can be cancelled many times: by each outside cancel,
    // and by the group's own cancel of its task while the body was already done.
    let pendingCancel: unknown;
    let pendingSeen = false;
    while (this._tasks.size > 0) {
      this._onCompleted ??= new Future<boolean>(this._loop);
      try {
        await this._onCompleted;
      } catch (e) {
        pendingCancel = e;
        pendingSeen = true;
        if (!this._aborting) {
          // The parent is being cancelled from outside while the children still run.
          propagateCancel = e;
          propagating = true;
          this._abort();
        }
      }
      this._onCompleted = undefined;
    }
    this._state = "finished";
    const errors = this._errors;
    this._errors = [];
    this._parentTask = undefined;
    if (this._parentCancelRequested) {
      // The group cancelled its task; take that back. If that leaves no request pending, the
      // CancelledError was ours alone and does not propagate. Another one still pending is
      // not ours to drop (CPython gh-155433).
      if (parent.uncancel() === 0) propagating = false;
      else if (!propagating && pendingSeen) {
        propagateCancel = pendingCancel;
        propagating = true;
      }
    }
    if (propagating && errors.length === 0) throw propagateCancel;
    if (failed && !isCancelledError(error)) errors.push(error);
    if (errors.length > 0) {
      // A cancel from outside is still pending: re-request it (the count stays the same) so
      // that it is not lost behind the ExceptionGroup. It is the task's own request, as in
      // asyncio: it surfaces at the next await, or ends the task cancelled if its function
      // returns first.
      if (parent.cancelling() > 0) {
        parent.uncancel();
        const own = (parent as { _cancelOwn?: () => boolean })._cancelOwn;
        if (own !== undefined) own.call(parent);
        else parent.cancel();
      }
      throw new ExceptionGroup("unhandled errors in a TaskGroup", errors);
    }
  }

  /** @internal Cancels every child that is not done; no new child may start. */
  _abort(): void {
    this._aborting = true;
    for (const t of this._tasks) if (!t.done()) t.cancel();
  }

  /** @internal */
  readonly _onTaskDone = (task: Task<unknown>): void => {
    this._tasks.delete(task);
    if (this._onCompleted !== undefined && this._tasks.size === 0 && !this._onCompleted.done()) this._onCompleted.setResult(true);
    const failure = failureOf(task);
    if (failure === undefined) return;
    const parent = this._parentTask;
    if (parent === undefined) return;
    this._errors.push(failure.error);
    if (parent.done()) {
      this._loop!.callExceptionHandler({
        message: `Task ${task.getName()} has failed but its TaskGroup's task ${parent.getName()} is already done`,
        exception: failure.error,
        task,
      });
      return;
    }
    if (!this._aborting && !this._parentCancelRequested) {
      // Interrupt whatever the body is doing, and remember to take this cancel back at the end.
      this._abort();
      this._parentCancelRequested = true;
      parent.cancel();
    }
  };

  get [Symbol.toStringTag](): string {
    return "TaskGroup";
  }

  toString(): string {
    const parts: string[] = [this._aborting && this._state !== "finished" ? "cancelling" : this._state];
    if (this._tasks.size > 0) parts.push(`tasks: ${this._tasks.size}`);
    if (this._errors.length > 0) parts.push(`errors: ${this._errors.length}`);
    return `TaskGroup [${parts.join(", ")}]`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

/**
 * Runs `body(tg)` as a task group (asyncio's `async with TaskGroup() as tg:`): see
 * `TaskGroup`. Resolves to what the body returned, once every child is done.
 *
 * @throws ExceptionGroup of every failure; CancelledError on a cancel from outside (unless
 *   children failed); TypeError at the call if `body` is not a function.
 * @example
 * ```ts
 * try {
 *   await taskGroup(async (tg) => {
 *     tg.createTask(() => sleep(1000));          // cancelled when the other fails
 *     tg.createTask(async () => { throw new Error("boom") });
 *   });
 * } catch (e) {
 *   console.log((e as ExceptionGroup).errors); // [Error: boom]
 * }
 * ```
 */
export function taskGroup<T>(body: (tg: TaskGroup) => T | PromiseLike<T>): Promise<Awaited<T>> {
  checkFunction(body, "taskGroup body");
  return new TaskGroup().run(body);
}
