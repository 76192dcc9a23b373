import { CancelledError, InvalidStateError, isCancelledError } from "@aiots/core";
import type { EventLoop, TaskFunction, TaskLike, TaskOptions } from "@aiots/core";
import { checkFunction, loopForCurrentCode, markTaskStep, runningLoopOrUndefined, runsInline, stoppedFor, taskContext, whenAborted } from "@aiots/core/internal";
import type { AsyncResource } from "node:async_hooks";
import { debugTracker } from "./debug.js";
import { Future, preview } from "./future.js";
import { deliverHeld, isHolder } from "./held.js";
import { registerTask, unregisterTask } from "./registry.js";
import { callSoonOne, cancelledAtAwait, firstSteps, goOnAfterStep, stepEnds } from "./schedule.js";
import { isBareYield } from "./sleep.js";
import { checkTaskOptions, finished, reasonMessage, runFunction } from "./task-start.js";

let taskCounter = 0;

/** The first length of `_waitingMore` at which settled entries are swept out. */
const SWEEP_AT = 8;

/**
 * A function running concurrently on the loop (asyncio's `Task`). A Task is a Future of
 * the function's result.
 *
 * **Cancellation is asyncio's.** `cancel()` makes the task's pending `await` on any aiots
 * awaitable (a Future, a Task, `sleep`, a lock or queue wait, ...) throw `CancelledError`
 * right there, inside the function and the async functions it calls, so `finally` blocks
 * run. If the task is awaiting a plain promise, which cannot be interrupted, `signal` is
 * aborted at once and the `CancelledError` is thrown at the task's next aiots await; a
 * function that finishes first keeps its value (nothing interrupted it, so nothing it took
 * is lost). A cancel from the function's own first step, which then returns, ends the task
 * cancelled (asyncio's `_must_cancel` at the end). A task that catches the error and
 * returns normally completes with that value.
 *
 * Host callbacks started from inside a task (`setTimeout`, event listeners) run in the
 * task's context: aiots awaits there count as the task's own, and cancelling the task
 * cancels them too. asyncio has no such case; aiots treats that work as part of the task.
 *
 * A future is recorded when the task's code starts awaiting it and forgotten once it
 * settles: nothing tells when a combinator stops caring. So a future raced with
 * `Promise.race` (or left behind by a `Promise.all` that rejected early) stays linked to
 * the task while it is pending, and cancelling the task cancels it too. If the task is
 * then awaiting a plain promise, that cancel is spent on the abandoned future: the task
 * is not interrupted (its `signal` still aborts). Race aiots futures with `wait` or
 * `asCompleted` from `@aiots/flow`, which do not await the losers.
 *
 * Unlike asyncio, a pending task is kept alive by the loop, so a task nobody holds still
 * runs to the end (in debug mode the loop holds it weakly, to report tasks that were
 * collected while pending, which could never have finished).
 *
 * @example
 * ```ts
 * const task = createTask(async () => {
 *   try { await sleep(10_000) } finally { console.log("cleaned up") }
 * });
 * await sleep(10);
 * task.cancel();
 * await task.catch(() => {}); // logs "cleaned up"
 * console.log(task.cancelled()); // true
 * ```
 */
