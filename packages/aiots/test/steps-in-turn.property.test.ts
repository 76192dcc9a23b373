/**
 * Tasks woken in one loop iteration take their steps one after the other, whatever the step
 * does on the way to its next real wait: awaits of something done already (an uncontended
 * acquire, a settled promise, `join()` of a queue with nothing unfinished), nested async
 * returns, a `timeout()` block left in time. asyncio runs each woken task's step to its next
 * wait before the next one, so a round's log is each task's entries in a block, in the
 * order the tasks were woken. Random programs, some tasks cancelled between rounds.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Event, Future, Lock, Queue, createTask, gather, getRunningLoop, isCancelledError, sleep, timeout } from "aiots";
import type { Task } from "aiots";
import { onVirtualLoop } from "./helpers.js";

const RUNS = Number(process.env.RUNS ?? 200);

/** What a step does between its wake-up and its next real wait. */
const hopArb = fc.constantFrom("null", "resolved", "acquire", "join", "nested", "timeout");
type Hop = "null" | "resolved" | "acquire" | "join" | "nested" | "timeout";

const programArb = fc.record({
  /** Per task, per round: the hops its step goes through. */
  tasks: fc.array(fc.array(fc.array(hopArb, { maxLength: 4 }), { minLength: 1, maxLength: 4 }), { minLength: 2, maxLength: 5 }),
  /**
   * How rounds wait: `sleep(0)` (every task woken in one iteration), a timer due for all at
   * once, an `Event` a loop callback sets, or one future they all await, set by a callback.
   */
  wake: fc.constantFrom("sleep0", "timer", "event", "shared"),
  /** Tasks cancelled by the main task after the first round (bit i: task i). */
  cancelBits: fc.nat({ max: 31 }),
});

describe("woken steps do not interleave", () => {
  it("each round logs every task's step as one block, in the order the tasks were woken", async () => {
    await fc.assert(
      fc.asyncProperty(programArb, async (program) => {
        const log = await onVirtualLoop(async () => {
          const log: string[] = [];
          const lock = new Lock();
          const queue = new Queue<number>();
          const nested = async (n: number): Promise<number> => (n === 0 ? 0 : await nested(n - 1));
          const hop = async (h: Hop): Promise<void> => {
            if (h === "null") await null;
            else if (h === "resolved") await Promise.resolve(1);
            else if (h === "acquire") {
              await lock.acquire();
              lock.release();
            } else if (h === "join") await queue.join();
            else if (h === "nested") await nested(3);
            else await timeout(50, () => nested(2));
          };
          const rounds = Math.max(...program.tasks.map((t) => t.length));
          const events = Array.from({ length: rounds }, () => new Event());
          const gates = Array.from({ length: rounds }, () => new Future<void>());
          const wake = async (r: number): Promise<void> => {
            if (program.wake === "sleep0") await sleep(0);
            else if (program.wake === "timer") await sleep(10);
            else if (program.wake === "event") await events[r]!.wait();
            else await gates[r];
          };
          const tasks: Task<void>[] = program.tasks.map((rounds, i) =>
            createTask(async () => {
              try {
                for (const [r, hops] of rounds.entries()) {
                  await wake(r);
                  log.push(`${r} t${i} start`);
                  for (const h of hops) await hop(h);
                  log.push(`${r} t${i} end`);
                }
              } catch (error) {
                if (!isCancelledError(error)) throw error;
              }
            }),
          );
          if (program.wake === "sleep0") await sleep(0);
          else await sleep(5);
          for (const [i, task] of tasks.entries()) if ((program.cancelBits >> i) & 1) task.cancel();
          if (program.wake === "event" || program.wake === "shared") {
            // Round r opens at 10 * r, from a loop callback, once every step of the round before has waited.
            const loop = getRunningLoop();
            for (let r = 0; r < rounds; r++) {
              await sleep(10);
              // (A task cancelled while it awaits the shared future cancels that future, as in asyncio.)
              loop.callSoon(() => (program.wake === "event" ? events[r]!.set() : gates[r]!.done() || gates[r]!.setResult()));
            }
          }
          await gather(tasks, { returnExceptions: true });
          return log;
        });
        // Every "start" is followed by the same task's "end" (no other task's entry between).
        for (let k = 0; k < log.length; k += 2) {
          const [round, task, what] = log[k]!.split(" ");
          expect(what).toBe("start");
          expect(log[k + 1]).toBe(`${round} ${task} end`);
        }
        // Within a round, tasks go in the order they were created (and woken).
        const order = new Map<string, number[]>();
        for (let k = 0; k < log.length; k += 2) {
          const [round, task] = log[k]!.split(" ");
          const list = order.get(round!) ?? [];
          list.push(Number(task!.slice(1)));
          order.set(round!, list);
        }
        for (const list of order.values()) expect(list).toEqual([...list].sort((a, b) => a - b));
      }),
      { numRuns: RUNS },
    );
  });
});
