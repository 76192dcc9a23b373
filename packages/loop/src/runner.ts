import { isCancelledError } from "@aiots/core";
import { checkObject, checkOptionalBoolean, contextHere, runningLoopOrUndefined } from "@aiots/core/internal";
import type { EventLoop as EventLoopInterface, TaskFunction } from "@aiots/core";
import { allTasks, isFuture } from "@aiots/future";
import type { Task } from "@aiots/future";
import type { AsyncResource } from "node:async_hooks";
import { isMainThread } from "node:worker_threads";
import { EventLoop } from "./event-loop.js";

const ignore = (): void => {};

/**
 * Options of `run` and `Runner`.
 *
 * @example
 * ```ts
 * const loop = new VirtualTimeLoop();
 * await run(async () => {
 *   await sleep(60_000);
 *   console.log(loop.time(), loop.getDebug()); // 60000 true, at once
 * }, { loop, debug: true });
 * ```
 */
export interface RunOptions {
  /** Turn the loop's debug mode on (or off). */
  debug?: boolean;
  /** The loop to run on instead of a fresh host loop, such as a `VirtualTimeLoop`. */
  loop?: EventLoopInterface;
}

const RUNNER_STATES = ["created", "initialized", "closed"] as const;
type RunnerState = (typeof RUNNER_STATES)[number];

/** Exit code of a process ended by SIGINT, as shells report it. */
const SIGINT_EXIT_CODE = 130;

/**
 * Runs main functions on one loop, one after the other, and cleans up at `close()`
 * (asyncio's `Runner`). `run(fn)` runs `fn` as the main task; `close()` cancels every task
 * still pending, waits for them, and closes the loop. Usable with `await using`.
 *
 * In a Node.js process, while `run` is in progress and nothing else listens for SIGINT,
 * Ctrl-C cancels the main task (its `finally` blocks run), then the runner closes and the
 * process exits with code 130 and no stack trace. A second Ctrl-C exits at once. If code
 * had cancelled main too, `run` rejects with the `CancelledError` instead, for that code to
 * handle (asyncio).
 *
 * @example
 * ```ts
 * await using runner = new Runner({ debug: true });
 * await runner.run(async () => sleep(10));
 * await runner.run(async () => console.log("same loop:", runner.getLoop().isClosed())); // false
 * ```
 */
export class Runner {
  /** @internal */ _state: RunnerState = "created";
  /** @internal */ _loop: EventLoopInterface | undefined;
  /** @internal */ readonly _options: RunOptions;
  /** @internal The async context taken when the loop was made: where every run's main starts. */
  _context: AsyncResource | undefined;

  /**
   * @throws TypeError (at construction) if `options` is not an object, `options.loop` not an
   *   event loop, or `options.debug` not a boolean.
   */
  constructor(options: RunOptions = {}) {
    checkObject(options, "Runner options");
    const { loop, debug } = options;
    if (loop !== undefined && (loop === null || typeof loop !== "object" || typeof loop.runUntilComplete !== "function")) {
      throw new TypeError("Runner option loop must be an EventLoop");
    }
    checkOptionalBoolean(debug, "Runner option debug");
    this._options = options;
  }

  /** The runner's loop (made on first use). */
  getLoop(): EventLoopInterface {
    this._lazyInit();
    return this._loop!;
  }

  /**
   * Runs `main` as the main task and resolves to its result. `main` may also be an
   * awaitable, which the main task awaits (asyncio 3.14): a Future of this runner's loop
   * (`getLoop()`), or any thenable. Unlike a Python coroutine, a promise is work that has
   * started already, outside the run (`run(main())` runs `main` outside the loop, with no
   * running loop and no main task): pass the function itself to run it as the main task.
   * Every run starts in the async context the runner had when it made its loop (asyncio's
   * runner context), not in the context of the code that calls `run`.
   *
   * @throws (at the call) TypeError if `main` is neither a function nor a thenable; Error if
   *   the runner is closed, a run is in progress, or the caller runs inside a loop.
   */
  run<T>(main: TaskFunction<T> | PromiseLike<T>): Promise<T> {
    if (typeof main !== "function") {
      if (main === null || typeof main !== "object" || typeof (main as PromiseLike<T>).then !== "function") {
        throw new TypeError(`run needs an async function or an awaitable, got ${main === null ? "null" : typeof main}`);
      }
      const awaitable = main;
      // A promise is already running (its work started outside this run): its rejection is
      // the main task's, seen once the task starts, not an unhandled one before that.
      if (awaitable instanceof Promise && !isFuture(awaitable)) awaitable.then(undefined, ignore);
      main = () => awaitable;
    }
    // As in asyncio: a run inside the code of a running loop would block nothing in
    // JavaScript, but it would give that code a second, unrelated loop. Await instead.
    if (runningLoopOrUndefined() !== undefined) throw new Error("run() cannot be called from a running event loop");
    this._lazyInit();
    const loop = this._loop!;
    if (loop.isRunning()) throw new Error("Runner.run() cannot be called while a run is in progress");
    return this._run(loop, main);
  }

