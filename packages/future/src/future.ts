import { CancelledError, InvalidStateError } from "@aiots/core";
import type { EventLoop, FutureLike } from "@aiots/core";
import { checkFunction, checkLoop, isPromiseWait, loopForCurrentCode, markDelivery, markResumption, runningLoopOrUndefined, runsInline, stoppedFor } from "@aiots/core/internal";
import { debugTracker } from "./debug.js";
import { holdWake, holderRunsNow, holding, isHolder, queueHeld } from "./held.js";
import { awaitTrackerHere, ensureAwaitHook, fireNative, installAwaitHook, nativeThen, pendingPlaces, settleNativeIdle, takePlace, takeResolvers } from "./native.js";
import { CANCELLED, PENDING, REJECTED, RESOLVED, Reaction, TURN, addReaction, callDelivered, captureResolvers, enqueueReaction, giveBackSafely, outcomeFailed, outcomeOf, resumptions, shareHandOver, soleHandOver } from "./reaction.js";
import { AT_ONCE, FROM_READY_QUEUE, NEXT_TURN, atBatchEnd, callNextTurn, callSoonOne, cancelledAtAwait, resumesLater, stepWaits, wakesAnother } from "./schedule.js";
import type { AwaitTracker, Fireable, State } from "./reaction.js";

export type { AwaitTracker } from "./reaction.js";

const STATE_NAMES = ["pending", "finished", "finished", "cancelled"] as const;

/** Stored loosely (`never` parameter) so that `Future<T>` stays covariant in `T`. */
type DoneCallback = (future: never) => void;
/** A future's done callbacks, marked when the first came before any awaiter (see `_callbacksFirst`). */
type DoneCallbacks = DoneCallback[] & { beforeAwaiters?: boolean };

/**
 * A value that will be there later, settled by hand (asyncio's `Future`).
 *
 * It is a native promise (`instanceof Promise`, usable wherever a `Promise<T>` is), and
 * more: it can be inspected (`done()`, `result()`) and cancelled: awaiting a cancelled
 * future throws `CancelledError`. A task that awaits a future is tracked, so cancelling
 * the task cancels the future it waits on. Done callbacks run through the loop's
 * `callSoon`, in registration order (those added before anything awaited the future run
 * before its awaiters resume, as in asyncio); awaiters resume at promise speed, without
 * waiting for a loop iteration. `then`, `catch` and `finally` return plain promises.
 *
 * How an `await` is seen: the engine reads a promise's `constructor` when it takes it up,
 * and a Future answers from a getter that records the await for the current task. So
 * reading `constructor` of a pending future inside a task counts as awaiting it (it is
 * then `Promise`, not the class); use `instanceof` to tell what a value is.
 *
 * @throws InvalidStateError from `setResult`/`setException` on a done future and from
 *   `result()`/`exception()` on a pending one.
 * @example
 * ```ts
 * const fut = new Future<string>();
 * setTimeout(() => fut.setResult("hello"), 10);
 * console.log(await fut); // "hello"
 * ```
 */
export class Future<T> extends Promise<T> implements FutureLike<T> {
  /** @internal */ _state: State = PENDING;
  /** @internal The result, the exception, or the `CancelledError` (made by `cancel()`), by state. */
  _result: unknown = undefined;
  /** @internal */ _cancelMessage: string | undefined = undefined;
  /** @internal */ _loop: EventLoop | undefined;
  /** @internal */ _callbacks: DoneCallbacks | undefined = undefined;
  /** @internal What `then` registered while the future was pending (one, or several); the future itself stands for its native awaiter. */
  _reactions: Fireable | Fireable[] | undefined = undefined;
  /** @internal Runs synchronously when the future is cancelled (a timer to drop, a waiter to unlink). */
  _onCancel: ((future: never) => void) | { cancel(): void } | undefined = undefined;
  /**
   * @internal Called with the result when an awaiting task was cancelled after the future
   * was resolved but before its code resumed, so the await threw instead of delivering it
   * (what a primitive handed over through this future must then be taken back).
   */
  _onDropped: ((value: never) => void) | undefined = undefined;
  /**
   * @internal Armed by a primitive right before it resolves the future (see `WaiterQueue`
   * in @aiots/core): called once every awaiter the future had then got its outcome, or one
   * microtask later if it had none.
   */
  _onDelivered: ((future: never) => void) | undefined = undefined;
  /** @internal Runs synchronously when the future settles in any way (a listener to remove). */
  _onSettle: ((future: never) => void) | undefined = undefined;
  /**
   * @internal The resolving function of the native promise this future also is, until that
   * promise is settled; then `null` if it holds the result (an `await` takes the engine's
   * own path), `undefined` if it does not (awaits go through `then`).
   */
  _native: ((value: unknown) => void) | null | undefined;
  /** @internal The other resolving function, kept as long as `_native`. */
  _nativeReject: ((error: unknown) => void) | undefined;
  /**
   * @internal Who awaits the native promise directly: `undefined` for nobody, `null` for
   * code outside any task, else the task. At most one; other awaits go through `then`.
   */
  _nativeWaiter: AwaitTracker | null | undefined = undefined;

