/*
 * Cases ported from CPython 3.14's Lib/test/test_asyncio (test_futures.py, test_futures2.py,
 * test_tasks.py without gather/wait/as_completed/shield/wait_for, test_eager_task_factory.py)
 * that the other tests of this package do not cover yet. Each `it` names the CPython test it
 * comes from. Where aiots documents a different choice, the test asserts aiots' behaviour
 * and says which document makes the choice.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { describe, expect, it } from "vitest";
import { CancelledError } from "@aiots/core";
import { VirtualTimeLoop, getRunningLoop, run } from "@aiots/loop";
import { Future, Task, allTasks, createTask, currentTask, ensureFuture, isFuture, sleep } from "@aiots/future";
import { collectUntil, onVirtualLoop, rejection } from "./helpers.js";

describe("futures (test_futures.py)", () => {
  it("a duck-typed future is recognised, and ensureFuture returns it as it is (DuckTests.test_ensure_future)", async () => {
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      const duck = {
        then<R1 = number, R2 = never>(
          onFulfilled?: ((value: number) => R1 | PromiseLike<R1>) | null,
          onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
        ): PromiseLike<R1 | R2> {
          return Promise.resolve(7).then(onFulfilled, onRejected);
        },
        addDoneCallback(): void {},
        cancelled: () => false,
        getLoop: () => loop,
      };
      expect(isFuture(duck)).toBe(true);
      expect(ensureFuture(duck)).toBe(duck);
    });
  });

  it("cancel() after setException returns false and keeps the exception (test_tb_logger_not_called_after_cancel)", async () => {
    await onVirtualLoop(async () => {
      const f = new Future<number>();
      const error = new Error("boom");
      f.setException(error);
      expect(f.cancel()).toBe(false);
      expect(f.cancelled()).toBe(false);
      expect(f.exception()).toBe(error);
    });
  });

  it("a done callback that removes a later one cannot unschedule it: both were scheduled at setResult (test_schedule_callbacks_list_mutation_1)", async () => {
    await onVirtualLoop(async () => {
      const calls: string[] = [];
      const f = new Future<number>();
      const later = () => calls.push("later");
      let removed = -1;
      f.addDoneCallback((fut) => {
        removed = fut.removeDoneCallback(later);
        calls.push("first");
      });
      f.addDoneCallback(later);
      f.addDoneCallback(later);
      f.setResult(1);
      await sleep(0);
      await sleep(0);
      expect(removed).toBe(0);
      expect(calls).toEqual(["first", "later", "later"]);
    });
  });
});

/** Makes garbage of what `make` creates, collects until `control` is reported, and returns every report. */
async function reportsAfterCollection(make: () => void): Promise<string[]> {
  const reports: string[] = [];
  await run(
    async () => {
      // Only the collection reports count here: a step slowed by gc() on a loaded machine
      // must not add a slow-callback report.
      getRunningLoop().slowCallbackDuration = Infinity;
      getRunningLoop().setExceptionHandler((_loop, context) => {
        const error = context.exception;
        reports.push(error instanceof Error ? error.message : context.message);
      });
      make();
      await collectUntil(() => reports.includes("control"));
    },
    { debug: true },
  );
  return reports;
}

describe("debug reports of unretrieved exceptions (test_futures.py test_tb_logger_*)", () => {
  it("only the future whose exception nobody looked at is reported (_abandoned, _result_unretrieved, _exception_retrieved, _exception_result_retrieved)", async () => {
    const reports = await reportsAfterCollection(() => {
      new Future<number>(); // abandoned while pending
      new Future<number>().setResult(42); // result never read
      const seen = new Future<number>();
      seen.setException(new Error("retrieved by exception()"));
      seen.exception();
      const thrown = new Future<number>();
      thrown.setException(new Error("retrieved by result()"));
      try {
        thrown.result();
      } catch {
        // expected
      }
      new Future<number>().setException(new Error("control"));
    });
    expect(reports).toEqual(["control"]);
  });

  it("cancel() on a future that failed counts as looking at its exception (test_tb_logger_not_called_after_cancel)", async () => {
    const reports = await reportsAfterCollection(() => {
      const f = new Future<number>();
      f.setException(new Error("silenced by cancel()"));
      expect(f.cancel()).toBe(false);
      new Future<number>().setException(new Error("control"));
    });
    expect(reports).toEqual(["control"]);
  });
});

