// Audit of CPython 3.13's Lib/test/test_asyncio/test_queues.py against the aiots queue tests.
// The cases here are the ones the other test files cover only loosely: each asserts the
// intermediate states CPython's test checks (or that asyncio shows, checked against CPython
// 3.13), for every queue kind where CPython's mixins run each kind. Where aiots documents a
// different choice, the test asserts aiots' behaviour and says so in its name.
import { describe, expect, it } from "vitest";
import { CancelledError, InvalidStateError, QueueFull, QueueShutDown } from "@aiots/core";
import { createTask } from "@aiots/future";
import type { Future } from "@aiots/future";
import { taskGroup } from "@aiots/flow";
import { LifoQueue, PriorityQueue, Queue } from "@aiots/queue";
import { isPendingFuture, onVirtualLoop, outcome, tick } from "./helpers.js";

type Kind = readonly [name: string, make: (maxsize?: number) => Queue<unknown>];

const KINDS: readonly Kind[] = [
  ["Queue", (maxsize) => new Queue<unknown>(maxsize)],
  ["LifoQueue", (maxsize) => new LifoQueue<unknown>(maxsize)],
  ["PriorityQueue", (maxsize) => new PriorityQueue<unknown>(maxsize)],
];

describe("CPython audit: QueueBasicTests", () => {
  for (const [name, make] of KINDS) {
    it(`${name}: toString names the kind and counts a waiting getter until a put wakes it, and a waiting putter until a get admits it (test_repr, test_str)`, async () => {
      await onVirtualLoop(async () => {
        const empty = make();
        expect(String(empty).startsWith(name)).toBe(true);

        const q = make();
        const getter = createTask(() => q.get());
        await tick();
        expect(String(q)).toContain("getters: 1");
        q.putNowait(0);
        // asyncio drops the woken getter from its line at once.
        expect(String(q)).toContain("getters: 0");
        expect(await getter).toBe(0);

        const bounded = make(1);
        bounded.putNowait(1);
        const putter = createTask(() => bounded.put(2));
        await tick();
        expect(String(bounded)).toContain("putters: 1");
        expect(bounded.getNowait()).toBe(1);
        expect(String(bounded)).toContain("putters: 0");
        expect(putter.done()).toBe(false);
        await putter;
        expect(putter.done()).toBe(true);
        expect(bounded.getNowait()).toBe(2);
      });
    });

    it(`${name}: documented difference: toString shows how many items are buffered (size: 1), not the items as asyncio's repr does, and the items not yet marked done as asyncio's tasks= (test_repr, test_str, test_format)`, () => {
      const q = make();
      q.putNowait(1);
      expect(String(q)).toBe(`${name} [maxsize: 0, size: 1, getters: 0, putters: 0, unfinished: 1]`);
      q.getNowait();
      expect(String(q)).toBe(`${name} [maxsize: 0, size: 0, getters: 0, putters: 0, unfinished: 1]`);
      q.taskDone();
      expect(String(q)).toBe(`${name} [maxsize: 0, size: 0, getters: 0, putters: 0]`);
    });
  }
});

describe("CPython audit: QueueGetTests", () => {
  for (const [name, make] of KINDS) {
    it(`${name}: a get that frees a slot has already settled the waiting putter's Future, with no value, when it returns (test_get_with_putters)`, async () => {
      await onVirtualLoop(async () => {
        const q = make(1);
        await q.put(1);
        const putting = q.put(2);
        expect(isPendingFuture(putting)).toBe(true);
        expect(String(q)).toContain("putters: 1");
        expect(await q.get()).toBe(1);
        expect(isPendingFuture(putting)).toBe(false);
        expect((putting as unknown as Future<void>).result()).toBeUndefined();
        expect(String(q)).toContain("putters: 0");
        expect(await putting).toBeUndefined();
        expect(q.getNowait()).toBe(2);
        expect(q.empty()).toBe(true);
      });
    });
  }
});

