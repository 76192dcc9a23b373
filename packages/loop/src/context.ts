
import type { EventLoop as EventLoopInterface } from "@aiots/core";
import { loopForCurrentCode, runningLoopOrUndefined, setDefaultLoopFactory } from "@aiots/core/internal";
import { EventLoop } from "./event-loop.js";

// Primitives used in plain async code, outside any run(), get a lazily created host loop.
setDefaultLoopFactory(() => new EventLoop());

/**
 * The loop running the current code (asyncio's `get_running_loop`): the current task's
 * loop, the loop whose callback is running, or a loop inside `runForever`/`runUntilComplete`.
 *
 * @throws Error when no loop is running.
 * @example
 * ```ts
 * await run(async () => console.log(getRunningLoop().time()));
 * ```
 */
export function getRunningLoop(): EventLoopInterface {
  const loop = runningLoopOrUndefined();
  if (loop === undefined) throw new Error("no running event loop");
  return loop;
}

/**
 * The running loop, or else the default loop (created on first use; a closed one is
 * replaced). What plain async code uses.
 *
 * @example
 * ```ts
 * const loop = getEventLoop();
 * loop.callSoon(() => console.log("tick"));
 * ```
 */
export function getEventLoop(): EventLoopInterface {
  return loopForCurrentCode();
}

/**
 * A new host event loop (asyncio's `new_event_loop`).
 *
 * @example
 * ```ts
 * const loop = newEventLoop();
 * console.log(await loop.runUntilComplete(async () => 42)); // 42
 * loop.close();
 * ```
 */
export function newEventLoop(): EventLoop {
  return new EventLoop();
}
