import { InvalidStateError, TimeoutError, isCancelledError } from "@aiots/core";
import type { EventLoop, Handle, TaskLike } from "@aiots/core";
import { checkFunction, checkTimeout } from "@aiots/core/internal";
import { getEventLoop } from "@aiots/loop";
import { inTask, runBody } from "./structured.js";

/**
 * The lifecycle of a `Timeout` (asyncio's `_State`): made, running its body, deadline passed
 * but the body not unwound yet, then ended by the deadline or on its own.
 *
 * @example
 * ```ts
 * await timeout(10, async (scope) => {
 *   try { await sleep(1000) } finally { console.log(scope.state) } // "expiring"
 * }).catch((e) => console.log(e instanceof TimeoutError)); // true
 * ```
 */
export type TimeoutState = "created" | "active" | "expiring" | "expired" | "finished";

/**
 * A deadline over a block of code (asyncio's `Timeout`), handed to the body of `timeout()`
 * and `timeoutAt()`. At the deadline it cancels the task running the body; when the body
 * unwinds with that `CancelledError`, the scope turns it into a `TimeoutError`.
 *
 * @example
 * ```ts
 * await timeout(1000, async (scope) => {
 *   scope.reschedule(getRunningLoop().time() + 5000); // more time
 *   await work();
 * });
 * ```
 */
export class Timeout {
  /** @internal */ _state: TimeoutState = "created";
  /** @internal */ _when: number | null;
  /** @internal */ _handle: Handle | undefined = undefined;
  /** @internal */ _task: TaskLike<unknown> | undefined = undefined;
  /** @internal */ _loop: EventLoop | undefined = undefined;
  /** @internal The task's cancel count on entry: only requests above it are ours to convert. */
  _cancelling = 0;
  /** @internal Loop time on entry, to say in the error how long the deadline allowed. */
  _enteredAt = 0;

  /** @internal Use `timeout()` or `timeoutAt()`. */
  constructor(when: number | null) {
    this._when = when;
  }

  /** The deadline in loop time (ms), or `null` for none. */
  when(): number | null {
    return this._when;
  }

  /** Where the scope is in its lifecycle. */
  get state(): TimeoutState {
    return this._state;
  }

  /**
   * Moves the deadline to loop time `when` (`null`: no deadline; a time already past fires
   * on the next loop iteration).
   *
   * @throws InvalidStateError unless the body is running and the deadline has not passed;
   *   TypeError/RangeError for a bad `when`.
   */
  reschedule(when: number | null): void {
    checkTimeout(when, "Timeout reschedule time");
    if (this._state !== "active") {
      if (this._state === "created") throw new InvalidStateError("Timeout has not been entered");
      throw new InvalidStateError(`Cannot reschedule ${/^[aeiou]/.test(this._state) ? "an" : "a"} ${this._state} Timeout`);
    }
    this._when = when ?? null;
    if (this._handle !== undefined) {
      this._handle.cancel();
      this._handle = undefined;
    }
    if (when === null || when === undefined || when === Infinity) return;
    const loop = this._loop!;
    this._handle = when <= loop.time() ? loop.callSoon(this._onTimeout) : loop.callAt(when, this._onTimeout);
  }

  /** Whether the deadline passed while the body ran. */
  expired(): boolean {
    return this._state === "expiring" || this._state === "expired";
  }

  /** @internal */
  readonly _onTimeout = (): void => {
    if (this._state !== "active") return;
    this._handle = undefined;
    this._state = "expiring";
    this._task!.cancel();
  };

  /** @internal */
  _enter(task: TaskLike<unknown>): void {
    if (this._state !== "created") throw new InvalidStateError("Timeout has already been entered");
    this._state = "active";
    this._task = task;
    this._loop = task.getLoop();
    this._enteredAt = this._loop.time();
    this._cancelling = task.cancelling();
    this.reschedule(this._when);
  }

