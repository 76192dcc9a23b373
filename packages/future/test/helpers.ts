import { VirtualTimeLoop, run } from "@aiots/loop";

/** Runs `main` as the main task of a fresh virtual-time loop. */
export const onVirtualLoop = <T>(main: () => Promise<T>): Promise<T> => run(main, { loop: new VirtualTimeLoop() });

/** The error `p` rejects with (fails the test if it resolves). */
export async function rejection(p: PromiseLike<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

/** A plain promise (not an aiots Future) with its resolve function. */
export function plainPromise<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
