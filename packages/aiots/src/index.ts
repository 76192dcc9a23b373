// The umbrella: every public name of every aiots package. `EventLoop` here is the host
// loop class of @aiots/loop (it implements @aiots/core's `EventLoop` interface, which is
// re-exported as the type `AbstractEventLoop`).
export type {
  AwaitableLike,
  ErrorClass,
  ErrorMatch,
  EventLoop as AbstractEventLoop,
  ExceptionContext,
  ExceptionHandler,
  FutureLike,
  Handle,
  TaskFunction,
  TaskLike,
  TaskOptions,
  TimerHandle,
  WaitOptions,
} from "@aiots/core";
export {
  AiotsError,
  BrokenBarrierError,
  CancelledError,
  ExceptionGroup,
  InvalidStateError,
  QueueEmpty,
  QueueFull,
  QueueShutDown,
  TimeoutError,
} from "@aiots/core";
export { Future, Task, allTasks, createTask, currentTask, ensureFuture, isCancelledError, isFuture, sleep } from "@aiots/future";
export {
  CallbackHandle,
  EventLoop,
  Runner,
  TimerCallbackHandle,
  VirtualTimeLoop,
  getEventLoop,
  getRunningLoop,
  newEventLoop,
  run,
} from "@aiots/loop";
export type { RunOptions, VirtualTimeLoopOptions } from "@aiots/loop";
export { Barrier, BoundedSemaphore, Condition, Event, Lock, Semaphore } from "@aiots/sync";
export { LifoQueue, PriorityQueue, Queue, defaultCompare } from "@aiots/queue";
export type { BarrierState } from "@aiots/sync";
export {
  ALL_COMPLETED,
  AsCompleted,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  GatheringFuture,
  TaskGroup,
  Timeout,
  asCompleted,
  gather,
  shield,
  taskGroup,
  timeout,
  timeoutAt,
  wait,
  waitFor,
} from "@aiots/flow";
export type {
  AsCompletedOptions,
  AwaitedResult,
  GatherOptions,
  GatherResults,
  GatherSettledResults,
  ReturnWhen,
  TaskGroupState,
  TimeoutBody,
  TimeoutState,
  WaitFlowOptions,
  WaitResult,
} from "@aiots/flow";
