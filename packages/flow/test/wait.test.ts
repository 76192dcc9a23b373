import { describe, expect, it } from "vitest";
import { CancelledError } from "@aiots/core";
import { Future, createTask, sleep } from "@aiots/future";
import { getRunningLoop, run } from "@aiots/loop";
import { FIRST_COMPLETED, FIRST_EXCEPTION, wait } from "@aiots/flow";
import { runV, now } from "./helpers.js";


describe("ALL_COMPLETED", () => {
  it("returns every Future in done once all are done, at the time of the last", async () => {
    await runV(async () => {
      const a = createTask(() => sleep(100));
      const b = createTask(() => sleep(150));
      const { done, pending } = await wait([b, a]);
      expect(done).toEqual(new Set([a, b]));
      expect(pending.size).toBe(0);
      expect(now()).toBe(150);
      // Again: nothing to wait for.
      const again = await wait([b, a]);
      expect(again.done.size).toBe(2);
      expect(now()).toBe(150);
    });
  });

  it("does not throw the children's errors: they are read from the done Futures", async () => {
    await runV(async () => {
      const a = createTask(() => sleep(100));
      const b = createTask(async () => {
        await sleep(150);
        throw new RangeError("really");
      });
      const { done, pending } = await wait([b, a]);
      expect(done.size).toBe(2);
      expect(pending.size).toBe(0);
      expect([...done].filter((f) => f.exception() !== null)).toEqual([b]);
    });
  });

  it("counts a duplicate once and starts functions and wraps promises", async () => {
    await runV(async () => {
      const c = createTask(async () => "test");
      const { done, pending } = await wait<string>([c, c, async () => "spam", Promise.resolve("egg")]);
      expect(pending.size).toBe(0);
      expect(new Set([...done].map((f) => f.result()))).toEqual(new Set(["test", "spam", "egg"]));
      expect(done.has(c)).toBe(true);
    });
  });

  it("accepts any iterable, including a generator", async () => {
    await runV(async () => {
      function* tasks() {
        for (let i = 0; i < 10; i++) yield createTask(async () => i);
      }
      const { done, pending } = await wait(tasks());
      expect(done.size).toBe(10);
      expect(pending.size).toBe(0);
    });
  });
});

describe("FIRST_COMPLETED and FIRST_EXCEPTION", () => {
  it("FIRST_COMPLETED returns when the first is done and leaves the rest running", async () => {
    await runV(async () => {
      const a = createTask(() => sleep(10_000));
      const b = createTask(() => sleep(100));
      const { done, pending } = await wait([b, a], { returnWhen: FIRST_COMPLETED });
      expect(done).toEqual(new Set([b]));
      expect(pending).toEqual(new Set([a]));
      expect(a.done()).toBe(false);
      expect(now()).toBe(100);
      a.cancel();
    });
  });

  it("makes the sets as the waiting code resumes: a task that finishes in the same iteration, after it, is still pending (asyncio)", async () => {
    for (const loopKind of ["virtual", "host"] as const) {
      const body = async () => {
        const a = createTask(async () => "a");
        const b = createTask(async () => {
          await sleep(0);
          await sleep(0);
          return "b";
        });
        const { done, pending } = await wait([a, b], { returnWhen: FIRST_COMPLETED });
        // asyncio resumes the waiting task from the callback that settled the wait, before
        // the step of b queued behind it: b is pending, and not done, when the caller looks.
        expect([...done]).toEqual([a]);
        expect([...pending]).toEqual([b]);
        expect(b.done(), loopKind).toBe(false);
        expect(await b).toBe("b");
      };
      if (loopKind === "virtual") await runV(body);
      else await run(body);
    }
  });

  it("FIRST_EXCEPTION returns at once for a child that already failed", async () => {
    await runV(async () => {
      const a = createTask(() => sleep(10_000));
      const b = createTask(async () => {
        throw new RangeError("err");
      });
      const { done, pending } = await wait([b, a], { returnWhen: FIRST_EXCEPTION });
      expect(done).toEqual(new Set([b]));
      expect(pending).toEqual(new Set([a]));
      expect(now()).toBe(0);
      a.cancel();
    });
  });

  it("FIRST_EXCEPTION returns at the first failure during the wait", async () => {
    await runV(async () => {
      const a = createTask(() => sleep(10_000));
      const b = createTask(async () => {
        await sleep(10);
        throw new RangeError("err");
      });
      const { done, pending } = await wait([b, a], { returnWhen: "FIRST_EXCEPTION" });
      expect(done).toEqual(new Set([b]));
      expect(pending).toEqual(new Set([a]));
      expect(now()).toBe(10);
      a.cancel();
    });
  });

  it("FIRST_EXCEPTION does not count a cancelled child as a failure", async () => {
    await runV(async () => {
      const a = createTask(() => sleep(100));
      const b = createTask(() => sleep(10_000));
      const c = createTask(() => sleep(50));
      getRunningLoop().callLater(10, () => b.cancel());
      const { done, pending } = await wait([a, b, c], { returnWhen: FIRST_EXCEPTION });
      expect(done).toEqual(new Set([a, b, c]));
      expect(pending.size).toBe(0);
      expect(now()).toBe(100);
    });
  });
});

describe("timeout and cancellation", () => {
  it("at the timeout returns what is done so far and cancels nothing", async () => {
    await runV(async () => {
      const a = createTask(() => sleep(100));
      const b = createTask(() => sleep(150));
      const { done, pending } = await wait([b, a], { timeout: 110 });
      expect(done).toEqual(new Set([a]));
      expect(pending).toEqual(new Set([b]));
      expect(now()).toBe(110);
      expect(b.cancelled()).toBe(false);
      await b;
    });
  });

  it("cancelling the task that waits leaves the children running", async () => {
    await runV(async () => {
      let proof = 0;
      const waiter = new Future<void>();
      const inner = createTask(async () => {
        await waiter;
        proof += 1;
      });
      const outer = createTask(async () => {
        await wait([inner]);
        proof += 100;
      });
      await sleep(0);
      outer.cancel();
      await expect(outer).rejects.toBeInstanceOf(CancelledError);
      waiter.setResult();
      await inner;
      expect(proof).toBe(1);
    });
  });

  it("an abort signal ends the wait with its reason and leaves the children running", async () => {
    await runV(async () => {
      const a = createTask(() => sleep(100, "a"));
      const controller = new AbortController();
      getRunningLoop().callLater(10, () => controller.abort(new RangeError("stop")));
      await expect(wait([a], { signal: controller.signal })).rejects.toBeInstanceOf(RangeError);
      expect(a.done()).toBe(false);
      expect(await a).toBe("a");
      await expect(wait([a], { signal: controller.signal })).rejects.toBeInstanceOf(RangeError);
    });
  });
});

describe("input", () => {
  it("bad input throws at the call", async () => {
    await runV(async () => {
      const fut = new Future<number>();
      expect(() => wait(fut as unknown as Future<number>[])).toThrow(TypeError);
      expect(() => wait([])).toThrow(RangeError);
      expect(() => wait([fut], { returnWhen: "SOMETIMES" as never })).toThrow(RangeError);
      expect(() => wait([fut], { returnWhen: -1 as never })).toThrow(TypeError);
      expect(() => wait([fut], { timeout: Number.NaN })).toThrow(RangeError);
      expect(() => wait([fut], { timeout: "1" as unknown as number })).toThrow(TypeError);
      expect(() => wait([fut], 5 as never)).toThrow(TypeError);
    });
  });
});
