import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BrokenBarrierError, isCancelledError } from "@aiots/core";
import type { Task } from "@aiots/future";
import { createTask, sleep } from "@aiots/future";
import { getRunningLoop } from "@aiots/loop";
import { Barrier, BoundedSemaphore, Condition, Lock, Semaphore } from "@aiots/sync";
import { virtual } from "./helpers.js";

/** Long enough, in virtual ms, for every schedule below to finish if nothing is lost. */
const HORIZON = 1_000_000;
const at = (max: number) => fc.integer({ min: 0, max }).map((x) => x * 5); // coarse grid: many ties
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 3 });

/** Aborts `ac` at virtual time `when`, with a recognisable reason. */
function abortAt(ac: AbortController, when: number | undefined): void {
  if (when !== undefined) getRunningLoop().callLater(when, () => ac.abort(new Error("aborted")));
}

function cancelAt(task: Task<unknown>, when: number | undefined): void {
  if (when !== undefined) getRunningLoop().callLater(when, () => task.cancel());
}

const isAbort = (e: unknown) => e instanceof Error && e.message === "aborted";

const holderArb = fc.record({
  arrive: at(20),
  hold: at(4),
  cancelAt: maybe(at(40)),
  abortAt: maybe(at(40)),
  // How the permit is held: acquire/release, `using` (released synchronously at the end of
  // the block) or `await using` (released, then awaited).
  holdWith: fc.constantFrom("acquire", "using", "await using"),
  // Right after releasing, in the same synchronous step, cancel another worker: often the
  // one just handed the permit, so it is cancelled after its wake-up and before it resumes.
  killOnRelease: maybe(fc.nat(7)),
});

type Permits = { acquire(o?: { signal?: AbortSignal }): Promise<true>; release(): void; guard(o?: { signal?: AbortSignal }): Promise<AsyncDisposable & Disposable> };

type Holder = typeof holderArb extends fc.Arbitrary<infer H> ? H : never;

async function checkMutualExclusion(make: () => Permits, permits: number, workers: Holder[]): Promise<{ prim: Permits }> {
  const prim = make();
  let holders = 0;
  let maxHolders = 0;
  const callOrder: number[] = [];
  const acquireOrder: number[] = [];
  const unexpected: unknown[] = [];
  await virtual(async () => {
    const tasks: Task<void>[] = [];
    workers.forEach((w, i) => {
      const ac = new AbortController();
      abortAt(ac, w.abortAt);
      const hold = async () => {
        acquireOrder.push(i);
        holders++;
        maxHolders = Math.max(maxHolders, holders);
        try {
          await sleep(w.hold);
        } finally {
          holders--;
        }
      };
      const task = createTask(async () => {
        await sleep(w.arrive);
        callOrder.push(i);
        try {
          if (w.holdWith === "using") {
            using _ = await prim.guard({ signal: ac.signal });
            await hold();
          } else if (w.holdWith === "await using") {
            await using _ = await prim.guard({ signal: ac.signal });
            await hold();
          } else {
            await prim.acquire({ signal: ac.signal });
            try {
              await hold();
            } finally {
              prim.release();
            }
          }
        } catch (e) {
          if (!isCancelledError(e) && !isAbort(e)) unexpected.push(e);
          throw e;
        } finally {
          if (w.killOnRelease !== undefined) tasks[w.killOnRelease]?.cancel();
        }
      });
      cancelAt(task, w.cancelAt);
      tasks.push(task);
    });
    await sleep(HORIZON);
    // No lost wake-up: every worker has finished, one way or another.
    expect(tasks.filter((t) => !t.done())).toHaveLength(0);
  });
  expect(unexpected).toEqual([]);
  expect(maxHolders).toBeLessThanOrEqual(permits);
  // FIFO: among the workers that got in, the order of getting in is the order of asking.
  const got = new Set(acquireOrder);
  expect(acquireOrder).toEqual(callOrder.filter((i) => got.has(i)));
  return { prim };
}

