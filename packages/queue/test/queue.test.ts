import { describe, expect, it } from "vitest";
import { CancelledError, QueueEmpty, QueueFull } from "@aiots/core";
import type { FutureLike } from "@aiots/core";
import { onSettle } from "@aiots/core/internal";
import { createTask, currentTask, sleep } from "@aiots/future";
import { getRunningLoop } from "@aiots/loop";
import { Queue } from "@aiots/queue";
import { CountingSignal, isPendingFuture, now, onVirtualLoop, tick } from "./helpers.js";
import { sharedQueueTests } from "./shared.js";

sharedQueueTests("Queue", (maxsize) => new Queue<unknown>(maxsize));

describe("Queue: basics", () => {
  it("is empty until an item is put, and empty again once it is got", async () => {
    const q = new Queue<number>();
    expect(q.empty()).toBe(true);
    await q.put(1);
    expect(q.empty()).toBe(false);
    expect(await q.get()).toBe(1);
    expect(q.empty()).toBe(true);
  });

  it("is never full when unbounded, and full at maxsize", async () => {
    expect(new Queue().full()).toBe(false);
    expect(new Queue().maxsize).toBe(0);
    const q = new Queue<number>(1);
    await q.put(1);
    expect(q.full()).toBe(true);
  });

  it("gives items out first in, first out", async () => {
    const q = new Queue<number>();
    for (const i of [1, 3, 2]) await q.put(i);
    const items = [await q.get(), await q.get(), await q.get()];
    expect(items).toEqual([1, 3, 2]);
  });

  it("blocks a producer at maxsize until a get frees a slot", async () => {
    const havePut: number[] = [];
    await onVirtualLoop(async () => {
      const q = new Queue<number>(2);
      expect(q.maxsize).toBe(2);
      const producer = createTask(async () => {
        for (let i = 0; i < 3; i++) {
          await q.put(i);
          havePut.push(i);
        }
        return true;
      });
      await tick();
      await tick();
      expect(havePut).toEqual([0, 1]);
      expect(await q.get()).toBe(0);
      await tick();
      expect(havePut).toEqual([0, 1, 2]);
      expect(await q.get()).toBe(1);
      expect(await q.get()).toBe(2);
      expect(producer.done()).toBe(true);
      expect(producer.result()).toBe(true);
    });
  });
});

describe("Queue: get", () => {
  it("returns a buffered item at once", async () => {
    const q = new Queue<number>();
    q.putNowait(1);
    expect(await q.get()).toBe(1);
  });

  it("waits until an item is put, and returns at the time it was put", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>();
      let finished = false;
      const getter = createTask(async () => {
        const item = await q.get();
        finished = true;
        return item;
      });
      await tick();
      expect(finished).toBe(false);
      getRunningLoop().callLater(10, () => q.putNowait(1));
      expect(await getter).toBe(1);
      expect(finished).toBe(true);
      expect(now()).toBe(10);
    });
  });

  it("a put with a waiting getter hands the item straight to it, never buffering it", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>();
      const getter = createTask(() => q.get());
      await tick();
      q.putNowait("a");
      expect(q.qsize()).toBe(0);
      // A newcomer cannot take the item between the put and the getter's wake-up.
      expect(() => q.getNowait()).toThrow();
      expect(await getter).toBe("a");
    });
  });

  it("a getter cancelled while waiting takes nothing: the next getter gets the item", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>();
      const t1 = createTask(() => q.get());
      const t2 = createTask(() => q.get());
      await tick();
      t1.cancel();
      await tick();
      expect(t1.done()).toBe(true);
      await q.put("a");
      await tick();
      expect(await t2).toBe("a");
    });
  });

  it("takes the buffered items in order while putters wait", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>(1);
      createTask(() => q.put("a"));
      createTask(() => q.put("b"));
      expect(await q.get()).toBe("a");
      expect(await q.get()).toBe("b");
    });
  });

  it("a get that frees a slot reserves it for the first waiting putter, whose item is in a microtask later", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>(1);
      q.putNowait("a");
      const p1 = createTask(() => q.put("b"));
      const p2 = createTask(() => q.put("c"));
      await tick();
      expect(q.getNowait()).toBe("a");
      // The slot is held for "b": a newcomer cannot barge in, even before "b" arrives.
      expect(q.full()).toBe(true);
      expect(() => q.putNowait("z")).toThrow(QueueFull);
      await Promise.resolve();
      expect(q.qsize()).toBe(1);
      expect(String(q)).toContain("putters: 1");
      expect(q.getNowait()).toBe("b");
      await Promise.resolve();
      expect(q.getNowait()).toBe("c");
      await p1;
      await p2;
    });
  });

  it("lets a producer and a consumer run through a queue of one without stalling", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>(1);
      const got: number[] = [];
      const producer = createTask(async () => {
        for (let i = 0; i < 5; i++) await q.put(i);
      });
      const consumer = createTask(async () => {
        for (let i = 0; i < 5; i++) got.push(await q.get());
      });
      await producer;
      await consumer;
      expect(got).toEqual([0, 1, 2, 3, 4]);
    });
  });

  it("a getter that timed out (its task cancelled) is not kept among the getters", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>(5);
      const getter = createTask(() => q.get());
      getRunningLoop().callLater(100, () => getter.cancel());
      await expect(getter).rejects.toBeInstanceOf(CancelledError);
      expect(q._getters.size).toBe(0);
      expect(String(q)).toContain("getters: 0");
    });
  });

  it("a reader cancelled after two puts does not drop the first item", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>();
      let reader = createTask(() => q.get());
      await tick();
      q.putNowait(1);
      q.putNowait(2);
      reader.cancel();
      try {
        await reader;
      } catch {
        reader = createTask(() => q.get());
        await reader;
      }
      expect(reader.result()).toBe(1);
    });
  });

  it("of three readers, one cancelled after two puts, the other two get both items", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>();
      const r1 = createTask(() => q.get());
      const r2 = createTask(() => q.get());
      const r3 = createTask(() => q.get());
      await tick();
      q.putNowait(1);
      q.putNowait(2);
      r1.cancel();
      // r1 was handed item 1 but had not resumed: as in asyncio its get throws, and the
      // item goes on to r3, the next waiting getter.
      await expect(r1).rejects.toBeInstanceOf(CancelledError);
      const got = [await r2, await r3];
      expect(got.sort()).toEqual([1, 2]);
      expect(q.qsize()).toBe(0);
    });
  });
});

