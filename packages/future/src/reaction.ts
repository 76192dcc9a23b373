import type { CancelledError, EventLoop } from "@aiots/core";
import { outsideTasks } from "@aiots/core/internal";

/** Future states, shared with `future.ts`. */
export const PENDING = 0;
export const RESOLVED = 1;
export const REJECTED = 2;
export const CANCELLED = 3;
export type State = typeof PENDING | typeof RESOLVED | typeof REJECTED | typeof CANCELLED;

/** What a Task does when one of its awaits starts and ends (see `Task`). */
export interface AwaitTracker {
  /** Whether the task is done (then its code, still running, awaits as code outside tasks does). */
  done(): boolean;
  /** Called when the task's code starts awaiting a pending `future`; may return an error to reject that await with. */
  _awaitStarted(future: never): Error | undefined;
  /**
   * Called when an awaited future's outcome is about to reach the task's code: returns the
   * `CancelledError` of a cancel that came after the future was done (and consumes it).
   * `failure` is the error the future delivers, if it failed: when that is a
   * `CancelledError` already, it is the one returned (asyncio keeps it).
   */
  _takeLateCancel(source: object, failure: unknown): CancelledError | undefined;
}

/** What a reaction reads from the future it waits on. */
export interface ReactionSource {
  /** A hand-over's one reaction, kept there after the future settled until it runs. */
  _reactions: Fireable | Fireable[] | undefined;
  _state: State;
  _result: unknown;
  _onDropped: ((value: never) => void) | undefined;
  _onDelivered: ((future: never) => void) | undefined;
  _makeCancelledError(): CancelledError;
  _markRetrieved(): void;
  getLoop(): EventLoop;
}

type OnFulfilled<T, R> = ((value: T) => R | PromiseLike<R>) | null | undefined;
type OnRejected<R> = ((reason: unknown) => R | PromiseLike<R>) | null | undefined;

const WAITING = 0;
const FULFILLED = 1;
const FAILED = 2;

/**
 * One executor for every promise aiots makes (a Future, a materialised reaction), instead
 * of a closure each: it leaves the resolving functions in `captured`, and the code that
 * made the promise takes them at once.
 */
export const captured: { resolve: ((value: unknown) => void) | undefined; reject: ((error: unknown) => void) | undefined } = {
  resolve: undefined,
  reject: undefined,
};
export function captureResolvers(resolve: (value: never) => void, reject: (error: unknown) => void): void {
  captured.resolve = resolve as (value: unknown) => void;
  captured.reject = reject;
}

/** Adds `reaction` to what a pending future runs when it settles (one, or a list, in order). */
export function addReaction(future: { _reactions: Fireable | Fireable[] | undefined }, reaction: Fireable): void {
  const list = future._reactions;
  if (list === undefined) future._reactions = reaction;
  else if (Array.isArray(list)) list.push(reaction);
  else future._reactions = [list, reaction];
}

/**
 * One `then` on a Future: the callbacks to run when it settles, and the promise-like that
 * `then` returns. No native promise is made unless someone chains on the reaction (or it
 * ends rejected with nobody to handle it, so that the host reports it as it would for a
 * promise): an `await` of a Future, which ignores what `then` returns, costs one small
 * object instead of two promises and their resolving functions.
 *
 * Reactions run from one shared microtask per batch (see `enqueueReaction`), outside any
 * task's context, one turn after the future settles, as promise reactions would.
 */
export class Reaction<T, R> implements PromiseLike<R> {
  /** @internal */ _source: ReactionSource | undefined;
  /** @internal The task whose await this is, when `then` was called from one. */
  _task: AwaitTracker | undefined;
  /** @internal */ _onFulfilled: OnFulfilled<T, R>;
  /** @internal */ _onRejected: OnRejected<R>;
  /** @internal */ _state: typeof WAITING | typeof FULFILLED | typeof FAILED = WAITING;
  /** @internal */ _value: unknown = undefined;
  /** @internal */ _promise: Promise<R> | undefined = undefined;
  /** @internal */ _resolve: ((value: unknown) => void) | undefined = undefined;
  /** @internal */ _reject: ((error: unknown) => void) | undefined = undefined;
  /**
   * @internal A place a task took among the future's awaiters before its `then` came (see
   * `awaitLater`): the callbacks come later, and an outcome it holds by then waits for them.
   */
  _place = false;
  /** @internal The future it is a reaction of (kept once fired, for a place's `then`). */
  readonly _of: ReactionSource;

