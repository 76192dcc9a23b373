/*
 * More cases from CPython 3.13's Lib/test/test_asyncio/test_tasks.py about gather, wait and
 * as_completed that the other flow tests (and the conformance suite of `aiots`) do not cover
 * yet. Each `it` names the CPython test it comes from; what it expects was checked against
 * Python 3.13's asyncio. Where the flow README documents a different choice, the test
 * asserts aiots' behaviour and says so in its name.
 */
import { describe, expect, it } from "vitest";
import { CancelledError } from "@aiots/core";
import { Future, createTask, currentTask, sleep } from "@aiots/future";
import { getRunningLoop } from "@aiots/loop";
import { asCompleted, gather, wait } from "@aiots/flow";
import { runV, caught } from "./helpers.js";


describe("wait and the CancelledError of a task it waited for", () => {
  it("exception() of a task cancelled with (or without) a message, read after wait, ends the calling task cancelled with that message (test_cancel_with_message_then_future_exception)", async () => {
    await runV(async () => {
      for (const msg of [undefined, "my message"]) {
        const outer = createTask(async () => {
          const task = createTask(() => sleep(10_000));
          await sleep(0);
          task.cancel(msg);
          const { done, pending } = await wait([task]);
          expect(done.has(task)).toBe(true);
          expect(pending.size).toBe(0);
          task.exception(); // throws the CancelledError
        });
        const error = await caught(outer);
        expect(error).toBeInstanceOf(CancelledError);
        expect((error as Error).message).toBe(msg ?? "");
        expect(outer.cancelled()).toBe(true);
      }
    });
  });
});

describe("gather cancelled twice", () => {
  it("gather.cancel twice with different messages: the children and the gather's awaiter see the first message (test_cancel_gather_2, cancelled twice)", async () => {
    await runV(async () => {
      const seen: string[] = [];
      const child = (n: number) => async () => {
        try {
          await sleep(10_000);
        } catch (error) {
          seen.push(`${n} ${(error as Error).message}`);
          throw error;
        }
      };
      const g = gather([child(1), child(2)]);
      await sleep(0);
      expect(g.cancel("first")).toBe(true);
      expect(g.cancel("second")).toBe(true);
      const error = await caught(g);
      expect(error).toBeInstanceOf(CancelledError);
      expect({ children: seen, gather: (error as Error).message }).toEqual({
        children: ["1 first", "2 first"],
        gather: "first",
      });
    });
  });
});

describe("asCompleted: what the iteration hands out", () => {
  it("documented difference (flow README, asCompleted): for await yields the results, never the Tasks passed in (asyncio 3.13 yields those Tasks as they are); plain iteration hands out new awaitables, as asyncio's (test_as_completed_same_tasks_in_as_out)", async () => {
    await runV(async () => {
      const b = createTask(async () => "b");
      const d = createTask(async () => "d");
      const input = [async () => "a", b, async () => "c", d];
      const out: unknown[] = [];
      for await (const v of asCompleted<string>(input)) out.push(v);
      expect(out.slice().sort()).toEqual(["a", "b", "c", "d"]);
      expect(out.some((v) => v === b || v === d)).toBe(false);

      const e = createTask(async () => "e");
      const items = [...asCompleted([e])];
      expect(items).toHaveLength(1);
      expect(items[0]).not.toBe(e);
      expect(await items[0]!).toBe("e");
    });
  });

  it("documented difference (flow README, asCompleted): leaving a loop with break closes the iteration, so iterating it again gives nothing more (asyncio resumes it and gives the rest) (test_as_completed_resume_iterator)", async () => {
    await runV(async () => {
      const inputs = () => [0, 1, 2, 3].map((i) => async () => i);

      const plain = asCompleted<number>(inputs());
      const fromPlain: number[] = [];
      for (const next of plain) {
        fromPlain.push(await next);
        if (fromPlain.length === 2) break;
      }
      for (const next of plain) fromPlain.push(await next);
      expect(fromPlain).toHaveLength(2);

      const finished: number[] = [];
      const viaAsync = asCompleted<number>(
        [0, 1, 2, 3].map((i) => async () => {
          await sleep(10 * (i + 1));
          finished.push(i);
          return i;
        }),
      );
      const fromAsync: number[] = [];
      for await (const v of viaAsync) {
        fromAsync.push(v);
        if (fromAsync.length === 2) break;
      }
      for await (const v of viaAsync) fromAsync.push(v);
      expect(fromAsync).toEqual([0, 1]);
      // The tasks asCompleted started and nobody can reach any more were cancelled at the break.
      expect(finished).toEqual([0, 1]);
      expect(getRunningLoop().time()).toBe(20);
    });
  });
});

describe("a pending cancel and a gather whose children are all done", () => {
  it("a task that cancelled itself and then awaits a gather whose only child just finished is cancelled at that await (the gather refuses the cancel; asyncio keeps it pending)", async () => {
    await runV(async () => {
      const seen: string[] = [];
      const t = createTask(async () => {
        const f = new Future<number>();
        const g = gather([f]);
        f.setResult(1);
        currentTask()!.cancel();
        try {
          seen.push(`got ${String(await g)}`);
        } catch (e) {
          seen.push((e as Error).name);
          throw e;
        }
      });
      const error = await caught(t);
      expect(error).toBeInstanceOf(CancelledError);
      expect(seen).toEqual(["CancelledError"]);
      expect(t.cancelled()).toBe(true);
      expect(t.cancelling()).toBe(1);
    });
  });
});
