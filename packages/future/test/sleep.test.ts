import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { CancelledError } from "@aiots/core";
import { getRunningLoop } from "@aiots/loop";
import { Future, createTask, sleep } from "@aiots/future";
import { onVirtualLoop, rejection } from "./helpers.js";

describe("virtual time", () => {
  it("sleep(ms) advances the clock by exactly ms", async () => {
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      expect(loop.time()).toBe(0);
      await sleep(3_600_000);
      expect(loop.time()).toBe(3_600_000);
      await sleep(0.5);
      expect(loop.time()).toBe(3_600_000.5);
    });
  });

  it("concurrent sleeps wake in deadline order, each at its own time", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      const sleeper = (ms: number) => createTask(async () => {
        await sleep(ms);
        steps.push(`${ms}@${loop.time()}`);
      });
      await Promise.all([sleeper(30), sleeper(10), sleeper(20), sleeper(10)]);
    });
    expect(steps).toEqual(["10@10", "10@10", "20@20", "30@30"]);
  });

  it("a delay beyond the host timer range (2^31-1 ms) fires on time, not early", async () => {
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      const long = 2 ** 31 + 1000;
      const early = createTask(() => sleep(long - 1));
      await sleep(long);
      expect(early.done()).toBe(true);
      expect(loop.time()).toBe(long);
    });
  });
});

describe("zero, negative and infinite delays", () => {
  it("sleep(0) yields exactly one loop iteration", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      loop.callSoon(() => {
        steps.push("A");
        loop.callSoon(() => steps.push("B"));
      });
      await sleep(0);
      steps.push("after sleep(0)");
      await sleep(0);
      steps.push("after second sleep(0)");
      expect(loop.time()).toBe(0);
    });
    expect(steps).toEqual(["A", "after sleep(0)", "B", "after second sleep(0)"]);
  });

  it("sleep(0) lets another ready task run", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const other = createTask(() => steps.push("other task"));
      steps.push("before");
      await sleep(0);
      steps.push("after");
      await other;
    });
    expect(steps).toEqual(["before", "other task", "after"]);
  });

  it("a negative delay means now", async () => {
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      await sleep(10);
      expect(await sleep(-500, "now")).toBe("now");
      expect(await sleep(-Infinity, "also now")).toBe("also now");
      expect(loop.time()).toBe(10);
    });
  });

  it("Infinity sleeps until cancelled and never moves the clock", async () => {
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      const forever = sleep(Infinity);
      const t = createTask(() => forever);
      await sleep(1_000_000);
      expect(t.done()).toBe(false);
      expect(forever.done()).toBe(false);
      t.cancel();
      expect(await rejection(t)).toBeInstanceOf(CancelledError);
      expect(forever.cancelled()).toBe(true);
      expect(loop.time()).toBe(1_000_000);
    });
  });
});

describe("bad delays throw at the call", () => {
  it("NaN throws RangeError", async () => {
    await onVirtualLoop(async () => {
      expect(() => sleep(NaN)).toThrow(RangeError);
      expect(() => sleep(NaN)).toThrow(/sleep delay must not be NaN/);
    });
  });

  it("a non-number throws TypeError naming what was got", async () => {
    await onVirtualLoop(async () => {
      expect(() => sleep("10" as never)).toThrow(TypeError);
      expect(() => sleep("10" as never)).toThrow(/sleep delay must be a number of milliseconds, got "10"/);
      expect(() => sleep(undefined as never)).toThrow(TypeError);
      expect(() => sleep(null as never)).toThrow(/got null/);
      expect(() => sleep(10n as never)).toThrow(TypeError);
    });
  });

  it("options that are not an object, or a signal that is not an AbortSignal, throw TypeError", async () => {
    await onVirtualLoop(async () => {
      expect(() => sleep(1, undefined, 5 as never)).toThrow(TypeError);
      expect(() => sleep(1, undefined, { signal: "no" as never })).toThrow(/signal must be an AbortSignal/);
    });
  });
});

