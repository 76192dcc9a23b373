// Port of CPython Lib/test/test_asyncio/test_base_events.py + test_runners.py
import { describe, test, expect, vi } from "vitest";
import {
  EventLoop, VirtualTimeLoop, newEventLoop, getRunningLoop, getEventLoop, run, Runner,
  createTask, sleep, currentTask, CancelledError,
} from "aiots";
import type { AbstractEventLoop } from "aiots";
import { vrun, runBriefly, caught } from "./helpers.js";

describe("test_base_events: callbacks & timers", () => {
  test("test_call_soon FIFO with args", () => vrun(async () => {
    const loop = getRunningLoop();
    const calls: unknown[] = [];
    loop.callSoon((a: number, b: string) => calls.push([a, b]), 1, "a");
    loop.callSoon((a: number) => calls.push(a), 2);
    loop.callSoon(() => calls.push(3));
    expect(calls).toEqual([]);
    await runBriefly();
    expect(calls).toEqual([[1, "a"], 2, 3]);
  }));

  test("test_call_later ordering by deadline then FIFO", () => vrun(async () => {
    const loop = getRunningLoop();
    const calls: string[] = [];
    loop.callLater(20, () => calls.push("20a"));
    loop.callLater(10, () => calls.push("10"));
    loop.callLater(20, () => calls.push("20b"));
    loop.callLater(0, () => calls.push("0"));
    loop.callSoon(() => calls.push("soon"));
    await sleep(50);
    expect(calls).toEqual(["soon", "0", "10", "20a", "20b"].filter(Boolean).sort((a, b) => order(a) - order(b)));
    function order(x: string) { return ["soon", "0", "10", "20a", "20b"].indexOf(x); }
  }));

  test("test_call_later: time advances exactly (virtual)", () => vrun(async () => {
    const loop = getRunningLoop();
    const t0 = loop.time();
    let at = -1;
    const h = loop.callLater(100, () => { at = loop.time(); });
    expect(h.when()).toBe(t0 + 100);
    await sleep(200);
    expect(at).toBe(t0 + 100);
  }));

  test("test_call_at", () => vrun(async () => {
    const loop = getRunningLoop();
    const when = loop.time() + 500;
    let at = -1;
    const h = loop.callAt(when, (x: number) => { at = loop.time() + x; }, 0);
    expect(h.when()).toBe(when);
    await sleep(1000);
    expect(at).toBe(when);
  }));

  test("call_at in the past runs soon", () => vrun(async () => {
    const loop = getRunningLoop();
    let ran = false;
    loop.callAt(loop.time() - 1000, () => { ran = true; });
    await runBriefly();
    expect(ran).toBe(true);
  }));

  test("call_later negative delay means now", () => vrun(async () => {
    const loop = getRunningLoop();
    const t0 = loop.time();
    let ran = -1;
    loop.callLater(-5, () => { ran = loop.time(); });
    await runBriefly();
    expect(ran).toBe(t0);
  }));

  test("test_handle cancel", () => vrun(async () => {
    const loop = getRunningLoop();
    const calls: number[] = [];
    const h = loop.callSoon(() => calls.push(1));
    const t = loop.callLater(10, () => calls.push(2));
    expect(h.cancelled()).toBe(false);
    h.cancel();
    t.cancel();
    expect(h.cancelled()).toBe(true);
    expect(t.cancelled()).toBe(true);
    await sleep(50);
    expect(calls).toEqual([]);
    h.cancel(); // idempotent
  }));

  test("timer handle cancel from another callback before due", () => vrun(async () => {
    const loop = getRunningLoop();
    const calls: string[] = [];
    const t = loop.callLater(10, () => calls.push("timer"));
    loop.callLater(5, () => t.cancel());
    await sleep(20);
    expect(calls).toEqual([]);
  }));

  test("invalid arguments throw at the call", () => vrun(async () => {
    const loop = getRunningLoop();
    expect(() => loop.callLater(NaN, () => {})).toThrow();
    expect(() => loop.callAt(NaN, () => {})).toThrow();
    expect(() => loop.callSoon(42 as unknown as () => void)).toThrow(TypeError);
    expect(() => loop.callLater("1" as unknown as number, () => {})).toThrow(TypeError);
  }));

  test("time() is monotonic", () => vrun(async () => {
    const loop = getRunningLoop();
    const a = loop.time();
    await sleep(1);
    expect(loop.time()).toBeGreaterThanOrEqual(a);
  }));

  test("callbacks scheduled from a callback run on a later iteration", () => vrun(async () => {
    const loop = getRunningLoop();
    const calls: string[] = [];
    loop.callSoon(() => { calls.push("a"); loop.callSoon(() => calls.push("c")); });
    loop.callSoon(() => calls.push("b"));
    await runBriefly();
    expect(calls).toEqual(["a", "b", "c"]);
  }));

  test("isRunning inside callback", () => vrun(async () => {
    const loop = getRunningLoop();
    expect(loop.isRunning()).toBe(true);
    let r = false;
    loop.callSoon(() => { r = loop.isRunning(); });
    await runBriefly();
    expect(r).toBe(true);
  }));

  test("thousands of timers cost one host timer (host loop)", async () => {
    const spy = vi.spyOn(globalThis, "setTimeout");
    try {
      await run(async () => {
        const loop = getRunningLoop();
        let n = 0;
        const before = spy.mock.calls.length;
        for (let i = 0; i < 2000; i++) loop.callLater(1 + (i % 5), () => { n++; });
        const scheduled = spy.mock.calls.length - before;
        expect(scheduled).toBeLessThanOrEqual(2);
        await sleep(20);
        expect(n).toBe(2000);
      });
    } finally { spy.mockRestore(); }
  });

  test("delay beyond 2^31-1 never fires early (host loop)", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      let fired = false;
      const h = loop.callLater(2 ** 32, () => { fired = true; });
      await sleep(30);
      expect(fired).toBe(false);
      h.cancel();
    });
  });

  test("huge delay in virtual time lands exactly", () => vrun(async () => {
    const loop = getRunningLoop();
    const t0 = loop.time();
    await sleep(2 ** 32);
    expect(loop.time() - t0).toBe(2 ** 32);
  }));
});

