/**
 * Cases ported from CPython 3.14's test_asyncio (test_taskgroups.py, test_timeouts.py,
 * test_waitfor.py, and the gather / wait / as_completed / shield tests of test_tasks.py)
 * that the other flow tests do not already cover. Each asserts what asyncio does, unless
 * the package README or docs/ document a different choice (said so in the test).
 */
import { describe, expect, it } from "vitest";
import { CancelledError, ExceptionGroup, InvalidStateError, TimeoutError, isCancelledError } from "@aiots/core";
import { Future, createTask, currentTask, sleep } from "@aiots/future";
import type { Task } from "@aiots/future";
import { getRunningLoop } from "@aiots/loop";
import { FIRST_COMPLETED, asCompleted, gather, shield, taskGroup, timeout, wait, waitFor } from "@aiots/flow";
import type { Timeout, TaskGroup } from "@aiots/flow";
import { runV, now, MyError, caught } from "./helpers.js";


/** The names of an ExceptionGroup's errors, sorted. */
function names(e: unknown): string[] {
  expect(e).toBeInstanceOf(ExceptionGroup);
  return (e as ExceptionGroup).errors.map((x) => (x as Error).name).sort();
}

/** A child that waits long and fails in its cleanup when it is cancelled. */
const failsInCleanup = async (): Promise<void> => {
  try {
    await sleep(10_000);
  } finally {
    // eslint-disable-next-line no-unsafe-finally
    throw new MyError("cleanup");
  }
};

