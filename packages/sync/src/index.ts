export { Lock } from "./lock.js";
export { Event } from "./event.js";
export { Condition } from "./condition.js";
export { BoundedSemaphore, Semaphore } from "./semaphore.js";
export { Barrier } from "./barrier.js";
export type { BarrierState } from "./barrier.js";
// The errors its primitives throw, so a user of this package alone can catch them by class.
export { BrokenBarrierError, CancelledError, InvalidStateError } from "@aiots/core";
export type { WaitOptions } from "@aiots/core";