describe("cancellation bookkeeping (test_tasks.py)", () => {
  it("a task that uncancels and goes on can be cancelled again; uncancel() on a done task changes nothing (test_uncancel_basic)", async () => {
    await onVirtualLoop(async () => {
      const t = createTask(
        async () => {
          try {
            await sleep(10_000);
          } catch (error) {
            currentTask()!.uncancel();
            if (!(error instanceof CancelledError)) throw error;
            await sleep(10_000);
          }
        },
        { name: "job" },
      );
      await sleep(10);
      expect(t.cancel()).toBe(true);
      expect(String(t)).toContain("cancelling");
      expect(t.cancelling()).toBe(1);
      expect(t.cancelled()).toBe(false);
      await sleep(10);
      expect(String(t)).not.toContain("cancelling");
      expect(t.cancelling()).toBe(0);
      expect(t.done()).toBe(false);
      expect(t.cancel()).toBe(true);
      expect(t.cancelling()).toBe(1);
      await expect(t).rejects.toBeInstanceOf(CancelledError);
      expect(t.cancelled()).toBe(true);
      t.uncancel();
      expect(t.cancelled()).toBe(true);
      expect(t.done()).toBe(true);
    });
  });

  it("result() and exception() of a task cancelled with a message throw CancelledError with it (test_cancel_with_message_then_future_result/_exception)", async () => {
    await onVirtualLoop(async () => {
      for (const msg of [undefined, "my message"]) {
        const t = createTask(() => sleep(10_000));
        await sleep(0);
        t.cancel(msg);
        await t.catch(() => undefined);
        let fromResult: unknown;
        try {
          t.result();
        } catch (error) {
          fromResult = error;
        }
        let fromException: unknown;
        try {
          t.exception();
        } catch (error) {
          fromException = error;
        }
        for (const error of [fromResult, fromException]) {
          expect(error).toBeInstanceOf(CancelledError);
          expect((error as Error).message).toBe(msg ?? "");
        }
      }
    });
  });

  it("an error thrown from the CancelledError of an awaited task keeps it as cause, and the outer task fails with it (test_cancellation_exception_context)", async () => {
    await onVirtualLoop(async () => {
      const started = new Future<void>();
      const inner = createTask(async () => {
        started.setResult();
        await sleep(10_000);
      });
      const outer = createTask(async () => {
        await started;
        getRunningLoop().callSoon(() => inner.cancel("msg"));
        try {
          await inner;
        } catch (error) {
          throw new Error("cancelled", { cause: error });
        }
      });
      const error = await rejection(outer);
      expect(outer.cancelled()).toBe(false);
      expect((error as Error).message).toBe("cancelled");
      const cause = (error as Error).cause;
      expect(cause).toBeInstanceOf(CancelledError);
      expect((cause as Error).message).toBe("msg");
      expect(inner.cancelled()).toBe(true);
    });
  });

  it("another error thrown while handling the cancellation ends the task with that error, not cancelled (test_baseexception_during_cancel)", async () => {
    await onVirtualLoop(async () => {
      const replacement = new Error("raised instead");
      async function sleeper(): Promise<void> {
        await sleep(10_000);
      }
      const t = createTask(async () => {
        try {
          await sleeper();
        } catch (error) {
          if (error instanceof CancelledError) throw replacement;
          throw error;
        }
      });
      await sleep(0);
      t.cancel();
      expect(t.done()).toBe(false);
      await t.catch(() => undefined);
      expect(t.done()).toBe(true);
      expect(t.cancelled()).toBe(false);
      expect(t.exception()).toBe(replacement);
    });
  });

  it("cancelling the outer task cancels the future an inner function awaits; the outer catches and ends normally (test_yield_future_passes_cancel)", async () => {
    await onVirtualLoop(async () => {
      let proof = 0;
      const waiter = new Future<void>();
      async function inner(): Promise<void> {
        try {
          await waiter;
        } catch (error) {
          proof += 1;
          throw error;
        }
        throw new Error("got past the waiter");
      }
      const outer = createTask(async () => {
        try {
          await inner();
          proof += 10;
        } catch (error) {
          if (error instanceof CancelledError) proof += 100;
        }
      });
      await sleep(0);
      outer.cancel();
      await outer;
      expect(proof).toBe(101);
      expect(waiter.cancelled()).toBe(true);
      expect(outer.cancelled()).toBe(false);
    });
  });
});

