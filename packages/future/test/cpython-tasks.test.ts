/*
 * More cases from CPython 3.13's Lib/test/test_asyncio/test_tasks.py and test_futures.py,
 * for Future and Task, that the other tests of this package (and the conformance suite of
 * `aiots`) do not cover yet. Each `it` names the CPython test it comes from; what it expects
 * was checked against Python 3.13's asyncio. Where aiots documents a different choice, the
 * test asserts aiots' behaviour and says so in its name.
 */
import { describe, expect, it } from "vitest";
import { CancelledError, InvalidStateError } from "@aiots/core";
import { VirtualTimeLoop, getRunningLoop } from "@aiots/loop";
import { Future, allTasks, createTask, ensureFuture, sleep } from "@aiots/future";
import { onVirtualLoop, rejection } from "./helpers.js";

class MyError extends Error {
  override name = "MyError";
}

/** Routes the running loop's exception handler into a list of the reported exceptions. */
function collectReports(): unknown[] {
  const reports: unknown[] = [];
  getRunningLoop().setExceptionHandler((_loop, context) => reports.push(context.exception ?? context.message));
  return reports;
}

describe("a task finished behind its back through Future's own methods", () => {
  const ways = [
    {
      how: "Future.prototype.setResult",
      name: "test_set_result_causes_invalid_state",
      finish: (t: Future<unknown>) => Future.prototype.setResult.call(t, "spam"),
      outcome: async (t: Future<unknown>) => expect(await t).toBe("spam"),
    },
    {
      how: "Future.prototype.setException",
      name: "test_set_exception_causes_invalid_state",
      finish: (t: Future<unknown>) => Future.prototype.setException.call(t, new MyError("set from outside")),
      outcome: async (t: Future<unknown>) => expect(await rejection(t)).toBeInstanceOf(MyError),
    },
  ];
  for (const { how, name, finish, outcome } of ways) {
    it(`${how} on a pending task: the task has that outcome, its function never runs, its step reports InvalidStateError, and allTasks no longer lists it (${name})`, async () => {
      await onVirtualLoop(async () => {
        const reports = collectReports();
        const ran: string[] = [];
        const t = createTask(async () => {
          ran.push("function ran");
          await sleep(100);
          return 10;
        });
        // Task.setResult refuses; the base class method does not (asyncio: Future.set_result(task, ...)).
        finish(t);
        await outcome(t);
        await sleep(200);
        expect({
          ran,
          reports: reports.map((r) => r instanceof InvalidStateError),
          listed: allTasks().has(t),
        }).toEqual({ ran: [], reports: [true], listed: false });
      });
    });
  }
});

describe("a task that cannot be scheduled", () => {
  it("ensureFuture(fn, loop) on a closed loop throws and leaves no task of that loop in allTasks (test_error_in_call_soon)", async () => {
    const loop = new VirtualTimeLoop();
    loop.close();
    let ran = false;
    expect(() =>
      ensureFuture(async () => {
        ran = true;
      }, loop),
    ).toThrow(/closed/);
    expect(ran).toBe(false);
    expect(allTasks(loop).size).toBe(0);
  });
});

describe("a task awaiting a Future subclass", () => {
  it("gets the very object the subclass was resolved with and ends with its own return value; documented difference: the await does not go through addDoneCallback (docs/choices.md, 'Futures') (test_step_result_future)", async () => {
    await onVirtualLoop(async () => {
      let callbackAdded = false;
      class Fut<T> extends Future<T> {
        override addDoneCallback(cb: (future: this) => void): void {
          callbackAdded = true;
          super.addDoneCallback(cb);
        }
      }
      const fut = new Fut<object>();
      let result: unknown;
      const t = createTask(async () => {
        result = await fut;
      });
      await sleep(0);
      // asyncio's task waits through fut.add_done_callback; an aiots task awaits the
      // native promise the Future is (docs/choices.md: awaiters resume as microtasks).
      expect(callbackAdded).toBe(false);
      const value = {};
      fut.setResult(value);
      await sleep(0);
      expect(result).toBe(value);
      expect(t.done()).toBe(true);
      expect(t.result()).toBeUndefined();
    });
  });
});

/*
 * asyncio's Task.__step: when a cancel finds the awaited future already done (cancelled by a
 * first cancel, or by its owner), it sets `_must_cancel`; the next step consumes it, but it
 * only replaces the exception thrown into the coroutine if that is not a CancelledError
 * already. So the first CancelledError, with its message, is the one the task sees.
 */
describe("a second cancel that finds the awaited future already cancelled", () => {
  it("the awaited future cancelled by its owner, then the task cancelled with another message: the await throws the owner's CancelledError, and the task ends with it (test_cancel_both_task_and_inner_future, with messages)", async () => {
    await onVirtualLoop(async () => {
      const fut = new Future<number>();
      let inside: unknown;
      const t = createTask(async () => {
        try {
          return await fut;
        } catch (error) {
          inside = error;
          throw error;
        }
      });
      await sleep(0);
      fut.cancel("from owner");
      expect(t.cancel("from task")).toBe(true);
      const outside = await rejection(t);
      expect(t.cancelled()).toBe(true);
      expect(t.cancelling()).toBe(1);
      expect(inside).toBeInstanceOf(CancelledError);
      expect({ inside: (inside as Error).message, outside: (outside as Error).message }).toEqual({
        inside: "from owner",
        outside: "from owner",
      });
    });
  });

  it("two cancels of a sleeping task with different messages: the await throws the first message, the second request is spent there, and the next await runs (test_cancel_both_task_and_inner_future, cancelled twice)", async () => {
    await onVirtualLoop(async () => {
      const steps: string[] = [];
      const t = createTask(async () => {
        try {
          await sleep(10_000);
        } catch (error) {
          steps.push(`caught ${(error as Error).message}`);
        }
        await sleep(1);
        steps.push("slept after");
        return "ok";
      });
      await sleep(0);
      t.cancel("first");
      t.cancel("second");
      expect(await t).toBe("ok");
      expect(t.cancelling()).toBe(2);
      expect(steps).toEqual(["caught first", "slept after"]);
    });
  });

  it("cancelling twice a task that awaits another task: both tasks see the first message (test_cancel_both_task_and_inner_future, through a nested task)", async () => {
    await onVirtualLoop(async () => {
      const seen: string[] = [];
      const inner = createTask(async () => {
        try {
          await sleep(10_000);
        } catch (error) {
          seen.push(`inner ${(error as Error).message}`);
          throw error;
        }
      });
      const outer = createTask(async () => {
        try {
          await inner;
        } catch (error) {
          seen.push(`outer ${(error as Error).message}`);
          throw error;
        }
      });
      await sleep(0);
      outer.cancel("first");
      outer.cancel("second");
      const error = await rejection(outer);
      expect(outer.cancelling()).toBe(2);
      expect(inner.cancelling()).toBe(2);
      expect(inner.cancelled()).toBe(true);
      expect(seen).toEqual(["inner first", "outer first"]);
      expect((error as Error).message).toBe("first");
    });
  });
});