describe("taskGroup (test_taskgroups.py)", () => {
  it("children failing in their cleanup after a cancel from outside make the task end with an ExceptionGroup, not cancelled (test_taskgroup_08)", async () => {
    await runV(async () => {
      const r = createTask(() =>
        taskGroup(async (tg) => {
          for (let i = 0; i < 5; i++) tg.createTask(failsInCleanup);
          await sleep(10_000);
        }),
      );
      await sleep(100);
      expect(r.done()).toBe(false);
      r.cancel();
      const error = await caught(r);
      expect(names(error)).toEqual(["MyError", "MyError", "MyError", "MyError", "MyError"]);
      expect(r.cancelled()).toBe(false);
      expect(r.exception()).toBe(error);
    });
  });

  it("nested groups cancelled from outside with children failing in cleanup give a nested ExceptionGroup (test_taskgroup_11)", async () => {
    await runV(async () => {
      const r = createTask(() =>
        taskGroup(async () => {
          await taskGroup(async (g2) => {
            for (let i = 0; i < 5; i++) g2.createTask(failsInCleanup);
            await sleep(10_000);
          });
        }),
      );
      await sleep(100);
      r.cancel();
      const error = await caught(r);
      expect(names(error)).toEqual(["ExceptionGroup"]);
      expect(names((error as ExceptionGroup).errors[0])).toHaveLength(5);
      expect(r.cancelled()).toBe(false);
    });
  });

  it("the same with a sibling in the outer group: the sibling is cancelled, not counted (test_taskgroup_12)", async () => {
    await runV(async () => {
      let sibling: Task<void> | undefined;
      const r = createTask(() =>
        taskGroup(async (g1) => {
          sibling = g1.createTask(() => sleep(10_000));
          await taskGroup(async (g2) => {
            for (let i = 0; i < 5; i++) g2.createTask(failsInCleanup);
            await sleep(10_000);
          });
        }),
      );
      await sleep(100);
      r.cancel();
      const error = await caught(r);
      expect(names(error)).toEqual(["ExceptionGroup"]);
      expect(names((error as ExceptionGroup).errors[0])).toEqual(["MyError", "MyError", "MyError", "MyError", "MyError"]);
      expect(sibling!.cancelled()).toBe(true);
    });
  });

  it("a child failing while the body handles a cancel from outside, in a task awaited by another task: the ExceptionGroup reaches the outer task (test_taskgroup_16)", async () => {
    await runV(async () => {
      const nestedRunner = () =>
        taskGroup(async (g1) => {
          g1.createTask(async () => {
            await sleep(300);
            throw new MyError("soon");
          });
          try {
            await sleep(10_000);
          } catch (e) {
            if (isCancelledError(e)) await sleep(500);
            throw e;
          }
        });
      const r = createTask(async () => {
        const t = createTask(nestedRunner);
        await t;
      });
      await sleep(100);
      expect(r.done()).toBe(false);
      r.cancel();
      const error = await caught(r);
      expect(names(error)).toEqual(["MyError"]);
      expect(now()).toBe(300);
    });
  });

  it("children creating children while another fails: only that failure comes out (test_taskgroup_25)", async () => {
    await runV(async () => {
      let heads = 0;
      const hydra = async (g: TaskGroup): Promise<void> => {
        heads++;
        await sleep(10);
        g.createTask(() => hydra(g));
        g.createTask(() => hydra(g));
      };
      const hercules = async (): Promise<void> => {
        while (heads < 10) await sleep(15);
        throw new MyError("hercules");
      };
      const error = await caught(
        taskGroup((g) => {
          g.createTask(() => hydra(g));
          g.createTask(hercules);
        }),
      );
      expect(names(error)).toEqual(["MyError"]);
      expect(heads).toBeGreaterThanOrEqual(10);
    });
  });

  it("an error thrown by the body's cleanup after a child failed joins it, and the task is not left cancelled (gh-95289)", async () => {
    await runV(async () => {
      const main = createTask(async () => {
        const task = currentTask()!;
        const error = await caught(
          taskGroup(async (tg) => {
            try {
              tg.createTask(async () => {
                throw new MyError("child");
              });
              await sleep(1000);
            } finally {
              // eslint-disable-next-line no-unsafe-finally
              throw new MyError("cleanup");
            }
          }),
        );
        expect(names(error)).toEqual(["MyError", "MyError"]);
        expect(task.cancelling()).toBe(0);
        await sleep(5);
        return now();
      });
      expect(await main).toBe(5);
    });
  });

  it("a body that swallows the group's own cancel and returns still gives the ExceptionGroup, and the task is not left cancelled", async () => {
    await runV(async () => {
      let reachedEnd = false;
      const error = await caught(
        taskGroup(async (tg) => {
          tg.createTask(async () => {
            await sleep(10);
            throw new MyError();
          });
          try {
            await sleep(1000);
          } catch (e) {
            if (!isCancelledError(e)) throw e;
          }
          reachedEnd = true;
          return "value";
        }),
      );
      expect(names(error)).toEqual(["MyError"]);
      expect(reachedEnd).toBe(true);
      expect(now()).toBe(10);
      expect(currentTask()!.cancelling()).toBe(0);
      await sleep(5);
      expect(now()).toBe(15);
    });
  });

  it("a cancel from outside is not taken back by the group: the task still counts it", async () => {
    await runV(async () => {
      const r = createTask(async () => {
        try {
          await taskGroup(async (tg) => {
            tg.createTask(() => sleep(1000));
            await sleep(1000);
          });
          return { error: undefined as unknown, count: -1 };
        } catch (error) {
          return { error, count: currentTask()!.cancelling() };
        }
      });
      await sleep(10);
      r.cancel();
      const { error, count } = await r;
      expect(error).toBeInstanceOf(CancelledError);
      expect(count).toBe(1);
    });
  });

  it("a second cancel from outside while the children clean up does not cancel them again, and one CancelledError comes out when all are done", async () => {
    await runV(async () => {
      let cancelsSeen = 0;
      let cleanupsInterrupted = 0;
      const r = createTask(() =>
        taskGroup((tg) => {
          for (let i = 0; i < 2; i++) {
            tg.createTask(async () => {
              try {
                await sleep(10_000);
              } catch (e) {
                cancelsSeen++;
                try {
                  await sleep(50);
                } catch {
                  cleanupsInterrupted++;
                }
                throw e;
              }
            });
          }
        }),
      );
      await sleep(10);
      r.cancel();
      await sleep(20);
      r.cancel();
      const error = await caught(r);
      expect(error).toBeInstanceOf(CancelledError);
      expect(r.cancelled()).toBe(true);
      expect(now()).toBe(60);
      expect(cancelsSeen).toBe(2);
      expect(cleanupsInterrupted).toBe(0);
      expect(r.cancelling()).toBe(2);
    });
  });

  it("a child that swallows the cancel from outside does not stop the CancelledError", async () => {
    await runV(async () => {
      let child: Task<string> | undefined;
      const r = createTask(() =>
        taskGroup(async (tg) => {
          child = tg.createTask(async () => {
            try {
              await sleep(1000);
              return "slept";
            } catch {
              return "kept";
            }
          });
          await sleep(1000);
        }),
      );
      await sleep(10);
      r.cancel();
      expect(await caught(r)).toBeInstanceOf(CancelledError);
      expect(child!.result()).toBe("kept");
    });
  });
});

