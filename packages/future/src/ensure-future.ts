
import { checkLoop, follow, loopForCurrentCode } from "@aiots/core/internal";
import type { AwaitableLike, EventLoop, FutureLike } from "@aiots/core";
import { Future, isFuture } from "./future.js";

/**
 * Turns any awaitable into a Future (asyncio's `ensure_future`): a Future or Task is
 * returned as it is; a function is started as a Task (so it can be interrupted); a promise
 * or other thenable is wrapped in a Future that settles with it. Cancelling that wrapper
 * settles it at once, but the promise itself runs on: a plain promise cannot be stopped.
 *
 * @throws TypeError for anything else, or if `loop` is given and is not an event loop;
 *   RangeError if `loop` is given and a Future belongs to another loop.
 * @example
 * ```ts
 * const f = ensureFuture(Promise.resolve(1));
 * console.log(await f, f.done()); // 1 true
 * ```
 */
export function ensureFuture<T>(awaitable: AwaitableLike<T>, loop?: EventLoop): Future<T> {
  if (loop === null) loop = undefined; // none given, as asyncio's `loop=None`
  if (loop !== undefined) checkLoop(loop, "ensureFuture loop");
  if (isFuture(awaitable)) {
    if (loop !== undefined) {
      // A future made without a loop, and not used yet, is taken to be `loop`'s.
      const own = awaitable instanceof Future ? (awaitable._loop ??= loop) : (awaitable as FutureLike<T>).getLoop();
      if (own !== loop) throw new RangeError("The future belongs to a different loop than the one specified as the loop argument");
    }
    return awaitable as Future<T>;
  }
  if (typeof awaitable === "function") return (loop ?? loopForCurrentCode()).createTask(awaitable) as unknown as Future<T>;
  if (awaitable !== null && typeof awaitable === "object" && typeof (awaitable as PromiseLike<T>).then === "function") {
    const future = new Future<T>(loop ?? loopForCurrentCode());
    follow(awaitable as PromiseLike<T>, future);
    return future;
  }
  throw new TypeError(`An aiots Future, a promise, a thenable or a function is required, got ${awaitable === null ? "null" : typeof awaitable}`);
}
