import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { CancelledError } from "@aiots/core";
import { createTask, sleep } from "@aiots/future";
import { getRunningLoop } from "@aiots/loop";
import { Event } from "@aiots/sync";
import { abortListeners, outcome, ticks, virtual } from "./helpers.js";

describe("Event state", () => {
  it("starts unset; set and clear flip the flag", () => {
    const ev = new Event();
    expect(ev.isSet()).toBe(false);
    ev.set();
    expect(ev.isSet()).toBe(true);
    ev.clear();
    expect(ev.isSet()).toBe(false);
  });

  it("shows its state in String() and util.inspect", async () => {
    await virtual(async () => {
      const ev = new Event();
      expect(String(ev)).toBe("Event [unset]");
      const t = createTask(() => ev.wait());
      await ticks();
      expect(inspect(ev)).toBe("Event [unset, waiters: 1]");
      ev.set();
      expect(String(ev)).toBe("Event [set]");
      expect(Object.prototype.toString.call(ev)).toBe("[object Event]");
      await t;
    });
  });
});

describe("Event.wait", () => {
  it("wakes every waiter on set, first to last, after a task whose first step was queued before the set()", async () => {
    await virtual(async () => {
      const ev = new Event();
      const result: number[] = [];
      const c = (n: number) => async () => {
        if (await ev.wait()) result.push(n);
      };
      const t1 = createTask(c(1));
      const t2 = createTask(c(2));
      await ticks();
      expect(result).toEqual([]);
      const t3 = createTask(c(3));
      ev.set();
      await ticks();
      // t3's first step was queued before the set(), so it goes first; the woken waiters
      // follow in the order they waited (asyncio's order).
      expect(result).toEqual([3, 1, 2]);
      for (const t of [t1, t2, t3]) expect(t.result()).toBeUndefined();
    });
  });

  it("resolves at once to true when the flag is set", async () => {
    await virtual(async () => {
      const ev = new Event();
      ev.set();
      expect(await ev.wait()).toBe(true);
    });
  });

  it("a cancelled waiter leaves the queue", async () => {
    await virtual(async () => {
      const ev = new Event();
      const wait = createTask(() => ev.wait());
      getRunningLoop().callSoon(() => wait.cancel());
      await expect(wait).rejects.toBeInstanceOf(CancelledError);
      expect(ev._waiters.size).toBe(0);
    });
  });

  it("a waiter cancelled after set woke it, before it resumed, throws CancelledError while the others wake", async () => {
    await virtual(async () => {
      const steps: string[] = [];
      const ev = new Event();
      const waiter = (name: string) =>
        createTask(async () => {
          try {
            steps.push(`${name} woke: ${await ev.wait()}`);
          } catch (e) {
            steps.push(`${name}: ${(e as Error).name}`);
            throw e;
          }
        });
      const [a, b, c] = [waiter("a"), waiter("b"), waiter("c")];
      await ticks();
      ev.set();
      b.cancel();
      expect(await outcome(b)).toBe("CancelledError");
      await Promise.all([a, c]);
      expect(steps).toEqual(["a woke: true", "b: CancelledError", "c woke: true"]);
      expect(ev._waiters.size).toBe(0);
    });
  });

  it("a task whose function returns the wait, cancelled in the same step as set, ends cancelled", async () => {
    await virtual(async () => {
      const ev = new Event();
      const t = createTask(() => ev.wait());
      const other = createTask(() => ev.wait());
      await ticks();
      ev.set();
      t.cancel();
      expect(await outcome(t)).toBe("CancelledError");
      expect(await other).toBe(true);
    });
  });

  it("bad options throw TypeError at the call", () => {
    const ev = new Event();
    expect(() => ev.wait("signal" as never)).toThrow(/Event\.wait options must be an object/);
    expect(() => ev.wait({ signal: {} } as never)).toThrow(TypeError);
  });

  it("works in plain async code on the default loop", async () => {
    const ev = new Event();
    const waiting = ev.wait();
    ev.set();
    expect(await waiting).toBe(true);
  });
});

describe("Event.wait with an AbortSignal", () => {
  it("an already aborted signal rejects at once, even when the flag is set", async () => {
    await virtual(async () => {
      const ev = new Event();
      ev.set();
      await expect(ev.wait({ signal: AbortSignal.abort("no") })).rejects.toBe("no");
    });
  });

  it("aborting later withdraws the wait and removes the listener; set then wakes only the others", async () => {
    await virtual(async () => {
      const ev = new Event();
      const ac = new AbortController();
      const aborted = ev.wait({ signal: ac.signal });
      const other = ev.wait();
      getRunningLoop().callLater(5, () => ac.abort(new Error("late")));
      await sleep(10);
      expect(ev._waiters.size).toBe(1);
      expect(abortListeners(ac.signal)).toBe(0);
      await expect(aborted).rejects.toThrow("late");
      ev.set();
      expect(await other).toBe(true);
    });
  });

  it("removes the listener once set wakes the waiter", async () => {
    await virtual(async () => {
      const ev = new Event();
      const ac = new AbortController();
      const p = ev.wait({ signal: ac.signal });
      expect(abortListeners(ac.signal)).toBe(1);
      ev.set();
      expect(abortListeners(ac.signal)).toBe(0);
      ac.abort();
      expect(await p).toBe(true);
    });
  });
});