describe("timeout (test_timeouts.py)", () => {
  it("reschedule while the scope is expiring or after it expired is refused (test_timeout_expiring, test_timeout_expired)", async () => {
    await runV(async () => {
      let scope: Timeout | undefined;
      let sawCancel = false;
      await timeout(10, async (s) => {
        scope = s;
        try {
          await sleep(1000);
        } catch (e) {
          sawCancel = isCancelledError(e);
        }
        expect(() => s.reschedule(now() + 20)).toThrow(InvalidStateError);
        expect(() => s.reschedule(now() + 20)).toThrow("Cannot reschedule an expiring Timeout");
      });
      expect(sawCancel).toBe(true);
      expect(scope!.expired()).toBe(true);
      expect(() => scope!.reschedule(now() + 20)).toThrow(/expired/);
      expect(currentTask()!.cancelling()).toBe(0);
    });
  });

  it("a cancel from outside that interrupts the cleanup of an expired scope stays a CancelledError", async () => {
    await runV(async () => {
      let scope: Timeout | undefined;
      const r = createTask(() =>
        timeout(10, async (s) => {
          scope = s;
          try {
            await sleep(1000);
          } finally {
            await sleep(100);
          }
        }),
      );
      await sleep(50);
      r.cancel();
      expect(await caught(r)).toBeInstanceOf(CancelledError);
      expect(r.cancelled()).toBe(true);
      expect(scope!.expired()).toBe(true);
      expect(now()).toBe(50);
    });
  });

  it("a cancel from outside just before the deadline in the same step stays a CancelledError, though the scope expired", async () => {
    await runV(async () => {
      let scope: Timeout | undefined;
      const loop = getRunningLoop();
      let r: Task<void> | undefined = undefined;
      loop.callLater(10, () => r!.cancel());
      r = createTask(() =>
        timeout(10, async (s) => {
          scope = s;
          await sleep(1000);
        }),
      );
      expect(await caught(r)).toBeInstanceOf(CancelledError);
      expect(scope!.expired()).toBe(true);
    });
  });

  it("a result that arrives in the same step as the deadline, before it, still times out", async () => {
    await runV(async () => {
      const loop = getRunningLoop();
      const fut = new Future<string>(loop);
      loop.callLater(10, () => fut.setResult("late"));
      const error = await caught(timeout(10, () => fut));
      expect(error).toBeInstanceOf(TimeoutError);
      expect(fut.result()).toBe("late");
      expect(currentTask()!.cancelling()).toBe(0);
    });
  });

  it("a body failing, then cancelled in its cleanup, inside a group whose child fails in cleanup gives the group's ExceptionGroup (test_timeout_taskgroup)", async () => {
    await runV(async () => {
      const error = await caught(
        timeout(10, () =>
          taskGroup(async (tg) => {
            tg.createTask(failsInCleanup);
            try {
              throw new RangeError("body");
            } finally {
              await sleep(1000);
            }
          }),
        ),
      );
      expect(names(error)).toEqual(["MyError"]);
      expect(currentTask()!.cancelling()).toBe(0);
      await sleep(5);
      expect(now()).toBe(15);
    });
  });

  it("expiry while the body awaits a gather with returnExceptions cancels the children and times out", async () => {
    await runV(async () => {
      const a = createTask(() => sleep(1000));
      const b = createTask(() => sleep(1000));
      const error = await caught(timeout(10, () => gather([a, b], { returnExceptions: true })));
      expect(error).toBeInstanceOf(TimeoutError);
      expect(a.cancelled()).toBe(true);
      expect(b.cancelled()).toBe(true);
      expect(now()).toBe(10);
    });
  });

  it("expiry while the body awaits a waitFor with a later deadline is the scope's TimeoutError, and the inner task is cancelled", async () => {
    await runV(async () => {
      let cleanedAt = -1;
      const inner = createTask(async () => {
        try {
          await sleep(5000);
        } finally {
          cleanedAt = now();
        }
      });
      const error = await caught(timeout(10, () => waitFor(inner, 1000)));
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as Error).message).not.toMatch(/waitFor/);
      expect(inner.cancelled()).toBe(true);
      expect(cleanedAt).toBe(10);
    });
  });

  it("expiry while the body awaits a shielded task leaves the task running", async () => {
    await runV(async () => {
      const t = createTask(async () => {
        await sleep(50);
        return "done";
      });
      expect(await caught(timeout(10, () => shield(t)))).toBeInstanceOf(TimeoutError);
      expect(t.done()).toBe(false);
      expect(await t).toBe("done");
      expect(now()).toBe(50);
    });
  });
});

