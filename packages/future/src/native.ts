import { isPromiseWait, stoppedFor, taskStorage } from "@aiots/core/internal";
import { deliverHeld, isHolder } from "./held.js";
import { PENDING, RESOLVED, Reaction, addReaction, captured, runDelivered, outcomeFailed, outcomeOf } from "./reaction.js";
import { stepWaits } from "./schedule.js";
import type { AwaitTracker, Fireable, ReactionSource } from "./reaction.js";

/*
 * The native promise inside every Future. A Future is a promise subclass; the engine awaits
 * it directly (one turn, no `then` call) when reading its `constructor` gives `Promise`.
 * That read is the await hook: it runs in the awaiting code's context, so the current task
 * records the await there, as `then` would. The native promise is settled from here: at
 * once when nothing can cancel its awaiter in between, else one microtask after the future
 * settles (from the reaction batch), once it is known whether the awaiting task was
 * cancelled meanwhile, which makes the await throw `CancelledError` instead (asyncio's rule).
 */

export const nativeThen = Promise.prototype.then;
const ignore = (): void => {};

/** What the native side reads and writes on a future. */
export interface NativeFuture extends ReactionSource, Fireable {
  _native: ((value: unknown) => void) | null | undefined;
  _nativeReject: ((error: unknown) => void) | undefined;
  _nativeWaiter: AwaitTracker | null | undefined;
  _reactions: Fireable | Fireable[] | undefined;
}

/** Takes the resolving functions `captureResolvers` left for the future just constructed. */
export function takeResolvers(future: NativeFuture): void {
  future._native = captured.resolve;
  future._nativeReject = captured.reject;
  captured.resolve = captured.reject = undefined;
}

/**
 * Whether `value` can fulfil the native promise as it is: anything but a thenable, which a
 * promise would adopt (calling its `then`) instead of holding.
 */
function isPlainValue(value: unknown): boolean {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return true;
  return typeof (value as { then?: unknown }).then !== "function";
}

/**
 * The native awaiter's reaction (from the batch, or at once outside tasks): settles the
 * native promise as the future settled. If the awaiting task was cancelled after the
 * future was done but before its code resumed, its await throws `CancelledError` instead,
 * and what the future handed over is given back (`_onDropped`), as with a `Reaction`.
 */
export function fireNative(future: NativeFuture): void {
  const waiter = future._nativeWaiter;
  future._nativeWaiter = undefined;
  const outcome = outcomeOf(future, waiter);
  if (outcomeFailed) rejectNative(future, outcome);
  else {
    const resolve = future._native!;
    future._native = null;
    future._nativeReject = undefined;
    resolve(outcome);
  }
  if (future._onDelivered !== undefined) runDelivered(future);
}

/** Rejects the native promise, marked as handled (its awaiter may have been `Promise.all`, which uses `then`). */
function rejectNative(future: NativeFuture, error: unknown): void {
  const reject = future._nativeReject!;
  future._native = future._nativeReject = undefined;
  reject(error);
  nativeThen.call(future, undefined, ignore);
}

/** Resolved with nobody awaiting the native promise: let it hold a plain result. */
export function settleNativeIdle(future: NativeFuture): void {
  const resolve = future._native;
  if (resolve === undefined || resolve === null) return;
  future._nativeReject = undefined;
  if (isPlainValue(future._result)) {
    future._native = null;
    resolve(future._result);
  } else future._native = undefined;
}

/**
 * The engine reads `constructor` when an `await` (or `Promise.resolve`, `Promise.all`, ...)
 * takes up a pending future: true lets it use the future as the native promise it is. The
 * future is tracked here for the current task, as `then` would track it; one such awaiter
 * per future, the others go through `then`.
 */
