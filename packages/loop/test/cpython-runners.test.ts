// A port of CPython 3.13's Lib/test/test_asyncio/test_runners.py to aiots's `run()` and
// `Runner`, limited to what the other loop tests (run.test.ts, cpython-port.test.ts,
// process.test.ts, the conformance suite) do not already check. Each expectation was
// checked against CPython 3.13 first. Python-only parts are left out: coroutine objects,
// event loop policies, task factories and installing signal handlers. `contextvars` is
// played by `AsyncLocalStorage`: `cvar.set(v)` by `enterWith(v)`, a caller's value by
// `storage.run(v, ...)`. Ctrl-C is simulated in this process by emitting SIGINT while
// `process.exit` is replaced by a spy, so nothing waits on a real signal.
import { AsyncLocalStorage } from "node:async_hooks";
import { isMainThread } from "node:worker_threads";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CancelledError } from "@aiots/core";
import type { ExceptionContext, TaskLike } from "@aiots/core";
import { createTask, currentTask, sleep } from "@aiots/future";
import { EventLoop, Runner, VirtualTimeLoop, getRunningLoop, run } from "@aiots/loop";
import { closeTracked, track } from "./helpers.js";

/** What calling `fn` did right away: threw, or returned (a returned promise's rejection is silenced). */
function callNow(fn: () => unknown): { threw: unknown } | { returned: unknown } {
  try {
    const value = fn();
    if (value instanceof Promise) value.catch(() => {});
    return { returned: value };
  } catch (error) {
    return { threw: error };
  }
}

/** The error `fn` fails with, thrown or as a rejection; `undefined` if it succeeds. */
async function failure(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  return undefined;
}


afterEach(() => {
  vi.restoreAllMocks();
  closeTracked();
});