  /**
   * A pending future of `loop` (default: the running loop, else the default loop).
   * Throws `TypeError` if `loop` is given and is not an event loop (checked at once:
   * otherwise the mistake would only surface at the first done callback).
   */
  constructor(loop?: EventLoop) {
    // (`null` means none given, as asyncio's `loop=None`.)
    if (loop !== undefined && loop !== null) checkLoop(loop, "Future loop");
    super(captureResolvers);
    takeResolvers(this);
    const prototype = new.target.prototype as object;
    if (prototype !== Future.prototype) ensureAwaitHook(prototype);
    this._loop = loop ?? undefined;
  }

  /** The loop the future belongs to. */
  getLoop(): EventLoop {
    return (this._loop ??= loopForCurrentCode());
  }

  /** Whether the future is done: it has a result, an exception, or was cancelled. */
  done(): boolean {
    return this._state !== PENDING;
  }

  /** Whether the future was cancelled. */
  cancelled(): boolean {
    return this._state === CANCELLED;
  }

  /**
   * The result. Throws the future's exception if it has one, `CancelledError` if it was
   * cancelled, and `InvalidStateError` if it is still pending.
   */
  result(): T {
    if (this._state === RESOLVED) return this._result as T;
    if (this._state === REJECTED) {
      this._markRetrieved();
      throw this._result;
    }
    if (this._state === CANCELLED) throw this._makeCancelledError();
    throw new InvalidStateError("Result is not ready.");
  }

  /**
   * The exception, or `null` if the future finished with a result. Throws `CancelledError`
   * if it was cancelled and `InvalidStateError` if it is still pending.
   */
  exception(): unknown {
    if (this._state === RESOLVED) return null;
    if (this._state === REJECTED) {
      this._markRetrieved();
      return this._result;
    }
    if (this._state === CANCELLED) throw this._makeCancelledError();
    throw new InvalidStateError("Exception is not set.");
  }

  /** Marks the future done with `value` and wakes its awaiters. Throws `InvalidStateError` if done. */
  setResult(value: T): void {
    if (this._state !== PENDING) throw new InvalidStateError(`invalid state: ${STATE_NAMES[this._state]}`);
    this._state = RESOLVED;
    this._result = value;
    // (A hand-over with one `then` keeps the native promise unsettled until it runs: see `_replaceable`.)
    if (this._nativeWaiter === undefined && !(this._onDropped !== undefined && this._reactions instanceof Reaction)) settleNativeIdle(this);
    if (this._onSettle !== undefined) this._runSettleHook();
    // Done callbacks observe a hand-over too: a dropping awaiter then never gives it back.
    if (this._callbacks !== undefined && this._onDropped !== undefined) shareHandOver(this, Infinity);
    if (this._callbacksFirst()) this._scheduleCallbacks();
    if (this._reactions !== undefined) this._queueReactions();
    else {
      // A hand-over nobody awaits yet (a wait awaited later): whoever takes it goes after a
      // wake-up held now, made first.
      if (this._onDropped !== undefined) queueHeld();
      if (this._onDelivered !== undefined) this._deliveredLater();
    }
    if (this._callbacks !== undefined) this._scheduleCallbacks();
  }

