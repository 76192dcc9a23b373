/**
 * A FIFO queue keeps put order for every consumer when getters are cancelled after an item
 * was handed to them. In asyncio the item never left the buffer (a woken getter takes the
 * oldest item when it resumes), so no consumer ever gets an item after a later one; here
 * the woken getters hold items, and what a cancelled one gives back, or what a `getNowait`
 * takes while getters are in flight, is chosen so the outcome is the same. Expected values
 * of the fixed cases are CPython 3.13's.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { QueueEmpty, QueueShutDown, isCancelledError } from "@aiots/core";
import { createTask, currentTask, sleep } from "@aiots/future";
import type { Task } from "@aiots/future";
import { Queue } from "@aiots/queue";
import { onVirtualLoop, tick } from "./helpers.js";

/** A consumer that gets until shutdown, logging each item; a cancel is taken back and it goes on. */
function consumer(queue: Queue<number>, log: number[]): Task<void> {
  return createTask(async () => {
    for (;;) {
      try {
        log.push(await queue.get());
      } catch (error) {
        if (error instanceof QueueShutDown) return;
        if (!isCancelledError(error)) throw error;
        currentTask()!.uncancel();
      }
    }
  });
}

describe("FIFO order when a getter is cancelled after the hand-over", () => {
  it("a cancelled consumer's item goes to the other consumer before the later items", async () => {
    const chains = await onVirtualLoop(async () => {
      const queue = new Queue<number>();
      const chains: number[][] = [[], []];
      const consumers = [consumer(queue, chains[0]!), consumer(queue, chains[1]!)];
      await tick();
      queue.putNowait(0);
      queue.putNowait(1);
      queue.putNowait(2);
      consumers[1]!.cancel();
      await sleep(10);
      queue.shutdown();
      await Promise.all(consumers);
      return chains;
    });
    expect(chains).toEqual([[0, 1, 2], []]);
  });

  it("the next woken getter takes the cancelled one's item; the later item stays queued", async () => {
    const [second, rest] = await onVirtualLoop(async () => {
      const queue = new Queue<string>();
      const first = createTask(() => queue.get());
      const next = createTask(() => queue.get());
      await tick();
      queue.putNowait("X");
      queue.putNowait("Y");
      first.cancel();
      return [await next, queue.getNowait()];
    });
    expect([second, rest]).toEqual(["X", "Y"]);
  });

  it("getNowait while a getter is in flight takes the oldest item", async () => {
    const { taken, cancelled, left } = await onVirtualLoop(async () => {
      const queue = new Queue<number>();
      const getter = createTask(() => queue.get());
      await tick();
      queue.putNowait(0);
      queue.putNowait(1);
      const taken = [queue.getNowait()];
      getter.cancel();
      taken.push(queue.getNowait());
      const cancelled = await getter.then(
        () => false,
        (error: unknown) => isCancelledError(error),
      );
      return { taken, cancelled, left: queue.qsize() };
    });
    expect({ taken, cancelled, left }).toEqual({ taken: [0, 1], cancelled: true, left: 0 });
  });

  it("items given back in any order go back in put order", async () => {
    const [got, rest] = await onVirtualLoop(async () => {
      const queue = new Queue<string>();
      const getters = [0, 1, 2].map(() => createTask(() => queue.get()));
      await tick();
      for (const item of "abcd") queue.putNowait(item);
      getters[2]!.cancel();
      getters[0]!.cancel();
      const got = await getters[1]!;
      const rest: string[] = [];
      while (!queue.empty()) rest.push(queue.getNowait());
      return [got, rest];
    });
    expect([got, rest]).toEqual(["a", ["b", "c", "d"]]);
  });
});

type Step =
  | { kind: "put" }
  | { kind: "getNowait" }
  | { kind: "cancel"; consumer: number }
  | { kind: "tick" }
  | { kind: "sleep"; ms: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Step>({ kind: "put" }) },
  { weight: 2, arbitrary: fc.constant<Step>({ kind: "getNowait" }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("cancel" as const), consumer: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.constant<Step>({ kind: "tick" }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("sleep" as const), ms: fc.integer({ min: 1, max: 3 }) }) },
);

describe("FIFO order under random cancels (property)", () => {
  it("every consumer, and a getNowait driver, gets items in put order; each item exactly once", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.array(stepArb, { maxLength: 40 }), async (nConsumers, steps) => {
        const { chains, leftover, put } = await onVirtualLoop(async () => {
          const queue = new Queue<number>();
          const chains: number[][] = Array.from({ length: nConsumers + 1 }, () => []);
          const consumers = chains.slice(0, nConsumers).map((log) => consumer(queue, log));
          const driver = chains[nConsumers]!;
          let put = 0;
          await tick();
          for (const step of steps) {
            if (step.kind === "put") queue.putNowait(put++);
            else if (step.kind === "getNowait") {
              try {
                driver.push(queue.getNowait());
              } catch (error) {
                if (!(error instanceof QueueEmpty)) throw error;
              }
            } else if (step.kind === "cancel") consumers[step.consumer % nConsumers]!.cancel();
            else if (step.kind === "tick") await tick();
            else await sleep(step.ms);
          }
          await sleep(10);
          const leftover: number[] = [];
          while (!queue.empty()) leftover.push(queue.getNowait());
          queue.shutdown();
          await Promise.all(consumers);
          return { chains, leftover, put };
        });
        for (const chain of chains) expect(chain).toEqual([...chain].sort((a, b) => a - b));
        expect([...chains.flat(), ...leftover].sort((a, b) => a - b)).toEqual(Array.from({ length: put }, (_, i) => i));
      }),
      { numRuns: 400 },
    );
  });
});
