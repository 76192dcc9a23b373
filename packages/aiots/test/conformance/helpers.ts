import { run, VirtualTimeLoop, sleep } from "aiots";

/** run `fn` as the main task of a fresh virtual-time loop */
export function vrun<T>(fn: () => Promise<T>): Promise<T> {
  return run(fn, { loop: new VirtualTimeLoop() });
}

/** test_utils.run_briefly: let the loop turn a few times */
export async function runBriefly(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await sleep(0);
}

/** capture a rejection (or sync throw) of an async call */
export async function caught(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected an exception, none was thrown");
}
