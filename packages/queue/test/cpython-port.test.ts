// Cases from CPython's Lib/test/test_asyncio/test_queues.py (3.14) and the behaviour of
// Lib/asyncio/queues.py that the existing tests do not pin down yet, written for aiots' API.
// Where aiots documents a different choice (README "Differences from asyncio"), the test
// asserts aiots' documented behaviour and says so in its name.
import { describe, expect, it } from "vitest";
import { CancelledError, InvalidStateError, QueueFull, QueueShutDown } from "@aiots/core";
import { createTask, sleep } from "@aiots/future";
import { getRunningLoop } from "@aiots/loop";
import { LifoQueue, PriorityQueue, Queue } from "@aiots/queue";
import { now, onVirtualLoop, outcome, tick } from "./helpers.js";

describe("CPython port: getters", () => {
  it("a get raced against a timeout returns the item that arrives first, at the time it arrives", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>();
      const getter = createTask(() => q.get());
      const timer = getRunningLoop().callLater(51, () => getter.cancel());
      await sleep(10);
      q.putNowait(1);
      expect(await getter).toBe(1);
      expect(now()).toBe(10);
      timer.cancel();
      expect(q.empty()).toBe(true);
    });
  });

  it("a get that times out takes nothing: a later put is buffered and got", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>();
      const getter = createTask(() => q.get());
      getRunningLoop().callLater(50, () => getter.cancel());
      await expect(getter).rejects.toBeInstanceOf(CancelledError);
      expect(now()).toBe(50);
      q.putNowait(1);
      expect(q.qsize()).toBe(1);
      expect(await q.get()).toBe(1);
    });
  });

  it("two getters handed items and both cancelled before resuming leave the items in FIFO order", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>();
      const g1 = createTask(() => q.get());
      const g2 = createTask(() => q.get());
      await tick();
      q.putNowait(1);
      q.putNowait(2);
      g1.cancel();
      g2.cancel();
      await expect(g1).rejects.toBeInstanceOf(CancelledError);
      await expect(g2).rejects.toBeInstanceOf(CancelledError);
      // asyncio: both items were buffered in put order and nobody took them.
      expect(q.qsize()).toBe(2);
      expect(q.getNowait()).toBe(1);
      expect(q.getNowait()).toBe(2);
    });
  });

  it("of three getters, two cancelled after their hand-over: the third gets the first item, the second stays buffered", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>();
      const g1 = createTask(() => q.get());
      const g2 = createTask(() => q.get());
      const g3 = createTask(() => q.get());
      await tick();
      q.putNowait(1);
      q.putNowait(2);
      g1.cancel();
      g2.cancel();
      await expect(g1).rejects.toBeInstanceOf(CancelledError);
      await expect(g2).rejects.toBeInstanceOf(CancelledError);
      expect(await g3).toBe(1);
      expect(q.getNowait()).toBe(2);
      expect(q.empty()).toBe(true);
    });
  });

  it("a getter cancelled after its hand-over does not change the count join waits on", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>();
      const getter = createTask(() => q.get());
      await tick();
      q.putNowait("x");
      getter.cancel();
      await expect(getter).rejects.toBeInstanceOf(CancelledError);
      const joiner = createTask(() => q.join());
      await tick();
      expect(joiner.done()).toBe(false);
      expect(q.getNowait()).toBe("x");
      q.taskDone();
      await joiner;
      expect(() => q.taskDone()).toThrow(InvalidStateError);
    });
  });

  it("a for-await consumer cancelled in the same step as the put does not lose the item", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>();
      const seen: string[] = [];
      const consumer = createTask(async () => {
        for await (const item of q) seen.push(item);
      });
      await tick();
      q.putNowait("a");
      consumer.cancel();
      await expect(consumer).rejects.toBeInstanceOf(CancelledError);
      expect(seen).toEqual([]);
      expect(q.getNowait()).toBe("a");
    });
  });

  it("a cancelled getter's wake-up passes on: the next getter gets the item after a put in the same step", async () => {
    await onVirtualLoop(async () => {
      const q = new LifoQueue<string>();
      const g1 = createTask(() => q.get());
      const g2 = createTask(() => q.get());
      await tick();
      q.putNowait("only");
      g1.cancel();
      await expect(g1).rejects.toBeInstanceOf(CancelledError);
      expect(await g2).toBe("only");
      expect(q.empty()).toBe(true);
    });
  });
});

