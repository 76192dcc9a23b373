/*
 * Eagerly started children (`eagerStart: true`) of gather and TaskGroup against CPython
 * 3.13's eager tasks (test_eager_task_factory.py and asyncio.gather's path for children
 * that are already done, checked with small scripts on CPython 3.13.0). aiots has no task
 * factory: the children are made with `eagerStart: true`.
 */
import { describe, expect, it } from "vitest";
import { ExceptionGroup } from "@aiots/core";
import { getRunningLoop } from "@aiots/loop";
import { createTask, currentTask, sleep } from "@aiots/future";
import { gather, taskGroup } from "@aiots/flow";
import { caught, runV } from "./helpers.js";

const eager = { eagerStart: true } as const;

describe("eager task groups (test_eager_task_factory.py)", () => {
  it("every child of nested task groups created with eagerStart runs its first step inside createTask (test_recursive_taskgroups)", async () => {
    await runV(async () => {
      let created = 0;
      let startedLate = 0;
      const recurse = async (width: number, depth: number): Promise<void> => {
        if (depth === 0) return;
        await taskGroup((tg) => {
          for (let i = 0; i < width; i++) {
            let started = false;
            created++;
            tg.createTask(async () => {
              started = true;
              await recurse(width, depth - 1);
            }, eager);
            if (!started) startedLate++;
          }
        });
      };
      await recurse(5, 4);
      // 5 + 5^2 + 5^3 + 5^4 children; asyncio's counter of non-eager tasks stays at 0.
      expect(created).toBe(780);
      expect(startedLate).toBe(0);
      expect(getRunningLoop().time()).toBe(0);
    });
  });
});

describe("eager children of gather and TaskGroup", () => {
  // aiots' gather starts the functions it is given as ordinary (scheduled) tasks and has no
  // option to start them eagerly, so asyncio's "gather(coros) with the eager factory" cases
  // (test_recursive_gather) cannot be ported; here the children are eager tasks made first.
  it("gather of tasks that all finished in their eager step is done at once (no CPython test; asyncio.gather's path for children that finished eagerly)", async () => {
    await runV(async () => {
      const one = createTask(() => 1, eager);
      const two = createTask(() => 2, eager);
      expect(one.done() && two.done()).toBe(true);
      const g = gather([one, two]);
      // asyncio 3.12+: the gather's result is set inside gather() when every child is done.
      expect(g.done()).toBe(true);
      expect(await g).toEqual([1, 2]);
    });
  });

  it("gather of eagerly finished tasks, one failed: done at once with the failure, or with it in place under returnExceptions (no CPython test; asyncio.gather's path for children that finished eagerly)", async () => {
    await runV(async () => {
      const one = createTask(() => 1, eager);
      const bad = createTask(() => {
        throw new RangeError("x");
      }, eager);
      const g = gather([one, bad]);
      const settled = gather([one, bad], { returnExceptions: true });
      expect(g.done()).toBe(true);
      expect(g.done() && g.exception()).toBe(bad.exception());
      expect(settled.done()).toBe(true);
      expect(await settled).toEqual([1, bad.exception()]);
      await caught(g);
    });
  });

  it("TaskGroup children created with eagerStart run their first step inside createTask, in order (test_recursive_taskgroups, one level)", async () => {
    await runV(async () => {
      const log: string[] = [];
      const child = (i: number) => async () => {
        log.push(`child ${i} starts`);
        await sleep(i * 1000);
        log.push(`child ${i} ends`);
        return i;
      };
      const [a, b] = await taskGroup((tg) => {
        const a = tg.createTask(child(1), eager);
        log.push("after createTask 1");
        const b = tg.createTask(child(2), eager);
        log.push("after createTask 2");
        return [a, b] as const;
      });
      expect(log).toEqual(["child 1 starts", "after createTask 1", "child 2 starts", "after createTask 2", "child 1 ends", "child 2 ends"]);
      expect([a.result(), b.result()]).toEqual([1, 2]);
      expect(getRunningLoop().time()).toBe(2000);
    });
  });

  it("a TaskGroup child that fails in its eager step cancels its sibling and the body; the group throws its error and takes back its cancel (no CPython test)", async () => {
    await runV(async () => {
      const log: string[] = [];
      const failure = new RangeError("eager boom");
      const error = await caught(
        taskGroup(async (tg) => {
          tg.createTask(async () => {
            try {
              await sleep(10_000);
              log.push("sibling finished");
            } catch (e) {
              log.push("sibling cancelled");
              throw e;
            }
          }, eager);
          tg.createTask(async () => {
            throw failure;
          }, eager);
          log.push("after the failing child");
          try {
            await sleep(5000);
            log.push("body slept");
          } catch (e) {
            log.push("body cancelled");
            throw e;
          }
        }),
      );
      expect(error).toBeInstanceOf(ExceptionGroup);
      expect([...(error as ExceptionGroup).errors]).toEqual([failure]);
      expect(log).toEqual(["after the failing child", "sibling cancelled", "body cancelled"]);
      expect(currentTask()!.cancelling()).toBe(0);
      expect(getRunningLoop().time()).toBe(0);
    });
  });
});
