/**
 * The typed interfaces every aiots package talks through. Primitives (sync, queue,
 * flow) depend on these, never on a concrete loop class, so any loop that implements
 * `EventLoop` drives them: the host loop, the virtual-time loop, or a user's own.
 */

/**
 * A callback scheduled with `callSoon` (asyncio's `Handle`).
 *
 * @example
 * ```ts
 * const handle: Handle = getEventLoop().callSoon(() => console.log("never printed"));
 * handle.cancel();
 * console.log(handle.cancelled()); // true
 * ```
 */
export interface Handle {
  /** Stops the callback from running; does nothing if it already ran. */
  cancel(): void;
  /** Whether `cancel()` was called. */
  cancelled(): boolean;
}

/**
 * A callback scheduled with `callLater`/`callAt` (asyncio's `TimerHandle`).
 *
 * @example
 * ```ts
 * const loop = new VirtualTimeLoop();
 * const timer: TimerHandle = loop.callLater(1000, () => console.log("never printed"));
 * console.log(timer.when()); // 1000
 * timer.cancel();
 * ```
 */
export interface TimerHandle extends Handle {
  /** The loop time (ms) at which the callback is scheduled to run. */
  when(): number;
}

/**
 * What a loop's exception handler is given (asyncio's exception-handler context).
 *
 * @example
 * ```ts
 * getEventLoop().setExceptionHandler((_, context) => {
 *   console.log(context.message, (context.exception as Error).message); // "Exception in callback boom" "oops"
 * });
 * getEventLoop().callSoon(function boom() { throw new Error("oops") });
 * ```
 */
export interface ExceptionContext {
  /** What went wrong, in words. */
  message: string;
  /** The error, when there is one. */
  exception?: unknown;
  /** The future or task concerned, when there is one. */
  future?: FutureLike<unknown>;
  /** The task concerned, when there is one. */
  task?: TaskLike<unknown>;
  /** The handle whose callback threw, when there is one. */
  handle?: Handle;
  /** Anything else a reporter wants to pass on. */
  [key: string]: unknown;
}

/**
 * A loop's exception handler: `(loop, context)`, as asyncio's.
 *
 * @example
 * ```ts
 * const quietAboutCancels: ExceptionHandler = (loop, context) => {
 *   if (!isCancelledError(context.exception)) loop.defaultExceptionHandler(context);
 * };
 * getEventLoop().setExceptionHandler(quietAboutCancels);
 * ```
 */
export type ExceptionHandler = (loop: EventLoop, context: ExceptionContext) => void;

/**
 * Options of `createTask`.
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * const task = createTask(() => sleep(1000), { name: "poller", signal: controller.signal });
 * controller.abort();
 * try { await task } catch { console.log(task.getName(), task.cancelled()) } // "poller" true
 * ```
 */
export interface TaskOptions {
  /** The task's name (default `Task-N`). */
  name?: string;
  /** Aborting this signal cancels the task. */
  signal?: AbortSignal;
  /**
   * Start running the function synchronously, inside `createTask`, up to its first wait
   * (asyncio's eager tasks). Only on a running loop, or from a task or callback of the loop
   * (the default loop of plain async code); elsewhere the first step is scheduled as usual,
   * as in asyncio.
   */
  eagerStart?: boolean;
}

/**
 * Options of every method that waits: an `AbortSignal` for code outside tasks.
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * const waiting = new Event().wait({ signal: controller.signal });
 * controller.abort(new Error("gave up"));
 * try { await waiting } catch (e) { console.log((e as Error).message) } // "gave up"
 * ```
 */
export interface WaitOptions {
  /** Aborting it withdraws this one wait, which rejects with the signal's `reason`. */
  signal?: AbortSignal;
}

/**
 * A function that can be run as a task.
 *
 * @example
 * ```ts
 * const answer: TaskFunction<number> = async () => { await sleep(10); return 42 };
 * console.log(await createTask(answer)); // 42
 * ```
 */
export type TaskFunction<T> = () => T | PromiseLike<T>;

/**
 * A Future (asyncio's `Future`), as the other packages see it.
 *
 * @example
 * ```ts
 * const fut: FutureLike<number> = getEventLoop().createFuture<number>();
 * fut.addDoneCallback((f) => console.log("done:", f.result())); // "done: 7"
 * fut.setResult(7);
 * ```
 */
