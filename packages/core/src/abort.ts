import type { FutureLike } from "./interfaces.js";
import { onSettle } from "./waiters.js";

/**
 * Lets an `AbortSignal` withdraw one wait: when it aborts, the pending waiter `future` is
 * rejected with the signal's `reason`. The listener is removed as soon as the future
 * settles, however it settles (internal, for waiting primitives). Returns the function
 * that removes it earlier.
 */
export function linkAbort(future: FutureLike<unknown>, signal: AbortSignal): () => void {
  const unlink = whenAborted(signal, () => {
    if (!future.done()) future.setException(signal.reason);
  });
  onSettle(future, unlink);
  return unlink;
}

/** aiots's listeners on one signal, behind the one host listener (`dispatch`) it adds for them. */
interface Relay {
  readonly listeners: Set<() => void>;
  readonly dispatch: () => void;
}

const relays = new WeakMap<AbortSignal, Relay>();

/**
 * Calls `listener` once when `signal` aborts; returns the function that removes it. However
 * many waits and tasks share one signal, aiots adds a single host listener to it (so Node
 * does not warn about a listener leak past ten), and removes it with the last of theirs.
 * Listeners run in the order they were added (internal).
 */
export function whenAborted(signal: AbortSignal, listener: () => void): () => void {
  let relay = relays.get(signal);
  if (relay === undefined) {
    const listeners = new Set<() => void>();
    const dispatch = (): void => {
      relays.delete(signal);
      let failure: { error: unknown } | undefined;
      for (const each of [...listeners]) {
        try {
          each();
        } catch (error) {
          failure ??= { error };
        }
      }
      listeners.clear();
      if (failure !== undefined) throw failure.error;
    };
    relay = { listeners, dispatch };
    relays.set(signal, relay);
    signal.addEventListener("abort", dispatch, { once: true });
  }
  // A wrapper per registration, so one function registered twice counts twice.
  const entry = (): void => listener();
  const own = relay;
  own.listeners.add(entry);
  return () => {
    if (!own.listeners.delete(entry) || own.listeners.size > 0) return;
    if (relays.get(signal) === own) relays.delete(signal);
    signal.removeEventListener("abort", own.dispatch);
  };
}
