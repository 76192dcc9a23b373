import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { CancelledError } from "@aiots/core";
import { createTask } from "@aiots/future";
import { PriorityQueue, Queue, defaultCompare } from "@aiots/queue";
import { onVirtualLoop, tick } from "./helpers.js";
import { sharedQueueTests } from "./shared.js";

sharedQueueTests("PriorityQueue", (maxsize) => new PriorityQueue<unknown>(maxsize));

describe("PriorityQueue: order", () => {
  it("gives out the smallest item first", async () => {
    const q = new PriorityQueue<number>();
    for (const i of [1, 3, 2]) await q.put(i);
    const items = [await q.get(), await q.get(), await q.get()];
    expect(items).toEqual([1, 2, 3]);
  });

  it("orders [priority, data] entries like Python tuples", () => {
    const q = new PriorityQueue<[number, string]>();
    q.putNowait([2, "b"]);
    q.putNowait([1, "z"]);
    q.putNowait([2, "a"]);
    q.putNowait([1, "y"]);
    expect([q.getNowait(), q.getNowait(), q.getNowait(), q.getNowait()]).toEqual([
      [1, "y"],
      [1, "z"],
      [2, "a"],
      [2, "b"],
    ]);
  });

  it("takes any compare function, smallest first", () => {
    const q = new PriorityQueue<{ due: number }>(0, (a, b) => b.due - a.due);
    for (const due of [5, 9, 1]) q.putNowait({ due });
    expect([q.getNowait().due, q.getNowait().due, q.getNowait().due]).toEqual([9, 5, 1]);
    expect(q).toBeInstanceOf(Queue);
  });

  it("gives out any sequence of numbers sorted, with gets and puts interleaved", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: -50, max: 50 }), fc.constant(null)), { maxLength: 200 }), (ops) => {
        const q = new PriorityQueue<number>();
        const model: number[] = [];
        for (const op of ops) {
          if (op === null) {
            if (model.length === 0) continue;
            model.sort((a, b) => a - b);
            expect(q.getNowait()).toBe(model.shift());
          } else {
            q.putNowait(op);
            model.push(op);
          }
          expect(q.qsize()).toBe(model.length);
        }
        model.sort((a, b) => a - b);
        const rest: number[] = [];
        while (!q.empty()) rest.push(q.getNowait());
        expect(rest).toEqual(model);
      }),
      { numRuns: 150 },
    );
  });

  it("admits a waiting putter's item into its place in the order", async () => {
    await onVirtualLoop(async () => {
      const q = new PriorityQueue<number>(2);
      q.putNowait(5);
      q.putNowait(7);
      const putter = createTask(() => q.put(1));
      await tick();
      expect(q.getNowait()).toBe(5);
      await putter;
      expect(q.getNowait()).toBe(1);
      expect(q.getNowait()).toBe(7);
    });
  });

  it("puts an item given back by a cancelled getter back in its place", async () => {
    await onVirtualLoop(async () => {
      const q = new PriorityQueue<number>();
      const getter = createTask(() => q.get());
      await tick();
      q.putNowait(5);
      q.putNowait(3);
      getter.cancel();
      await expect(getter).rejects.toBeInstanceOf(CancelledError);
      expect([q.getNowait(), q.getNowait()]).toEqual([3, 5]);
    });
  });
});