describe("Lock and Semaphore under random holders, cancellations and aborts", () => {
  it("a Lock never has two holders, serves in FIFO order, loses no wake-up, and ends free", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(holderArb, { minLength: 1, maxLength: 8 }), async (workers) => {
        const { prim } = await checkMutualExclusion(() => new Lock(), 1, workers);
        expect(String(prim)).toBe("Lock [unlocked]");
      }),
      { numRuns: 150 },
    );
  });

  it("a Semaphore never exceeds its permits, serves in FIFO order, and gets every permit back", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.boolean(), fc.array(holderArb, { minLength: 1, maxLength: 8 }), async (permits, bounded, workers) => {
        const make = () => (bounded ? new BoundedSemaphore(permits) : new Semaphore(permits));
        const { prim } = await checkMutualExclusion(make, permits, workers);
        expect(String(prim)).toBe(`${bounded ? "BoundedSemaphore" : "Semaphore"} [unlocked, value: ${permits}]`);
      }),
      { numRuns: 150 },
    );
  });
});

/** `arb` one time in four, else undefined. */
const rarely = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

const condWorkerArb = fc.record({
  producer: fc.boolean(),
  arrive: at(20),
  cancelAt: rarely(at(30)),
  abortAt: rarely(at(30)),
  // Right after notifying, in the same step, cancel a worker: the consumer this notify
  // woke ("woken": cancelled after its wake-up, before it resumes) or any worker.
  killOnNotify: maybe(fc.oneof(fc.constant("woken" as const), fc.nat(7))),
});

describe("Condition under random producers, consumers, cancellations and aborts", () => {
  it("never returns from a wait without the lock, never has two holders, and loses no notify", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(condWorkerArb, { minLength: 1, maxLength: 8 }), async (workers) => {
        const cond = new Condition();
        let items = 0;
        let produced = 0;
        let consumed = 0;
        let owner: number | undefined;
        const violations: string[] = [];
        const enter = (i: number, where: string) => {
          if (!cond.locked()) violations.push(`${i} ${where} without the lock`);
          if (owner !== undefined) violations.push(`${i} ${where} while ${owner} holds the lock`);
          owner = i;
        };
        await virtual(async () => {
          const tasks: Task<void>[] = [];
          const consumers: Task<void>[] = [];
          // The consumers waiting for a notify, in the order they started waiting (each
          // waits at most once at a time); the first one is the one `notify()` wakes.
          let queued: number[] = [];
          workers.forEach((w, i) => {
            const ac = new AbortController();
            abortAt(ac, w.abortAt);
            const task = createTask(async () => {
              await sleep(w.arrive);
              await using _ = await cond.guard({ signal: ac.signal });
              enter(i, "acquired");
              try {
                if (w.producer) {
                  items++;
                  produced++;
                  cond.notify();
                  const woken = queued.shift();
                  const kill = w.killOnNotify === "woken" ? woken : w.killOnNotify;
                  if (kill !== undefined) tasks[kill]?.cancel();
                } else {
                  owner = undefined;
                  const ready = () => {
                    if (items > 0) return true;
                    queued.push(i);
                    return false;
                  };
                  try {
                    await cond.waitFor(ready, { signal: ac.signal });
                  } finally {
                    queued = queued.filter((q) => q !== i);
                    enter(i, "returned from waitFor");
                  }
                  items--;
                  consumed++;
                }
              } finally {
                owner = undefined;
              }
            });
            cancelAt(task, w.cancelAt);
            tasks.push(task);
            if (!w.producer) consumers.push(task);
          });
          await sleep(HORIZON);
          // No lost notify: items are left only if no consumer is left waiting for one.
          const waiting = consumers.filter((t) => !t.done());
          if (items > 0) expect(waiting).toHaveLength(0);
          expect(tasks.filter((t) => !t.done()).length).toBe(waiting.length);
          for (const t of waiting) t.cancel();
          await sleep(1);
          expect(tasks.every((t) => t.done())).toBe(true);
        });
        expect(violations).toEqual([]);
        expect(produced - consumed).toBe(items);
        expect(String(cond)).toBe("Condition [unlocked]");
      }),
      { numRuns: 120 },
    );
  });
});

