/**
 * Cases from CPython 3.13's test_asyncio (test_taskgroups.py, test_timeouts.py) whose
 * behaviour the flow tests and the rest of this conformance suite do not check yet: a
 * function handed to a finished TaskGroup is never called (asyncio closes the coroutine),
 * and a timeout whose body failed and then awaited past the deadline in its cleanup.
 * Each test asserts what asyncio 3.13 does (checked against CPython), unless JavaScript or
 * the docs make aiots differ, which the test name then says.
 */
import { describe, expect, test } from "vitest";
import {
  CancelledError,
  InvalidStateError,
  TaskGroup,
  TimeoutError,
  VirtualTimeLoop,
  allTasks,
  currentTask,
  getRunningLoop,
  sleep,
  taskGroup,
  timeout,
} from "aiots";
import type { Timeout } from "aiots";
import { caught, runBriefly, vrun } from "./helpers.js";

class ZeroDivisionError extends Error {}

describe("TaskGroup: createTask on a finished group (test_taskgroups.py)", () => {
  test("throws 'is finished' and never calls the function it was given (test_taskgroup_finished)", () =>
    vrun(async () => {
      let saved!: TaskGroup;
      await taskGroup((tg) => {
        saved = tg;
      });
      let called = false;
      const error = await caught(() =>
        saved.createTask(async () => {
          called = true;
        }),
      );
      expect(error).toBeInstanceOf(InvalidStateError);
      expect((error as Error).message).toMatch(/is finished/);
      await runBriefly();
      expect(called).toBe(false);
      // Only the main task is left: nothing was started for the refused function.
      expect(allTasks().size).toBe(1);
      expect(saved.size).toBe(0);
    }));

  test("the same from a main run by loop.runUntilComplete rather than run() (test_coro_closed_when_tg_closed)", async () => {
    const loop = new VirtualTimeLoop();
    let called = false;
    try {
      const error = await loop.runUntilComplete(async () => {
        expect(currentTask()).toBeDefined();
        const tg = new TaskGroup();
        await tg.run(() => undefined);
        const e = await caught(() =>
          tg.createTask(async () => {
            called = true;
          }),
        );
        await sleep(0);
        return e;
      });
      expect(error).toBeInstanceOf(InvalidStateError);
      expect((error as Error).message).toMatch(/is finished/);
      expect(called).toBe(false);
    } finally {
      loop.close();
    }
  });
});

describe("timeout: a failing body cut short in its cleanup (test_timeouts.py)", () => {
  test("a body that throws and then awaits past the deadline in its finally ends with TimeoutError caused by the CancelledError, not its own error; the scope is expired and the task not left cancelled (test_timeout_exception_context)", () =>
    vrun(async () => {
      let scope!: Timeout;
      let cleanup = "";
      const error = await caught(() =>
        timeout(10, async (s) => {
          scope = s;
          try {
            throw new ZeroDivisionError();
          } finally {
            try {
              await sleep(1000);
              cleanup = "slept";
            } catch (e) {
              cleanup = (e as Error).name;
              throw e;
            }
          }
        }),
      );
      expect(error).toBeInstanceOf(TimeoutError);
      const cause = (error as Error).cause;
      expect(cause).toBeInstanceOf(CancelledError);
      // asyncio: the CancelledError has no __cause__ of its own.
      expect((cause as Error).cause).toBeUndefined();
      expect(cleanup).toBe("CancelledError");
      expect(scope.expired()).toBe(true);
      expect(String(scope)).toBe("Timeout [expired]");
      expect(getRunningLoop().time()).toBe(10);
      expect(currentTask()!.cancelling()).toBe(0);
    }));
});