describe("test_base_events: exception handler", () => {
  test("test_default_exc_handler_callback: loop keeps running after a throwing callback", () => vrun(async () => {
    const loop = getRunningLoop();
    const seen: unknown[] = [];
    // ambiguity: handler signature. asyncio: handler(loop, context)
    loop.setExceptionHandler((lp: unknown, ctx: { exception?: unknown; message?: string }) => { seen.push([lp, ctx.exception]); });
    const err = new Error("cb boom");
    const calls: number[] = [];
    loop.callSoon(() => { throw err; });
    loop.callSoon(() => calls.push(1));
    await runBriefly();
    expect(calls).toEqual([1]);
    expect(seen).toEqual([[loop, err]]);
  }));

  test("exception handler gets context with exception (signature-agnostic)", () => vrun(async () => {
    const loop = getRunningLoop();
    const args: unknown[][] = [];
    loop.setExceptionHandler((...a: unknown[]) => { args.push(a); });
    const err = new Error("x");
    loop.callSoon(() => { throw err; });
    await runBriefly();
    expect(args.length).toBe(1);
    const ctx = args[0]!.find((a) => a && typeof a === "object" && "exception" in (a as object)) as { exception: unknown; message?: unknown } | undefined;
    expect(ctx?.exception).toBe(err);
  }));

  test("test_set_exc_handler_custom / get / reset", () => vrun(async () => {
    const loop = getRunningLoop();
    expect(loop.getExceptionHandler()).toBeNull();
    const h = () => {};
    loop.setExceptionHandler(h);
    expect(loop.getExceptionHandler()).toBe(h);
    loop.setExceptionHandler(null);
    expect(loop.getExceptionHandler()).toBeNull();
    expect(() => loop.setExceptionHandler("notcallable" as never)).toThrow(TypeError);
  }));

  test("callExceptionHandler calls custom handler with the context", () => vrun(async () => {
    const loop = getRunningLoop();
    const got: unknown[] = [];
    loop.setExceptionHandler((...a: unknown[]) => { got.push(...a); });
    const ctx = { message: "hello", exception: new Error("e") };
    loop.callExceptionHandler(ctx);
    expect(got).toContain(ctx);
  }));

  test("test_set_exc_handler_broken: handler that throws does not break the loop", () => vrun(async () => {
    const loop = getRunningLoop();
    const errSpy = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      loop.setExceptionHandler(() => { throw new Error("handler broken"); });
      const calls: number[] = [];
      loop.callSoon(() => { throw new Error("cb"); });
      loop.callSoon(() => calls.push(1));
      await runBriefly();
      expect(calls).toEqual([1]);
    } finally { errSpy.mockRestore(); }
  }));

  test("defaultExceptionHandler logs and does not throw", () => vrun(async () => {
    const loop = getRunningLoop();
    const spies = [vi.spyOn(console, "error").mockImplementation(() => {}), vi.spyOn(console, "warn").mockImplementation(() => {})];
    try {
      expect(() => loop.defaultExceptionHandler({ message: "msg", exception: new Error("x") })).not.toThrow();
      expect(spies.some((s) => s.mock.calls.length > 0)).toBe(true);
    } finally { spies.forEach((s) => s.mockRestore()); }
  }));

  test("debug mode flags", () => vrun(async () => {
    const loop = getRunningLoop();
    expect(loop.getDebug()).toBe(false);
    loop.setDebug(true);
    expect(loop.getDebug()).toBe(true);
    loop.setDebug(false);
  }));
});

