import { ACQUIRED } from "./waiting.js";

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

/**
 * Turns an acquisition into a promise of a disposable that releases `target`.
 *
 * `then` is called here, synchronously in the caller's context, so when the acquisition
 * is a waiter Future a task awaiting the guard is still interrupted by `task.cancel()`.
 * A waiter woken just before its task was cancelled still gets its guard: the
 * cancellation surfaces at the next await, and leaving the `using` scope releases.
 */
export function guardAfter(acquired: Promise<true>, target: Releasable): Promise<AsyncDisposable & Disposable> {
  if (acquired === ACQUIRED) return Promise.resolve(new Releaser(target));
  return acquired.then(() => new Releaser(target));
}