  /**
   * Marks the future done with `error`, which awaiters then throw. An error class (`Error`
   * or a subclass) is instantiated with no arguments, as asyncio does with an exception
   * class. Throws `InvalidStateError` if done. (To cancel, call `cancel()`: a future whose
   * exception is a `CancelledError` is finished, not cancelled.)
   */
  setException(error: unknown): void {
    if (this._state !== PENDING) throw new InvalidStateError(`invalid state: ${STATE_NAMES[this._state]}`);
    if (typeof error === "function" && (error === Error || (error as { prototype?: unknown }).prototype instanceof Error)) {
      error = new (error as new () => Error)();
    }
    this._state = REJECTED;
    this._result = error;
    if (this._nativeWaiter === undefined) this._native = this._nativeReject = undefined;
    if (this._onSettle !== undefined) this._runSettleHook();
    if (this._callbacksFirst()) this._scheduleCallbacks();
    if (this._reactions !== undefined) this._queueReactions();
    else if (debugTracker.enabled && this.getLoop().getDebug()) debugTracker.watchException(this);
    if (this._callbacks !== undefined) this._scheduleCallbacks();
  }

  /**
   * Cancels the future if it is pending: it becomes done, awaiters throw `CancelledError`
   * carrying `msg`, and done callbacks are scheduled. Returns `false` if it was already done.
   */
  cancel(msg?: string): boolean {
    if (this._state !== PENDING) {
      // Asking to cancel a failed future counts as having seen its exception (asyncio).
      if (this._state === REJECTED) this._markRetrieved();
      return false;
    }
    this._state = CANCELLED;
    this._cancelMessage = msg;
    // Made here, so its stack shows the code that cancelled (a subclass may have put its own).
    if (this._result === undefined) this._result = new CancelledError(msg);
    if (this._nativeWaiter === undefined) this._native = this._nativeReject = undefined;
    const onCancel = this._onCancel;
    if (onCancel !== undefined) {
      this._onCancel = undefined;
      if (typeof onCancel === "function") (onCancel as (future: this) => void)(this);
      else onCancel.cancel();
    }
    if (this._onSettle !== undefined) this._runSettleHook();
    if (this._callbacksFirst()) this._scheduleCallbacks();
    if (this._reactions !== undefined) this._queueReactions();
    if (this._callbacks !== undefined) this._scheduleCallbacks();
    return true;
  }

  /**
   * @internal Cancels the pending future with `error` as its `CancelledError` (a source's own,
   * a child's), past any refusal of a subclass's `cancel`; false if it is done already.
   */
  _cancelWith(error: CancelledError, msg: string | undefined = error.message === "" ? undefined : error.message): boolean {
    if (this._state !== PENDING) return false;
    this._result = error; // what `_makeCancelledError` hands out
    return Future.prototype.cancel.call(this, msg);
  }

  /**
   * Schedules `cb(future)` with the loop's `callSoon` when the future is done (at once if
   * it already is). Throws `TypeError` if `cb` is not a function.
   */
  addDoneCallback(cb: (future: this) => void): void {
    checkFunction(cb, "callback");
    if (this._state !== PENDING) {
      callSoonOne(this.getLoop(), cb, this);
      return;
    }
    const callbacks = this._callbacks;
    if (callbacks !== undefined) callbacks.push(cb as DoneCallback);
    else {
      const list: DoneCallbacks = [cb as DoneCallback];
      if (this._reactions === undefined) list.beforeAwaiters = true;
      this._callbacks = list;
    }
  }

  /**
   * @internal Whether the done callbacks were registered before anything awaited the future
   * (the first of them was), so they run ahead of its awaiters, as asyncio runs a future's
   * callbacks, an awaiting task's wake-up among them, in the order they were added.
   */
  _callbacksFirst(): boolean {
    const callbacks = this._callbacks;
    return callbacks !== undefined && callbacks.beforeAwaiters === true && this._reactions !== undefined;
  }

  /** Removes every registration of `cb`; returns how many were removed. */
  removeDoneCallback(cb: (future: this) => void): number {
    const callbacks = this._callbacks;
    if (callbacks === undefined) return 0;
    const kept: DoneCallbacks = callbacks.filter((c) => c !== (cb as DoneCallback));
    const removed = callbacks.length - kept.length;
    if (kept.length > 0 && callbacks.beforeAwaiters === true) kept.beforeAwaiters = true;
    if (removed > 0) this._callbacks = kept.length > 0 ? kept : undefined;
    return removed;
  }