describe("test_base_events: run_until_complete / run_forever / stop / close", () => {
  test("test_run_until_complete with a function", async () => {
    const loop = new VirtualTimeLoop();
    expect(await loop.runUntilComplete(async () => { await sleep(10); return 7; })).toBe(7);
    expect(loop.isRunning()).toBe(false);
    expect(await loop.runUntilComplete(async () => 8)).toBe(8); // reusable
    loop.close();
    expect(loop.isClosed()).toBe(true);
  });

  test("test_run_until_complete with a future", async () => {
    const loop = new VirtualTimeLoop();
    const fut = loop.createFuture<string>();
    loop.callLater(100, () => fut.setResult("done"));
    expect(await loop.runUntilComplete(fut)).toBe("done");
    expect(loop.time()).toBeGreaterThanOrEqual(100);
    loop.close();
  });

  test("test_run_until_complete_error", async () => {
    const loop = new VirtualTimeLoop();
    const err = new Error("x");
    expect(await caught(() => loop.runUntilComplete(async () => { throw err; }))).toBe(err);
    loop.close();
  });

  test("test_run_until_complete_loop_orphan_future_close_loop (host)", async () => {
    const loop = newEventLoop();
    expect(loop).toBeInstanceOf(EventLoop);
    expect(loop.isRunning()).toBe(false);
    expect(await loop.runUntilComplete(async () => { await sleep(1); return getRunningLoop(); })).toBe(loop);
    loop.close();
  });

  test("test_run_forever + stop", async () => {
    const loop = new VirtualTimeLoop();
    const calls: string[] = [];
    loop.callSoon(() => calls.push("a"));
    loop.callLater(50, () => { calls.push("b"); loop.stop(); });
    loop.callLater(100, () => calls.push("c"));
    await loop.runForever();
    expect(calls).toEqual(["a", "b"]);
    expect(loop.isRunning()).toBe(false);
    loop.callLater(100, () => loop.stop());
    await loop.runForever(); // resumes
    expect(calls).toEqual(["a", "b", "c"]);
    loop.close();
  });

  test("test_run_forever_keyboard/ stop before run_forever runs one iteration", async () => {
    const loop = new VirtualTimeLoop();
    const calls: number[] = [];
    loop.callSoon(() => calls.push(1));
    loop.stop();
    await loop.runForever();
    expect(calls).toEqual([1]);
    loop.close();
  });

  test("test_run_until_complete while running throws", () => vrun(async () => {
    const loop = getRunningLoop();
    expect(await caught(() => loop.runUntilComplete(async () => 1))).toBeInstanceOf(Error);
    expect(await caught(() => loop.runForever())).toBeInstanceOf(Error);
  }));

  test("test_close_running_loop throws", () => vrun(async () => {
    const loop = getRunningLoop();
    expect(() => loop.close()).toThrow();
    expect(loop.isClosed()).toBe(false);
  }));

  test("test_close: closed loop refuses work", async () => {
    const loop = new VirtualTimeLoop();
    expect(loop.isClosed()).toBe(false);
    loop.close();
    expect(loop.isClosed()).toBe(true);
    loop.close(); // idempotent
    expect(() => loop.callSoon(() => {})).toThrow();
    expect(() => loop.callLater(1, () => {})).toThrow();
    expect(await caught(() => loop.runUntilComplete(async () => 1))).toBeInstanceOf(Error);
    expect(await caught(() => loop.runForever())).toBeInstanceOf(Error);
  });

  test("VirtualTimeLoop.advance moves time by hand", () => vrun(async () => {
    const loop = getRunningLoop() as VirtualTimeLoop;
    expect(loop).toBeInstanceOf(VirtualTimeLoop);
    const t0 = loop.time();
    // ambiguity: sync or async? awaiting works for both
    await loop.advance(500);
    expect(loop.time() - t0).toBe(500);
  }));

  test("VirtualTimeLoop.advance fires due timers", async () => {
    const loop = new VirtualTimeLoop();
    const calls: number[] = [];
    await loop.runUntilComplete(async () => {
      loop.callLater(100, () => calls.push(loop.time()));
      const t0 = loop.time();
      await loop.advance(150);
      await sleep(0);
      expect(calls).toEqual([t0 + 100]);
    });
    loop.close();
  });
});

