/**
 * Ports of CPython 3.13 test_asyncio cases (test_taskgroups.py, test_timeouts.py,
 * test_waitfor.py) that no other flow test names. Each asserts what asyncio 3.13 does, with
 * the API's shape (a body function instead of `async with`); where a README or docs/ page
 * documents a different choice, the test name says so.
 */
import { describe, expect, it } from "vitest";
import { CancelledError, ExceptionGroup, InvalidStateError, TimeoutError, isCancelledError } from "@aiots/core";
import { createTask, currentTask, sleep } from "@aiots/future";
import type { Task } from "@aiots/future";
import { getRunningLoop } from "@aiots/loop";
import { TaskGroup, Timeout, taskGroup, timeout, waitFor } from "@aiots/flow";
import { runV, now, MyError, caught } from "./helpers.js";

class RuntimeErr extends Error {
  override name = "RuntimeErr";
}
class ValueErr extends Error {
  override name = "ValueErr";
}
class KeyErr extends Error {
  override name = "KeyErr";
}
class ZeroDivErr extends Error {
  override name = "ZeroDivErr";
}

/** The errors of an ExceptionGroup (fails the test if `e` is not one). */
function errorsOf(e: unknown): unknown[] {
  expect(e).toBeInstanceOf(ExceptionGroup);
  return [...(e as ExceptionGroup).errors];
}

/** The set of error classes in an ExceptionGroup (CPython's get_error_types). */
function errorTypes(e: unknown): Set<unknown> {
  return new Set(errorsOf(e).map((x) => (x as object).constructor));
}

/**
 * Runs `fn` as plain async code (no current task) started by a callback of the running
 * virtual-time loop, so that it finds that loop; resolves to what `fn` resolves to.
 */
function outsideTask<T>(fn: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    getRunningLoop().callSoon(() => {
      fn().then(resolve, reject);
    });
  });
}

/** Sleeps `ms`, then throws `make()` (CPython's raise_after / crash_after). */
const raiseAfter = (ms: number, make: () => Error) => async (): Promise<never> => {
  await sleep(ms);
  throw make();
};

