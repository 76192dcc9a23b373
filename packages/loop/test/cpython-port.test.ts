// Cases ported from CPython 3.14's Lib/test/test_asyncio (test_base_events.py, test_events.py,
// test_runners.py) that the other loop tests do not already cover. Written anew for aiots:
// milliseconds, virtual time where time matters, `handler(loop, context)`.
import { afterEach, describe, expect, it, vi } from "vitest";
import { CancelledError } from "@aiots/core";
import type { ExceptionContext, TaskLike } from "@aiots/core";
import { createTask, sleep } from "@aiots/future";
import { Runner, VirtualTimeLoop, getRunningLoop, newEventLoop, run } from "@aiots/loop";
import { closeTracked, track, turn } from "./helpers.js";

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await turn();
};


afterEach(() => {
  vi.restoreAllMocks();
  closeTracked();
});

describe("timers and the ready queue (test_base_events: _run_once)", () => {
  it("timers due together all run before the callbacks they schedule, and a timer one of them adds for the same instant runs after those", async () => {
    const loop = track(new VirtualTimeLoop());
    const steps: string[] = [];
    const log = (name: string) => steps.push(`${name}@${loop.time()}`);
    loop.callAt(10, () => {
      log("t1");
      loop.callSoon(log, "soon-from-t1");
      loop.callAt(10, log, "t3-added-by-t1");
    });
    loop.callAt(10, log, "t2");
    await loop.advance(20);
    expect(steps).toEqual(["t1@10", "t2@10", "soon-from-t1@10", "t3-added-by-t1@10"]);
  });

  it("a timer already due, scheduled from a callback before a callSoon, runs after that callSoon in the next iteration", async () => {
    const steps: string[] = [];
    await run(async () => {
      const loop = getRunningLoop();
      loop.callSoon(() => {
        loop.callLater(0, () => steps.push("timer"));
        loop.callSoon(() => steps.push("soon"));
      });
      for (let i = 0; i < 4; i++) await sleep(0);
    }, { loop: new VirtualTimeLoop() });
    expect(steps).toEqual(["soon", "timer"]);
  });

  it("cancelling a timer after it ran, or from its own callback, does not drop the timers still scheduled", async () => {
    const loop = track(new VirtualTimeLoop());
    const steps: string[] = [];
    const first = loop.callLater(5, () => steps.push("first"));
    const selfCancelling = loop.callLater(6, () => {
      steps.push("self-cancelling");
      selfCancelling.cancel();
    });
    await loop.advance(10);
    first.cancel();
    // Only live timers are left: a cancel of a timer that already left the heap must not be
    // counted against them.
    loop.callLater(5, () => steps.push("later"));
    await loop.advance(10);
    expect(steps).toEqual(["first", "self-cancelling", "later"]);
    expect(first.cancelled()).toBe(true);
  });

  it("a due timer cancelled by an earlier callback of the same iteration never runs, and later timers still do", async () => {
    const loop = track(new VirtualTimeLoop());
    const steps: string[] = [];
    loop.callAt(10, () => {
      steps.push("canceller");
      victim.cancel();
    });
    const victim = loop.callAt(10, () => steps.push("victim"));
    loop.callAt(20, () => steps.push("after"));
    await loop.advance(30);
    expect(steps).toEqual(["canceller", "after"]);
  });

  it("each callback gets its own arguments, also for timers with equal deadlines", async () => {
    const loop = track(new VirtualTimeLoop());
    const got: unknown[] = [];
    const cb = (...args: unknown[]) => got.push(args);
    loop.callAt(5, cb, 1, "a");
    loop.callAt(5, cb);
    loop.callAt(5, cb, { k: 2 });
    loop.callLater(5, cb, 3, 4, 5);
    await loop.advance(5);
    expect(got).toEqual([[1, "a"], [], [{ k: 2 }], [3, 4, 5]]);
  });
});