describe("Queue: a getter cancelled after it was handed an item", () => {
  it("gives the item back to the front when cancelled in the same step as the put", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>();
      const consumer = createTask(() => q.get());
      await tick();
      q.putNowait("x");
      q.putNowait("y");
      consumer.cancel();
      await expect(consumer).rejects.toBeInstanceOf(CancelledError);
      expect(q.getNowait()).toBe("x");
      expect(q.getNowait()).toBe("y");
    });
  });

  it("passes the item on to the next waiting getter when cancelled in the same step", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>();
      const first = createTask(() => q.get());
      const second = createTask(() => q.get());
      await tick();
      q.putNowait("x");
      first.cancel();
      await expect(first).rejects.toBeInstanceOf(CancelledError);
      expect(await second).toBe("x");
      expect(q.empty()).toBe(true);
    });
  });

  it("throws CancelledError when cancelled at the very moment its get resolves, and the item goes to the front", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const q = new Queue<string>();
      const consumer = createTask(async () => {
        const me = currentTask()!;
        const getting = q.get();
        // Cancel as the item is handed over, before this task's code resumes.
        onSettle(getting as unknown as FutureLike<string>, () => me.cancel());
        try {
          steps.push(`received ${await getting}`);
        } catch (error) {
          steps.push(`get threw ${(error as Error).name}`);
          throw error;
        }
      });
      await tick();
      q.putNowait("x");
      q.putNowait("y");
      await expect(consumer).rejects.toBeInstanceOf(CancelledError);
      expect(q._getters.size).toBe(0);
      expect(q.getNowait()).toBe("x");
      expect(q.getNowait()).toBe("y");
    });
    expect(steps).toEqual(["get threw CancelledError"]);
  });

  it("gives the item back when an async function awaiting the get is cancelled in the same step as the put", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const q = new Queue<string>(1);
      const consumer = createTask(async () => {
        steps.push(`received ${await q.get()}`);
      });
      await tick();
      q.putNowait("x");
      consumer.cancel();
      await expect(consumer).rejects.toBeInstanceOf(CancelledError);
      expect(q.qsize()).toBe(1);
      expect(q.full()).toBe(true);
      expect(await q.get()).toBe("x");
      expect(q.empty()).toBe(true);
    });
    expect(steps).toEqual([]);
  });

  it("keeps the item once its code has resumed with it: a cancel then surfaces at its next await", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const q = new Queue<string>();
      const consumer = createTask(async () => {
        const item = await q.get();
        steps.push(`received ${item}`);
        currentTask()!.cancel();
        try {
          await sleep(1);
          steps.push("not reached");
        } catch (error) {
          steps.push(`then ${(error as Error).name}`);
          throw error;
        }
      });
      await tick();
      q.putNowait("x");
      await expect(consumer).rejects.toBeInstanceOf(CancelledError);
      expect(q.qsize()).toBe(0);
      expect(q._reserved).toBe(0);
    });
    expect(steps).toEqual(["received x", "then CancelledError"]);
  });

  it("a give-back goes to the getter that came next, and only once", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>();
      const first = createTask(() => q.get());
      await tick();
      q.putNowait("x");
      first.cancel();
      // A getter that arrives after the hand-over, before the give-back, still gets it.
      const late = q.get();
      await expect(first).rejects.toBeInstanceOf(CancelledError);
      expect(await late).toBe("x");
      expect(q.empty()).toBe(true);
      expect(q._getters.size).toBe(0);
    });
  });

  it("a getter cancelled before the put takes nothing, even with the put in the same step", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>();
      const consumer = createTask(() => q.get());
      await tick();
      consumer.cancel();
      q.putNowait("x");
      await expect(consumer).rejects.toBeInstanceOf(CancelledError);
      expect(q.getNowait()).toBe("x");
    });
  });

  it("a give-back never pushes the buffer past maxsize", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>(1);
      const consumer = createTask(() => q.get());
      await tick();
      q.putNowait("x");
      // "x" is still on its way to the getter: it holds the only slot.
      expect(() => q.putNowait("y")).toThrow(QueueFull);
      const late = q.put("y");
      consumer.cancel();
      await expect(consumer).rejects.toBeInstanceOf(CancelledError);
      expect(q.qsize()).toBe(1);
      expect(String(q)).toContain("putters: 1");
      expect(await q.get()).toBe("x");
      await late;
      expect(await q.get()).toBe("y");
    });
  });
});

