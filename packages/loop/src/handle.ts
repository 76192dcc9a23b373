import type { ExceptionContext, Handle, TaskLike, TimerHandle } from "@aiots/core";
import { classNameOf, isTaskStep, nameOf } from "@aiots/core/internal";

/**
 * Where each handle made in debug mode was scheduled (asyncio's `source_traceback`): an
 * `Error` whose stack is formatted only if a report needs it, kept beside the handles so
 * that handles made without debug pay nothing.
 */
const sources = new WeakMap<CallbackHandle, Error>();

/** @internal Records where `handle` is being scheduled from (debug mode). */
export function recordSource(handle: CallbackHandle): void {
  const limit = Error.stackTraceLimit;
  // Room for the loop's own frames, dropped from the report.
  if (typeof limit === "number") Error.stackTraceLimit = limit + 8;
  const origin = new Error("scheduled here");
  Error.stackTraceLimit = limit;
  sources.set(handle, origin);
}

/** The loop's own frames at the top of a recorded stack: scheduling, not the caller. */
const LOOP_FRAME = /^\s*at (?:\S+\.)?(?:recordSource|_pushReady|_addTimer|callSoon|_callSoonOne|callSoonOne|callLater|callAt|_scheduleCallbacks|addDoneCallback)\b/;

/** The caller's part of the stack recorded for `handle`, if one was. */
function sourceOf(handle: CallbackHandle): string | undefined {
  const stack = sources.get(handle)?.stack;
  if (typeof stack !== "string") return undefined;
  const lines = stack.split("\n").slice(1);
  let first = 0;
  while (first < lines.length - 1 && LOOP_FRAME.test(lines[first]!)) first++;
  return lines.slice(first).join("\n");
}

/** What a cancelled handle of a loop in debug mode was to call, for its text. */
const cancelledCalls = new WeakMap<CallbackHandle, string>();

/** Where a handle of a loop in debug mode was scheduled: the first frame outside the loop, as `file:line:column`. */
function originOf(handle: CallbackHandle): string | undefined {
  const frame = sourceOf(handle)?.split("\n", 1)[0]?.trim();
  if (frame === undefined || frame === "") return undefined;
  const inParens = /\(([^()]*)\)$/.exec(frame);
  return inParens !== null ? inParens[1] : frame.replace(/^at /, "");
}

/** An argument as a handle's debug text shows it: short; what cannot be read safely shows as its kind. */
function argText(arg: unknown): string {
  switch (typeof arg) {
    case "string":
      return JSON.stringify(arg.length > 20 ? `${arg.slice(0, 17)}...` : arg);
    case "function":
      return nameOf(arg) ?? "<function>";
    case "object":
      return arg === null ? "null" : (classNameOf(arg) ?? "<object>");
    case "bigint":
      return `${arg}n`;
    default:
      return String(arg);
  }
}

/**
 * `_args` of a handle whose callback takes one argument, kept in `_arg`: the common case
 * (a task's step, a sleep's wake-up) then needs no array.
 */
export const ONE_ARG: unknown[] = [];

/** `_args` for a callback's `args`: `undefined` for none, `ONE_ARG` for one (given beside it as `_arg`), else the array. */
export function packArgs(args: unknown[]): unknown[] | undefined {
  return args.length === 0 ? undefined : args.length === 1 ? ONE_ARG : args;
}

/** What a handle needs from its loop. */
export interface HandleOwner {
  /** @internal */
  _timerCancelled(handle: CallbackHandle): void;
}

/** What running a handle needs from its loop: where errors go, and the debug settings. */
export interface HandleRunner {
  /** @internal */ readonly _debug: boolean;
  readonly slowCallbackDuration: number;
  callExceptionHandler(context: ExceptionContext): void;
}

/**
 * A callback scheduled on a loop (asyncio's `Handle`). `cancel()` keeps it from running;
 * a cancelled timer stays in the loop's heap until it reaches the top or the heap is
 * compacted, so cancelling is O(1). Made by the loop's `callSoon`, not by hand. On a loop
 * in debug mode its text also shows the arguments and where it was scheduled, kept after
 * a cancel (asyncio's debug repr).
 *
 * @example
 * ```ts
 * const handle = newEventLoop().callSoon(function greet() { console.log("hi") });
 * console.log(handle instanceof CallbackHandle, String(handle)); // true "Handle [greet]"
 * handle.cancel(); // "hi" is never printed
 * ```
 */
export class CallbackHandle implements Handle {
  /** @internal */ _callback: ((...args: never[]) => unknown) | undefined;
  /** @internal The arguments: none (`undefined`), one (`ONE_ARG`, the argument in `_arg`), or an array. */
  _args: unknown[] | undefined;
  /** @internal */ _arg: unknown;
  /** @internal */ _cancelled = false;

  /** @internal */
  constructor(callback: (...args: never[]) => unknown, args: unknown[] | undefined, arg?: unknown) {
    this._callback = callback;
    this._args = args;
    this._arg = arg;
  }

  cancel(): void {
    if (this._cancelled) return;
    this._cancelled = true;
    // In debug mode the text keeps what the handle was to call, as asyncio's repr does.
    if (sources.has(this)) cancelledCalls.set(this, this._callText());
    // Let go of what the callback holds: a cancelled timeout must not pin its closure.
    this._callback = undefined;
    this._args = this._arg = undefined;
  }

