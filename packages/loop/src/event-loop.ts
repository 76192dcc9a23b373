import type {
  AwaitableLike,
  EventLoop as EventLoopInterface,
  ExceptionContext,
  ExceptionHandler,
  TaskFunction,
  TaskOptions,
} from "@aiots/core";
import { checkBoolean, checkFunction, checkObject, checkTime, debugSwitch, enterCallbackLoop, isDelivery, isResumption, loopScope, runningLoopOrUndefined, stoppedFor } from "@aiots/core/internal";
import { Future, Task, ensureFuture } from "@aiots/future";
import type { AsyncResource } from "node:async_hooks";
import { dispatchException, printException } from "./exceptions.js";
import { CallbackHandle, ONE_ARG, packArgs, recordSource } from "./handle.js";
import type { HandleOwner, TimerCallbackHandle } from "./handle.js";
import { Timers } from "./timers.js";

/** Node's timers fire at once for delays above this; longer ones are re-armed. */
const MAX_HOST_DELAY = 2 ** 31 - 1;

type Callback = (...args: never[]) => unknown;

/**
 * The event loop (asyncio's `BaseEventLoop`), driven by the host: each iteration is one
 * host macrotask (`setImmediate`), which runs the callbacks that were ready when it began
 * (new ones wait for the next), so `sleep(0)` lets I/O in and a busy task cannot starve
 * the process. Timers live in one heap behind one host timer, so thousands of timers cost
 * one `setTimeout`. An idle loop holds no host handle: a script exits when its work is done.
 *
 * Unlike asyncio, the loop runs callbacks whenever it has some, not only inside
 * `runForever`/`runUntilComplete`: that is how primitives work in plain async code. Those
 * two calls mark the loop as running (`isRunning()`), and return when it is stopped.
 *
 * @example
 * ```ts
 * const loop = newEventLoop();
 * loop.callLater(20, () => console.log("later"));
 * loop.callSoon(() => console.log("soon"));
 * await loop.runUntilComplete(() => sleep(30)); // "soon", then "later"
 * loop.close();
 * ```
 */
export class EventLoop implements EventLoopInterface, HandleOwner {
  /** @internal */ _slowCallbackDuration = 100;
  /** @internal */ _ready: CallbackHandle[] = [];
  /** @internal */ _spare: CallbackHandle[] = [];
  /** @internal The batch that stopped early, whose callbacks from `_pausedAt` on run next. */
  _paused: CallbackHandle[] | undefined = undefined;
  /** @internal */ _pausedAt = 0;
  /**
   * @internal The task whose first step the batch stopped for (see `pausesAfter`), until the
   * batch goes on: its code goes on in microtasks as part of that step, so a wake-up of it
   * (the child it awaits finishing) resumes it at once rather than behind the batch.
   */
  _pausedFor: unknown = undefined;
  /**
   * @internal The task whose step, the last of the iteration, goes on in microtasks, until the
   * next iteration: a wake-up of it resumes it at once, as for `_pausedFor` (held weakly: an
   * idle loop must not keep it).
   */
  _lastGoingOn: WeakRef<object> | undefined = undefined;
  /** @internal The callback running now put a callback right after itself that must wait for the step it started (see `_callNextTurn`). */
  _stopNext = false;
  /** @internal The batch being run, and the index of its next callback. */
  _batch: CallbackHandle[] | undefined = undefined;
  /** @internal */ _batchAt = 0;
  /** @internal Deliveries to make once the batch has run (see `_atBatchEnd`): callback, argument, ... */
  _atEnd: unknown[] = [];
  /** @internal */ readonly _timers = new Timers();
  /** @internal */ _iterationScheduled = false;
  /** @internal */ _inIteration = false;
  /** @internal */ _hostTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** @internal */ _hostTimerWhen = Infinity;
  /** @internal */ _running = false;
  /** @internal */ _stopping = false;
  /** @internal */ _stopResolve: (() => void) | undefined = undefined;
  /** @internal */ _closed = false;
  /** @internal */ _debug = false;
  /** @internal */ _exceptionHandler: ExceptionHandler | null = null;
  /** @internal */ readonly _iterate = (): void => {
    this._runScoped(runIteration);
  };
  /** @internal The context of the iteration being run, or stopped early (its rest goes on in it). */
  _scope: AsyncResource | undefined = undefined;
  /** @internal The task whose step the batch stopped for, while its rest waits for the step to end (see `stoppedFor`). */
  _stoppedTask: unknown = undefined;
  /** @internal Lets the rest of the stopped batch go on, now or in the next microtask (see `stoppedFor`). */
  readonly _goOn = (now: boolean): void => {
    if (this._stoppedTask === undefined) return;
    this._stoppedTask = GOING_ON;
    if (now) this._goOnNow();
    else void SETTLED.then(this._goOnNow);
  };
  /** @internal */ readonly _goOnNow = (): void => {
    if (this._stoppedTask !== GOING_ON) return;
    this._stoppedTask = undefined;
    if (this._paused === undefined || this._inIteration || this._closed) return;
    this._scope!.runInAsyncScope(goOnWithBatch, undefined, this);
  };

