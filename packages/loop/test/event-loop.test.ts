import { AsyncLocalStorage } from "node:async_hooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ExceptionContext } from "@aiots/core";
import { sleep } from "@aiots/future";
import { EventLoop, VirtualTimeLoop, getRunningLoop, run } from "@aiots/loop";

/** One host macrotask: a loop iteration scheduled before it has run when it resolves. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await turn();
};
const onVirtualLoop = <T>(fn: () => Promise<T>) => run(fn, { loop: new VirtualTimeLoop() });

const loops: EventLoop[] = [];
/** A fresh host loop, closed after the test. */
function hostLoop(): EventLoop {
  const loop = new EventLoop();
  loops.push(loop);
  return loop;
}

afterEach(() => {
  vi.restoreAllMocks();
  for (const loop of loops.splice(0)) if (!loop.isRunning()) loop.close();
});

describe("callSoon", () => {
  it("runs callbacks first in, first out, with their arguments", async () => {
    const loop = hostLoop();
    const steps: string[] = [];
    for (const name of ["a", "b", "c", "d"]) loop.callSoon((n: string, m: number) => steps.push(`${n}${m}`), name, 1);
    await turn();
    expect(steps).toEqual(["a1", "b1", "c1", "d1"]);
  });

  it("runs callbacks scheduled during an iteration in the next one, after a host macrotask", async () => {
    const loop = hostLoop();
    const steps: string[] = [];
    loop.callSoon(() => {
      steps.push("a");
      loop.callSoon(() => steps.push("c"));
    });
    loop.callSoon(() => steps.push("b"));
    // Queued after the loop's first iteration: it runs between the two iterations.
    setImmediate(() => steps.push("host"));
    await turns(2);
    expect(steps).toEqual(["a", "b", "host", "c"]);
  });

  it("a callback that reschedules itself forever does not starve the host", async () => {
    const loop = hostLoop();
    let runs = 0;
    let handle = loop.callSoon(function again() {
      runs++;
      handle = loop.callSoon(again);
    });
    await turns(3);
    handle.cancel();
    expect(runs).toBeGreaterThanOrEqual(1);
    expect(runs).toBeLessThanOrEqual(3);
  });

  it("runs the callbacks whether or not the loop is running", async () => {
    const loop = hostLoop();
    const steps: string[] = [];
    loop.callSoon(() => steps.push(`running: ${loop.isRunning()}`));
    await turn();
    expect(steps).toEqual(["running: false"]);
  });

  it("a callback sees its loop as the running loop", async () => {
    const loop = hostLoop();
    let seen: unknown;
    loop.callSoon(() => (seen = getRunningLoop()));
    await turn();
    expect(seen).toBe(loop);
  });
});

describe("the async context of loop callbacks", () => {
  it("a value a callback sets with enterWith is seen by the later callbacks of its iteration only: never by a later iteration or another loop", async () => {
    const als = new AsyncLocalStorage<string>();
    const seen: (string | undefined)[] = [];
    const loop = new VirtualTimeLoop();
    const other = new VirtualTimeLoop();
    const record = () => {
      seen.push(als.getStore());
      als.enterWith("leaked");
    };
    loop.callSoon(record);
    loop.callSoon(record); // same iteration
    loop.callLater(5, record); // a later iteration
    const fut = loop.createFuture<void>();
    fut.addDoneCallback(record);
    fut.addDoneCallback(record); // done callbacks, one iteration
    loop.callLater(10, () => fut.setResult());
    await loop.advance(20);
    other.callSoon(record);
    await other.advance(0);
    // asyncio gives every callback a copy of its own; here callbacks of one iteration share one.
    expect(seen).toEqual([undefined, "leaked", undefined, undefined, "leaked", undefined]);
    expect(als.getStore()).toBeUndefined();
    loop.close();
    other.close();
  });

  it("a task still runs in the context its creator had, whatever a callback set before it", async () => {
    const als = new AsyncLocalStorage<string>();
    const loop = new VirtualTimeLoop();
    loop.callSoon(() => als.enterWith("from a callback"));
    const task = als.run("creator", () => loop.createTask(async () => als.getStore()));
    expect(await loop.runUntilComplete(task)).toBe("creator");
    loop.close();
  });
});