describe("waitFor (test_waitfor.py)", () => {
  it("timeout 0 with a task that swallows the cancellation gives its value", async () => {
    await runV(async () => {
      const t = createTask(async () => {
        try {
          await sleep(1000);
          return "normal";
        } catch {
          return "swallowed";
        }
      });
      await sleep(0);
      expect(await waitFor(t, 0)).toBe("swallowed");
      expect(now()).toBe(0);
    });
  });

  it("timeout <= 0 with a Future that is already done gives its outcome as it is: its error, or CancelledError (not TimeoutError)", async () => {
    await runV(async () => {
      const failed = new Future<number>();
      failed.setException(new MyError("done"));
      expect(await caught(waitFor(failed, -1))).toBeInstanceOf(MyError);
      const cancelled = new Future<number>();
      cancelled.cancel();
      const error = await caught(waitFor(cancelled, 0));
      expect(error).toBeInstanceOf(CancelledError);
      expect(error).not.toBeInstanceOf(TimeoutError);
    });
  });

  it("documented difference: a result set in the same step as the deadline, before it, is returned (asyncio 3.12+ raises TimeoutError)", async () => {
    // asyncio builds wait_for on timeout(), whose cancel lands after the result arrived; the
    // README chooses to keep the result ("A result that arrives at the deadline ... is returned").
    await runV(async () => {
      const loop = getRunningLoop();
      const fut = new Future<string>(loop);
      loop.callLater(10, () => fut.setResult("late"));
      expect(await waitFor(fut, 10)).toBe("late");
      expect(now()).toBe(10);
    });
  });

  it("a pending Future is cancelled at the deadline", async () => {
    await runV(async () => {
      const fut = new Future<number>(getRunningLoop());
      expect(await caught(waitFor(fut, 10))).toBeInstanceOf(TimeoutError);
      expect(fut.cancelled()).toBe(true);
      expect(now()).toBe(10);
    });
  });

  it("a cancel of the caller in the same step as the result, after it, wins (asyncio 3.12+)", async () => {
    await runV(async () => {
      const loop = getRunningLoop();
      const fut = new Future<string>(loop);
      const task = createTask(() => waitFor(fut, 1000));
      loop.callLater(100, () => fut.setResult("ok"));
      loop.callLater(100, () => task.cancel());
      expect(await caught(task)).toBeInstanceOf(CancelledError);
      expect(task.cancelled()).toBe(true);
      expect(fut.result()).toBe("ok");
    });
  });

  it("a caller cancelled while aw runs gets aw's value if aw swallows the cancellation, as a plain await does (asyncio 3.12+)", async () => {
    // asyncio 3.12+: wait_for is `async with timeout(t): return await fut`; the caller's cancel
    // goes on to fut, and a value fut returns comes back from the await.
    await runV(async () => {
      const inner = createTask(async () => {
        try {
          await sleep(1000);
          return 1;
        } catch {
          return 42;
        }
      });
      const caller = createTask(() => waitFor(inner, 500));
      await sleep(10);
      caller.cancel();
      const outcome = await caller.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
      expect(outcome).toEqual({ value: 42 });
      expect(caller.cancelled()).toBe(false);
      expect(caller.cancelling()).toBe(1);
    });
  });

  it("a caller cancelled while aw runs gets aw's error if aw fails while being cancelled, with or without a deadline", async () => {
    for (const ms of [null, 500]) {
      await runV(async () => {
        const inner = createTask(async () => {
          try {
            await sleep(1000);
          } catch {
            throw new MyError("while cancelling");
          }
        });
        const caller = createTask(() => waitFor(inner, ms));
        await sleep(10);
        caller.cancel();
        const error = await caught(caller);
        expect({ ms, error: (error as Error).name }).toEqual({ ms, error: "MyError" });
        expect(caller.cancelled()).toBe(false);
      });
    }
  });

  it("timeout 0 on a shield cancels only the shield; the task runs on (WaitForShieldTests.test_zero_timeout)", async () => {
    await runV(async () => {
      const task = createTask(async () => {
        await sleep(10);
        return "done";
      });
      const shielded = shield(task);
      expect(await caught(waitFor(shielded, 0))).toBeInstanceOf(TimeoutError);
      expect(shielded.cancelled()).toBe(true);
      expect(task.done()).toBe(false);
      await sleep(100);
      expect(task.result()).toBe("done");
    });
  });
});