  /** @internal Lets the rest of the stopped batch go on once `task`'s step is over (see `stoppedFor`); undefined: only at the host turn. */
  _stopFor(task: unknown): void {
    this._stoppedTask = task;
    if (task === undefined) return;
    stoppedFor.task = task;
    stoppedFor.goOn = this._goOn;
  }

  /** @internal The rest of the batch runs (or is dropped) now: nothing is left to go on when a step is over. */
  _forgetStop(): void {
    this._stoppedTask = undefined;
    if (stoppedFor.goOn === this._goOn) stoppedFor.task = stoppedFor.goOn = undefined;
  }
  /** @internal */ readonly _onHostTimer = (): void => {
    this._hostTimer = undefined;
    this._hostTimerWhen = Infinity;
    this._runScoped(runIteration);
  };

  constructor() {
    if (typeof process !== "undefined" && process.env?.AIOTS_DEBUG === "1") this.setDebug(true);
  }

  /** @internal Runs `fn(this)` in a fresh context of the loop's own, kept as the iteration's. */
  _runScoped(fn: (loop: this) => void): void {
    const scope = loopScope(this);
    this._scope = scope;
    scope.runInAsyncScope(fn, undefined, this);
  }

  /** Monotonic time in milliseconds. */
  time(): number {
    return performance.now();
  }

  callSoon<A extends unknown[]>(cb: (...args: A) => unknown, ...args: A): CallbackHandle {
    checkFunction(cb, "callSoon callback");
    this._checkOpen();
    return this._pushReady(new CallbackHandle(cb as Callback, packArgs(args), args[0]));
  }

  /**
   * @internal `callSoon(cb, arg)` without the arguments array: how a task schedules its
   * step and `sleep(0)` its wake-up.
   */
  _callSoonOne<A>(cb: (arg: A) => unknown, arg: A): CallbackHandle {
    this._checkOpen();
    return this._pushReady(new CallbackHandle(cb as Callback, ONE_ARG, arg));
  }

  /**
   * @internal `cb(arg)` as the next step of this iteration: once `after` (the task whose code
   * goes on in microtasks now) has reached a real wait or ended, else in the next host turn,
   * ahead of the ready queue and without collecting timers, as the rest of a batch that
   * stopped early. How a task woken
   * together with one that goes on now resumes: asyncio runs both steps in one iteration,
   * one after the other, and timers made in the first are due only in the next. With
   * callbacks already queued (they came before it), or with callbacks of the batch left, it
   * goes to the ready queue as `callSoon` does; not with `madeFirst` (a delivery made at the
   * end of a batch, see `_atBatchEnd`: its wake-up was made before anything was queued).
   * `inPlace`: it stands for a part of the callback running now (the wake-ups of the next
   * tasks awaiting the future that callback delivers, which asyncio scheduled together), so
   * it runs right after that callback, ahead of the rest of the batch.
   */
  _callNextTurn<A>(cb: (arg: A) => unknown, arg: A, madeFirst = false, after?: unknown, inPlace = false): CallbackHandle {
    const batch = this._batch;
    if (inPlace && batch !== undefined) {
      // Made by the callback running now, in its place: right after it in this batch.
      this._checkOpen();
      const handle = new CallbackHandle(cb as Callback, ONE_ARG, arg);
      if (this._debug) recordSource(handle);
      batch.splice(this._batchAt, 0, handle);
      // It goes on once the step of the task woken first is over, as any wake-up following one.
      this._stopNext = true;
      return handle;
    }
    if ((batch !== undefined && this._batchAt < batch.length) || (this._ready.length > 0 && !madeFirst)) return this._callSoonOne(cb, arg);
    this._checkOpen();
    const handle = new CallbackHandle(cb as Callback, ONE_ARG, arg);
    if (this._debug) recordSource(handle);
    const rest = this._paused;
    if (rest !== undefined) rest.push(handle);
    else {
      this._paused = [handle];
      this._pausedAt = 0;
      this._wakeSoon();
      // As soon as the task going on now really waits, rather than in the next host turn.
      if (stoppedFor.task === undefined && this._scope !== undefined) this._stopFor(after);
    }
    return handle;
  }