  /**
   * Awaiting support. Called from a task, it records that the task waits on this future,
   * so `task.cancel()` can cancel it and the `await` throws `CancelledError` in place.
   */
  override then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    if (pendingPlaces.taken > 0) {
      // The `then` of an await that took its place among the awaiters already (see `awaitLater`).
      const here = awaitTrackerHere();
      const place = here === null ? undefined : takePlace(this, here);
      if (place !== undefined) return place._adopt(onFulfilled, onRejected) as Promise<R1 | R2>;
    }
    if (this._state !== PENDING) {
      if (cancelledAtAwait.future === this) {
        // The await hook's `_awaitStarted` just cancelled it (see `cancelledAtAwait`).
        return this._resumeThroughLoop(new Reaction<T, R1 | R2>(this, awaitTrackerHere() ?? undefined, onFulfilled, onRejected));
      }
      if (this._native === null) return nativeThen.call(this, onFulfilled, onRejected) as Promise<R1 | R2>;
      // Awaiting a future that is already done does not suspend (as in asyncio): nothing
      // to track, so a native promise does it best (and runs the callbacks in the caller's
      // context, as `then` on a promise would).
      // (What it hands over is taken by the callbacks, when they run: see `adoptHandOver`.)
      const outcome = outcomeOf(this, undefined, false);
      const settled = outcomeFailed ? Promise.reject(outcome) : Promise.resolve(outcome as T);
      return settled.then(onFulfilled, onRejected);
    }
    const task = awaitTrackerHere();
    const waiter = this._nativeWaiter;
    if (waiter !== undefined && waiter === task) {
      // This code already awaits the native promise, or the engine just took the future up
      // for `Promise.all` (or `race`, ...), which calls `then` next: chain on the native
      // promise, settled (or failed with a late cancel) for both at once.
      return nativeThen.call(this, onFulfilled, onRejected) as Promise<R1 | R2>;
    }
    if (task !== null) {
      const refusal = task._awaitStarted(this as never);
      if (refusal !== undefined) return Promise.reject(refusal).then(onFulfilled, onRejected);
    }
    const reaction = new Reaction<T, R1 | R2>(this, task ?? undefined, onFulfilled, onRejected);
    // `_awaitStarted` may have cancelled it (a cancel was pending on the task): deliver that
    // through the loop.
    if (this._state !== PENDING) return this._resumeThroughLoop(reaction);
    addReaction(this, reaction);
    // The task's code waits now: the task it woke goes on, from the batch (`then` may be
    // called from inside a primitive's own code, which delivering must not run into). Not
    // for a plain promise awaited inline.
    // (Calling `then` is not yet a wait: `.catch()` on a pending future, say. An `await` that
    // comes through here rather than the await hook lets a stopped batch go on in the next host turn.)
    if (task !== null && isHolder(task) && !isPromiseWait(this)) queueHeld();
    return reaction as unknown as Promise<R1 | R2>;
  }

  /**
   * @internal Delivers `reaction` on this future, which a task's pending cancel has just
   * cancelled as the task began to await it, from the loop's ready queue (see
   * `cancelledAtAwait`).
   */
  _resumeThroughLoop<R>(reaction: Reaction<T, R>): Promise<R> {
    if (cancelledAtAwait.future === this) cancelledAtAwait.future = undefined;
    // (The task waits for the loop: its step is over.)
    const task = reaction._task;
    if (task !== undefined && task === stoppedFor.task) stepWaits(task, false);
    const loop = this._loop ?? runningLoopOrUndefined();
    if (loop === undefined || loop.isClosed() || this._reactions !== undefined) enqueueReaction(reaction);
    else {
      this._reactions = reaction;
      callSoonOne(loop, queueReactionsOf, this as Future<unknown>);
    }
    return reaction as unknown as Promise<R>;
  }

  /** Same as `then(undefined, onRejected)`. */
  override catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.then(undefined, onRejected);
  }

  /** Same as `Promise.prototype.finally`. */
  override finally(onFinally?: (() => void) | null): Promise<T> {
    return this.then().finally(onFinally);
  }

  /** @internal Queues every reaction registered while pending, in registration order. */
  _queueReactions(): void {
    // (A future made without a loop goes by the loop of the code that settles it.)
    const loop = this._loop ?? runningLoopOrUndefined();
    const how = resumesLater(loop, this);
    if (how !== AT_ONCE && !runsInline(this)) {
      if (how === FROM_READY_QUEUE) callSoonOne(loop!, queueReactionsOf, this as Future<unknown>);
      else if (how === NEXT_TURN) callNextTurn(loop!, queueReactionsOf, this as Future<unknown>);
      else atBatchEnd(loop!, deliverAfterBatch, this as Future<unknown>);
      return;
    }
    // (The holder's own inline await of a plain promise ending is not a wake-up: it goes on
    // holding, see `isPromiseWait`.)
    if (holding() && !(isPromiseWait(this) && isHolder(this._wakes()!))) {
      // A hand-over is held: a task woken by the same task's code goes on after it, in a
      // step of its own (through the loop); any other wake-up lets it go first.
      if (loop !== undefined && !loop.isClosed() && !runsInline(this) && isTask(this._wakes()) && holderRunsNow()) {
        callSoonOne(loop, queueReactionsOf, this as Future<unknown>);
        return;
      }
      queueHeld();
    }
    if (this._reactions === this && !runsInline(this)) {
      // A future awaited by a task alone (a primitive's wait handed something, an event's
      // wait, any future set, cancelled or failed), settled by another task's code: held
      // until that code waits (see held.ts).
      if (holdWake(this, this._nativeWaiter)) {
        this._reactions = undefined;
        return;
      }
    }
    this._queueReactionsNow();
  }

  /** @internal The task the settling of this future wakes first, if a task awaits it. */
  _wakes(): AwaitTracker | null | undefined {
    const list = this._reactions;
    if (list === this) return this._nativeWaiter;
    if (list instanceof Reaction) return list._task;
    if (Array.isArray(list)) {
      for (let i = 0; i < list.length; i++) {
        const item = list[i];
        if (item === this) return this._nativeWaiter;
        if (item instanceof Reaction && item._task !== undefined) return item._task;
      }
    }
    return undefined;
  }

  /** @internal */
  _queueReactionsNow(): void {
    const list = this._reactions!;
    this._reactions = undefined;
    if (list === this) {
      // Awaited directly, and by nothing else. Outside a task there is no late cancel to
      // check for; a task's is checked one microtask later, from the batch.
      const waiter = this._nativeWaiter;
      if (waiter !== null) {
        // A task resumes: another one woken before this batch runs goes through the loop.
        resumptions.task ??= waiter;
        if (stoppedFor.watch) stoppedFor.woken = waiter;
        enqueueReaction(this, false);
      } else {
        // Delivered at once; a primitive hears of it in the next microtask, queued ahead of
        // the awaiting code's: not inside the wake-up, yet before that code resumes (an
        // admitted put's item is in when `put` returns), as from the batch.
        if (this._onDelivered !== undefined) this._deliveredLater();
        this._fire();
      }
      return;
    }
    if (Array.isArray(list)) {
      // Several awaiters share a hand-over: only the last one dropping it gives it back.
      if (this._onDropped !== undefined) shareHandOver(this, list.length);
      this._queueFrom(list, 0, this._onDelivered !== undefined ? this._takeDelivered() : undefined);
    } else {
      if (stoppedFor.watch && list instanceof Reaction && list._task !== undefined) stoppedFor.woken = list._task;
      // A hand-over's one `then` stays listed until it runs: the hand-over is on its way
      // until then (see `stillOnItsWay`), and can still be given back or replaced.
      if (this._onDropped !== undefined && list instanceof Reaction) this._reactions = list;
      enqueueReaction(list);
    }
  }

  /** @internal The task whose await `item`, one of this future's reactions, is (undefined for code outside tasks). */
  _taskOf(item: Fireable): AwaitTracker | undefined {
    return item === this ? (this._nativeWaiter ?? undefined) : (item as Reaction<T, unknown>)._task;
  }

  /**
   * @internal Queues the reactions `list[from..]` of this settled future, in order, up to the
   * first one of a second task: the rest goes on once the first task's step has (asyncio runs
   * the wake-up of each task awaiting a future as a step of its own, one after the other).
   * `delivered` (the future's `_onDelivered`) runs right behind the last one.
   */
  _queueFrom(list: Fireable[], from: number, delivered: ((future: never) => void) | undefined): void {
    let first: AwaitTracker | undefined;
    let i = from;
    for (; i < list.length; i++) {
      const item = list[i]!;
      const task = this._taskOf(item);
      if (task !== undefined) {
        if (first === undefined) {
          first = task;
          resumptions.task ??= task;
          if (stoppedFor.watch) stoppedFor.woken = task;
        } else if (task !== first) break;
      }
      enqueueReaction(item);
    }
    if (i < list.length) {
      const loop = this._loop ?? runningLoopOrUndefined();
      if (loop !== undefined && !loop.isClosed()) {
        // (Made with the first task's wake-up: the rest comes right after that task's step.)
        callNextTurn(loop, queueRestOf, new RestOfReactions(this as Future<unknown>, list, i, delivered), false, true);
        return;
      }
      for (; i < list.length; i++) enqueueReaction(list[i]!);
    }
    if (delivered !== undefined) enqueueReaction(new DeliveredMarker(this, delivered), false);
  }

  /**
   * @internal Runs `_onDelivered` one microtask from now: resolved while nobody awaited it
   * (whoever awaits it later gets the result as it is), or delivered at once outside tasks.
   */
  _deliveredLater(): void {
    const delivered = this._takeDelivered();
    void TURN.then(() => callDelivered(this, delivered));
  }

  /** @internal Takes `_onDelivered` off, to run later from elsewhere (so no reaction runs it meanwhile). */
  _takeDelivered(): (future: never) => void {
    const delivered = this._onDelivered!;
    this._onDelivered = undefined;
    return delivered;
  }

  /** @internal The native awaiter's reaction (see `fireNative`). */
  _fire(): void {
    fireNative(this);
  }

  /** @internal */
  _runSettleHook(): void {
    const hook = this._onSettle!;
    this._onSettle = undefined;
    (hook as (future: this) => void)(this);
  }

  /**
   * @internal Whether a cancel of the task awaiting what this future hands over gives it
   * back at once, rather than when the await is delivered (see `Task._dropHandOverNow`). A
   * queue getter's item does, so it is back in line before any other getter goes on.
   */
  _dropsEarly(): boolean {
    return false;
  }

  /**
   * @internal Whether what this resolved future hands over can still be replaced, or given
   * back before its delivery: its one awaiter is a task's direct await that has not been
   * delivered, and no `then` or done callback shares it.
   */
  _replaceable(): boolean {
    if (this._state !== RESOLVED || this._onDropped === undefined || this._callbacks !== undefined || !soleHandOver(this)) return false;
    // (The native promise does not hold it yet: a later await goes through `then` and sees what it holds now.)
    if (typeof this._native !== "function") return false;
    const reactions = this._reactions;
    const waiter = this._nativeWaiter;
    if (waiter !== undefined) return waiter !== null && (reactions === undefined || reactions === this);
    // One `then` (a task that returned the future, say), kept until it runs.
    return reactions instanceof Reaction && reactions._source !== undefined;
  }

  /**
   * @internal Gives back what this future hands over, before its one awaiter got it (see
   * `_replaceable`), because that awaiter's task was cancelled: the future ends cancelled
   * instead, so that awaiter, and any await of it later, throws `CancelledError(msg)`.
   */
  _takeBack(msg: string | undefined): void {
    const giveBack = this._onDropped!;
    const value = this._result;
    this._onDropped = undefined;
    this._state = CANCELLED;
    this._cancelMessage = msg;
    this._result = new CancelledError(msg);
    giveBackSafely(this, giveBack as (value: unknown) => void, value);
  }

  /**
   * @internal The task of the one awaiter still to be delivered, once `_replaceable()` said
   * there is one (undefined for a `then` of code outside tasks).
   */
  _soleAwaiter(): AwaitTracker | undefined {
    return this._nativeWaiter ?? (this._reactions as Reaction<T, unknown>)._task;
  }

  /** @internal */
  _markRetrieved(): void {
    if (debugTracker.enabled) debugTracker.markRetrieved(this);
  }

  /** @internal The error awaiters of a cancelled future get (one object, so all see the same). */
  _makeCancelledError(): CancelledError {
    return ((this._result as CancelledError | undefined) ??= new CancelledError(this._cancelMessage));
  }

  /** @internal */
  _scheduleCallbacks(): void {
    const callbacks = this._callbacks!;
    this._callbacks = undefined;
    const loop = this.getLoop();
    for (let i = 0; i < callbacks.length; i++) callSoonOne(loop, callbacks[i] as (future: this) => void, this);
  }

  /** @internal The state word shown by `toString` and `util.inspect`. */
  _describe(): string {
    if (this._state === RESOLVED) return `finished, result: ${preview(this._result)}`;
    if (this._state === REJECTED) return `finished, exception: ${String(this._result)}`;
    return STATE_NAMES[this._state];
  }

  override toString(): string {
    return `Future [${this._describe()}]`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

/** The reactions of a settled future left to queue once the task woken before them has gone on (see `_queueFrom`). */
class RestOfReactions {
  readonly _future: Future<unknown>;
  readonly _list: Fireable[];
  readonly _from: number;
  readonly _delivered: ((future: never) => void) | undefined;

  constructor(future: Future<unknown>, list: Fireable[], from: number, delivered: ((future: never) => void) | undefined) {
    this._future = future;
    this._list = list;
    this._from = from;
    this._delivered = delivered;
  }

  /** The task these reactions wake first (see `wakesSameTask` in @aiots/loop). */
  _wakes(): AwaitTracker | undefined {
    return this._future._taskOf(this._list[this._from]!);
  }
}

/** Queues the rest of a settled future's reactions (see `_queueFrom`), from the loop. */
const queueRestOf = markDelivery(
  markResumption((rest: RestOfReactions): void => {
    rest._future._queueFrom(rest._list, rest._from, rest._delivered);
  }),
);

/** Runs a future's delivered-callback from the batch, behind its several reactions. */
class DeliveredMarker implements Fireable {
  readonly _future: Future<unknown>;
  readonly _delivered: (future: never) => void;

  constructor(future: Future<unknown>, delivered: (future: never) => void) {
    this._future = future;
    this._delivered = delivered;
  }

  _fire(): void {
    callDelivered(this._future, this._delivered);
  }
}

// `then` on a future makes plain promises (and a future's own `then` is aiots'), and a
// future is tagged as such.
Object.defineProperty(Future, Symbol.species, { configurable: true, get: () => Promise });
Object.defineProperty(Future.prototype, Symbol.toStringTag, { configurable: true, get: () => "Future" });

installAwaitHook(Future.prototype);

/**
 * A settled future's delivery, made once the loop's batch has run (see `resumesLater`): at
 * once, unless another task's wake-up is on its way already (each woken task goes on in a
 * step of its own), then from the ready queue.
 */
function deliverAfterBatch(future: Future<unknown>): void {
  const loop = future.getLoop();
  if (wakesAnother(future) && !loop.isClosed()) callNextTurn(loop, queueReactionsOf, future, true);
  else future._queueReactionsNow();
}

/** Whether a future's first awaiter is a task (not plain code, not nobody). */
function isTask(waiter: AwaitTracker | null | undefined): boolean {
  return waiter !== undefined && waiter !== null;
}

/** A settled future's delivery, put in the loop's ready queue (see `resumesLater`). */
const queueReactionsOf = markDelivery(
  markResumption((future: Future<unknown>): void => {
    future._queueReactionsNow();
  }),
);

/** A short text for a value in `toString` output. */
export function preview(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "function") return "[function]";
  if (typeof value === "object" && value !== null) return Array.isArray(value) ? `[array(${value.length})]` : "[object]";
  return String(value);
}

/**
 * Whether `value` is an aiots Future or Task (of any copy of the package, by shape;
 * asyncio's `isfuture`). A plain promise is not one.
 *
 * @example
 * ```ts
 * console.log(isFuture(sleep(10)), isFuture(createTask(async () => 1))); // true true
 * console.log(isFuture(Promise.resolve(1))); // false
 * ```
 */
export function isFuture(value: unknown): value is Future<unknown> {
  return (
    value instanceof Future ||
    (typeof value === "object" &&
      value !== null &&
      typeof (value as Future<unknown>).then === "function" &&
      typeof (value as Future<unknown>).addDoneCallback === "function" &&
      typeof (value as Future<unknown>).cancelled === "function" &&
      typeof (value as Future<unknown>).getLoop === "function")
  );
}
