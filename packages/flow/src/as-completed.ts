import { TimeoutError, isCancelledError } from "@aiots/core";
import type { AwaitableLike, CancelledError, EventLoop, Handle } from "@aiots/core";
import { Deque, WaiterQueue, checkTimeout } from "@aiots/core/internal";
import { Future } from "@aiots/future";
import { collect, copyOutcome, thrownBy, toFutures, waitDone } from "./awaitables.js";

/**
 * Options of `asCompleted`.
 *
 * @example
 * ```ts
 * const it = asCompleted([sleep(10, "fast"), sleep(1000, "slow")], { timeout: 100 });
 * try {
 *   for await (const v of it) console.log(v); // "fast"
 * } catch (e) { console.log(e instanceof TimeoutError) } // true
 * ```
 */
export interface AsCompletedOptions {
  /** ms after which every result not yet in throws `TimeoutError` (`null`: no limit). */
  timeout?: number | null;
}

/** Queued in place of a child when the timeout passes: its awaiter gets a `TimeoutError`. */
const TIMED_OUT = Symbol("timed out");
type Slot<T> = Future<T> | typeof TIMED_OUT;

/**
 * The children in the order they finish (asyncio's `as_completed`), returned by
 * `asCompleted`. Two ways to use it:
 *
 * - `for (const next of it) { const v = await next }`: each item is an awaitable of the
 *   next child to finish, in the order *you await them* (so awaiting the second item first
 *   gives the first result).
 * - `for await (const v of it)`: the results themselves, in completion order; a failed
 *   child's error (or the `TimeoutError`) is thrown out of the loop.
 *
 * Ending a loop early (`break`, `return`, an error, or the timeout) closes it: the tasks
 * that asCompleted started from functions, which nobody else can reach, are cancelled, and
 * the `for await` form waits until they have finished. The Futures, Tasks and promises you
 * passed in are left alone. (asyncio cancels nothing, and lets a loop resume after `break`.)
 *
 * @example
 * ```ts
 * for (const next of asCompleted([sleep(30, "b"), sleep(10, "a")])) {
 *   console.log(await next); // "a", then "b"
 * }
 * ```
 */
export class AsCompleted<T> implements Iterable<PromiseLike<T>>, AsyncIterable<T> {
  /** @internal */ readonly _loop: EventLoop;
  /** @internal */ readonly _todo: Set<Future<T>>;
  /** @internal */ readonly _started: Future<T>[];
  /** @internal Finished children nobody has asked for yet. */
  readonly _ready = new Deque<Slot<T>>();
  /** @internal Awaiters waiting for the next finished child. */
  readonly _waiters = new WaiterQueue<Slot<T>>();
  /** @internal How many items are left to hand out. */
  _left: number;
  /** @internal */ _closed = false;
  /** @internal */ _startedCancelled = false;
  /** @internal */ _handle: Handle | undefined = undefined;

  /** @internal Use `asCompleted`. */
  constructor(children: Future<T>[], started: Future<T>[], loop: EventLoop, timeout: number | null) {
    this._loop = loop;
    this._todo = new Set(children);
    this._started = started;
    this._left = children.length;
    for (const f of children) f.addDoneCallback(this._onCompletion);
    if (children.length > 0 && timeout !== null && timeout !== Infinity) this._handle = loop.callLater(timeout, this._onTimeout);
  }

  /** @internal */
  readonly _onCompletion = (f: Future<T>): void => {
    if (!this._todo.delete(f)) return; // the timeout was first
    this._deliver(f);
    if (this._todo.size === 0 && this._handle !== undefined) this._handle.cancel();
  };

  /** @internal */
  readonly _onTimeout = (): void => {
    this._handle = undefined;
    for (const f of this._todo) {
      f.removeDoneCallback(this._onCompletion);
      this._deliver(TIMED_OUT);
    }
    this._todo.clear();
    // Nobody can get their results any more.
    this._cancelStarted();
  };

  /** @internal Cancels the tasks started here, once: a second cancel would cut their cleanup short. */
  _cancelStarted(): void {
    if (this._startedCancelled) return;
    this._startedCancelled = true;
    for (const f of this._started) f.cancel();
  }

  /** @internal Hands a finished child straight to the first awaiter, or queues it. */
  _deliver(slot: Slot<T>, again = false): void {
    waking = true;
    let woken: boolean;
    try {
      woken = this._waiters.wakeFirst(slot);
    } finally {
      waking = false;
    }
    if (woken) return;
    // A completion handed back goes first, as asyncio's queue of completions keeps it there.
    if (again) this._ready.unshift(slot);
    else this._ready.push(slot);
  }

  /** @internal A future of the next child to finish, settled as that child did. */
  _next(): Future<T> {
    const slot = this._ready.shift();
    if (slot !== undefined) {
      const out = new Future<T>(this._loop);
      settle(out, slot);
      return out;
    }
    // The awaited future waits in line itself: one cancelled before its child came is done,
    // so the line skips it and the child goes to the next one.
    const waiter = new NextWaiter<T>(this._loop);
    this._waiters.push(waiter as Future<unknown> as Future<Slot<T>>);
    return waiter;
  }

