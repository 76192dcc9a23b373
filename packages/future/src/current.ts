
import { currentTaskOrUndefined } from "@aiots/core/internal";
import type { Task } from "./task.js";

/**
 * The task whose code is running, or `undefined` outside tasks (asyncio's `current_task`).
 * Async functions called from a task see that task.
 *
 * @example
 * ```ts
 * const t = createTask(async () => currentTask()?.getName(), { name: "worker" });
 * console.log(await t); // "worker"
 * ```
 */
export function currentTask(): Task<unknown> | undefined {
  return currentTaskOrUndefined() as Task<unknown> | undefined;
}