describe("code a Runner's callback started, running between two runs", () => {
  it("finds no running loop, so a new run() is allowed", async () => {
    const { Runner } = await import("@aiots/loop");
    const runner = new Runner({ loop: new VirtualTimeLoop() });
    let between: Promise<string> | undefined;
    // Opened once the first run has returned: the callback's code goes on only then (a timer
    // instead would race with the run's shutdown on a busy machine).
    let open!: () => void;
    const afterFirstRun = new Promise<void>((resolve) => (open = resolve));
    await runner.run(async () => {
      getRunningLoop().callSoon(() => {
        between = afterFirstRun.then(() => run(async () => "inner run"));
      });
      await sleep(0);
    });
    open();
    expect(await between).toBe("inner run");
    expect(await runner.run(async () => "second run")).toBe("second run");
    runner.close();
  });
});

describe("Handle", () => {
  it("a cancelled handle never runs, and says it was cancelled", async () => {
    const loop = hostLoop();
    const steps: string[] = [];
    loop.callSoon(() => steps.push("a"));
    const b = loop.callSoon(() => steps.push("b"));
    loop.callSoon(() => steps.push("c"));
    expect(b.cancelled()).toBe(false);
    b.cancel();
    b.cancel(); // a second cancel does nothing
    expect(b.cancelled()).toBe(true);
    await turn();
    expect(steps).toEqual(["a", "c"]);
  });

  it("a callback can cancel a later one of the same batch", async () => {
    const loop = hostLoop();
    const steps: string[] = [];
    loop.callSoon(() => {
      steps.push("a");
      b.cancel();
    });
    const b = loop.callSoon(() => steps.push("b"));
    await turn();
    expect(steps).toEqual(["a"]);
  });

  it("shows what it will call and whether it was cancelled", () => {
    const loop = hostLoop();
    const h = loop.callSoon(function tick() {});
    expect(String(h)).toBe("Handle [tick]");
    h.cancel();
    expect(String(h)).toBe("Handle [cancelled]");
    const v = new VirtualTimeLoop();
    const t = v.callAt(250, function ring() {});
    expect(Object.prototype.toString.call(t)).toBe("[object TimerHandle]");
    expect(String(t)).toBe("TimerHandle [when: 250, ring]");
    v.close();
  });
});