  /** @internal Stops the iteration: no more items, timer dropped, started tasks cancelled. */
  _close(): Future<T>[] {
    this._closed = true;
    this._left = 0;
    if (this._handle !== undefined) {
      this._handle.cancel();
      this._handle = undefined;
    }
    for (const f of this._todo) f.removeDoneCallback(this._onCompletion);
    this._todo.clear();
    this._cancelStarted();
    return this._started.filter((f) => !f.done());
  }

  [Symbol.iterator](): Iterator<PromiseLike<T>> {
    return {
      next: (): IteratorResult<PromiseLike<T>> => {
        if (this._left === 0) return { done: true, value: undefined };
        this._left--;
        return { done: false, value: new NextCompletion(this) };
      },
      return: (): IteratorResult<PromiseLike<T>> => {
        if (!this._closed && this._left > 0) this._close();
        return { done: true, value: undefined };
      },
    };
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: async (): Promise<IteratorResult<T>> => {
        if (this._left === 0) return { done: true, value: undefined };
        this._left--;
        try {
          return { done: false, value: await this._next() };
        } catch (error) {
          await waitDone(this._close(), this._loop);
          throw error;
        }
      },
      return: async (): Promise<IteratorResult<T>> => {
        if (!this._closed && this._left > 0) await waitDone(this._close(), this._loop);
        return { done: true, value: undefined };
      },
    };
  }

  get [Symbol.toStringTag](): string {
    return "AsCompleted";
  }

  toString(): string {
    return `AsCompleted [${this._closed ? "closed" : "open"}, left: ${this._left}, pending: ${this._todo.size}, ready: ${this._ready.length}]`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

/**
 * One item of the plain iteration: it claims the next finished child when first awaited,
 * not when made, so the first item awaited gets the first result (as asyncio's).
 */
class NextCompletion<T> implements PromiseLike<T> {
  #owner: AsCompleted<T>;
  #future: Future<T> | undefined = undefined;
  #awaits = 0;
  constructor(owner: AsCompleted<T>) {
    this.#owner = owner;
  }
  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): PromiseLike<R1 | R2> {
    // Called in the awaiting task's context, so the task's cancel reaches the Future.
    const future = (this.#future ??= this.#owner._next());
    this.#awaits++;
    if (!(future instanceof NextWaiter)) return future.then(onFulfilled, onRejected);
    return future.then(onFulfilled, (reason: unknown) => {
      // The awaiting task was cancelled after a completion reached its wait, before it
      // resumed: the completion goes to the next wait (asyncio's getter of a queue of
      // completions leaves it there), unless another await of this item took it too.
      const slot = future._slot;
      if (slot !== undefined && this.#awaits === 1 && isCancelledError(reason) && !future.cancelled() && future.exception() !== reason) {
        future._slot = undefined;
        this.#owner._deliver(slot, true);
        // Awaited again, this item claims the next completion, as a fresh one would.
        this.#future = undefined;
        this.#awaits = 0;
      }
      if (typeof onRejected !== "function") throw reason;
      return onRejected(reason);
    });
  }
}

/** The future of a `_next()` that had to wait: woken with a slot, it settles as that slot says. */
class NextWaiter<T> extends Future<T> {
  /** The completion this wait was woken with, until it is known to have reached its awaiter. */
  _slot: Slot<T> | undefined = undefined;

  override setResult(value: T): void {
    if (!waking) {
      super.setResult(value);
      return;
    }
    // Woken by `_deliver` with a slot; `settle` calls back (with `waking` off) with the outcome.
    waking = false;
    this._slot = value as unknown as Slot<T>;
    settle(this, this._slot);
  }
}

/** True while `_deliver` wakes a waiter: its `setResult` then receives a slot. */
let waking = false;

function settle<T>(out: Future<T>, slot: Slot<T>): void {
  if (slot === TIMED_OUT) out.setException(new TimeoutError("asCompleted timed out"));
  // A cancelled child: the await throws that child's own CancelledError (its message), as
  // asyncio's `result()` of the child raises it.
  else if (slot.cancelled()) out._cancelWith(thrownBy(slot)!.error as CancelledError);
  else copyOutcome(slot, out);
}

/**
 * The awaitables in the order they finish (asyncio's `as_completed`); see `AsCompleted`
 * for the two ways to iterate. With `timeout`, every result not in by then throws
 * `TimeoutError` (the children themselves are not cancelled, except tasks asCompleted
 * started from functions, whose results nobody could get any more).
 *
 * @throws TypeError at the call if `aws` is not an iterable of Futures, promises or
 *   functions; TypeError/RangeError for a bad `timeout`. Nothing is started then.
 * @example
 * ```ts
 * for await (const page of asCompleted(urls.map((u) => () => fetchPage(u)), { timeout: 5000 })) {
 *   console.log(page.title); // fastest first
 * }
 * ```
 */
export function asCompleted<T>(aws: Iterable<AwaitableLike<T>>, options?: AsCompletedOptions): AsCompleted<T> {
  if (options !== undefined && options !== null && typeof options !== "object") {
    throw new TypeError(`asCompleted options must be an object, got ${typeof options}`);
  }
  const timeout = options?.timeout;
  checkTimeout(timeout, "asCompleted timeout");
  const items = collect(aws, "asCompleted");
  const { loop, unique, started } = toFutures(items, "asCompleted");
  return new AsCompleted(unique, started, loop, timeout ?? null);
}
