import type { EventLoop, FutureLike } from "@aiots/core";
import { linkAbort, onDropped } from "@aiots/core/internal";
import { Future } from "@aiots/future";
import { getEventLoop } from "@aiots/loop";
import { aborted } from "./waiting.js";
import type { Gate } from "./waiting.js";

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
function guardNow(target: Releasable): Promise<AsyncDisposable & Disposable> {
  return Promise.resolve(new Releaser(target));
}

/**
 * The waiter of a contended `guard()`: woken by the primitive like any of its waiters (with
 * `true`), it resolves to a `Releaser` instead. It is what the caller awaits, so, exactly as
 * for `acquire()`, cancelling the task while it waits cancels it (the waiter leaves the
 * queue), and a cancel that lands after the handover but before the caller resumes makes
 * the `await` throw `CancelledError` while the kernel hands the releaser back, which
 * releases.
 */
class GuardWaiter extends Future<Releaser> {
  /** @internal */ readonly _target: Releasable;

  constructor(loop: EventLoop, target: Releasable) {
    super(loop);
    this._target = target;
  }

  /** Woken: the result is a releaser of the target, whatever the primitive passed. */
  override setResult(_value: unknown): void {
    super.setResult(new Releaser(this._target));
  }
}

/** A contended `guard()`: queues a `GuardWaiter` in `waiters` and returns it. `signal` aborts it (and so withdraws it). */
function guardWait(gate: Gate, signal: AbortSignal | undefined, target: Releasable): Promise<AsyncDisposable & Disposable> {
  const waiter = new GuardWaiter(getEventLoop(), target);
  gate._waiters.push(waiter as FutureLike<unknown> as FutureLike<true>);
  if (signal !== undefined) linkAbort(waiter, signal);
  // A dropped hand-over goes back as an acquire's does: straight to the next waiter (the
  // primitive is still on its way to this one, so it cannot be released as held).
  onDropped(waiter, (releaser: Releaser) => {
    releaser._target = undefined;
    gate._pass();
  });
  return waiter;
}

/** `guard()` of a gate, once the options are checked: as `acquireGate`, resolving to a releaser of `target`. */
export function guardGate(gate: Gate, target: Releasable, signal: AbortSignal | undefined): Promise<AsyncDisposable & Disposable> {
  if (signal !== undefined && signal.aborted) return aborted(signal);
  if (gate._tryAcquire()) return guardNow(target);
  return guardWait(gate, signal, target);
}