describe("the loop running a task (test_tasks.py)", () => {
  it("stop() during runUntilComplete rejects it and leaves the task pending; a later cancel ends it (test_stop_while_run_in_complete)", async () => {
    const loop = new VirtualTimeLoop();
    let x = 0;
    const t = loop.createTask(async () => {
      while (x < 10) {
        await sleep(100);
        x += 1;
        if (x === 2) loop.stop();
      }
    });
    try {
      const error = await rejection(loop.runUntilComplete(t));
      expect((error as Error).message).toBe("Event loop stopped before Future completed.");
      expect(t.done()).toBe(false);
      expect(x).toBe(2);
      // (CPython's test loop reads 0.3 here because its fake clock moves as timers are
      // scheduled; a VirtualTimeLoop stands still while the task runs.)
      expect(loop.time()).toBe(200);
      t.cancel();
      await expect(loop.runUntilComplete(t)).rejects.toBeInstanceOf(CancelledError);
      expect(x).toBe(2);
    } finally {
      loop.close();
    }
  });

  it("callbacks scheduled before sleep(0) run before it returns, and it returns its value (SleepTests.test_sleep_zero)", async () => {
    await onVirtualLoop(async () => {
      let result = 0;
      getRunningLoop().callSoon(() => (result += 1));
      expect(result).toBe(0);
      const value = await sleep(0, 10);
      expect(result).toBe(1);
      result += value;
      expect(result).toBe(11);
    });
  });

  it("a task awaiting a future of another loop fails with an error saying so (test_other_loop_future)", async () => {
    const other = new VirtualTimeLoop();
    try {
      await onVirtualLoop(async () => {
        const fut = new Future<number>(other);
        const t = createTask(async () => await fut);
        setTimeout(() => {
          if (!fut.done()) fut.setResult(1);
        }, 5);
        const error = await rejection(t);
        expect((error as Error).message).toMatch(/attached to a different loop/);
      });
    } finally {
      other.close();
    }
  });

  it("ensureFuture(future, loop) with a loop the future does not belong to throws (test_ensure_future_future, test_ensure_future_error_msg)", async () => {
    const other = new VirtualTimeLoop();
    try {
      await onVirtualLoop(async () => {
        const fut = new Future<string>();
        fut.setResult("ko");
        expect(ensureFuture(fut, getRunningLoop())).toBe(fut);
        expect(() => ensureFuture(fut, other)).toThrow(/different loop/);
        const task = createTask(async () => "ok");
        expect(() => ensureFuture(task, other)).toThrow(/different loop/);
        await task;
      });
    } finally {
      other.close();
    }
  });
});

describe("what a task's function returns, and its name (test_tasks.py)", () => {
  it("an async function that returns a future: the task adopts it (documented: docs/cancellation.md, 'Returning a task from a task') (test_coroutine_non_gen_function_return_future)", async () => {
    await onVirtualLoop(async () => {
      const fut = new Future<string>();
      // asyncio's task would finish with the future object itself; an async function
      // returning a thenable adopts it, so the task finishes with the future's result.
      const t1 = createTask(async () => fut);
      const t2 = createTask(async () => {
        fut.setResult("test");
      });
      expect(await t1).toBe("test");
      expect(t2.result()).toBeUndefined();
    });
  });

  it("setName converts a non-string to a string; a non-string name given to createTask throws TypeError (documented: API.md bad arguments) (test_task_set_name_pylong, test_task_repr_name_not_str)", async () => {
    await onVirtualLoop(async () => {
      const t = createTask(async () => 123);
      t.setName(123456789 as unknown as string);
      expect(t.getName()).toBe("123456789");
      // asyncio turns name=987654321 into "987654321"; aiots refuses it at the call.
      expect(() => createTask(async () => 1, { name: 987654321 as unknown as string })).toThrow(TypeError);
      await t;
    });
  });

  it("toString of tasks that wait on each other stops at the cycle instead of recursing (test_futures2 test_recursive_repr_for_pending_tasks)", async () => {
    await onVirtualLoop(async () => {
      const gate = new Future<void>();
      const tasks: { a?: Task<void>; b?: Task<void> } = {};
      tasks.a = createTask(async () => {
        await sleep(1);
        await tasks.b!;
      });
      tasks.b = createTask(async () => {
        await sleep(1);
        await Promise.all([tasks.a!, gate]);
      });
      await sleep(5);
      let text: unknown;
      try {
        text = String(tasks.a);
      } catch (error) {
        text = error;
      }
      // Break the cycle without cancel() (which follows it too, as in asyncio).
      gate.setException(new Error("break the cycle"));
      await tasks.a.catch(() => undefined);
      await tasks.b.catch(() => undefined);
      expect(text).toBeTypeOf("string");
      expect(text as string).toContain("...");
    });
  });
});