export class Task<T> extends Future<T> implements TaskLike<T> {
  /** @internal */ _fn: TaskFunction<T> | undefined;
  /** @internal The name given, or the task's number: `Task-N` is only built when asked for. */
  _name: string | number;
  /** @internal */ _mustCancel = false;
  /**
   * @internal Whether a pending `_mustCancel` was asked for while the function's first
   * synchronous run was going on (asyncio's way to reach the end of a coroutine with
   * `_must_cancel` set: a cancel from inside the step): then it ends the task cancelled even
   * if the function returns first.
   */
  _mustCancelOwn = false;
  /**
   * @internal The message of the latest cancel that found nothing to interrupt (asyncio's
   * task keeps only that one as its own `_cancel_message`; a gather reads it, see
   * `GatheringFuture`). Kept when the cancel is taken back.
   */
  _markedMessage: string | undefined = undefined;
  /** @internal True while the function's first synchronous run (the task's first step) goes on. */
  _stepping = false;
  /** @internal */ _numCancelsRequested = 0;
  /** @internal The aiots future the task's code awaits now (the common case: one). */
  _waitingOn: Future<unknown> | undefined = undefined;
  /** @internal More futures awaited at once (`Promise.all([f1, f2])` inside the task). */
  _waitingMore: Future<unknown>[] | undefined = undefined;
  /** @internal Length of `_waitingMore` at which settled entries are next swept out. */
  _waitingSweepAt = SWEEP_AT;
  /**
   * @internal Futures earlier awaits left pending (the losers of a `Promise.race`): still
   * cancelled with the task, but no longer what its code awaits.
   */
  _leftovers: Future<unknown>[] | undefined = undefined;
  /** @internal Whether an outcome was delivered to the task since it last started an await. */
  _resumed = false;
  /** @internal The future whose await last threw a late cancel, and that error (see `_takeLateCancel`). */
  _late: { source: object; error: CancelledError } | undefined = undefined;
  /** @internal Made on the first read of `signal`, replaced after an `uncancel` to zero. */
  _abort: AbortController | undefined = undefined;
  /** @internal Removes the listener on the `signal` option, until the task is done. */
  _external: (() => void) | undefined = undefined;
  /** @internal Links of the pending-task registry (see registry.ts). */
  _regPrev: Task<unknown> | undefined = undefined;
  /** @internal */ _regNext: Task<unknown> | undefined = undefined;
  /** @internal 0 = not registered, 1 = strong list, 2 = weak set (debug). */
  _registered: 0 | 1 | 2 = 0;
  /** @internal The creator's async context, with this task as current, until the function starts. */
  _context: AsyncResource | undefined;
  /** @internal The promise the function returned, until the task is done (see `cancel`). */
  _running: Promise<unknown> | undefined = undefined;

  /** @internal Use `createTask` or `loop.createTask`. */
  constructor(fn: TaskFunction<T>, loop: EventLoop, options?: TaskOptions) {
    super(loop);
    checkFunction(fn, "task function");
    checkTaskOptions(options);
    this._fn = fn;
    const name = options?.name;
    this._name = name ?? ++taskCounter;
    this._context = taskContext(this);
    // Eager only on a running loop (asyncio), or one whose task or callback is calling (the
    // default loop of plain async code runs those without `isRunning()`): elsewhere the
    // first step is scheduled as usual.
    const eager = options?.eagerStart === true && (loop.isRunning() || runningLoopOrUndefined() === loop);
    // Scheduled first: a closed loop throws here, before anything is registered or listened to.
    if (!eager) callSoonOne(loop, stepTask, this as Task<unknown>);
    const signal = options?.signal;
    if (signal !== undefined && signal !== null) this._linkSignal(signal);
    registerTask(this);
    if (debugTracker.enabled && loop.getDebug()) debugTracker.watchPendingTask(this);
    if (eager) this._step();
  }

  getName(): string {
    const name = this._name;
    return typeof name === "string" ? name : `Task-${name}`;
  }

  setName(name: string): void {
    this._name = String(name);
  }

  /**
   * Aborted when the task is cancelled, with the `CancelledError` as reason, so signal-aware
   * APIs stop too: `fetch(url, { signal: currentTask()!.signal })`. After `uncancel()`
   * brings the count back to zero, a fresh, unaborted signal is handed out.
   */
  get signal(): AbortSignal {
    let abort = this._abort;
    if (abort === undefined) {
      abort = this._abort = new AbortController();
      if (this._numCancelsRequested > 0 || this.cancelled()) abort.abort(new CancelledError(this._cancelMessage));
    }
    return abort.signal;
  }

