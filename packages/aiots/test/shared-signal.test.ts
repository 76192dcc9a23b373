/**
 * One AbortSignal shared by many waits and tasks (the pattern for code outside tasks): aiots
 * adds a single listener to it, so Node never warns about a listener leak, and every wait
 * still withdraws on abort; the listener goes once the last wait is done.
 */
import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { Event, Lock, Queue, createTask, sleep, waitFor } from "aiots";
import { onVirtualLoop } from "./helpers.js";

/** The warnings Node emits while `body` runs, and a turn after it. */
async function warningsDuring(body: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const onWarning = (w: Error) => void seen.push(w.name);
  process.on("warning", onWarning);
  try {
    await body();
    await new Promise<void>((resolve) => setImmediate(resolve));
  } finally {
    process.off("warning", onWarning);
  }
  return seen;
}

describe("one signal shared by many waits", () => {
  it("gets one listener however many waits and tasks use it, no leak warning, and every wait withdraws on abort", async () => {
    const warnings = await warningsDuring(async () => {
      await onVirtualLoop(async () => {
        const controller = new AbortController();
        const { signal } = controller;
        const lock = new Lock();
        await lock.acquire();
        const event = new Event();
        const queue = new Queue<number>();
        const waits = [
          ...Array.from({ length: 15 }, () => lock.acquire({ signal })),
          ...Array.from({ length: 15 }, () => event.wait({ signal })),
          ...Array.from({ length: 15 }, () => queue.get({ signal })),
          ...Array.from({ length: 15 }, () => sleep(1000, undefined, { signal })),
          ...Array.from({ length: 15 }, () => waitFor(() => sleep(1000), 5000, { signal })),
          ...Array.from({ length: 15 }, () => createTask(() => sleep(1000), { signal })),
        ];
        for (const w of waits) void Promise.resolve(w).catch(() => undefined);
        await sleep(0);
        expect(getEventListeners(signal, "abort")).toHaveLength(1);
        const reason = new Error("stop");
        controller.abort(reason);
        const outcomes = await Promise.allSettled(waits);
        expect(outcomes.every((o) => o.status === "rejected")).toBe(true);
        expect(getEventListeners(signal, "abort")).toHaveLength(0);
        expect(lock.locked()).toBe(true);
        expect(queue.qsize()).toBe(0);
      });
    });
    expect(warnings).toEqual([]);
  });

  it("lets go of its listener once the last wait on the signal is done without an abort", async () => {
    await onVirtualLoop(async () => {
      const { signal } = new AbortController();
      const event = new Event();
      const waits = Array.from({ length: 12 }, () => event.wait({ signal }));
      expect(getEventListeners(signal, "abort")).toHaveLength(1);
      event.set();
      await Promise.all(waits);
      expect(getEventListeners(signal, "abort")).toHaveLength(0);
    });
  });
});
