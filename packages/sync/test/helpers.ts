import { getEventListeners } from "node:events";
import type { Task } from "@aiots/future";
import { sleep } from "@aiots/future";
import { VirtualTimeLoop, run } from "@aiots/loop";

/** Runs `main` as the main task of a fresh virtual-time loop. */
export function virtual<T>(main: () => Promise<T>): Promise<T> {
  return run(main, { loop: new VirtualTimeLoop() });
}

/** Lets `n` loop iterations pass (asyncio's `await asyncio.sleep(0)`). */
export async function ticks(n = 1): Promise<void> {
  for (let i = 0; i < n; i++) await sleep(0);
}

/** How many abort listeners `signal` has. */
export function abortListeners(signal: AbortSignal): number {
  return getEventListeners(signal, "abort").length;
}

/** Awaits `task` and returns how it ended, without throwing. */
export async function outcome(task: Task<unknown>): Promise<string> {
  try {
    return `value ${String(await task)}`;
  } catch (e) {
    return (e as Error).name;
  }
}

/**
 * Waits until everything that can run has run: on a `VirtualTimeLoop` the clock only
 * moves once every callback and microtask has settled, so a 1 ms sleep returns then.
 */
export async function settle(): Promise<void> {
  await sleep(1);
}