  /**
   * Requests cancellation: the task's current aiots await throws `CancelledError(msg)`
   * (or its next one, if it awaits a plain promise) and `signal` aborts. Returns `false` if
   * the task is already done. Each call counts (`cancelling()`).
   */
  override cancel(msg?: string): boolean {
    if (this.done()) return super.cancel(msg);
    // The function has finished and the task only waits for the microtask that records its
    // outcome: asyncio's task is done when its coroutine returns, so this cancel is too late.
    if (this._running !== undefined && !this._awaitsPending() && finished(this._running)) return false;
    this._numCancelsRequested++;
    this._cancelMessage = msg;
    const abort = this._abort;
    if (abort !== undefined && !abort.signal.aborted) abort.abort(new CancelledError(msg));
    if (!this._cancelWaits(msg) && !this._dropHandOverNow(msg)) {
      this._mustCancel = true;
      this._markedMessage = msg;
      if (this._stepping) this._mustCancelOwn = true;
    }
    return true;
  }

  /**
   * @internal A cancel the task's own code makes of it on its way back to the function (a
   * TaskGroup re-requesting an outside cancel as it throws): as asyncio's `_must_cancel`, it
   * lands at the task's next wait, or, if the function returns first, ends the task cancelled.
   */
  _cancelOwn(msg?: string): boolean {
    const requested = this.cancel(msg);
    if (requested && this._mustCancel) this._mustCancelOwn = true;
    return requested;
  }

  /** How many cancellation requests are pending (asyncio 3.11+). */
  cancelling(): number {
    return this._numCancelsRequested;
  }

  /**
   * Takes back one cancellation request and returns the count left. At zero, a pending
   * "cancel at the next await" is dropped and `signal` is renewed (asyncio 3.13).
   */
  uncancel(): number {
    if (this._numCancelsRequested > 0) {
      this._numCancelsRequested--;
      if (this._numCancelsRequested === 0) {
        this._dropMustCancel();
        if (this._abort !== undefined && this._abort.signal.aborted) this._abort = undefined;
      }
    }
    return this._numCancelsRequested;
  }

  /** @internal Called by `Future.then` in this task's context: track the await, or refuse it. */
  _awaitStarted(future: Future<unknown>): Error | undefined {
    if (this.done()) return undefined;
    if (this._late !== undefined) this._late = undefined;
    if ((future as unknown) === this) return new Error(`Task cannot await on itself: ${this.getName()}`);
    const loop = future._loop;
    if (loop !== undefined && loop !== this._loop) {
      // Its callbacks run on another loop: the two do not share a schedule (asyncio refuses it too).
      return new Error(`Task ${this.getName()} got Future ${future.toString()} attached to a different loop`);
    }
    // A future that is already done is never refused: it may carry something handed to
    // this task (a lock, a permit, a queue item), and throwing instead of delivering it
    // would lose it. A pending cancel then waits for the next await of a pending future.
    if (future.done()) return undefined;
    this._track(future);
    if (this._mustCancel) {
      // The cancel came while the task awaited something we could not interrupt: this is
      // the first aiots await of a pending future since, so it is cancelled, and throws,
      // as if the cancel had come while the task waited on it. A future that refuses
      // (a gather whose children are all done) leaves the cancel pending, as asyncio
      // does: it lands when that await is delivered. So does a task that could only mark
      // itself (it awaits a plain promise, and may still finish with a value), as when
      // the cancel finds the task already awaiting it (see `interrupts`).
      if (interrupts(future, this._cancelMessage)) {
        this._dropMustCancel();
        cancelledAtAwait.future = future;
      }
    }
    return undefined;
  }

