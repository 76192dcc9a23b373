import { VirtualTimeLoop, getRunningLoop, run } from "@aiots/loop";

/** Runs `fn` as the main task of a fresh virtual-time loop. */
export const runV = <T>(fn: () => Promise<T>): Promise<T> => run(fn, { loop: new VirtualTimeLoop() });

/** The running loop's (virtual) time. */
export const now = (): number => getRunningLoop().time();

/** An error of its own kind, to tell it from anything aiots throws. */
export class MyError extends Error {
  override name = "MyError";
}

/** What `p` rejects with; fails the test if it fulfils. */
export async function caught(p: PromiseLike<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection, got a value");
}
