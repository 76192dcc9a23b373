import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { CancelledError, InvalidStateError } from "@aiots/core";
import { getRunningLoop } from "@aiots/loop";
import { Future, createTask, isFuture, sleep } from "@aiots/future";
import { onVirtualLoop } from "./helpers.js";

describe("Future states", () => {
  it("a new future is pending: not done, not cancelled, result() and exception() throw InvalidStateError", async () => {
    await onVirtualLoop(async () => {
      const f = new Future<number>();
      expect(f.done()).toBe(false);
      expect(f.cancelled()).toBe(false);
      expect(() => f.result()).toThrow(InvalidStateError);
      expect(() => f.exception()).toThrow(InvalidStateError);
      expect(f.getLoop()).toBe(getRunningLoop());
    });
  });

  it("setResult makes it done with that result, and exception() is null", async () => {
    await onVirtualLoop(async () => {
      const f = new Future<number>();
      f.setResult(42);
      expect(f.done()).toBe(true);
      expect(f.cancelled()).toBe(false);
      expect(f.result()).toBe(42);
      expect(f.exception()).toBeNull();
      expect(await f).toBe(42);
    });
  });

  it("a result of undefined still counts as a result: exception() is null", async () => {
    await onVirtualLoop(async () => {
      const f = new Future<undefined>();
      f.setResult(undefined);
      expect(f.result()).toBeUndefined();
      expect(f.exception()).toBeNull();
    });
  });

  it("setException makes it done: result() throws that error and exception() returns it", async () => {
    await onVirtualLoop(async () => {
      const f = new Future<number>();
      const error = new RangeError("boom");
      f.setException(error);
      expect(f.done()).toBe(true);
      expect(f.cancelled()).toBe(false);
      expect(() => f.result()).toThrow(error);
      expect(f.exception()).toBe(error);
      await expect(f).rejects.toBe(error);
    });
  });

  it("a non-Error value can be the exception", async () => {
    await onVirtualLoop(async () => {
      const f = new Future<number>();
      f.setException("just a string");
      expect(f.exception()).toBe("just a string");
      await expect(f).rejects.toBe("just a string");
    });
  });

  it("setException with a CancelledError finishes the future; it is not cancelled", async () => {
    await onVirtualLoop(async () => {
      const f = new Future<number>();
      const error = new CancelledError("as a value");
      f.setException(error);
      expect(f.cancelled()).toBe(false);
      expect(f.exception()).toBe(error);
    });
  });

  it("cancel makes it done and cancelled; result() and exception() throw CancelledError", async () => {
    await onVirtualLoop(async () => {
      const f = new Future<number>();
      expect(f.cancel()).toBe(true);
      expect(f.done()).toBe(true);
      expect(f.cancelled()).toBe(true);
      expect(() => f.result()).toThrow(CancelledError);
      expect(() => f.exception()).toThrow(CancelledError);
      expect(f.cancel()).toBe(false);
    });
  });
});

describe("Future misuse", () => {
  it("setResult twice throws InvalidStateError and keeps the first result", async () => {
    await onVirtualLoop(async () => {
      const f = new Future<number>();
      f.setResult(1);
      expect(() => f.setResult(2)).toThrow(InvalidStateError);
      expect(() => f.setException(new Error("late"))).toThrow(InvalidStateError);
      expect(f.result()).toBe(1);
      expect(f.cancel()).toBe(false);
    });
  });

  it("setResult and setException on a failed future throw InvalidStateError", async () => {
    await onVirtualLoop(async () => {
      const f = new Future<number>();
      const error = new Error("first");
      f.setException(error);
      expect(() => f.setResult(2)).toThrow(InvalidStateError);
      expect(() => f.setException(new Error("second"))).toThrow(InvalidStateError);
      expect(f.exception()).toBe(error);
      expect(f.cancel()).toBe(false);
    });
  });

  it("setResult and setException on a cancelled future throw InvalidStateError naming the state", async () => {
    await onVirtualLoop(async () => {
      const f = new Future<number>();
      f.cancel();
      expect(() => f.setResult(1)).toThrow(/cancelled/);
      expect(() => f.setResult(1)).toThrow(InvalidStateError);
      expect(() => f.setException(new Error("x"))).toThrow(InvalidStateError);
      expect(f.cancelled()).toBe(true);
    });
  });

  it("addDoneCallback with a non-function throws TypeError naming the argument", async () => {
    await onVirtualLoop(async () => {
      const f = new Future<number>();
      expect(() => f.addDoneCallback(42 as never)).toThrow(TypeError);
      expect(() => f.addDoneCallback(null as never)).toThrow(/callback must be a function, got null/);
    });
  });
});

