import { afterEach, describe, expect, it } from "vitest";
import type { ExceptionContext } from "@aiots/core";
import { EventLoop, VirtualTimeLoop, run } from "@aiots/loop";
import { currentTask } from "@aiots/future";
import { collectUntil, turn } from "./helpers.js";


const loops: EventLoop[] = [];
function debugLoop(): { loop: EventLoop; seen: ExceptionContext[] } {
  const loop = new EventLoop();
  loops.push(loop);
  loop.setDebug(true);
  const seen: ExceptionContext[] = [];
  loop.setExceptionHandler((_l, ctx) => seen.push(ctx));
  return { loop, seen };
}

afterEach(() => {
  for (const loop of loops.splice(0)) if (!loop.isRunning()) loop.close();
});

/** Busy-waits `ms` of real time: the slow callback under test. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

describe("turning debug mode on", () => {
  it("setDebug / getDebug", () => {
    const loop = new VirtualTimeLoop();
    expect(loop.getDebug()).toBe(false);
    loop.setDebug(true);
    expect(loop.getDebug()).toBe(true);
    expect(String(loop)).toMatch(/debug: true/);
    loop.setDebug(false);
    expect(loop.getDebug()).toBe(false);
  });

  it("AIOTS_DEBUG=1 in the environment turns it on for loops made afterwards", () => {
    const before = process.env.AIOTS_DEBUG;
    try {
      process.env.AIOTS_DEBUG = "1";
      expect(new EventLoop().getDebug()).toBe(true);
      expect(new VirtualTimeLoop().getDebug()).toBe(true);
      process.env.AIOTS_DEBUG = "0";
      expect(new EventLoop().getDebug()).toBe(false);
      delete process.env.AIOTS_DEBUG;
      expect(new EventLoop().getDebug()).toBe(false);
    } finally {
      if (before === undefined) delete process.env.AIOTS_DEBUG;
      else process.env.AIOTS_DEBUG = before;
    }
  });

  it("slowCallbackDuration defaults to 100 ms", () => {
    expect(new VirtualTimeLoop().slowCallbackDuration).toBe(100);
  });
});

describe("slow callbacks", () => {
  it("a callback slower than slowCallbackDuration is reported through the exception handler", async () => {
    const { loop, seen } = debugLoop();
    loop.slowCallbackDuration = 5;
    const h = loop.callSoon(function slowOne() {
      busy(15);
    });
    loop.callSoon(function fastOne() {});
    await turn();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.message).toMatch(/^Executing Handle \[slowOne\] took \d+\.\d ms$/);
    expect(seen[0]!.handle).toBe(h);
  });

  it("a slow timer callback is reported too, as is a callback that throws and is slow", async () => {
    const { loop, seen } = debugLoop();
    loop.slowCallbackDuration = 5;
    const boom = new Error("boom");
    loop.callLater(-1, function slowTimer() {
      busy(10);
    });
    loop.callSoon(function slowThrow() {
      busy(10);
      throw boom;
    });
    await turn();
    await turn();
    // Due timers join the ready queue behind the callbacks already there (asyncio order).
    expect(seen.map((c) => c.message.replace(/took \d+\.\d ms$/, "took").replace(/when: [\d.]+/, "when: T"))).toEqual([
      "Exception in callback slowThrow",
      "Executing Handle [slowThrow] took",
      "Executing TimerHandle [when: T, slowTimer] took",
    ]);
    expect(seen[0]!.exception).toBe(boom);
  });

  it("nothing is reported when debug mode is off", async () => {
    const loop = new EventLoop();
    loops.push(loop);
    loop.slowCallbackDuration = 1;
    const seen: ExceptionContext[] = [];
    loop.setExceptionHandler((_l, ctx) => seen.push(ctx));
    loop.callSoon(() => busy(5));
    await turn();
    expect(seen).toEqual([]);
  });

  it("run({ debug: true }) reports a slow step of the main task, naming the task, with the task and where the step was scheduled", async () => {
    const loop = new VirtualTimeLoop();
    loop.slowCallbackDuration = 5;
    const seen: ExceptionContext[] = [];
    loop.setExceptionHandler((_l, ctx) => seen.push(ctx));
    let main: unknown;
    await run(async () => {
      main = currentTask();
      busy(10);
    }, { loop, debug: true });
    expect(seen.map((c) => c.message)).toEqual([expect.stringMatching(/^Executing Handle \[stepTask\(main\)\] took/)]);
    expect(seen[0]!.task).toBe(main);
    expect(seen[0]!.sourceTraceback).toEqual(expect.stringContaining("Runner"));
  });

  it("in debug mode a failing callback's sourceTraceback starts at the code that scheduled it; a task's done callback is not taken for a step of that task", async () => {
    const loop = new VirtualTimeLoop();
    loop.setDebug(true);
    loop.slowCallbackDuration = Infinity;
    const seen: ExceptionContext[] = [];
    loop.setExceptionHandler((_l, ctx) => seen.push(ctx));
    function scheduleIt(): void {
      loop.callSoon(() => {
        throw new RangeError("boom");
      });
    }
    scheduleIt();
    const task = loop.createTask(async () => 1, { name: "worker" });
    task.addDoneCallback(function onDone() {
      throw new RangeError("done callback");
    });
    await loop.runUntilComplete(task);
    await loop.advance(0);
    expect(seen.map((c) => c.message)).toEqual(["Exception in callback <anonymous>", "Exception in callback onDone"]);
    expect(String(seen[0]!.sourceTraceback).split("\n")[0]).toContain("scheduleIt");
    expect(seen[1]!.task).toBeUndefined();
    loop.close();
  });

  it("without debug mode, a failing callback's report carries no sourceTraceback", async () => {
    const loop = new VirtualTimeLoop();
    const seen: ExceptionContext[] = [];
    loop.setExceptionHandler((_l, ctx) => seen.push(ctx));
    loop.callSoon(() => {
      throw new RangeError("boom");
    });
    await loop.advance(0);
    expect(seen).toHaveLength(1);
    expect(Object.keys(seen[0]!).sort()).toEqual(["exception", "handle", "message"]);
  });
});

describe("reports that need the garbage collector", () => {
  it("a future whose exception was never retrieved is reported when collected", async () => {
    const { loop, seen } = debugLoop();
    const error = new Error("lost");
    (() => {
      loop.createFuture<void>().setException(error);
    })();
    await collectUntil(() => seen.length > 0);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.message).toBe("Future exception was never retrieved");
    expect(seen[0]!.exception).toBe(error);
  });

  it("a task that failed and was never awaited is reported when collected", async () => {
    const { loop, seen } = debugLoop();
    const error = new Error("task failed");
    (() => {
      loop.createTask(async () => {
        throw error;
      });
    })();
    await turn();
    await collectUntil(() => seen.length > 0);
    expect(seen.map((c) => [c.message, c.exception])).toEqual([["Task exception was never retrieved", error]]);
  });

  for (const [how, fn] of [
    ["throws synchronously", () => { throw new Error("made in the first step"); }],
    ["is async and throws before its first await", async () => { throw new Error("made in the first step"); }],
  ] as const) {
    it(`a task that fails in its first step (its function ${how}) is reported too`, async () => {
      // The error is made inside the task's first step, so its stack frames include the
      // task itself: the report must not keep the task alive through them.
      const { loop, seen } = debugLoop();
      (() => {
        loop.createTask(fn);
      })();
      await turn();
      await turn();
      await collectUntil(() => seen.length > 0);
      expect(seen.map((c) => [c.message, (c.exception as Error).message])).toEqual([["Task exception was never retrieved", "made in the first step"]]);
    });
  }

  it("a future whose exception was looked at, or that was awaited, is not reported", async () => {
    const { loop, seen } = debugLoop();
    const marker = new WeakRef((() => {
      const f = loop.createFuture<void>();
      f.setException(new Error("seen"));
      f.exception();
      const g = loop.createFuture<void>();
      g.setException(new Error("awaited"));
      g.then(undefined, () => {});
      const h = loop.createFuture<void>();
      h.setException(new Error("result"));
      expect(() => h.result()).toThrow("result");
      return h;
    })());
    // The watched futures were collected (the marker is one of them) and said nothing.
    await collectUntil(() => marker.deref() === undefined);
    await turn();
    expect(marker.deref()).toBeUndefined();
    expect(seen).toEqual([]);
  });

  it("nothing is watched when debug mode is off", async () => {
    const loop = new EventLoop();
    loops.push(loop);
    const seen: ExceptionContext[] = [];
    loop.setExceptionHandler((_l, ctx) => seen.push(ctx));
    const marker = new WeakRef((() => {
      const f = loop.createFuture<void>();
      f.setException(new Error("quiet"));
      return f;
    })());
    await collectUntil(() => marker.deref() === undefined);
    await turn();
    expect(marker.deref()).toBeUndefined();
    expect(seen).toEqual([]);
  });

  it("a task collected while still pending is reported", async () => {
    const { loop, seen } = debugLoop();
    (() => {
      // Waits on a future nobody else holds: it can never finish, and nothing keeps it.
      loop.createTask(async () => {
        await loop.createFuture<void>();
      }, { name: "orphan" });
    })();
    // Let the task start and reach its await.
    await turn();
    await collectUntil(() => seen.length > 0);
    expect(seen.map((c) => c.message)).toEqual(["Task was destroyed but it is pending: orphan"]);
  });

  it("a task that finished is not reported when collected", async () => {
    const { loop, seen } = debugLoop();
    const marker = new WeakRef((() => loop.createTask(async () => "done", { name: "finished" }))());
    await turn();
    await turn();
    await collectUntil(() => marker.deref() === undefined);
    await turn();
    expect(marker.deref()).toBeUndefined();
    expect(seen).toEqual([]);
  });
});