export interface FutureLike<T> extends PromiseLike<T> {
  /** The result; throws the exception, `CancelledError`, or `InvalidStateError` if pending. */
  result(): T;
  /** The exception (`null` if none); throws `CancelledError` or `InvalidStateError` if pending. */
  exception(): unknown;
  /** Whether the future has a result, an exception, or was cancelled. */
  done(): boolean;
  /** Whether the future was cancelled. */
  cancelled(): boolean;
  /** Cancels a pending future; returns `false` if it was already done. */
  cancel(msg?: string): boolean;
  /** Sets the result; throws `InvalidStateError` if done. */
  setResult(value: T): void;
  /** Sets the exception; throws `InvalidStateError` if done. */
  setException(error: unknown): void;
  /** Schedules `cb(future)` with `callSoon` once the future is done. */
  addDoneCallback(cb: (future: FutureLike<T>) => void): void;
  /** Removes every registration of `cb`; returns how many were removed. */
  removeDoneCallback(cb: (future: FutureLike<T>) => void): number;
  /** The loop the future belongs to. */
  getLoop(): EventLoop;
}

/**
 * A Task (asyncio's `Task`), as the other packages see it.
 *
 * @example
 * ```ts
 * const task: TaskLike<void> = createTask(() => sleep(1000), { name: "worker" });
 * task.signal.addEventListener("abort", () => console.log("aborted"));
 * task.cancel(); // "aborted"
 * console.log(task.getName(), task.cancelling()); // "worker" 1
 * ```
 */
export interface TaskLike<T> extends FutureLike<T> {
  getName(): string;
  setName(name: string): void;
  /** How many cancellation requests are pending (asyncio 3.11+). */
  cancelling(): number;
  /** Takes back one cancellation request; returns the count left. */
  uncancel(): number;
  /** Aborted when the task is cancelled, so signal-aware APIs (`fetch`) stop too. */
  readonly signal: AbortSignal;
}

/**
 * What `gather`, `wait`, `waitFor`... accept: a Future or Task, any promise or thenable,
 * or a function (run as a task on the current loop, so it can be interrupted).
 *
 * @example
 * ```ts
 * const inputs: AwaitableLike<number>[] = [sleep(10, 1), Promise.resolve(2), async () => 3];
 * console.log(await gather(inputs)); // [1, 2, 3]
 * ```
 */
export type AwaitableLike<T> = FutureLike<T> | PromiseLike<T> | TaskFunction<T>;

/**
 * An event loop (asyncio's `AbstractEventLoop`, the parts aiots uses). Times are in milliseconds.
 * (The `aiots` package exports it as the type `AbstractEventLoop`; its `EventLoop` is the host loop class.)
 *
 * @example
 * ```ts
 * function delay(loop: EventLoop, ms: number): FutureLike<void> {
 *   const fut = loop.createFuture<void>();
 *   loop.callLater(ms, () => fut.setResult());
 *   return fut;
 * }
 * await delay(getEventLoop(), 50);
 * ```
 */
export interface EventLoop {
  /** Monotonic time in ms. */
  time(): number;
  /** Runs `cb(...args)` on the next loop iteration, FIFO. */
  callSoon<A extends unknown[]>(cb: (...args: A) => unknown, ...args: A): Handle;
  /** Runs `cb(...args)` after `delay` ms (negative means now, `Infinity` never). */
  callLater<A extends unknown[]>(delay: number, cb: (...args: A) => unknown, ...args: A): TimerHandle;
  /** Runs `cb(...args)` at loop time `when`. */
  callAt<A extends unknown[]>(when: number, cb: (...args: A) => unknown, ...args: A): TimerHandle;
  /** A new pending future bound to this loop. */
  createFuture<T>(): FutureLike<T>;
  /** Runs `fn` as a task of this loop. */
  createTask<T>(fn: TaskFunction<T>, options?: TaskOptions): TaskLike<T>;
  /** Runs the loop until `fnOrAwaitable` is done; resolves to its result. */
  runUntilComplete<T>(fnOrAwaitable: AwaitableLike<T>): Promise<T>;
  /** Runs the loop until `stop()`. */
  runForever(): Promise<void>;
  /** Makes `runForever`/`runUntilComplete` return after the current iteration. */
  stop(): void;
  isRunning(): boolean;
  /** Drops every scheduled callback; the loop then refuses new ones. */
  close(): void;
  isClosed(): boolean;
  setExceptionHandler(handler: ExceptionHandler | null): void;
  getExceptionHandler(): ExceptionHandler | null;
  callExceptionHandler(context: ExceptionContext): void;
  defaultExceptionHandler(context: ExceptionContext): void;
  setDebug(enabled: boolean): void;
  getDebug(): boolean;
  /** Callbacks slower than this (ms) are reported in debug mode. */
  slowCallbackDuration: number;
}