describe("cancel(msg)", () => {
  it("the message reaches the awaiter's CancelledError, and result() throws it too", async () => {
    await onVirtualLoop(async () => {
      const f = new Future<number>();
      setTimeoutFreeCancel(f, "stop now");
      const error = await f.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CancelledError);
      expect((error as CancelledError).message).toBe("stop now");
      expect((error as CancelledError).name).toBe("CancelledError");
      expect(() => f.result()).toThrow("stop now");
    });
  });

  it("every awaiter sees the same CancelledError object", async () => {
    await onVirtualLoop(async () => {
      const f = new Future<number>();
      const a = f.then(null, (e: unknown) => e);
      const b = f.then(null, (e: unknown) => e);
      f.cancel("shared");
      const [ea, eb] = await Promise.all([a, b]);
      expect(ea).toBe(eb);
      expect((ea as Error).message).toBe("shared");
    });
  });

  it("cancel without a message gives an empty message", async () => {
    await onVirtualLoop(async () => {
      const f = new Future<number>();
      f.cancel();
      await expect(f).rejects.toThrow(CancelledError);
      expect(() => f.result()).toThrow(expect.objectContaining({ message: "" }) as Error);
    });
  });
});

/** Cancels `f` from a loop callback, so the awaiter is already waiting when it happens. */
function setTimeoutFreeCancel(f: Future<unknown>, msg: string): void {
  getRunningLoop().callSoon(() => f.cancel(msg));
}

describe("done callbacks", () => {
  it("run through callSoon in registration order, ahead of awaiters that came after them (asyncio)", async () => {
    await onVirtualLoop(async () => {
      const steps: string[] = [];
      const f = new Future<string>();
      f.addDoneCallback((fut) => steps.push(`cb1 ${fut.result()}`));
      f.addDoneCallback(() => steps.push("cb2"));
      f.addDoneCallback(() => steps.push("cb3"));
      const awaiter = f.then((v) => steps.push(`awaiter ${v}`));
      getRunningLoop().callSoon(() => {
        f.setResult("x");
        steps.push("set");
      });
      await awaiter;
      expect(steps).toEqual(["set", "cb1 x", "cb2", "cb3", "awaiter x"]);
    });
  });

  it("added after an awaiter, run after it resumed", async () => {
    await onVirtualLoop(async () => {
      const steps: string[] = [];
      const f = new Future<string>();
      const awaiter = f.then((v) => steps.push(`awaiter ${v}`));
      f.addDoneCallback((fut) => steps.push(`cb ${fut.result()}`));
      getRunningLoop().callSoon(() => f.setResult("x"));
      await awaiter;
      expect(steps).toEqual(["awaiter x"]);
      await sleep(0);
      expect(steps).toEqual(["awaiter x", "cb x"]);
    });
  });

  it("are not called synchronously by setResult", async () => {
    await onVirtualLoop(async () => {
      const steps: string[] = [];
      const f = new Future<number>();
      f.addDoneCallback(() => steps.push("cb"));
      f.setResult(1);
      expect(steps).toEqual([]);
      await sleep(0);
      expect(steps).toEqual(["cb"]);
    });
  });

  it("a callback added to a done future is scheduled at once with callSoon, behind earlier ones", async () => {
    await onVirtualLoop(async () => {
      const steps: string[] = [];
      const f = new Future<number>();
      f.addDoneCallback(() => steps.push("before"));
      f.setException(new Error("e"));
      f.addDoneCallback((fut) => steps.push(`after ${(fut.exception() as Error).message}`));
      expect(steps).toEqual([]);
      await sleep(0);
      expect(steps).toEqual(["before", "after e"]);
    });
  });

  it("run on cancel too, receiving the future", async () => {
    await onVirtualLoop(async () => {
      const seen: Future<number>[] = [];
      const f = new Future<number>();
      f.addDoneCallback((fut) => seen.push(fut));
      f.cancel();
      await sleep(0);
      expect(seen).toEqual([f]);
      expect(seen[0]!.cancelled()).toBe(true);
    });
  });

  it("removeDoneCallback removes every registration and returns the count", async () => {
    await onVirtualLoop(async () => {
      const bag: number[] = [];
      const f = new Future<string>();
      const cb1 = () => bag.push(1);
      const cb2 = () => bag.push(2);
      const cb3 = () => bag.push(3);
      f.addDoneCallback(cb1);
      f.addDoneCallback(cb2);
      expect(f.removeDoneCallback(cb2)).toBe(1);
      expect(f.removeDoneCallback(cb3)).toBe(0);
      f.addDoneCallback(cb2);
      for (let i = 0; i < 5; i++) f.addDoneCallback(cb1);
      expect(f.removeDoneCallback(cb1)).toBe(6);
      expect(f.removeDoneCallback(cb1)).toBe(0);
      f.setResult("foo");
      await sleep(0);
      expect(bag).toEqual([2]);
    });
  });

  it("removing the first, middle or last callback keeps the others in order", async () => {
    await onVirtualLoop(async () => {
      for (const removed of [0, 1, 2]) {
        const bag: number[] = [];
        const f = new Future<string>();
        const cbs = [42, 17, 100].map((n) => () => bag.push(n));
        for (const cb of cbs) f.addDoneCallback(cb);
        expect(f.removeDoneCallback(cbs[removed]!)).toBe(1);
        expect(f.removeDoneCallback(cbs[removed]!)).toBe(0);
        f.setResult("foo");
        await sleep(0);
        expect(bag).toEqual([42, 17, 100].filter((_, i) => i !== removed));
      }
    });
  });

  it("removeDoneCallback on a done future returns 0 and the scheduled callbacks still run", async () => {
    await onVirtualLoop(async () => {
      const bag: string[] = [];
      const f = new Future<number>();
      const cb = () => bag.push("cb");
      f.addDoneCallback(cb);
      f.setResult(1);
      expect(f.removeDoneCallback(cb)).toBe(0);
      await sleep(0);
      expect(bag).toEqual(["cb"]);
    });
  });

  it("a throwing callback goes to the loop's exception handler and the others still run", async () => {
    await onVirtualLoop(async () => {
      const reported: unknown[] = [];
      getRunningLoop().setExceptionHandler((_loop, context) => reported.push(context.exception));
      const bag: string[] = [];
      const f = new Future<number>();
      const error = new Error("callback failed");
      f.addDoneCallback(() => {
        throw error;
      });
      f.addDoneCallback(() => bag.push("second"));
      f.setResult(1);
      await sleep(0);
      expect(bag).toEqual(["second"]);
      expect(reported).toEqual([error]);
    });
  });
});

