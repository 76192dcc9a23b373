import type { FutureLike } from "./interfaces.js";

/**
 * Lets an `AbortSignal` withdraw one wait: when it aborts, the pending waiter `future` is
 * rejected with the signal's `reason`. Returns the function that removes the listener;
 * call it once the wait settles, however it settles (internal, for waiting primitives).
 */
export function linkAbort(future: FutureLike<unknown>, signal: AbortSignal): () => void {
  const onAbort = () => {
    if (!future.done()) future.setException(signal.reason);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}
