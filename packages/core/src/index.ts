export type {
  AwaitableLike,
  EventLoop,
  ExceptionContext,
  ExceptionHandler,
  FutureLike,
  Handle,
  TaskFunction,
  TaskLike,
  TaskOptions,
  TimerHandle,
  WaitOptions,
} from "./interfaces.js";
export type { ErrorClass, ErrorMatch } from "./errors.js";
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
  isCancelledError,
} from "./errors.js";
