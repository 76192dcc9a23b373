/**
 * More cases from CPython 3.13's test_asyncio/test_taskgroups.py, for behaviour that
 * task-group.test.ts, cpython-port.test.ts and the aiots conformance suite do not check yet.
 * Each test asserts what asyncio 3.13 does (checked against CPython), unless JavaScript or
 * the docs make aiots differ, which the test name then says.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { describe, expect, it } from "vitest";
import { CancelledError, ExceptionGroup, InvalidStateError, isCancelledError } from "@aiots/core";
import { createTask, currentTask, sleep } from "@aiots/future";
import type { Task } from "@aiots/future";
import { TaskGroup, taskGroup } from "@aiots/flow";
import { runV, now, MyError, caught } from "./helpers.js";


/** The errors of an ExceptionGroup (fails the test if `e` is not one). */
function errorsOf(e: unknown): unknown[] {
  expect(e).toBeInstanceOf(ExceptionGroup);
  return [...(e as ExceptionGroup).errors];
}

describe("cancel from outside (test_taskgroups.py)", () => {
  it("arriving after the body returned, while the group waits: every child sees CancelledError and the task ends cancelled with the message (test_cancellation)", async () => {
    await runV(async () => {
      let sawCancel = 0;
      const children: Task<void>[] = [];
      const r = createTask(() =>
        taskGroup((tg) => {
          for (let i = 0; i < 5; i++) {
            children.push(
              tg.createTask(async () => {
                try {
                  await sleep(5000);
                } catch (e) {
                  if (isCancelledError(e)) sawCancel++;
                  throw e;
                }
              }),
            );
          }
        }),
      );
      await sleep(100);
      expect(r.done()).toBe(false);
      r.cancel("stop");
      const error = await caught(r);
      expect(error).toBeInstanceOf(CancelledError);
      expect((error as Error).message).toBe("stop");
      expect(sawCancel).toBe(5);
      expect(children.every((c) => c.cancelled())).toBe(true);
      expect(r.cancelled()).toBe(true);
      expect(r.cancelling()).toBe(1);
      expect(now()).toBe(100);
    });
  });

  it("a group with no children: the body sees the CancelledError and the task ends cancelled with the message (test_taskgroup_17)", async () => {
    await runV(async () => {
      let seen = 0;
      const r = createTask(() =>
        taskGroup(async () => {
          try {
            await sleep(10_000);
          } catch (e) {
            if (isCancelledError(e)) seen += 10;
            throw e;
          }
        }),
      );
      await sleep(100);
      expect(r.done()).toBe(false);
      r.cancel("bye");
      const error = await caught(r);
      expect(error).toBeInstanceOf(CancelledError);
      expect((error as Error).message).toBe("bye");
      expect(seen).toBe(10);
      expect(r.cancelled()).toBe(true);
      expect(r.cancelling()).toBe(1);
      expect(now()).toBe(100);
    });
  });

  it("a child failing while the body awaits in its cancel handler interrupts that await; the ExceptionGroup wins and the outside cancel stays counted (test_taskgroup_15)", async () => {
    await runV(async () => {
      const log: string[] = [];
      const r = createTask(() =>
        taskGroup(async (tg) => {
          tg.createTask(async () => {
            await sleep(300);
            throw new MyError("soon");
          });
          try {
            await sleep(10_000);
          } catch (first) {
            if (!isCancelledError(first)) throw first;
            log.push(`first cancel at ${now()}`);
            try {
              await sleep(500);
            } catch (second) {
              log.push(`second cancel at ${now()}`);
              throw second;
            }
            log.push("cleanup finished");
            throw first;
          }
        }),
      );
      await sleep(100);
      expect(r.done()).toBe(false);
      r.cancel();
      const error = await caught(r);
      const errors = errorsOf(error);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(MyError);
      expect(log).toEqual(["first cancel at 100", "second cancel at 300"]);
      expect(now()).toBe(300);
      expect(r.cancelled()).toBe(false);
      expect(r.exception()).toBe(error);
      expect(r.cancelling()).toBe(1);
    });
  });
});