describe("PriorityQueue: the default order", () => {
  it("compares numbers, bigints, strings and arrays element by element", () => {
    expect(defaultCompare(1, 2)).toBeLessThan(0);
    expect(defaultCompare(2, 1)).toBeGreaterThan(0);
    expect(defaultCompare(3, 3)).toBe(0);
    expect(defaultCompare(1n, 2)).toBeLessThan(0);
    expect(defaultCompare("a", "b")).toBeLessThan(0);
    expect(defaultCompare("b", "a")).toBeGreaterThan(0);
    expect(defaultCompare([1, "b"], [1, "a"])).toBeGreaterThan(0);
    expect(defaultCompare([1], [1, 0])).toBeLessThan(0);
    expect(defaultCompare([[1, 2]], [[1, 3]])).toBeLessThan(0);
    const data = {};
    expect(defaultCompare([1, data], [1, data])).toBe(0);
  });

  it("throws a TypeError for values it cannot order, naming them", () => {
    expect(() => defaultCompare({}, {})).toThrow(TypeError);
    expect(() => defaultCompare(1, "1")).toThrow(/cannot compare a number with a string/);
    expect(() => defaultCompare([1, {}], [1, {}])).toThrow(/an object with an object/);
    expect(() => defaultCompare(Number.NaN, 1)).toThrow(RangeError);
  });

  it("a put it cannot order throws and leaves the queue as it was", async () => {
    const q = new PriorityQueue<unknown>();
    q.putNowait(1);
    q.putNowait(3);
    expect(() => q.putNowait("2")).toThrow(TypeError);
    await expect(q.put({})).rejects.toBeInstanceOf(TypeError);
    expect(q.qsize()).toBe(2);
    expect([q.getNowait(), q.getNowait()]).toEqual([1, 3]);
    // Nothing was counted for join either.
    q.taskDone();
    q.taskDone();
    expect(() => q.taskDone()).toThrow();
  });

  it("a compare that throws during a get leaves every item in place", () => {
    let failing = false;
    const q = new PriorityQueue<number>(0, (a, b) => {
      if (failing) throw new Error("compare failed");
      return a - b;
    });
    for (const n of [4, 8, 1, 9, 3, 7, 2]) q.putNowait(n);
    failing = true;
    expect(() => q.getNowait()).toThrow("compare failed");
    expect(q.qsize()).toBe(7);
    failing = false;
    const out: number[] = [];
    while (!q.empty()) out.push(q.getNowait());
    expect(out).toEqual([1, 2, 3, 4, 7, 8, 9]);
  });

  it("a waiting put whose item cannot be ordered fails, and the next putter gets the slot", async () => {
    await onVirtualLoop(async () => {
      const q = new PriorityQueue<unknown>(2);
      q.putNowait(1);
      q.putNowait(2);
      const bad = createTask(() => q.put("x"));
      const good = createTask(() => q.put(0));
      await tick();
      expect(q.getNowait()).toBe(1);
      await expect(bad).rejects.toBeInstanceOf(TypeError);
      await good;
      expect([q.getNowait(), q.getNowait()]).toEqual([0, 2]);
    });
  });

  it("needs a compare function", () => {
    expect(() => new PriorityQueue(0, null as unknown as (a: number, b: number) => number)).toThrow(TypeError);
    expect(() => new PriorityQueue(0, 5 as unknown as (a: number, b: number) => number)).toThrow(/compare must be a function/);
    expect(new PriorityQueue(0, undefined).maxsize).toBe(0);
  });
});

describe("PriorityQueue: an item that cannot be ordered with one handed to a getter", () => {
  // asyncio keeps the handed item in its heap until the getter resumes, so a put that cannot
  // be ordered with it raises TypeError; here the item is with the getter, and it may come back.
  it("is refused at the put, so a cancelled getter's item always fits back", async () => {
    const { refused, left } = await onVirtualLoop(async () => {
      const q = new PriorityQueue<[number, object]>();
      const getter = createTask(() => q.get());
      await tick();
      q.putNowait([1, { a: 1 }]);
      let refused = "accepted";
      try {
        q.putNowait([1, { b: 1 }]);
      } catch (error) {
        refused = error instanceof TypeError ? "TypeError" : String(error);
      }
      getter.cancel();
      await getter.catch(() => undefined);
      const left: unknown[] = [];
      while (!q.empty()) left.push(q.getNowait());
      return { refused, left };
    });
    expect(refused).toBe("TypeError");
    expect(left).toEqual([[1, { a: 1 }]]);
  });

  it("with a comparator that throws for one pair: a put that would wait is refused too", async () => {
    const { refused, left } = await onVirtualLoop(async () => {
      const compare = (a: number, b: number) => {
        if ((a === 1 && b === 2) || (a === 2 && b === 1)) throw new TypeError("1 and 2 do not compare");
        return a - b;
      };
      const q = new PriorityQueue<number>(1, compare);
      const getter = createTask(() => q.get());
      await tick();
      q.putNowait(1);
      const putting = q.put(2);
      getter.cancel();
      const refused = await putting.then(
        () => "accepted",
        (error: unknown) => (error instanceof TypeError ? "TypeError" : String(error)),
      );
      await getter.catch(() => undefined);
      const left: number[] = [];
      while (!q.empty()) left.push(q.getNowait());
      return { refused, left };
    });
    expect(refused).toBe("TypeError");
    expect(left).toEqual([1]);
  });
});
