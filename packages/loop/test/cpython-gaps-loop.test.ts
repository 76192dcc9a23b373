// Loop-core cases from CPython 3.13's Lib/test/test_asyncio that the other loop tests
// (cpython-events, cpython-port, cpython-runners, event-loop, debug, run) leave out:
// test_runners.py, test_eager_task_factory.py, test_base_events.py (BaseEventLoopTests) and
// test_events.py (HandleTests, TimerTests). Each `it` names the CPython test it ports.
// Written anew for aiots: milliseconds, `handler(loop, context)`, a VirtualTimeLoop wherever
// time matters. Python-only parts (policies, task factories, coroutine objects) are left out;
// where the API has no hook the Python test patches, the intent is ported instead.
import { inspect } from "node:util";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ExceptionContext } from "@aiots/core";
import { currentTask, ensureFuture, sleep } from "@aiots/future";
import type { Task } from "@aiots/future";
import { EventLoop, Runner, TimerCallbackHandle, VirtualTimeLoop, getEventLoop, getRunningLoop, run } from "@aiots/loop";
import { closeTracked, collectUntil, track, turn } from "./helpers.js";

/** A virtual-time loop in debug mode whose exception handler records every context. */
function debugLoop(): { loop: VirtualTimeLoop; seen: ExceptionContext[] } {
  const loop = track(new VirtualTimeLoop());
  loop.setDebug(true);
  const seen: ExceptionContext[] = [];
  loop.setExceptionHandler((_l, ctx) => seen.push(ctx));
  return { loop, seen };
}

afterEach(() => {
  vi.restoreAllMocks();
  closeTracked();
});

describe("run() and Runner (test_runners)", () => {
  it("inside main, after an await, getEventLoop() is the run's own loop (in main, a child task and a callback); afterwards it is not that closed loop (test_asyncio_run_set_event_loop)", async () => {
    // asyncio.run calls set_event_loop(loop), so get_event_loop() anywhere in the run finds it.
    let loop: unknown;
    const seen = await run(async () => {
      await sleep(0);
      loop = getRunningLoop();
      const fromCallback = getRunningLoop().createFuture<unknown>();
      getRunningLoop().callSoon(() => fromCallback.setResult(getEventLoop()));
      const fromChild = await getRunningLoop().createTask(async () => {
        await sleep(0);
        return getEventLoop();
      });
      return [getEventLoop(), fromChild, await fromCallback];
    });
    expect(loop).toBeInstanceOf(EventLoop);
    expect(seen).toEqual([loop, loop, loop]);
    expect((loop as EventLoop).isClosed()).toBe(true);
    const after = getEventLoop();
    expect(after).not.toBe(loop);
    expect(after.isClosed()).toBe(false);
  });

  it("a host that refuses the SIGINT handler does not stop the run: it goes on without Ctrl-C handling (test_signal_install_not_supported_ok)", async () => {
    const realOn = process.on.bind(process);
    const spy = vi.spyOn(process, "on").mockImplementation(((event: string | symbol, listener: (...args: unknown[]) => void) => {
      if (event === "SIGINT") throw new Error("uv_signal_start EINVAL");
      return realOn(event, listener);
    }) as never);
    try {
      const runner = new Runner({ loop: new VirtualTimeLoop() });
      expect(await runner.run(async () => {
        await sleep(10);
        return "ran";
      })).toBe("ran");
      await runner.close();
      expect(spy.mock.calls.some(([event]) => event === "SIGINT")).toBe(true);
      expect(process.listenerCount("SIGINT")).toBe(0);
    } finally {
      spy.mockRestore();
    }
  });

  it("a second close() of a runner is a no-op: it resolves and the loop stays closed (test_double_close)", async () => {
    const runner = new Runner();
    const loop = runner.getLoop();
    await runner.close();
    expect(loop.isClosed()).toBe(true);
    await expect(runner.close()).resolves.toBeUndefined();
    expect(loop.isClosed()).toBe(true);
    expect(() => runner.getLoop()).toThrow(/Runner is closed/);
  });

  it("a Runner run twice never replaces the process's default loop: both mains see the runner's loop, code outside sees the same default loop before, between and after (test_set_event_loop_called_once)", async () => {
    // asyncio's Runner installs its loop with set_event_loop once, not at every run
    // (cpython#95736). aiots has no set_event_loop: the default loop is what outside code
    // gets, and a runner must leave it alone however many times it runs.
    const before = getEventLoop();
    const runner = new Runner();
    const seen: unknown[] = [];
    const main = async () => {
      seen.push(getEventLoop());
      await sleep(0);
      seen.push(getEventLoop());
    };
    await runner.run(main);
    expect(getEventLoop()).toBe(before);
    await runner.run(main);
    expect(seen).toEqual([runner.getLoop(), runner.getLoop(), runner.getLoop(), runner.getLoop()]);
    expect(getEventLoop()).toBe(before);
    await runner.close();
    expect(getEventLoop()).toBe(before);
    expect(before.isClosed()).toBe(false);
  });
});

