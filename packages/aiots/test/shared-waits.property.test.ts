/**
 * One blocked wait (a queue get or put, a lock or semaphore acquire) shared by several
 * awaiters: tasks awaiting it, tasks chaining on it with `then`, and maybe a done callback.
 * After the hand-over, a random subset of the tasks is cancelled, each a random number of
 * microtasks later (0: in the same synchronous block, before any of them resumed). Whatever
 * the mix, the hand-over lands once: if any observer received it, the primitive does not
 * have it back (no duplicate item, no second lock holder); if none did, it is back (no lost
 * item, no leaked lock or permit). A put's item is in the queue exactly when its put was
 * seen to succeed.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Lock, Queue, Semaphore, createTask, isCancelledError, sleep } from "aiots";
import type { Future, Task } from "aiots";
import { afterTicks, onVirtualLoop } from "./helpers.js";

const RUNS = Number(process.env.RUNS ?? 1000);

type Kind = "get" | "put" | "lock" | "semaphore";

interface Setup {
  /** The shared wait, started while it must block. */
  wait: PromiseLike<unknown>;
  /** Makes the hand-over to the shared wait. */
  handOver(): void;
  /** Whether the primitive has the hand-over back (the item queued, the lock or permit free), or (put) the item is in. */
  back(): boolean;
}

function setup(kind: Kind): Setup {
  switch (kind) {
    case "get": {
      const q = new Queue<string>();
      return { wait: q.get(), handOver: () => q.putNowait("x"), back: () => q.qsize() === 1 };
    }
    case "put": {
      const q = new Queue<string>(1);
      q.putNowait("first");
      // "Back" for a put: the slot is free again, the item never went in.
      return { wait: q.put("second"), handOver: () => void q.getNowait(), back: () => q.qsize() === 0 };
    }
    case "lock": {
      const lock = new Lock();
      void lock.acquire();
      return { wait: lock.acquire(), handOver: () => lock.release(), back: () => !lock.locked() };
    }
    case "semaphore": {
      const sem = new Semaphore(1);
      void sem.acquire();
      return { wait: sem.acquire(), handOver: () => sem.release(), back: () => !sem.locked() };
    }
  }
}

const awaiterArb = fc.record({
  how: fc.constantFrom("await" as const, "then" as const),
  cancelAfter: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
});

const scenarioArb = fc.record({
  kind: fc.constantFrom<Kind>("get", "put", "lock", "semaphore"),
  awaiters: fc.array(awaiterArb, { minLength: 1, maxLength: 3 }),
  doneCallback: fc.boolean(),
});

describe("a blocked wait shared by several awaiters, some cancelled after the hand-over", () => {
  it("hands over once: received by an observer, or back with the primitive, never both, never neither", async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ({ kind, awaiters, doneCallback }) => {
        await onVirtualLoop(async () => {
          const s = setup(kind);
          let received = 0;
          if (doneCallback) {
            (s.wait as unknown as Future<unknown>).addDoneCallback((f) => {
              if (!f.cancelled() && f.exception() === null) received++;
            });
          }
          const tasks: Task<void>[] = awaiters.map(({ how }) =>
            createTask(async () => {
              if (how === "await") await s.wait;
              else await s.wait.then(() => undefined);
              received++;
            }),
          );
          await sleep(0);
          s.handOver();
          awaiters.forEach(({ cancelAfter }, i) => {
            if (cancelAfter !== undefined) afterTicks(cancelAfter, () => tasks[i]!.cancel());
          });
          for (const t of tasks) {
            await t.then(undefined, (e: unknown) => {
              if (!isCancelledError(e)) throw e;
            });
          }
          await sleep(0);
          await sleep(0);
          // Exactly one of the two: someone has it, or the primitive has it back.
          expect(s.back(), `${received} observer(s) received the hand-over`).toBe(received === 0);
        });
      }),
      { numRuns: RUNS },
    );
  });
});
