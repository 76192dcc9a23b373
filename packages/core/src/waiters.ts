import { Deque } from "./deque.js";
import { isCancelledError } from "./errors.js";
import type { EventLoop, FutureLike } from "./interfaces.js";

/**
 * Queues a foreign future's delivered-callback: a reaction on a settled promise is a plain
 * microtask, about five times cheaper on Node 24 than `queueMicrotask`, which makes an
 * async resource for each call.
 */
const SETTLED = Promise.resolve();

/** The hook slots aiots futures have; a foreign future falls back to a done callback. */
interface Hookable {
  _onSettle?: ((future: never) => void) | undefined;
  _onDropped?: ((value: never) => void) | undefined;
  _onDelivered?: ((future: never) => void) | undefined;
}

/**
 * Calls `giveBack(value)` if `future`'s result is dropped: the task awaiting it was cancelled
 * after the future was resolved but before the task's code resumed, so (as in asyncio) its
 * `await` threw `CancelledError` instead of returning the value. A primitive that hands
 * something over by resolving a waiter future (a lock, a permit, a queue item) registers
 * here to take it back and pass it on. Foreign futures never drop a result (internal).
 */
export function onDropped<T>(future: FutureLike<T>, giveBack: (value: T) => void): void {
  const f = future as FutureLike<T> & Hookable;
  if ("_onDropped" in f) f._onDropped = giveBack as (value: never) => void;
}

/**
 * Whether the done `future` has yet to reach the code that awaits it: a task awaits it and has
 * not resumed from it, or its wake-up waits in the loop's ready queue. False for a future
 * nobody awaited when it settled, and for foreign futures (internal).
 */
export function stillOnItsWay(future: FutureLike<unknown>): boolean {
  const f = future as FutureLike<unknown> & { _reactions?: unknown; _nativeWaiter?: unknown };
  return f._reactions !== undefined || (f._nativeWaiter !== undefined && f._nativeWaiter !== null);
}

/**
 * Settles `future` as `thenable` settles, unless it is done by then: a rejection with a
 * `CancelledError` cancels it, with that very error on an aiots future (as asyncio copies a
 * cancelled future's state, and a task whose coroutine raises `CancelledError` ends
 * cancelled), also one whose `cancel` would refuse; a foreign future that refuses fails
 * with the error instead (internal).
 */
export function follow<T>(thenable: PromiseLike<T>, future: FutureLike<T>): void {
  thenable.then(
    (value) => {
      if (!future.done()) future.setResult(value);
    },
    (error: unknown) => {
      if (future.done()) return;
      if (isCancelledError(error)) {
        // An aiots future is cancelled with that very error, past a refusal of its own cancel
        // (a wrapper that takes no cancel once its source settled); a foreign one as it can.
        const f = future as FutureLike<T> & { _cancelWith?: (error: unknown) => boolean };
        if (f._cancelWith !== undefined ? f._cancelWith(error) : future.cancel(error.message === "" ? undefined : error.message)) return;
      }
      if (!future.done()) future.setException(error);
    },
  );
}

/**
 * Calls `hook(future)` when `future` settles. On an aiots future it runs synchronously,
 * inside `cancel()`/`setResult()`/`setException()`, so a waiter leaves its queue at the
 * very moment it is cancelled; on any other `FutureLike` it runs as a done callback (internal).
 */
export function onSettle<T>(future: FutureLike<T>, hook: (future: FutureLike<T>) => void): void {
  const f = future as FutureLike<T> & Hookable;
  if ("_onSettle" in f) {
    const previous = f._onSettle as ((future: FutureLike<T>) => void) | undefined;
    f._onSettle = (previous === undefined ? hook : (x: FutureLike<T>) => {
      previous(x);
      hook(x);
    }) as (future: never) => void;
  } else {
    future.addDoneCallback(hook);
  }
}

/**
 * The FIFO of waiters every primitive shares (CPython's deque of futures, esfx's wait
 * queue). A waiter is a future of the primitive's loop; `wakeFirst` hands ownership
 * straight to the first live waiter by resolving its future, so nobody can barge in
 * between release and wake-up. A waiter that is cancelled or aborted leaves the count at
 * once (and the buffer lazily: dead entries are skipped, and compacted away when they
 * outnumber the live ones), so `size` is always the number of live waiters.
 *
 * A waiter whose task is cancelled after the hand-over, before it resumes, throws
 * `CancelledError` at its await, as in asyncio: the primitive registers `onDropped` on the
 * waiter to take back what it handed over and pass it on (internal).
 */
