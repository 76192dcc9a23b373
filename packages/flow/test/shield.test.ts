import { describe, expect, it } from "vitest";
import { CancelledError } from "@aiots/core";
import { Future, createTask, sleep } from "@aiots/future";
import { gather, shield, wait } from "@aiots/flow";
import { getRunningLoop } from "@aiots/loop";
import type { ExceptionContext } from "@aiots/core";
import { runV } from "./helpers.js";

const settle = async () => {
  for (let i = 0; i < 3; i++) await sleep(0);
};

describe("passing the outcome through", () => {
  it("gives the inner result", async () => {
    await runV(async () => {
      const inner = new Future<number>();
      const outer = shield(inner);
      inner.setResult(42);
      expect(await outer).toBe(42);
    });
  });

  it("gives the inner error", async () => {
    await runV(async () => {
      const inner = new Future<number>();
      const outer = shield(inner);
      const error = new RangeError("expected");
      inner.setException(error);
      await settle();
      expect(outer.exception()).toBe(error);
    });
  });

  it("is cancelled when the inner is cancelled", async () => {
    await runV(async () => {
      const inner = new Future<number>();
      const outer = shield(inner);
      inner.cancel();
      await settle();
      expect(outer.cancelled()).toBe(true);
    });
  });

  it("returns a done inner as it is", async () => {
    await runV(async () => {
      const fut = new Future<number>();
      fut.setResult(42);
      expect(shield(fut)).toBe(fut);
      expect(await shield(fut)).toBe(42);
    });
  });

  it("starts a function as a task", async () => {
    await runV(async () => {
      expect(await shield(async () => 42)).toBe(42);
    });
  });
});

describe("cancelling the outer", () => {
  it("does not cancel the inner, which can still finish", async () => {
    await runV(async () => {
      const inner = new Future<number>();
      const outer = shield(inner);
      outer.cancel();
      await settle();
      expect(outer.cancelled()).toBe(true);
      expect(inner.done()).toBe(false);
      inner.setResult(1);
      await settle();
      expect(outer.cancelled()).toBe(true);
    });
  });

  it("cancelling the awaiting task throws there but the shielded work runs to its end", async () => {
    await runV(async () => {
      let proof = 0;
      const waiter = new Future<void>();
      const outerTask = createTask(async () => {
        await shield(async () => {
          await waiter;
          proof += 1;
        });
        proof += 100;
      });
      await sleep(0);
      outerTask.cancel();
      await expect(outerTask).rejects.toBeInstanceOf(CancelledError);
      waiter.setResult();
      await settle();
      expect(proof).toBe(1);
    });
  });

  it("a shielded gather keeps its children when the shield is cancelled", async () => {
    await runV(async () => {
      const child1 = new Future<number>();
      const child2 = new Future<number>();
      const parent = gather([child1, child2]);
      const outer = shield(parent);
      await settle();
      outer.cancel();
      await settle();
      expect(outer.cancelled()).toBe(true);
      child1.setResult(1);
      child2.setResult(2);
      await settle();
      expect(parent.result()).toEqual([1, 2]);
    });
  });

  it("the same inner can be shielded twice; each shield is cancelled alone", async () => {
    await runV(async () => {
      const inner = new Future<string>();
      const first = shield(inner);
      const second = shield(inner);
      first.cancel();
      inner.setResult("x");
      expect(await second).toBe("x");
      expect(first.cancelled()).toBe(true);
    });
  });
});

describe("a failure after the shield was cancelled (asyncio 3.14)", () => {
  it("is reported to the exception handler once; a promise that rejects with CancelledError is a cancellation, not reported", async () => {
    const contexts: ExceptionContext[] = [];
    await runV(async () => {
      getRunningLoop().setExceptionHandler((_loop, context) => void contexts.push(context));
      let failWork!: (e: unknown) => void;
      let cancelWork!: (e: unknown) => void;
      const failing = shield(new Promise<number>((_, reject) => (failWork = reject)));
      const cancelled = shield(new Promise<number>((_, reject) => (cancelWork = reject)));
      await sleep(0);
      failing.cancel();
      cancelled.cancel();
      await sleep(0);
      failWork(new TypeError("broken"));
      cancelWork(new CancelledError("stopped"));
      await sleep(0);
      await sleep(0);
    });
    expect(contexts.map((c) => c.message)).toEqual(["TypeError exception in shielded future"]);
  });
});

describe("a promise child that rejects with CancelledError", () => {
  it("ends cancelled, with that error, in wait() as in ensureFuture", async () => {
    await runV(async () => {
      const error = new CancelledError("gone");
      let reject!: (e: unknown) => void;
      const { done } = await wait<unknown>([new Promise<number>((_, r) => (reject = r)), sleep(0).then(() => reject(error))]);
      const child = [...done].find((f) => f.cancelled());
      expect(child).toBeDefined();
      expect(() => child!.result()).toThrow(error);
    });
  });
});

describe("input", () => {
  it("a bad awaitable throws at the call", () => {
    expect(() => shield(5 as unknown as Future<number>)).toThrow(TypeError);
    expect(() => shield(null as unknown as Future<number>)).toThrow(TypeError);
  });
});

describe("ordering against other tasks", () => {
  it("a task awaiting a shielded task resumes before one whose wait(timeout: 0) was made in the same iteration", async () => {
    // CPython 3.13 logs the same: the shield's done callback is queued before the wait's
    // 0-delay timer is collected, so the shielded awaiter goes first.
    const log: string[] = [];
    await runV(async () => {
      const t0 = createTask(async () => {
        const inner = createTask(async () => {
          await sleep(1);
          log.push("inner done");
        });
        await shield(inner);
        log.push("t0: shield(inner) returned");
      });
      const t1 = createTask(async () => {
        await sleep(1);
        const child = createTask(() => sleep(1));
        const { done } = await wait([child], { timeout: 0 });
        log.push(`t1: wait returned, done ${done.size}`);
        child.cancel();
      });
      await t0;
      await t1;
    });
    expect(log).toEqual(["inner done", "t0: shield(inner) returned", "t1: wait returned, done 0"]);
  });
});