describe("CPython port: getters woken together take items in the queue's order", () => {
  it("PriorityQueue: a waiting getter gets the item put while it waits, whatever its priority (aiots: direct hand-over; asyncio buffers both and gives [1, 5])", async () => {
    await onVirtualLoop(async () => {
      const q = new PriorityQueue<number>();
      const g1 = createTask(() => q.get());
      const g2 = createTask(() => q.get());
      await tick();
      q.putNowait(5);
      q.putNowait(1);
      // Each put finds a getter waiting and hands its item over at once (so no newcomer can
      // take it first); asyncio buffers both, and g1, resuming first, pops the smallest.
      expect([await g1, await g2]).toEqual([5, 1]);
    });
  });

  it("LifoQueue: a waiting getter gets the item put while it waits (aiots: direct hand-over; asyncio gives [second, first])", async () => {
    await onVirtualLoop(async () => {
      const q = new LifoQueue<string>();
      const g1 = createTask(() => q.get());
      const g2 = createTask(() => q.get());
      await tick();
      q.putNowait("first");
      q.putNowait("second");
      // Handed over one by one as they are put; asyncio buffers both and g1 pops the top.
      expect([await g1, await g2]).toEqual(["first", "second"]);
    });
  });

  it("Queue: getters woken together get the items first in, first out", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>();
      const g1 = createTask(() => q.get());
      const g2 = createTask(() => q.get());
      await tick();
      q.putNowait("first");
      q.putNowait("second");
      expect([await g1, await g2]).toEqual(["first", "second"]);
    });
  });
});

describe("CPython port: putters", () => {
  it("a put that times out on a full queue puts nothing and adds nothing for join", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>(1);
      q.putNowait(1);
      const putter = createTask(() => q.put(2));
      getRunningLoop().callLater(50, () => putter.cancel());
      await expect(putter).rejects.toBeInstanceOf(CancelledError);
      expect(now()).toBe(50);
      expect(String(q)).toContain("putters: 0");
      expect(q.getNowait()).toBe(1);
      expect(q.empty()).toBe(true);
      q.taskDone();
      await q.join();
      expect(() => q.taskDone()).toThrow(InvalidStateError);
    });
  });

  it("a putter cancelled after it was admitted adds nothing for join", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>(1);
      q.putNowait(1);
      const putter = createTask(() => q.put(2));
      await tick();
      expect(q.getNowait()).toBe(1);
      putter.cancel();
      await expect(putter).rejects.toBeInstanceOf(CancelledError);
      const joiner = createTask(() => q.join());
      await tick();
      expect(joiner.done()).toBe(false);
      q.taskDone();
      await joiner;
      expect(() => q.taskDone()).toThrow(InvalidStateError);
      expect(q.empty()).toBe(true);
    });
  });

  it("of two admitted putters, the cancelled one passes its slot to the third, and items keep their order", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>(2);
      q.putNowait("a");
      q.putNowait("b");
      const p1 = createTask(() => q.put("c"));
      const p2 = createTask(() => q.put("d"));
      const p3 = createTask(() => q.put("e"));
      await tick();
      expect(q.getNowait()).toBe("a");
      expect(q.getNowait()).toBe("b");
      p1.cancel();
      await expect(p1).rejects.toBeInstanceOf(CancelledError);
      await p2;
      await p3;
      expect([q.getNowait(), q.getNowait()]).toEqual(["d", "e"]);
      expect(q.empty()).toBe(true);
    });
  });

  it("putNowait on a full queue that is shut down throws QueueShutDown, not QueueFull", () => {
    const q = new Queue<number>(1);
    q.putNowait(1);
    expect(() => q.putNowait(2)).toThrow(QueueFull);
    q.shutdown();
    expect(() => q.putNowait(2)).toThrow(QueueShutDown);
    expect(q.qsize()).toBe(1);
  });

  it("a put on a full queue that is shut down rejects at once with QueueShutDown", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>(1);
      q.putNowait(1);
      q.shutdown();
      const result = await outcome(q.put(2));
      expect(result.error).toBeInstanceOf(QueueShutDown);
      expect(now()).toBe(0);
      expect(q.qsize()).toBe(1);
    });
  });
});

describe("CPython port: maxsize <= 0", () => {
  it("a negative maxsize is kept as given and never blocks a put", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>(-5);
      expect(q.maxsize).toBe(-5);
      for (let i = 0; i < 50; i++) await q.put(i);
      expect(q.full()).toBe(false);
      expect(q.qsize()).toBe(50);
      expect(now()).toBe(0);
    });
  });

  it("maxsize 0 is unbounded for every queue kind", () => {
    for (const q of [new Queue<number>(0), new LifoQueue<number>(0), new PriorityQueue<number>(0)]) {
      for (let i = 0; i < 100; i++) q.putNowait(i);
      expect(q.full()).toBe(false);
      expect(q.maxsize).toBe(0);
    }
  });
});