  /** @internal Records `future` as one the task's current await waits on. */
  _track(future: Future<unknown>): void {
    const current = this._waitingOn;
    if (this._resumed) {
      // The task's code resumed and awaits afresh: what the earlier awaits left (the other
      // children of a settled `Promise.all`, a race's losers) is no longer what it awaits, so
      // a late delivery from there cannot take a cancel meant for this await.
      this._resumed = false;
      this._leaveBehind();
      this._waitingOn = future;
    } else if (current === undefined || current.done()) {
      this._waitingOn = future;
    } else if (current !== future) {
      const more = this._waitingMore;
      if (more === undefined) this._waitingMore = [future];
      else if (more[more.length - 1] !== future) {
        // (The same future right again is `Promise.all` calling `then` after the await hook.)
        // Drop settled entries only when the list has doubled since the last sweep, so
        // `Promise.all` over n pending futures costs O(n), not O(n^2).
        if (more.length >= this._waitingSweepAt) {
          compactDone(more);
          this._waitingSweepAt = Math.max(SWEEP_AT, more.length * 2);
        }
        more.push(future);
      }
    }
  }

  /** @internal Moves the pending futures of the earlier awaits to `_leftovers`, and forgets the rest. */
  _leaveBehind(): void {
    const on = this._waitingOn;
    const more = this._waitingMore;
    if (more === undefined && (on === undefined || on.done()) && this._leftovers === undefined) {
      this._waitingOn = undefined;
      return;
    }
    const kept = this._leftovers ?? [];
    if (on !== undefined) kept.push(on);
    if (more !== undefined) for (let i = 0; i < more.length; i++) kept.push(more[i]!);
    compactDone(kept);
    this._leftovers = kept.length > 0 ? kept : undefined;
    this._waitingOn = this._waitingMore = undefined;
    this._waitingSweepAt = SWEEP_AT;
  }

  /** @internal Forgets a pending "cancel at the next await", and whose it was. */
  _dropMustCancel(): void {
    this._mustCancel = this._mustCancelOwn = false;
  }

  /**
   * @internal Whether the task, not done, goes on in microtasks rather than waiting: it
   * awaits no pending aiots future, or only tasks that themselves go on (a function `waitFor`
   * started inside the step, finishing). The loop lets such a first step go on before it
   * runs its next callback, as asyncio's step would.
   */
  _goesOnSoon(depth = 0): boolean {
    return !this.done() && this._everyPendingAwait(goesOn, depth);
  }

  /** @internal Whether an aiots future the task awaits is still pending (what `_cancelWaits` would cancel). */
  _awaitsPending(): boolean {
    return !this._everyPendingAwait(never, 0);
  }

  /** @internal Whether `test` holds for every pending aiots future the task awaits (true for none). */
  _everyPendingAwait(test: (future: Future<unknown>, depth: number) => boolean, depth: number): boolean {
    const current = this._waitingOn;
    if (current !== undefined && !current.done() && !test(current, depth)) return false;
    const more = this._waitingMore;
    if (more !== undefined) for (const f of more) if (!f.done() && !test(f, depth)) return false;
    const left = this._leftovers;
    if (left !== undefined) for (const f of left) if (!f.done() && !test(f, depth)) return false;
    return true;
  }

  /**
   * @internal Cancels every pending future the task awaits; true if any was cancelled.
   *
   * The awaited futures stay recorded (asyncio leaves `_fut_waiter` set too): an awaited
   * Task may catch the cancellation and go on cleaning up, still pending, and a second
   * `cancel()` must reach it again. A plain future is done once cancelled, so keeping it
   * costs nothing: the next await replaces it, and `cancel()` on it returns false.
   */
  _cancelWaits(msg: string | undefined): boolean {
    let cancelled = false;
    const current = this._waitingOn;
    if (current !== undefined && interrupts(current, msg)) cancelled = true;
    // (The current await's futures stay listed once cancelled, until the next await: a later
    // cancel that finds them done throws the first one's error, see `_cancelledAwait`.)
    const more = this._waitingMore;
    if (more !== undefined) for (const f of more) if (interrupts(f, msg)) cancelled = true;
    const left = this._leftovers;
    if (left !== undefined) {
      for (const f of left) if (interrupts(f, msg)) cancelled = true;
      compactDone(left);
      if (left.length === 0) this._leftovers = undefined;
    }
    return cancelled;
  }

