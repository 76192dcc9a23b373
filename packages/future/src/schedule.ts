import type { EventLoop, Handle } from "@aiots/core";
import { stepInPlace } from "@aiots/core/internal";
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
export const firstSteps = { depth: 0 };

/** A loop of `@aiots/loop` running a batch of callbacks, which can deliver after it. */
interface BatchLoop {
  _inBatch?(): boolean;
}

/** How a future that settles now reaches its awaiters (see `resumesLater`). */
export const AT_ONCE = 0;
export const FROM_READY_QUEUE = 1;
export const AFTER_BATCH = 2;

/**
 * How the awaiters of a future that settles now resume: from `loop`'s ready queue rather
 * than in a microtask when callbacks are queued there already (asyncio would run them
 * first), while a task's first step runs (asyncio goes on with that step before it), or when
 * the wake-up of another task than the one `settling` wakes waits in the batch already
 * (asyncio runs each woken task as a step of its own, one after the other); in a microtask
 * once the loop's current batch has run, when callbacks of that batch are left (asyncio runs
 * them first); else in a microtask now.
 */
export function resumesLater(loop: EventLoop | undefined, settling: { _wakes(): AwaitTracker | null | undefined }): number {
  if (loop === undefined) return AT_ONCE;
  // A wake-up that stands for the task's own step resumes it in that place (see `stepInPlace`).
  if (stepInPlace.on) return AT_ONCE;
  // (A closed loop runs nothing more: its futures' awaiters resume as microtasks. It has
  // nothing ready either.)
  if (firstSteps.depth > 0) return loop.isClosed() ? AT_ONCE : FROM_READY_QUEUE;
  if (wakesAnother(settling)) return loop.isClosed() ? AT_ONCE : FROM_READY_QUEUE;
  const hasReady = (loop as QueueLoop)._hasReady;
  if (hasReady === undefined) return AT_ONCE;
  if (hasReady.call(loop)) return FROM_READY_QUEUE;
  return (loop as BatchLoop)._inBatch!() && !loop.isClosed() ? AFTER_BATCH : AT_ONCE;
}

/** Whether the batch holds the wake-up of another task than the one `settling` wakes. */
export function wakesAnother(settling: { _wakes(): AwaitTracker | null | undefined }): boolean {
  const woken = resumptions.task;
  if (woken === undefined) return false;
  const waiter = settling._wakes();
  return waiter !== undefined && waiter !== null && waiter !== woken;
}