describe("Barrier under random arrivals", () => {
  it("without cancellations every round returns each index once and the barrier ends filling", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.array(at(10), { minLength: 12, maxLength: 12 }), async (parties, rounds, arrivals) => {
        const barrier = new Barrier(parties);
        const results: number[] = [];
        await virtual(async () => {
          const tasks = Array.from({ length: parties * rounds }, (_, i) =>
            createTask(async () => {
              await sleep(arrivals[i % arrivals.length]!);
              results.push(await barrier.wait());
              expect(barrier.nWaiting).toBeLessThan(parties);
            }),
          );
          await Promise.all(tasks);
        });
        const expected = Array.from({ length: parties * rounds }, (_, i) => i % parties).sort();
        expect([...results].sort()).toEqual(expected);
        expect(barrier.state).toBe("filling");
        expect(barrier.nWaiting).toBe(0);
      }),
      { numRuns: 80 },
    );
  });

  it("cancelled or aborted parties just leave: no one breaks, no round is lost, the barrier ends filling", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.record({ arrive: at(20), cancelAt: maybe(at(30)), abortAt: maybe(at(30)), again: fc.boolean() }), { minLength: 1, maxLength: 10 }),
        async (parties, workers) => {
          const barrier = new Barrier(parties);
          const returned: number[] = [];
          const unexpected: unknown[] = [];
          let withdrawn = 0;
          await virtual(async () => {
            const tasks = workers.map((w) => {
              const ac = new AbortController();
              abortAt(ac, w.abortAt);
              const task = createTask(async () => {
                await sleep(w.arrive);
                for (let k = 0; k < (w.again ? 2 : 1); k++) {
                  try {
                    returned.push(await barrier.wait({ signal: ac.signal }));
                  } catch (e) {
                    if (isCancelledError(e) || isAbort(e)) withdrawn++;
                    else unexpected.push(e);
                    throw e;
                  }
                }
              });
              cancelAt(task, w.cancelAt);
              return task;
            });
            await sleep(HORIZON);
            const pending = tasks.filter((t) => !t.done()).length;
            expect(barrier.state).toBe("filling");
            expect(barrier.nWaiting).toBe(pending);
            expect(pending).toBeLessThan(parties);
            for (const t of tasks) t.cancel();
            await sleep(1);
          });
          expect(unexpected).toEqual([]);
          expect(barrier.broken).toBe(false);
          // Each completed round let `parties` waiters go; each of them returned, unless it
          // was cancelled or aborted after the round completed and before it left.
          const trips = returned.filter((i) => i === parties - 1).length;
          expect(returned.length).toBeLessThanOrEqual(trips * parties);
          expect(returned.length).toBeGreaterThanOrEqual(trips * parties - withdrawn);
          expect(barrier.nWaiting).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("with random resets, aborts and cancellations right after a round: nobody is stranded, indices stay in range, and a final abort frees everyone", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(
          fc.record({
            arrive: at(10),
            rounds: fc.integer({ min: 1, max: 3 }),
            // What the party does the moment it leaves a round: nothing, reset, or abort.
            then: fc.constantFrom("none", "none", "reset", "abort"),
            // Cancel another worker in that same moment (often one woken but not yet out).
            kill: maybe(fc.nat(7)),
            cancelAt: maybe(at(20)),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        async (parties, workers) => {
          const barrier = new Barrier(parties);
          const unexpected: unknown[] = [];
          const indexes: number[] = [];
          await virtual(async () => {
            const tasks: Task<void>[] = [];
            workers.forEach((w) => {
              const task = createTask(async () => {
                await sleep(w.arrive);
                for (let k = 0; k < w.rounds; k++) {
                  try {
                    indexes.push(await barrier.wait());
                  } catch (e) {
                    if (isCancelledError(e)) throw e;
                    if (!(e instanceof BrokenBarrierError)) unexpected.push(e);
                    continue;
                  }
                  if (w.kill !== undefined) tasks[w.kill % tasks.length]!.cancel();
                  if (w.then === "reset") await barrier.reset();
                  else if (w.then === "abort") await barrier.abort();
                }
              });
              cancelAt(task, w.cancelAt);
              tasks.push(task);
            });
            await sleep(HORIZON);
            // Whoever still waits is waiting for parties that never come: an abort frees them.
            await barrier.abort();
            await sleep(HORIZON);
            expect(tasks.filter((t) => !t.done())).toEqual([]);
          });
          expect(unexpected).toEqual([]);
          expect(indexes.every((i) => Number.isInteger(i) && i >= 0 && i < parties)).toBe(true);
          expect(barrier._count).toBe(0);
          expect(barrier.nWaiting).toBe(0);
          expect(barrier._cond.locked()).toBe(false);
          expect(barrier.broken).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});