describe("failures (test_taskgroups.py)", () => {
  it("a plain (non-async) body that throws right after creating children cancels them before they ever run (test_taskgroup_10)", async () => {
    await runV(async () => {
      const started: number[] = [];
      let t1: Task<number> | undefined;
      let t2: Task<number> | undefined;
      const error = await caught(
        taskGroup((tg) => {
          t1 = tg.createTask(async () => {
            started.push(1);
            await sleep(1000);
            return 42;
          });
          t2 = tg.createTask(async () => {
            started.push(2);
            await sleep(2000);
            return 11;
          });
          throw new MyError("body");
        }),
      );
      const errors = errorsOf(error);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(MyError);
      expect(t1!.cancelled()).toBe(true);
      expect(t2!.cancelled()).toBe(true);
      expect(started).toEqual([]);
      expect(now()).toBe(0);
      expect(currentTask()!.cancelling()).toBe(0);
    });
  });

  it("inherent difference (JavaScript has no BaseException): a non-Error value thrown by the body's cleanup joins the child's error, in a plain ExceptionGroup where asyncio makes a BaseExceptionGroup (test_taskgroup_20a)", async () => {
    await runV(async () => {
      const notAnError = { reason: "not an Error" };
      const error = await caught(
        taskGroup(async (tg) => {
          tg.createTask(async () => {
            await sleep(100);
            throw new RangeError("child");
          });
          try {
            await sleep(10_000);
          } finally {
            // eslint-disable-next-line no-unsafe-finally
            throw notAnError;
          }
        }),
      );
      const errors = errorsOf(error);
      expect(errors).toHaveLength(2);
      expect(errors[0]).toBeInstanceOf(RangeError);
      expect(errors[1]).toBe(notAnError);
      expect(now()).toBe(100);
      expect(currentTask()!.cancelling()).toBe(0);
    });
  });

  it("inherent difference (JavaScript has no BaseException): a non-Error value thrown by a child is collected with the body's error, in a plain ExceptionGroup where asyncio makes a BaseExceptionGroup (test_taskgroup_21a)", async () => {
    await runV(async () => {
      const error = await caught(
        taskGroup(async (tg) => {
          tg.createTask(async () => {
            await sleep(100);
            throw "child gave up";
          });
          try {
            await sleep(10_000);
          } finally {
            // eslint-disable-next-line no-unsafe-finally
            throw new TypeError("body cleanup");
          }
        }),
      );
      const errors = errorsOf(error);
      expect(errors).toHaveLength(2);
      expect(errors[0]).toBe("child gave up");
      expect(errors[1]).toBeInstanceOf(TypeError);
      expect(now()).toBe(100);
      expect(currentTask()!.cancelling()).toBe(0);
    });
  });
});

describe("context and lifecycle (test_taskgroups.py)", () => {
  it("documented difference (no context option; AsyncLocalStorage for contextvars): a child runs in the context its creator had at createTask, and what it sets stays in the child (test_taskgroup_task_context)", async () => {
    await runV(async () => {
      const als = new AsyncLocalStorage<string>();
      await als.run("entry", async () => {
        await taskGroup(async (tg) => {
          als.enterWith("before createTask");
          const seen: (string | undefined)[] = [];
          const child = tg.createTask(async () => {
            seen.push(als.getStore());
            als.enterWith("set by the child");
            await sleep(0);
            seen.push(als.getStore());
          });
          als.enterWith("after createTask");
          await child;
          expect(seen).toEqual(["before createTask", "set by the child"]);
          expect(als.getStore()).toBe("after createTask");
        });
      });
    });
  });

  it("running a finished group again is refused as already entered, and starts nothing (test_taskgroup_double_enter)", async () => {
    await runV(async () => {
      const tg = new TaskGroup();
      await tg.run(() => undefined);
      let ran = false;
      expect(() =>
        tg.run(() => {
          ran = true;
        }),
      ).toThrow(InvalidStateError);
      expect(() => tg.run(() => undefined)).toThrow(/has already been entered/);
      expect(ran).toBe(false);
      expect(tg.state).toBe("finished");
    });
  });
});

describe("an outside cancel that a failing group re-requests", () => {
  /** A group whose child fails at once, its body running `body` meanwhile; logs what it throws. */
  async function failingGroup(log: string[], body: () => Promise<void> = async () => {}): Promise<void> {
    try {
      await taskGroup(async (tg) => {
        tg.createTask(async () => {
          throw new MyError("boom");
        });
        await body();
      });
    } catch (e) {
      log.push(`t0: taskGroup threw ${(e as Error).constructor.name}`);
    }
  }

  it("lands at the parent's next await after the callbacks already queued: a task created just before it runs its first step first (CPython 3.13 order)", async () => {
    const log: string[] = [];
    await runV(async () => {
      const t0 = createTask(async () => {
        await failingGroup(log);
        createTask(async () => {
          log.push("other task: first step");
        });
        try {
          await sleep(0);
          log.push("t0: sleep(0) returned");
        } catch (e) {
          log.push(`t0: sleep(0) threw ${(e as Error).name}`);
        }
        return "value";
      });
      createTask(async () => {
        log.push(`t1: t0.cancel() -> ${t0.cancel()}`);
      });
      await sleep(1);
      log.push(`t0 ended: ${t0.cancelled() ? "cancelled" : `result ${t0.result()}`}`);
    });
    expect(log).toEqual([
      "t1: t0.cancel() -> true",
      "t0: taskGroup threw ExceptionGroup",
      "other task: first step",
      "t0: sleep(0) threw CancelledError",
      "t0 ended: result value",
    ]);
  });

  it("ends the parent cancelled if its function catches the ExceptionGroup and returns before another await (CPython 3.13)", async () => {
    const log: string[] = [];
    await runV(async () => {
      const t0 = createTask(async () => {
        await failingGroup(log, async () => {
          await sleep(0);
          await sleep(10);
        });
        log.push(`t0: cancelling ${currentTask()!.cancelling()}`);
        return "value";
      });
      await sleep(0);
      t0.cancel();
      try {
        log.push(`t0 returned ${await t0}`);
      } catch (e) {
        log.push(`t0 threw ${(e as Error).name}, cancelled ${t0.cancelled()}`);
      }
    });
    expect(log).toEqual(["t0: taskGroup threw ExceptionGroup", "t0: cancelling 1", "t0 threw CancelledError, cancelled true"]);
  });
});