describe("callLater and callAt", () => {
  it("run timers in deadline order, equal deadlines first in, first out", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      const log = (name: string) => steps.push(`${name}@${loop.time()}`);
      loop.callLater(30, log, "c");
      loop.callAt(10, log, "a1");
      loop.callLater(20, log, "b");
      loop.callLater(10, log, "a2");
      loop.callAt(10, log, "a3");
      await sleep(100);
    });
    expect(steps).toEqual(["a1@10", "a2@10", "a3@10", "b@20", "c@30"]);
  });

  it("when() is the loop time the timer is due at", async () => {
    const loop = new VirtualTimeLoop({ start: 1000 });
    expect(loop.callLater(100, () => {}).when()).toBe(1100);
    expect(loop.callAt(5, () => {}).when()).toBe(5);
    expect(loop.callLater(Infinity, () => {}).when()).toBe(Infinity);
    const host = hostLoop();
    const before = host.time();
    const when = host.callLater(50, () => {}).when();
    expect(when).toBeGreaterThanOrEqual(before + 50);
    expect(when).toBeLessThanOrEqual(host.time() + 50);
    loop.close();
  });

  it("a cancelled timer never runs", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      loop.callLater(10, () => steps.push("a"));
      const b = loop.callLater(20, () => steps.push("b"));
      loop.callLater(30, () => {
        steps.push("c");
        d.cancel();
      });
      const d = loop.callLater(30, () => steps.push("d"));
      b.cancel();
      expect(b.cancelled()).toBe(true);
      await sleep(100);
    });
    expect(steps).toEqual(["a", "c"]);
  });

  it("a negative delay means now, still in deadline order (asyncio)", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      loop.callLater(-1, () => steps.push(`a@${loop.time()}`));
      loop.callLater(-2, () => steps.push(`b@${loop.time()}`));
      loop.callAt(-Infinity, () => steps.push(`c@${loop.time()}`));
      await sleep(0);
      await sleep(0);
    });
    expect(steps).toEqual(["c@0", "b@0", "a@0"]);
  });

  it("a timer due now runs on the host loop within a few iterations", async () => {
    const loop = hostLoop();
    const steps: string[] = [];
    loop.callLater(-10, () => steps.push("late"));
    loop.callAt(loop.time() - 1, () => steps.push("at"));
    // A deadline in the past is due at once: no host timer wait is needed.
    await turns(3);
    expect(steps).toEqual(["late", "at"]);
  });

  it("an Infinity delay never fires and does not stop the loop from idling", async () => {
    const steps: string[] = [];
    const loop = new VirtualTimeLoop();
    await run(async () => {
      loop.callLater(Infinity, () => steps.push("never"));
      loop.callAt(Infinity, () => steps.push("never either"));
      await sleep(1_000_000);
      steps.push(`woke@${loop.time()}`);
    }, { loop });
    expect(steps).toEqual(["woke@1000000"]);
  });

  it("delays above 2^31-1 ms fire late, never early, in deadline order", async () => {
    const big = 2 ** 31 - 1;
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      const log = (name: string) => steps.push(`${name}@${loop.time()}`);
      loop.callLater(big * 3, log, "3x");
      loop.callLater(big + 1, log, "max+1");
      loop.callLater(big, log, "max");
      await sleep(big * 4);
    });
    expect(steps).toEqual([`max@${big}`, `max+1@${big + 1}`, `3x@${big * 3}`]);
  });

  it("arms the host timer for at most 2^31-1 ms, so a huge delay cannot fire at once", () => {
    const spy = vi.spyOn(globalThis, "setTimeout");
    const loop = hostLoop();
    loop.callLater(2 ** 40, () => {});
    expect(spy).toHaveBeenCalledTimes(1);
    const delay = spy.mock.calls[0]![1];
    expect(delay).toBe(2 ** 31 - 1);
  });

  it("when the clamped host timer fires before the deadline, nothing runs and the timer is re-armed", () => {
    const spy = vi.spyOn(globalThis, "setTimeout");
    const loop = hostLoop();
    const cb = vi.fn();
    loop.callLater(2 ** 40, cb);
    // Play the host firing the 2^31-1 ms timer (without waiting 24 days for it).
    clearTimeout(loop._hostTimer);
    loop._onHostTimer();
    expect(cb).not.toHaveBeenCalled();
    expect(spy).toHaveBeenCalledTimes(2);
    expect(spy.mock.calls[1]![1]).toBe(2 ** 31 - 1);
    expect(loop._hostTimer).toBeDefined();
  });

  it("one host timer serves thousands of timers", () => {
    const spy = vi.spyOn(globalThis, "setTimeout");
    const loop = hostLoop();
    for (let i = 0; i < 2000; i++) loop.callLater(10_000 + i, () => {});
    expect(spy).toHaveBeenCalledTimes(1);
    // An earlier deadline re-arms the one timer.
    loop.callLater(5_000, () => {});
    expect(spy).toHaveBeenCalledTimes(2);
  });
});

describe("bad input", () => {
  it("throws a TypeError at the call for a callback that is not a function", () => {
    const loop = hostLoop();
    expect(() => loop.callSoon(42 as never)).toThrow(TypeError);
    expect(() => loop.callSoon(undefined as never)).toThrow(/callSoon callback must be a function, got undefined/);
    expect(() => loop.callLater(10, "f" as never)).toThrow(/callLater callback must be a function/);
    expect(() => loop.callAt(10, null as never)).toThrow(TypeError);
  });

  it("throws at the call for a delay that is NaN or not a number", () => {
    const loop = hostLoop();
    expect(() => loop.callLater(NaN, () => {})).toThrow(RangeError);
    expect(() => loop.callLater(NaN, () => {})).toThrow(/callLater delay must not be NaN/);
    expect(() => loop.callLater("10" as never, () => {})).toThrow(TypeError);
    expect(() => loop.callLater(undefined as never, () => {})).toThrow(/callLater delay must be a number/);
    expect(() => loop.callAt(NaN, () => {})).toThrow(RangeError);
    expect(() => loop.callAt(null as never, () => {})).toThrow(TypeError);
    expect(loop._timers.size).toBe(0);
  });

  it("refuses an exception handler that is not a function or null", () => {
    const loop = hostLoop();
    expect(() => loop.setExceptionHandler("spam" as never)).toThrow(TypeError);
    expect(loop.getExceptionHandler()).toBeNull();
  });
});

