import { describe, expect, it } from "vitest";
import { CancelledError } from "@aiots/core";
import { createTask } from "@aiots/future";
import { LifoQueue, Queue } from "@aiots/queue";
import { onVirtualLoop, tick } from "./helpers.js";
import { sharedQueueTests } from "./shared.js";

sharedQueueTests("LifoQueue", (maxsize) => new LifoQueue<unknown>(maxsize));

describe("LifoQueue: order", () => {
  it("gives out the most recently put item first", async () => {
    const q = new LifoQueue<number>();
    for (const i of [1, 3, 2]) await q.put(i);
    const items = [await q.get(), await q.get(), await q.get()];
    expect(items).toEqual([2, 3, 1]);
  });

  it("is a Queue, with a waiting putter's item on top once a slot frees", async () => {
    await onVirtualLoop(async () => {
      const q = new LifoQueue<string>(2);
      expect(q).toBeInstanceOf(Queue);
      q.putNowait("a");
      q.putNowait("b");
      const putter = createTask(() => q.put("c"));
      await tick();
      expect(q.getNowait()).toBe("b");
      await putter;
      expect(q.getNowait()).toBe("c");
      expect(q.getNowait()).toBe("a");
    });
  });

  it("hands an item straight to a waiting getter", async () => {
    await onVirtualLoop(async () => {
      const q = new LifoQueue<string>();
      const getter = createTask(() => q.get());
      await tick();
      q.putNowait("x");
      expect(q.qsize()).toBe(0);
      expect(await getter).toBe("x");
    });
  });

  it("puts an item given back by a cancelled getter on top, to be the next one out", async () => {
    await onVirtualLoop(async () => {
      const q = new LifoQueue<string>();
      const getter = createTask(() => q.get());
      await tick();
      q.putNowait("x");
      q.putNowait("y");
      getter.cancel();
      await expect(getter).rejects.toBeInstanceOf(CancelledError);
      expect(q.getNowait()).toBe("x");
      expect(q.getNowait()).toBe("y");
    });
  });
});