describe("CPython port: taskDone and join", () => {
  it("counts an item handed straight to a waiting getter: join waits for its taskDone", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>();
      const getter = createTask(() => q.get());
      await tick();
      q.putNowait("x");
      expect(await getter).toBe("x");
      const joiner = createTask(() => q.join());
      await tick();
      expect(joiner.done()).toBe(false);
      q.taskDone();
      await tick();
      expect(joiner.done()).toBe(true);
    });
  });

  it("every waiting join resumes when the count reaches zero", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>();
      q.putNowait(1);
      q.putNowait(2);
      const joiners = [createTask(() => q.join()), createTask(() => q.join()), createTask(() => q.join())];
      await tick();
      q.getNowait();
      q.getNowait();
      q.taskDone();
      await tick();
      expect(joiners.some((j) => j.done())).toBe(false);
      q.taskDone();
      await tick();
      expect(joiners.every((j) => j.done() && !j.cancelled())).toBe(true);
    });
  });

  it("a join woken by the last taskDone still resumes if an item is put before it runs", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>();
      q.putNowait(1);
      const joiner = createTask(() => q.join());
      await tick();
      q.getNowait();
      q.taskDone();
      q.putNowait(2);
      await tick();
      expect(joiner.done()).toBe(true);
      await joiner;
      // A new join waits for the new item.
      const second = createTask(() => q.join());
      await tick();
      expect(second.done()).toBe(false);
      q.getNowait();
      q.taskDone();
      await second;
    });
  });

  it("taskDone is counted per item put, not per get: underflow after as many calls as puts", () => {
    for (const q of [new Queue<number>(), new LifoQueue<number>(), new PriorityQueue<number>()]) {
      q.putNowait(1);
      q.putNowait(2);
      q.getNowait();
      q.taskDone();
      q.taskDone(); // the second item is still buffered, but it was put
      expect(() => q.taskDone()).toThrow(InvalidStateError);
    }
  });
});

