import type { FutureLike } from "@aiots/core";
import type { WaiterQueue } from "@aiots/core/internal";
import { linkAbort, onDropped, onSettle } from "@aiots/core/internal";
import { enqueue } from "./waiting.js";

/** Something with a `release()`: a Lock, a Semaphore, a Condition. */
interface Releasable {
  release(): void;
}

const DISPOSED: Promise<void> = Promise.resolve();

/**
 * The object `guard()` resolves to: disposing of it (`using`, `await using`, or calling
 * `[Symbol.dispose]()` by hand) releases the primitive once; later disposals do nothing,
 * so a guard can never release what someone else acquired.
 */
class Releaser implements AsyncDisposable, Disposable {
  /** @internal */ _target: Releasable | undefined;

  constructor(target: Releasable) {
    this._target = target;
  }

  [Symbol.dispose](): void {
    const target = this._target;
    if (target === undefined) return;
    this._target = undefined;
    target.release();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this[Symbol.dispose]();
    return DISPOSED;
  }

  get [Symbol.toStringTag](): string {
    return "Guard";
  }
}

/** What `guard()` resolves to at once when the primitive was free. */
export function guardNow(target: Releasable): Promise<AsyncDisposable & Disposable> {
  return Promise.resolve(new Releaser(target));
}

/**
 * A contended `guard()`: queues a waiter in `waiters` and returns a second future, the one
 * the caller awaits, which the waiter settles synchronously (woken: it resolves to a
 * `Releaser`; it is never awaited itself). So, exactly as for `acquire()`, the caller's
 * `await` is the tracked one: cancelling the task while it waits cancels that future,
 * which withdraws the waiter, and a cancel that lands after the handover but before the
 * caller resumes makes the `await` throw `CancelledError` while the kernel hands the
 * releaser back, which releases. `signal` is linked to the awaited future, so an abort
 * reaches the caller as a rejection it sees (and withdraws the waiter).
 */
export function guardWait(waiters: WaiterQueue<true>, signal: AbortSignal | undefined, target: Releasable): Promise<AsyncDisposable & Disposable> {
  const waiter = enqueue(waiters, undefined);
  const guard = waiter.getLoop().createFuture<Releaser>();
  if (signal !== undefined) onSettle(guard, linkAbort(guard, signal));
  onSettle(waiter, () => {
    if (guard.done()) return;
    if (waiter.cancelled()) guard.cancel();
    else if (waiter.exception() !== null) guard.setException(waiter.exception());
    else guard.setResult(new Releaser(target));
  });
  onSettle(guard, () => {
    // Cancelled or aborted before the handover: withdraw the waiter.
    if (!waiter.done()) waiter.cancel();
  });
  onDropped(guard, dispose);
  return guard as FutureLike<Releaser> as unknown as Promise<AsyncDisposable & Disposable>;
}

function dispose(releaser: Releaser): void {
  releaser[Symbol.dispose]();
}
