// The event loop against CPython 3.13's asyncio: cases taken from
// Lib/test/test_asyncio/test_base_events.py (BaseEventLoopTests) and test_events.py
// (EventLoopTestsMixin, HandleTests, TimerTests) that the other loop tests leave out.
// Written anew for aiots: milliseconds, `handler(loop, context)`, and a VirtualTimeLoop
// wherever time matters, so no test waits in real time. Every expectation about asyncio
// was checked by running the same scenario on CPython 3.13.
import { inspect } from "node:util";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ExceptionContext, TaskFunction, TaskOptions } from "@aiots/core";
import { Task, createTask, ensureFuture, sleep } from "@aiots/future";
import { CallbackHandle, EventLoop, TimerCallbackHandle, VirtualTimeLoop, getRunningLoop } from "@aiots/loop";
import { closeTracked, track, turn } from "./helpers.js";



afterEach(() => {
  vi.restoreAllMocks();
  closeTracked();
});

/** A virtual-time loop whose exception handler records every context it gets. */
function recordingLoop(options?: { start?: number }): { loop: VirtualTimeLoop; seen: ExceptionContext[] } {
  const loop = track(new VirtualTimeLoop(options));
  const seen: ExceptionContext[] = [];
  loop.setExceptionHandler((_l, ctx) => seen.push(ctx));
  return { loop, seen };
}