describe("context (test_tasks.py test_context_*): AsyncLocalStorage plays the part of contextvars", () => {
  it("a task sees the context its creator had at createTask (test_context_1)", async () => {
    await onVirtualLoop(async () => {
      const als = new AsyncLocalStorage<string>();
      const seen: (string | undefined)[] = [];
      const t = als.run("at creation", () =>
        createTask(async () => {
          seen.push(als.getStore());
          await sleep(10);
          seen.push(als.getStore());
        }),
      );
      await t;
      expect(seen).toEqual(["at creation", "at creation"]);
    });
  });

  it("a done callback runs outside any caller's context, never in the one of the code that woke the loop (aiots choice; asyncio copies the context per callback)", async () => {
    await onVirtualLoop(async () => {
      const als = new AsyncLocalStorage<string>();
      const fut = new Future<void>();
      let seen: string | undefined = "not called";
      als.run("registration", () => fut.addDoneCallback(() => (seen = als.getStore())));
      // The loop is woken from code in another context: that context must not leak in.
      als.run("settler", () => getRunningLoop().callSoon(() => fut.setResult()));
      await fut;
      await sleep(0);
      expect(seen).toBeUndefined();
    });
  });

  it("tasks created in different contexts in one step each see their own (test_context_1, leak check)", async () => {
    await onVirtualLoop(async () => {
      const als = new AsyncLocalStorage<string>();
      const a = als.run("A", () => createTask(async () => als.getStore()));
      const b = als.run("B", () => createTask(async () => als.getStore()));
      const outside = createTask(async () => als.getStore());
      expect([await a, await b, await outside]).toEqual(["A", "B", undefined]);
    });
  });

  it("many tasks each keep their own value across awaits (test_context_3)", async () => {
    await onVirtualLoop(async () => {
      const als = new AsyncLocalStorage<number>();
      const mismatches: string[] = [];
      let seed = 12345;
      const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 50;
      const tasks = Array.from({ length: 30 }, (_, n) => {
        const delays = Array.from({ length: 5 }, () => next() + 1);
        return createTask(async () => {
          for (let i = 0; i < delays.length; i++) {
            als.enterWith(n * 100 + i);
            await sleep(delays[i]!);
            if (als.getStore() !== n * 100 + i) mismatches.push(`task ${n} step ${i}: ${als.getStore()}`);
          }
        });
      });
      await Promise.all(tasks);
      expect(mismatches).toEqual([]);
    });
  });
});

