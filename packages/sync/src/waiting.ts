import type { FutureLike } from "@aiots/core";
import type { WaiterQueue } from "@aiots/core/internal";
import { linkAbort, onSettle } from "@aiots/core/internal";
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
  if (signal !== undefined) onSettle(future, linkAbort(future, signal));
  return future;
}

/**
 * What a contended wait hands its caller: a promise that settles with the waiter future.
 *
 * `then` is called here, synchronously in the caller's context, so a task records the
 * wait at once and `task.cancel()` cancels the waiter while it is pending (the await then
 * throws `CancelledError` in place). Handing out the future itself would leave a window:
 * `await future` calls `then` one microtask later, and a task cancelled in that window
 * after the waiter was handed the lock has that late `then` refused with
 * `CancelledError`, so the caller would own the lock while its await threw, and leak it.
 * Through this promise, a waiter woken before its task is cancelled always gets its value,
 * and the cancellation surfaces at its next await, as documented.
 */
export function settled<T>(future: FutureLike<T>): Promise<T> {
  const promise = Promise.resolve(future.then());
  // Like a Future nobody awaited, a withdrawn wait nobody awaits is not reported as an
  // unhandled rejection (awaiting the promise still throws).
  promise.catch(ignore);
  return promise;
}

function ignore(): void {}

/** `settled(enqueue(waiters, signal))`: a contended acquire or wait. */
export function waitIn<T>(waiters: WaiterQueue<T>, signal: AbortSignal | undefined): Promise<T> {
  return settled(enqueue(waiters, signal));
}

/** What a wait with an already aborted signal returns: a rejection with its reason, nothing queued. */
export function aborted<T>(signal: AbortSignal): Promise<T> {
  return Promise.reject(signal.reason as unknown);
}

/** Whether a settled waiter future was woken (resolved), as opposed to cancelled or aborted. */
export function wasWoken(waiter: FutureLike<unknown>): boolean {
  return waiter.done() && !waiter.cancelled() && waiter.exception() === null;
}

/** The state text shared by `toString()` and `util.inspect` of every primitive. */
export function describe(name: string, state: string, waiters: number): string {
  return waiters > 0 ? `${name} [${state}, waiters: ${waiters}]` : `${name} [${state}]`;
}
