/*
 * The last gaps between CPython 3.13's Lib/test/test_asyncio/test_tasks.py (its gather, wait,
 * as_completed and shield tests, GatherTestsBase and the Future/Coroutine gather classes) and
 * the flow tests: cases no other test file (nor the conformance suite of `aiots`) checks yet.
 * Each `it` names the CPython test in parentheses; what it expects was checked with small
 * scripts on Python 3.13.0. Where aiots documents a different choice, the test asserts
 * aiots' behaviour and says "documented difference" in its name.
 */
import { describe, expect, it } from "vitest";
import { CancelledError } from "@aiots/core";
import { Future, allTasks, createTask, sleep } from "@aiots/future";
import type { Task } from "@aiots/future";
import { getEventLoop, getRunningLoop } from "@aiots/loop";
import { FIRST_COMPLETED, asCompleted, gather, shield, wait } from "@aiots/flow";
import { runV, now, MyError, caught } from "./helpers.js";

/** `n` pending Futures of the running loop. */
const pendingFutures = <T = number>(n: number): Future<T>[] =>
  Array.from({ length: n }, () => new Future<T>(getRunningLoop()));

/** A function that waits for `f` and gives back its outcome: the child a coroutine would be. */
const through =
  <T>(f: Future<T>) =>
  async (): Promise<T> =>
    await f;

/** Lets the ready callbacks, and the tasks they wake, run a few rounds. */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await sleep(0);
};

describe("gather of functions (GatherTestsBase run by CoroutineGatherTests)", () => {
  it("children that are functions awaiting Futures: not done until the last one, then one done callback and the results in input order (CoroutineGatherTests.test_success, test_result_exception_success)", async () => {
    await runV(async () => {
      for (const returnExceptions of [undefined, false, true]) {
        const [a, b, c] = pendingFutures(3);
        const g = gather([through(a!), through(b!), through(c!)], { returnExceptions });
        const calls: unknown[] = [];
        g.addDoneCallback((f) => calls.push(f));
        b!.setResult(1);
        a!.setResult(2);
        await settle();
        expect({ returnExceptions, done: g.done(), calls: calls.length }).toEqual({ returnExceptions, done: false, calls: 0 });
        c!.setResult(3);
        await settle();
        expect(calls).toEqual([g]);
        expect(g.result()).toEqual([2, 1, 3]);
      }
    });
  });

  it("a child function that fails settles the gather with that very error and one done callback; what the others do later changes nothing (CoroutineGatherTests.test_one_exception)", async () => {
    await runV(async () => {
      const [a, b, c, d, e] = pendingFutures(5);
      const g = gather([a!, b!, c!, d!, e!].map((f) => through(f)));
      const calls: unknown[] = [];
      g.addDoneCallback((f) => calls.push(f));
      const error = new MyError("b");
      a!.setResult(1);
      b!.setException(error);
      await settle();
      expect(g.done()).toBe(true);
      expect(calls).toEqual([g]);
      expect(g.exception()).toBe(error);
      c!.setResult(3);
      d!.cancel();
      e!.setException(new RangeError("e"));
      await settle();
      expect(calls).toHaveLength(1);
      expect(g.exception()).toBe(error);
      expect(g.cancelled()).toBe(false);
    });
  });

  it("with returnExceptions, child functions' errors fill their slots and the gather is done only when the last one ends (CoroutineGatherTests.test_return_exceptions)", async () => {
    await runV(async () => {
      const [a, b, c, d] = pendingFutures(4);
      const g = gather([a!, b!, c!, d!].map((f) => through(f)), { returnExceptions: true });
      const calls: unknown[] = [];
      g.addDoneCallback((f) => calls.push(f));
      const first = new MyError("c");
      const second = new RangeError("d");
      b!.setResult(1);
      c!.setException(first);
      a!.setResult(3);
      await settle();
      expect(g.done()).toBe(false);
      d!.setException(second);
      await settle();
      expect(calls).toEqual([g]);
      expect(g.result()).toEqual([3, 1, first, second]);
    });
  });
});

describe("gather: cancelling a task that awaits one", () => {
  it("a task looping over gather(returnExceptions) and cancelled without a message, or with one, ends cancelled with that message (test_cancel_gather_2)", async () => {
    for (const msg of [undefined, "my message"]) {
      await runV(async () => {
        const worker = createTask(async () => {
          let elapsed = 0;
          for (;;) {
            elapsed += 50;
            await gather([sleep(50)], { returnExceptions: true });
            if (elapsed > 1000) return "finished";
          }
        });
        await sleep(200);
        worker.cancel(msg);
        const error = await caught(worker);
        expect(error).toBeInstanceOf(CancelledError);
        expect({ msg, message: (error as Error).message }).toEqual({ msg, message: msg ?? "" });
        expect(worker.cancelled()).toBe(true);
        expect(now()).toBe(200);
      });
    }
  });
});

