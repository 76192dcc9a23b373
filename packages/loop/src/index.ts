export { EventLoop } from "./event-loop.js";
export { VirtualTimeLoop } from "./virtual-time-loop.js";
export type { VirtualTimeLoopOptions } from "./virtual-time-loop.js";
export { CallbackHandle, TimerCallbackHandle } from "./handle.js";
export { Runner, run } from "./runner.js";
export type { RunOptions } from "./runner.js";
export { getEventLoop, getRunningLoop, newEventLoop } from "./context.js";