  /** @internal */
  _pushReady(handle: CallbackHandle): CallbackHandle {
    if (this._debug) recordSource(handle);
    this._ready.push(handle);
    this._wakeSoon();
    return handle;
  }

  callLater<A extends unknown[]>(delay: number, cb: (...args: A) => unknown, ...args: A): TimerCallbackHandle {
    checkTime(delay, "callLater delay");
    checkFunction(cb, "callLater callback");
    return this._addTimer(this.time() + delay, cb as Callback, args);
  }

  callAt<A extends unknown[]>(when: number, cb: (...args: A) => unknown, ...args: A): TimerCallbackHandle {
    checkTime(when, "callAt time");
    checkFunction(cb, "callAt callback");
    return this._addTimer(when, cb as Callback, args);
  }

  createFuture<T>(): Future<T> {
    return new Future<T>(this);
  }

  createTask<T>(fn: TaskFunction<T>, options?: TaskOptions): Task<T> {
    this._checkOpen();
    return new Task(fn, this, options);
  }

  /**
   * Runs the loop until `fnOrAwaitable` is done (a function is started as a task) and
   * resolves to its result, or rejects with its error. Throws at the call if the loop is
   * closed or already running, and for bad input (TypeError for something that is not
   * awaitable, RangeError for a Future of another loop); rejects if `stop()` ends the run
   * first.
   */
  runUntilComplete<T>(fnOrAwaitable: AwaitableLike<T>): Promise<T> {
    this._checkRunnable();
    return this._runUntilDone(ensureFuture(fnOrAwaitable, this));
  }

  /** @internal Runs the loop until `future` is done; its outcome. */
  async _runUntilDone<T>(future: Future<T>): Promise<T> {
    // The done callback may already sit in the ready queue when this run ends for another
    // reason; once the run is over it must not stop a later run (stop() made while the loop
    // is idle is kept for the next runForever).
    let active = true;
    const stopWhenDone = () => {
      if (active) this.stop();
    };
    future.addDoneCallback(stopWhenDone);
    try {
      await this.runForever();
    } finally {
      active = false;
      future.removeDoneCallback(stopWhenDone);
    }
    if (!future.done()) throw new Error("Event loop stopped before Future completed.");
    return future.result();
  }

  /** Runs the loop until `stop()` is called; resolves then. */
  runForever(): Promise<void> {
    this._checkRunnable();
    this._running = true;
    return new Promise<void>((resolve) => {
      this._stopResolve = resolve;
      this._scheduleIteration();
    });
  }

  /** Ends `runForever`/`runUntilComplete` once the current iteration has run. */
  stop(): void {
    this._stopping = true;
    if (!this._closed) this._wakeSoon();
  }

  isRunning(): boolean {
    return this._running;
  }

  /** Drops every scheduled callback and timer; the loop then refuses new ones. Throws if running. */
  close(): void {
    if (this._running) throw new Error("Cannot close a running event loop");
    if (this._closed) return;
    this._closed = true;
    // Deliveries of futures that have settled are made still: their awaiters must not wait
    // for ever for an outcome there is.
    // (In the order they would have run: the rest of the batch being run or stopped early, the
    // deliveries waiting for its end, the ready queue.)
    if (this._batch !== undefined) this._runDeliveries(this._batch, this._batchAt);
    else if (this._paused !== undefined) this._runDeliveries(this._paused, this._pausedAt);
    if (this._atEnd.length > 0) this._deliverAtEnd();
    this._runDeliveries(this._ready, 0);
    this._ready.length = 0;
    this._paused = undefined;
    this._forgetStop();
    this._timers.clear();
    this._disarmHostTimer();
  }

