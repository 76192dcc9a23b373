import type { FutureLike } from "./interfaces.js";
import { onSettle } from "./waiters.js";

/**
 * Lets an `AbortSignal` withdraw one wait: when it aborts, the pending waiter `future` is
 * rejected with the signal's `reason`. The listener is removed as soon as the future
 * settles, however it settles (internal, for waiting primitives). Returns the function
 * that removes it earlier.
 */
export function linkAbort(future: FutureLike<unknown>, signal: AbortSignal): () => void {
  const onAbort = () => {
    if (!future.done()) future.setException(signal.reason);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  const unlink = () => signal.removeEventListener("abort", onAbort);
  onSettle(future, unlink);
  return unlink;
}
