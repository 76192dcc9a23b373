import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { VirtualTimeLoop, getRunningLoop, sleep } from "aiots";

/** Runs `main` as the main task of a fresh virtual-time loop. */
export { vrun as onVirtualLoop } from "./conformance/helpers.js";

/** The running loop's (virtual) time. */
export const now = (): number => getRunningLoop().time();

/** CPython's test_utils.run_briefly: one short run of a loop that is not running. */
export const runBriefly = (loop: VirtualTimeLoop): Promise<void> => loop.runUntilComplete(() => sleep(0));

/** A fresh VirtualTimeLoop, closed after `body`. */
export async function withLoop<T>(body: (loop: VirtualTimeLoop) => Promise<T>): Promise<T> {
  const loop = new VirtualTimeLoop();
  try {
    return await body(loop);
  } finally {
    loop.close();
  }
}

// gc() without the --expose-gc command-line flag: the flag, then `gc` from a fresh context.
v8.setFlagsFromString("--expose-gc");
export const gc = runInNewContext("gc") as () => void;

/** Calls `f` at once (`k` 0: in the same synchronous step), else in the `k`-th microtask from now. */
export function afterTicks(k: number, f: () => void): void {
  if (k === 0) {
    f();
    return;
  }
  let p = Promise.resolve();
  for (let i = 1; i < k; i++) p = p.then(() => undefined);
  void p.then(f);
}