describe("gather (test_tasks.py)", () => {
  it("cancelling a gather of a gather reaches the inner gather's children", async () => {
    await runV(async () => {
      const a = createTask(() => sleep(1000));
      const b = createTask(() => sleep(1000));
      const c = createTask(() => sleep(1000));
      const inner = gather([a, b]);
      const outer = gather([inner, c]);
      await sleep(0);
      expect(outer.cancel()).toBe(true);
      expect(await caught(outer)).toBeInstanceOf(CancelledError);
      expect([a.cancelled(), b.cancelled(), c.cancelled()]).toEqual([true, true, true]);
    });
  });

  it("a child cancelled on its own with a message rejects the gather with that message; with returnExceptions the slot holds it", async () => {
    await runV(async () => {
      const a = new Future<number>(getRunningLoop());
      const b = new Future<number>(getRunningLoop());
      const g = gather([a, b]);
      a.cancel("bye");
      const error = await caught(g);
      expect(error).toBeInstanceOf(CancelledError);
      expect((error as Error).message).toBe("bye");
      expect(g.cancelled()).toBe(false);

      const c = new Future<number>(getRunningLoop());
      const d = new Future<number>(getRunningLoop());
      const settled = gather([c, d], { returnExceptions: true });
      c.cancel("later");
      d.setResult(4);
      const results = await settled;
      expect(results[0]).toBeInstanceOf(CancelledError);
      expect((results[0] as Error).message).toBe("later");
      expect(results[1]).toBe(4);
    });
  });

  it("the same failing function given twice fills both slots with the one error", async () => {
    await runV(async () => {
      let runs = 0;
      const f = async () => {
        runs++;
        throw new MyError();
      };
      const results = await gather([f, f], { returnExceptions: true });
      expect(runs).toBe(1);
      expect(results[0]).toBeInstanceOf(MyError);
      expect(results[1]).toBe(results[0]);
    });
  });
});

describe("wait (test_tasks.py)", () => {
  it("a child finishing at the same moment as the timeout counts as done (test_wait_concurrent_complete)", async () => {
    // asyncio builds the sets after the waiting task resumes, so a child that completed in the
    // meantime is in done.
    await runV(async () => {
      const a = createTask(() => sleep(100));
      const b = createTask(() => sleep(150));
      await sleep(0); // both children are asleep before wait's timer is set, as in CPython's test
      const { done, pending } = await wait([b, a], { timeout: 100 });
      expect(now()).toBe(100);
      expect({ aDone: done.has(a), bPending: pending.has(b) }).toEqual({ aDone: true, bPending: true });
    });
  });

  it("the sets say what is done when the caller resumes: nothing in pending is done (test_wait_really_done)", async () => {
    await runV(async () => {
      const loop = getRunningLoop();
      const a = new Future<number>(loop);
      const b = new Future<number>(loop);
      loop.callSoon(() => {
        a.setResult(1);
        loop.callSoon(() => b.setResult(2));
      });
      const { done, pending } = await wait([a, b], { returnWhen: FIRST_COMPLETED });
      expect([...pending].filter((f) => f.done())).toHaveLength(0);
      expect({ a: done.has(a), b: done.has(b) }).toEqual({ a: true, b: true });
    });
  });

  it("timeout 0 reports the children already done without waiting", async () => {
    await runV(async () => {
      const ready = new Future<void>(getRunningLoop());
      ready.setResult(undefined);
      const later = createTask(() => sleep(100));
      const { done, pending } = await wait([ready, later], { timeout: 0 });
      expect(done).toEqual(new Set([ready]));
      expect(pending).toEqual(new Set([later]));
      expect(now()).toBe(0);
      expect(later.cancelled()).toBe(false);
    });
  });
});

describe("asCompleted and shield (test_tasks.py)", () => {
  it("a cancelled child makes its item throw CancelledError without cancelling the task that awaits it", async () => {
    await runV(async () => {
      const loop = getRunningLoop();
      const a = new Future<number>(loop);
      const b = new Future<number>(loop);
      a.cancel();
      loop.callLater(10, () => b.setResult(2));
      const seen: unknown[] = [];
      for (const next of asCompleted([a, b])) {
        try {
          seen.push(await next);
        } catch (e) {
          seen.push(e);
        }
      }
      expect(seen[0]).toBeInstanceOf(CancelledError);
      expect(seen[1]).toBe(2);
      expect(currentTask()!.cancelling()).toBe(0);
      await sleep(1);
      expect(now()).toBe(11);
    });
  });

  it("an inner failing after the outer was cancelled leaves the outer cancelled (test_shield_cancel_outer_exception)", async () => {
    await runV(async () => {
      const inner = new Future<number>(getRunningLoop());
      const outer = shield(inner);
      await sleep(0);
      outer.cancel();
      await sleep(0);
      inner.setException(new MyError());
      await sleep(0);
      expect(outer.cancelled()).toBe(true);
      expect(inner.exception()).toBeInstanceOf(MyError);
    });
  });
});