describe("running loop / event loop accessors", () => {
  test("getRunningLoop outside a loop throws Error", () => {
    expect(() => getRunningLoop()).toThrow(Error);
  });
  test("getEventLoop inside returns running loop", () => vrun(async () => {
    expect(getEventLoop()).toBe(getRunningLoop());
  }));
  test("getEventLoop outside returns a default loop (same each time)", () => {
    const a = getEventLoop();
    expect(a).toBeInstanceOf(EventLoop);
    expect(getEventLoop()).toBe(a);
  });
  test("running loop is visible in callbacks and in tasks", () => vrun(async () => {
    const loop = getRunningLoop();
    let inCb: unknown;
    loop.callSoon(() => { inCb = getRunningLoop(); });
    const t = createTask(async () => { await sleep(1); return [getRunningLoop()]; });
    expect((await t)[0]).toBe(loop);
    expect(inCb).toBe(loop);
  }));
});

describe("test_runners: run()", () => {
  test("test_asyncio_run_return", async () => {
    expect(await run(async () => { await sleep(0); return 42; })).toBe(42);
  });

  test("test_asyncio_run_raises", async () => {
    const err = new RangeError("spam");
    let loop!: AbstractEventLoop;
    expect(await caught(() => run(async () => { loop = getRunningLoop(); await sleep(0); throw err; }))).toBe(err);
    expect(loop.isClosed()).toBe(true);
  });

  test("run closes the loop it was given", async () => {
    const loop = new VirtualTimeLoop();
    await run(async () => { await sleep(10); }, { loop });
    expect(loop.isClosed()).toBe(true);
  });

  test("test_asyncio_run_only_coro", async () => {
    expect(await caught(() => run(42 as unknown as () => Promise<void>))).toBeInstanceOf(TypeError);
  });

  test("test_asyncio_run_debug", async () => {
    expect(await run(async () => getRunningLoop().getDebug(), { debug: true })).toBe(true);
    expect(await run(async () => getRunningLoop().getDebug())).toBe(false);
  });

  test("test_asyncio_run_from_running_loop", () => vrun(async () => {
    const e = await caught(() => run(async () => 1));
    expect(e).toBeInstanceOf(Error);
  }));

  test("test_asyncio_run_cancels_hanging_tasks", async () => {
    let lo: ReturnType<typeof createTask<void>> | undefined;
    const log: string[] = [];
    await run(async () => {
      lo = createTask(async () => { try { await sleep(1e9); } finally { log.push("finally"); } });
      await sleep(0);
      return 123;
    }, { loop: new VirtualTimeLoop() });
    expect(lo!.done()).toBe(true);
    expect(lo!.cancelled()).toBe(true);
    expect(log).toEqual(["finally"]);
  });

  test("test_asyncio_run_reports_hanging_tasks_errors", async () => {
    const got: unknown[] = [];
    const err = new Error("boom during cancel");
    await run(async () => {
      getRunningLoop().setExceptionHandler((...a: unknown[]) => { got.push(...a); });
      createTask(async () => { try { await sleep(1e9); } catch { throw err; } });
      await sleep(0);
    }, { loop: new VirtualTimeLoop() });
    const ctx = got.find((x) => x && typeof x === "object" && "exception" in (x as object)) as { exception: unknown } | undefined;
    expect(ctx?.exception).toBe(err);
  });

  test("main task is currentTask inside run", async () => {
    await run(async () => { expect(currentTask()).not.toBeNull(); });
  });

  test("run: main cancelled from outside via timer", async () => {
    const e = await caught(() => run(async () => {
      const me = currentTask()!;
      getRunningLoop().callLater(10, () => me.cancel());
      await sleep(1e9);
    }, { loop: new VirtualTimeLoop() }));
    expect(e).toBeInstanceOf(CancelledError);
  });
});