  /** @internal Runs the deliveries (see `markDelivery`) among `handles` from `from` on. */
  _runDeliveries(handles: readonly CallbackHandle[], from: number): void {
    for (let i = from; i < handles.length; i++) {
      const handle = handles[i]!;
      if (!handle._cancelled && isDelivery(handle._callback)) handle._run(this);
    }
  }

  isClosed(): boolean {
    return this._closed;
  }

  setExceptionHandler(handler: ExceptionHandler | null): void {
    if (handler !== null) checkFunction(handler, "exception handler");
    this._exceptionHandler = handler;
  }

  getExceptionHandler(): ExceptionHandler | null {
    return this._exceptionHandler;
  }

  /**
   * Reports an error that has nowhere else to go: to the handler set, else the default one.
   * @throws TypeError if `context` is not an object.
   */
  callExceptionHandler(context: ExceptionContext): void {
    checkObject(context, "exception handler context");
    dispatchException(this, this._exceptionHandler, context);
  }

  /**
   * Prints the context's message, its other fields and its error with `console.error`.
   * @throws TypeError if `context` is not an object.
   */
  defaultExceptionHandler(context: ExceptionContext): void {
    checkObject(context, "exception handler context");
    printException(context);
  }

  /**
   * Turns debug mode on or off: slow callbacks, exceptions never retrieved and tasks
   * collected while pending are reported through the exception handler.
   * @throws TypeError if `enabled` is not a boolean (the mode is left as it was).
   */
  setDebug(enabled: boolean): void {
    checkBoolean(enabled, "setDebug enabled");
    this._debug = enabled;
    if (enabled) debugSwitch.everOn = true;
  }

  /**
   * Callbacks slower than this (ms, default 100) are reported in debug mode (0 or less: all).
   * @throws TypeError for a non-number, RangeError for `NaN` (the value is left as it was).
   */
  get slowCallbackDuration(): number {
    return this._slowCallbackDuration;
  }

  set slowCallbackDuration(ms: number) {
    checkTime(ms, "slowCallbackDuration");
    this._slowCallbackDuration = ms;
  }

  getDebug(): boolean {
    return this._debug;
  }

  get [Symbol.toStringTag](): string {
    return "EventLoop";
  }

  toString(): string {
    const state = this._closed ? "closed" : this._running ? "running" : "idle";
    return `${this.constructor.name} [${state}, ready: ${this._ready.length + (this._paused === undefined ? 0 : this._paused.length - this._pausedAt)}, timers: ${this._timers.live}, debug: ${this._debug}]`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }

  /** @internal */
  _checkRunnable(): void {
    this._checkOpen();
    if (this._running) throw new Error("This event loop is already running");
    // Code run by another loop would give that loop's work a second, unrelated schedule.
    const current = runningLoopOrUndefined();
    if (current !== undefined && current !== this) throw new Error("Cannot run the event loop while another loop is running");
  }

  /** @internal */
  _checkOpen(): void {
    if (this._closed) throw new Error("Event loop is closed");
  }

  /** @internal Makes sure an iteration comes (unless one is scheduled or running). */
  _wakeSoon(): void {
    if (!this._iterationScheduled && !this._inIteration) this._scheduleIteration();
  }

  /** @internal */
  _addTimer(when: number, cb: Callback, args: unknown[]): TimerCallbackHandle {
    this._checkOpen();
    const handle = this._timers.add(when, cb, packArgs(args), this, args[0]);
    if (this._debug) recordSource(handle);
    if (!this._inIteration && when < this._hostTimerWhen) this._armTimer();
    return handle;
  }

  /** @internal Keeps cancelled timers from piling up or holding the process open. */
  _timerCancelled(_handle: CallbackHandle): void {
    // close() already dropped the heap: counting this handle would make the count exceed
    // what the heap holds.
    if (this._closed) return;
    // Nothing live left: drop the host timer too, so an idle loop keeps no handle and the
    // process can exit.
    if (this._timers.noteCancelled() && !this._inIteration) this._armTimer();
  }

