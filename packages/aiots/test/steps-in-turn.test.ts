/**
 * Tasks woken in one loop iteration take their steps one after the other: each goes on to
 * its next real wait (or its end) before the next one resumes, as asyncio runs them. A
 * step can pass through awaits that do not wait (an uncontended acquire, `join()` of a
 * queue with nothing unfinished, nested async returns, the exit of a `timeout()` block),
 * and through a function `waitFor` runs, which asyncio runs inside the caller's step. The
 * orders below are CPython 3.13's for the same programs.
 */
import { describe, expect, it } from "vitest";
import { Event, Lock, Queue, createTask, currentTask, gather, getRunningLoop, sleep, timeout, waitFor } from "aiots";
import { onVirtualLoop } from "./helpers.js";

/** A function that sleeps(0) twice, logging `first` and `second` after each. */
const sleepsTwice = (log: string[], first: string, second: string) => async (): Promise<void> => {
  await sleep(0);
  log.push(first);
  await sleep(0);
  log.push(second);
};

describe("tasks woken together by sleep(0)", () => {
  it("the first goes on through awaits that do not wait before the second resumes", async () => {
    const log = await onVirtualLoop(async () => {
      const log: string[] = [];
      const lock = new Lock();
      const q = new Queue<number>();
      const a = async () => {
        await sleep(0);
        log.push("a slept");
        await lock.acquire();
        log.push("a acquired");
        await q.join();
        log.push("a joined");
        lock.release();
      };
      await gather([a, sleepsTwice(log, "b slept", "b slept again")]);
      return log;
    });
    expect(log).toEqual(["a slept", "a acquired", "a joined", "b slept", "b slept again"]);
  });

  it("nested async returns and the exit of a timeout() block are part of the step", async () => {
    const log = await onVirtualLoop(async () => {
      const log: string[] = [];
      const nested = async (n: number): Promise<string> => (n === 0 ? "x" : await nested(n - 1));
      const f = async () => {
        await sleep(0);
        log.push("f slept");
        await timeout(5, () => nested(5));
        log.push("f left timeout");
        await sleep(0);
        log.push("f slept 2");
      };
      await gather([f, sleepsTwice(log, "g slept", "g slept 2")]);
      return log;
    });
    expect(log).toEqual(["f slept", "f left timeout", "g slept", "f slept 2", "g slept 2"]);
  });

  it("a function waitFor runs hands its step on to the caller when it returns", async () => {
    const log = await onVirtualLoop(async () => {
      const log: string[] = [];
      const inner = async () => {
        await sleep(0);
        log.push("inner slept");
        return 1;
      };
      const c = createTask(async () => {
        await waitFor(inner, 3);
        log.push("c after waitFor");
      });
      const d = createTask(async () => {
        await sleep(0);
        log.push("d slept");
      });
      const e = createTask(async () => {
        log.push("e first step");
        await sleep(0);
        log.push("e slept");
      });
      await gather([c, d, e]);
      return log;
    });
    expect(log).toEqual(["e first step", "inner slept", "c after waitFor", "d slept", "e slept"]);
  });
});

describe("the rest of an iteration after a step that went on in microtasks", () => {
  it("runs as soon as the step waits, within the same host turn", async () => {
    const log = await onVirtualLoop(async () => {
      const log: string[] = [];
      const a = createTask(async () => {
        await sleep(0);
        // Not a wait: the step goes on in microtasks, and the loop lets it.
        await Promise.resolve();
        log.push("a went on");
        await sleep(1);
      });
      const b = createTask(async () => {
        await sleep(0);
        log.push("b slept");
      });
      await sleep(0);
      // A host turn queued before the iteration that wakes a and b stops early for a's step.
      setImmediate(() => log.push("host turn"));
      await gather([a, b]);
      return log;
    });
    // b resumes right after a's step, not a host turn later.
    expect(log.indexOf("a went on")).toBeLessThan(log.indexOf("b slept"));
    expect(log.indexOf("b slept")).toBeLessThan(log.indexOf("host turn"));
  });
});

describe("wake-ups made for the end of a batch whose last step goes on", () => {
  // CPython 3.13: t1's step (the last of its iteration, resumed after it cancelled itself)
  // runs through an uncontended acquire before t0, woken by a loop callback earlier in that
  // iteration, resumes in the next.
  it("wait for that step to be over", async () => {
    const log = await onVirtualLoop(async () => {
      const log: string[] = [];
      const lock = new Lock();
      const never = new Event();
      const t0 = createTask(async () => {
        getRunningLoop().callSoon(() => t0.cancel());
        try {
          await never.wait();
        } catch {
          log.push("t0 cancelled");
        }
      });
      const t1 = createTask(async () => {
        currentTask()!.cancel();
        try {
          await never.wait();
        } catch {
          log.push("t1 resumed");
        }
        await lock.acquire();
        log.push("t1 acquired");
        await null;
        log.push("t1 went on");
        lock.release();
      });
      await t0;
      await t1;
      return log;
    });
    expect(log).toEqual(["t1 resumed", "t1 acquired", "t1 went on", "t0 cancelled"]);
  });
});