describe("test_runners: Runner", () => {
  test("test_run twice on the same loop", async () => {
    const runner = new Runner();
    const l1 = await runner.run(async () => getRunningLoop());
    const l2 = await runner.run(async () => getRunningLoop());
    expect(l1).toBe(l2);
    expect(runner.getLoop()).toBe(l1);
    await runner.close();
    expect(l1.isClosed()).toBe(true);
  });

  test("test_debug", async () => {
    const runner = new Runner({ debug: true });
    expect(await runner.run(async () => getRunningLoop().getDebug())).toBe(true);
    await runner.close();
  });

  test("test_custom loop", async () => {
    const loop = new VirtualTimeLoop();
    const runner = new Runner({ loop });
    expect(await runner.run(async () => { await sleep(1e6); return getRunningLoop(); })).toBe(loop);
    await runner.close();
  });

  test("test_run_non_coro", async () => {
    const runner = new Runner();
    expect(await caught(() => runner.run(42 as unknown as () => Promise<void>))).toBeInstanceOf(TypeError);
    await runner.close();
  });

  test("test_explicit_close / run after close fails", async () => {
    const runner = new Runner();
    await runner.run(async () => 1);
    await runner.close();
    expect(await caught(() => runner.run(async () => 1))).toBeInstanceOf(Error);
    await runner.close(); // double close ok
  });

  test("test_recursive_run", async () => {
    const runner = new Runner();
    const e = await runner.run(async () => caught(() => runner.run(async () => 1)));
    expect(e).toBeInstanceOf(Error);
    await runner.close();
  });

  test("runner: tasks left over from run() survive to the next run()", async () => {
    const runner = new Runner({ loop: new VirtualTimeLoop() });
    const t = await runner.run(async () => [createTask(async () => { await sleep(100); return 5; })]);
    expect(await runner.run(async () => t[0]!)).toBe(5);
    await runner.close();
  });
});