describe("run() (test_runners RunTests)", () => {
  it("a main that is not a function throws TypeError at the call, not as a later rejection (test_asyncio_run_only_coro)", () => {
    for (const bad of [1, "main", null, {}]) {
      const outcome = callNow(() => run(bad as never));
      expect(outcome, `run(${JSON.stringify(bad)})`).toHaveProperty("threw");
      expect((outcome as { threw: unknown }).threw).toBeInstanceOf(TypeError);
    }
  });

  it("options that are not options (a loop that is not an EventLoop, a number) throw TypeError at the call (test_asyncio_run_loop_factory)", () => {
    for (const options of [{ loop: {} }, 5]) {
      const outcome = callNow(() => run(async () => 1, options as never));
      expect(outcome, `run(fn, ${JSON.stringify(options)})`).toHaveProperty("threw");
      expect((outcome as { threw: unknown }).threw).toBeInstanceOf(TypeError);
    }
  });

  it("without the debug option the loop follows AIOTS_DEBUG; debug: false overrides it (test_asyncio_run_debug)", async () => {
    const saved = process.env.AIOTS_DEBUG;
    try {
      process.env.AIOTS_DEBUG = "1";
      expect(await run(async () => getRunningLoop().getDebug())).toBe(true);
      expect(await run(async () => getRunningLoop().getDebug(), { debug: false })).toBe(false);
      process.env.AIOTS_DEBUG = "";
      expect(await run(async () => getRunningLoop().getDebug(), { debug: true })).toBe(true);
      expect(await run(async () => getRunningLoop().getDebug())).toBe(false);
    } finally {
      if (saved === undefined) delete process.env.AIOTS_DEBUG;
      else process.env.AIOTS_DEBUG = saved;
    }
  });

  it("refused inside a running loop before anything starts: the inner main never runs and the loop given to it stays open (test_asyncio_run_from_running_loop)", async () => {
    const given = track(new VirtualTimeLoop());
    let innerCalls = 0;
    const error = await run(async () => {
      return failure(() =>
        run(async () => {
          innerCalls++;
        }, { loop: given }),
      );
    }, { loop: new VirtualTimeLoop() });
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/cannot be called from a running event loop/);
    expect(innerCalls).toBe(0);
    expect(given.isClosed()).toBe(false);
    expect(given.isRunning()).toBe(false);
  });

  it("callbacks main schedules for now, just before it returns, still run; a later timer never does (test_asyncio_run_return)", async () => {
    const log: string[] = [];
    const loop = new VirtualTimeLoop();
    const result = await run(async () => {
      loop.callSoon(() => log.push("soon"));
      loop.callLater(0, () => log.push("timer due now"));
      loop.callLater(50, () => log.push("timer in 50 ms"));
      return 42;
    }, { loop });
    expect(result).toBe(42);
    expect(log).toEqual(["soon", "timer due now"]);
    expect(loop.isClosed()).toBe(true);
  });

  it("a main that stops the loop makes run reject with 'stopped before Future completed', and main itself is cancelled at shutdown (test_asyncio_run_raises)", async () => {
    const log: string[] = [];
    let main: TaskLike<unknown> | undefined;
    const loop = new VirtualTimeLoop();
    const error = await failure(() =>
      run(async () => {
        main = currentTask();
        getRunningLoop().stop();
        try {
          await sleep(10);
          log.push("slept");
        } finally {
          log.push("main finally");
        }
      }, { loop }),
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/Event loop stopped before Future completed/);
    expect(log).toEqual(["main finally"]);
    expect(main!.cancelled()).toBe(true);
    expect(loop.isClosed()).toBe(true);
  });

  it("a leftover that fails on cancel is reported while the loop is stopped but not yet closed, from outside the loop (test_asyncio_run_reports_hanging_tasks_errors)", async () => {
    const loop = new VirtualTimeLoop();
    const seen: { closed: boolean; running: boolean; insideLoop: boolean; context: ExceptionContext }[] = [];
    loop.setExceptionHandler((l, context) => {
      let insideLoop = true;
      try {
        getRunningLoop();
      } catch {
        insideLoop = false;
      }
      seen.push({ closed: l.isClosed(), running: l.isRunning(), insideLoop, context });
    });
    const zero = new RangeError("division by zero");
    const result = await run(async () => {
      createTask(async () => {
        try {
          await sleep(100);
        } catch {
          throw zero;
        }
      });
      await sleep(0);
      return 123;
    }, { loop });
    expect(result).toBe(123);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.context.exception).toBe(zero);
    expect(seen[0]!.closed).toBe(false);
    expect(seen[0]!.running).toBe(false);
    expect(seen[0]!.insideLoop).toBe(false);
    expect(loop.isClosed()).toBe(true);
  });

  it("cancelling a leftover that iterates an async generator finishes the generator too, and main's own error still wins (test_asyncio_run_closes_gens_after_hanging_tasks_errors)", async () => {
    class FancyExit extends Error {}
    const loop = new VirtualTimeLoop();
    const reported: unknown[] = [];
    loop.setExceptionHandler((_l, context) => reported.push(context.exception));
    const log: string[] = [];
    async function* fidget() {
      try {
        for (;;) {
          yield 1;
          await sleep(1000);
        }
      } finally {
        log.push("generator finally");
      }
    }
    let spinner: AsyncGenerator<number> | undefined;
    let lazyboy: TaskLike<void> | undefined;
    const zero = new RangeError("division by zero");
    const error = await failure(() =>
      run(async () => {
        lazyboy = createTask(async () => {
          spinner = fidget();
          try {
            for await (const _ of spinner) void _;
          } catch (e) {
            if (e instanceof CancelledError) throw zero;
            throw e;
          }
        });
        await sleep(0);
        throw new FancyExit("fancy");
      }, { loop }),
    );
    expect(error).toBeInstanceOf(FancyExit);
    expect(lazyboy!.done()).toBe(true);
    expect(reported).toEqual([zero]);
    expect(log).toEqual(["generator finally"]);
    // The generator is finished: asking for more gives nothing and runs nothing.
    expect(await spinner!.next()).toEqual({ value: undefined, done: true });
  });

  it("documented difference: a generator main leaves suspended is not closed at shutdown, since JavaScript has no async-generator hooks (asyncio's shutdown_asyncgens runs its finally) (test_asyncio_run_closes_gens_after_hanging_tasks_errors)", async () => {
    const log: string[] = [];
    async function* gen() {
      try {
        yield 1;
        yield 2;
      } finally {
        log.push("generator finally");
      }
    }
    let kept: AsyncGenerator<number> | undefined;
    const loop = new VirtualTimeLoop();
    await run(async () => {
      kept = gen();
      expect(await kept.next()).toEqual({ value: 1, done: false });
    }, { loop });
    expect(loop.isClosed()).toBe(true);
    expect(log).toEqual([]);
    // Still suspended at its first yield: closing it by hand runs the finally.
    await kept!.return(undefined);
    expect(log).toEqual(["generator finally"]);
  });

  it("main sees the caller's AsyncLocalStorage value, and what main sets does not reach the caller (test_run_keeps_context)", async () => {
    const storage = new AsyncLocalStorage<number>();
    const seen = await storage.run(7, () =>
      run(async () => {
        const before = storage.getStore();
        await sleep(0);
        storage.enterWith(99);
        return [before, storage.getStore()];
      }, { loop: new VirtualTimeLoop() }),
    );
    expect(seen).toEqual([7, 99]);
    expect(storage.getStore()).toBeUndefined();
    await run(async () => storage.enterWith(5), { loop: new VirtualTimeLoop() });
    expect(storage.getStore()).toBeUndefined();
  });
});

