import { describe, expect, it } from "vitest";
import type { ExceptionContext } from "@aiots/core";
import { createTask, currentTask, sleep } from "@aiots/future";
import { EventLoop, Runner, VirtualTimeLoop, getEventLoop, getRunningLoop, newEventLoop, run } from "@aiots/loop";

describe("run", () => {
  it("resolves to main's result", async () => {
    await expect(run(async () => "result")).resolves.toBe("result");
    await expect(run(() => 7)).resolves.toBe(7);
  });

  it("rejects with main's error, the same object", async () => {
    const error = new RangeError("bad");
    await expect(
      run(async () => {
        await sleep(0);
        throw error;
      }),
    ).rejects.toBe(error);
  });

  it("runs main as a task named main on a fresh running loop", async () => {
    const seen = await run(async () => ({
      name: currentTask()?.getName(),
      running: getRunningLoop().isRunning(),
      isHostLoop: getRunningLoop() instanceof EventLoop,
    }));
    expect(seen).toEqual({ name: "main", running: true, isHostLoop: true });
  });

  it("cancels the tasks still pending at the end, runs their finally blocks, and closes the loop", async () => {
    const steps: string[] = [];
    let loop: EventLoop | undefined;
    await run(async () => {
      loop = getRunningLoop() as EventLoop;
      createTask(async () => {
        try {
          await sleep(1_000_000);
          steps.push("woke");
        } finally {
          steps.push("finally ran");
        }
      });
      createTask(async () => steps.push("never started"));
      await sleep(0);
      steps.push("main done");
    }, { loop: new VirtualTimeLoop() });
    // The second task had started before main's sleep(0) returned; both are done now.
    expect(steps).toEqual(["never started", "main done", "finally ran"]);
    expect(loop!.isClosed()).toBe(true);
    expect(loop!.isRunning()).toBe(false);
  });

  it("a task created just before main returns still takes its first step, then is cancelled (asyncio order)", async () => {
    const steps: string[] = [];
    await run(async () => {
      createTask(async () => {
        steps.push("started");
        try {
          await sleep(10);
          steps.push("woke");
        } finally {
          steps.push("finally");
        }
      });
    });
    expect(steps).toEqual(["started", "finally"]);
  });

  it("closes the loop when main throws too", async () => {
    let loop: EventLoop | undefined;
    await expect(
      run(async () => {
        loop = getRunningLoop() as EventLoop;
        throw new Error("x");
      }),
    ).rejects.toThrow("x");
    expect(loop!.isClosed()).toBe(true);
  });

  it("reports a task that fails while being cancelled at shutdown to the exception handler", async () => {
    const loop = new VirtualTimeLoop();
    const seen: ExceptionContext[] = [];
    loop.setExceptionHandler((_l, ctx) => seen.push(ctx));
    const boom = new Error("cleanup failed");
    await run(async () => {
      createTask(async () => {
        try {
          await sleep(Infinity);
        } finally {
          throw boom;
        }
      });
      await sleep(0);
    }, { loop });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.message).toMatch(/shutdown/);
    expect(seen[0]!.exception).toBe(boom);
  });

  it("runs on the loop it is given, and closes it", async () => {
    const loop = new VirtualTimeLoop();
    const seen = await run(async () => getRunningLoop(), { loop });
    expect(seen).toBe(loop);
    expect(loop.isClosed()).toBe(true);
  });

  it("{ debug: true } turns debug mode on; { debug: false } turns it off", async () => {
    expect(await run(async () => getRunningLoop().getDebug(), { debug: true })).toBe(true);
    const loop = new VirtualTimeLoop();
    loop.setDebug(true);
    expect(await run(async () => getRunningLoop().getDebug(), { loop, debug: false })).toBe(false);
    expect(await run(async () => getRunningLoop().getDebug())).toBe(false);
  });

  it("refuses bad input at the call", () => {
    expect(() => run("main" as never)).toThrow(/run needs an async function or an awaitable, got string/);
    expect(() => run(null as never)).toThrow(TypeError);
    expect(() => run(async () => 1, { loop: {} as never })).toThrow(/loop must be an EventLoop/);
    const closed = new VirtualTimeLoop();
    closed.close();
    expect(() => run(async () => 1, { loop: closed })).toThrow(/closed/);
    expect(() => new Runner(5 as never)).toThrow(TypeError);
  });
});