describe("TaskGroup (test_taskgroups.py)", () => {
  it("a group that failed leaves the task's cancelling() at 0 (test_cancelling_level_preserved)", async () => {
    await runV(async () => {
      const error = await caught(
        taskGroup((tg) => {
          tg.createTask(raiseAfter(0, () => new RuntimeErr()));
        }),
      );
      expect(errorTypes(error)).toEqual(new Set([RuntimeErr]));
      expect(currentTask()!.cancelling()).toBe(0);
    });
  });

  it("a cancel from outside while a child fails: the ExceptionGroup wins, the cancel stays pending and ends the task at its next await (test_error_and_cancel)", async () => {
    await runV(async () => {
      const event = getRunningLoop().createFuture<boolean>();
      const raiseError = async (): Promise<never> => {
        event.setResult(true);
        await sleep(0);
        throw new RuntimeErr();
      };
      const steps: string[] = [];
      const inner = async (): Promise<void> => {
        try {
          await taskGroup(async (tg) => {
            tg.createTask(raiseError);
            await sleep(1000);
            steps.push("sleep in group was not cancelled");
          });
          steps.push("group did not throw");
        } catch (e) {
          expect(errorTypes(e)).toEqual(new Set([RuntimeErr]));
          steps.push(`caught group, cancelling ${currentTask()!.cancelling()}`);
        }
        steps.push(`after group, cancelling ${currentTask()!.cancelling()}`);
        await sleep(1000);
        steps.push("sleep after group was not cancelled");
      };
      const t = createTask(inner);
      await event;
      expect(t.cancelling()).toBe(0);
      t.cancel();
      expect(t.cancelling()).toBe(1);
      expect(await caught(t)).toBeInstanceOf(CancelledError);
      expect(t.cancelled()).toBe(true);
      expect(steps).toEqual(["caught group, cancelling 1", "after group, cancelling 1"]);
      expect(now()).toBe(0);
    });
  });

  it("nested groups both aborted by their own child's failure: each throws its own errors, and the counts come back (test_nested_groups_both_cancelled)", async () => {
    await runV(async () => {
      const seen: string[] = [];
      const error = await caught(
        taskGroup(async (outerTg) => {
          try {
            await taskGroup((innerTg) => {
              innerTg.createTask(raiseAfter(0, () => new RuntimeErr()));
              outerTg.createTask(raiseAfter(0, () => new ValueErr()));
            });
            seen.push("inner group did not throw");
          } catch (e) {
            expect(errorTypes(e)).toEqual(new Set([RuntimeErr]));
            seen.push("inner RuntimeErr");
          }
          seen.push(`cancelling ${currentTask()!.cancelling()}`);
        }),
      );
      expect(errorTypes(error)).toEqual(new Set([ValueErr]));
      expect(seen).toEqual(["inner RuntimeErr", "cancelling 1"]);
      expect(currentTask()!.cancelling()).toBe(0);
    });
  });

  it("an outer child's failure cancels the nested group, which ends cancelled: only the outer error comes out (test_taskgroup_13)", async () => {
    await runV(async () => {
      const r = createTask(() =>
        taskGroup(async (g1) => {
          g1.createTask(raiseAfter(100, () => new ValueErr("100")));
          await taskGroup((g2) => {
            g2.createTask(raiseAfter(10_000, () => new ValueErr("10000")));
          });
        }),
      );
      const error = await caught(r);
      const errors = errorsOf(error);
      expect(errorTypes(error)).toEqual(new Set([ValueErr]));
      expect(errors.map((e) => (e as Error).message)).toEqual(["100"]);
      expect(now()).toBe(100);
    });
  });

  it("a nested group's child failure comes out as an ExceptionGroup inside the outer one, and cancels the outer child (test_taskgroup_14)", async () => {
    await runV(async () => {
      let outerChild: Task<never> | undefined;
      const r = createTask(() =>
        taskGroup(async (g1) => {
          outerChild = g1.createTask(raiseAfter(10_000, () => new ValueErr("10000")));
          await taskGroup((g2) => {
            g2.createTask(raiseAfter(100, () => new ValueErr("100")));
          });
        }),
      );
      const error = await caught(r);
      expect(errorTypes(error)).toEqual(new Set([ExceptionGroup]));
      const nested = errorsOf(error)[0];
      expect(errorTypes(nested)).toEqual(new Set([ValueErr]));
      expect((errorsOf(nested)[0] as Error).message).toBe("100");
      expect(outerChild!.cancelled()).toBe(true);
      expect(now()).toBe(100);
    });
  });

  it("a body that turns the outside cancel into its own error: that error comes out in an ExceptionGroup (test_taskgroup_18)", async () => {
    await runV(async () => {
      let num = 0;
      const r = createTask(() =>
        taskGroup(async () => {
          try {
            await sleep(10_000);
          } catch (e) {
            if (isCancelledError(e)) {
              num += 10;
              throw new MyError();
            }
            throw e;
          }
        }),
      );
      await sleep(100);
      expect(r.done()).toBe(false);
      r.cancel();
      const error = await caught(r);
      expect(errorTypes(error)).toEqual(new Set([MyError]));
      expect(num).toBe(10);
    });
  });

  it("a body whose finally throws while a child's failure cancels it: both errors come out (test_taskgroup_19)", async () => {
    await runV(async () => {
      const nested = async (): Promise<void> => {
        try {
          await sleep(10_000);
        } finally {
          // eslint-disable-next-line no-unsafe-finally
          throw new MyError();
        }
      };
      const r = createTask(() =>
        taskGroup(async (g) => {
          g.createTask(raiseAfter(100, () => new ZeroDivErr()));
          await nested();
        }),
      );
      const error = await caught(r);
      expect(errorTypes(error)).toEqual(new Set([MyError, ZeroDivErr]));
      expect(now()).toBe(100);
    });
  });

  it("children added one by one leave the group as they finish (test_taskgroup_23)", async () => {
    await runV(async () => {
      let sizeAt5 = -1;
      await taskGroup(async (g) => {
        for (let count = 0; count < 10; count++) {
          await sleep(100);
          g.createTask(() => sleep(300));
          if (count === 5) sizeAt5 = g.size;
        }
        await sleep(1350);
        expect(g.size).toBe(0);
      });
      expect(sizeAt5).toBeGreaterThan(0);
      expect(sizeAt5).toBeLessThan(5);
      expect(now()).toBe(2350);
    });
  });

  it("a child may start more children while the group waits for them after its body (test_taskgroup_24)", async () => {
    await runV(async () => {
      const grandchildren: Task<void>[] = [];
      const states: string[] = [];
      await taskGroup((g) => {
        g.createTask(async () => {
          await sleep(100);
          states.push(g.state);
          grandchildren.push(g.createTask(() => sleep(100)));
          grandchildren.push(g.createTask(() => sleep(200)));
        });
      });
      expect(states).toEqual(["exiting"]);
      expect(grandchildren).toHaveLength(2);
      expect(grandchildren.every((t) => t.done() && !t.cancelled())).toBe(true);
      expect(now()).toBe(300);
    });
  });

  it("running a group again from its own body is refused as already entered (test_taskgroup_already_entered)", async () => {
    await runV(async () => {
      const tg = new TaskGroup();
      let innerRan = false;
      let refusal: unknown;
      await tg.run(() => {
        try {
          void tg.run(() => {
            innerRan = true;
          });
        } catch (e) {
          refusal = e;
        }
      });
      expect(refusal).toBeInstanceOf(InvalidStateError);
      expect((refusal as Error).message).toMatch(/has already been entered/);
      expect(innerRan).toBe(false);
    });
  });

  it("a cleanup in the body that throws while a child's failure cancels it: both errors come out and cancelling() is 0 (test_taskgroup_context_manager_exit_raises)", async () => {
    class CustomErr extends Error {
      override name = "CustomErr";
    }
    await runV(async () => {
      await createTask(async () => {
        const task = currentTask()!;
        const error = await caught(
          taskGroup(async (tg) => {
            try {
              tg.createTask(async () => {
                throw new CustomErr("child");
              });
              await sleep(1000);
            } finally {
              // eslint-disable-next-line no-unsafe-finally
              throw new CustomErr("cleanup");
            }
          }),
        );
        expect(task.cancelling()).toBe(0);
        const errors = errorsOf(error);
        expect(errors).toHaveLength(2);
        expect(errors.every((e) => e instanceof CustomErr)).toBe(true);
        expect(new Set(errors.map((e) => (e as Error).message))).toEqual(new Set(["child", "cleanup"]));
        expect(now()).toBe(0);
      });
    });
  });

  it("a child cancelled by a sibling's failure cannot start another child (test_taskgroup_no_create_task_after_failure)", async () => {
    await runV(async () => {
      const coro1 = async (): Promise<never> => {
        await sleep(1);
        throw new ZeroDivErr();
      };
      let refusal: unknown;
      let lateStarted = false;
      const error = await caught(
        taskGroup((g) => {
          g.createTask(coro1);
          g.createTask(async () => {
            try {
              await sleep(1000);
            } catch (e) {
              if (!isCancelledError(e)) throw e;
              try {
                g.createTask(() => {
                  lateStarted = true;
                });
              } catch (e2) {
                refusal = e2;
              }
            }
          });
        }),
      );
      expect(errorTypes(error)).toEqual(new Set([ZeroDivErr]));
      expect(refusal).toBeInstanceOf(InvalidStateError);
      await sleep(10);
      expect(lateStarted).toBe(false);
    });
  });

  it("createTask on a group that was never entered throws and starts nothing (test_taskgroup_not_entered)", async () => {
    await runV(async () => {
      const tg = new TaskGroup();
      let started = false;
      expect(() =>
        tg.createTask(() => {
          started = true;
        }),
      ).toThrow(/has not been entered/);
      expect(() => tg.createTask(() => sleep(0))).toThrow(InvalidStateError);
      await sleep(0);
      expect(started).toBe(false);
      expect(tg.size).toBe(0);
    });
  });

  it("aiots differs by design: outside any task the group's body gets a task of its own instead of failing for want of a parent task; a group never entered still refuses createTask (test_taskgroup_without_parent_task)", async () => {
    await runV(async () => {
      const seen = await outsideTask(async () => {
        const caller = currentTask();
        const { bodyTask } = await taskGroup(async (tg) => {
          await tg.createTask(() => sleep(50));
          return { bodyTask: currentTask() };
        });
        expect(() => new TaskGroup().createTask(() => sleep(0))).toThrow(/has not been entered/);
        return { caller, bodyTask, at: now() };
      });
      expect(seen.caller).toBeUndefined();
      expect(seen.bodyTask).toBeDefined();
      expect(seen.bodyTask!.done()).toBe(true);
      expect(seen.at).toBe(50);
    });
  });
});

