import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { EventLoop } from "@aiots/loop";

/** One host macrotask: a loop iteration scheduled before it has run when it resolves. */
export const turn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

const tracked: EventLoop[] = [];

/** Marks `loop` to be closed after the test (see `closeTracked`), if the test leaves it open. */
export function track<L extends EventLoop>(loop: L): L {
  tracked.push(loop);
  return loop;
}

/** Closes every tracked loop that is neither running nor closed (call it from `afterEach`). */
export function closeTracked(): void {
  for (const loop of tracked.splice(0)) if (!loop.isRunning() && !loop.isClosed()) loop.close();
}

/**
 * The garbage collector, exposed for this process: `--expose-gc` turned on at run time, then
 * `gc` taken from a fresh context (it is installed on contexts created after the flag).
 */
export const gc: () => void = (globalThis as { gc?: () => void }).gc ?? (setFlagsFromString("--expose-gc"), runInNewContext("gc") as () => void);

/**
 * Collects garbage until `done()` holds (finalizers run as host tasks after a collection).
 * Each collection starts in a fresh host task: a `WeakRef.deref()` keeps its target alive
 * until the end of the task that called it.
 */
export async function collectUntil(done: () => boolean, rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await turn();
    gc();
    await turn();
    await turn();
    if (done()) return;
  }
}
