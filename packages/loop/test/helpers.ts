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
