/*
 * Further cases from CPython 3.13's Lib/test/test_asyncio/test_tasks.py (Task and Future
 * behaviour, cancellation, context; not gather/wait/as_completed/shield/wait_for) that the
 * other tests of this package, the `aiots` conformance suite and the flow tests did not cover
 * yet. Each `it` names the CPython test it stands for; what it expects was checked against
 * Python 3.13.0's asyncio with small scripts. Where aiots documents a different choice, the
 * test asserts aiots' behaviour and its name says "documented difference".
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { describe, expect, it } from "vitest";
import { CancelledError, TimeoutError } from "@aiots/core";
import { VirtualTimeLoop, getEventLoop, getRunningLoop, run } from "@aiots/loop";
import { Future, Task, allTasks, createTask, currentTask, ensureFuture, sleep } from "@aiots/future";
import { collectUntil, onVirtualLoop, rejection } from "./helpers.js";

describe("tasks and their loops", () => {
  it("a task made by a loop that is not running belongs to it, waits for it, and gives its result when that loop runs it (test_task_class)", async () => {
    const loop = new VirtualTimeLoop();
    try {
      const steps: string[] = [];
      const t = loop.createTask(async () => {
        steps.push("ran");
        return "ok";
      });
      expect(t).toBeInstanceOf(Task);
      expect(t.getLoop()).toBe(loop);
      expect(steps).toEqual([]);
      expect(await loop.runUntilComplete(t)).toBe("ok");
      expect(t.done()).toBe(true);
      expect(t.result()).toBe("ok");
      expect(steps).toEqual(["ran"]);
    } finally {
      loop.close();
    }
  });

  it("ensureFuture(fn, loop) starts a Task of that loop, which runs when the loop runs (test_ensure_future_coroutine)", async () => {
    const loop = new VirtualTimeLoop();
    try {
      const t = ensureFuture(async () => {
        await sleep(5);
        return "ok";
      }, loop);
      expect(t).toBeInstanceOf(Task);
      expect(t.getLoop()).toBe(loop);
      expect(t.done()).toBe(false);
      expect(await loop.runUntilComplete(t)).toBe("ok");
      expect(t.result()).toBe("ok");
      expect(loop.time()).toBe(5);
    } finally {
      loop.close();
    }
  });

  it("documented difference (API.md: with no running loop a default host loop serves): ensureFuture(fn) outside any loop makes a Task of the default loop (asyncio 3.13 raises 'no current event loop' when none is set) (test_ensure_future_coroutine)", async () => {
    const t = ensureFuture(async () => {
      await sleep(1);
      return "ok";
    });
    expect(t).toBeInstanceOf(Task);
    expect(t.getLoop()).toBe(getEventLoop());
    expect(await t).toBe("ok");
  });

  it("a Task is a Future: the class extends it, and every task is an instance of it (GenericTaskTests.test_future_subclass)", async () => {
    expect(Object.getPrototypeOf(Task.prototype)).toBe(Future.prototype);
    await onVirtualLoop(async () => {
      const t = createTask(() => 1);
      expect(t).toBeInstanceOf(Future);
      expect(await t).toBe(1);
    });
  });
});

describe("what a task runs", () => {
  it("nested async functions awaited in turn give their values to the outer one: 42 + 1000 (test_task_basics)", async () => {
    await onVirtualLoop(async () => {
      const first = async () => 42;
      const second = async () => 1000;
      const outer = async () => {
        const a = await first();
        const b = await second();
        return a + b;
      };
      expect(await createTask(outer)).toBe(1042);
    });
  });

  it("a function returning an object that is only a thenable: the task follows it and ends with its value, each time (test_create_task_with_asynclike_function)", async () => {
    await onVirtualLoop(async () => {
      const asyncLike = (): PromiseLike<number> => ({
        then<R1 = number, R2 = never>(
          onFulfilled?: ((value: number) => R1 | PromiseLike<R1>) | null,
          onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
        ): PromiseLike<R1 | R2> {
          return Promise.resolve(42).then(onFulfilled, onRejected);
        },
      });
      for (let i = 0; i < 2; i++) {
        const t = createTask(asyncLike);
        expect(t).toBeInstanceOf(Task);
        expect(await t).toBe(42);
      }
    });
  });

  it("documented difference (API.md AwaitableLike, ensureFuture's doc: a thenable is wrapped, only a function becomes a task): ensureFuture of a thenable that awaits a sleep gives its value through a Future that is not a Task (asyncio wraps an awaitable in a Task) (test_ensure_future_task_awaitable)", async () => {
    await onVirtualLoop(async () => {
      const awaitable: PromiseLike<string> = {
        then(onFulfilled, onRejected) {
          return sleep(0, "ok").then(onFulfilled, onRejected);
        },
      };
      const f = ensureFuture(awaitable);
      expect(f).toBeInstanceOf(Future);
      expect(f).not.toBeInstanceOf(Task);
      expect(await f).toBe("ok");
      expect(f.done()).toBe(true);
      expect(f.result()).toBe("ok");
    });
  });
});

describe("sleep and cancellation", () => {
  it("cancelling a task that yields with sleep(0): it ends cancelled, never returns its value, and cancel() then returns false (test_cancel_yield)", async () => {
    await onVirtualLoop(async () => {
      const steps: string[] = [];
      const t = createTask(async () => {
        steps.push("started");
        await sleep(0);
        steps.push("after first yield");
        await sleep(0);
        steps.push("after second yield");
        return 12;
      });
      await sleep(0); // the task takes its first step and yields
      expect(steps).toEqual(["started"]);
      expect(t.cancel()).toBe(true);
      expect(await rejection(t)).toBeInstanceOf(CancelledError);
      expect(t.done()).toBe(true);
      expect(t.cancelled()).toBe(true);
      expect(t.cancel()).toBe(false);
      expect(steps).toEqual(["started"]);
    });
  });

  it("a task that sleeps NaN ms fails with that error, and no time passes (documented: API.md, NaN throws RangeError at the call; asyncio raises ValueError from the sleep) (test_sleep_when_delay_is_nan)", async () => {
    await onVirtualLoop(async () => {
      const t = createTask(async () => {
        await sleep(Number.NaN);
      });
      const error = await rejection(t);
      expect(error).toBeInstanceOf(RangeError);
      expect(t.cancelled()).toBe(false);
      expect(getRunningLoop().time()).toBe(0);
    });
  });

  it("cancelling a task whose function is a sleep drops the sleep's timer from the loop (test_sleep_cancel)", async () => {
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      const t = createTask(() => sleep(10_000, "yeah"));
      await sleep(0);
      expect(String(loop)).toContain("timers: 1");
      t.cancel();
      await sleep(0);
      expect(String(loop)).toContain("timers: 0");
      expect(t.cancelled()).toBe(true);
      expect(loop.time()).toBe(0);
    });
  });
});

describe("the CancelledError of a cancelled task, read from another task", () => {
  for (const read of ["result", "exception"] as const) {
    for (const started of [true, false]) {
      it(`${read}() of a task cancelled ${started ? "after it started" : "before it started"}, read once it is done, makes the reading task end cancelled with the same message and no cancel request (test_cancel_with_message_then_future_${read}${started ? "" : ", test_cancel_with_message_before_starting_task"})`, async () => {
        await onVirtualLoop(async () => {
          for (const msg of [undefined, "my message"]) {
            const reader = createTask(async () => {
              const t = createTask(() => sleep(10_000));
              if (started) await sleep(0);
              t.cancel(msg);
              await t.catch(() => undefined); // wait until it is done
              t[read]();
              return "not reached";
            });
            const error = await rejection(reader);
            expect(error).toBeInstanceOf(CancelledError);
            expect((error as Error).message).toBe(msg ?? "");
            expect(reader.cancelled()).toBe(true);
            expect(reader.cancelling()).toBe(0);
          }
        });
      });
    }
  }
});

describe("uncancel() in a structured block", () => {
  /**
   * A hand-made deadline around one block of a task (what `timeout()` does): a timer cancels
   * the task; the block's `finally` drops the timer and, if the deadline was the cause and
   * `uncancel()` brings the count back to zero, turns the CancelledError into a TimeoutError
   * that the code around the block handles. The code after the block must run unhindered.
   */
  async function blockWithDeadline(work: number, deadline: number) {
    const me = currentTask()!;
    const loop = me.getLoop();
    const seen = { expired: false, blockFinished: false, afterReached: false };
    const timer = loop.callLater(deadline, () => {
      seen.expired = true;
      me.cancel();
    });
    try {
      let failure: unknown;
      try {
        await sleep(work);
        seen.blockFinished = true;
      } catch (error) {
        failure = error;
        throw error;
      } finally {
        timer.cancel();
        if (seen.expired && me.uncancel() === 0 && failure instanceof CancelledError) {
          // Thrown from finally on purpose: it replaces the CancelledError.
          throw new TimeoutError();
        }
      }
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
      expect(seen.expired).toBe(true);
    }
    seen.afterReached = true;
    await sleep(0);
    return seen;
  }

  it("a block cut by its deadline: the cancel becomes a TimeoutError handled around the block, the code after it runs to the end, and no cancel request is left (test_uncancel_structured_blocks)", async () => {
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      const t = createTask(() => blockWithDeadline(10_000, 100));
      expect(await t).toEqual({ expired: true, blockFinished: false, afterReached: true });
      expect(t.cancelling()).toBe(0);
      expect(t.cancelled()).toBe(false);
      expect(loop.time()).toBe(100);
    });
  });

  it("a block that finishes before its deadline: nothing is cancelled, the timer is gone, and no cancel request is left (test_uncancel_structured_blocks)", async () => {
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      const t = createTask(() => blockWithDeadline(0, 10_000));
      expect(await t).toEqual({ expired: false, blockFinished: true, afterReached: true });
      expect(t.cancelling()).toBe(0);
      expect(String(loop)).toContain("timers: 0");
      expect(loop.time()).toBe(0);
    });
  });
});