describe("a task that finishes after run() closed its loop", () => {
  it("finishes with its value; its done callbacks, with no loop to run on, are dropped instead of failing the process", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      let late: ReturnType<typeof createTask<number>> | undefined;
      let called = false;
      await run(
        async () => {
          createTask(async () => {
            try {
              await sleep(1000);
            } finally {
              // Started while run() shuts down, so not among the tasks it cancels (as asyncio).
              late = createTask(async () => {
                await new Promise((resolve) => setTimeout(resolve, 5)); // runs on after the loop closes
                return 1;
              });
              late.addDoneCallback(() => (called = true));
            }
          });
          await sleep(0);
        },
        { loop: new VirtualTimeLoop() },
      );
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(late!.result()).toBe(1);
      expect(called).toBe(false);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});

describe("Runner", () => {
  it("runs several mains on one loop, which stays open until close()", async () => {
    const runner = new Runner({ loop: new VirtualTimeLoop() });
    const loop = runner.getLoop();
    const steps: string[] = [];
    const first = await runner.run(async () => {
      // A task left running by the first main keeps going in the second run.
      createTask(async () => {
        await sleep(10);
        steps.push(`background@${getRunningLoop().time()}`);
      });
      return getRunningLoop();
    });
    expect(first).toBe(loop);
    expect(loop.isClosed()).toBe(false);
    const second = await runner.run(async () => {
      await sleep(20);
      return getRunningLoop();
    });
    expect(second).toBe(loop);
    expect(steps).toEqual(["background@10"]);
    await runner.close();
    expect(loop.isClosed()).toBe(true);
    await runner.close(); // a second close does nothing
    expect(() => runner.run(async () => 1)).toThrow(/Runner is closed/);
    expect(() => runner.getLoop()).toThrow(/Runner is closed/);
  });

  it("close() cancels what is still pending", async () => {
    const runner = new Runner({ loop: new VirtualTimeLoop() });
    const steps: string[] = [];
    await runner.run(async () => {
      createTask(async () => {
        try {
          await sleep(Infinity);
        } finally {
          steps.push("finally");
        }
      });
      await sleep(0);
    });
    expect(steps).toEqual([]);
    await runner.close();
    expect(steps).toEqual(["finally"]);
  });

  it("refuses a second run while one is in progress", async () => {
    const runner = new Runner({ loop: new VirtualTimeLoop() });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = runner.run(() => gate);
    // From outside the loop's code (inside it, any run is refused: see below).
    expect(() => runner.run(async () => 1)).toThrow(/while a run is in progress/);
    release();
    await first;
    await runner.close();
  });

  it("closing a runner that never made its loop does nothing: it stays usable", async () => {
    const runner = new Runner({ loop: new VirtualTimeLoop() });
    await runner.close();
    expect(await runner.run(async () => 5)).toBe(5);
    await runner.close();
    expect(() => runner.getLoop()).toThrow(/closed/);
  });

  it("closes itself at the end of an await using block", async () => {
    let loop: EventLoop | undefined;
    {
      await using runner = new Runner({ debug: true });
      loop = runner.getLoop() as EventLoop;
      expect(loop.getDebug()).toBe(true);
      expect(await runner.run(async () => 3)).toBe(3);
      expect(loop.isClosed()).toBe(false);
    }
    expect(loop.isClosed()).toBe(true);
  });
});

describe("getRunningLoop", () => {
  it("returns the running loop inside run, in tasks and in callbacks", async () => {
    const loop = new VirtualTimeLoop();
    const seen: unknown[] = [];
    await run(async () => {
      seen.push(getRunningLoop());
      await createTask(async () => seen.push(getRunningLoop()));
      loop.callSoon(() => seen.push(getRunningLoop()));
      await sleep(0);
    }, { loop });
    expect(seen).toEqual([loop, loop, loop]);
  });

  it("finds the loop in code a callback started, after the callback returned: an async callback after its await, a promise chain", async () => {
    const loop = new VirtualTimeLoop();
    const seen: unknown[] = [];
    let sleptUntil = -1;
    await run(async () => {
      loop.callSoon(async () => {
        await Promise.resolve();
        seen.push(getRunningLoop());
        await sleep(1000); // on the virtual loop: no real second passes
        sleptUntil = loop.time();
      });
      loop.callLater(5, () => {
        void Promise.resolve().then(() => seen.push(getRunningLoop()));
      });
      await sleep(2000);
    }, { loop });
    expect(seen).toEqual([loop, loop]);
    expect(sleptUntil).toBe(1000);
  });

  it("finds the loop in code a task started that goes on after the task is done, while the loop runs", async () => {
    const loop = new VirtualTimeLoop();
    let found: unknown;
    let taskDone: boolean | undefined;
    await run(async () => {
      const t = createTask(async () => {
        void (async () => {
          await sleep(10);
          taskDone = t.done();
          found = getRunningLoop();
        })();
        return 1;
      });
      await sleep(20);
    }, { loop });
    expect(taskDone).toBe(true);
    expect(found).toBe(loop);
  });

  it("code a callback started does not find the loop once the loop has stopped running", async () => {
    const loop = new VirtualTimeLoop();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let outcome: string | undefined;
    const after = new Promise<void>((resolve) => {
      void run(async () => {
        loop.callSoon(async () => {
          await gate;
          try {
            getRunningLoop();
            outcome = "found a loop";
          } catch (e) {
            outcome = (e as Error).message;
          }
          resolve();
        });
        await sleep(0);
      }, { loop }).then(() => release());
    });
    await after;
    expect(loop.isClosed()).toBe(true);
    expect(outcome).toBe("no running event loop");
  });

  it("an await in a loop callback resumes at promise speed, as in plain code: it is not a task's await", async () => {
    const loop = new VirtualTimeLoop();
    const order: string[] = [];
    await run(async () => {
      const f = loop.createFuture<number>();
      loop.callSoon(async () => {
        await f;
        order.push("callback resumed");
      });
      await sleep(0);
      f.setResult(1);
      void Promise.resolve()
        .then(() => order.push("p1"))
        .then(() => order.push("p2"));
      await sleep(0);
    }, { loop });
    expect(order).toEqual(["callback resumed", "p1", "p2"]);
  });

  it("throws an Error outside a loop", () => {
    expect(() => getRunningLoop()).toThrow(/no running event loop/);
  });

  it("throws in unrelated code (a host timer) while another loop sits in runForever", async () => {
    const loop = newEventLoop();
    const forever = loop.runForever();
    const outcome = await new Promise<string>((resolve) =>
      setTimeout(() => {
        try {
          getRunningLoop();
          resolve("found a loop");
        } catch (e) {
          resolve((e as Error).message);
        }
      }, 1),
    );
    loop.stop();
    await forever;
    loop.close();
    expect(outcome).toBe("no running event loop");
  });
});

describe("run inside a running loop", () => {
  it("is refused, as asyncio refuses it, and the outer run goes on", async () => {
    const result = await run(async () => {
      expect(() => run(async () => 1)).toThrow(/cannot be called from a running event loop/);
      return "outer done";
    }, { loop: new VirtualTimeLoop() });
    expect(result).toBe("outer done");
  });
});

describe("getEventLoop", () => {
  it("outside any loop returns the default loop, the same one each time", () => {
    const a = getEventLoop();
    const b = getEventLoop();
    expect(a).toBe(b);
    expect(a).toBeInstanceOf(EventLoop);
    expect(a.isRunning()).toBe(false);
    expect(a.isClosed()).toBe(false);
  });

  it("replaces a default loop that was closed", () => {
    const a = getEventLoop();
    a.close();
    const b = getEventLoop();
    expect(b).not.toBe(a);
    expect(b.isClosed()).toBe(false);
  });

  it("inside a loop returns the running loop, not the default one", async () => {
    const outside = getEventLoop();
    const loop = new VirtualTimeLoop();
    const inside = await run(async () => getEventLoop(), { loop });
    expect(inside).toBe(loop);
    expect(inside).not.toBe(outside);
    expect(getEventLoop()).toBe(outside);
  });

  it("serves plain async code outside run()", async () => {
    const loop = getEventLoop();
    const steps: string[] = [];
    loop.callSoon(() => steps.push("callback"));
    const future = loop.createFuture<string>();
    loop.callLater(-1, () => future.setResult("timer"));
    steps.push(await sleep(0, "slept"));
    steps.push(await future);
    expect(steps).toEqual(["callback", "slept", "timer"]);
    expect(loop.isRunning()).toBe(false);
  });
});

describe("newEventLoop", () => {
  it("returns a new idle host loop each time", async () => {
    const a = newEventLoop();
    const b = newEventLoop();
    expect(a).toBeInstanceOf(EventLoop);
    expect(a).not.toBe(b);
    expect(a).not.toBe(getEventLoop());
    expect(a.isRunning()).toBe(false);
    expect(a.isClosed()).toBe(false);
    expect(await a.runUntilComplete(async () => 42)).toBe(42);
    a.close();
    b.close();
  });
});