describe("timeout (test_timeouts.py)", () => {
  it("an error thrown by a cleanup while the expiry unwinds the body comes out as it is, not as TimeoutError (test_foreign_exception_on_timeout_2)", async () => {
    await runV(async () => {
      let scope: Timeout | undefined;
      let cleanupSaw: unknown;
      const error = await caught(
        timeout(10, async (s) => {
          scope = s;
          try {
            try {
              throw new ValueErr();
            } finally {
              await sleep(1000);
            }
          } catch (e) {
            cleanupSaw = e;
            throw e;
          } finally {
            try {
              // eslint-disable-next-line no-unsafe-finally
              throw new KeyErr();
            } finally {
              // eslint-disable-next-line no-unsafe-finally
              throw new ZeroDivErr();
            }
          }
        }),
      );
      expect(error).toBeInstanceOf(ZeroDivErr);
      expect((error as Error).cause).toBeUndefined();
      // The await in the first cleanup was interrupted by the expiry's CancelledError.
      expect(cleanupSaw).toBeInstanceOf(CancelledError);
      expect(scope!.expired()).toBe(true);
      expect(scope!.state).toBe("expired");
      expect(currentTask()!.cancelling()).toBe(0);
      expect(now()).toBe(10);
    });
  });

  it("a scope with no deadline shows it is active with none (test_repr_disabled)", async () => {
    await runV(async () => {
      let shown = "";
      await timeout(null, (s) => {
        shown = String(s);
      });
      expect(shown).toBe("Timeout [active, when: none]");
    });
  });

  it("a scope that expired shows it (test_repr_expired)", async () => {
    await runV(async () => {
      let scope: Timeout | undefined;
      const error = await caught(
        timeout(10, async (s) => {
          scope = s;
          await sleep(10_000);
        }),
      );
      expect(error).toBeInstanceOf(TimeoutError);
      expect(String(scope)).toBe("Timeout [expired]");
    });
  });

  it("a scope whose body ended in time shows it finished (test_repr_finished)", async () => {
    await runV(async () => {
      let scope: Timeout | undefined;
      await timeout(10_000, async (s) => {
        scope = s;
        await sleep(0);
      });
      expect(String(scope)).toBe("Timeout [finished]");
    });
  });

  it("reschedule of a scope that was never entered throws (test_timeout_not_entered)", async () => {
    await runV(async () => {
      const scope = new Timeout(now() + 10);
      expect(() => scope.reschedule(now() + 20)).toThrow(/has not been entered/);
      expect(() => scope.reschedule(now() + 20)).toThrow(InvalidStateError);
      expect(scope.state).toBe("created");
    });
  });

  it("aiots differs by design: outside any task the body runs in a task of its own, so the deadline still interrupts it, instead of failing for want of a task (test_timeout_without_task)", async () => {
    await runV(async () => {
      const seen = await outsideTask(async () => {
        const caller = currentTask();
        let bodyTask: Task<unknown> | undefined;
        const error = await caught(
          timeout(10, async () => {
            bodyTask = currentTask();
            await sleep(10_000);
          }),
        );
        return { caller, bodyTask, error, at: now() };
      });
      expect(seen.caller).toBeUndefined();
      expect(seen.bodyTask).toBeDefined();
      expect(seen.error).toBeInstanceOf(TimeoutError);
      expect(seen.at).toBe(10);
    });
  });
});

