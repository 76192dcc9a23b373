import { VirtualTimeLoop, getRunningLoop, run } from "@aiots/loop";
import { sleep } from "@aiots/future";
import type { Future } from "@aiots/future";

/** Runs `main` as the main task of a fresh virtual-time loop. */
export function onVirtualLoop<T>(main: () => Promise<T>): Promise<T> {
  return run(main, { loop: new VirtualTimeLoop() });
}

/** The running loop's (virtual) time in ms. */
export function now(): number {
  return getRunningLoop().time();
}

/** Lets every task that can run do so, for one loop iteration (asyncio's `sleep(0)`). */
export function tick(): Future<void> {
  return sleep(0);
}

/** What a wait settled with, without throwing: `{ value }` or `{ error }`. */
export async function outcome<T>(p: PromiseLike<T>): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await p };
  } catch (error) {
    return { error };
  }
}

/** Whether a promise returned by a queue wait is an aiots Future that is still pending. */
export function isPendingFuture(p: unknown): boolean {
  return typeof (p as { done?: unknown }).done === "function" && !(p as Future<unknown>).done();
}

/**
 * A stand-in for an AbortSignal that counts its listeners, to check that a wait removes
 * its listener once it settles.
 */
export class CountingSignal extends EventTarget {
  aborted = false;
  reason: unknown = undefined;
  listeners = 0;
  override addEventListener(...args: Parameters<EventTarget["addEventListener"]>): void {
    this.listeners++;
    super.addEventListener(...args);
  }
  override removeEventListener(...args: Parameters<EventTarget["removeEventListener"]>): void {
    this.listeners--;
    super.removeEventListener(...args);
  }
  abort(reason: unknown): void {
    this.aborted = true;
    this.reason = reason;
    this.dispatchEvent(new Event("abort"));
  }
}