  /**
   * @internal A cancel that came after the awaited future was done, before the task's code
   * resumed: the await throws it instead of delivering the outcome (asyncio's `_must_cancel`
   * at the next step). Consumed here, so the next await is not cancelled again; every
   * reaction of the task to the same future (an `await` and a `then` of a combinator)
   * gets the same error. If the future itself ended cancelled (its own `CancelledError`
   * is `failure`), that error is thrown, as asyncio's step keeps a `CancelledError` it is
   * already throwing: the first cancel's message wins over a later one that found the
   * future done.
   */
  _takeLateCancel(source: object, failure: unknown): CancelledError | undefined {
    if (this.done()) return undefined;
    // (Called for every outcome delivered to the task: the next await it starts is a fresh one.)
    this._resumed = true;
    if (!this._mustCancel) {
      const late = this._late;
      return late !== undefined && late.source === source ? late.error : undefined;
    }
    // Code asyncio runs inside this task's step finished before the cancel: its outcome goes
    // through, and the cancel waits for the next await (see `markInline`). A future the task
    // no longer awaits (left behind by a combinator that settled) does not take it either.
    if (runsInline(source) || !this._awaits(source)) return undefined;
    this._dropMustCancel();
    const error = isCancelledError(failure) ? failure : (this._cancelledAwait() ?? new CancelledError(this._cancelMessage));
    this._late = { source, error };
    return error;
  }

  /**
   * @internal A cancel that finds the task's await of a hand-over on its way, whose owner
   * takes it back at once rather than at the delivery (a queue getter's item, see
   * `Future._dropsEarly`): it is given back now, and the future delivers the cancel instead
   * (see `Future._takeBack`). True if so: the cancel reached the await.
   */
  _dropHandOverNow(msg: string | undefined): boolean {
    const on = this._waitingOn;
    if (this._resumed || on === undefined || !on._dropsEarly() || !on._replaceable() || on._soleAwaiter() !== this || runsInline(on)) return false;
    on._takeBack(msg);
    return true;
  }

  /**
   * @internal Whether a pending "cancel at the next await" lands at the await going on now:
   * one of its futures is done and its outcome has not reached the task's code yet, so that
   * delivery throws the cancel (see `_takeLateCancel`).
   */
  _markLandsNow(): boolean {
    if (this._resumed) return false;
    const on = this._waitingOn;
    if (on !== undefined && on.done() && !runsInline(on)) return true;
    const more = this._waitingMore;
    if (more !== undefined) for (let i = 0; i < more.length; i++) if (more[i]!.done() && !runsInline(more[i]!)) return true;
    return false;
  }

  /** @internal Whether `source` is one of the futures the task's current await waits on. */
  _awaits(source: object): boolean {
    return source === this._waitingOn || (this._waitingMore !== undefined && this._waitingMore.includes(source as Future<unknown>));
  }

  /**
   * @internal The `CancelledError` of a future of the current await that an earlier cancel
   * already ended (`Promise.all([f, sleep(10)])`: the first cancel ended the sleep): the
   * await throws that one, so the first cancel's message wins, as in asyncio.
   */
  _cancelledAwait(): CancelledError | undefined {
    const first = this._waitingOn;
    if (first !== undefined && first.cancelled()) return first._makeCancelledError();
    const more = this._waitingMore;
    if (more === undefined) return undefined;
    for (let i = 0; i < more.length; i++) if (more[i]!.cancelled()) return more[i]!._makeCancelledError();
    return undefined;
  }