describe("eagerStart (test_eager_task_factory.py)", () => {
  it("a future set during the eager step is done at once; the task after one microtask (documented: docs/choices.md) (test_await_future_during_eager_step)", async () => {
    await onVirtualLoop(async () => {
      const fut = new Future<string>();
      const t = createTask(
        async () => {
          fut.setResult("my message");
        },
        { eagerStart: true },
      );
      expect(fut.done()).toBe(true);
      // asyncio: t.done() is already true here.
      expect(t.done()).toBe(false);
      await null;
      expect(t.done()).toBe(true);
      expect(await fut).toBe("my message");
    });
  });

  it("an async function that finishes without awaiting is done after one microtask (documented: docs/choices.md) (test_eager_completion)", async () => {
    await onVirtualLoop(async () => {
      const t = createTask(async () => "hello", { eagerStart: true });
      // asyncio: done at once.
      expect(t.done()).toBe(false);
      await null;
      expect(t.done()).toBe(true);
      expect(t.result()).toBe("hello");
      // A plain (non-async) function is done at once, as in asyncio.
      const s = createTask(() => "sync", { eagerStart: true });
      expect(s.done()).toBe(true);
    });
  });

  it("a task that blocks after its eager step is pending, and finishes later (test_block_after_eager_step)", async () => {
    await onVirtualLoop(async () => {
      const t = createTask(
        async () => {
          await sleep(100);
          return "finished after blocking";
        },
        { eagerStart: true },
      );
      expect(t.done()).toBe(false);
      expect(await t).toBe("finished after blocking");
      expect(t.done()).toBe(true);
      expect(getRunningLoop().time()).toBe(100);
    });
  });

  it("cancel right after an eager completion returns false and the result stays, for a sync and an async function (test_cancellation_after_eager_completion)", async () => {
    await onVirtualLoop(async () => {
      const s = createTask(() => "finished without blocking", { eagerStart: true });
      expect(s.cancel()).toBe(false);
      expect(await s).toBe("finished without blocking");
      expect(s.cancelled()).toBe(false);
      // The async function has returned, so the task is as good as done (its outcome is
      // recorded one microtask later): too late to cancel, as in asyncio.
      const a = createTask(async () => "finished without blocking", { eagerStart: true });
      expect(a.cancel()).toBe(false);
      expect(await a).toBe("finished without blocking");
      expect(a.cancelled()).toBe(false);
      expect(a.cancelling()).toBe(0);
    });
  });

  it("cancel after the eager step blocked: the await throws with the message (test_cancellation_after_eager_step_blocks)", async () => {
    await onVirtualLoop(async () => {
      const t = createTask(
        async () => {
          await sleep(100);
          return "finished after blocking";
        },
        { eagerStart: true },
      );
      t.cancel("cancellation message");
      expect(t.cancelling()).toBeGreaterThan(0);
      const error = await rejection(t);
      expect(error).toBeInstanceOf(CancelledError);
      expect((error as Error).message).toBe("cancellation message");
      expect(getRunningLoop().time()).toBe(0);
    });
  });

  it("the eager step sees its task in allTasks(); once done it leaves (test_all_tasks_with_eager_completion)", async () => {
    await onVirtualLoop(async () => {
      let captured: Set<Task<unknown>> | undefined;
      const t = createTask(
        async () => {
          captured = allTasks();
        },
        { eagerStart: true },
      );
      expect(captured!.has(t)).toBe(true);
      await t;
      expect(allTasks().has(t)).toBe(false);
    });
  });

  it("a task that blocks after its eager step stays in allTasks() until it finishes (test_all_tasks_with_blocking)", async () => {
    await onVirtualLoop(async () => {
      const fut1 = new Future<void>();
      const fut2 = new Future<void>();
      let captured: Set<Task<unknown>> | undefined;
      const t = createTask(
        async () => {
          captured = allTasks();
          await fut1;
          fut2.setResult();
        },
        { eagerStart: true },
      );
      expect(captured!.has(t)).toBe(true);
      expect(allTasks().has(t)).toBe(true);
      fut1.setResult();
      await fut2;
      await sleep(0);
      expect(t.done()).toBe(true);
      expect(allTasks().has(t)).toBe(false);
    });
  });

  it("the eager step sees the creator's context, and what it sets stays in the task (test_context_vars)", async () => {
    await onVirtualLoop(async () => {
      const als = new AsyncLocalStorage<number>();
      const steps: string[] = [];
      await als.run(1, async () => {
        const t = createTask(
          async () => {
            steps.push(`first step sees ${als.getStore()}`);
            als.enterWith(2);
            await sleep(100);
            steps.push(`second step sees ${als.getStore()}`);
            als.enterWith(3);
          },
          { eagerStart: true },
        );
        steps.push(`creator sees ${als.getStore()}`);
        await t;
        steps.push(`creator then sees ${als.getStore()}`);
      });
      expect(steps).toEqual(["first step sees 1", "creator sees 1", "second step sees 2", "creator then sees 1"]);
    });
  });
});
