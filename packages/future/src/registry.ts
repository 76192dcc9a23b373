import { checkLoop, runningLoopOrUndefined } from "@aiots/core/internal";
import type { EventLoop } from "@aiots/core";
import type { Task } from "./task.js";

/**
 * The pending tasks, for `allTasks()`. A finished task leaves at once (`unregisterTask`,
 * from its `_release`), so nothing here keeps it alive. Tasks of loops not in debug mode
 * are an intrusive doubly-linked list in creation order (O(1) add and remove, no hashing,
 * no allocation); those of a loop in debug mode are held weakly, so that a task nobody can
 * ever wake is collected and reported instead of leaking.
 */
let head: Task<unknown> | undefined;
let tail: Task<unknown> | undefined;
const weak = new Set<WeakRef<Task<unknown>>>();
const weakRefOf = new WeakMap<Task<unknown>, WeakRef<Task<unknown>>>();

export function registerTask(task: Task<unknown>): void {
  if (task._loop!.getDebug()) {
    const ref = new WeakRef(task);
    weakRefOf.set(task, ref);
    weak.add(ref);
    task._registered = 2;
  } else {
    task._regPrev = tail;
    if (tail !== undefined) tail._regNext = task;
    else head = task;
    tail = task;
    task._registered = 1;
  }
}

export function unregisterTask(task: Task<unknown>): void {
  if (task._registered === 1) {
    const prev = task._regPrev;
    const next = task._regNext;
    if (prev !== undefined) prev._regNext = next;
    else head = next;
    if (next !== undefined) next._regPrev = prev;
    else tail = prev;
    task._regPrev = task._regNext = undefined;
  } else if (task._registered === 2) {
    const ref = weakRefOf.get(task);
    if (ref !== undefined) {
      weak.delete(ref);
      weakRefOf.delete(task);
    }
  }
  task._registered = 0;
}

/**
 * The tasks of `loop` (default: the running loop) that are not done yet (asyncio's
 * `all_tasks`). Outside any loop and without `loop`, the tasks of every loop.
 *
 * @throws TypeError if `loop` is given and is not an event loop.
 * @example
 * ```ts
 * createTask(() => sleep(100));
 * console.log(allTasks().size); // 1 (plus the calling task, inside one)
 * ```
 */
export function allTasks(loop?: EventLoop): Set<Task<unknown>> {
  if (loop !== undefined && loop !== null) checkLoop(loop, "allTasks loop"); // (null: none given)
  const target = loop ?? runningLoopOrUndefined();
  const out = new Set<Task<unknown>>();
  // A task finished behind its back (through Future's own methods) may still be listed until its step.
  for (let task = head; task !== undefined; task = task._regNext) {
    if ((target === undefined || task._loop === target) && !task.done()) out.add(task);
  }
  for (const ref of weak) {
    const task = ref.deref();
    if (task === undefined) weak.delete(ref);
    else if ((target === undefined || task._loop === target) && !task.done()) out.add(task);
  }
  return out;
}