describe("CPython audit: QueuePutTests", () => {
  it("a task whose put hands its item to the waiting get is done when the get returns (test_put_cancelled)", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>();
      const t = createTask(async () => {
        await q.put(1);
        return true;
      });
      // The put is made in the task's first step; the getter, woken from there, resumes after
      // that step has run on to the task's end (asyncio's order).
      expect(await q.get()).toBe(1);
      expect(t.done()).toBe(true);
      expect(t.result()).toBe(true);
    });
  });

  it("a reader cancelled after two puts throws CancelledError and leaves both items; its retry gets the first (test_get_cancel_drop_one_pending_reader)", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>();
      const reader = createTask(() => q.get());
      await tick();
      q.putNowait(1);
      q.putNowait(2);
      reader.cancel();
      const first = await outcome(reader);
      // asyncio: the woken reader's await throws, and nothing was taken.
      expect(first.error).toBeInstanceOf(CancelledError);
      expect(q.qsize()).toBe(2);
      const retry = createTask(() => q.get());
      expect(await retry).toBe(1);
      expect(q.qsize()).toBe(1);
      expect(q.getNowait()).toBe(2);
    });
  });

  it("of three readers in a task group, one cancelled after two puts: the group ends normally and the others get both items (test_get_cancel_drop_many_pending_readers)", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>();
      let readers: Future<number>[] = [];
      await taskGroup(async (tg) => {
        readers = [tg.createTask(() => q.get()), tg.createTask(() => q.get()), tg.createTask(() => q.get())];
        await tick();
        q.putNowait(1);
        q.putNowait(2);
        readers[0]!.cancel();
        await expect(readers[0]!).rejects.toBeInstanceOf(CancelledError);
        await readers[2]!;
      });
      const [r1, r2, r3] = readers as [Future<number>, Future<number>, Future<number>];
      expect(r1.cancelled()).toBe(true);
      expect(new Set([r2.result(), r3.result()])).toEqual(new Set([1, 2]));
      expect(q.qsize()).toBe(0);
    });
  });

  it("a writer cancelled after a get made room throws CancelledError and puts nothing; its retry puts the item once (test_put_cancel_drop)", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>(1);
      q.putNowait(1);
      const writer = createTask(() => q.put(2));
      await tick();
      expect(q.getNowait()).toBe(1);
      writer.cancel();
      const first = await outcome(writer);
      // asyncio: the woken writer's await throws, and its item is not put.
      expect(first.error).toBeInstanceOf(CancelledError);
      expect(q.qsize()).toBe(0);
      expect(q.full()).toBe(false);
      expect(String(q)).toContain("putters: 0");
      const retry = createTask(() => q.put(2));
      await retry;
      expect(q.getNowait()).toBe(2);
      expect(q.qsize()).toBe(0);
    });
  });

  for (const [name, make] of KINDS) {
    it(`${name}: documented difference: a fractional maxsize (1.3) is rejected with RangeError, where asyncio accepts it as room for two items (test_float_maxsize)`, async () => {
      expect(() => make(1.3)).toThrow(RangeError);
      expect(() => make(1.3)).toThrow(/maxsize must be an integer/);
      // What asyncio's 1.3 means, written as aiots wants it: room for two.
      const q = make(2);
      q.putNowait(1);
      q.putNowait(2);
      expect(q.full()).toBe(true);
      expect(() => q.putNowait(3)).toThrow(QueueFull);
      const awaited = make(2);
      await awaited.put(1);
      await awaited.put(2);
      expect(awaited.full()).toBe(true);
    });
  }
});

describe("CPython audit: _QueueShutdownTestMixin", () => {
  for (const [name, make] of KINDS) {
    it(`${name}: after shutdown(true) with one item got, put, putNowait, get and getNowait all throw QueueShutDown and join waits for that item's taskDone (test_shutdown_immediate_with_unfinished)`, async () => {
      await onVirtualLoop(async () => {
        const q = make();
        q.putNowait("data");
        q.putNowait("data");
        const joiner = createTask(() => q.join());
        expect(await q.get()).toBe("data");
        q.shutdown(true);
        expect(q.qsize()).toBe(0);
        await tick();
        expect(joiner.done()).toBe(false);
        await expect(q.put("data")).rejects.toBeInstanceOf(QueueShutDown);
        expect(() => q.putNowait("data")).toThrow(QueueShutDown);
        await expect(q.get()).rejects.toBeInstanceOf(QueueShutDown);
        expect(() => q.getNowait()).toThrow(QueueShutDown);
        q.taskDone();
        expect(() => q.taskDone()).toThrow(InvalidStateError);
        await tick();
        expect(joiner.done()).toBe(true);
        await joiner;
      });
    });
  }
});
