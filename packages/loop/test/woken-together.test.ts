import { describe, expect, it } from "vitest";
import { CancelledError, isCancelledError } from "@aiots/core";
import { stoppedFor } from "@aiots/core/internal";
import { Future, createTask, currentTask, sleep } from "@aiots/future";
import { EventLoop, VirtualTimeLoop, getEventLoop, getRunningLoop, run } from "@aiots/loop";

/*
 * Tasks woken in one iteration (by timers due together, or by cancels one callback makes)
 * take their steps one after the other at the start of the next, as asyncio's do: what the
 * steps schedule comes after both steps, and a timer a step makes is due in the iteration
 * after. Each expected log is what CPython 3.13 logs for the same program.
 */
describe("tasks woken together", () => {
  it("a 0-delay timer made in the first step fires after a callback the second step queued", async () => {
    const log: string[] = [];
    await run(
      async () => {
        const loop = getRunningLoop();
        const first = createTask(async () => {
          await sleep(1);
          log.push("first woke");
          loop.callLater(0, () => log.push("timer made by first"));
        });
        const second = createTask(async () => {
          await sleep(1);
          log.push("second woke");
          loop.callSoon(() => log.push("callback queued by second"));
        });
        await first;
        await second;
        await sleep(5);
      },
      { loop: new VirtualTimeLoop() },
    );
    expect(log).toEqual(["first woke", "second woke", "callback queued by second", "timer made by first"]);
  });

  it("two tasks cancelled by one callback both resume before a callback queued after the cancels", async () => {
    const log: string[] = [];
    const sleeper = (name: string) => async () => {
      try {
        await sleep(10);
        log.push(`${name} woke`);
      } catch (e) {
        if (!isCancelledError(e)) throw e;
        log.push(`${name} cancelled`);
      }
    };
    await run(
      async () => {
        const loop = getRunningLoop();
        const t1 = createTask(sleeper("t1"));
        const t2 = createTask(sleeper("t2"));
        await sleep(0);
        loop.callSoon(() => {
          t1.cancel();
          t2.cancel();
        });
        loop.callSoon(() => loop.callSoon(() => log.push("queued after the cancels")));
        await t1;
        await t2;
        await sleep(5);
      },
      { loop: new VirtualTimeLoop() },
    );
    expect(log).toEqual(["t1 cancelled", "t2 cancelled", "queued after the cancels"]);
  });

  it("each woken task resumes as soon as the one before it really waits, not a host turn later", async () => {
    const log: string[] = [];
    await run(
      async () => {
        const loop = getRunningLoop();
        const futures = [loop.createFuture<number>(), loop.createFuture<number>(), loop.createFuture<number>()];
        const tasks = futures.map((future, i) =>
          createTask(async () => {
            await future;
            // Not a wait: asyncio's step goes on through it before the next task resumes.
            await Promise.resolve();
            log.push(`t${i}`);
            await sleep(5);
          }),
        );
        await sleep(0);
        // A host turn queued before the iteration whose callback wakes the three tasks.
        setImmediate(() => log.push("host turn"));
        loop.callSoon(() => {
          for (const [i, future] of futures.entries()) future.setResult(i);
        });
        for (const task of tasks) await task;
      },
      { loop: new VirtualTimeLoop() },
    );
    expect(log).toEqual(["t0", "t1", "t2", "host turn"]);
  });

  it("tasks awaiting one future take their steps one after the other when it settles", async () => {
    const log: string[] = [];
    await run(
      async () => {
        const loop = getRunningLoop();
        const shared = loop.createFuture<string>();
        const awaiter = (name: string) =>
          createTask(async () => {
            const value = await shared;
            log.push(`${name} got ${value}`);
            // Not a wait: asyncio's step goes on through it before the next task resumes.
            await Promise.resolve();
            log.push(`${name} went on`);
            await sleep(1);
          });
        const a = awaiter("a");
        const b = awaiter("b");
        const c = awaiter("c");
        await sleep(0);
        loop.callSoon(() => shared.setResult("x"));
        await a;
        await b;
        await c;
      },
      { loop: new VirtualTimeLoop() },
    );
    expect(log).toEqual(["a got x", "a went on", "b got x", "b went on", "c got x", "c went on"]);
  });

  it("tasks awaiting one future set behind a queued callback all resume before the setter's next sleep(0)", async () => {
    // asyncio: set_result schedules every awaiter's wake-up at once, behind the callback
    // queued before and ahead of the setter's own sleep(0).
    const log: string[] = [];
    await run(
      async () => {
        const loop = getRunningLoop();
        const shared = loop.createFuture<number>();
        const tasks = ["A", "B", "C"].map((name) =>
          createTask(async () => {
            await shared;
            log.push(name);
          }),
        );
        await sleep(0);
        loop.callSoon(() => log.push("x"));
        shared.setResult(1);
        for (let i = 0; i < 3; i++) {
          await sleep(0);
          log.push(`main${i}`);
        }
        await Promise.all(tasks);
      },
      { loop: new VirtualTimeLoop() },
    );
    expect(log).toEqual(["x", "A", "B", "C", "main0", "main1", "main2"]);
  });

  it("a second task awaiting one future takes its place among the awaiters at its await", async () => {
    // asyncio registers every awaiter's wake-up when it awaits: set from a callback right
    // behind both awaits, the future wakes them in that order, behind what was queued before.
    const log: string[] = [];
    await run(
      async () => {
        const loop = getRunningLoop();
        const shared = loop.createFuture<number>();
        const finishesAtOnce = createTask(async () => {});
        const first = createTask(async () => {
          loop.callSoon(() => log.push("queued by first"));
          await shared;
          log.push("first");
        });
        const second = createTask(async () => {
          await shared;
          log.push("second");
        });
        loop.callSoon(() => {
          log.push("set");
          shared.setResult(1);
        });
        await finishesAtOnce;
        await first;
        await second;
      },
      { loop: new VirtualTimeLoop() },
    );
    expect(log).toEqual(["set", "queued by first", "first", "second"]);
  });

  it("a loop closed while its batch waits for a step does not keep that step's task", async () => {
    const loop = new VirtualTimeLoop();
    let closed = false;
    const first = loop.createTask(async () => {
      await sleep(0);
      // The batch stopped for this step (another wake-up follows); the loop is not running, so it can close.
      loop.close();
      closed = true;
      await new Promise(() => {});
    });
    loop.createTask(async () => {
      await sleep(0);
    });
    for (let i = 0; i < 10 && !closed; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(true);
    expect(first.done()).toBe(false);
    expect(stoppedFor.task).toBeUndefined();
  });
});

/*
 * When the batch stopped for a task's step, the rest goes on once that step really waits or
 * its task finishes: not when the step merely calls `then`, and never from inside other code.
 */
describe("the rest of a batch stopped for a step", () => {
  const vrun = (fn: () => Promise<void>) => run(fn, { loop: new VirtualTimeLoop() });

  it("does not go on when the step calls catch() on a pending future (not a wait)", async () => {
    const log: string[] = [];
    await vrun(async () => {
      const loop = getRunningLoop();
      const pending = new Future<void>();
      createTask(async () => {
        await null; // the first step goes on in microtasks: the batch stops for it
        log.push("before catch");
        void pending.catch(() => {});
        await null;
        log.push("still in the step");
        await sleep(5);
      });
      loop.callSoon(() => log.push("next callback"));
      await sleep(10);
    });
    expect(log).toEqual(["before catch", "still in the step", "next callback"]);
  });

  it("goes on when the step awaits a future another task awaits already", async () => {
    const log: string[] = [];
    await vrun(async () => {
      const loop = getRunningLoop();
      const shared = new Future<void>();
      createTask(async () => {
        await shared; // the first awaiter: it holds the future's native promise
      });
      await sleep(0);
      // A host turn queued before the iteration whose batch stops for the step below.
      setImmediate(() => log.push("host turn"));
      createTask(async () => {
        await null; // the first step goes on in microtasks: the batch stops for it
        log.push("step");
        await shared; // a real wait, through `then`
      });
      loop.callSoon(() => log.push("next callback"));
      await sleep(1);
      shared.setResult();
    });
    expect(log).toEqual(["step", "next callback", "host turn"]);
  });

  it("does not run inside a listener that the finishing task's signal calls", async () => {
    const log: string[] = [];
    await vrun(async () => {
      const loop = getRunningLoop();
      const task = createTask(async () => {
        currentTask()!.signal.addEventListener("abort", () => {
          log.push("listener start");
          createTask(() => 1, { eagerStart: true }); // a task that finishes inside the listener
          log.push("listener end");
        });
        await null;
        throw new CancelledError("self");
      });
      loop.callSoon(() => log.push("next callback"));
      await sleep(5);
      expect(task.cancelled()).toBe(true);
    });
    expect(log).toEqual(["listener start", "listener end", "next callback"]);
  });

  it("does not run inside the code that settles a thenable the task's function returned", async () => {
    const log: string[] = [];
    await vrun(async () => {
      const loop = getRunningLoop();
      createTask(() => {
        let settle: (value: number) => void = () => {};
        queueMicrotask(() => {
          log.push("before settle");
          settle(1);
          log.push("after settle");
        });
        return { then: (onFulfilled: (value: number) => void) => void (settle = onFulfilled) } as unknown as PromiseLike<number>;
      });
      loop.callSoon(() => log.push("next callback"));
      await sleep(5);
    });
    expect(log).toEqual(["before settle", "after settle", "next callback"]);
  });

  it("does not stop for the sleep(0) of code outside any task", async () => {
    // Plain async functions outside any task, on the default loop: no step to wait for.
    const loop = getEventLoop() as EventLoop;
    let iterations = 0;
    const runOnce = loop._runOnce;
    loop._runOnce = function (this: EventLoop, goingOn?: boolean) {
      if (goingOn !== true) iterations++;
      runOnce.call(this, goingOn);
    };
    try {
      const plain = async () => {
        for (let i = 0; i < 3; i++) await sleep(0);
      };
      await Promise.all(Array.from({ length: 50 }, plain));
    } finally {
      loop._runOnce = runOnce;
    }
    // One iteration per round of sleep(0)s, not one per wake-up.
    expect(iterations).toBeLessThan(10);
  });
});
