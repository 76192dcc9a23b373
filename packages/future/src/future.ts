import { CancelledError, InvalidStateError } from "@aiots/core";
import type { EventLoop, FutureLike } from "@aiots/core";
import { checkFunction, loopForCurrentCode, taskStorage } from "@aiots/core/internal";
import { debugTracker } from "./debug.js";
import { CANCELLED, PENDING, REJECTED, RESOLVED, Reaction, enqueueReaction } from "./reaction.js";
import type { AwaitTracker, Fireable, State } from "./reaction.js";

export type { AwaitTracker } from "./reaction.js";

const STATE_NAMES = ["pending", "finished", "finished", "cancelled"] as const;

/** Stored loosely (`never` parameter) so that `Future<T>` stays covariant in `T`. */
type DoneCallback = (future: never) => void;

/**
 * A value that will be there later, settled by hand (asyncio's `Future`).
 *
 * It is awaitable and works with `Promise.all`. Unlike a promise it can be inspected
 * (`done()`, `result()`) and cancelled: awaiting a cancelled future throws `CancelledError`.
 * A task that awaits a future is tracked, so cancelling the task cancels the future it
 * waits on. Done callbacks run through the loop's `callSoon`, in registration order;
 * awaiters resume at promise speed, without waiting for a loop iteration.
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
export class Future<T> implements FutureLike<T> {
  /** @internal */ _state: State = PENDING;
  /** @internal */ _result: T | undefined = undefined;
  /** @internal */ _exception: unknown = undefined;
  /** @internal */ _cancelMessage: string | undefined = undefined;
  /** @internal */ _cancelledError: CancelledError | undefined = undefined;
  /** @internal */ _loop: EventLoop | undefined;
  /** @internal */ _callbacks: DoneCallback[] | undefined = undefined;
  /** @internal What `then` registered while the future was pending (one, or several). */
  _reactions: Fireable | Fireable[] | undefined = undefined;
  /** @internal Runs synchronously when the future is cancelled (a timer to drop, a waiter to unlink). */
  _onCancel: ((future: never) => void) | { cancel(): void } | undefined = undefined;
  /**
   * @internal Called with the result when an awaiting task was cancelled after the future
   * was resolved but before its code resumed, so the await threw instead of delivering it
   * (what a primitive handed over through this future must then be taken back).
   */
  _onDropped: ((value: never) => void) | undefined = undefined;
  /** @internal Runs synchronously when the future settles in any way (a listener to remove). */
  _onSettle: ((future: never) => void) | undefined = undefined;
  /** @internal Debug mode only: whether the exception was looked at, shared with the GC watcher. */
  _debugRecord: { retrieved: boolean } | undefined = undefined;

  /**
   * A pending future of `loop` (default: the running loop, else the default loop).
   * Throws `TypeError` if `loop` is given and is not an event loop (checked at once:
   * otherwise the mistake would only surface at the first done callback).
   */
  constructor(loop?: EventLoop) {
    if (loop !== undefined && (typeof loop !== "object" || loop === null || typeof loop.callSoon !== "function")) {
      throw new TypeError(`Future loop must be an EventLoop, got ${loop === null ? "null" : typeof loop}`);
    }
    this._loop = loop;
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
      throw this._exception;
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
      return this._exception;
    }
    if (this._state === CANCELLED) throw this._makeCancelledError();
    throw new InvalidStateError("Exception is not set.");
  }

  /** Marks the future done with `value` and wakes its awaiters. Throws `InvalidStateError` if done. */
  setResult(value: T): void {
    if (this._state !== PENDING) throw new InvalidStateError(`invalid state: ${STATE_NAMES[this._state]}`);
    this._state = RESOLVED;
    this._result = value;
    if (this._onSettle !== undefined) this._runSettleHook();
    if (this._reactions !== undefined) this._queueReactions();
    if (this._callbacks !== undefined) this._scheduleCallbacks();
  }

  /**
   * Marks the future done with `error`, which awaiters then throw. Throws
   * `InvalidStateError` if done. (To cancel, call `cancel()`: a future whose exception is
   * a `CancelledError` is finished, not cancelled.)
   */
  setException(error: unknown): void {
    if (this._state !== PENDING) throw new InvalidStateError(`invalid state: ${STATE_NAMES[this._state]}`);
    this._state = REJECTED;
    this._exception = error;
    if (this._onSettle !== undefined) this._runSettleHook();
    if (this._reactions !== undefined) this._queueReactions();
    else if (debugTracker.enabled && this.getLoop().getDebug()) debugTracker.watchException(this);
    if (this._callbacks !== undefined) this._scheduleCallbacks();
  }

  /**
   * Cancels the future if it is pending: it becomes done, awaiters throw `CancelledError`
   * carrying `msg`, and done callbacks are scheduled. Returns `false` if it was already done.
   */
  cancel(msg?: string): boolean {
    if (this._state !== PENDING) return false;
    this._state = CANCELLED;
    this._cancelMessage = msg;
    const onCancel = this._onCancel;
    if (onCancel !== undefined) {
      this._onCancel = undefined;
      if (typeof onCancel === "function") (onCancel as (future: this) => void)(this);
      else onCancel.cancel();
    }
    if (this._onSettle !== undefined) this._runSettleHook();
    if (this._reactions !== undefined) this._queueReactions();
    if (this._callbacks !== undefined) this._scheduleCallbacks();
    return true;
  }

  /**
   * Schedules `cb(future)` with the loop's `callSoon` when the future is done (at once if
   * it already is). Throws `TypeError` if `cb` is not a function.
   */
  addDoneCallback(cb: (future: this) => void): void {
    checkFunction(cb, "callback");
    if (this._state !== PENDING) {
      this.getLoop().callSoon(cb, this);
      return;
    }
    (this._callbacks ??= []).push(cb as DoneCallback);
  }

  /** Removes every registration of `cb`; returns how many were removed. */
  removeDoneCallback(cb: (future: this) => void): number {
    const callbacks = this._callbacks;
    if (callbacks === undefined) return 0;
    const kept = callbacks.filter((c) => c !== (cb as DoneCallback));
    const removed = callbacks.length - kept.length;
    if (removed > 0) this._callbacks = kept.length > 0 ? kept : undefined;
    return removed;
  }

  /**
   * Awaiting support. Called from a task, it records that the task waits on this future,
   * so `task.cancel()` can cancel it and the `await` throws `CancelledError` in place.
   */
  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    if (this._state !== PENDING) {
      // Awaiting a future that is already done does not suspend (as in asyncio): nothing
      // to track, so a native promise does it best (and runs the callbacks in the caller's
      // context, as `then` on a promise would).
      let settled: Promise<T>;
      if (this._state === RESOLVED) settled = Promise.resolve(this._result as T);
      else {
        if (this._state === REJECTED) this._markRetrieved();
        settled = Promise.reject(this._state === REJECTED ? this._exception : this._makeCancelledError());
      }
      return settled.then(onFulfilled, onRejected);
    }
    const task = taskStorage.getStore() as AwaitTracker | undefined;
    if (task !== undefined) {
      const refusal = task._awaitStarted(this as never);
      if (refusal !== undefined) return Promise.reject(refusal).then(onFulfilled, onRejected);
    }
    const reaction = new Reaction<T, R1 | R2>(this, task, onFulfilled, onRejected);
    if (this._state !== PENDING) {
      // `_awaitStarted` cancelled it (a cancel was pending on the task): deliver that now.
      enqueueReaction(reaction);
      return reaction as unknown as Promise<R1 | R2>;
    }
    const list = this._reactions;
    if (list === undefined) this._reactions = reaction;
    else if (Array.isArray(list)) list.push(reaction);
    else this._reactions = [list, reaction];
    return reaction as unknown as Promise<R1 | R2>;
  }



  /** Same as `then(undefined, onRejected)`. */
  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.then(undefined, onRejected);
  }

  /** Same as `Promise.prototype.finally`. */
  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.then().finally(onFinally);
  }

  /** @internal Queues every reaction registered while pending, in registration order. */
  _queueReactions(): void {
    const list = this._reactions!;
    this._reactions = undefined;
    if (Array.isArray(list)) for (let i = 0; i < list.length; i++) enqueueReaction(list[i]!);
    else enqueueReaction(list);
  }


  /** @internal */
  _runSettleHook(): void {
    const hook = this._onSettle!;
    this._onSettle = undefined;
    (hook as (future: this) => void)(this);
  }

  /** @internal */
  _markRetrieved(): void {
    if (this._debugRecord !== undefined) this._debugRecord.retrieved = true;
  }

  /** @internal The error awaiters of a cancelled future get (one object, so all see the same). */
  _makeCancelledError(): CancelledError {
    return (this._cancelledError ??= new CancelledError(this._cancelMessage));
  }

  /** @internal */
  _scheduleCallbacks(): void {
    const callbacks = this._callbacks!;
    this._callbacks = undefined;
    const loop = this.getLoop();
    for (let i = 0; i < callbacks.length; i++) loop.callSoon(callbacks[i] as (future: this) => void, this);
  }

  /** @internal The state word shown by `toString` and `util.inspect`. */
  _describe(): string {
    if (this._state === RESOLVED) return `finished, result: ${preview(this._result)}`;
    if (this._state === REJECTED) return `finished, exception: ${String(this._exception)}`;
    return STATE_NAMES[this._state];
  }

  get [Symbol.toStringTag](): string {
    return "Future";
  }

  toString(): string {
    return `Future [${this._describe()}]`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

/** A short text for a value in `toString` output. */
export function preview(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "function") return "[function]";
  if (typeof value === "object" && value !== null) return Array.isArray(value) ? `[array(${value.length})]` : "[object]";
  return String(value);
}

/** Whether `value` is an aiots Future (of any copy of the package, by shape). */
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
