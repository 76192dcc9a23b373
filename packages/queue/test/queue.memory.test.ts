import { describe, expect, it } from "vitest";
import { Deque } from "@aiots/core/internal";
import { createTask } from "@aiots/future";
import { LifoQueue, PriorityQueue, Queue } from "@aiots/queue";
import { onVirtualLoop, tick } from "./helpers.js";

/** The ring buffer behind a FIFO or LIFO queue. */
function ringOf(q: Queue<unknown>): Deque<unknown> {
  return (q._store as unknown as { _items: Deque<unknown> })._items;
}

describe("memory stays bounded", () => {
  it("two million put/get cycles keep a Queue's ring buffer at its first capacity", () => {
    const q = new Queue<number>();
    const capacity = ringOf(q)._buffer.length;
    for (let i = 0; i < 1_000_000; i++) {
      q.putNowait(i);
      q.putNowait(i + 1);
      q.getNowait();
      q.getNowait();
    }
    expect(q.qsize()).toBe(0);
    expect(ringOf(q)._buffer.length).toBe(capacity);
  });

  it("a LifoQueue's ring buffer grows only to its peak, and a drain by shutdown(true) releases it", () => {
    const q = new LifoQueue<number>(0);
    for (let i = 0; i < 1_000_000; i++) {
      q.putNowait(i);
      q.getNowait();
    }
    expect(ringOf(q)._buffer.length).toBeLessThanOrEqual(16);
    for (let i = 0; i < 10_000; i++) q.putNowait(i);
    expect(ringOf(q)._buffer.length).toBeGreaterThanOrEqual(10_000);
    q.shutdown(true);
    expect(ringOf(q)._buffer.length).toBeLessThanOrEqual(16);
  });

  it("a PriorityQueue's heap array is never longer than the items it holds", () => {
    const q = new PriorityQueue<number>();
    const heap = () => (q._store as unknown as { _items: number[] })._items;
    let seed = 1;
    for (let i = 0; i < 1_000_000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      q.putNowait(seed % 1000);
      if (q.qsize() > 8) q.getNowait();
    }
    expect(heap().length).toBe(q.qsize());
    expect(heap().length).toBeLessThanOrEqual(9);
    while (!q.empty()) q.getNowait();
    expect(heap().length).toBe(0);
  });

  it("a hundred thousand blocking hand-overs keep the waiter lines small", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>(1);
      const n = 100_000;
      let sum = 0;
      const consumer = createTask(async () => {
        for (let i = 0; i < n; i++) sum += await q.get();
      });
      const producer = createTask(async () => {
        for (let i = 0; i < n; i++) await q.put(1);
      });
      await producer;
      await consumer;
      expect(sum).toBe(n);
      expect(q._getters._waiters._buffer.length).toBeLessThanOrEqual(16);
      expect(q._putters._waiters._buffer.length).toBeLessThanOrEqual(16);
      expect(ringOf(q)._buffer.length).toBeLessThanOrEqual(16);
    });
  });

  it("ten thousand aborted gets and puts leave nothing behind", async () => {
    await onVirtualLoop(async () => {
      const q = new Queue<number>(1);
      for (let i = 0; i < 5_000; i++) {
        const controller = new AbortController();
        const getting = q.get({ signal: controller.signal });
        controller.abort();
        await getting.catch(() => undefined);
      }
      q.putNowait(0);
      for (let i = 0; i < 5_000; i++) {
        const controller = new AbortController();
        const putting = q.put(i, { signal: controller.signal });
        controller.abort();
        await putting.catch(() => undefined);
      }
      await tick();
      expect(q._getters.size).toBe(0);
      expect(q._putters.size).toBe(0);
      expect(q._getters._waiters._buffer.length).toBeLessThanOrEqual(128);
      expect(q._putters._waiters._buffer.length).toBeLessThanOrEqual(128);
      expect(q.getNowait()).toBe(0);
      expect(q.empty()).toBe(true);
    });
  });
});