  /** @internal Ends the scope; returns the error to throw instead of `error`, if any. */
  _exit(failed: boolean, error: unknown): TimeoutError | undefined {
    if (this._handle !== undefined) {
      this._handle.cancel();
      this._handle = undefined;
    }
    if (this._state === "expiring") {
      this._state = "expired";
      // Each expiry made one cancel request. Taking ours back leaves the count the body
      // started with only if nobody else asked: then the CancelledError is ours to convert.
      // With a cancel from outside still pending, it stays a CancelledError.
      if (this._task!.uncancel() <= this._cancelling && failed && isCancelledError(error)) {
        const allowed = this._when === null ? "" : ` after ${Math.max(0, Math.round(this._when - this._enteredAt))} ms`;
        return new TimeoutError(`timed out${allowed}`, { cause: error });
      }
    } else if (this._state === "active") {
      this._state = "finished";
    }
    return undefined;
  }

  get [Symbol.toStringTag](): string {
    return "Timeout";
  }

  toString(): string {
    const when = this._state === "active" ? `, when: ${this._when === null ? "none" : this._when}` : "";
    return `Timeout [${this._state}${when}]`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

/**
 * The body of a scope: gets the scope, may return a value or a promise of one.
 *
 * @example
 * ```ts
 * const body: TimeoutBody<string> = async (scope) => {
 *   scope.reschedule(null); // no deadline after all
 *   await sleep(50);
 *   return "done";
 * };
 * console.log(await timeout(10, body)); // "done"
 * ```
 */
export type TimeoutBody<T> = (scope: Timeout) => T | PromiseLike<T>;

async function runScope<T>(scope: Timeout, what: string, fn: TimeoutBody<T>): Promise<Awaited<T>> {
  return inTask(what, async (task): Promise<Awaited<T>> => {
    scope._enter(task);
    let value: Awaited<T>;
    try {
      value = await runBody(task, what, () => fn(scope));
    } catch (error) {
      throw scope._exit(true, error) ?? error;
    }
    scope._exit(false, undefined);
    return value;
  });
}

/**
 * Runs `fn(scope)` with a deadline `delay` ms from now (asyncio's `timeout()`): if it is
 * still running then, it is cancelled (its awaits throw `CancelledError`, its `finally`
 * blocks run) and, once it has unwound, `TimeoutError` is thrown. `null` (or `Infinity`)
 * means no deadline; `scope.reschedule()` moves it. A cancel from outside stays a
 * `CancelledError`; in nested scopes only the one whose deadline passed converts it.
 *
 * The body runs in the current task (as the block of an `async with` does). Outside any task
 * it runs in a new task, so that it can be interrupted. A scope cancels the task it runs
 * in: anything else that task awaits at that moment is interrupted too, so await the
 * scope, and run side-by-side work in separate tasks; starting a second scope or task group
 * beside an active one in the same task is refused with `InvalidStateError`.
 *
 * If the body awaits a plain promise at the deadline, the cancel cannot reach it there: it
 * lands at the body's next aiots await, and a body that returns before any keeps its value
 * (as asyncio's timeout converts only a `CancelledError` that came out of the body).
 *
 * @returns what `fn` returns (also if it swallowed the cancellation and returned normally).
 * @throws TimeoutError at the deadline; TypeError/RangeError at the call for a bad `delay`
 *   or a non-function `fn`.
 * @example
 * ```ts
 * try {
 *   await timeout(100, async () => { await sleep(1000) });
 * } catch (e) {
 *   console.log(e instanceof TimeoutError); // true
 * }
 * ```
 */
export function timeout<T>(delay: number | null, fn: TimeoutBody<T>): Promise<Awaited<T>> {
  checkTimeout(delay, "timeout delay");
  checkFunction(fn, "timeout body");
  const when = delay === null || delay === undefined ? null : getEventLoop().time() + delay;
  return runScope(new Timeout(when), "timeout()", fn);
}

/**
 * Like `timeout()`, with the deadline given as a loop time in ms (`loop.time()`'s clock;
 * asyncio's `timeout_at()`). `null` means none; a time already past expires on the next
 * loop iteration.
 *
 * @throws TimeoutError at the deadline; TypeError/RangeError at the call for a bad `when`
 *   or a non-function `fn`.
 * @example
 * ```ts
 * const loop = getRunningLoop();
 * await timeoutAt(loop.time() + 100, async () => { await sleep(50) }); // in time
 * ```
 */
export function timeoutAt<T>(when: number | null, fn: TimeoutBody<T>): Promise<Awaited<T>> {
  checkTimeout(when, "timeoutAt deadline");
  checkFunction(fn, "timeoutAt body");
  return runScope(new Timeout(when ?? null), "timeoutAt()", fn);
}