  /** @internal */
  constructor(source: ReactionSource, task: AwaitTracker | undefined, onFulfilled: OnFulfilled<T, R>, onRejected: OnRejected<R>) {
    this._source = source;
    this._of = source;
    this._task = task;
    this._onFulfilled = onFulfilled;
    this._onRejected = onRejected;
  }

  /**
   * @internal Hands the settled future's outcome to the callbacks. If the awaiting task was
   * cancelled after the future was done but before its code resumed, the await throws
   * `CancelledError` instead, as in asyncio, and a result handed over through the future
   * is given back (`_onDropped`).
   */
  _fire(): void {
    const source = this._source!;
    const task = this._task;
    const onFulfilled = this._onFulfilled;
    const onRejected = this._onRejected;
    this._source = this._task = this._onFulfilled = this._onRejected = undefined;
    if (source._reactions === this) source._reactions = undefined;
    const outcome = outcomeOf(source, task);
    const failed = outcomeFailed;
    if (source._onDelivered !== undefined) runDelivered(source);
    const handler = failed ? onRejected : onFulfilled;
    if (typeof handler !== "function") {
      this._settle(failed ? FAILED : FULFILLED, outcome);
      return;
    }
    let result: unknown;
    try {
      result = (handler as (x: unknown) => unknown)(outcome);
    } catch (error) {
      this._settle(FAILED, error);
      return;
    }
    this._settle(FULFILLED, result);
  }

  /** @internal */
  _settle(state: typeof FULFILLED | typeof FAILED, value: unknown): void {
    this._state = state;
    this._value = value;
    const resolve = this._resolve;
    if (resolve !== undefined) {
      const reject = this._reject!;
      this._resolve = this._reject = undefined;
      if (state === FULFILLED) resolve(value);
      else reject(value);
    } else if (state === FAILED && !this._place) {
      // Nobody chained on it yet: a native rejected promise lets the host report it if
      // nobody ever does, exactly as for the promise a native `then` returns. (A place's
      // `then` is on its way: the await it stands for handles the error.)
      this._materialize();
    }
  }

  /**
   * @internal The `then` of the await this place stands for (see `takePlace`): its callbacks
   * run when the outcome comes, or now, in a microtask, if it came already.
   */
  _adopt(onFulfilled: unknown, onRejected: unknown): Promise<unknown> {
    this._place = false;
    if (this._state === WAITING) {
      this._onFulfilled = onFulfilled as OnFulfilled<T, R>;
      this._onRejected = onRejected as OnRejected<R>;
      return this as unknown as Promise<unknown>;
    }
    return (this._materialize() as Promise<unknown>).then(onFulfilled as OnFulfilled<unknown, unknown>, onRejected as OnRejected<unknown>);
  }

  /** @internal The native promise behind this reaction, made on first use. */
  _materialize(): Promise<R> {
    let promise = this._promise;
    if (promise === undefined) {
      if (this._state === WAITING) {
        promise = new Promise<R>(captureResolvers);
        this._resolve = captured.resolve;
        this._reject = captured.reject;
        captured.resolve = captured.reject = undefined;
      } else if (this._state === FULFILLED) {
        promise = Promise.resolve(this._value as R);
      } else {
        promise = Promise.reject(this._value);
      }
      this._promise = promise;
    }
    return promise;
  }