describe("waitFor (test_waitfor.py)", () => {
  it("work that ignores the cancel runs to its end before waitFor returns (test_asyncio_wait_for_timeout)", async () => {
    await runV(async () => {
      const TASK_TIMEOUT = 200;
      let exited = false;
      let cancelsIgnored = 0;
      const run = async (): Promise<void> => {
        const exitAt = now() + TASK_TIMEOUT;
        for (;;) {
          const toSleep = exitAt - now();
          if (toSleep <= 0) break;
          try {
            await sleep(toSleep);
          } catch (e) {
            if (!isCancelledError(e)) throw e;
            cancelsIgnored++;
          }
        }
        exited = true;
      };
      // asyncio 3.12+: the work swallowed the cancel and returned, so its value comes back.
      const value = await waitFor(run, TASK_TIMEOUT / 2);
      expect(value).toBeUndefined();
      expect(exited).toBe(true);
      expect(cancelsIgnored).toBe(1);
      expect(now()).toBe(TASK_TIMEOUT);
    });
  });

  it("cancelling a waitFor with no timeout cancels the task it waits for (test_cancel_blocking_wait_for)", async () => {
    await runV(async () => {
      const loop = getRunningLoop();
      const task = createTask(async () => {
        await loop.createFuture<void>(); // never set
      });
      const waiting = createTask(() => waitFor(task, null));
      loop.callSoon(() => waiting.cancel());
      expect(await caught(waiting)).toBeInstanceOf(CancelledError);
      expect(waiting.cancelled()).toBe(true);
      expect(task.cancelled()).toBe(true);
    });
  });

  it("work that suppresses the cancel and returns a value: waitFor returns that value (test_wait_for_cancel_suppressed)", async () => {
    await runV(async () => {
      const return42 = async (): Promise<number> => {
        try {
          await sleep(10_000);
        } catch (e) {
          if (isCancelledError(e)) return 42;
          throw e;
        }
        return 0;
      };
      expect(await waitFor(return42, 100)).toBe(42);
      expect(now()).toBe(100);
    });
  });

  it("a timeout of 0 cancels a running task and waits for its cleanup before throwing TimeoutError (test_wait_for_waits_for_task_cancellation_w_timeout_0)", async () => {
    await runV(async () => {
      const EPSILON = 0.1;
      let taskDone = false;
      const foo = async (): Promise<void> => {
        const innerTask = createTask(async () => {
          try {
            await sleep(10_000);
          } catch (e) {
            if (isCancelledError(e)) await sleep(EPSILON);
            throw e;
          } finally {
            taskDone = true;
          }
        });
        await sleep(EPSILON);
        await waitFor(innerTask, 0);
      };
      const error = await caught(foo());
      expect(error).toBeInstanceOf(TimeoutError);
      expect(taskDone).toBe(true);
      expect((error as Error).cause).toBeInstanceOf(CancelledError);
      expect(now()).toBeCloseTo(2 * EPSILON, 6);
    });
  });
});
