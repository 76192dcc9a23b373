/**
 * What every flow function does with its input (internal): check it at the call, turn it
 * into Futures of one loop, and read outcomes without tripping over odd exceptions.
 */
import type { AwaitableLike, EventLoop, FutureLike } from "@aiots/core";
import { follow, markInline, promiseSettled } from "@aiots/core/internal";
import { Future, ensureFuture, isFuture } from "@aiots/future";
import { getEventLoop } from "@aiots/loop";

/**
 * The result type of one awaitable: a function's awaited return value, else the awaited value.
 *
 * @example
 * ```ts
 * type FromFunction = AwaitedResult<() => Promise<number>>; // number
 * type FromFuture = AwaitedResult<Future<string>>; // string
 * const pair: [FromFunction, FromFuture] = [1, "one"];
 * ```
 */
export type AwaitedResult<A> = A extends (...args: never[]) => infer R ? Awaited<R> : Awaited<A>;

/** The input after checking and conversion. */
export interface Children<T> {
  /** The loop every child belongs to. */
  readonly loop: EventLoop;
  /** One Future per input position (a duplicate input maps to the same Future). */
  readonly perItem: Future<T>[];
  /** Each distinct Future once, in first-seen order. */
  readonly unique: Future<T>[];
  /** The Tasks started here from functions: nobody else holds them. */
  readonly started: Future<T>[];
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (isFuture(value)) return "a Future";
  if (typeof value === "object" && typeof (value as PromiseLike<unknown>).then === "function") return "a promise";
  return typeof value;
}

function isAwaitable(value: unknown): value is AwaitableLike<unknown> {
  if (typeof value === "function") return true;
  return typeof value === "object" && value !== null && typeof (value as PromiseLike<unknown>).then === "function";
}

/**
 * Reads `aws` into an array, throwing `TypeError` (before anything is started) if it is not
 * an iterable of awaitables. A single Future or promise is refused: asyncio does the same,
 * because `wait(fut)` is almost always a forgotten pair of brackets.
 */
export function collect<T>(aws: Iterable<AwaitableLike<T>>, what: string): AwaitableLike<T>[] {
  if (aws === null || typeof aws !== "object" || typeof (aws as Iterable<unknown>)[Symbol.iterator] !== "function") {
    throw new TypeError(`${what} expects an iterable of awaitables, got ${describe(aws)}`);
  }
  if (isAwaitable(aws)) throw new TypeError(`${what} expects an iterable of awaitables, got ${describe(aws)}; wrap it in an array`);
  const items = Array.from(aws);
  for (let i = 0; i < items.length; i++) {
    if (!isAwaitable(items[i])) {
      throw new TypeError(`${what}: item ${i} must be a Future, a promise or a function, got ${describe(items[i])}`);
    }
  }
  return items;
}

/**
 * Turns checked items into Futures of one loop: Futures as they are, functions started as
 * Tasks (run at once, up to their first wait, with `eager`), promises wrapped. The same
 * Future or function given twice becomes one child (as in asyncio); a plain promise given
 * twice is two children (an uncontended acquire's shared settled promise stands for one
 * permit each time). With `inline` (waitFor, which asyncio
 * runs inside the caller's step), a function's task and a promise's wrapper are marked so
 * that an outcome on its way back is not dropped by a late cancel of the caller.
 *
 * @throws RangeError if two Futures belong to different loops (nothing is started then).
 */
export function toFutures<T>(items: AwaitableLike<T>[], what: string, eager = false, inline = false): Children<T> {
  let loop: EventLoop | undefined;
  for (const item of items) {
    if (!isFuture(item)) continue;
    const own = (item as FutureLike<T>).getLoop();
    if (loop === undefined) loop = own;
    else if (own !== loop) throw new RangeError(`${what}: every Future must belong to the same event loop`);
  }
  loop ??= getEventLoop();
  const seen = new Map<unknown, Future<T>>();
  const perItem: Future<T>[] = [];
  const unique: Future<T>[] = [];
  const started: Future<T>[] = [];
  for (const item of items) {
    // A plain promise is not shared: an uncontended acquire returns one shared settled
    // promise, and two such acquires are two permits, not one child.
    const shared = isFuture(item) || typeof item === "function";
    let future = shared ? seen.get(item) : undefined;
    if (future === undefined) {
      if (typeof item === "function") future = eager ? inlineTask(loop, item) : ensureFuture(item, loop);
      else if (isFuture(item)) future = ensureFuture(item as AwaitableLike<T>, loop);
      else future = promiseChild(loop, item as PromiseLike<T>, inline);
      seen.set(item, future);
      unique.push(future);
      if (typeof item === "function") started.push(future);
    }
    perItem.push(future);
  }
  return { loop, perItem, unique, started };
}