export class WaiterQueue<T> {
  /** @internal */ readonly _waiters = new Deque<FutureLike<T>>();
  /** @internal */ _live = 0;
  /**
   * Woken waiters whose `await` is not delivered yet. Counted only for a queue made with
   * `onDelivered`: a primitive that must know when a hand-over has landed (a Semaphore
   * stays locked until then, a Queue keeps the item's slot).
   */
  handing = 0;
  /**
   * @internal Runs `onDelivered` for a woken waiter, once its `await` was delivered (typed
   * loosely, so that a queue of `T` stays covariant in `T`).
   */
  readonly _delivered: ((waiter: never) => void) | undefined;
  /** @internal Every waiter leaves the live count here, however its future settles. */
  readonly _onSettled = (): void => {
    this._live--;
    const dead = this._waiters.length - this._live;
    if (dead > 32 && dead > this._live) this._waiters.filterInPlace((w) => !w.done());
  };

  /**
   * @param onDelivered called with each woken waiter once its `await` has been delivered
   *   (or dropped, see `onDropped`): when every awaiter the waiter had when it was woken got
   *   its outcome, or one microtask after the wake-up if it had none (nothing can drop it
   *   then). On a foreign future, one microtask after the wake-up.
   */
  constructor(onDelivered?: (waiter: FutureLike<T>) => void) {
    this._delivered =
      onDelivered === undefined
        ? undefined
        : (waiter: FutureLike<T>) => {
            this.handing--;
            onDelivered(waiter);
          };
  }

  /** The number of live (pending) waiters. */
  get size(): number {
    return this._live;
  }

  /** Appends a new waiter future of `loop` and returns it. */
  add(loop: EventLoop): FutureLike<T> {
    return this.push(loop.createFuture<T>());
  }

  /** Appends `future`, a pending waiter made by the caller (a Future subclass), and returns it. */
  push<F extends FutureLike<T>>(future: F): F {
    onSettle(future, this._onSettled);
    this._waiters.push(future);
    this._live++;
    return future;
  }

  /** Resolves the first live waiter with `value`; false if there is none. */
  wakeFirst(value: T): boolean {
    return this.wakeNext(value) !== undefined;
  }

  /** Resolves the first live waiter with `value` and returns it; undefined if there is none. */
  wakeNext(value: T): FutureLike<T> | undefined {
    const waiters = this._waiters;
    for (;;) {
      const future = waiters.shift();
      if (future === undefined) return undefined;
      if (future.done()) continue;
      const delivered = this._delivered;
      if (delivered === undefined) {
        future.setResult(value);
        return future;
      }
      // Counted, and on an aiots future armed, before the wake-up, which may deliver at once.
      const f = future as FutureLike<T> & Hookable;
      const hooked = "_onDelivered" in f;
      this.handing++;
      if (hooked) f._onDelivered = delivered as (future: never) => void;
      try {
        future.setResult(value);
      } catch (error) {
        // Not woken after all (an overridden setResult): nothing is in flight.
        if (!future.done()) {
          if (hooked) f._onDelivered = undefined;
          this.handing--;
        }
        throw error;
      }
      if (!hooked) void SETTLED.then(() => (delivered as (waiter: FutureLike<T>) => void)(future));
      return future;
    }
  }

  /** Resolves every live waiter with `value`, first to last; returns how many. */
  wakeAll(value: T): number {
    let n = 0;
    while (this.wakeFirst(value)) n++;
    return n;
  }

  /** Rejects every live waiter with `error`; returns how many. */
  rejectAll(error: unknown): number {
    const waiters = this._waiters;
    let n = 0;
    for (;;) {
      const future = waiters.shift();
      if (future === undefined) return n;
      if (future.done()) continue;
      future.setException(error);
      n++;
    }
  }

  /** The live waiters, first to last. */
  *[Symbol.iterator](): IterableIterator<FutureLike<T>> {
    for (const w of this._waiters) if (!w.done()) yield w;
  }
}
