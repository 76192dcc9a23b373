// More cases from CPython 3.13's Lib/test/test_asyncio/test_queues.py that the other queue
// tests do not pin down yet. Each asserts what asyncio does (checked against CPython 3.13).
import { describe, expect, it } from "vitest";
import { CancelledError, TimeoutError } from "@aiots/core";
import { taskGroup, waitFor } from "@aiots/flow";
import { Queue } from "@aiots/queue";
import { now, onVirtualLoop, tick } from "./helpers.js";

describe("CPython port (more): getters", () => {
  it("a get given to waitFor that times out leaves no getter behind and takes nothing (test_cancelled_getters_not_being_held_in_self_getters)", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>(5);
      const error = await waitFor(q.get(), 100).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as Error).cause).toBeInstanceOf(CancelledError);
      expect(now()).toBe(100);
      expect(q._getters.size).toBe(0);
      expect(String(q)).toContain("getters: 0");
      // Nobody is waiting any more: the next item is buffered, not handed to a withdrawn get.
      q.putNowait(1);
      expect(q.qsize()).toBe(1);
      expect(q.getNowait()).toBe(1);
    });
  });
});

describe("CPython port (more): putters", () => {
  it("a getter that drains a queue of two once lets all four putters finish; the last two items stay buffered (test_why_are_putters_waiting)", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>(2);
      const drained: number[] = [];
      const putDone: number[] = [];
      await taskGroup(async (tg) => {
        tg.createTask(async () => {
          await tick();
          const n = q.qsize();
          for (let i = 0; i < n; i++) drained.push(q.getNowait());
        });
        for (const i of [0, 1, 2, 3]) {
          tg.createTask(async () => {
            await q.put(i);
            putDone.push(i);
          });
        }
      });
      expect(drained).toEqual([0, 1]);
      expect(putDone).toEqual([0, 1, 2, 3]);
      expect(q.qsize()).toBe(2);
      expect([q.getNowait(), q.getNowait()]).toEqual([2, 3]);
      expect(now()).toBe(0);
    });
  });
});