describe("context (test_context_*): AsyncLocalStorage in the part of a context variable", () => {
  it("a value the creator sets after createTask does not reach the task, and a value the task sets does not reach the creator (test_context_1)", async () => {
    await onVirtualLoop(async () => {
      const als = new AsyncLocalStorage<string>();
      const log: string[] = [];
      const read = () => als.getStore() ?? "nope";
      log.push(`creator before: ${read()}`);
      const sub = createTask(async () => {
        await sleep(10);
        log.push(`task sees: ${read()}`);
        als.enterWith("something else");
        log.push(`task after setting: ${read()}`);
      });
      als.enterWith("yes");
      log.push(`creator after setting: ${read()}`);
      await sub;
      log.push(`creator after awaiting: ${read()}`);
      expect(log).toEqual([
        "creator before: nope",
        "creator after setting: yes",
        "task sees: nope",
        "task after setting: something else",
        "creator after awaiting: yes",
      ]);
    });
  });

  it("a done callback that sets a value does not change the task's, and the task keeps its own value across awaits of futures settled by loop callbacks and of sleeps (test_context_2)", async () => {
    const als = new AsyncLocalStorage<string>();
    const read = () => als.getStore() ?? "nope";
    const seen: string[] = [];
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      expect(read()).toBe("nope");
      for (let j = 0; j < 2; j++) {
        const fut = new Future<void>();
        fut.addDoneCallback(() => als.enterWith("something else"));
        als.enterWith(`yes${j}`);
        loop.callSoon(() => fut.setResult());
        await fut;
        seen.push(read());
        for (let i = 0; i < 3; i++) {
          als.enterWith(`yes${i}-${j}`);
          await sleep(1);
          seen.push(read());
        }
      }
    });
    expect(seen).toEqual(["yes0", "yes0-0", "yes1-0", "yes2-0", "yes1", "yes0-1", "yes1-1", "yes2-1"]);
    expect(read()).toBe("nope");
  });

  it("a value one done callback sets with enterWith does not reach the next done callback, as in asyncio where each callback runs in its own context copy; documented difference (docs/choices.md, async context): a callback sees the loop's own empty context, not the registering task's (test_context_2)", async () => {
    const als = new AsyncLocalStorage<string>();
    const read = () => als.getStore() ?? "nope";
    const inCallback: string[] = [];
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      for (let j = 0; j < 2; j++) {
        const fut = new Future<void>();
        fut.addDoneCallback(() => {
          inCallback.push(read());
          als.enterWith("something else");
        });
        als.enterWith(`yes${j}`);
        loop.callSoon(() => fut.setResult());
        await fut;
        await sleep(1);
      }
    });
    // asyncio: ["nope", "yes0"], the task's context when it added each callback; never
    // "something else", which the first callback set in a copy of its own.
    expect(inCallback).toEqual(["nope", "nope"]);
  });
});

