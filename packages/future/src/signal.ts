import type { Future } from "./future.js";

/**
 * Ties a pending waiter future to an `AbortSignal`: aborting withdraws the wait (the
 * future's cancel hook runs, so a timer is dropped or a waiter leaves its queue) and
 * rejects the future with the signal's `reason`. The listener is removed as soon as the
 * future settles, however it settles.
 */
export function withSignal<T>(future: Future<T>, signal: AbortSignal): void {
  const onAbort = () => {
    if (future.done()) return;
    const hook = future._onCancel;
    future._onCancel = undefined;
    if (typeof hook === "function") (hook as (f: Future<T>) => void)(future);
    else if (hook !== undefined) hook.cancel();
    future.setException(signal.reason);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  const previous = future._onSettle;
  future._onSettle = (f) => {
    signal.removeEventListener("abort", onAbort);
    if (previous !== undefined) (previous as (f: Future<T>) => void)(f as Future<T>);
  };
}