describe("runUntilComplete, runForever, stop, close (test_base_events, test_events)", () => {
  it("refuses to run while another loop is running (from a task of that loop)", async () => {
    const other = track(new VirtualTimeLoop());
    const outcome = await run(async () => {
      let forever: unknown;
      let started = false;
      try {
        const p = other.runForever();
        started = true;
        other.stop();
        await p;
      } catch (error) {
        forever = error;
      }
      let untilComplete: unknown;
      try {
        await other.runUntilComplete(async () => "ran");
      } catch (error) {
        untilComplete = error;
      }
      return { forever, started, untilComplete, running: other.isRunning() };
    }, { loop: new VirtualTimeLoop() });
    expect(outcome.started).toBe(false);
    expect(outcome.forever).toBeInstanceOf(Error);
    expect(outcome.untilComplete).toBeInstanceOf(Error);
    expect(outcome.running).toBe(false);
  });

  it("refuses a future that belongs to another loop", async () => {
    const a = track(newEventLoop());
    const b = track(newEventLoop());
    const future = a.createFuture<number>();
    a.callSoon(() => future.setResult(1));
    expect(() => b.runUntilComplete(future)).toThrow(RangeError);
    expect(b.isRunning()).toBe(false);
  });

  it("stop() before runUntilComplete: one iteration, then 'stopped before Future completed'", async () => {
    const loop = track(new VirtualTimeLoop());
    const steps: string[] = [];
    loop.stop();
    await expect(
      loop.runUntilComplete(async () => {
        steps.push("started");
        await sleep(10);
        steps.push("woke");
      }),
    ).rejects.toThrow(/stopped before Future completed/);
    expect(steps).toEqual(["started"]);
    expect(loop.time()).toBe(0);
    expect(loop.isRunning()).toBe(false);
  });

  it("a pre-stopped runForever neither waits for nor jumps to a future timer, and uses up the stop", async () => {
    const loop = track(new VirtualTimeLoop());
    const steps: string[] = [];
    loop.callLater(1000, () => steps.push("t1000"));
    loop.callSoon(() => steps.push("soon"));
    loop.stop();
    loop.stop();
    await loop.runForever();
    expect(steps).toEqual(["soon"]);
    expect(loop.time()).toBe(0);
    // The stop request was consumed: the next run goes on until its own end.
    const result = await loop.runUntilComplete(async () => {
      await sleep(5);
      await sleep(5);
      return "second run";
    });
    expect(result).toBe("second run");
    expect(loop.time()).toBe(10);
    expect(steps).toEqual(["soon"]);
  });

  it("the future of an earlier run that was stopped does not end a later run when it completes", async () => {
    const loop = track(new VirtualTimeLoop());
    const future = loop.createFuture<string>();
    loop.callSoon(() => loop.stop());
    await expect(loop.runUntilComplete(future)).rejects.toThrow(/stopped before Future completed/);
    const result = await loop.runUntilComplete(async () => {
      future.setResult("late");
      for (let i = 0; i < 5; i++) await sleep(0);
      await sleep(10);
      return "second";
    });
    expect(result).toBe("second");
    expect(future.result()).toBe("late");
  });

  it("a future cancelled during the run makes runUntilComplete reject with CancelledError", async () => {
    const loop = track(new VirtualTimeLoop());
    const future = loop.createFuture<void>();
    loop.callLater(50, () => future.cancel());
    await expect(loop.runUntilComplete(future)).rejects.toBeInstanceOf(CancelledError);
    expect(loop.isRunning()).toBe(false);
    expect(loop.time()).toBe(50);
  });

  it("close() from a callback in the iteration that called stop() throws (still running), goes to the handler, and the run ends", async () => {
    const loop = track(new VirtualTimeLoop());
    const seen: ExceptionContext[] = [];
    loop.setExceptionHandler((_l, ctx) => seen.push(ctx));
    loop.callSoon(function stopThenClose() {
      loop.stop();
      loop.close();
    });
    await loop.runForever();
    expect(loop.isClosed()).toBe(false);
    expect(loop.isRunning()).toBe(false);
    expect(seen).toHaveLength(1);
    expect(String((seen[0]!.exception as Error).message)).toMatch(/running/);
  });

  it("after runUntilComplete returns, code outside the loop sees no running loop", async () => {
    const loop = track(new VirtualTimeLoop());
    const inside = await loop.runUntilComplete(async () => getRunningLoop());
    expect(inside).toBe(loop);
    expect(() => getRunningLoop()).toThrow(/no running event loop/);
    expect(loop.isRunning()).toBe(false);
  });

  it("createTask on a closed loop throws and never starts the function", () => {
    const loop = track(new VirtualTimeLoop());
    loop.close();
    const fn = vi.fn(async () => {});
    expect(() => loop.createTask(fn)).toThrow(/closed/);
    expect(() => loop.createTask(fn, { eagerStart: true })).toThrow(/closed/);
    expect(fn).not.toHaveBeenCalled();
  });

  it("createTask names the task and ties it to the loop", async () => {
    const loop = track(new VirtualTimeLoop());
    const task = loop.createTask(async () => getRunningLoop(), { name: "test_task" });
    expect(task.getName()).toBe("test_task");
    expect(task.getLoop()).toBe(loop);
    expect(await loop.runUntilComplete(task)).toBe(loop);
  });
});

