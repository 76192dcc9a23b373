import { describe, expect, it } from "vitest";
import { inspect } from "node:util";
import { CancelledError, InvalidStateError, QueueEmpty, QueueFull, QueueShutDown } from "@aiots/core";
import { createTask, sleep } from "@aiots/future";
import { getRunningLoop } from "@aiots/loop";
import type { Queue } from "@aiots/queue";
import { onVirtualLoop, tick } from "./helpers.js";

/**
 * The behaviour every queue kind shares (CPython runs its join and shutdown tests for each
 * kind the same way). Tests here put at most one item at a time where order would matter.
 */
export function sharedQueueTests(name: string, make: (maxsize?: number) => Queue<unknown>): void {
  describe(`${name}: taskDone and join`, () => {
    it("taskDone on a queue with no unfinished item throws, naming the misuse", () => {
      const q = make();
      expect(() => q.taskDone()).toThrow(InvalidStateError);
      expect(() => q.taskDone()).toThrow(/taskDone\(\) called more times than items were put/);
      q.putNowait(1);
      q.getNowait();
      q.taskDone();
      expect(() => q.taskDone()).toThrow(InvalidStateError);
    });

    it("join resumes once two workers have marked all 100 items done", async () => {
      let sum = 0;
      await onVirtualLoop(async () => {
        const q = make();
        for (let i = 0; i < 100; i++) q.putNowait(i);
        const worker = async () => {
          for (;;) {
            const item = (await q.get()) as number;
            await sleep(1);
            sum += item;
            q.taskDone();
          }
        };
        const workers = [createTask(worker), createTask(worker)];
        await q.join();
        expect(sum).toBe(4950);
        for (const w of workers) w.cancel();
      });
    });

    it("join on a queue with nothing unfinished returns at once, twice", async () => {
      await onVirtualLoop(async () => {
        const q = make();
        // "At once": before a callback the loop holds already gets its turn.
        let loopTurned = false;
        getRunningLoop().callSoon(() => {
          loopTurned = true;
        });
        await expect(q.join()).resolves.toBeUndefined();
        await expect(q.join()).resolves.toBeUndefined();
        q.putNowait("x");
        q.getNowait();
        q.taskDone();
        await expect(q.join()).resolves.toBeUndefined();
        expect(loopTurned).toBe(false);
      });
    });

    it("join waits for the last taskDone, not for the queue to be empty", async () => {
      const steps: string[] = [];
      await onVirtualLoop(async () => {
        const q = make();
        q.putNowait("a");
        const joiner = createTask(async () => {
          await q.join();
          steps.push("joined");
        });
        await tick();
        q.getNowait();
        steps.push("got");
        await tick();
        steps.push("done");
        q.taskDone();
        await joiner;
      });
      expect(steps).toEqual(["got", "done", "joined"]);
    });

    it("a cancelled join leaves the queue's count alone", async () => {
      await onVirtualLoop(async () => {
        const q = make();
        q.putNowait(1);
        const joiner = createTask(() => q.join());
        await tick();
        joiner.cancel();
        await expect(joiner).rejects.toBeInstanceOf(CancelledError);
        q.getNowait();
        q.taskDone();
        await q.join();
        expect(() => q.taskDone()).toThrow(InvalidStateError);
      });
    });
  });

  describe(`${name}: shutdown`, () => {
    it("shutting down an empty queue rejects a waiting get, and every later put and get", async () => {
      await onVirtualLoop(async () => {
        const q = make();
        const getter = createTask(() => q.get());
        await tick();
        q.shutdown();
        expect(q.qsize()).toBe(0);
        await q.join();
        await tick();
        expect(getter.done()).toBe(true);
        await expect(getter).rejects.toBeInstanceOf(QueueShutDown);
        await expect(q.put("data")).rejects.toBeInstanceOf(QueueShutDown);
        expect(() => q.putNowait("data")).toThrow(QueueShutDown);
        await expect(q.get()).rejects.toBeInstanceOf(QueueShutDown);
        expect(() => q.getNowait()).toThrow(QueueShutDown);
      });
    });

    it("shutting down a full queue rejects the waiting putter but still gives out what is buffered", async () => {
      await onVirtualLoop(async () => {
        const q = make(1);
        q.putNowait("data");
        const joiner = createTask(() => q.join());
        const putter = createTask(() => q.put("data2"));
        await tick();
        expect(putter.done()).toBe(false);
        q.shutdown(false);
        expect(q.qsize()).toBe(1);
        await tick();
        await expect(putter).rejects.toBeInstanceOf(QueueShutDown);
        expect(await q.get()).toBe("data");
        await tick();
        expect(joiner.done()).toBe(false);
        await expect(q.put("data")).rejects.toBeInstanceOf(QueueShutDown);
        expect(() => q.putNowait("data")).toThrow(QueueShutDown);
        await expect(q.get()).rejects.toBeInstanceOf(QueueShutDown);
        expect(() => q.getNowait()).toThrow(QueueShutDown);
        q.taskDone();
        await tick();
        expect(joiner.done()).toBe(true);
        await joiner;
        expect(() => q.taskDone()).toThrow(InvalidStateError);
      });
    });

    it("shutdown(true) drops the buffered items and releases join", async () => {
      await onVirtualLoop(async () => {
        const q = make();
        q.putNowait("data");
        const joiner = createTask(() => q.join());
        q.shutdown(true);
        expect(q.qsize()).toBe(0);
        await tick();
        expect(joiner.done()).toBe(true);
        await joiner;
        await expect(q.put("data")).rejects.toBeInstanceOf(QueueShutDown);
        expect(() => q.putNowait("data")).toThrow(QueueShutDown);
        await expect(q.get()).rejects.toBeInstanceOf(QueueShutDown);
        expect(() => q.getNowait()).toThrow(QueueShutDown);
        expect(() => q.taskDone()).toThrow(InvalidStateError);
      });
    });

    it("shutdown(true) after shutdown() still drains the queue", async () => {
      await onVirtualLoop(async () => {
        const q = make();
        q.putNowait(1);
        q.shutdown();
        expect(q.qsize()).toBe(1);
        q.shutdown(true);
        expect(q.qsize()).toBe(0);
        await q.join();
      });
    });

    it("shutdown needs a boolean", () => {
      const q = make();
      expect(() => q.shutdown("yes" as unknown as boolean)).toThrow(TypeError);
      expect(q.toString()).not.toContain("shut down");
    });

    it("for await gets items until the queue is shut down, then ends", async () => {
      const seen: unknown[] = [];
      await onVirtualLoop(async () => {
        const q = make();
        const consumer = createTask(async () => {
          for await (const item of q) {
            seen.push(item);
            q.taskDone();
          }
          return "ended";
        });
        await q.put("a");
        await sleep(5);
        await q.put("b");
        await q.join();
        q.shutdown();
        expect(await consumer).toBe("ended");
      });
      expect(seen).toEqual(["a", "b"]);
    });

    it("for await still gives out what was buffered before a plain shutdown", async () => {
      await onVirtualLoop(async () => {
        const q = make();
        q.putNowait(7);
        q.shutdown();
        const seen: unknown[] = [];
        for await (const item of q) seen.push(item);
        expect(seen).toEqual([7]);
      });
    });

    it("cancelling a task iterating with for await withdraws its get", async () => {
      await onVirtualLoop(async () => {
        const q = make();
        const consumer = createTask(async () => {
          for await (const item of q) return item;
          return "ended";
        });
        await tick();
        expect(q.toString()).toContain("getters: 1");
        consumer.cancel();
        await expect(consumer).rejects.toBeInstanceOf(CancelledError);
        expect(q.toString()).toContain("getters: 0");
        q.putNowait("kept");
        expect(q.getNowait()).toBe("kept");
      });
    });
  });

  describe(`${name}: shows its state`, () => {
    it("toString and util.inspect show maxsize, size, getters, putters and the items not yet marked done", async () => {
      await onVirtualLoop(async () => {
        const q = make(10);
        expect(String(q)).toBe(`${name} [maxsize: 10, size: 0, getters: 0, putters: 0]`);
        const getter = createTask(() => q.get());
        await tick();
        expect(String(q)).toBe(`${name} [maxsize: 10, size: 0, getters: 1, putters: 0]`);
        q.putNowait(1);
        await getter;
        for (let i = 0; i < 3; i++) q.putNowait(i);
        expect(inspect(q)).toBe(`${name} [maxsize: 10, size: 3, getters: 0, putters: 0, unfinished: 4]`);
        expect(Object.prototype.toString.call(q)).toBe(`[object ${name}]`);
        q.shutdown();
        expect(String(q)).toBe(`${name} [maxsize: 10, size: 3, getters: 0, putters: 0, unfinished: 4, shut down]`);
        q.shutdown(true);
        expect(String(q)).toBe(`${name} [maxsize: 10, size: 0, getters: 0, putters: 0, unfinished: 1, shut down immediately]`);
      });
    });

    it("shows the putters waiting on a full queue", async () => {
      await onVirtualLoop(async () => {
        const q = make(1);
        q.putNowait(1);
        createTask(() => q.put(2));
        createTask(() => q.put(3));
        await tick();
        expect(String(q)).toBe(`${name} [maxsize: 1, size: 1, getters: 0, putters: 2, unfinished: 1]`);
        q.shutdown();
      });
    });
  });

  describe(`${name}: bounds and bad input`, () => {
    it("putNowait on a full queue throws QueueFull, getNowait on an empty one QueueEmpty", () => {
      const q = make(1);
      expect(q.maxsize).toBe(1);
      expect(() => q.getNowait()).toThrow(QueueEmpty);
      q.putNowait(1);
      expect(q.full()).toBe(true);
      expect(() => q.putNowait(2)).toThrow(QueueFull);
      expect(q.qsize()).toBe(1);
    });

    it("rejects a maxsize that is not an integer at the call", () => {
      expect(() => make(1.5)).toThrow(RangeError);
      expect(() => make(1.5)).toThrow(/maxsize must be an integer.*1\.5/);
      expect(() => make(Number.NaN)).toThrow(RangeError);
      expect(() => make("3" as unknown as number)).toThrow(TypeError);
      expect(() => make(null as unknown as number)).toThrow(TypeError);
    });

    it("treats maxsize 0, a negative maxsize and Infinity as unbounded", () => {
      for (const maxsize of [0, -1, Infinity]) {
        const q = make(maxsize);
        for (let i = 0; i < 1000; i++) q.putNowait(i);
        expect(q.full()).toBe(false);
        expect(q.qsize()).toBe(1000);
      }
    });

    it("rejects bad wait options at the call", () => {
      const q = make();
      expect(() => q.get(42 as never)).toThrow(TypeError);
      expect(() => q.put(1, { signal: {} as AbortSignal })).toThrow(TypeError);
      expect(() => q.join("x" as never)).toThrow(TypeError);
    });
  });
}