describe("callSoon, callLater, callAt", () => {
  it("callSoon hands its arguments to the callback, which runs once the loop runs; it returns a plain Handle (test_call_soon)", async () => {
    const loop = track(new VirtualTimeLoop());
    const results: unknown[] = [];
    const handle = loop.callSoon(
      (first: string, second: string) => {
        results.push([first, second]);
        loop.stop();
      },
      "hello",
      "world",
    );
    expect(handle).toBeInstanceOf(CallbackHandle);
    expect(handle).not.toBeInstanceOf(TimerCallbackHandle);
    expect(results).toEqual([]);
    await loop.runForever();
    expect(results).toEqual([["hello", "world"]]);
  });

  it("callLater returns a TimerHandle due at time() + delay, runs the callback with its argument then, and refuses a null delay (test_call_later)", async () => {
    const loop = track(new VirtualTimeLoop());
    const results: string[] = [];
    const timer = loop.callLater(
      100,
      (arg: string) => {
        results.push(`${arg}@${loop.time()}`);
        loop.stop();
      },
      "hello world",
    );
    expect(timer).toBeInstanceOf(TimerCallbackHandle);
    expect(timer).toBeInstanceOf(CallbackHandle);
    expect(timer.when()).toBe(100);
    expect(() => loop.callLater(null as never, () => {})).toThrow(TypeError);
    await loop.runForever();
    expect(results).toEqual(["hello world@100"]);
  });

  it("callAt runs the callback when the clock reaches the given time, and refuses a null time (test_time_and_call_at)", async () => {
    const loop = track(new VirtualTimeLoop({ start: 1000 }));
    const t0 = loop.time();
    loop.callAt(t0 + 100, () => loop.stop());
    await loop.runForever();
    expect(loop.time() - t0).toBe(100);
    expect(() => loop.callAt(null as never, () => {})).toThrow(TypeError);
  });

  it("timers already due join the ready queue behind the callbacks queued before them, in deadline order, within the same iteration (test_call_later_negative_delays)", async () => {
    const loop = track(new VirtualTimeLoop());
    const steps: string[] = [];
    const log = (name: string) => steps.push(name);
    loop.callLater(0, log, "zero");
    loop.callLater(-1, log, "minus one");
    loop.callLater(-2, log, "minus two");
    loop.callSoon(log, "soon");
    loop.callSoon(() => loop.stop());
    // stop() ends the run after this one iteration: the due timers must have been part of it.
    await loop.runForever();
    expect(steps).toEqual(["soon", "minus two", "minus one", "zero"]);
  });

  it("documented difference: timers with equal deadlines keep their scheduling order, which asyncio's heap does not (test_timer_comparison)", async () => {
    // asyncio compares timer handles by deadline only, so twenty timers at one instant run in
    // heap order ([0, 2, 6, 14, 13, ...] on CPython 3.13); aiots promises FIFO (API.md).
    const loop = track(new VirtualTimeLoop());
    const order: number[] = [];
    for (let i = 0; i < 20; i++) loop.callAt(10, (n: number) => order.push(n), i);
    await loop.advance(10);
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it("documented difference: a callback that is not a function throws TypeError at the call, with debug mode off too (test_call_soon_non_callable)", () => {
    // asyncio checks the callback only in debug mode; otherwise the error surfaces when the
    // handle runs. aiots checks bad arguments at the call, always.
    const loop = track(new VirtualTimeLoop());
    for (const debug of [false, true]) {
      loop.setDebug(debug);
      expect(() => loop.callSoon(1 as never)).toThrow(TypeError);
      expect(() => loop.callLater(60, 1 as never)).toThrow(TypeError);
      expect(() => loop.callAt(loop.time() + 60, 1 as never)).toThrow(TypeError);
    }
    expect(loop._ready).toHaveLength(0);
    expect(loop._timers.size).toBe(0);
  });

  it("documented difference: async functions are accepted as callbacks in debug mode, since a JavaScript async function starts when called (test_call_coroutine)", async () => {
    // asyncio refuses coroutine functions in debug mode ("coroutines cannot be used with
    // call_soon()"): called by the loop they would make a coroutine nobody awaits. An async
    // function runs when called, and aiots reports its rejection like a throw.
    const { loop, seen } = recordingLoop();
    loop.setDebug(true);
    const ran: string[] = [];
    loop.callSoon(async () => {
      ran.push("soon");
    });
    loop.callLater(5, async () => {
      ran.push("later");
    });
    loop.callAt(5, async () => {
      ran.push("at");
    });
    await loop.advance(5);
    expect(ran).toEqual(["soon", "later", "at"]);
    expect(seen).toEqual([]);
  });

  it("documented difference: a NaN delay or time throws RangeError at the call, where asyncio accepts it and fails later in the loop (test_call_later)", () => {
    // CPython 3.13: call_later(float("nan"), cb) returns a handle with when() == nan, and the
    // next run_forever raises ValueError while computing its select timeout.
    const loop = track(new VirtualTimeLoop());
    expect(() => loop.callLater(NaN, () => {})).toThrow(RangeError);
    expect(() => loop.callAt(NaN, () => {})).toThrow(RangeError);
    expect(loop._timers.size).toBe(0);
  });
});

describe("Handle and TimerHandle", () => {
  it("cancel() marks a handle cancelled, lets go of its callback and arguments, and it never runs (test_handle, test_timer)", async () => {
    const loop = track(new VirtualTimeLoop());
    const cb = vi.fn();
    const soon = loop.callSoon(cb, 1, 2, 3);
    const timer = loop.callLater(10, cb, 1, 2, 3);
    for (const handle of [soon, timer]) {
      expect(handle.cancelled()).toBe(false);
      handle.cancel();
      expect(handle.cancelled()).toBe(true);
      expect(handle._callback).toBeUndefined();
      expect(handle._args).toBeUndefined();
    }
    await loop.advance(20);
    expect(cb).not.toHaveBeenCalled();
  });

  it("when() is the deadline the timer was given, also after cancel() (test_when)", () => {
    const loop = track(new VirtualTimeLoop({ start: 1000 }));
    const at = loop.callAt(123, () => {});
    const later = loop.callLater(10, () => {});
    expect(at.when()).toBe(123);
    expect(later.when()).toBe(1010);
    at.cancel();
    later.cancel();
    expect(at.when()).toBe(123);
    expect(later.when()).toBe(1010);
  });

  it("close() drops pending handles without marking them cancelled; cancelling one afterwards still works (test_close)", () => {
    const loop = new VirtualTimeLoop();
    const soon = loop.callSoon(() => {});
    const timer = loop.callLater(10_000, () => {});
    loop.close();
    expect(soon.cancelled()).toBe(false);
    expect(timer.cancelled()).toBe(false);
    expect(timer.when()).toBe(10_000);
    timer.cancel();
    expect(timer.cancelled()).toBe(true);
  });
});

describe("loop iterations (test__run_once*)", () => {
  it("a cancelled timer ahead of a live one is skipped: the loop goes straight to the live deadline (test__run_once)", async () => {
    const loop = track(new VirtualTimeLoop());
    const steps: string[] = [];
    const first = loop.callAt(5000, () => steps.push("cancelled one"));
    loop.callAt(10_000, () => {
      steps.push(`live@${loop.time()}`);
      loop.stop();
    });
    first.cancel();
    await loop.runForever();
    expect(steps).toEqual(["live@10000"]);
    expect(loop._timers.size).toBe(0);
  });

  it("a callSoon made by a due timer waits for the next iteration, so a stop() in that timer ends the run first (test__run_once_schedule_handle)", async () => {
    const loop = track(new VirtualTimeLoop());
    const steps: string[] = [];
    loop.callLater(-1, () => {
      steps.push("timer");
      loop.callSoon(() => steps.push("scheduled by the timer"));
      loop.stop();
    });
    await loop.runForever();
    expect(steps).toEqual(["timer"]);
    expect(loop._ready).toHaveLength(1);
  });

  it("sub-millisecond sleeps finish in a handful of iterations, without spinning (test_timeout_rounding)", async () => {
    const loop = track(new VirtualTimeLoop());
    const runOnce = vi.spyOn(loop, "_runOnce");
    const delays = [10, 0.1, 0.001, 1e-5, 1e-7];
    await loop.runUntilComplete(async () => {
      for (const delay of delays) await sleep(delay);
    });
    // asyncio needs 12 iterations for the same five sleeps and its test allows 20.
    expect(runOnce.mock.calls.length).toBeLessThanOrEqual(20);
    expect(loop.time()).toBeCloseTo(delays.reduce((a, b) => a + b, 0), 9);
  });

  it("callSoon(stop) then runForever runs what was queued exactly once (test_run_once)", async () => {
    const loop = track(new VirtualTimeLoop());
    let count = 0;
    loop.callSoon(() => count++);
    loop.callSoon(() => loop.stop());
    await loop.runForever();
    expect(count).toBe(1);
    expect(loop.isRunning()).toBe(false);
  });
});

describe("runUntilComplete, runForever, stop, close", () => {
  it("runUntilComplete of a sleep returns with the clock moved by exactly the delay (test_run_until_complete)", async () => {
    const loop = track(new VirtualTimeLoop({ start: 50 }));
    const t0 = loop.time();
    await loop.runUntilComplete(() => sleep(100));
    expect(loop.time() - t0).toBe(100);
  });

  it("a task that calls stop() before it finishes makes runUntilComplete fail with 'stopped before Future completed' (test_run_until_complete_stopped)", async () => {
    const loop = track(new VirtualTimeLoop());
    const task = loop.createTask(async () => {
      loop.stop();
      await sleep(100);
      return "finished";
    });
    await expect(loop.runUntilComplete(task)).rejects.toThrow(/stopped before Future completed/);
    expect(task.done()).toBe(false);
    expect(loop.isRunning()).toBe(false);
    expect(loop.time()).toBe(0);
  });

  it("runUntilComplete from the loop's own task throws 'already running' and never starts its function (test_run_until_complete_nesting)", async () => {
    const loop = track(new VirtualTimeLoop());
    const inner = vi.fn(async () => "inner");
    const outcome = await loop.runUntilComplete(async () => {
      expect(loop.isRunning()).toBe(true);
      try {
        await loop.runUntilComplete(inner);
        return "nested run completed";
      } catch (error) {
        return (error as Error).message;
      }
    });
    expect(outcome).toMatch(/already running/);
    expect(inner).not.toHaveBeenCalled();
  });

  it("a runUntilComplete whose task failed leaves no stop behind: the next runForever runs until its own stop (test_run_until_complete_baseexception)", async () => {
    const loop = track(new VirtualTimeLoop());
    const failure = new RangeError("failed");
    await expect(
      loop.runUntilComplete(async () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    let called = false;
    // Two iterations deep: a leftover stop would end the run after the first one.
    loop.callSoon(() =>
      loop.callSoon(() => {
        called = true;
        loop.stop();
      }),
    );
    await loop.runForever();
    expect(called).toBe(true);
  });

  it("close() from the loop's own task fails that task, so runUntilComplete rejects with it, and the loop stays open (test_close_running_event_loop)", async () => {
    const loop = track(new VirtualTimeLoop());
    await expect(
      loop.runUntilComplete(async () => {
        loop.close();
      }),
    ).rejects.toThrow(/Cannot close a running event loop/);
    expect(loop.isClosed()).toBe(false);
    expect(loop.isRunning()).toBe(false);
  });

  it("a closed loop refuses runForever and runUntilComplete, but still makes futures; stop() and another close() are harmless (test_close)", async () => {
    const loop = new VirtualTimeLoop();
    expect(loop.isClosed()).toBe(false);
    loop.close();
    expect(loop.isClosed()).toBe(true);
    loop.close();
    loop.close();
    expect(() => loop.stop()).not.toThrow();
    const future = loop.createFuture<number>();
    expect(future.getLoop()).toBe(loop);
    expect(future.done()).toBe(false);
    expect(() => loop.runForever()).toThrow(/closed/);
    expect(() => loop.runUntilComplete(future)).toThrow(/closed/);
    // With no done callback to schedule, completing it needs nothing from the loop.
    future.setResult(1);
    expect(future.result()).toBe(1);
    // A done callback has to go through callSoon, which a closed loop refuses.
    const withCallback = loop.createFuture<number>();
    withCallback.addDoneCallback(() => {});
    expect(() => withCallback.setResult(2)).toThrow(/closed/);
  });

  it("callbacks queued in the iteration in which the future completes run before runUntilComplete returns (BaseEventLoop.run_until_complete; no dedicated CPython test)", async () => {
    const loop = track(new VirtualTimeLoop());
    const steps: string[] = [];
    const future = loop.createFuture<string>();
    loop.callSoon(() => {
      future.setResult("x");
      steps.push("a");
    });
    loop.callSoon(() => {
      steps.push("b");
      loop.callSoon(() => steps.push("queued by b"));
    });
    future.addDoneCallback(() => {
      steps.push("done callback");
      loop.callSoon(() => steps.push("queued by the done callback"));
    });
    expect(await loop.runUntilComplete(future)).toBe("x");
    // asyncio stops from a done callback one iteration after the future completes, so what
    // that iteration queued has run, and what the stopping iteration queued has not.
    expect(steps).toEqual(["a", "b", "done callback", "queued by b"]);
  });
});

describe("createFuture and createTask on a loop", () => {
  /** A loop whose tasks are all made by its own createTask. */
  class CountingLoop extends VirtualTimeLoop {
    made = 0;
    override createTask<T>(fn: TaskFunction<T>, options?: TaskOptions): Task<T> {
      this.made++;
      return super.createTask(fn, options);
    }
  }

  it("ensureFuture and runUntilComplete start a function through the loop's createTask, so a loop subclass supplies the task (test_create_task)", async () => {
    // asyncio.ensure_future(coro, loop=loop) and loop.run_until_complete(coro) both call
    // loop.create_task(coro): a loop overriding create_task makes those tasks (verified on
    // CPython 3.13 with a subclass returning its own Task class).
    const loop = track(new CountingLoop());
    const task = ensureFuture(async () => 1, loop);
    expect(loop.made).toBe(1);
    expect(await loop.runUntilComplete(task)).toBe(1);
    expect(await loop.runUntilComplete(async () => 5)).toBe(5);
    expect(loop.made).toBe(2);
  });

  it("createTask() called from a loop's task makes the task through that loop's createTask (test_create_task)", async () => {
    // asyncio.create_task(coro) is get_running_loop().create_task(coro): inside a run of the
    // subclass above it returns the subclass's task (verified on CPython 3.13).
    const loop = track(new CountingLoop());
    const madeBefore = await loop.runUntilComplete(
      loop.createTask(async () => {
        const before = loop.made;
        await createTask(async () => "child");
        return before;
      }),
    );
    expect(madeBefore).toBe(1);
    expect(loop.made).toBe(2);
  });

  it("ensureFuture with a closed loop throws and never starts the function (test_create_task_error_closes_coro)", async () => {
    const loop = new VirtualTimeLoop();
    loop.close();
    const fn = vi.fn(async () => {});
    expect(() => ensureFuture(fn, loop)).toThrow(/closed/);
    await turn();
    expect(fn).not.toHaveBeenCalled();
  });
});

describe("exception handler", () => {
  it("a callback that completes a future and then throws is printed by the default handler as 'Exception in callback', and the future's done callback still stops the loop, for callSoon and callLater (test_default_exc_handler_callback)", async () => {
    const loop = track(new VirtualTimeLoop());
    const printed = vi.spyOn(console, "error").mockImplementation(() => {});
    function zeroError(future: { setResult(v: boolean): void }) {
      future.setResult(true);
      throw new RangeError("division by zero");
    }

    const viaSoon = loop.createFuture<boolean>();
    loop.callSoon(zeroError, viaSoon);
    viaSoon.addDoneCallback(() => loop.stop());
    await loop.runForever();
    expect(viaSoon.result()).toBe(true);
    expect(printed).toHaveBeenCalledTimes(1);
    expect(String(printed.mock.calls[0]![0])).toMatch(/Exception in callback.*zeroError/);
    expect(printed.mock.calls[0]!.some((a) => a instanceof RangeError)).toBe(true);

    const viaLater = loop.createFuture<boolean>();
    loop.callLater(10, zeroError, viaLater);
    viaLater.addDoneCallback(() => loop.stop());
    await loop.runForever();
    expect(viaLater.result()).toBe(true);
    expect(loop.time()).toBe(10);
    expect(printed).toHaveBeenCalledTimes(2);
    expect(String(printed.mock.calls[1]![0])).toMatch(/Exception in callback.*zeroError/);
  });

  it("debug mode: a failing callback's context also tells where the callback was scheduled, for callSoon and callLater (test_set_exc_handler_custom)", async () => {
    // In debug mode asyncio records a traceback when a handle is made, and the context of a
    // failing callback carries it as source_traceback, beside message, exception and handle;
    // on CPython 3.13 it includes the frame of the function that called call_soon/call_later.
    const { loop, seen } = recordingLoop();
    loop.setDebug(true);
    function zeroError() {
      throw new RangeError("division by zero");
    }
    function scheduleTheFailure() {
      loop.callSoon(zeroError);
    }
    function scheduleTheLaterFailure() {
      loop.callLater(5, zeroError);
    }
    scheduleTheFailure();
    scheduleTheLaterFailure();
    await loop.advance(5);
    expect(seen).toHaveLength(2);
    const origins = seen.map((ctx) => {
      const extra = Object.fromEntries(Object.entries(ctx).filter(([key]) => !["message", "exception", "handle"].includes(key)));
      return inspect(extra, { depth: 4 });
    });
    expect(origins[0]).toContain("scheduleTheFailure");
    expect(origins[1]).toContain("scheduleTheLaterFailure");
  });
});

describe("debug mode", () => {
  it("documented difference: with slowCallbackDuration 0 every callback, and a task's step, is reported as slow, through the exception handler where asyncio logs a warning (test_log_slow_callbacks)", async () => {
    const { loop, seen } = recordingLoop();
    loop.setDebug(true);
    loop.slowCallbackDuration = 0;
    function stopLoopCb(l: EventLoop) {
      l.stop();
    }
    loop.callSoon(stopLoopCb, loop);
    await loop.runForever();
    expect(seen.map((c) => c.message)).toEqual([expect.stringMatching(/^Executing .*stopLoopCb.* took [\d.]+ ms$/)]);
    seen.length = 0;
    loop.createTask(async function stopLoopCoro() {
      getRunningLoop().stop();
    });
    await loop.runForever();
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(seen.every((c) => /^Executing .* took [\d.]+ ms$/.test(c.message))).toBe(true);
  });

  it("debug mode: the report of a slow task step says which task it was (test_log_slow_callbacks)", async () => {
    // asyncio's warning shows the task: "Executing <Task ... name='stopper' coro=<stopLoopCoro()
    // ...>> took 0.000 seconds", so a slow step can be traced to its task.
    const { loop, seen } = recordingLoop();
    loop.setDebug(true);
    loop.slowCallbackDuration = 0;
    const task = loop.createTask(
      async function stopLoopCoro() {
        getRunningLoop().stop();
      },
      { name: "stopper" },
    );
    await loop.runForever();
    const reports = seen.filter((c) => /^Executing /.test(c.message));
    expect(reports).toHaveLength(1);
    const report = reports[0]!;
    const identifies = report.task === task || /stopper|stopLoopCoro/.test(report.message);
    expect(identifies, `report does not identify the task: ${JSON.stringify(report.message)}`).toBe(true);
  });
});