  /** @internal Runs the function once, in the task's context. */
  _step(): void {
    const fn = this._fn;
    if (fn === undefined) return;
    this._fn = undefined;
    const context = this._context!;
    this._context = undefined;
    if (this.done()) {
      // Finished behind its back (`Future.prototype.setResult.call(task, ...)`): the function
      // never runs, and the loop hears of it, as asyncio's step raises InvalidStateError.
      this._release();
      throw new InvalidStateError(`Task step: already done: ${this.toString()}`);
    }
    if (this._mustCancel) {
      // Cancelled before it started: like asyncio, the function never runs.
      this._finishCancelled(new CancelledError(this._cancelMessage));
      return;
    }
    this._stepping = true;
    firstSteps.depth++;
    try {
      context.runInAsyncScope(runFunction, undefined, this, fn);
    } finally {
      firstSteps.depth--;
      this._stepping = false;
    }
  }

  /**
   * @internal The function returned `value`: the task finishes, then a batch stopped for its
   * step goes on (see `goOnAfterStep`), at once when `fromReaction` (the reaction to the
   * function's promise, where nothing else runs), else in the next microtask.
   */
  _onFulfilled(value: T, fromReaction = false): void {
    this._fulfil(value);
    goOnAfterStep(this, fromReaction);
  }

  /** @internal The function threw `error` (or its promise rejected): as `_onFulfilled`. */
  _onRejected(error: unknown, fromReaction = false): void {
    this._reject(error);
    goOnAfterStep(this, fromReaction);
  }

  /** @internal */
  _fulfil(value: T): void {
    if (this.done()) {
      this._release(); // finished behind its back while its function ran
      return;
    }
    if (this._mustCancel && this._mustCancelOwn) {
      // Cancelled during its first step (or by its own code, see `_cancelOwn`), which then
      // returned before any aiots await: as asyncio's step, which cancels a task whose
      // coroutine stops with `_must_cancel` set.
      this._finishCancelled(new CancelledError(this._cancelMessage));
      return;
    }
    // A cancel from elsewhere that found no aiots await to interrupt (the task awaited a
    // plain promise, or the code between an await and its return) and none since: the
    // function finished its work, so the task keeps its value, as if the cancel had come
    // after it (nothing it took is lost).
    this._release();
    super.setResult(value);
  }

  /** @internal */
  _reject(error: unknown): void {
    if (this.done()) {
      this._release();
      return;
    }
    if (isCancelledError(error)) {
      this._finishCancelled(error);
      return;
    }
    this._release();
    super.setException(error);
  }

  /** @internal */
  _finishCancelled(error: CancelledError): void {
    this._release();
    this._cancelWith(error, error.message === "" ? this._cancelMessage : error.message);
    // A task can end cancelled with no request of its own (the child it awaited was
    // cancelled): a signal handed out before then aborts now, as one asked for later would.
    const abort = this._abort;
    if (abort !== undefined && !abort.signal.aborted) abort.abort(error);
  }

  /**
   * @internal A task can finish after its loop was closed (its function awaited a plain
   * promise that settled later): its done callbacks then have no loop to run on, and are
   * dropped rather than thrown from the promise reaction that finished it (asyncio's task
   * would never finish there).
   */
  override _scheduleCallbacks(): void {
    if (this.getLoop().isClosed()) {
      this._callbacks = undefined;
      return;
    }
    super._scheduleCallbacks();
  }

  /** @internal Drops what a finished task no longer needs. */
  _release(): void {
    if (isHolder(this)) deliverHeld();
    if (this === stoppedFor.task) {
      // A task asyncio runs inside its awaiter's step (`waitFor`'s function) hands the step on to it.
      const awaiter = runsInline(this) ? this._wakes() : undefined;
      if (awaiter !== undefined && awaiter !== null) stoppedFor.task = awaiter;
      else stepEnds(this);
    }
    this._running = undefined;
    this._waitingOn = undefined;
    this._waitingMore = undefined;
    this._leftovers = undefined;
    this._dropMustCancel();
    unregisterTask(this);
    const unlink = this._external;
    if (unlink !== undefined) {
      this._external = undefined;
      unlink();
    }
    if (debugTracker.enabled) debugTracker.taskDone(this);
  }

