import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { sleep } from "@aiots/future";
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

// gc() without the --expose-gc command-line flag.
v8.setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Collects garbage and turns the loop until `enough()` or 40 rounds, then a few more rounds (so a late report comes too). */
export async function collectUntil(enough: () => boolean): Promise<void> {
  for (let i = 0; i < 40 && !enough(); i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
    await sleep(0);
  }
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
    await sleep(0);
  }
}