describe("debug reports for tasks that are collected (debug mode, garbage collector)", () => {
  it("cancel() on a task that failed, though it returns false, counts as looking at its exception: only the task nobody looked at is reported (test_tb_logger_not_called_after_cancel)", async () => {
    const reported: string[] = [];
    await run(
      async () => {
        const loop = getRunningLoop();
        loop.slowCallbackDuration = Infinity; // only the collection reports count
        loop.setExceptionHandler((_loop, context) => {
          const error = context.exception;
          reported.push(error instanceof Error ? error.message : context.message);
        });
        const cancelReturned = await (async () => {
          const silenced = createTask(async () => {
            throw new TypeError("silenced by cancel()");
          });
          createTask(async () => {
            throw new TypeError("control");
          });
          await sleep(50);
          return silenced.cancel();
        })();
        expect(cancelReturned).toBe(false);
        await collectUntil(() => reported.includes("control"));
      },
      { debug: true },
    );
    expect(reported).toEqual(["control"]);
  });

  it("a pending task nobody holds is collected: allTasks() no longer lists it, and the report says it was destroyed while pending (test_log_destroyed_pending_task)", async () => {
    const messages: string[] = [];
    await run(
      async () => {
        const loop = getRunningLoop();
        loop.slowCallbackDuration = Infinity; // only the collection reports count
        loop.setExceptionHandler((_loop, context) => messages.push(context.message));
        const main = currentTask()!;
        const countBefore = (() => {
          const never = new Future<void>();
          createTask(async () => {
            await never;
            throw new Error("never reached");
          });
          return allTasks().size;
        })();
        expect(countBefore).toBe(2);
        await sleep(0); // the task takes its first step and waits on the future
        await collectUntil(() => messages.length > 0);
        expect(allTasks()).toEqual(new Set([main]));
      },
      { debug: true },
    );
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/^Task was destroyed but it is pending/);
  });
});