  /** @internal */
  _linkSignal(signal: AbortSignal): void {
    const onAbort = () => {
      this.cancel(reasonMessage(signal.reason));
    };
    if (signal.aborted) {
      // Nothing awaited yet: the cancel waits for the first step (which then never runs).
      this.cancel(reasonMessage(signal.reason));
      return;
    }
    this._external = whenAborted(signal, onAbort);
  }

  /** Cannot be called on a task: its result comes from its function. */
  override setResult(_value: T): never {
    throw new TypeError("Task does not support setResult(): its result comes from its function");
  }

  /** Cannot be called on a task: its outcome comes from its function. */
  override setException(_error: unknown): never {
    throw new TypeError("Task does not support setException(): its outcome comes from its function");
  }

  override toString(): string {
    let state = this._describe();
    if (!this.done() && this._numCancelsRequested > 0) state = "cancelling";
    // The last awaited future stays recorded after it settles (see `_cancelWaits`): show it only while pending.
    const on = this._waitingOn;
    let waiting = "";
    if (!this.done() && on !== undefined && !on.done()) {
      // Tasks that await each other (a deadlock) would describe each other for ever.
      if (describing.has(this)) waiting = ", waiting on ...";
      else {
        describing.add(this);
        try {
          waiting = `, waiting on ${on.toString()}`;
        } finally {
          describing.delete(this);
        }
      }
    }
    return `Task [${preview(this.getName()).replace(/^"|"$/g, "")}, ${state}${waiting}]`;
  }
}

Object.defineProperty(Task.prototype, Symbol.toStringTag, { configurable: true, get: () => "Task" });

/** Tasks whose `toString` is running, to cut a cycle of tasks awaiting each other. */
const describing = new Set<object>();

/**
 * Cancels `future`; true if that interrupts it. An awaited task that could only mark itself
 * (it awaits a plain promise) does not count: it may still finish with a value, so the
 * awaiting task keeps the cancel pending for itself, and its await of that task throws
 * once the task is done, as asyncio's awaiting task gets the cancellation. A task whose
 * mark lands at an await already on its way (a second cancel, after the first one ended
 * what it awaits) counts: its await throws, as asyncio's child does, and the awaiting task
 * keeps nothing for itself.
 */
function interrupts(future: Future<unknown>, msg: string | undefined): boolean {
  // A `sleep(0)` is not cancelled: its wake-up delivers the cancel (see `isBareYield`).
  if (!future.done() && isBareYield(future)) return false;
  if (!future.cancel(msg)) return false;
  return !(future instanceof Task) || future.done() || !future._mustCancel || future._markLandsNow();
}

function compactDone(list: Future<unknown>[]): void {
  let j = 0;
  for (let i = 0; i < list.length; i++) if (!list[i]!.done()) list[j++] = list[i]!;
  list.length = j;
}

const never = (): boolean => false;

/** Whether the pending `future` a task awaits is a task that goes on soon itself (see `_goesOnSoon`). */
function goesOn(future: Future<unknown>, depth: number): boolean {
  return future instanceof Task && depth < 4 && future._goesOnSoon(depth + 1);
}

function stepTask(task: Task<unknown>): void {
  task._step();
}
markTaskStep(stepTask);

/**
 * Runs `fn` as a task on the running loop (the default loop outside any). asyncio's
 * `create_task`. Options: `name`, `signal` (aborting it cancels the task), `eagerStart`
 * (run `fn` synchronously up to its first await).
 *
 * @throws TypeError if `fn` is not a function.
 * @example
 * ```ts
 * const t = createTask(async () => { await sleep(10); return 42 }, { name: "answer" });
 * console.log(await t); // 42
 * ```
 */
export function createTask<T>(fn: TaskFunction<T>, options?: TaskOptions): Task<T> {
  checkFunction(fn, "task function");
  // Through the loop's own `createTask`, so a loop that overrides it makes the task (asyncio).
  return loopForCurrentCode().createTask(fn, options) as Task<T>;
}