describe("value", () => {
  it("sleep resolves to the value given, or undefined", async () => {
    await onVirtualLoop(async () => {
      const obj = { a: 1 };
      expect(await sleep(5, obj)).toBe(obj);
      expect(await sleep(5)).toBeUndefined();
      expect(await sleep(0, "zero")).toBe("zero");
    });
  });

  it("sleep returns a Future that can be inspected and cancelled directly", async () => {
    await onVirtualLoop(async () => {
      const s = sleep(100, "v");
      expect(s).toBeInstanceOf(Future);
      expect(s.done()).toBe(false);
      await sleep(100);
      expect(s.done()).toBe(true);
      expect(s.result()).toBe("v");
      const c = sleep(100);
      expect(c.cancel("no more")).toBe(true);
      expect(((await rejection(c)) as Error).message).toBe("no more");
    });
  });

  it("cancelling a sleep drops its timer, so the clock does not jump to it", async () => {
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      const s = sleep(5000);
      expect(String(loop)).toContain("timers: 1");
      s.cancel();
      expect(String(loop)).toContain("timers: 0");
      await sleep(0);
      expect(loop.time()).toBe(0);
    });
  });
});

describe("{ signal }", () => {
  it("a signal aborted before the call rejects at once with its reason", async () => {
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      const controller = new AbortController();
      const reason = new Error("already aborted");
      controller.abort(reason);
      const s = sleep(1000, "v", { signal: controller.signal });
      expect(s.done()).toBe(true);
      expect(s.exception()).toBe(reason);
      expect(await rejection(s)).toBe(reason);
      expect(loop.time()).toBe(0);
      expect(String(loop)).toContain("timers: 0");
      expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
    });
  });

  it("aborting later rejects with the reason, drops the timer and removes the listener", async () => {
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      const controller = new AbortController();
      const s = sleep(1000, "v", { signal: controller.signal });
      expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
      loop.callLater(10, () => controller.abort("stop sleeping"));
      expect(await rejection(s)).toBe("stop sleeping");
      expect(loop.time()).toBe(10);
      expect(s.cancelled()).toBe(false);
      expect(String(loop)).toContain("timers: 0");
      expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
    });
  });

  it("the listener is removed when the sleep ends normally or is cancelled", async () => {
    await onVirtualLoop(async () => {
      const controller = new AbortController();
      const s = sleep(10, "v", { signal: controller.signal });
      expect(await s).toBe("v");
      expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
      const c = sleep(10, "v", { signal: controller.signal });
      c.cancel();
      expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
      controller.abort();
      expect(c.cancelled()).toBe(true);
    });
  });

  it("a sleep(Infinity) with a signal ends when the signal aborts", async () => {
    await onVirtualLoop(async () => {
      const controller = new AbortController();
      const s = sleep(Infinity, undefined, { signal: controller.signal });
      getRunningLoop().callLater(50, () => controller.abort(new RangeError("enough")));
      const error = await rejection(s);
      expect(error).toBeInstanceOf(RangeError);
      expect(getRunningLoop().time()).toBe(50);
    });
  });

  it("in a task, cancelling the task still cancels a sleep that has a signal", async () => {
    await onVirtualLoop(async () => {
      const controller = new AbortController();
      let inner: Future<void> | undefined;
      const t = createTask(async () => {
        inner = sleep(1000, undefined, { signal: controller.signal });
        await inner;
      });
      await sleep(1);
      t.cancel();
      expect(await rejection(t)).toBeInstanceOf(CancelledError);
      expect(inner!.cancelled()).toBe(true);
      expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
    });
  });
});

describe("outside any loop", () => {
  it("sleep works in plain async code on the default loop", async () => {
    const s = sleep(1, "plain");
    expect(s.done()).toBe(false);
    expect(await s).toBe("plain");
  });
});
