import { CancelledError, InvalidStateError } from "@aiots/core";
import type { EventLoop, FutureLike } from "@aiots/core";
import { checkFunction, loopForCurrentCode, taskStorage } from "@aiots/core/internal";
import { debugTracker } from "./debug.js";

const PENDING = 0;
const RESOLVED = 1;
const REJECTED = 2;
const CANCELLED = 3;
type State = typeof PENDING | typeof RESOLVED | typeof REJECTED | typeof CANCELLED;
const STATE_NAMES = ["pending", "finished", "finished", "cancelled"] as const;

/** What a Task does when one of its awaits starts and ends (see `Task`). */
export interface AwaitTracker {
  /** Called when the task's code starts awaiting a pending `future`; may return an error to reject that await with. */
  _awaitStarted(future: Future<unknown>): Error | undefined;
  /**
   * Called when an awaited future's outcome is about to reach the task's code: returns the
   * `CancelledError` of a cancel that came after the future was done (and consumes it).
   */
  _takeLateCancel(): CancelledError | undefined;
}

/**
 * Hands an awaited future's outcome to a task's code, unless the task was cancelled after
 * the future was done but before its code resumed: then, as in asyncio, the `await` throws
 * `CancelledError` instead, and the outcome is dropped (a primitive that handed something
 * over through that future takes it back when it sees the `CancelledError`).
 */
function deliver<T, R1, R2>(
  future: Future<T>,
  task: AwaitTracker,
  outcome: unknown,
  onFulfilled: ((value: T) => R1 | PromiseLike<R1>) | null | undefined,
  onRejected: ((reason: unknown) => R2 | PromiseLike<R2>) | null | undefined,
  rejected = false,
): R1 | R2 | PromiseLike<R1 | R2> {
  const late = task._takeLateCancel();
  if (late !== undefined) {
    const dropped = future._onDropped;
    if (dropped !== undefined && !rejected) {
      future._onDropped = undefined;
      (dropped as (value: T) => void)(outcome as T);
    }
    if (typeof onRejected === "function") return onRejected(late);
    throw late;
  }
  if (rejected) {
    if (typeof onRejected === "function") return onRejected(outcome);
    throw outcome;
  }
  return typeof onFulfilled === "function" ? onFulfilled(outcome as T) : (outcome as R1);
}

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
  /** @internal The native promise awaiters chain on, made on the first `then`. */
  _promise: Promise<T> | undefined = undefined;
  /** @internal */ _resolve: ((value: never) => void) | undefined = undefined;
  /** @internal */ _reject: ((error: unknown) => void) | undefined = undefined;
  /** @internal Runs synchronously when the future is cancelled (a timer to drop, a waiter to unlink). */
  _onCancel: ((future: never) => void) | undefined = undefined;
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
    if (this._resolve !== undefined) (this._resolve as (value: T) => void)(value);
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
    if (this._reject !== undefined) this._reject(error);
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
      (onCancel as (future: this) => void)(this);
    }
    if (this._onSettle !== undefined) this._runSettleHook();
    if (this._reject !== undefined) this._reject(this._makeCancelledError());
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
    let promise = this._promise;
    if (promise === undefined) promise = this._makePromise();
    // Awaiting a future that is already done does not suspend (as in asyncio), so only a
    // pending one is tracked.
    if (this._state === PENDING) {
      const task = taskStorage.getStore() as AwaitTracker | undefined;
      if (task !== undefined) {
        const refusal = task._awaitStarted(this as Future<unknown>);
        if (refusal !== undefined) return Promise.reject(refusal).then(onFulfilled, onRejected);
        return promise.then(
          (value) => deliver(this, task, value, onFulfilled, onRejected),
          (error: unknown) => deliver(this, task, error, undefined, onRejected, true),
        ) as Promise<R1 | R2>;
      }
    }
    return promise.then(onFulfilled, onRejected);
  }


  /** Same as `then(undefined, onRejected)`. */
  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.then(undefined, onRejected);
  }

  /** Same as `Promise.prototype.finally`. */
  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.then().finally(onFinally);
  }

  /** @internal */
  _makePromise(): Promise<T> {
    let promise: Promise<T>;
    if (this._state === PENDING) {
      promise = new Promise<T>((resolve, reject) => {
        this._resolve = resolve as (value: never) => void;
        this._reject = reject;
      });
    } else if (this._state === RESOLVED) {
      promise = Promise.resolve(this._result as T);
    } else if (this._state === REJECTED) {
      this._markRetrieved();
      promise = Promise.reject(this._exception);
    } else {
      promise = Promise.reject(this._makeCancelledError());
    }
    this._promise = promise;
    return promise;
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
