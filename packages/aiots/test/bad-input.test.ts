/**
 * Bad input at every public entry point: a wrong type, NaN, a negative, -0 or infinite number,
 * an option of the wrong kind, or a method called without its object must throw TypeError or
 * RangeError at the call (never a hang, a silent acceptance, a late error, or a corrupted
 * primitive), and the primitive must stay usable. Where asyncio accepts a value JavaScript
 * users would also pass (`-0`, a negative delay, `Condition(null)`), asyncio's meaning holds.
 * Only cases no other test covers are here.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  Barrier,
  BoundedSemaphore,
  Condition,
  Event,
  EventLoop,
  ExceptionGroup,
  Future,
  Lock,
  PriorityQueue,
  Queue,
  Runner,
  Semaphore,
  Task,
  TimeoutError,
  VirtualTimeLoop,
  allTasks,
  asCompleted,
  createTask,
  ensureFuture,
  gather,
  getRunningLoop,
  run,
  shield,
  sleep,
  taskGroup,
  timeout,
  timeoutAt,
  wait,
  waitFor,
} from "aiots";
import type { Timeout } from "aiots";
import { caught, runBriefly, vrun } from "./conformance/helpers.js";

/** Calls `fn` and returns what it threw synchronously, or `NOT_THROWN` (a promise it returned is silenced). */
const NOT_THROWN = Symbol("not thrown");
function thrownAtCall(fn: () => unknown): unknown {
  try {
    const returned = fn();
    if (returned instanceof Promise) returned.catch(() => {});
    return NOT_THROWN;
  } catch (error) {
    return error;
  }
}