describe("Queue: put", () => {
  it("does not wait on an unbounded queue", async () => {
    const q = new Queue<number>();
    await q.put(1);
    expect(await q.get()).toBe(1);
  });

  it("waits for a slot, and returns when a get frees one", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>(1);
      let finished = false;
      const producer = createTask(async () => {
        await q.put(1);
        await q.put(2);
        finished = true;
      });
      getRunningLoop().callLater(10, () => q.getNowait());
      await tick();
      expect(finished).toBe(false);
      await producer;
      expect(finished).toBe(true);
      expect(now()).toBe(10);
    });
  });

  it("putNowait on a full queue throws QueueFull and leaves the queue unchanged", () => {
    const q = new Queue<number>(1);
    q.putNowait(1);
    expect(() => q.putNowait(2)).toThrow(QueueFull);
    expect(q.getNowait()).toBe(1);
    expect(q.empty()).toBe(true);
  });

  it("a putter cancelled while waiting puts nothing, and a retry puts its item once", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>(1);
      q.putNowait(1);
      let writer = createTask(() => q.put(2));
      await tick();
      expect(q.getNowait()).toBe(1);
      writer.cancel();
      try {
        await writer;
      } catch {
        writer = createTask(() => q.put(2));
        await writer;
      }
      expect(q.getNowait()).toBe(2);
      expect(q.qsize()).toBe(0);
    });
  });

  it("a putter cancelled while waiting leaves its place to the next putter", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>(1);
      const putA = createTask(() => q.put("a"));
      const putB = createTask(() => q.put("b"));
      const putX = createTask(() => q.put("X"));
      await tick();
      expect(putA.done()).toBe(true);
      expect(putB.done()).toBe(false);
      putX.cancel();
      await tick();
      expect(putX.done()).toBe(true);
      expect(q.getNowait()).toBe("a");
      await tick();
      expect(q.getNowait()).toBe("b");
      await putB;
      expect(q.empty()).toBe(true);
    });
  });

  it("a put from a task reaches a get", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>();
      const t = createTask(async () => {
        await q.put(1);
        return true;
      });
      expect(await q.get()).toBe(1);
      expect(await t).toBe(true);
    });
  });

  it("a put with a waiting getter completes at once", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>();
      const t = createTask(() => q.get());
      await tick();
      await q.put("a");
      expect(await t).toBe("a");
    });
  });

  it("many putters on a queue of two all get through to a getter that drains it", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>(2);
      const putters = [0, 1, 2, 3].map((i) => createTask(() => q.put(i)));
      const drained: number[] = [];
      const getter = createTask(async () => {
        while (drained.length < 4) {
          await tick();
          while (!q.empty()) drained.push(q.getNowait());
        }
      });
      for (const p of putters) await p;
      await getter;
      expect(drained).toEqual([0, 1, 2, 3]);
    });
  });

  it("a cancelled putter is not kept among the putters, nor is its item", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>(1);
      q.putNowait(1);
      const putTask = createTask(() => q.put(1));
      await tick();
      expect(q._putters.size).toBe(1);
      putTask.cancel();
      await expect(putTask).rejects.toBeInstanceOf(CancelledError);
      expect(q._putters.size).toBe(0);
      expect(q.qsize()).toBe(1);
    });
  });

  it("a putter cancelled in the same step as the get that made room puts nothing", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>(1);
      q.putNowait(1);
      const putTask = createTask(() => q.put(2));
      await tick();
      expect(q.getNowait()).toBe(1);
      putTask.cancel();
      await expect(putTask).rejects.toBeInstanceOf(CancelledError);
      expect(q.empty()).toBe(true);
      expect(q.full()).toBe(false);
    });
  });

  it("a putter cancelled in the same step as the get that made room leaves the slot to the next putter", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>(1);
      q.putNowait("a");
      const first = createTask(() => q.put("b"));
      const second = createTask(() => q.put("c"));
      await tick();
      expect(q.getNowait()).toBe("a");
      first.cancel();
      await expect(first).rejects.toBeInstanceOf(CancelledError);
      await second;
      expect(q.getNowait()).toBe("c");
      expect(q.empty()).toBe(true);
      expect(q._reserved).toBe(0);
    });
  });

  it("a putter cancelled at the very moment it is admitted throws CancelledError and puts nothing", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const q = new Queue<number>(1);
      q.putNowait(1);
      const putTask = createTask(async () => {
        const me = currentTask()!;
        const putting = q.put(2);
        onSettle(putting as unknown as FutureLike<void>, () => me.cancel());
        try {
          await putting;
          steps.push("put returned");
        } catch (error) {
          steps.push(`put threw ${(error as Error).name}`);
          throw error;
        }
      });
      await tick();
      expect(q.getNowait()).toBe(1);
      await expect(putTask).rejects.toBeInstanceOf(CancelledError);
      expect(q.empty()).toBe(true);
      expect(q.full()).toBe(false);
      q.putNowait(3);
      expect(q.getNowait()).toBe(3);
    });
    expect(steps).toEqual(["put threw CancelledError"]);
  });

  it("a putter cancelled once its item is in, before its code resumes, has put it: the cancel surfaces at its next await", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const q = new Queue<number>(1);
      q.putNowait(1);
      const putTask = createTask(async () => {
        await q.put(2);
        steps.push(`put returned, ${q.qsize()} buffered`);
        await sleep(1);
        steps.push("not reached");
      });
      await tick();
      const finishPut = q._finishPut;
      (q as { _finishPut: typeof finishPut })._finishPut = (pending) => {
        finishPut(pending);
        putTask.cancel();
      };
      expect(q.getNowait()).toBe(1);
      await expect(putTask).rejects.toBeInstanceOf(CancelledError);
      expect(q.getNowait()).toBe(2);
      expect(q.empty()).toBe(true);
    });
    expect(steps).toEqual(["put returned, 1 buffered"]);
  });

  it("a put nobody awaits that is withdrawn or shut out stays silent", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>(1);
      q.putNowait(1);
      const controller = new AbortController();
      q.put(2, { signal: controller.signal }); // never awaited
      q.put(3); // never awaited
      controller.abort();
      q.shutdown();
      await tick();
      expect(q.qsize()).toBe(1);
      expect(String(q)).toContain("putters: 0");
    });
  });
});

