export { Future, isFuture } from "./future.js";
export { Task, createTask } from "./task.js";
export { currentTask } from "./current.js";
export { allTasks } from "./registry.js";
export { sleep } from "./sleep.js";
export { ensureFuture } from "./ensure-future.js";
export { isCancelledError } from "@aiots/core";