  then<R1 = R, R2 = never>(
    onFulfilled?: ((value: R) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this._materialize().then(onFulfilled, onRejected);
  }

  catch<R2 = never>(onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null): Promise<R | R2> {
    return this._materialize().catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<R> {
    return this._materialize().finally(onFinally);
  }

  get [Symbol.toStringTag](): string {
    return "Promise";
  }
}

/** Whether the last `outcomeOf` is an error (read at once, right after the call). */
export let outcomeFailed = false;

/**
 * What settled `source` delivers to one awaiter, of `task` if it is a task's: its result,
 * or its error (`outcomeFailed`). If the task was cancelled after the future was done but
 * before its code resumed, the await gets that `CancelledError` instead, and a result
 * handed over through the future is given back (`_onDropped`). Shared by `Reaction` and
 * the native awaiter.
 */
export function outcomeOf(source: ReactionSource, task: AwaitTracker | null | undefined, take = true): unknown {
  const state = source._state;
  let failed = state !== RESOLVED;
  let outcome: unknown;
  if (!failed) outcome = source._result;
  else if (state === REJECTED) {
    source._markRetrieved();
    outcome = source._result;
  } else outcome = source._makeCancelledError();
  if (task !== undefined && task !== null) {
    const late = task._takeLateCancel(source, failed ? outcome : undefined);
    if (late !== undefined) {
      const dropped = source._onDropped;
      if (!failed && dropped !== undefined && lastToDrop(source)) {
        source._onDropped = undefined;
        giveBackSafely(source, dropped as (value: unknown) => void, outcome);
      }
      failed = true;
      outcome = late;
    }
  }
  // Delivered: what a primitive handed over through the future is taken now, and can no
  // longer be given back by anyone else who waited for it.
  if (!failed && take && source._onDropped !== undefined) {
    takenFrom = source;
    takenGiveBack = source._onDropped;
    source._onDropped = undefined;
  }
  outcomeFailed = failed;
  return outcome;
}

/**
 * Futures whose hand-over several observers share (`shareHandOver`): how many of their
 * awaiters may still drop it, `Infinity` if done callbacks observe them too.
 */
const sharedHandOvers = new WeakMap<object, number>();

/**
 * Records that `observers` observers got the settled `source`, which handed something over:
 * a late-cancelled awaiter then gives it back only if it is the last one to drop it and
 * nobody took it (a done callback may read `result()`, so with callbacks nobody gives it
 * back: it stays the future's result). One observer needs no record (internal).
 */
export function shareHandOver(source: object, observers: number): void {
  sharedHandOvers.set(source, Math.max(sharedHandOvers.get(source) ?? 0, observers));
}

/** Whether the awaiter dropping `source`'s hand-over now is the last that could take it. */
function lastToDrop(source: object): boolean {
  const left = sharedHandOvers.get(source);
  if (left === undefined) return true;
  if (left > 1) {
    sharedHandOvers.set(source, left - 1);
    return false;
  }
  sharedHandOvers.delete(source);
  return true;
}

/** The future whose hand-over the last delivery took, and its give-back (see `adoptHandOver`). */
let takenFrom: object | undefined;
let takenGiveBack: ((value: never) => void) | undefined;

/**
 * The give-back of what `from` handed over, for a task that returns `from` as its own result
 * (it passes the hand-over on, so a dropped result of the task gives it back): taken from the
 * delivery that just reached the task, or from `from` if it was done before (internal).
 */
export function adoptHandOver(from: { _onDropped?: ((value: never) => void) | undefined }): ((value: never) => void) | undefined {
  if (takenFrom === from) {
    const giveBack = takenGiveBack;
    takenFrom = takenGiveBack = undefined;
    return giveBack;
  }
  const own = from._onDropped;
  from._onDropped = undefined;
  return own;
}

/** Whether no other awaiter or done callback shares `source`'s hand-over (see `shareHandOver`). */
export function soleHandOver(source: object): boolean {
  return !sharedHandOvers.has(source);
}

/** A primitive's give-back must not break the other reactions of the batch (or the cancel that dropped it). */
export function giveBackSafely(source: ReactionSource, dropped: (value: unknown) => void, value: unknown): void {
  try {
    dropped(value);
  } catch (error) {
    source.getLoop().callExceptionHandler({ message: "Exception while giving back a dropped result", exception: error });
  }
}

/**
 * The only awaiter `source` had when it settled got its outcome: runs `_onDelivered(source)`
 * (a primitive learning that its hand-over landed, or was given back). Called by the
 * reactions registered while pending, after `outcomeOf`; a future with several has them
 * fire first, and this run from one more reaction queued behind them (see `Future`).
 */
export function runDelivered(source: ReactionSource): void {
  const delivered = source._onDelivered!;
  source._onDelivered = undefined;
  callDelivered(source, delivered);
}

/** Runs a delivered-callback taken off `source` earlier (see `runDelivered`). */
export function callDelivered(source: ReactionSource, delivered: (future: never) => void): void {
  try {
    (delivered as (future: ReactionSource) => void)(source);
  } catch (error) {
    source.getLoop().callExceptionHandler({ message: "Exception in a hand-over's delivered callback", exception: error });
  }
}

/** Something that can run from the batch (a reaction). */
export interface Fireable {
  _fire(): void;
}

// The batch: `batch[head .. size)`. The array keeps its capacity between turns (truncating
// it would reallocate it on the next turn), and is let go of only after an unusually big batch.
const batch: (Fireable | undefined)[] = [];
let head = 0;
let size = 0;
const KEEP_CAPACITY = 4096;
let scheduled = false;
/** Whether the batch holds a `Reaction` (user callbacks, to run outside any task). */
let hasCallbacks = false;
/**
 * The task whose wake-up the batch holds, if any (asyncio runs each woken task as a step of
 * its own: the wake-up of another task goes through the loop instead, see `resumesLater`).
 */
export const resumptions: { task: AwaitTracker | undefined } = { task: undefined };
/** A settled promise: a reaction on it is one plain microtask. */
export const TURN = Promise.resolve();

/**
 * Queues a reaction to run in the shared batch: one promise turn for every reaction queued
 * before the batch runs, instead of a promise (and its host bookkeeping) per reaction.
 * Reactions queued while the batch runs run in the same batch, in order. `callbacks` says
 * whether it runs code of its own (a `Reaction`), or only settles a native promise (a
 * Future's native awaiter), which needs no particular context.
 */
export function enqueueReaction(reaction: Fireable, callbacks = true): void {
  if (size < batch.length) batch[size] = reaction;
  else batch.push(reaction);
  size++;
  if (callbacks) hasCallbacks = true;
  if (!scheduled) {
    scheduled = true;
    void TURN.then(runScheduledBatch);
  }
}

function runScheduledBatch(): void {
  // The batch was scheduled from whatever code settled a future first; callbacks must not
  // run as part of that code's task.
  if (hasCallbacks) runScoped();
  else runBatch();
}

/** Whether the batch runs in the loop's own scope (see `runScheduledBatch`). */
let scoped = false;

function runScoped(): void {
  scoped = true;
  try {
    outsideTasks(runBatch, undefined);
  } finally {
    scoped = false;
  }
}

function runBatch(): void {
  let i = head;
  let rescope = false;
  try {
    while (i < size) {
      // A reaction with callbacks of its own, queued while an unscoped batch runs (from a
      // primitive's hand-over code): the rest runs in the loop's scope, not the caller's.
      if (hasCallbacks && !scoped) {
        rescope = true;
        break;
      }
      const reaction = batch[i]!;
      batch[i++] = undefined;
      reaction._fire();
    }
  } finally {
    if (i >= size) {
      if (size > KEEP_CAPACITY) batch.length = 0;
      head = size = 0;
      scheduled = hasCallbacks = false;
      resumptions.task = undefined;
    } else {
      head = i;
      if (!rescope) {
        // Something escaped a reaction (it should not): the rest runs next turn.
        hasCallbacks = true;
        void TURN.then(runScheduledBatch);
      }
    }
  }
  if (rescope) runScoped();
}