describe("Queue: waits with an AbortSignal", () => {
  it("an already aborted signal rejects at once with its reason and consumes nothing", async () => {
    const q = new Queue<number>(1);
    q.putNowait(1);
    const reason = new Error("stop");
    const signal = AbortSignal.abort(reason);
    await expect(q.get({ signal })).rejects.toBe(reason);
    await expect(q.put(2, { signal })).rejects.toBe(reason);
    await expect(q.join({ signal })).rejects.toBe(reason);
    expect(q.getNowait()).toBe(1);
    await expect(q.put(3, { signal })).rejects.toBe(reason);
    expect(q.empty()).toBe(true);
  });

  it("aborting a waiting get withdraws it: the next put is buffered", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>();
      const controller = new AbortController();
      const waiting = q.get({ signal: controller.signal });
      expect(String(q)).toContain("getters: 1");
      controller.abort("enough");
      await expect(waiting).rejects.toBe("enough");
      expect(String(q)).toContain("getters: 0");
      q.putNowait(5);
      expect(q.qsize()).toBe(1);
    });
  });

  it("aborting a waiting put withdraws it: its item never enters", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>(1);
      q.putNowait(1);
      const controller = new AbortController();
      const waiting = q.put(2, { signal: controller.signal });
      const behind = q.put(3);
      getRunningLoop().callLater(50, () => controller.abort(new Error("late")));
      await expect(waiting).rejects.toThrow("late");
      expect(now()).toBe(50);
      expect(q.getNowait()).toBe(1);
      await behind;
      expect(q.getNowait()).toBe(3);
      expect(q.empty()).toBe(true);
    });
  });

  it("aborting a waiting join withdraws only that join", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>();
      q.putNowait(1);
      const controller = new AbortController();
      const aborted = q.join({ signal: controller.signal });
      const other = q.join();
      controller.abort("bye");
      await expect(aborted).rejects.toBe("bye");
      q.getNowait();
      q.taskDone();
      await other;
    });
  });

  it("removes its abort listener once the wait settles, however it settles", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>(1);
      const signal = new CountingSignal();
      const options = { signal: signal as unknown as AbortSignal };
      const getting = q.get(options);
      expect(signal.listeners).toBe(1);
      q.putNowait(1);
      expect(await getting).toBe(1);
      expect(signal.listeners).toBe(0);
      q.putNowait(2);
      const putting = q.put(3, options);
      expect(signal.listeners).toBe(1);
      q.getNowait();
      await putting;
      expect(signal.listeners).toBe(0);
      const joining = q.join(options);
      q.getNowait();
      q.taskDone();
      q.taskDone();
      q.taskDone();
      await joining;
      expect(signal.listeners).toBe(0);
      const waitingGet = q.get(options);
      signal.abort("now");
      await expect(waitingGet).rejects.toBe("now");
      expect(signal.listeners).toBe(0);
    });
  });

  it("an abort after the item was handed over changes nothing: the get resolves with it", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>();
      const early = new AbortController();
      const gettingEarly = q.get({ signal: early.signal });
      early.abort("gone");
      q.putNowait(9);
      await expect(gettingEarly).rejects.toBe("gone");
      expect(q.getNowait()).toBe(9);

      const late = new AbortController();
      const gettingLate = q.get({ signal: late.signal });
      q.putNowait(10);
      late.abort("too late");
      expect(await gettingLate).toBe(10);
      expect(q.empty()).toBe(true);
    });
  });
});

