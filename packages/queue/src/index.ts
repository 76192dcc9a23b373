export { Queue } from "./queue.js";
export { LifoQueue } from "./lifo-queue.js";
export { PriorityQueue } from "./priority-queue.js";
export { defaultCompare } from "./compare.js";
export { QueueEmpty, QueueFull, QueueShutDown } from "@aiots/core";
export type { WaitOptions } from "@aiots/core";