  /** @internal */
  _scheduleIteration(): void {
    this._iterationScheduled = true;
    this._hostTurn(this._iterate);
  }

  /**
   * @internal Runs `fn` in a host macrotask: the global `setImmediate`, read at each call, so
   * fake timers that replace it drive this loop (a `VirtualTimeLoop` takes its own).
   */
  _hostTurn(fn: () => void): void {
    setImmediate(fn);
  }

  /**
   * @internal Moves due timers to the ready queue, then runs the ready batch (or the rest
   * of a batch that stopped early).
   */
  _runOnce(goingOn = false): void {
    // (A batch going on early, see `_goOn`, leaves the iteration scheduled for what comes next.)
    if (!goingOn) this._iterationScheduled = false;
    this._inIteration = true;
    const previousLoop = enterCallbackLoop(this);
    // Whether the batch stopped early (see `pausesAfter`): its rest is kept in `_paused`.
    let paused = false;
    // The task the last callback run woke, if any.
    let lastWoken: unknown;
    try {
      let batch = this._paused;
      let i = this._pausedAt;
      if (batch === undefined) {
        this._timers.collectDue(this.time(), this._ready);
        batch = this._ready;
        this._ready = this._spare;
        i = 0;
        this._lastGoingOn = undefined;
      } else {
        this._paused = undefined;
        this._pausedFor = undefined;
        this._forgetStop();
      }
      this._batch = batch;
      while (i < batch.length) {
        // A callback closed the loop: the rest of the batch is dropped like every other
        // scheduled callback (close() promises that nothing runs afterwards).
        if (this._closed) break;
        const handle = batch[i++]!;
        this._batchAt = i;
        if (handle._cancelled) continue;
        stoppedFor.watch = true;
        try {
          handle._run(this);
        } finally {
          stoppedFor.watch = false;
        }
        const forced = this._stopNext;
        this._stopNext = false;
        const stops = i < batch.length && (forced || pausesAfter(handle, batch[i]!));
        const woken = stoppedFor.woken;
        stoppedFor.woken = undefined;
        lastWoken = woken;
        if (stops) {
          // The callback left a task going on in microtasks (see `pausesAfter`): asyncio's
          // step would run it through before the next callback. The rest of the batch goes
          // on, ahead of anything scheduled since, once that code has gone on to a real wait
          // or ended (see `stoppedFor`), or else in the next host turn.
          this._paused = batch;
          this._pausedAt = i;
          const task = handle._task();
          this._pausedFor = task;
          this._stopFor(task ?? woken);
          paused = true;
          break;
        }
      }
      if (!paused) {
        // The last step goes on in microtasks (it awaits an eager task finishing, say): a
        // wake-up of its task resumes it at once, ahead of what its step queued, as for a
        // step the batch stopped for (see `_lastGoingOn`).
        const last = batch.length > 0 ? batch[batch.length - 1]! : undefined;
        let goingOn: Task<unknown> | undefined;
        if (last !== undefined && !last._cancelled && !this._closed) {
          const task = (last._task() ?? lastWoken) as Task<unknown> | undefined;
          if (task !== undefined && task._goesOnSoon()) {
            goingOn = task;
            this._lastGoingOn = new WeakRef(task);
          }
        }
        batch.length = 0;
        this._spare = batch;
        if (goingOn !== undefined && this._atEnd.length > 0) {
          // Wake-ups the batch made for its end wait for that step to be over too, as
          // asyncio runs them after it: the batch stops with nothing left but them.
          this._paused = [];
          this._pausedAt = 0;
          this._pausedFor = goingOn;
          this._stopFor(goingOn);
          paused = true;
        }
      }
    } finally {
      this._batch = undefined;
      if (!paused && this._atEnd.length > 0) this._deliverAtEnd();
      enterCallbackLoop(previousLoop);
      this._inIteration = false;
    }
    // A stop() made while the loop is not running stays pending for the next runForever,
    // which then runs one iteration and returns (asyncio). Idle iterations, which this
    // loop also runs outside runForever, must not consume it. An iteration cut short
    // ends only when its rest has run.
    if (this._stopping && this._running && !paused) this._finishRun();
    if (this._closed) return;
    if (this._hasReady()) {
      if (!this._iterationScheduled) this._scheduleIteration();
    } else {
      this._armTimer();
    }
  }