  cancelled(): boolean {
    return this._cancelled;
  }

  /**
   * @internal Runs the callback (asyncio's `Handle._run`): an error it throws, or a
   * rejection of the promise it returns, goes to the loop's exception handler, and in debug
   * mode a slow callback is reported.
   */
  _run(loop: HandleRunner): void {
    const start = loop._debug ? performance.now() : 0;
    this._invoke(loop);
    if (loop._debug) {
      const took = performance.now() - start;
      if (took >= loop.slowCallbackDuration) {
        loop.callExceptionHandler(this._context(`Executing ${this._label(false)} took ${took.toFixed(1)} ms`));
      }
    }
  }

  /** @internal Calls the callback; what it throws, or the promise it returns rejects with, is reported. */
  _invoke(loop: HandleRunner): void {
    const cb = this._callback!;
    const args = this._args;
    let result: unknown;
    try {
      if (args === undefined) result = (cb as () => unknown)();
      else if (args === ONE_ARG) result = (cb as (a: unknown) => unknown)(this._arg);
      else result = (cb as (...a: unknown[]) => unknown)(...args);
    } catch (error) {
      this._report(loop, error);
    }
    // An async callback fails by rejecting: nobody else holds that promise, so the loop
    // reports it as it reports a throw (instead of an unhandled rejection).
    if (result instanceof Promise) result.then(undefined, (error: unknown) => this._report(loop, error));
  }

  /** @internal */
  _report(loop: HandleRunner, error: unknown): void {
    const context = this._context(`Exception in callback ${this._describe()}`);
    context.exception = error;
    loop.callExceptionHandler(context);
  }

  /**
   * @internal What a report about this handle carries: the handle, the task whose step it
   * runs (if it does), and in debug mode where it was scheduled (`sourceTraceback`).
   */
  _context(message: string): ExceptionContext {
    const context: ExceptionContext = { message, handle: this };
    const task = this._task();
    if (task !== undefined) context.task = task;
    const source = sourceOf(this);
    if (source !== undefined) context.sourceTraceback = source;
    return context;
  }

  /** @internal The task whose step this handle runs, if it runs one. */
  _task(): TaskLike<unknown> | undefined {
    return this._args === ONE_ARG && isTaskStep(this._callback) ? (this._arg as TaskLike<unknown>) : undefined;
  }

  /** @internal The name shown in reports, with the task's name for a task's step. */
  _describe(): string {
    const name = nameOf(this._callback) ?? "<anonymous>";
    const task = this._task();
    return task === undefined ? name : `${name}(${task.getName()})`;
  }

  get [Symbol.toStringTag](): string {
    return "Handle";
  }

  toString(): string {
    return this._label(true);
  }

  /** @internal The text of the handle; `full`: with the debug-mode details (see `_state`). */
  _label(full: boolean): string {
    return `Handle [${this._state(full)}]`;
  }

  /**
   * @internal What `toString` shows inside the brackets: the callback's name, or
   * `cancelled`; in debug mode (with `full`) also its arguments and where it was scheduled
   * (asyncio's debug repr), kept after a cancel.
   */
  _state(full: boolean): string {
    if (!full || !sources.has(this)) return this._cancelled ? "cancelled" : this._describe();
    const origin = originOf(this);
    const call = this._cancelled ? `cancelled, ${cancelledCalls.get(this) ?? "<unknown>"}` : this._callText();
    return origin === undefined ? call : `${call}, created at ${origin}`;
  }

  /** @internal The call this handle makes, with its arguments: `tick(1, "a")` (never throws). */
  _callText(): string {
    try {
      if (this._task() !== undefined) return this._describe();
      const args = this._args;
      const list = args === undefined ? [] : args === ONE_ARG ? [this._arg] : args;
      return `${this._describe()}(${list.map(argText).join(", ")})`;
    } catch {
      return "<callback>";
    }
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

/**
 * A callback scheduled for a loop time (asyncio's `TimerHandle`), made by the loop's
 * `callLater` and `callAt`.
 *
 * @example
 * ```ts
 * const timer = new VirtualTimeLoop().callLater(500, function poll() {});
 * console.log(timer.when(), String(timer)); // 500 "TimerHandle [when: 500, poll]"
 * timer.cancel();
 * ```
 */
export class TimerCallbackHandle extends CallbackHandle implements TimerHandle {
  /** @internal */ readonly _when: number;
  /** @internal Tie-breaker: equal deadlines run in scheduling order. */
  readonly _seq: number;
  /** @internal */ _owner: HandleOwner | undefined;

  /** @internal */
  constructor(when: number, seq: number, callback: (...args: never[]) => unknown, args: unknown[] | undefined, owner: HandleOwner, arg?: unknown) {
    super(callback, args, arg);
    this._when = when;
    this._seq = seq;
    this._owner = owner;
  }

  when(): number {
    return this._when;
  }

  override cancel(): void {
    if (this._cancelled) return;
    super.cancel();
    const owner = this._owner;
    if (owner !== undefined) {
      this._owner = undefined;
      owner._timerCancelled(this);
    }
  }

  override get [Symbol.toStringTag](): string {
    return "TimerHandle";
  }

  override _label(full: boolean): string {
    return `TimerHandle [when: ${this._when}, ${this._state(full)}]`;
  }
}