describe("exception handler", () => {
  it("a throwing callback goes to the handler as (loop, context) and the loop keeps running", async () => {
    const loop = hostLoop();
    const seen: [unknown, ExceptionContext][] = [];
    const handler = (l: unknown, ctx: ExceptionContext) => seen.push([l, ctx]);
    loop.setExceptionHandler(handler);
    expect(loop.getExceptionHandler()).toBe(handler);
    const steps: string[] = [];
    const boom = new Error("boom");
    const h = loop.callSoon(function zeroError() {
      throw boom;
    });
    loop.callSoon(() => steps.push("after"));
    await turn();
    loop.callSoon(() => steps.push("next iteration"));
    await turn();
    expect(steps).toEqual(["after", "next iteration"]);
    expect(seen).toHaveLength(1);
    const [l, ctx] = seen[0]!;
    expect(l).toBe(loop);
    expect(ctx.message).toMatch(/Exception in callback zeroError/);
    expect(ctx.exception).toBe(boom);
    expect(ctx.handle).toBe(h);
  });

  it("an async callback that rejects goes to the handler too, not to the process", async () => {
    const loop = hostLoop();
    const seen: ExceptionContext[] = [];
    loop.setExceptionHandler((_l, ctx) => seen.push(ctx));
    const boom = new Error("async boom");
    const h = loop.callSoon(async function failsLater() {
      await null;
      throw boom;
    });
    loop.callSoon(async () => "fine");
    await turn();
    await turn();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.message).toMatch(/Exception in callback failsLater/);
    expect(seen[0]!.exception).toBe(boom);
    expect(seen[0]!.handle).toBe(h);
  });

  it("a throwing timer callback goes to the handler too", async () => {
    const seen: ExceptionContext[] = [];
    const loop = new VirtualTimeLoop();
    loop.setExceptionHandler((_l, ctx) => seen.push(ctx));
    const steps: string[] = [];
    await run(async () => {
      loop.callLater(10, () => {
        throw new TypeError("bad");
      });
      loop.callLater(10, () => steps.push("same time"));
      await sleep(20);
      steps.push("main done");
    }, { loop });
    expect(steps).toEqual(["same time", "main done"]);
    expect(seen.map((c) => (c.exception as Error).message)).toEqual(["bad"]);
  });

  it("without a handler, errors go to defaultExceptionHandler, which prints them", async () => {
    const loop = hostLoop();
    const printed = vi.spyOn(console, "error").mockImplementation(() => {});
    const boom = new Error("boom");
    loop.callSoon(function failing() {
      throw boom;
    });
    await turn();
    expect(printed).toHaveBeenCalledTimes(1);
    const args = printed.mock.calls[0]!;
    expect(String(args[0])).toMatch(/Exception in callback failing/);
    expect(args).toContain(boom);
  });

  it("setExceptionHandler(null) restores the default handler", async () => {
    const loop = hostLoop();
    const custom = vi.fn();
    loop.setExceptionHandler(custom);
    loop.setExceptionHandler(null);
    expect(loop.getExceptionHandler()).toBeNull();
    const printed = vi.spyOn(console, "error").mockImplementation(() => {});
    loop.callExceptionHandler({ message: "something broke" });
    expect(custom).not.toHaveBeenCalled();
    expect(printed).toHaveBeenCalledWith("something broke");
  });

  it("callExceptionHandler passes the context as given to the handler", () => {
    const loop = hostLoop();
    const handler = vi.fn();
    loop.setExceptionHandler(handler);
    const context = { message: "m", exception: new Error("e"), extra: 1 };
    loop.callExceptionHandler(context);
    expect(handler).toHaveBeenCalledTimes(1);
    expect(handler.mock.calls[0]![0]).toBe(loop);
    expect(handler.mock.calls[0]![1]).toBe(context);
  });

  it("defaultExceptionHandler prints the message, the extra fields and the error", () => {
    const loop = hostLoop();
    const printed = vi.spyOn(console, "error").mockImplementation(() => {});
    const error = new Error("e");
    loop.defaultExceptionHandler({ message: "it failed", exception: error, where: "here" });
    expect(printed).toHaveBeenCalledWith("it failed", "where: here", error);
    loop.defaultExceptionHandler({ message: "" });
    expect(printed).toHaveBeenLastCalledWith("Unhandled error in event loop");
    loop.defaultExceptionHandler({ message: "nested", context: { message: "inner", code: 7 } });
    expect(printed).toHaveBeenLastCalledWith("nested", "context: { message: 'inner', code: 7 }");
  });

  it("a throwing handler falls back to the default handler, with the original context", async () => {
    const loop = hostLoop();
    const printed = vi.spyOn(console, "error").mockImplementation(() => {});
    const handlerError = new Error("spam");
    loop.setExceptionHandler(() => {
      throw handlerError;
    });
    const original = new Error("zero");
    const steps: string[] = [];
    loop.callSoon(() => {
      throw original;
    });
    loop.callSoon(() => steps.push("still running"));
    await turn();
    expect(steps).toEqual(["still running"]);
    expect(printed).toHaveBeenCalledTimes(1);
    const args = printed.mock.calls[0]!;
    expect(args[0]).toBe("Unhandled error in exception handler");
    expect(args).toContain(handlerError);
    expect(args.some((a) => typeof a === "string" && a.startsWith("context: "))).toBe(true);
  });

  it("a default handler that throws does not break the loop either", async () => {
    class Fragile extends EventLoop {
      override defaultExceptionHandler(): void {
        throw new Error("default broke");
      }
    }
    const loop = new Fragile();
    loops.push(loop);
    const printed = vi.spyOn(console, "error").mockImplementation(() => {});
    const steps: string[] = [];
    loop.callSoon(() => {
      throw new Error("first");
    });
    loop.callSoon(() => steps.push("after"));
    await turn();
    expect(steps).toEqual(["after"]);
    expect(printed).toHaveBeenCalled();
    expect(String(printed.mock.calls[0]![0])).toMatch(/^Exception in default exception handler$/);
    // A custom handler that throws, falling back to a default that throws too.
    loop.setExceptionHandler(() => {
      throw new Error("custom broke");
    });
    loop.callSoon(() => {
      throw new Error("second");
    });
    loop.callSoon(() => steps.push("after again"));
    await turn();
    expect(steps).toEqual(["after", "after again"]);
    expect(String(printed.mock.lastCall![0])).toMatch(/while handling an unexpected error in custom exception handler/);
  });
});

