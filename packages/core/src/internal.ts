/**
 * Internals shared between aiots packages. Not part of the public API: it may change in
 * any release. Import from `@aiots/core/internal`.
 */
export { linkAbort, whenAborted } from "./abort.js";
export { Deque } from "./deque.js";
export { WaiterQueue, follow, onDropped, onSettle, stillOnItsWay } from "./waiters.js";
export { promiseSettled } from "./promise-state.js";
export {
  contextHere,
  currentTaskOrUndefined,
  isTaskStep,
  isResumption,
  stepInPlace,
  stoppedFor,
  settleInPlace,
  markDelivery,
  isDelivery,
  markResumption,
  markInline,
  isPromiseWait,
  markTaskStep,
  runsInline,
  loopForCurrentCode,
  outsideTasks,
  loopScope,
  runningLoopOrUndefined,
  debugSwitch,
  enterCallbackLoop,
  setDefaultLoopFactory,
  taskContext,
  taskStorage,
} from "./context.js";
export {
  checkBoolean,
  checkFunction,
  checkInteger,
  checkLoop,
  checkObject,
  checkOptionalBoolean,
  checkSignal,
  checkTime,
  checkTimeout,
  checkWaitOptions,
  classNameOf,
  nameOf,
} from "./validate.js";
