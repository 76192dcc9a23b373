/**
 * More cases from CPython 3.13's Lib/test/test_asyncio/test_waitfor.py that the other flow
 * tests (wait-for.test.ts, cpython-port.test.ts) do not pin down yet. Each asserts what
 * asyncio does (checked against CPython 3.13), unless a README or docs/ page documents a
 * different choice, in which case the test name says so.
 */
import { describe, expect, it } from "vitest";
import { CancelledError, TimeoutError } from "@aiots/core";
import { Future, createTask, currentTask, sleep } from "@aiots/future";
import { shield, wait, waitFor } from "@aiots/flow";
import { getRunningLoop } from "@aiots/loop";
import { runV, now } from "./helpers.js";


/** Work that keeps going for `ms` of loop time whatever cancels it, and records how far it got. */
function stubborn(ms: number) {
  const seen = { started: false, finished: false, cancelsIgnored: 0 };
  const work = async (): Promise<string> => {
    seen.started = true;
    const end = now() + ms;
    while (now() < end) {
      try {
        await sleep(end - now());
      } catch (error) {
        if (!(error instanceof CancelledError)) throw error;
        seen.cancelsIgnored++;
      }
    }
    seen.finished = true;
    return "stubborn result";
  };
  return { seen, work };
}

describe("waitFor: the awaited work and a cancel of the caller (test_waitfor.py)", () => {
  it("a caller cancelled one step after it started still waits for work that ignores the cancel, and gets its result (test_asyncio_wait_for_cancelled)", async () => {
    await runV(async () => {
      const { seen, work } = stubborn(200);
      let callerRan = false;
      const caller = createTask(() => {
        callerRan = true;
        return waitFor(work, 400);
      });
      await sleep(0);
      expect(callerRan).toBe(true); // the caller has called waitFor before it is cancelled
      caller.cancel();
      await wait([caller]);
      // asyncio 3.13: the coroutine given to wait_for started in the caller's first step,
      // swallowed the cancel, ran to its end at t=200, and its value is the caller's result.
      expect(seen.started).toBe(true);
      expect(seen.finished).toBe(true);
      expect(seen.cancelsIgnored).toBe(1);
      expect(now()).toBe(200);
      expect(caller.cancelled()).toBe(false);
      expect(caller.result()).toBe("stubborn result");
      expect(caller.cancelling()).toBe(1);
    });
  });

  it("the same with a task made before the caller: it is waited for to its end and its result comes back (test_asyncio_wait_for_cancelled)", async () => {
    await runV(async () => {
      const { seen, work } = stubborn(200);
      const inner = createTask(work);
      const caller = createTask(() => waitFor(inner, 400));
      await sleep(0);
      caller.cancel();
      await wait([caller]);
      expect(seen.finished).toBe(true);
      expect(now()).toBe(200);
      expect(caller.cancelled()).toBe(false);
      expect(caller.result()).toBe("stubborn result");
    });
  });

  it("a caller cancelled after a task it waited for already finished in time ends cancelled and goes no further; the task keeps its result (test_wait_for_issue86296)", async () => {
    await runV(async () => {
      const quick = createTask(async () => "done");
      let reachedEnd = false;
      const caller = createTask(async () => {
        await waitFor(quick, 100_000);
        await sleep(1000);
        reachedEnd = true;
      });
      expect(caller.done()).toBe(false);
      await sleep(0);
      caller.cancel();
      const error = await caller.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CancelledError);
      expect(caller.cancelled()).toBe(true);
      expect(quick.done()).toBe(true);
      expect(await quick).toBe("done");
      expect(reachedEnd).toBe(false);
      expect(now()).toBe(0);
    });
  });
});

describe("waitFor: the deadline (test_waitfor.py)", () => {
  it("work that sees the deadline's CancelledError and returns a value gives that value at the deadline (test_wait_for_cancellation_race_condition)", async () => {
    await runV(async () => {
      let seenByWork: unknown;
      const value = await waitFor(async () => {
        try {
          await sleep(1000);
        } catch (error) {
          seenByWork = error;
        }
        return 1;
      }, 10);
      expect(value).toBe(1);
      expect(seenByWork).toBeInstanceOf(CancelledError);
      expect(seenByWork).not.toBeInstanceOf(TimeoutError);
      expect(now()).toBe(10);
    });
  });
});