describe("Runner (test_runners RunnerTests)", () => {
  it("runner.run with something that is neither a function nor an awaitable (a number, a plain object) throws TypeError at the call (test_run_non_coro)", async () => {
    const runner = new Runner({ loop: new VirtualTimeLoop() });
    for (const bad of [123, { then: 1 }]) {
      const outcome = callNow(() => runner.run(bad as never));
      expect(outcome, `runner.run(${String(bad)})`).toHaveProperty("threw");
      expect((outcome as { threw: unknown }).threw).toBeInstanceOf(TypeError);
    }
    await runner.close();
  });

  it("runner.run of a Future of its loop awaits it as the main task and gives its result (test_run_future, asyncio 3.14)", async () => {
    const runner = new Runner({ loop: new VirtualTimeLoop() });
    const future = runner.getLoop().createFuture<string>();
    future.setResult("done");
    expect(await runner.run(future)).toBe("done");
    await runner.close();
  });

  it("run() of a promise that has already rejected rejects with its error (no unhandled rejection before the main task starts)", async () => {
    const error = new RangeError("bad arg");
    const failingMain = async (arg: number): Promise<number> => {
      if (arg < 0) throw error;
      return arg;
    };
    await expect(run(failingMain(-1), { loop: new VirtualTimeLoop() })).rejects.toBe(error);
    // A turn for the host to report unhandled rejections, if there were one.
    await new Promise<void>((resolve) => setImmediate(resolve));
  });

  it("runner.run of an awaitable object runs it to its end inside the loop (test_run_awaitable, asyncio 3.14)", async () => {
    const runner = new Runner({ loop: new VirtualTimeLoop() });
    let ranInLoop = false;
    const awaitable: PromiseLike<string> = {
      then<R1 = string, R2 = never>(onFulfilled?: ((value: string) => R1 | PromiseLike<R1>) | null): PromiseLike<R1 | R2> {
        ranInLoop = getRunningLoop() === runner.getLoop();
        return Promise.resolve("done").then(onFulfilled);
      },
    };
    expect(await runner.run(awaitable)).toBe("done");
    expect(ranInLoop).toBe(true);
    await runner.close();
  });

  it("getLoop() is the loop given, and without a debug option its debug mode is left as it was (test_custom_factory, test_non_debug, test_debug)", async () => {
    const loop = new VirtualTimeLoop();
    loop.setDebug(true);
    const runner = new Runner({ loop });
    expect(runner.getLoop()).toBe(loop);
    expect(runner.getLoop().getDebug()).toBe(true);
    await runner.close();
    expect(loop.isClosed()).toBe(true);

    const quiet = new VirtualTimeLoop();
    quiet.setDebug(true);
    const nonDebug = new Runner({ loop: quiet, debug: false });
    expect(nonDebug.getLoop().getDebug()).toBe(false);
    await nonDebug.close();

    const debug = new Runner({ loop: new VirtualTimeLoop(), debug: true });
    expect(debug.getLoop().getDebug()).toBe(true);
    await debug.close();
  });

  it("documented difference: a value one run's main sets in its context stays in that main; the next run starts from the runner's context again (asyncio's runner shares one mutable context; test_run_keeps_context)", async () => {
    const storage = new AsyncLocalStorage<number>();
    const f = async (value: number) => {
      const old = storage.getStore() ?? -1;
      await sleep(0);
      storage.enterWith(value);
      return old;
    };
    const runner = new Runner({ loop: new VirtualTimeLoop() });
    try {
      expect(await runner.run(() => f(1))).toBe(-1);
      expect(await runner.run(() => f(2))).toBe(-1);
      expect(await runner.run(async () => storage.getStore())).toBeUndefined();
      // None of it reaches the code that called run.
      expect(storage.getStore()).toBeUndefined();
    } finally {
      await runner.close();
    }
  });

  it("every run starts from the context the runner took when it made its loop, not the caller's context at run time (test_run_keeps_context)", async () => {
    const storage = new AsyncLocalStorage<number>();
    const runner = new Runner({ loop: new VirtualTimeLoop() });
    try {
      storage.run(10, () => runner.getLoop());
      const first = await storage.run(20, () => runner.run(async () => storage.getStore()));
      const second = await runner.run(async () => storage.getStore());
      expect([first, second]).toEqual([10, 10]);
    } finally {
      await runner.close();
    }
  });

  it("after close, run refuses with 'Runner is closed' and never calls main (test_second_with_block_raises)", async () => {
    const calls: number[] = [];
    const f = async (arg: number) => {
      calls.push(arg);
    };
    const runner = new Runner({ loop: new VirtualTimeLoop() });
    await runner.run(() => f(1));
    await runner.close();
    const error = await failure(() => runner.run(() => f(2)));
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/Runner is closed/);
    await sleep(0);
    expect(calls).toEqual([1]);
  });

  it("a run from inside the runner's own main is refused without calling the inner main, and the runner stays usable (test_recursive_run)", async () => {
    const runner = new Runner({ loop: new VirtualTimeLoop() });
    let innerCalls = 0;
    const error = await runner.run(async () =>
      failure(() =>
        runner.run(async () => {
          innerCalls++;
        }),
      ),
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/cannot be called from a running event loop/);
    await sleep(0);
    expect(innerCalls).toBe(0);
    expect(await runner.run(async () => "again")).toBe("again");
    await runner.close();
  });

  it("a run refused because another loop is running leaves the runner unstarted: close() then leaves its loop open (test_recursive_run)", async () => {
    const loop = track(new VirtualTimeLoop());
    const runner = new Runner({ loop });
    let calls = 0;
    const error = await run(async () =>
      failure(() =>
        runner.run(async () => {
          calls++;
        }),
      ),
    { loop: new VirtualTimeLoop() });
    expect((error as Error).message).toMatch(/cannot be called from a running event loop/);
    expect(calls).toBe(0);
    await runner.close();
    expect(loop.isClosed()).toBe(false);
    // The runner was never started, so it can still start now.
    expect(await runner.run(async () => getRunningLoop())).toBe(loop);
    await runner.close();
    expect(loop.isClosed()).toBe(true);
  });

  it("main's result comes back as the very object, never converted to a string (test_no_repr_is_call_on_the_task_result)", async () => {
    const conversions: string[] = [];
    const result = {
      toString() {
        conversions.push("toString");
        return "result";
      },
      toJSON() {
        conversions.push("toJSON");
        return "result";
      },
      [Symbol.toPrimitive](hint: string) {
        conversions.push(`toPrimitive ${hint}`);
        return "result";
      },
      [Symbol.for("nodejs.util.inspect.custom")]() {
        conversions.push("inspect");
        return "result";
      },
    };
    const runner = new Runner({ loop: new VirtualTimeLoop() });
    const got = await runner.run(async () => result);
    await runner.close();
    expect(got === result).toBe(true);
    expect(await run(async () => result, { loop: new VirtualTimeLoop() }) === result).toBe(true);
    expect(conversions).toEqual([]);
  });

  it("close() called from inside main fails and cancels main, but leaves the runner open, so a later close() closes the loop (Runner.close; cf. test_explicit_close)", async () => {
    const loop = track(new VirtualTimeLoop());
    const runner = new Runner({ loop });
    const steps: string[] = [];
    const error = await failure(() =>
      runner.run(async () => {
        const closeError = await failure(() => runner.close());
        steps.push(closeError instanceof Error ? "close failed" : "close succeeded");
        try {
          await sleep(0);
          steps.push("main went on");
        } catch (e) {
          steps.push(e instanceof CancelledError ? "main cancelled" : "main failed");
          throw e;
        }
      }),
    );
    expect(error).toBeInstanceOf(CancelledError);
    expect(steps).toEqual(["close failed", "main cancelled"]);
    // asyncio's close() raised before marking the runner closed: it still hands out its
    // loop, and the next close() does the whole job.
    let handsOutLoop: boolean;
    try {
      handsOutLoop = runner.getLoop() === loop;
    } catch {
      handsOutLoop = false;
    }
    await runner.close();
    expect({ handsOutLoop, loopClosed: loop.isClosed() }).toEqual({ handsOutLoop: true, loopClosed: true });
  });
});

