export { gather, GatheringFuture } from "./gather.js";
export type { GatherOptions, GatherResults, GatherSettledResults } from "./gather.js";
export { wait, FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED } from "./wait.js";
export type { ReturnWhen, WaitFlowOptions, WaitResult } from "./wait.js";
export { waitFor } from "./wait-for.js";
export { asCompleted, AsCompleted } from "./as-completed.js";
export type { AsCompletedOptions } from "./as-completed.js";
export { shield } from "./shield.js";
export { timeout, timeoutAt, Timeout } from "./timeout.js";
export type { TimeoutBody, TimeoutState } from "./timeout.js";
export { taskGroup, TaskGroup } from "./task-group.js";
export type { TaskGroupState } from "./task-group.js";
export type { AwaitedResult } from "./awaitables.js";
// The errors its combinators throw, so a user of this package alone can catch them by class.
export { CancelledError, ExceptionGroup, TimeoutError } from "@aiots/core";