describe("CPython port: shutdown", () => {
  it("shutdown(true) rejects the putters waiting on a full queue and drops what was buffered", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>(1);
      q.putNowait("a");
      const joiner = createTask(() => q.join());
      const p1 = createTask(() => q.put("b"));
      const p2 = createTask(() => q.put("c"));
      await tick();
      q.shutdown(true);
      expect(q.qsize()).toBe(0);
      expect(q.empty()).toBe(true);
      expect(q.full()).toBe(false);
      await expect(p1).rejects.toBeInstanceOf(QueueShutDown);
      await expect(p2).rejects.toBeInstanceOf(QueueShutDown);
      await joiner;
      expect(q.qsize()).toBe(0);
      expect(() => q.taskDone()).toThrow(InvalidStateError);
    });
  });

  it("shutdown(true) rejects every waiting getter", async () => {
    await onVirtualLoop(async () => {
      const q = new PriorityQueue<number>();
      const getters = [createTask(() => q.get()), createTask(() => q.get())];
      await tick();
      q.shutdown(true);
      for (const g of getters) await expect(g).rejects.toBeInstanceOf(QueueShutDown);
      expect(String(q)).toContain("getters: 0");
    });
  });

  it("after a plain shutdown, join waits until every buffered item was got and marked done", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>();
      q.putNowait(1);
      q.putNowait(2);
      q.shutdown();
      const joiner = createTask(() => q.join());
      expect(await q.get()).toBe(1);
      q.taskDone();
      await tick();
      expect(joiner.done()).toBe(false);
      expect(await q.get()).toBe(2);
      await tick();
      expect(joiner.done()).toBe(false);
      q.taskDone();
      await joiner;
      await expect(q.get()).rejects.toBeInstanceOf(QueueShutDown);
    });
  });

  it("a shut-down LifoQueue still gives out its items last in, first out, then throws", async () => {
    await onVirtualLoop(async () => {
      const q = new LifoQueue<number>();
      for (const i of [1, 3, 2]) q.putNowait(i);
      q.shutdown();
      expect([await q.get(), q.getNowait(), await q.get()]).toEqual([2, 3, 1]);
      expect(() => q.getNowait()).toThrow(QueueShutDown);
      await expect(q.get()).rejects.toBeInstanceOf(QueueShutDown);
    });
  });

  it("a shut-down PriorityQueue still gives out its items smallest first, ties by the next element", async () => {
    await onVirtualLoop(async () => {
      const q = new PriorityQueue<[number, string]>();
      q.putNowait([2, "b"]);
      q.putNowait([1, "z"]);
      q.putNowait([2, "a"]);
      q.putNowait([1, "a"]);
      q.shutdown();
      const out: [number, string][] = [];
      for await (const item of q) out.push(item);
      expect(out).toEqual([
        [1, "a"],
        [1, "z"],
        [2, "a"],
        [2, "b"],
      ]);
    });
  });

  it("a put with a waiting getter just before a plain shutdown reaches that getter", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>();
      const getter = createTask(() => q.get());
      await tick();
      q.putNowait("x");
      q.shutdown();
      expect(await getter).toBe("x");
      expect(() => q.getNowait()).toThrow(QueueShutDown);
    });
  });

  it("an item handed over before a plain shutdown, whose getter is then cancelled, is still there to get", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>();
      const getter = createTask(() => q.get());
      await tick();
      q.putNowait("x");
      q.shutdown();
      getter.cancel();
      await expect(getter).rejects.toBeInstanceOf(CancelledError);
      expect(q.qsize()).toBe(1);
      expect(await q.get()).toBe("x");
      expect(() => q.getNowait()).toThrow(QueueShutDown);
    });
  });

  it("an item handed over before shutdown(true), whose getter is then cancelled, is dropped and counted done", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>();
      const getter = createTask(() => q.get());
      await tick();
      q.putNowait("x");
      const joiner = createTask(() => q.join());
      q.shutdown(true);
      getter.cancel();
      await expect(getter).rejects.toBeInstanceOf(CancelledError);
      await joiner;
      expect(q.qsize()).toBe(0);
      expect(() => q.getNowait()).toThrow(QueueShutDown);
      expect(() => q.taskDone()).toThrow(InvalidStateError);
    });
  });

  it("documented difference: an item handed over before shutdown(true) stays the getter's, and join waits for its taskDone", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>();
      const getter = createTask(() => q.get());
      await tick();
      q.putNowait("x");
      q.shutdown(true);
      // asyncio's woken getter would find the buffer drained and raise QueueShutDown.
      expect(await getter).toBe("x");
      const joiner = createTask(() => q.join());
      await tick();
      expect(joiner.done()).toBe(false);
      q.taskDone();
      await joiner;
    });
  });

  it("documented difference: a putter admitted into a free slot before a plain shutdown has put its item", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>(1);
      q.putNowait("a");
      const putter = createTask(() => q.put("b"));
      await tick();
      expect(q.getNowait()).toBe("a");
      q.shutdown();
      // asyncio's woken putter would re-check and raise QueueShutDown.
      await putter;
      expect(q.getNowait()).toBe("b");
      expect(() => q.getNowait()).toThrow(QueueShutDown);
    });
  });

  it("documented difference: a putter admitted before shutdown(true) returns, its item dropped and not counted", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<string>(1);
      q.putNowait("a");
      const putter = createTask(() => q.put("b"));
      await tick();
      expect(q.getNowait()).toBe("a");
      q.shutdown(true);
      await putter;
      expect(q.qsize()).toBe(0);
      q.taskDone(); // for "a"
      await q.join();
      expect(() => q.taskDone()).toThrow(InvalidStateError);
    });
  });

  it("for await over a queue shut down immediately yields nothing, even with items put before", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>();
      q.putNowait(1);
      q.putNowait(2);
      q.shutdown(true);
      const seen: number[] = [];
      for await (const item of q) seen.push(item);
      expect(seen).toEqual([]);
    });
  });

  it("leaving a for await early takes no item beyond the ones the loop body saw", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>();
      for (const i of [1, 2, 3]) q.putNowait(i);
      const seen: number[] = [];
      for await (const item of q) {
        seen.push(item);
        if (item === 1) break;
      }
      expect(seen).toEqual([1]);
      expect(q.qsize()).toBe(2);
      expect(q.getNowait()).toBe(2);
    });
  });

  it("shutdown with no waiter and nothing unfinished leaves join free, and a second shutdown changes nothing", async () => {
    await onVirtualLoop(async () => {
      const q = new LifoQueue<number>(2);
      q.shutdown();
      q.shutdown();
      await q.join();
      expect(q.qsize()).toBe(0);
      expect(q.full()).toBe(false);
      expect(() => q.putNowait(1)).toThrow(QueueShutDown);
    });
  });
});
