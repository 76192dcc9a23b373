export { Lock } from "./lock.js";
export { Event } from "./event.js";
export { Condition } from "./condition.js";
export { BoundedSemaphore, Semaphore } from "./semaphore.js";
export { Barrier } from "./barrier.js";
export type { BarrierState } from "./barrier.js";
