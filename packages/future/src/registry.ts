
import { runningLoopOrUndefined } from "@aiots/core/internal";
import type { EventLoop } from "@aiots/core";
import type { Task } from "./task.js";

/**
 * The pending tasks, for `allTasks()`. A finished task leaves at once, so nothing here
 * keeps it alive. Tasks of a loop in debug mode are held weakly, so that a task nobody
 * can ever wake is collected and reported instead of leaking.
 */
const strong = new Set<Task<unknown>>();
const weak = new Set<WeakRef<Task<unknown>>>();
const weakRefOf = new WeakMap<Task<unknown>, WeakRef<Task<unknown>>>();

export function registerTask(task: Task<unknown>): void {
  if (task._loop!.getDebug()) {
    const ref = new WeakRef(task);
    weakRefOf.set(task, ref);
    weak.add(ref);
  } else {
    strong.add(task);
  }
}

export function unregisterTask(task: Task<unknown>): void {
  if (!strong.delete(task)) {
    const ref = weakRefOf.get(task);
    if (ref !== undefined) {
      weak.delete(ref);
      weakRefOf.delete(task);
    }
  }
}

/**
 * The tasks of `loop` (default: the running loop) that are not done yet (asyncio's
 * `all_tasks`). Outside any loop and without `loop`, the tasks of every loop.
 *
 * @example
 * ```ts
 * createTask(() => sleep(100));
 * console.log(allTasks().size); // 1 (plus the calling task, inside one)
 * ```
 */
export function allTasks(loop?: EventLoop): Set<Task<unknown>> {
  const target = loop ?? runningLoopOrUndefined();
  const out = new Set<Task<unknown>>();
  for (const task of strong) if (target === undefined || task._loop === target) out.add(task);
  for (const ref of weak) {
    const task = ref.deref();
    if (task === undefined) weak.delete(ref);
    else if (!task.done() && (target === undefined || task._loop === target)) out.add(task);
  }
  return out;
}
