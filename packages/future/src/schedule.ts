import type { EventLoop, Handle } from "@aiots/core";
import { resumptions } from "./reaction.js";
import type { AwaitTracker } from "./reaction.js";

/** A loop of `@aiots/loop`, which can schedule a one-argument callback without an array. */
interface OneArgLoop {
  _callSoonOne?(cb: (arg: never) => unknown, arg: unknown): Handle;
}

/** `loop.callSoon(cb, arg)`, through the loop's array-free path when it has one. */
export function callSoonOne<A>(loop: EventLoop, cb: (arg: A) => unknown, arg: A): Handle {
  const fast = (loop as OneArgLoop)._callSoonOne;
  return fast !== undefined ? fast.call(loop, cb as (arg: never) => unknown, arg) : loop.callSoon(cb, arg);
}

/** A loop of `@aiots/loop`, whose ready queue can be looked at. */
interface QueueLoop {
  _hasReady?(): boolean;
}

/**
 * `depth`: how many task first steps are running now (nested: an eager task started inside
 * one). `here`: set while a callback that stands for its awaiter's own step (the wake-up of
 * `sleep(0)`) settles a future, whose awaiters then resume at once.
 */
export const firstSteps = { depth: 0, here: false };

/**
 * Whether the awaiters of a future that settles now should resume from `loop`'s ready queue
 * rather than in a microtask: when callbacks are queued there already (asyncio would run them
 * first), while a task's first step runs (asyncio goes on with that step before it), or when
 * the wake-up of another task than the one `settling` wakes waits in the batch already
 * (asyncio runs each woken task as a step of its own, one after the other).
 */
export function resumesLater(loop: EventLoop | undefined, settling: { _wakes(): AwaitTracker | null | undefined }): boolean {
  if (loop === undefined || firstSteps.here) return false;
  // (A closed loop runs nothing more: its futures' awaiters resume as microtasks. It has
  // nothing ready either.)
  if (firstSteps.depth > 0) return !loop.isClosed();
  const woken = resumptions.task;
  if (woken !== undefined) {
    const waiter = settling._wakes();
    if (waiter !== undefined && waiter !== null && waiter !== woken) return !loop.isClosed();
  }
  const hasReady = (loop as QueueLoop)._hasReady;
  return hasReady !== undefined && hasReady.call(loop);
}