/** A task that takes the condition's lock and waits on it once. */
function startWaiter(cond: Condition) {
  return createTask(async () => {
    await cond.acquire();
    try {
      return await cond.wait();
    } finally {
      cond.release();
    }
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("ExceptionGroup", () => {
  it("a string or null given as the errors throws TypeError", () => {
    // @ts-expect-error deliberately wrong
    expect(() => new ExceptionGroup("m", null)).toThrow(TypeError);
    // A string is iterable (so the types let it through), but of characters, not errors; Python refuses it too.
    expect(() => new ExceptionGroup("m", "ab")).toThrow(TypeError);
  });

  it("subgroup with something that is not a function throws TypeError", () => {
    const g = new ExceptionGroup("m", [new Error("a")]);
    // @ts-expect-error deliberately wrong
    expect(() => g.subgroup("Error")).toThrow(TypeError);
  });

  it("subgroup and split given an error class, or a list of classes, match by class, as Python's do with a type or a tuple of types", () => {
    const a = new Error("a");
    const b = new TypeError("b");
    const c = new RangeError("c");
    const g = new ExceptionGroup("m", [a, b, new ExceptionGroup("inner", [c])]);
    expect(g.subgroup(TypeError)?.errors).toEqual([b]);
    const [matching, rest] = g.split(RangeError);
    expect((matching?.errors[0] as ExceptionGroup).errors).toEqual([c]);
    expect(rest?.errors).toEqual([a, b]);
    expect(g.subgroup([TypeError, RangeError])?.errors.length).toBe(2);
    expect(g.subgroup(Error)).toBe(g);
    expect(g.subgroup(SyntaxError)).toBeUndefined();
  });

  it("subgroup and split with a list holding something that is not an error class throw TypeError", () => {
    const g = new ExceptionGroup("m", [new Error("a")]);
    // @ts-expect-error deliberately wrong
    expect(() => g.subgroup([TypeError, "Error"])).toThrow(TypeError);
    // @ts-expect-error deliberately wrong
    expect(() => g.split(42)).toThrow(TypeError);
    class NotAnError {}
    // @ts-expect-error deliberately wrong: a class whose instances are not errors
    expect(() => g.subgroup(NotAnError)).toThrow(/class NotAnError/);
  });

  it("a nested group from elsewhere (a subclass, another copy) is split through its own split()", () => {
    const calls: string[] = [];
    class Tracing extends ExceptionGroup {
      override split(match: Parameters<ExceptionGroup["split"]>[0]) {
        calls.push(this.message);
        return super.split(match);
      }
    }
    const b = new TypeError("b");
    const g = new ExceptionGroup("outer", [new Error("a"), new Tracing("inner", [b])]);
    const sub = g.subgroup(TypeError);
    expect(calls).toEqual(["inner"]);
    expect((sub?.errors[0] as ExceptionGroup).errors).toEqual([b]);
  });
});

describe("Future, Task and createTask", () => {
  it("new Task with something that is not a loop, or with no loop, throws TypeError at the call and registers no task", () =>
    vrun(async () => {
      const before = allTasks().size;
      // @ts-expect-error deliberately wrong
      expect(() => new Task(async () => 1, "loop")).toThrow(TypeError);
      // @ts-expect-error deliberately wrong
      expect(() => new Task(async () => 1)).toThrow(TypeError);
      expect(allTasks().size).toBe(before);
    }));

  it("createTask with a signal that is a plain object throws TypeError", () =>
    vrun(async () => {
      // @ts-expect-error deliberately wrong
      expect(() => createTask(async () => 1, { signal: {} })).toThrow(TypeError);
    }));

  it("createTask with a signal that is an EventTarget but not an AbortSignal throws TypeError, as every wait's signal option does", () =>
    vrun(async () => {
      const before = allTasks().size;
      // @ts-expect-error deliberately wrong
      expect(thrownAtCall(() => createTask(async () => 1, { signal: new EventTarget() }))).toBeInstanceOf(TypeError);
      expect(allTasks().size).toBe(before);
    }));

  it("loop.createTask with bad options throws TypeError at the call and creates no task", () =>
    vrun(async () => {
      const loop = getRunningLoop();
      const before = allTasks().size;
      // @ts-expect-error deliberately wrong
      expect(() => loop.createTask(async () => 1, { name: 5 })).toThrow(TypeError);
      // @ts-expect-error deliberately wrong
      expect(() => loop.createTask(async () => 1, { eagerStart: "yes" })).toThrow(TypeError);
      // @ts-expect-error deliberately wrong
      expect(() => loop.createTask(async () => 1, "options")).toThrow(TypeError);
      expect(allTasks().size).toBe(before);
      expect(await loop.createTask(async () => 2)).toBe(2);
    }));

  it("ensureFuture of a promise or a function with a loop that is not a loop throws TypeError and starts nothing", () =>
    vrun(async () => {
      let started = false;
      // @ts-expect-error deliberately wrong
      expect(() => ensureFuture(Promise.resolve(1), "loop")).toThrow(TypeError);
      expect(() =>
        ensureFuture(() => {
          started = true;
        }, {} as never),
      ).toThrow(TypeError);
      await runBriefly();
      expect(started).toBe(false);
    }));

  it("ensureFuture of a fresh Future with a loop that is not a loop throws TypeError and leaves the Future on the running loop", () =>
    vrun(async () => {
      const fut = new Future<number>();
      // @ts-expect-error deliberately wrong
      expect(thrownAtCall(() => ensureFuture(fut, "loop"))).toBeInstanceOf(TypeError);
      expect(fut.getLoop()).toBe(getRunningLoop());
      let called = false;
      fut.addDoneCallback(() => (called = true));
      fut.setResult(1);
      expect(await fut).toBe(1);
      await runBriefly();
      expect(called).toBe(true);
    }));

  it("allTasks with something that is not a loop throws TypeError instead of answering with an empty set", () =>
    vrun(async () => {
      createTask(() => sleep(10));
      // @ts-expect-error deliberately wrong
      expect(thrownAtCall(() => allTasks(42))).toBeInstanceOf(TypeError);
      // @ts-expect-error deliberately wrong
      expect(thrownAtCall(() => allTasks("loop"))).toBeInstanceOf(TypeError);
    }));
});

describe("an AbortSignal passed where the options object goes", () => {
  it("lock.acquire(signal) throws TypeError instead of waiting with the signal ignored", () =>
    vrun(async () => {
      const lock = new Lock();
      await lock.acquire();
      const controller = new AbortController();
      // @ts-expect-error deliberately wrong: the signal belongs in { signal }
      expect(thrownAtCall(() => lock.acquire(controller.signal))).toBeInstanceOf(TypeError);
      expect(String(lock)).toBe("Lock [locked]");
      lock.release();
      expect(lock.locked()).toBe(false);
    }));

  it("sleep(ms, undefined, signal) throws TypeError instead of sleeping with the signal ignored", () =>
    vrun(async () => {
      // @ts-expect-error deliberately wrong: the signal belongs in { signal }
      expect(thrownAtCall(() => sleep(1000, undefined, AbortSignal.abort()))).toBeInstanceOf(TypeError);
    }));
});

describe("-0 means the same as 0", () => {
  it("sleep(-0) yields for one iteration and moves no time", () =>
    vrun(async () => {
      const t0 = getRunningLoop().time();
      expect(await sleep(-0, "v")).toBe("v");
      expect(getRunningLoop().time()).toBe(t0);
    }));

  it("loop.callLater(-0) runs on the next iteration", () =>
    vrun(async () => {
      const loop = getRunningLoop();
      const t0 = loop.time();
      let ran: number | undefined;
      const handle = loop.callLater(-0, () => (ran = loop.time()));
      expect(handle.when()).toBe(t0);
      await runBriefly();
      expect(ran).toBe(t0);
    }));

  it("VirtualTimeLoop.advance(-0) runs what is due and leaves the clock where it is", async () => {
    const loop = new VirtualTimeLoop({ start: 5 });
    let ran = false;
    loop.callSoon(() => (ran = true));
    await loop.advance(-0);
    expect(ran).toBe(true);
    expect(loop.time()).toBe(5);
    loop.close();
  });

  it("new Semaphore(-0) is a semaphore with no free permit", () =>
    vrun(async () => {
      const sem = new Semaphore(-0);
      expect(sem.locked()).toBe(true);
      const waiter = createTask(() => sem.acquire());
      await runBriefly();
      expect(waiter.done()).toBe(false);
      sem.release();
      expect(await waiter).toBe(true);
    }));

  it("new Queue(-0) is unbounded", () => {
    const q = new Queue<number>(-0);
    for (let i = 0; i < 5; i++) q.putNowait(i);
    expect(q.full()).toBe(false);
    expect(q.qsize()).toBe(5);
  });

  it("cond.notify(-0) wakes nobody; the waiter is still there for notify(1)", () =>
    vrun(async () => {
      const cond = new Condition();
      const waiter = startWaiter(cond);
      await runBriefly();
      await cond.acquire();
      cond.notify(-0);
      cond.release();
      await runBriefly();
      expect(waiter.done()).toBe(false);
      await cond.acquire();
      cond.notify(1);
      cond.release();
      expect(await waiter).toBe(true);
    }));

  it("waitFor(fn, -0) is a timeout of 0: the function never starts and TimeoutError is thrown", () =>
    vrun(async () => {
      let started = false;
      const error = await caught(() =>
        waitFor(async () => {
          started = true;
          await sleep(10);
        }, -0),
      );
      expect(error).toBeInstanceOf(TimeoutError);
      expect(started).toBe(false);
    }));

  it("new Barrier(-0) throws RangeError, as Barrier(0)", () => {
    expect(() => new Barrier(-0)).toThrow(RangeError);
  });
});

describe("the event loop", () => {
  it("setExceptionHandler with undefined or a number throws TypeError and keeps the handler it had", () => {
    const loop = new EventLoop();
    const handler = () => {};
    loop.setExceptionHandler(handler);
    // @ts-expect-error deliberately wrong
    expect(() => loop.setExceptionHandler(undefined)).toThrow(TypeError);
    // @ts-expect-error deliberately wrong
    expect(() => loop.setExceptionHandler(5)).toThrow(TypeError);
    expect(loop.getExceptionHandler()).toBe(handler);
    loop.close();
  });

  it("callExceptionHandler with a context that is not an object throws TypeError at the call, instead of handing it on or printing garbage", () => {
    const printed = vi.spyOn(console, "error").mockImplementation(() => {});
    const loop = new EventLoop();
    for (const bad of [null, undefined, "boom", 42]) {
      expect(thrownAtCall(() => loop.callExceptionHandler(bad as never)), `callExceptionHandler(${String(bad)})`).toBeInstanceOf(TypeError);
    }
    const seen: unknown[] = [];
    loop.setExceptionHandler((_loop, context) => seen.push(context));
    // @ts-expect-error deliberately wrong
    expect(thrownAtCall(() => loop.callExceptionHandler("boom"))).toBeInstanceOf(TypeError);
    expect(seen).toEqual([]);
    expect(printed).not.toHaveBeenCalled();
    loop.close();
  });

  it("defaultExceptionHandler with a context that is not an object throws TypeError instead of printing it", () => {
    const printed = vi.spyOn(console, "error").mockImplementation(() => {});
    const loop = new EventLoop();
    // @ts-expect-error deliberately wrong
    expect(thrownAtCall(() => loop.defaultExceptionHandler("boom"))).toBeInstanceOf(TypeError);
    // @ts-expect-error deliberately wrong
    expect(thrownAtCall(() => loop.defaultExceptionHandler(42))).toBeInstanceOf(TypeError);
    expect(printed).not.toHaveBeenCalled();
    loop.close();
  });

  it("setDebug with something that is not a boolean throws TypeError and leaves debug mode as it was", () => {
    const loop = new EventLoop();
    loop.setDebug(false);
    // @ts-expect-error deliberately wrong
    expect(thrownAtCall(() => loop.setDebug("false"))).toBeInstanceOf(TypeError);
    // @ts-expect-error deliberately wrong
    expect(thrownAtCall(() => loop.setDebug(1))).toBeInstanceOf(TypeError);
    expect(loop.getDebug()).toBe(false);
    loop.close();
  });

  it("slowCallbackDuration set to a non-number or NaN throws at the assignment and keeps its value", () => {
    const loop = new EventLoop();
    expect(
      thrownAtCall(() => {
        // @ts-expect-error deliberately wrong
        loop.slowCallbackDuration = "fast";
      }),
    ).toBeInstanceOf(TypeError);
    expect(
      thrownAtCall(() => {
        loop.slowCallbackDuration = Number.NaN;
      }),
    ).toBeInstanceOf(RangeError);
    expect(loop.slowCallbackDuration).toBe(100);
    loop.slowCallbackDuration = -1; // every callback counts as slow, as asyncio allows
    expect(loop.slowCallbackDuration).toBe(-1);
    loop.close();
  });

  it("null for an optional loop or debug flag means none given, as asyncio's None", async () => {
    await expect(run(async () => getRunningLoop().getDebug(), { debug: null as never })).resolves.toBe(false);
    await vrun(async () => {
      const loop = getRunningLoop();
      expect(allTasks(null as never).size).toBe(allTasks().size);
      const wrapped = ensureFuture(Promise.resolve(5), null as never);
      expect(wrapped.getLoop()).toBe(loop);
      expect(await wrapped).toBe(5);
      expect(new Future(null as never).getLoop()).toBe(loop);
    });
  });

  it("new VirtualTimeLoop with options that are not an object throws TypeError", () => {
    // @ts-expect-error deliberately wrong
    expect(() => new VirtualTimeLoop(null)).toThrow(TypeError);
    // @ts-expect-error deliberately wrong
    expect(thrownAtCall(() => new VirtualTimeLoop(42))).toBeInstanceOf(TypeError);
    // @ts-expect-error deliberately wrong
    expect(thrownAtCall(() => new VirtualTimeLoop("start"))).toBeInstanceOf(TypeError);
  });
});

describe("run and Runner", () => {
  it("run(fn, null) throws TypeError at the call", () => {
    // @ts-expect-error deliberately wrong
    expect(() => run(async () => 1, null)).toThrow(TypeError);
  });

  it("run(fn, { debug }) with something that is not a boolean throws TypeError at the call instead of turning debug mode on", async () => {
    let outcome: unknown;
    try {
      // @ts-expect-error deliberately wrong
      outcome = run(async () => getRunningLoop().getDebug(), { debug: "false", loop: new VirtualTimeLoop() });
    } catch (error) {
      outcome = error;
    }
    if (outcome instanceof Promise) outcome = { ranWithDebug: await outcome };
    expect(outcome).toBeInstanceOf(TypeError);
  });

  it("new Runner({ loop }) with something that is not a loop throws TypeError at construction, not at the first run", () => {
    // @ts-expect-error deliberately wrong
    expect(thrownAtCall(() => new Runner({ loop: 5 }))).toBeInstanceOf(TypeError);
  });

  it("new Runner({ debug }) with something that is not a boolean throws TypeError at construction", () => {
    // @ts-expect-error deliberately wrong
    expect(thrownAtCall(() => new Runner({ debug: "yes" }))).toBeInstanceOf(TypeError);
  });
});

describe("Condition", () => {
  it("a Semaphore given as the lock throws TypeError; null means a lock of its own, as asyncio's Condition(lock=None)", () =>
    vrun(async () => {
      // @ts-expect-error deliberately wrong
      expect(() => new Condition(new Semaphore())).toThrow(TypeError);
      // @ts-expect-error null, as asyncio's None
      const cond = new Condition(null);
      expect(cond.locked()).toBe(false);
      await cond.acquire();
      expect(cond.locked()).toBe(true);
      cond.release();
    }));

  it("waitFor with options that are not an object throws TypeError at the call, the lock still held", () =>
    vrun(async () => {
      const cond = new Condition();
      await cond.acquire();
      // @ts-expect-error deliberately wrong
      expect(() => cond.waitFor(() => false, 5)).toThrow(TypeError);
      expect(cond.locked()).toBe(true);
      cond.release();
    }));

  it("notify with NaN or -Infinity throws RangeError, with null TypeError; the waiter is still woken by notify(1) afterwards", () =>
    vrun(async () => {
      const cond = new Condition();
      const waiter = startWaiter(cond);
      await runBriefly();
      await cond.acquire();
      expect(() => cond.notify(Number.NaN)).toThrow(RangeError);
      expect(() => cond.notify(-Infinity)).toThrow(RangeError);
      // @ts-expect-error deliberately wrong
      expect(() => cond.notify(null)).toThrow(TypeError);
      cond.notify(1);
      cond.release();
      expect(await waiter).toBe(true);
    }));
});

describe("Semaphore, BoundedSemaphore and Barrier counts", () => {
  it("Semaphore: -Infinity throws RangeError, null or an object TypeError", () => {
    expect(() => new Semaphore(-Infinity)).toThrow(RangeError);
    // @ts-expect-error deliberately wrong
    expect(() => new Semaphore(null)).toThrow(TypeError);
    // @ts-expect-error deliberately wrong
    expect(() => new Semaphore({})).toThrow(TypeError);
  });

  it("BoundedSemaphore: a negative, fractional or NaN value throws RangeError, a string TypeError", () => {
    for (const bad of [-1, 1.5, Number.NaN, -Infinity]) {
      expect(() => new BoundedSemaphore(bad), `BoundedSemaphore(${bad})`).toThrow(RangeError);
    }
    // @ts-expect-error deliberately wrong
    expect(() => new BoundedSemaphore("2")).toThrow(TypeError);
    expect(() => new BoundedSemaphore(1.5)).toThrow(/BoundedSemaphore value/);
  });

  it("Barrier: NaN or Infinity parties throw RangeError, a string or null TypeError", () => {
    expect(() => new Barrier(Number.NaN)).toThrow(RangeError);
    expect(() => new Barrier(Infinity)).toThrow(RangeError);
    // @ts-expect-error deliberately wrong
    expect(() => new Barrier("3")).toThrow(TypeError);
    // @ts-expect-error deliberately wrong
    expect(() => new Barrier(null)).toThrow(TypeError);
  });
});

describe("queues", () => {
  it("maxsize -Infinity is unbounded, as every maxsize <= 0 (API.md, asyncio)", () => {
    let q: Queue<number> | undefined;
    expect(() => (q = new Queue<number>(-Infinity))).not.toThrow();
    for (let i = 0; i < 5; i++) q!.putNowait(i);
    expect(q!.full()).toBe(false);
  });

  it("PriorityQueue with the default order: putNowait(NaN) into an empty queue throws RangeError at once, instead of breaking every later put", () => {
    const q = new PriorityQueue<number>();
    expect(thrownAtCall(() => q.putNowait(Number.NaN))).toBeInstanceOf(RangeError);
    q.putNowait(2);
    q.putNowait(1);
    expect(q.getNowait()).toBe(1);
    expect(q.getNowait()).toBe(2);
  });

  it("PriorityQueue with the default order: putNowait of an object into an empty queue throws TypeError at once, instead of breaking every later put", () => {
    const q = new PriorityQueue<unknown>();
    expect(thrownAtCall(() => q.putNowait({ job: 1 }))).toBeInstanceOf(TypeError);
    q.putNowait([1, "a"]);
    q.putNowait([0, "b"]);
    expect(q.getNowait()).toEqual([0, "b"]);
  });

  it("PriorityQueue with the default order: an object put while a getter waits is refused too, and the getter waits on for a valid item", () =>
    vrun(async () => {
      const q = new PriorityQueue<unknown>();
      const getter = createTask(() => q.get());
      await sleep(0);
      expect(thrownAtCall(() => q.putNowait({ job: 1 }))).toBeInstanceOf(TypeError);
      await expect(q.put({ job: 2 })).rejects.toBeInstanceOf(TypeError);
      expect(getter.done()).toBe(false);
      q.putNowait(3);
      expect(await getter).toBe(3);
      expect(q.qsize()).toBe(0);
    }));

  it("PriorityQueue: an item given back by a getter cancelled after the hand-over goes back in, also into an empty queue", () =>
    vrun(async () => {
      const q = new PriorityQueue<[number, string]>();
      const getter = createTask(() => q.get());
      await sleep(0);
      q.putNowait([1, "x"]);
      getter.cancel();
      await sleep(0);
      expect(getter.cancelled()).toBe(true);
      expect(q.qsize()).toBe(1);
      expect(q.getNowait()).toEqual([1, "x"]);
    }));
});

describe("flow", () => {
  it("gather of a string, or with options that are not an object, throws TypeError and starts nothing", () =>
    vrun(async () => {
      let started = false;
      const fn = async () => {
        started = true;
      };
      // @ts-expect-error deliberately wrong
      expect(() => gather("ab")).toThrow(TypeError);
      // @ts-expect-error deliberately wrong
      expect(() => gather([fn], "options")).toThrow(TypeError);
      await runBriefly();
      expect(started).toBe(false);
    }));

  it("wait with a signal that is not an AbortSignal throws TypeError and starts nothing", () =>
    vrun(async () => {
      let started = false;
      const fn = async () => {
        started = true;
      };
      // @ts-expect-error deliberately wrong
      expect(() => wait([fn], { signal: 5 })).toThrow(TypeError);
      await runBriefly();
      expect(started).toBe(false);
    }));

  it("wait with a negative timeout looks once and returns, cancelling nothing", () =>
    vrun(async () => {
      const t0 = getRunningLoop().time();
      const slow = createTask(() => sleep(1000, "slow"));
      const { done, pending } = await wait([slow], { timeout: -1 });
      expect(done.size).toBe(0);
      expect([...pending]).toEqual([slow]);
      expect(getRunningLoop().time()).toBe(t0);
      expect(await slow).toBe("slow");
    }));

  it("waitFor with options that are not an object throws TypeError and does not start the function", () =>
    vrun(async () => {
      let started = false;
      // @ts-expect-error deliberately wrong
      expect(() => waitFor(async () => (started = true), 10, 5)).toThrow(TypeError);
      await runBriefly();
      expect(started).toBe(false);
    }));

  it("asCompleted with a timeout that is not a number throws TypeError and starts nothing", () =>
    vrun(async () => {
      let started = false;
      // @ts-expect-error deliberately wrong
      expect(() => asCompleted([async () => (started = true)], { timeout: "1" })).toThrow(TypeError);
      await runBriefly();
      expect(started).toBe(false);
    }));

  it("shield of an array throws TypeError", () =>
    vrun(async () => {
      // @ts-expect-error deliberately wrong
      expect(() => shield([new Future<number>()])).toThrow(TypeError);
    }));

  it("timeoutAt with a deadline that is not a number, or a body that is not a function, throws TypeError", () =>
    vrun(async () => {
      // @ts-expect-error deliberately wrong
      expect(() => timeoutAt("1", () => 1)).toThrow(TypeError);
      // @ts-expect-error deliberately wrong
      expect(() => timeoutAt(1, 5)).toThrow(TypeError);
    }));

  it("scope.reschedule with a string throws TypeError and leaves the scope as it was", () =>
    vrun(async () => {
      const t0 = getRunningLoop().time();
      let seen: Timeout | undefined;
      const result = await timeout(100, async (scope) => {
        seen = scope;
        // @ts-expect-error deliberately wrong
        expect(() => scope.reschedule("50")).toThrow(TypeError);
        expect(() => scope.reschedule(Number.NaN)).toThrow(RangeError);
        expect(scope.when()).toBe(t0 + 100);
        expect(scope.state).toBe("active");
        await sleep(50);
        return "in time";
      });
      expect(result).toBe("in time");
      expect(seen!.state).toBe("finished");
    }));

  it("TaskGroup.createTask with a non-function or bad options throws TypeError at the call; the group runs on", () =>
    vrun(async () => {
      const result = await taskGroup(async (tg) => {
        // @ts-expect-error deliberately wrong
        expect(() => tg.createTask(5)).toThrow(TypeError);
        // @ts-expect-error deliberately wrong
        expect(() => tg.createTask(async () => 1, { name: 5 })).toThrow(TypeError);
        // @ts-expect-error deliberately wrong
        expect(() => tg.createTask(async () => 1, { signal: "stop" })).toThrow(TypeError);
        expect(tg.size).toBe(0);
        const child = tg.createTask(async () => {
          await sleep(10);
          return "child";
        });
        return { child };
      });
      expect(result.child.result()).toBe("child");
    }));
});

describe("methods called without their object", () => {
  it("a detached method (called without its object) throws TypeError", () => {
    const { release } = new Lock();
    const { set } = new Event();
    const { putNowait } = new Queue<number>();
    const { setResult } = new Future<number>();
    const { notify } = new Condition();
    expect(() => release()).toThrow(TypeError);
    expect(() => set()).toThrow(TypeError);
    expect(() => putNowait(1)).toThrow(TypeError);
    expect(() => setResult(1)).toThrow(TypeError);
    expect(() => notify()).toThrow(TypeError);
  });
});