describe("awaiting", () => {
  it("works with Promise.all and Promise.race like a promise", async () => {
    await onVirtualLoop(async () => {
      const a = new Future<number>();
      const b = new Future<string>();
      getRunningLoop().callLater(10, () => a.setResult(1));
      getRunningLoop().callLater(5, () => b.setResult("two"));
      const both = await Promise.all([a, b]);
      expect(both).toEqual([1, "two"]);
      expect(getRunningLoop().time()).toBe(10);
      const c = new Future<string>();
      getRunningLoop().callLater(3, () => c.setResult("c"));
      expect(await Promise.race([c, sleep(100, "slow")])).toBe("c");
    });
  });

  it("a future can be awaited many times and returns the same result", async () => {
    await onVirtualLoop(async () => {
      const f = new Future<object>();
      const value = {};
      f.setResult(value);
      expect(await f).toBe(value);
      expect(await f).toBe(value);
    });
  });

  it("catch and finally behave as on a promise", async () => {
    await onVirtualLoop(async () => {
      const steps: string[] = [];
      const f = new Future<number>();
      f.setException(new Error("bad"));
      const caught = await f.catch((e: unknown) => (e as Error).message);
      expect(caught).toBe("bad");
      const g = new Future<number>();
      g.setResult(3);
      expect(await g.finally(() => steps.push("finally"))).toBe(3);
      expect(steps).toEqual(["finally"]);
    });
  });

  it("works in plain async code outside any run(), on the default loop", async () => {
    const f = new Future<number>();
    setTimeout(() => f.setResult(7), 1);
    expect(await f).toBe(7);
  });
});

describe("isFuture", () => {
  it("recognises futures and tasks, and rejects promises and other values", async () => {
    await onVirtualLoop(async () => {
      expect(isFuture(new Future())).toBe(true);
      const t = createTask(() => 1);
      expect(isFuture(t)).toBe(true);
      expect(isFuture(Promise.resolve(1))).toBe(false);
      expect(isFuture(1)).toBe(false);
      expect(isFuture(null)).toBe(false);
      expect(isFuture(Future)).toBe(false);
      await t;
    });
  });
});

describe("toString and inspect", () => {
  it("show the state of a pending, finished, failed and cancelled future", async () => {
    await onVirtualLoop(async () => {
      const pending = new Future<number>();
      expect(String(pending)).toBe("Future [pending]");
      expect(inspect(pending)).toBe("Future [pending]");
      expect(Object.prototype.toString.call(pending)).toBe("[object Future]");

      const finished = new Future<number>();
      finished.setResult(4);
      expect(String(finished)).toBe("Future [finished, result: 4]");
      expect(inspect(finished)).toBe("Future [finished, result: 4]");

      const text = new Future<string>();
      text.setResult("abc");
      expect(String(text)).toBe('Future [finished, result: "abc"]');

      const failed = new Future<number>();
      failed.setException(new RangeError("boom"));
      expect(String(failed)).toBe("Future [finished, exception: RangeError: boom]");

      const cancelled = new Future<number>();
      cancelled.cancel();
      expect(String(cancelled)).toBe("Future [cancelled]");
      expect(inspect({ f: cancelled })).toContain("Future [cancelled]");
    });
  });
});