describe("eager tasks (test_eager_task_factory)", () => {
  it("an eager task that finished and was awaited holds no reference to its function any more, and can still be shown (test_issue122332)", async () => {
    // CPython's eager task cleared its coroutine on completion and get_coro() then crashed;
    // it must return None. aiots has no get_coro: the function must be let go, and the task
    // still be describable.
    const loop = new EventLoop();
    const outcome = await run(
      async () => {
        let fnRef!: WeakRef<object>;
        const task = (() => {
          const fn = async () => "coro result";
          fnRef = new WeakRef(fn);
          return loop.createTask(fn, { eagerStart: true });
        })() as Task<string>;
        const result = await task;
        await collectUntil(() => fnRef.deref() === undefined);
        return { result, done: task.done(), fn: task._fn, collected: fnRef.deref() === undefined, shown: String(task), inspected: inspect(task) };
      },
      { loop },
    );
    expect(outcome.result).toBe("coro result");
    expect(outcome.done).toBe(true);
    expect(outcome.fn).toBeUndefined();
    expect(outcome.collected).toBe(true);
    expect(outcome.shown).toMatch(/^Task \[/);
    expect(outcome.inspected).toMatch(/^Task \[/);
  });
});

describe("BaseEventLoopTests (test_base_events)", () => {
  it("cancelled timers at the head of the heap are dropped by the next iteration; enough cancelled ones are purged at once, leaving only live timers (test__run_once_cancelled_event_cleanup)", () => {
    // asyncio purges when more than 100 timers are scheduled and over half are cancelled;
    // aiots when more than 64 are cancelled and over half: same shape, its own thresholds.
    const loop = track(new VirtualTimeLoop());
    const cb = () => {};
    let live = 1;
    loop.callLater(3000, cb);
    let cancelled = 2;
    for (let i = 0; i < 2; i++) loop.callLater(3600, cb).cancel();
    cancelled += 2;
    for (let i = 0; i < 2; i++) loop.callLater(100, cb).cancel();
    expect(loop._timers._cancelled).toBe(cancelled);
    expect(loop._timers.size).toBe(cancelled + live);

    loop._runOnce();
    cancelled -= 2; // the two at the head
    expect(loop._timers._cancelled).toBe(cancelled);
    expect(loop._timers.size).toBe(cancelled + live);

    // Just enough cancelled timers to cross the threshold with the last one.
    const addLive = 49;
    const addCancelled = 63;
    for (let i = 0; i < addLive; i++) loop.callLater(3600, cb);
    live += addLive;
    const last: TimerCallbackHandle[] = [];
    for (let i = 0; i < addCancelled; i++) last.push(loop.callLater(3600, cb));
    for (const h of last.slice(0, -1)) h.cancel();
    cancelled += addCancelled - 1;
    // Below the threshold, every handle is still scheduled.
    expect(loop._timers.size).toBe(cancelled + live + 1);
    last.at(-1)!.cancel();
    expect(loop._timers.size).toBe(live);
    expect(loop._timers._cancelled).toBe(0);
    expect(loop._timers._heap.size).toBe(live);
  });

  it("debug mode: a task that fails after a sleep, with a done callback that stops the loop but nobody retrieving its error, is reported as never retrieved once collected (test_default_exc_handler_coro)", async () => {
    // asyncio logs this outside debug mode too; aiots watches only in debug mode (API.md).
    const { loop, seen } = debugLoop();
    const error = new RangeError("division by zero");
    (() => {
      const fut = ensureFuture(async () => {
        await sleep(10);
        throw error;
      }, loop);
      fut.addDoneCallback(() => loop.stop());
    })();
    await loop.runForever();
    expect(loop.time()).toBe(10);
    await collectUntil(() => seen.length > 0);
    expect(seen.map((c) => [c.message, c.exception])).toEqual([["Task exception was never retrieved", error]]);
  });

  it("debug mode: the error of the task runUntilComplete made counts as retrieved: nothing is reported when the task is collected after close() (test_run_forever_keyboard_interrupt)", async () => {
    const { loop, seen } = debugLoop();
    class KeyboardInterrupt extends Error {}
    let ref!: WeakRef<object>;
    const error = await loop
      .runUntilComplete(async () => {
        ref = new WeakRef(currentTask()!);
        throw new KeyboardInterrupt("interrupted");
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(KeyboardInterrupt);
    loop.close();
    await collectUntil(() => ref.deref() === undefined);
    await turn();
    expect(ref.deref()).toBeUndefined();
    expect(seen).toEqual([]);
  });

  it("debug mode: the handler gets exactly message, exception, handle and sourceTraceback; after setExceptionHandler(null) it is no longer called and the default handler prints (test_set_exc_handler_custom)", async () => {
    const loop = track(new VirtualTimeLoop());
    loop.setDebug(true);
    function zeroError() {
      throw new RangeError("division by zero");
    }
    expect(loop.getExceptionHandler()).toBeNull();
    const handler = vi.fn();
    loop.setExceptionHandler(handler);
    expect(loop.getExceptionHandler()).toBe(handler);
    const handle = loop.callSoon(zeroError);
    await loop.advance(0);
    expect(handler).toHaveBeenCalledTimes(1);
    const [l, ctx] = handler.mock.calls[0]! as [unknown, ExceptionContext];
    expect(l).toBe(loop);
    expect(Object.keys(ctx).sort()).toEqual(["exception", "handle", "message", "sourceTraceback"]);
    expect(ctx.message).toMatch(/Exception in callback.*zeroError/);
    expect(ctx.exception).toBeInstanceOf(RangeError);
    expect(ctx.handle).toBe(handle);
    expect(typeof ctx.sourceTraceback).toBe("string");

    loop.setExceptionHandler(null);
    const printed = vi.spyOn(console, "error").mockImplementation(() => {});
    loop.callSoon(zeroError);
    await loop.advance(0);
    expect(handler).toHaveBeenCalledTimes(1);
    expect(printed).toHaveBeenCalledTimes(1);
    expect(String(printed.mock.calls[0]![0])).toMatch(/Exception in callback.*zeroError/);
    expect(printed.mock.calls[0]!.some((a) => a instanceof RangeError)).toBe(true);
  });
});

describe("HandleTests and TimerTests (test_events)", () => {
  it("debug mode: callSoon, callLater and callAt each record where they were called from, the caller's frame first (test_handle_source_traceback)", async () => {
    const { loop, seen } = debugLoop();
    const fail = () => {
      throw new Error("noop");
    };
    function viaCallSoon() {
      loop.callSoon(fail);
    }
    function viaCallLater() {
      loop.callLater(0, fail);
    }
    function viaCallAt() {
      loop.callAt(loop.time(), fail);
    }
    viaCallSoon();
    viaCallLater();
    viaCallAt();
    await loop.advance(0);
    expect(seen.map((c) => String(c.sourceTraceback).split("\n")[0])).toEqual([
      expect.stringContaining("viaCallSoon"),
      expect.stringContaining("viaCallLater"),
      expect.stringContaining("viaCallAt"),
    ]);
  });

  it("the loop keeps no reference to a handle once it has run: a callSoon handle and a fired timer handle nobody holds are collected (test_handle_weakref)", async () => {
    // asyncio's test checks that handles can be weakly referenced (a __weakref__ slot); any
    // JavaScript object can, so what is ported is that a weak reference actually lets go.
    const loop = track(new VirtualTimeLoop());
    let ran = 0;
    const refs = (() => [new WeakRef(loop.callSoon(() => ran++)), new WeakRef(loop.callLater(5, () => ran++))])();
    await loop.advance(10);
    expect(ran).toBe(2);
    await collectUntil(() => refs.every((r) => r.deref() === undefined));
    expect(refs.map((r) => r.deref())).toEqual([undefined, undefined]);
  });

  it("a handle's text names the function it will call, also through a partial application (a bound function) (test_handle_repr)", () => {
    const loop = track(new VirtualTimeLoop());
    function noop(..._args: unknown[]) {}
    const partial = loop.callSoon(noop.bind(null, 1, 2), 3);
    expect(String(partial)).toMatch(/^Handle \[.*noop.*\]$/);
    class HandleTests {
      testHandleRepr() {}
    }
    const obj = new HandleTests();
    const method = loop.callSoon(obj.testHandleRepr.bind(obj));
    expect(String(method)).toMatch(/^Handle \[.*testHandleRepr.*\]$/);
    partial.cancel();
    expect(String(partial)).toBe("Handle [cancelled]");
  });

  it("debug mode: a handle's text shows the call with its arguments and where it was scheduled, kept after a cancel (test_handle_repr_debug)", () => {
    const loop = track(new VirtualTimeLoop());
    loop.setDebug(true);
    function noop(..._args: unknown[]): void {}
    const handle = loop.callSoon(noop, 1, "two");
    const text = String(handle);
    expect(text).toMatch(/^Handle \[noop\(1, "two"\), created at .*cpython-gaps-loop\.test\.ts:\d+:\d+\]$/);
    handle.cancel();
    expect(String(handle)).toBe(text.replace("Handle [", "Handle [cancelled, "));
    handle.cancel();
    expect(String(handle)).toBe(text.replace("Handle [", "Handle [cancelled, "));
    // Outside debug mode the text stays short.
    const quiet = track(new VirtualTimeLoop()).callSoon(noop, 1);
    expect(String(quiet)).toBe("Handle [noop]");
  });

  it("debug mode: arguments that cannot be read (a revoked proxy, a throwing name) neither break cancel() nor the text", () => {
    const loop = track(new VirtualTimeLoop());
    loop.setDebug(true);
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    class Nameless {
      static get name(): string {
        throw new Error("name getter");
      }
    }
    let ran = false;
    const handle = loop.callSoon((..._args: unknown[]) => (ran = true), proxy, Nameless);
    expect(() => handle.cancel()).not.toThrow();
    expect(handle.cancelled()).toBe(true);
    expect(String(handle)).toMatch(/^Handle \[cancelled, /);
    loop.runUntilComplete(() => Promise.resolve());
    expect(ran).toBe(false);
  });

  it("debug mode: a timer handle's text shows its deadline, the call and its origin, kept after a cancel (test_timer_repr_debug)", () => {
    const loop = track(new VirtualTimeLoop());
    loop.setDebug(true);
    function noop(): void {}
    const timer = loop.callAt(123, noop);
    expect(String(timer)).toMatch(/^TimerHandle \[when: 123, noop\(\), created at .*cpython-gaps-loop\.test\.ts:\d+:\d+\]$/);
    timer.cancel();
    expect(String(timer)).toMatch(/^TimerHandle \[when: 123, cancelled, noop\(\), created at .*cpython-gaps-loop\.test\.ts:\d+:\d+\]$/);
  });

  it("a cancelled timer handle still shows its deadline (test_timer_repr)", () => {
    const loop = track(new VirtualTimeLoop());
    function noop() {}
    const h = loop.callAt(123, noop);
    expect(String(h)).toBe("TimerHandle [when: 123, noop]");
    h.cancel();
    expect(String(h)).toBe("TimerHandle [when: 123, cancelled]");
    expect(inspect(h)).toBe("TimerHandle [when: 123, cancelled]");
  });
});