/**
 * A function run as asyncio runs a coroutine inside the caller's step: at once, and marked
 * so that a cancel of the caller after the function finished does not drop its outcome.
 */
function inlineTask<T>(loop: EventLoop, fn: () => T | PromiseLike<T>): Future<T> {
  const task = loop.createTask(fn, { eagerStart: true });
  markInline(task);
  return ensureFuture(task, loop);
}

/**
 * A promise as a child: a wrapper future that settles as it does. The promise is work the
 * caller started, which nothing can interrupt, so once it has settled the wrapper refuses a
 * cancel (its value, maybe an item or a lock an uncontended call took, is on its way). With
 * `inline` (waitFor, which asyncio runs inside the caller's step) it is also marked so that a
 * late cancel of the caller lands at the caller's next await instead of dropping that value.
 */
function promiseChild<T>(loop: EventLoop, promise: PromiseLike<T>, inline: boolean): Future<T> {
  const future = new SettlingWrapper<T>(loop, promise);
  follow(promise, future);
  if (inline) markInline(future, true);
  return future;
}

class SettlingWrapper<T> extends Future<T> {
  readonly _promise: PromiseLike<T>;

  constructor(loop: EventLoop, promise: PromiseLike<T>) {
    super(loop);
    this._promise = promise;
  }

  override cancel(msg?: string): boolean {
    if (!this.done() && promiseSettled(this._promise)) return false;
    return super.cancel(msg);
  }
}

/**
 * What `result()` of a done future throws (its error, or its `CancelledError`), boxed so
 * that `throw undefined` is still seen; undefined if it has a result.
 */
export function thrownBy(future: FutureLike<unknown>): { error: unknown } | undefined {
  try {
    future.result();
    return undefined;
  } catch (error) {
    return { error };
  }
}

/** The error a done future failed with, boxed (see `thrownBy`); undefined if it did not fail or was cancelled. */
export function failureOf(future: FutureLike<unknown>): { error: unknown } | undefined {
  return future.cancelled() ? undefined : thrownBy(future);
}

/** Copies the outcome of the done future `from` into the pending `to`. */
export function copyOutcome<T>(from: FutureLike<T>, to: FutureLike<T>): void {
  if (to.done()) return;
  if (from.cancelled()) {
    to.cancel();
    return;
  }
  const failure = failureOf(from);
  if (failure !== undefined) to.setException(failure.error);
  else to.setResult(from.result());
}

/**
 * A future of `loop` that resolves once every future in `futures` is done. Its done
 * callbacks are removed when it settles, so cancelling it leaves nothing behind.
 */
export function allDone(futures: readonly FutureLike<unknown>[], loop: EventLoop): Future<void> {
  const waiter = new Future<void>(loop);
  let left = 0;
  for (const f of futures) if (!f.done()) left++;
  if (left === 0) {
    waiter.setResult(undefined);
    return waiter;
  }
  const one = () => {
    if (--left === 0 && !waiter.done()) waiter.setResult(undefined);
  };
  for (const f of futures) if (!f.done()) f.addDoneCallback(one);
  waiter.addDoneCallback(() => {
    for (const f of futures) f.removeDoneCallback(one);
  });
  return waiter;
}

/**
 * Cancels every pending future in `futures` and waits until all are done (see `waitDone`).
 */
export async function cancelAndWait(futures: readonly FutureLike<unknown>[], loop: EventLoop): Promise<void> {
  const pending = futures.filter((f) => !f.done());
  if (pending.length === 0) return;
  // Their done callbacks, registered first, say when they are done (asyncio's
  // `_cancel_and_wait`): a loop turn later even when the cancel ends them at once.
  const first = allDone(pending, loop);
  for (const f of pending) f.cancel();
  await waitDone(pending, loop, first);
}

/**
 * Waits until every future in `futures` is done, so none outlives the caller. A cancel of
 * the caller during the wait does not cut it short (as asyncio's TaskGroup keeps waiting
 * for its children): the wait goes on, and the `CancelledError` is thrown once every future
 * is done. The futures are not cancelled again: that would interrupt their cleanup. `first`,
 * an `allDone` of theirs made earlier, is awaited first, even if they are all done by now.
 */
export async function waitDone(futures: readonly FutureLike<unknown>[], loop: EventLoop, first?: Future<void>): Promise<void> {
  let pending = futures.filter((f) => !f.done());
  let interrupted: { error: unknown } | undefined;
  let next = first;
  while (next !== undefined || pending.length > 0) {
    const waiter = next ?? allDone(pending, loop);
    next = undefined;
    try {
      await waiter;
    } catch (error) {
      interrupted ??= { error };
    } finally {
      waiter.cancel();
    }
    pending = pending.filter((f) => !f.done());
  }
  if (interrupted !== undefined) throw interrupted.error;
}