describe("exception handler (test_base_events)", () => {
  it("the context of a failing callback holds exactly message, exception and handle", async () => {
    const loop = track(new VirtualTimeLoop());
    const seen: ExceptionContext[] = [];
    loop.setExceptionHandler((_l, ctx) => seen.push(ctx));
    const soonError = new Error("soon");
    const laterError = new Error("later");
    const soon = loop.callSoon(function zeroError() {
      throw soonError;
    });
    const later = loop.callLater(5, function zeroErrorLater() {
      throw laterError;
    });
    await loop.advance(10);
    expect(seen.map((c) => Object.keys(c).sort())).toEqual([
      ["exception", "handle", "message"],
      ["exception", "handle", "message"],
    ]);
    expect(seen[0]!.handle).toBe(soon);
    expect(seen[0]!.exception).toBe(soonError);
    expect(seen[0]!.message).toMatch(/Exception in callback.*zeroError/);
    expect(seen[1]!.handle).toBe(later);
    expect(seen[1]!.exception).toBe(laterError);
    expect(seen[1]!.message).toMatch(/Exception in callback.*zeroErrorLater/);
  });

  it("without a handler, errors go through the loop's own defaultExceptionHandler, which a subclass can override", async () => {
    const seen: ExceptionContext[] = [];
    class Recording extends VirtualTimeLoop {
      override defaultExceptionHandler(context: ExceptionContext): void {
        seen.push(context);
      }
    }
    const loop = track(new Recording());
    const boom = new Error("boom");
    loop.callSoon(() => {
      throw boom;
    });
    await turns(2);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.exception).toBe(boom);
  });

  it("a handler that throws: the default handler gets { message, exception, context } with the original context", async () => {
    const seen: ExceptionContext[] = [];
    class Recording extends VirtualTimeLoop {
      override defaultExceptionHandler(context: ExceptionContext): void {
        seen.push(context);
      }
    }
    const loop = track(new Recording());
    const handlerError = new Error("ham");
    let original: ExceptionContext | undefined;
    loop.setExceptionHandler((_l, ctx) => {
      original = ctx;
      throw handlerError;
    });
    const zero = new RangeError("zero");
    loop.callSoon(() => {
      throw zero;
    });
    await turns(2);
    expect(seen).toHaveLength(1);
    expect(Object.keys(seen[0]!).sort()).toEqual(["context", "exception", "message"]);
    expect(seen[0]!.message).toBe("Unhandled error in exception handler");
    expect(seen[0]!.exception).toBe(handlerError);
    expect(seen[0]!.context).toBe(original);
    expect((seen[0]!.context as ExceptionContext).exception).toBe(zero);
  });
});

