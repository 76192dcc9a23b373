import type { EventLoop, Handle } from "@aiots/core";
import { stepInPlace, stoppedFor } from "@aiots/core/internal";
import { resumptions } from "./reaction.js";
import type { AwaitTracker } from "./reaction.js";

/** What a loop of `@aiots/loop` offers beyond the `EventLoop` interface (a user's loop may not). */
interface LoopInternals {
  /** Schedules a one-argument callback without an arguments array. */
  _callSoonOne?(cb: (arg: never) => unknown, arg: unknown): Handle;
  /** Whether callbacks wait in the ready queue (or the rest of a batch that stopped early). */
  _hasReady?(): boolean;
  /** Whether the batch being run has callbacks left. */
  _inBatch?(): boolean;
  /** Calls `deliver(arg)` once the batch being run has run. */
  _atBatchEnd?(deliver: (arg: never) => void, arg: unknown): void;
  /** Schedules a one-argument callback as the next step of this iteration (see `callNextTurn`). */
  _callNextTurn?(cb: (arg: never) => unknown, arg: unknown, madeFirst?: boolean, after?: unknown, inPlace?: boolean): Handle;
  /** The task whose first step the batch stopped for, while it waits to go on. */
  _pausedFor?: unknown;
  /** The task whose step, the last of the iteration, goes on in microtasks. */
  _lastGoingOn?: WeakRef<object> | undefined;
}

/** `loop.callSoon(cb, arg)`, through the loop's array-free path when it has one. */
export function callSoonOne<A>(loop: EventLoop, cb: (arg: A) => unknown, arg: A): Handle {
  const fast = (loop as LoopInternals)._callSoonOne;
  return fast !== undefined ? fast.call(loop, cb as (arg: never) => unknown, arg) : loop.callSoon(cb, arg);
}

/**
 * `cb(arg)` as the next step of this loop iteration, once the code going on now has
 * reached a real wait: how a task woken together with another one that goes on now resumes
 * (asyncio runs their steps one after the other in one iteration). `madeFirst`: the wake-up
 * was made before the callbacks queued now (a delivery at the end of a batch), so it goes
 * ahead of them. `inPlace`: it is part of the loop callback running now, so it runs right
 * after that callback (see the loop's `_callNextTurn`). A loop without the means (a user's
 * own) takes it as `callSoon`.
 */
export function callNextTurn<A>(loop: EventLoop, cb: (arg: A) => unknown, arg: A, madeFirst = false, inPlace = false): Handle {
  const next = (loop as LoopInternals)._callNextTurn;
  return next !== undefined ? next.call(loop, cb as (arg: never) => unknown, arg, madeFirst, resumptions.task, inPlace) : callSoonOne(loop, cb, arg);
}

/** `deliver(arg)` once `loop`'s current batch has run (only when `resumesLater` said `AFTER_BATCH`). */
export function atBatchEnd<A>(loop: EventLoop, deliver: (arg: A) => void, arg: A): void {
  (loop as LoopInternals)._atBatchEnd!(deliver as (arg: never) => void, arg);
}

/**
 * The future a task's pending cancel (asked for while nothing could be interrupted) has just
 * cancelled at the start of an await: that await resumes through the loop, behind the
 * callbacks already queued, as asyncio's task cancels the future it yields and wakes up from
 * its done callback. Read once, by the `then` that the await goes on to call.
 */
export const cancelledAtAwait: { future: object | undefined } = { future: undefined };

/** How many task first steps are running now (nested: an eager task started inside one). */
export const firstSteps = { depth: 0 };

/** How a future that settles now reaches its awaiters (see `resumesLater`). */
export const AT_ONCE = 0;
export const FROM_READY_QUEUE = 1;
export const AFTER_BATCH = 2;
export const NEXT_TURN = 3;