function hookAwait(future: NativeFuture): boolean {
  if (future._state !== PENDING) {
    takeHandOver(future);
    return future._native === null;
  }
  const task = awaitTrackerHere();
  if (task !== null && (task._awaitStarted(future as never) !== undefined || future._state !== PENDING)) {
    // Refused (a task awaiting itself), or cancelled by a cancel pending on the task: `then` reports it.
    return false;
  }
  if (future._nativeWaiter !== undefined) {
    // Another awaiter has the native promise: this await goes through `then`, a turn later,
    // and is a wait all the same. A task's place among the awaiters is taken now, as
    // asyncio's await registers its wake-up at once: its `then` adopts it (see `awaitLater`).
    if (task !== null) {
      // (Not the awaiter itself reading it again: a native `then` on the future looks up its species.)
      if (future._nativeWaiter !== task) awaitLater(future, task);
      if (task === stoppedFor.task && !isPromiseWait(future)) stepWaits(task);
    }
    return false;
  }
  future._nativeWaiter = task;
  addReaction(future, future);
  // The task's code waits now: the task it woke goes on (once this await is set up, as
  // delivering may settle this very future). Not for a plain promise awaited inline.
  if (task !== null && !isPromiseWait(future)) {
    if (isHolder(task)) deliverHeld();
    if (task === stoppedFor.task) stepWaits(task);
  }
  return true;
}

/**
 * The places tasks took among a future's awaiters at an await that goes through `then` a
 * turn later (a second awaiter of one future): per task, the reactions its coming `then`
 * calls adopt, one per future.
 */
const placesOf = new WeakMap<AwaitTracker, Reaction<unknown, unknown>[]>();

/** How many places are taken and not adopted yet: `then` looks for one only while some are. */
export const pendingPlaces = { taken: 0 };

/** Adds `task`'s await of `future` to the future's awaiters now, for its `then` to adopt. */
function awaitLater(future: NativeFuture, task: AwaitTracker): void {
  const places = placesOf.get(task);
  // (One place per future and task: a second read before its `then` came is the same await.)
  if (places !== undefined && places.some((place) => place._of === future)) return;
  const place = new Reaction<unknown, unknown>(future, task, undefined, undefined);
  place._place = true;
  addReaction(future, place);
  pendingPlaces.taken++;
  if (places === undefined) placesOf.set(task, [place]);
  else places.push(place);
}

/**
 * The place `task` took among `future`'s awaiters at its await (see `awaitLater`), for the
 * `then` that await calls now, which takes it with its callbacks; undefined if none.
 */
export function takePlace(future: object, task: AwaitTracker): Reaction<unknown, unknown> | undefined {
  const places = placesOf.get(task);
  if (places === undefined) return undefined;
  for (let i = 0; i < places.length; i++) {
    const place = places[i]!;
    if (place._of !== future) continue;
    if (places.length === 1) placesOf.delete(task);
    else places.splice(i, 1);
    pendingPlaces.taken--;
    return place;
  }
  return undefined;
}

/**
 * The pending task whose code runs here, which tracks its awaits; `null` for code outside
 * tasks: plain code, a loop's callbacks (whose scope holds the loop, not a task), and code a
 * task started that runs on after the task is done.
 */
export function awaitTrackerHere(): AwaitTracker | null {
  const store = taskStorage.getStore() as AwaitTracker | undefined;
  return store === undefined || store.done() ? null : store;
}

/** Awaiting a resolved future takes what it handed over: nobody else can give that back now. */
function takeHandOver(future: NativeFuture): void {
  if (future._onDropped !== undefined && future._state === RESOLVED) future._onDropped = undefined;
}

const hooked = new WeakSet<object>();

/**
 * Makes `constructor` of a Future class's prototype the await hook: it reads `Promise`
 * when the engine may await the future as a native promise, else the class itself.
 */
export function installAwaitHook(prototype: object): void {
  const own = (prototype as { constructor: unknown }).constructor;
  Object.defineProperty(prototype, "constructor", {
    configurable: true,
    get(this: NativeFuture): unknown {
      const native = this._native;
      if (native === null) {
        takeHandOver(this);
        return Promise;
      }
      if (native === undefined) return own;
      return hookAwait(this) ? Promise : own;
    },
  });
  hooked.add(prototype);
}

/** Installs the hook on a subclass's prototype, the first time one of its futures is made. */
export function ensureAwaitHook(prototype: object): void {
  if (!hooked.has(prototype)) installAwaitHook(prototype);
}