describe("runUntilComplete", () => {
  it("runs a function as a task and resolves to its result", async () => {
    const loop = hostLoop();
    const steps: boolean[] = [];
    const result = await loop.runUntilComplete(async () => {
      steps.push(loop.isRunning());
      await sleep(0);
      return 42;
    });
    expect(result).toBe(42);
    expect(steps).toEqual([true]);
    expect(loop.isRunning()).toBe(false);
  });

  it("waits for a future and resolves to its result", async () => {
    const loop = hostLoop();
    const future = loop.createFuture<string>();
    loop.callSoon(() => loop.callSoon(() => future.setResult("done")));
    await expect(loop.runUntilComplete(future)).resolves.toBe("done");
  });

  it("waits for a promise and resolves to its value", async () => {
    const loop = hostLoop();
    await expect(loop.runUntilComplete(new Promise<number>((r) => setImmediate(r, 3)))).resolves.toBe(3);
  });

  it("rejects with the error of a function, a future or a promise", async () => {
    const loop = hostLoop();
    const e1 = new Error("fn");
    await expect(
      loop.runUntilComplete(async () => {
        throw e1;
      }),
    ).rejects.toBe(e1);
    const e2 = new Error("future");
    const f = loop.createFuture<void>();
    loop.callSoon(() => f.setException(e2));
    await expect(loop.runUntilComplete(f)).rejects.toBe(e2);
    const e3 = new Error("promise");
    await expect(loop.runUntilComplete(Promise.reject(e3))).rejects.toBe(e3);
  });

  it("rejects with a TypeError for something that is not awaitable", async () => {
    const loop = hostLoop();
    expect(() => loop.runUntilComplete("blah" as never)).toThrow(TypeError);
    expect(loop.isRunning()).toBe(false);
  });

  it("throws while the loop is already running", async () => {
    const loop = hostLoop();
    await loop.runUntilComplete(async () => {
      expect(() => loop.runUntilComplete(async () => 1)).toThrow(/already running/);
      expect(() => loop.runForever()).toThrow(/already running/);
    });
  });

  it("rejects when stop() ends the run before the future is done", async () => {
    const loop = hostLoop();
    const future = loop.createFuture<void>();
    loop.callSoon(() => loop.stop());
    await expect(loop.runUntilComplete(future)).rejects.toThrow(/stopped before Future completed/);
    expect(future.done()).toBe(false);
  });

  it("resolves for a future that is already done", async () => {
    const loop = hostLoop();
    const future = loop.createFuture<number>();
    future.setResult(5);
    await expect(loop.runUntilComplete(future)).resolves.toBe(5);
  });
});