describe("Ctrl-C during Runner.run (test_runners interrupt tests)", () => {
  /** Replaces `process.exit` for the test; records each call's code and whether the loop was closed by then. */
  function spyExit(loop: EventLoop) {
    // The runner answers SIGINT only on the main thread and when nothing else listens.
    expect(isMainThread, "these tests need vitest's forks pool").toBe(true);
    expect(process.listenerCount("SIGINT"), "nothing else may listen for SIGINT").toBe(0);
    const exits: { code: unknown; loopClosed: boolean }[] = [];
    vi.spyOn(process, "exit").mockImplementation(((code?: number) => {
      exits.push({ code, loopClosed: loop.isClosed() });
    }) as never);
    return exits;
  }

  it("documented difference: SIGINT while main awaits a future cancels the future and main, and a main that lets the cancellation out ends the process with code 130 after the runner closed (asyncio raises KeyboardInterrupt) (test_interrupt_wait)", async () => {
    const loop = track(new VirtualTimeLoop());
    const exits = spyExit(loop);
    const runner = new Runner({ loop });
    const future = loop.createFuture<void>();
    loop.callLater(100, () => process.emit("SIGINT"));
    const steps: string[] = [];
    const error = await failure(() =>
      runner.run(async () => {
        try {
          await future;
        } catch (e) {
          steps.push(e instanceof CancelledError ? "cancelled" : "other");
        }
        throw new CancelledError();
      }),
    );
    expect(steps).toEqual(["cancelled"]);
    expect(future.cancelled()).toBe(true);
    expect(exits).toEqual([{ code: 130, loopClosed: true }]);
    expect(error).toBeInstanceOf(CancelledError);
    expect(process.listenerCount("SIGINT")).toBe(0);
  });

  it("documented difference: SIGINT while main spins on sleep(0) cancels it; a main that ends cancelled ends the process with code 130 (asyncio raises KeyboardInterrupt) (test_interrupt_call_soon)", async () => {
    const loop = track(new VirtualTimeLoop());
    const exits = spyExit(loop);
    const runner = new Runner({ loop });
    let spins = 0;
    const error = await failure(() =>
      runner.run(async () => {
        try {
          for (;;) {
            await sleep(0);
            // Time never moves while main spins, so the signal comes from a loop callback.
            if (++spins === 3) loop.callSoon(() => process.emit("SIGINT"));
          }
        } catch (e) {
          if (!(e instanceof CancelledError)) throw e;
        }
        throw new CancelledError();
      }),
    );
    expect(spins).toBeGreaterThanOrEqual(3);
    expect(exits).toEqual([{ code: 130, loopClosed: true }]);
    expect(error).toBeInstanceOf(CancelledError);
  });

  it("a main that catches the SIGINT cancellation and returns: run resolves to its value and nothing exits (test_interrupt_wait)", async () => {
    const loop = track(new VirtualTimeLoop());
    const exits = spyExit(loop);
    const runner = new Runner({ loop });
    const future = loop.createFuture<void>();
    loop.callLater(100, () => process.emit("SIGINT"));
    const result = await runner.run(async () => {
      try {
        await future;
        return "finished";
      } catch {
        return "swallowed";
      }
    });
    expect(result).toBe("swallowed");
    expect(exits).toEqual([]);
    expect(loop.isClosed()).toBe(false);
    await runner.close();
  });

  it("SIGINT arriving after code already cancelled main: run rejects with CancelledError and the process does not exit (test_interrupt_cancelled_task)", async () => {
    const loop = track(new VirtualTimeLoop());
    const exits = spyExit(loop);
    const runner = new Runner({ loop });
    const error = await failure(() =>
      runner.run(async () => {
        const main = currentTask()!;
        createTask(async () => {
          await sleep(0);
          main.cancel();
          process.emit("SIGINT");
        });
        await sleep(10_000);
      }),
    );
    expect(error).toBeInstanceOf(CancelledError);
    expect(exits).toEqual([]);
    await runner.close();
  });
});