describe("Runner (test_runners)", () => {
  it("close() on a runner that never made its loop does nothing: the runner can still be used", async () => {
    const runner = new Runner({ loop: new VirtualTimeLoop() });
    await runner.close();
    const loop = runner.getLoop();
    expect(loop.isClosed()).toBe(false);
    expect(await runner.run(async () => 5)).toBe(5);
    await runner.close();
    expect(loop.isClosed()).toBe(true);
  });

  it("close() after getLoop() alone closes that loop, and the runner is then closed", async () => {
    const runner = new Runner({ loop: new VirtualTimeLoop() });
    const loop = runner.getLoop();
    await runner.close();
    expect(loop.isClosed()).toBe(true);
    expect(() => runner.getLoop()).toThrow(/Runner is closed/);
  });

  it("a run whose main failed leaves the runner usable, on the same loop", async () => {
    const runner = new Runner({ loop: new VirtualTimeLoop() });
    const error = new RangeError("spam");
    let first: unknown;
    await expect(
      runner.run(async () => {
        first = getRunningLoop();
        await sleep(0);
        throw error;
      }),
    ).rejects.toBe(error);
    expect(await runner.run(async () => getRunningLoop())).toBe(first);
    await runner.close();
  });

  it("run() on a runner whose loop was closed meanwhile rejects with 'Event loop is closed'", async () => {
    const loop = new VirtualTimeLoop();
    const runner = new Runner({ loop });
    expect(await runner.run(async () => 1)).toBe(1);
    loop.close();
    await expect(runner.run(async () => 2)).rejects.toThrow(/Event loop is closed/);
    await runner.close();
  });

  it("close() cancels tasks made on the runner's loop before any run", async () => {
    const runner = new Runner({ loop: new VirtualTimeLoop() });
    const steps: string[] = [];
    const task = runner.getLoop().createTask(async () => {
      try {
        await sleep(Infinity);
      } finally {
        steps.push("finally");
      }
    });
    await turn();
    await runner.close();
    expect(task.cancelled()).toBe(true);
    expect(steps).toEqual(["finally"]);
  });
});

describe("run() shutdown (test_runners)", () => {
  it("a leftover task that fails when cancelled is reported with exactly message, exception and task; run still returns main's value", async () => {
    const loop = new VirtualTimeLoop();
    const seen: ExceptionContext[] = [];
    loop.setExceptionHandler((_l, ctx) => seen.push(ctx));
    const zero = new RangeError("division by zero");
    let leftover: TaskLike<void> | undefined;
    const result = await run(async () => {
      leftover = createTask(async () => {
        try {
          await sleep(100);
        } catch {
          throw zero;
        }
      });
      return 123;
    }, { loop });
    expect(result).toBe(123);
    expect(leftover!.done()).toBe(true);
    expect(seen).toHaveLength(1);
    expect(Object.keys(seen[0]!).sort()).toEqual(["exception", "message", "task"]);
    expect(seen[0]!.message).toMatch(/run.*shutdown/);
    expect(seen[0]!.exception).toBe(zero);
    expect(seen[0]!.task).toBe(leftover);
  });

  it("when main fails and a leftover fails on cancel, run rejects with main's error and reports the leftover's", async () => {
    class FancyExit extends Error {}
    const loop = new VirtualTimeLoop();
    const seen: ExceptionContext[] = [];
    loop.setExceptionHandler((_l, ctx) => seen.push(ctx));
    const zero = new RangeError("zero");
    let lazyboy: TaskLike<void> | undefined;
    const main = run(async () => {
      lazyboy = createTask(async () => {
        try {
          for (;;) await sleep(1000);
        } catch {
          throw zero;
        }
      });
      await sleep(0);
      throw new FancyExit("fancy");
    }, { loop });
    await expect(main).rejects.toBeInstanceOf(FancyExit);
    expect(lazyboy!.done()).toBe(true);
    expect(seen.map((c) => c.exception)).toEqual([zero]);
    expect(loop.isClosed()).toBe(true);
  });

  it("shutdown waits for a leftover that handles its cancellation and keeps awaiting", async () => {
    const loop = new VirtualTimeLoop();
    const steps: string[] = [];
    let leftover: TaskLike<string> | undefined;
    await run(async () => {
      leftover = createTask(async () => {
        try {
          await sleep(Infinity);
        } catch (error) {
          steps.push(`cancelled@${loop.time()}: ${error instanceof CancelledError}`);
        }
        await sleep(50);
        steps.push(`cleanup done@${loop.time()}`);
        return "swallowed";
      });
      await sleep(10);
    }, { loop });
    expect(steps).toEqual(["cancelled@10: true", "cleanup done@60"]);
    expect(leftover!.result()).toBe("swallowed");
    expect(loop.isClosed()).toBe(true);
  });
});