describe("a cancel asked for while nothing could be interrupted, landing at the next await", () => {
  it("the await it cancels resumes from the loop, after the callbacks queued before it (asyncio cancels the yielded future and wakes from its done callback)", async () => {
    const log: string[] = [];
    await onVirtualLoop(async () => {
      const a = createTask(async () => {
        currentTask()!.cancel("self");
        log.push("a cancelled itself");
        try {
          await sleep(0);
          log.push("a resumed");
        } catch (e) {
          log.push(`a caught ${(e as Error).name} '${(e as Error).message}'`);
        }
      });
      const b = createTask(async () => {
        log.push("b step 1");
      });
      await a;
      await b;
    });
    // CPython 3.13 prints the same three lines in this order.
    expect(log).toEqual(["a cancelled itself", "b step 1", "a caught CancelledError 'self'"]);
  });

  for (const [how, wait] of [
    ["await f", (f: Future<number>) => f],
    ["await Promise.all([f, sleep(10)])", (f: Future<number>) => Promise.all([f, sleep(10)])],
  ] as const) {
    it(`in a later step too, for a pending future (${how}): a callback the task queued before its cancel runs first`, async () => {
      const log: string[] = [];
      await onVirtualLoop(async () => {
        const f = new Future<number>();
        const a = createTask(async () => {
          await sleep(0);
          getRunningLoop().callSoon(() => log.push("callback queued by a"));
          currentTask()!.cancel();
          try {
            await wait(f);
            log.push("a resumed");
          } catch (e) {
            log.push(`a caught ${(e as Error).name}`);
          }
        });
        await a;
        expect(f.cancelled()).toBe(true);
      });
      // asyncio: the task cancels the future it yields and wakes from its done callback,
      // queued behind the callback (CPython 3.13, with `await f`).
      expect(log).toEqual(["callback queued by a", "a caught CancelledError"]);
    });
  }
});

describe("a cancel of a task waiting in sleep(0), asyncio's bare yield", () => {
  it("is thrown where its sleep(0) wake-up stood in the ready queue, before callbacks queued after it (CPython 3.13 order)", async () => {
    const log: string[] = [];
    await onVirtualLoop(async () => {
      const a = createTask(async () => {
        try {
          await sleep(0);
          log.push("A resumed");
        } catch (e) {
          log.push(`A got ${(e as Error).name}`);
        }
      });
      await sleep(0); // A waits in sleep(0) now, its wake-up queued
      getRunningLoop().callSoon(() => log.push("Y: callback queued before the cancel"));
      expect(a.cancel()).toBe(true);
      await sleep(0);
      await sleep(0);
    });
    expect(log).toEqual(["A got CancelledError", "Y: callback queued before the cancel"]);
  });

  /** A task sleeping `delay` ms, cancelled twice ("first", then "second"): what it caught, and its count. */
  async function cancelledTwiceWhileSleeping(delay: number): Promise<{ seen: unknown; cancelling: number }> {
    let seen: unknown;
    let cancelling = 0;
    await onVirtualLoop(async () => {
      const a = createTask(async () => {
        try {
          await sleep(delay);
        } catch (e) {
          seen = e;
        }
      });
      await sleep(0);
      a.cancel("first");
      a.cancel("second");
      await a;
      cancelling = a.cancelling();
    });
    return { seen, cancelling };
  }

  it("carries the latest cancel's message, as asyncio's _must_cancel does (a sleep(0) has no future that keeps the first)", async () => {
    const { seen, cancelling } = await cancelledTwiceWhileSleeping(0);
    expect(cancelling).toBe(2);
    expect(seen).toBeInstanceOf(CancelledError);
    expect((seen as CancelledError).message).toBe("second");
  });

  it("a sleep with a delay still keeps the first message, as asyncio's cancelled future does", async () => {
    const { seen } = await cancelledTwiceWhileSleeping(10);
    expect((seen as CancelledError).message).toBe("first");
  });
});