/**
 * How the awaiters of a future that settles now resume: from `loop`'s ready queue rather
 * than in a microtask when callbacks are queued there already (asyncio would run them
 * first), or while a task's first step runs (asyncio goes on with that step before it); in
 * the next step of this iteration when the wake-up of another task than the one `settling`
 * wakes waits in the batch already (asyncio runs each woken task as a step of its own, one
 * after the other, see `callNextTurn`); in a microtask
 * once the loop's current batch has run, when callbacks of that batch are left (asyncio runs
 * them first); else in a microtask now. A wake-up that stands for the task's own step (see
 * `stepInPlace`), one of the task whose first step the batch stopped for (see
 * `goesOnWithStep`), and any of a closed loop (which runs nothing more), resume at once.
 */
export function resumesLater(loop: EventLoop | undefined, settling: { _wakes(): AwaitTracker | null | undefined }): number {
  if (loop === undefined || stepInPlace.on) return AT_ONCE;
  const internals = loop as LoopInternals;
  let how: number;
  if (firstSteps.depth > 0) how = FROM_READY_QUEUE;
  else if (wakesAnother(settling)) how = NEXT_TURN;
  else if (internals._hasReady?.() === true) how = goesOnWithStep(internals, settling) ? AT_ONCE : FROM_READY_QUEUE;
  else if (internals._inBatch?.() === true) how = AFTER_BATCH;
  else return AT_ONCE;
  return loop.isClosed() ? AT_ONCE : how;
}

/**
 * Whether `settling` wakes the task whose first step the loop's batch stopped for: that task
 * goes on in microtasks as part of its step (asyncio's step would not have stopped: it awaited
 * an eager task finishing, say), so it resumes at once, ahead of the rest of the batch.
 */
function goesOnWithStep(internals: LoopInternals, settling: { _wakes(): AwaitTracker | null | undefined }): boolean {
  const paused = internals._pausedFor;
  if (paused !== undefined) return settling._wakes() === paused;
  // The last step of the iteration: only a task it awaits finishing in microtasks (an eager
  // task) is part of it; a wake-up of anything else it awaits means it had really waited.
  const last = internals._lastGoingOn?.deref();
  return last !== undefined && typeof (settling as { _goesOnSoon?: unknown })._goesOnSoon === "function" && settling._wakes() === last;
}

/** Whether the batch holds the wake-up of another task than the one `settling` wakes. */
export function wakesAnother(settling: { _wakes(): AwaitTracker | null | undefined }): boolean {
  const woken = resumptions.task;
  if (woken === undefined) return false;
  const waiter = settling._wakes();
  return waiter !== undefined && waiter !== null && waiter !== woken;
}

/**
 * `task`'s code really waits now (on a pending aiots future, not one that goes on in
 * microtasks itself): if a loop's batch stopped for its step (see `stoppedFor`), the rest of
 * the batch goes on in the next microtask, as asyncio runs the next callback once the step is
 * over. Called only for that task (`task === stoppedFor.task`).
 */
export function stepWaits(task: AwaitTracker & { _goesOnSoon?(): boolean }, unlessGoingOn = true): void {
  if (unlessGoingOn && task._goesOnSoon?.() === true) return;
  takeGoOn()(false);
}

/** The go-on of the stopped batch, taken out of `stoppedFor` (called only while it is set). */
function takeGoOn(): (now: boolean) => void {
  const goOn = stoppedFor.goOn!;
  stoppedFor.task = stoppedFor.goOn = undefined;
  return goOn;
}

/** The go-on of a step whose task is finishing now, and that task (see `stepEnds`). */
let ending: ((now: boolean) => void) | undefined;
let endingTask: AwaitTracker | undefined;

/**
 * `task`, the one the loop's batch stopped for (`stoppedFor.task`), is finishing: once its
 * outcome is set, `goOnAfterStep(task)` lets the rest of the batch go on (the step is over;
 * what the outcome wakes goes through the loop behind it).
 */
export function stepEnds(task: AwaitTracker): void {
  ending = takeGoOn();
  endingTask = task;
}

/**
 * Lets the rest of the batch go on if `task`, which has just finished, was the step it stopped
 * for: at once (`now`, from the reaction to the task's function promise, where nothing else is
 * running), else in the next microtask.
 */
export function goOnAfterStep(task: AwaitTracker, now: boolean): void {
  if (task !== endingTask) return;
  const goOn = ending!;
  ending = endingTask = undefined;
  goOn(now);
}