describe("bad input", () => {
  it("a gather given a good function and a non-awaitable throws TypeError; the loop's exception handler is never called (test_issue46672)", async () => {
    await runV(async () => {
      const loop = getRunningLoop();
      const reports: unknown[] = [];
      loop.setExceptionHandler((_loop, context) => reports.push(context));
      let started = 0;
      const c = async () => {
        started++;
        return "abc";
      };
      expect(() => gather([c, {} as unknown as () => string])).toThrow(TypeError);
      await settle();
      expect(reports).toEqual([]);
      // aiots checks every item before it starts any (asyncio had already made a task of c).
      expect(started).toBe(0);
    });
  });

  it("wait given one promise, one function or one Task instead of a list throws TypeError and starts nothing (test_wait_invalid_args)", async () => {
    await runV(async () => {
      let started = 0;
      const fn = async () => {
        started++;
        return 1;
      };
      const task = createTask(async () => 2);
      for (const lone of [Promise.resolve(1), fn, task]) {
        expect(() => wait(lone as never)).toThrow(TypeError);
      }
      expect(() => wait([])).toThrow(RangeError);
      await settle();
      expect(started).toBe(0);
      expect(await task).toBe(2);
    });
  });

  it("asCompleted given one promise, one function or one Task instead of a list throws TypeError, for plain and for-await iteration alike, and starts nothing (test_as_completed_invalid_args)", async () => {
    await runV(async () => {
      let started = 0;
      const fn = async () => {
        started++;
        return 1;
      };
      const task = createTask(async () => 2);
      for (const lone of [Promise.resolve(1), fn, task]) {
        expect(() => {
          for (const next of asCompleted(lone as never)) void next;
        }).toThrow(TypeError);
        const error = await caught(
          (async () => {
            for await (const v of asCompleted(lone as never)) void v;
          })(),
        );
        expect(error).toBeInstanceOf(TypeError);
      }
      await settle();
      expect(started).toBe(0);
      expect(await task).toBe(2);
    });
  });
});

describe("which loop", () => {
  it("an empty gather, a gather of functions and a shield of a function belong to the running loop (test_constructor_empty_sequence_use_running_loop, CoroutineGatherTests.test_constructor_use_running_loop, test_shield_coroutine_use_running_loop)", async () => {
    await runV(async () => {
      const loop = getRunningLoop();
      const empty = gather([]);
      expect(empty.getLoop()).toBe(loop);
      expect(await empty).toEqual([]);
      const both = gather([async () => "abc", async () => "def"]);
      expect(both.getLoop()).toBe(loop);
      const shielded = shield(async () => 42);
      expect(shielded.getLoop()).toBe(loop);
      expect(await both).toEqual(["abc", "def"]);
      expect(await shielded).toBe(42);
    });
  });

  it("documented difference (docs/choices.md, The loop): outside any running loop, gather, shield and asCompleted of functions run on the default loop (asyncio 3.13 with no current loop raises RuntimeError) (test_constructor_empty_sequence_without_loop, CoroutineGatherTests.test_constructor_without_loop, test_shield_coroutine_without_loop, test_as_completed_coroutine_without_loop)", async () => {
    expect(() => getRunningLoop()).toThrow();
    const loop = getEventLoop();
    const empty = gather([]);
    expect(empty.getLoop()).toBe(loop);
    expect(await empty).toEqual([]);
    const both = gather([async () => "abc", async () => "abc"]);
    expect(both.getLoop()).toBe(loop);
    expect(await both).toEqual(["abc", "abc"]);
    const shielded = shield(async () => 42);
    expect(shielded.getLoop()).toBe(loop);
    expect(await shielded).toBe(42);
    const items = [...asCompleted([async () => 42])];
    expect(items).toHaveLength(1);
    expect(await items[0]!).toBe(42);
  });
});

describe("wait and asCompleted with tasks that finish a step apart", () => {
  it("FIRST_COMPLETED over a task that needs one loop step and one that needs two: both are in done, nothing pending (test_wait_really_done)", async () => {
    await runV(async () => {
      const a: Task<void> = createTask(async () => {
        await sleep(0);
      });
      const b: Task<void> = createTask(async () => {
        await sleep(0);
        await sleep(0);
      });
      const { done, pending } = await wait([b, a], { returnWhen: FIRST_COMPLETED });
      expect({ a: done.has(a), b: done.has(b), pending: pending.size }).toEqual({ a: true, b: true, pending: 0 });
      expect(a.result()).toBeUndefined();
      expect(b.result()).toBeUndefined();
    });
  });

  it("documented difference (flow README, asCompleted): for await over two children finishing at the same moment yields both results then, not their Futures (test_as_completed_concurrent, async-iterator form)", async () => {
    await runV(async () => {
      const got: string[] = [];
      for await (const v of asCompleted<string>([sleep(50, "a"), sleep(50, "b")])) got.push(v);
      expect(got.slice().sort()).toEqual(["a", "b"]);
      expect(now()).toBe(50);
      expect(allTasks().size).toBe(1);
    });
  });
});