describe("runForever and stop", () => {
  it("runForever returns after the iteration in which stop() was called", async () => {
    const loop = hostLoop();
    const steps: string[] = [];
    loop.callSoon(() => steps.push("a"));
    loop.callSoon(() => {
      steps.push("stop");
      loop.stop();
      loop.callSoon(() => steps.push("next iteration"));
    });
    loop.callSoon(() => steps.push("b"));
    const running = loop.runForever();
    expect(loop.isRunning()).toBe(true);
    await running;
    steps.push("returned");
    expect(loop.isRunning()).toBe(false);
    await turn();
    // The loop still serves callbacks when it is not running.
    expect(steps).toEqual(["a", "stop", "b", "returned", "next iteration"]);
  });

  it("stop() before runForever makes it run one iteration and return (asyncio)", async () => {
    const loop = hostLoop();
    const steps: string[] = [];
    loop.stop();
    await turns(2);
    loop.callSoon(() => steps.push("ran"));
    const running = loop.runForever();
    await turns(3);
    expect(loop.isRunning()).toBe(false);
    await running;
    expect(steps).toEqual(["ran"]);
  });

  it("a run stopped in the iteration its future completes does not leave a stop for the next run", async () => {
    const loop = hostLoop();
    const future = loop.createFuture<string>();
    loop.callSoon(() => {
      // Both in one iteration: the run ends by stop(), while the future's own done
      // callback (which stops the loop) is still queued.
      future.setResult("first");
      loop.stop();
    });
    expect(await loop.runUntilComplete(future)).toBe("first");
    await turns(2);
    const result = await loop.runUntilComplete(async () => {
      for (let i = 0; i < 5; i++) await sleep(0);
      return "second";
    });
    expect(result).toBe("second");
  });

  it("a loop can be run again after it was stopped", async () => {
    const loop = hostLoop();
    expect(await loop.runUntilComplete(async () => 1)).toBe(1);
    loop.callSoon(() => loop.stop());
    await loop.runForever();
    expect(await loop.runUntilComplete(async () => 2)).toBe(2);
  });

  it("isRunning is true only inside runForever / runUntilComplete", async () => {
    const loop = hostLoop();
    expect(loop.isRunning()).toBe(false);
    const seen: boolean[] = [];
    loop.callSoon(() => {
      seen.push(loop.isRunning());
      loop.stop();
    });
    await loop.runForever();
    expect(seen).toEqual([true]);
    expect(loop.isRunning()).toBe(false);
  });
});