describe("waitFor: a deadline due with another task's timer", () => {
  it("the work's cleanup and the caller's TimeoutError come before a task whose timer is due at the same moment, set after the deadline (as asyncio)", async () => {
    // CPython 3.13, the same program: ['inner finally', 't0 TimeoutError', 't1 woke'].
    await runV(async () => {
      const log: string[] = [];
      const t0 = createTask(async () => {
        try {
          await waitFor(async () => {
            try {
              await new Future<void>();
            } finally {
              log.push("inner finally");
            }
          }, 3);
        } catch (error) {
          if (error instanceof TimeoutError) log.push("t0 TimeoutError");
        }
      });
      const t1 = createTask(async () => {
        await sleep(3);
        log.push("t1 woke");
      });
      await Promise.all([t0, t1]);
      expect(log).toEqual(["inner finally", "t0 TimeoutError", "t1 woke"]);
      expect(now()).toBe(3);
    });
  });
});

describe("waitFor with shield (test_waitfor.py WaitForShieldTests)", () => {
  it("no deadline: waits for the shielded task to finish and gives its result (test_none_timeout)", async () => {
    await runV(async () => {
      const task = createTask(async () => {
        await sleep(100);
        return "done";
      });
      expect(await waitFor(shield(task), null)).toBe("done");
      expect(task.done()).toBe(true);
      expect(await task).toBe("done");
      expect(now()).toBe(100);
    });
  });

  it("a deadline before the shielded task ends: TimeoutError at the deadline, the task still running and not cancelled, then its result (test_shielded_timeout)", async () => {
    await runV(async () => {
      const task = createTask(async () => {
        await sleep(100);
        return "done";
      });
      const error = await waitFor(shield(task), 10).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(TimeoutError);
      expect(now()).toBe(10);
      expect(task.done()).toBe(false);
      expect(task.cancelled()).toBe(false);
      expect(await task).toBe("done");
      expect(now()).toBe(100);
    });
  });
});

describe("waitFor in plain async code, on the default loop", () => {
  it("a task of the default loop that calls waitFor with a function finds it started when it is cancelled right after", async () => {
    let started = false;
    const caller = createTask(async () => {
      const pending = waitFor(async () => {
        started = true;
        await sleep(10);
      }, 1000);
      currentTask()!.cancel();
      await pending;
    });
    await caller.catch(() => undefined);
    expect(started).toBe(true);
    expect(caller.cancelled()).toBe(true);
  });
});

describe("waitFor over a Future or Task passed in: when the deadline acts (CPython 3.13 order)", () => {
  it("the deadline cancels it in its own callback: a timer due at the same moment and set after it fires after the caller has its TimeoutError", async () => {
    const log: string[] = [];
    await runV(async () => {
      const inner = createTask(async () => {
        await sleep(1);
        log.push("inner: slept 1");
      });
      try {
        await waitFor(shield(inner), 1);
      } catch (e) {
        log.push(`waitFor threw ${(e as Error).name}; inner done: ${inner.done()}`);
      }
      await inner;
    });
    expect(log).toEqual(["waitFor threw TimeoutError; inner done: false", "inner: slept 1"]);
  });

  it("waitFor(pending, 0) cancels it and learns that from its done callback, a loop turn later: callbacks queued before run first", async () => {
    const log: string[] = [];
    await runV(async () => {
      const loop = getRunningLoop();
      const f = new Future<number>(loop);
      loop.callSoon(() => log.push("callback queued before waitFor(f, 0)"));
      try {
        await waitFor(f, 0);
      } catch (e) {
        log.push(`waitFor(f, 0) threw ${(e as Error).name}`);
      }
      expect(f.cancelled()).toBe(true);
    });
    expect(log).toEqual(["callback queued before waitFor(f, 0)", "waitFor(f, 0) threw TimeoutError"]);
  });
});