describe("Queue: in plain async code, with no loop running", () => {
  it("a putter admitted by a get puts its item once its await is delivered, not inside the get that made room (as in a task)", async () => {
    const q = new Queue<string>(1);
    q.putNowait("a");
    const steps: string[] = [];
    const putter = (async () => {
      await q.put("b");
      steps.push(`put returned, size ${q.qsize()}`);
    })();
    await Promise.resolve();
    expect(q.getNowait()).toBe("a");
    expect(q.qsize()).toBe(0);
    expect(() => q.getNowait()).toThrow(QueueEmpty);
    await putter;
    expect(steps).toEqual(["put returned, size 1"]);
    expect(q.getNowait()).toBe("b");
  });

  it("hands an item to a waiting get and admits a waiting put", async () => {
    const q = new Queue<number>(1);
    const getting = q.get();
    expect(isPendingFuture(getting)).toBe(true);
    q.putNowait(1);
    expect(await getting).toBe(1);
    q.putNowait(2);
    const putting = q.put(3);
    expect(q.getNowait()).toBe(2);
    await putting;
    expect(q.getNowait()).toBe(3);
  });

  it("join waits for taskDone in plain code too", async () => {
    const q = new Queue<string>();
    await q.put("job");
    const steps: string[] = [];
    const joined = q.join().then(() => steps.push("joined"));
    await q.get();
    steps.push("working");
    await Promise.resolve();
    q.taskDone();
    await joined;
    expect(steps).toEqual(["working", "joined"]);
  });
});