describe("close", () => {
  it("drops scheduled callbacks and timers, and refuses new ones", async () => {
    const loop = new EventLoop();
    const steps: string[] = [];
    loop.callSoon(() => steps.push("soon"));
    loop.callLater(1, () => steps.push("later"));
    expect(loop.isClosed()).toBe(false);
    loop.close();
    expect(loop.isClosed()).toBe(true);
    expect(loop._hostTimer).toBeUndefined();
    loop.close(); // closing twice is fine
    await turns(3);
    expect(steps).toEqual([]);
    expect(() => loop.callSoon(() => {})).toThrow(/closed/);
    expect(() => loop.callLater(1, () => {})).toThrow(/closed/);
    expect(() => loop.callAt(1, () => {})).toThrow(/closed/);
    expect(() => loop.createTask(async () => {})).toThrow(/closed/);
    expect(() => loop.runForever()).toThrow(/closed/);
    expect(() => loop.runUntilComplete(async () => {})).toThrow(/closed/);
  });

  it("cancelling a timer that close() dropped changes nothing", () => {
    const loop = new EventLoop();
    const handles = [loop.callLater(10, () => {}), loop.callLater(20, () => {})];
    loop.close();
    for (const h of handles) h.cancel();
    expect(handles.every((h) => h.cancelled())).toBe(true);
    expect(loop._timers._cancelled).toBe(0);
    expect(String(loop)).toBe("EventLoop [closed, ready: 0, timers: 0, debug: false]");
  });

  it("throws while the loop is running", async () => {
    const loop = hostLoop();
    await loop.runUntilComplete(async () => {
      expect(() => loop.close()).toThrow(/running/);
    });
    expect(loop.isClosed()).toBe(false);
  });

  it("a callback that closes the loop drops the rest of its batch", async () => {
    const loop = new EventLoop();
    const steps: string[] = [];
    const seen: ExceptionContext[] = [];
    loop.setExceptionHandler((_l, ctx) => seen.push(ctx));
    loop.callSoon(() => {
      steps.push("a");
      loop.close();
    });
    loop.callSoon(() => steps.push("b"));
    await turns(2);
    expect(steps).toEqual(["a"]);
    expect(seen).toEqual([]);
  });
});

describe("timer heap hygiene", () => {
  it("cancelled timers are compacted away instead of piling up", () => {
    const loop = hostLoop();
    const handles = Array.from({ length: 1000 }, (_, i) => loop.callLater(10_000 + i, () => {}));
    for (let i = 0; i < 900; i++) {
      handles[i]!.cancel();
      const size = loop._timers.size;
      const live = 1000 - i - 1;
      // What the heap holds beyond the live timers is bounded by half of it (or a small floor).
      expect(size - loop._timers._cancelled).toBe(live);
      expect(loop._timers._cancelled).toBeLessThanOrEqual(Math.max(64, size / 2));
    }
    expect(loop._timers.size).toBeLessThan(250);
  });

  it("schedule-then-cancel churn keeps the heap small", () => {
    const loop = hostLoop();
    loop.callLater(60_000, () => {});
    for (let i = 0; i < 10_000; i++) loop.callLater(1000 + i, () => {}).cancel();
    expect(loop._timers.size).toBeLessThanOrEqual(2 * 64 + 2);
  });

  it("after every timer is cancelled no host timer stays armed", () => {
    const loop = hostLoop();
    const handles = [loop.callLater(5, () => {}), loop.callLater(1e9, () => {}), loop.callAt(Infinity, () => {})];
    expect(loop._hostTimer).toBeDefined();
    for (const h of handles) h.cancel();
    expect(loop._hostTimer).toBeUndefined();
    expect(loop._timers.size).toBe(0);
  });

  it("cancelling the earliest timer re-arms the host timer for the next one once it fires", async () => {
    const loop = new VirtualTimeLoop();
    const steps: string[] = [];
    await run(async () => {
      const first = loop.callLater(10, () => steps.push("first"));
      loop.callLater(20, () => steps.push(`second@${loop.time()}`));
      first.cancel();
      await sleep(30);
    }, { loop });
    expect(steps).toEqual(["second@20"]);
    expect(loop._timers.size).toBe(0);
  });
});

describe("state display", () => {
  it("a loop shows its state", async () => {
    const loop = hostLoop();
    loop.callSoon(() => {});
    loop.callLater(100, () => {});
    expect(Object.prototype.toString.call(loop)).toBe("[object EventLoop]");
    expect(String(loop)).toBe("EventLoop [idle, ready: 1, timers: 1, debug: false]");
    loop.close();
    expect(String(loop)).toBe("EventLoop [closed, ready: 0, timers: 0, debug: false]");
    expect(String(new VirtualTimeLoop())).toMatch(/^VirtualTimeLoop \[idle/);
  });
});