  /**
   * @internal Whether the batch being run has callbacks left: a task woken now resumes after
   * them (as asyncio's would), its delivery made with `_atBatchEnd`.
   */
  _inBatch(): boolean {
    const batch = this._batch;
    // (Once a delivery waits for the end, later ones of the batch queue behind it.)
    return batch !== undefined && (this._batchAt < batch.length || this._atEnd.length > 0);
  }

  /** @internal Calls `deliver(arg)` once the batch being run has run (if it stops early, once its rest has). */
  _atBatchEnd<A>(deliver: (arg: A) => void, arg: A): void {
    this._atEnd.push(deliver, arg);
  }

  /** @internal */
  _deliverAtEnd(): void {
    const list = this._atEnd;
    this._atEnd = [];
    for (let i = 0; i < list.length; i += 2) (list[i] as (arg: unknown) => void)(list[i + 1]);
  }

  /** @internal Whether callbacks wait to run: in the ready queue, or the rest of a batch that stopped early. */
  _hasReady(): boolean {
    return this._ready.length > 0 || this._paused !== undefined;
  }

  /** @internal */
  _finishRun(): void {
    this._stopping = false;
    if (!this._running) return;
    this._running = false;
    const resolve = this._stopResolve;
    this._stopResolve = undefined;
    if (resolve !== undefined) resolve();
  }

  /** @internal Arms the one host timer for the earliest live deadline (or none). */
  _armTimer(): void {
    const next = this._timers.next();
    const when = next === undefined ? Infinity : next._when;
    if (when === this._hostTimerWhen) return;
    this._disarmHostTimer();
    if (when === Infinity) return;
    if (when <= this.time()) {
      // Already due (callLater(0), a negative delay, a past callAt): collect it on the
      // next iteration, as asyncio does, rather than after a host timer's minimum of 1 ms.
      this._wakeSoon();
      return;
    }
    const delay = Math.min(MAX_HOST_DELAY, Math.max(0, Math.ceil(when - this.time())));
    this._hostTimerWhen = when;
    this._hostTimer = setTimeout(this._onHostTimer, delay);
  }

  /** @internal */
  _disarmHostTimer(): void {
    if (this._hostTimer !== undefined) {
      clearTimeout(this._hostTimer);
      this._hostTimer = undefined;
    }
    this._hostTimerWhen = Infinity;
  }
}

/**
 * Whether the callback `handle` ran left a task going on in microtasks, which asyncio would
 * run through as part of that callback: a task's first step that stopped at an await that
 * is not a wait (something done already, a plain promise), rather than waiting on an aiots
 * future or finishing; or a task's wake-up (`sleep(0)`'s, or one put in the ready queue,
 * see `resumesLater` in @aiots/future), unless the next callback delivers to the same task.
 */
function pausesAfter(handle: CallbackHandle, next: CallbackHandle): boolean {
  const cb = handle._callback;
  // (A wake-up of code outside any task, `await sleep(0)` in plain code, has no step to wait for.)
  if (isResumption(cb)) return stoppedFor.woken !== undefined && !wakesSameTask(next);
  const task = handle._task() as Task<unknown> | undefined;
  return task !== undefined && task._goesOnSoon();
}

/**
 * Whether `next` delivers a settled future to the task the callback just run woke too
 * (`Promise.all` over tasks that finished one after the other): the task's code goes on
 * once, after the last of them, as asyncio's done callbacks of a gather run one after the
 * other before the task's step.
 */
function wakesSameTask(next: CallbackHandle): boolean {
  const woken = stoppedFor.woken;
  if (woken === undefined || next._args !== ONE_ARG || !isDelivery(next._callback)) return false;
  const future = next._arg as { _wakes?(): unknown };
  return typeof future._wakes === "function" && future._wakes() === woken;
}

/** `_stoppedTask` once the stopped step is over and the rest of the batch is about to go on. */
const GOING_ON = Symbol("going on");
/** A settled promise: a reaction on it is one plain microtask. */
const SETTLED = Promise.resolve();

function goOnWithBatch(loop: EventLoop): void {
  loop._runOnce(true);
}

function runIteration(loop: EventLoop): void {
  if (!loop._closed) loop._runOnce();
}