  /** @internal */
  async _run<T>(loop: EventLoopInterface, main: TaskFunction<T>): Promise<T> {
    let task: Task<T> | undefined;
    let interrupted = false;
    const onSigint = () => {
      if (interrupted || task === undefined || task.done()) process.exit(SIGINT_EXIT_CODE);
      interrupted = true;
      task.cancel("interrupted by SIGINT");
    };
    let listen = canHandleSigint();
    if (listen) {
      try {
        process.on("SIGINT", onSigint);
      } catch {
        // The host refused the handler (asyncio goes on without it too): no Ctrl-C handling.
        process.off("SIGINT", onSigint);
        listen = false;
      }
    }
    try {
      task = this._context!.runInAsyncScope(() => loop.createTask(main, { name: "main" })) as Task<T>;
      return await loop.runUntilComplete(task);
    } catch (error) {
      // Ctrl-C ends the process only if its cancel is the one that ended main: if code
      // cancelled main too, the CancelledError is that code's to handle (asyncio).
      if (interrupted && isCancelledError(error) && task !== undefined && task.cancelled() && task.uncancel() === 0) {
        await this.close();
        process.exit(SIGINT_EXIT_CODE);
      }
      throw error;
    } finally {
      if (listen) process.off("SIGINT", onSigint);
    }
  }

  /**
   * Cancels the tasks still pending, waits for them, and closes the loop (if the runner made
   * it or was given it). A runner that has not made its loop yet has nothing to close and
   * stays usable, as in asyncio. Called from code the loop runs (its main), it cancels the
   * tasks, then rejects with "Cannot close a running event loop" and leaves the runner open,
   * so that a `close()` after the run closes the loop (asyncio).
   */
  async close(): Promise<void> {
    if (this._state !== "initialized") return;
    const loop = this._loop!;
    try {
      await cancelAllTasks(loop);
    } finally {
      loop.close(); // throws on a running loop, before the runner counts as closed
      this._state = "closed";
      this._context = undefined;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** @internal */
  _lazyInit(): void {
    if (this._state === "closed") throw new Error("Runner is closed");
    if (this._state === "initialized") return;
    const loop = this._options.loop ?? new EventLoop();
    if (loop.isClosed()) throw new Error("Event loop is closed");
    const debug = this._options.debug;
    if (debug !== undefined && debug !== null) loop.setDebug(debug);
    this._loop = loop;
    this._context = contextHere();
    this._state = "initialized";
  }
}

function canHandleSigint(): boolean {
  return typeof process !== "undefined" && typeof process.on === "function" && process.listenerCount("SIGINT") === 0 && isMainThread;
}

/** asyncio's `_cancel_all_tasks`: cancel every pending task of `loop` and wait for all of them. */
async function cancelAllTasks(loop: EventLoopInterface): Promise<void> {
  const tasks = [...allTasks(loop)];
  if (tasks.length === 0) return;
  for (const task of tasks) task.cancel();
  await loop.runUntilComplete(() => settleAll(tasks));
  for (const task of tasks) {
    if (task.cancelled()) continue;
    const error = task.exception();
    if (error !== null) {
      loop.callExceptionHandler({ message: "unhandled exception during run() shutdown", exception: error, task });
    }
  }
}

function settleAll(tasks: Task<unknown>[]): Promise<void> {
  return new Promise<void>((resolve) => {
    let left = tasks.length;
    const one = () => {
      if (--left === 0) resolve();
    };
    for (const task of tasks) task.addDoneCallback(one);
  });
}

/**
 * Runs `main` as the main task of a fresh loop (or of `options.loop`), then cancels what
 * is still pending and closes the loop; resolves to `main`'s result (asyncio's `run`).
 * `main` is an async function, or an awaitable that the main task awaits (asyncio 3.14; see
 * `Runner.run`: pass the function, not a promise of it, to run it inside the loop).
 * In a Node.js script, Ctrl-C cancels `main`, lets its `finally` blocks run, and exits
 * with code 130 (see `Runner`).
 *
 * @example
 * ```ts
 * const result = await run(async () => {
 *   await sleep(100);
 *   return "done";
 * });
 * console.log(result); // "done"
 * ```
 */
export function run<T>(main: TaskFunction<T> | PromiseLike<T>, options: RunOptions = {}): Promise<T> {
  const runner = new Runner(options);
  const started = runner.run(main); // bad input throws here, at the call
  return finish(runner, started);
}

async function finish<T>(runner: Runner, started: Promise<T>): Promise<T> {
  try {
    return await started;
  } finally {
    await runner.close();
  }
}
