import type { EventLoop, FutureLike } from "@aiots/core";
import { WaiterQueue, linkAbort, markResumption, onDropped, settleInPlace } from "@aiots/core/internal";
import { getEventLoop } from "@aiots/loop";

/**
 * What an uncontended `acquire()`/`wait()` returns: one promise made once, so the fast
 * path allocates nothing. It is a plain promise, not a Future, so (as in asyncio, whose
 * fast path does not yield either) it is not a cancellation point.
 */
export const ACQUIRED: Promise<true> = Promise.resolve(true);

/**
 * Appends a waiter to `waiters` (a future of the loop of the code that waits now: the
 * running loop, else the default loop, which `getEventLoop` makes on first use; importing
 * it from `@aiots/loop` is also what registers the default loop when only this package is
 * imported). A primitive is never bound to one loop.
 *
 * With a `signal`, aborting it rejects this one waiter with the signal's reason; the
 * waiter queue drops it at that moment (nothing consumed), and the abort listener is
 * removed as soon as the waiter settles, however it settles.
 */
export function enqueue<T>(waiters: WaiterQueue<T>, signal: AbortSignal | undefined): FutureLike<T> {
  const future = waiters.add(getEventLoop());
  if (signal !== undefined) linkAbort(future, signal);
  return future;
}

/**
 * A contended acquire or wait: appends a waiter and hands the caller the waiter future
 * itself (a Future is a Promise), so the caller's own `await` is the one the
 * task tracks. Cancelling the task while the waiter is pending cancels it (it leaves the
 * queue, nothing consumed). If the task is cancelled after the waiter was woken but before
 * its code resumed, the `await` throws `CancelledError` as in asyncio, and the kernel calls
 * `giveBack` with what the waiter was handed, so the primitive passes it on.
 *
 * A future nobody awaits never reports an unhandled rejection, so a withdrawn wait that is
 * never awaited stays silent too.
 */
export function waitIn<T>(waiters: WaiterQueue<T>, signal: AbortSignal | undefined, giveBack?: (value: T) => void): Promise<T> {
  const future = enqueue(waiters, signal);
  if (giveBack !== undefined) onDropped(future, giveBack);
  return future as unknown as Promise<T>;
}

/** What a wait with an already aborted signal returns: a rejection with its reason, nothing queued. */
export function aborted<T>(signal: AbortSignal): Promise<T> {
  return Promise.reject(signal.reason as unknown);
}

/** The state text shared by `toString()` and `util.inspect` of every primitive. */
export function describe(name: string, state: string, waiters: number): string {
  return waiters > 0 ? `${name} [${state}, waiters: ${waiters}]` : `${name} [${state}]`;
}

/** A lock-like with a fast path and a waiter line: a Lock, a Semaphore. */
export interface Gate {
  /** Takes it at once if it is free and nobody waits. */
  _tryAcquire(): boolean;
  readonly _waiters: WaiterQueue<true>;
  /** Hands it to the next waiter, or frees it (also how a dropped hand-over is given back). */
  readonly _pass: () => void;
}

/**
 * `acquire()` of a gate, once the options are checked: an aborted signal rejects at once,
 * then the fast path (never ahead of waiters), else a waiter in line.
 */
export function acquireGate(gate: Gate, signal: AbortSignal | undefined): Promise<true> {
  if (signal !== undefined && signal.aborted) return aborted(signal);
  if (gate._tryAcquire()) return ACQUIRED;
  return waitIn(gate._waiters, signal, gate._pass);
}

/**
 * A line of woken waiters that go on one per loop iteration, in the order they were woken.
 * asyncio runs each woken task as its own step: it goes on until it next waits (and so does
 * whatever it returned to) before the next woken task takes its first look at the shared
 * state. Woken code here resumes as promise reactions, so waiters woken together would
 * interleave at every await; giving each its own iteration restores asyncio's order. A
 * turn is reserved when the waiter is woken (asyncio schedules the woken task then), so it
 * comes before whatever the waker schedules afterwards.
 */
export class Turns {
  /** @internal */ readonly _line = new WaiterQueue<true>();
  /** @internal The turn reserved for each woken waiter, until it takes it. */
  readonly _turnOf = new WeakMap<object, Promise<true>>();
  /** @internal The loop a turn is scheduled on; undefined while none is. */
  _loop: EventLoop | undefined = undefined;
  /**
   * @internal Lets the first waiter in line go, and schedules the next turn if any wait. The
   * turn stands for the woken party's own step: it goes on in this callback's place, and the
   * loop lets it run on until it waits again before its next callback (a resumption).
   */
  readonly _next = markResumption((): void => {
    settleInPlace(wakeFirst, this._line, true);
    if (this._line.size > 0) this._loop!.callSoon(this._next);
    else this._loop = undefined;
  });

  /** Whether woken waiters have turns that have not come yet. */
  busy(): boolean {
    return this._line.size > 0;
  }

  /** Reserves a turn for `waiter`, just woken (or withdrawn), on the waiter's loop. */
  reserve(waiter: FutureLike<unknown>): void {
    const turn = this._line.add(waiter.getLoop());
    this._turnOf.set(waiter, turn as unknown as Promise<true>);
    if (this._loop === undefined) {
      this._loop = turn.getLoop();
      this._loop.callSoon(this._next);
    }
  }

  /**
   * The turn reserved for `waiter`, to await: it resolves at the waiter's turn, and
   * cancelling the awaiting task gives the turn up. (A reserved turn nobody takes just passes.)
   */
  take(waiter: object): Promise<true> | undefined {
    const turn = this._turnOf.get(waiter);
    this._turnOf.delete(waiter);
    return turn;
  }
}

/** Wakes the first waiter of `line` with `value`. */
function wakeFirst<T>(line: WaiterQueue<T>, value: T): void {
  line.wakeFirst(value);
}
