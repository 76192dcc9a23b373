import { getEventListeners } from "node:events";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { CancelledError } from "@aiots/core";
import { VirtualTimeLoop, getRunningLoop } from "@aiots/loop";
import { Future, Task, allTasks, createTask, currentTask, sleep } from "@aiots/future";
import { onVirtualLoop, rejection } from "./helpers.js";

describe("results and exceptions of tasks", () => {
  it("a task's result is its function's return value, sync or async", async () => {
    await onVirtualLoop(async () => {
      const sync = createTask(() => 1);
      const asyncFn = createTask(async () => {
        await sleep(5);
        return "two";
      });
      expect(await sync).toBe(1);
      expect(await asyncFn).toBe("two");
      expect(sync.result()).toBe(1);
      expect(asyncFn.exception()).toBeNull();
      expect(asyncFn.getLoop()).toBe(getRunningLoop());
    });
  });

  it("a function returning a Future makes the task follow it", async () => {
    await onVirtualLoop(async () => {
      const t = createTask(() => sleep(10, "slept"));
      expect(await t).toBe("slept");
      expect(getRunningLoop().time()).toBe(10);
    });
  });

  it("an error thrown synchronously or asynchronously becomes the task's exception", async () => {
    await onVirtualLoop(async () => {
      const e1 = new TypeError("sync");
      const e2 = new RangeError("async");
      const t1 = createTask(() => {
        throw e1;
      });
      const t2 = createTask(async () => {
        await sleep(1);
        throw e2;
      });
      expect(await rejection(t1)).toBe(e1);
      expect(await rejection(t2)).toBe(e2);
      expect(t1.exception()).toBe(e1);
      expect(() => t2.result()).toThrow(e2);
      expect(t2.cancelled()).toBe(false);
    });
  });

  it("an error from an awaited task propagates to the awaiting task", async () => {
    await onVirtualLoop(async () => {
      const error = new Error("deep");
      const inner = createTask(async () => {
        await sleep(1);
        throw error;
      });
      const outer = createTask(async () => {
        try {
          await inner;
        } catch (e) {
          return e;
        }
        return undefined;
      });
      expect(await outer).toBe(error);
    });
  });

  it("a task that throws a CancelledError of its own ends cancelled with that message", async () => {
    await onVirtualLoop(async () => {
      const t = createTask(async () => {
        await sleep(1);
        throw new CancelledError("self-made");
      });
      const error = await rejection(t);
      expect(t.cancelled()).toBe(true);
      expect((error as Error).message).toBe("self-made");
    });
  });
});

describe("misuse of a task", () => {
  it("setResult and setException throw and leave the task running", async () => {
    await onVirtualLoop(async () => {
      const t = createTask(async () => {
        await sleep(10);
        return 5;
      });
      expect(() => t.setResult(1)).toThrow(TypeError);
      expect(() => t.setResult(1)).toThrow(/setResult/);
      expect(() => t.setException(new Error("x"))).toThrow(/setException/);
      expect(t.done()).toBe(false);
      expect(await t).toBe(5);
    });
  });

  it("a task awaiting itself fails with an error saying so (asyncio's test_task_awaits_on_itself)", async () => {
    await onVirtualLoop(async () => {
      const t: Task<void> = createTask(async () => {
        await sleep(0);
        await t;
      });
      const error = await rejection(t);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/Task cannot await on itself/);
      expect(t.cancelled()).toBe(false);
    });
  });

  it("a task whose function returns the task itself fails the same way", async () => {
    await onVirtualLoop(async () => {
      const t: Task<unknown> = createTask(() => t);
      expect(((await rejection(t)) as Error).message).toMatch(/cannot await on itself/);
    });
  });
});

describe("outside any run()", () => {
  it("createTask runs on the default loop in plain async code", async () => {
    const t = createTask(async () => {
      await sleep(1);
      return { task: currentTask() };
    });
    expect(currentTask()).toBeUndefined();
    expect((await t).task).toBe(t);
  });
});

describe("names", () => {
  it("default names are Task-N with increasing N; name and setName set them", async () => {
    await onVirtualLoop(async () => {
      const a = createTask(() => 1);
      const b = createTask(() => 2);
      const na = Number(/^Task-(\d+)$/.exec(a.getName())![1]);
      const nb = Number(/^Task-(\d+)$/.exec(b.getName())![1]);
      expect(nb).toBeGreaterThan(na);
      const c = createTask(() => 3, { name: "worker" });
      expect(c.getName()).toBe("worker");
      c.setName("renamed");
      expect(c.getName()).toBe("renamed");
      c.setName(42 as never);
      expect(c.getName()).toBe("42");
      await Promise.all([a, b, c]);
    });
  });

  it("a name that is not a string throws TypeError at createTask", async () => {
    await onVirtualLoop(async () => {
      expect(() => createTask(() => 1, { name: 5 as never })).toThrow(TypeError);
      expect(() => createTask(() => 1, { name: 5 as never })).toThrow(/name/);
    });
  });
});

describe("currentTask", () => {
  it("is the task inside its function and nested async functions, undefined outside and in callbacks", async () => {
    expect(currentTask()).toBeUndefined();
    await onVirtualLoop(async () => {
      const main = currentTask();
      expect(main).toBeInstanceOf(Task);
      expect(main!.getName()).toBe("main");
      // Wrapped in an object: an async function returning a Task would adopt it as a thenable.
      const nested = async () => {
        await sleep(1);
        return { task: currentTask() };
      };
      const t = createTask(async () => {
        const before = currentTask();
        const inNested = (await nested()).task;
        return { before, inNested };
      });
      const { before, inNested } = await t;
      expect(before).toBe(t);
      expect(inNested).toBe(t);
      expect(currentTask()).toBe(main);
      const inCallback = new Future<Task<unknown> | undefined>();
      getRunningLoop().callSoon(() => inCallback.setResult(currentTask()));
      expect(await inCallback).toBeUndefined();
      const f = new Future<void>();
      const inDoneCallback = new Future<Task<unknown> | undefined>();
      f.addDoneCallback(() => inDoneCallback.setResult(currentTask()));
      f.setResult();
      expect(await inDoneCallback).toBeUndefined();
    });
    expect(currentTask()).toBeUndefined();
  });
});

describe("allTasks", () => {
  it("holds the pending tasks of the running loop only, and drops each as it finishes", async () => {
    await onVirtualLoop(async () => {
      const main = currentTask()!;
      expect(allTasks()).toEqual(new Set([main]));
      const a = createTask(() => sleep(10));
      const b = createTask(() => sleep(20));
      expect(allTasks()).toEqual(new Set([main, a, b]));
      expect(allTasks(getRunningLoop())).toEqual(new Set([main, a, b]));
      await a;
      expect(allTasks()).toEqual(new Set([main, b]));
      b.cancel();
      await rejection(b);
      expect(allTasks()).toEqual(new Set([main]));
      const other = new VirtualTimeLoop();
      expect(allTasks(other).size).toBe(0);
    });
  });

  it("a task cancelled before it starts leaves allTasks once it is done", async () => {
    await onVirtualLoop(async () => {
      const t = createTask(() => sleep(10));
      t.cancel();
      expect(allTasks().has(t)).toBe(true);
      await rejection(t);
      expect(allTasks().has(t)).toBe(false);
    });
  });
});

describe("eagerStart", () => {
  it("runs the function synchronously up to its first await, as the current task", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const main = currentTask();
      const t = createTask(
        async () => {
          steps.push(`eager, main is current: ${currentTask() === main}`);
          await sleep(1);
          steps.push("after await");
          return 7;
        },
        { eagerStart: true },
      );
      steps.push("createTask returned");
      expect(currentTask()).toBe(main);
      expect(await t).toBe(7);
    });
    expect(steps).toEqual(["eager, main is current: false", "createTask returned", "after await"]);
  });

  it("the eager part sees the task as current", async () => {
    await onVirtualLoop(async () => {
      let seen: Task<unknown> | undefined;
      const t = createTask(
        () => {
          seen = currentTask();
          return sleep(1);
        },
        { eagerStart: true },
      );
      expect(seen).toBe(t);
      await t;
    });
  });

  it("a task that finishes eagerly is done at once and never in allTasks", async () => {
    await onVirtualLoop(async () => {
      const t = createTask(() => "now", { eagerStart: true });
      expect(t.done()).toBe(true);
      expect(t.result()).toBe("now");
      expect(allTasks().has(t)).toBe(false);
      const failing = createTask(
        () => {
          throw new Error("eager failure");
        },
        { eagerStart: true },
      );
      expect(failing.done()).toBe(true);
      expect((failing.exception() as Error).message).toBe("eager failure");
    });
  });

  it("without eagerStart the function waits for the next loop iteration", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const t = createTask(() => steps.push("ran"));
      steps.push("created");
      expect(t.done()).toBe(false);
      await t;
    });
    expect(steps).toEqual(["created", "ran"]);
  });
});

describe("createTask with a signal", () => {
  it("an already aborted signal cancels the task before it starts: the function never runs", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const controller = new AbortController();
      controller.abort(new Error("not wanted"));
      for (const eagerStart of [false, true]) {
        const t = createTask(() => steps.push("ran"), { signal: controller.signal, eagerStart });
        const error = await rejection(t);
        expect(error).toBeInstanceOf(CancelledError);
        expect((error as Error).message).toBe("not wanted");
        expect(t.cancelled()).toBe(true);
        expect(t.cancelling()).toBe(1);
      }
    });
    expect(steps).toEqual([]);
  });

  it("aborting the signal later cancels the task at its await", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const controller = new AbortController();
      const t = createTask(
        async () => {
          try {
            await sleep(1000);
          } finally {
            steps.push(`finally at ${getRunningLoop().time()}`);
          }
        },
        { signal: controller.signal },
      );
      await sleep(30);
      controller.abort("user pressed stop");
      const error = await rejection(t);
      expect(error).toBeInstanceOf(CancelledError);
      expect((error as Error).message).toBe("user pressed stop");
    });
    expect(steps).toEqual(["finally at 30"]);
  });

  it("aborting the signal after the task finished changes nothing", async () => {
    await onVirtualLoop(async () => {
      const controller = new AbortController();
      const t = createTask(() => 1, { signal: controller.signal });
      expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
      await t;
      expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
      controller.abort();
      expect(t.cancelled()).toBe(false);
      expect(t.cancelling()).toBe(0);
    });
  });

  it("a signal that is not an AbortSignal throws TypeError", async () => {
    await onVirtualLoop(async () => {
      expect(() => createTask(() => 1, { signal: "stop" as never })).toThrow(TypeError);
      expect(() => createTask(() => 1, { signal: {} as never })).toThrow(/signal/);
    });
  });
});

describe("host callbacks started inside a task", () => {
  it("belong to the task: a future awaited in a setTimeout callback is cancelled with the task", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const hostDone = new Future<void>();
      const waited = new Future<string>();
      const t = createTask(async () => {
        setTimeout(() => {
          steps.push(`callback sees the task: ${currentTask() !== undefined}`);
          waited.then(
            () => steps.push("resolved"),
            (e: unknown) => steps.push(`callback await threw ${(e as Error).name}`),
          );
          hostDone.setResult();
        }, 0);
        await sleep(Infinity);
      });
      await hostDone;
      t.cancel();
      await rejection(t);
      await sleep(0);
      expect(waited.cancelled()).toBe(true);
    });
    expect(steps).toEqual(["callback sees the task: true", "callback await threw CancelledError"]);
  });

  it("a callback that runs after the task finished is plain code again", async () => {
    await onVirtualLoop(async () => {
      const seen = new Future<Task<unknown> | undefined>();
      const t = createTask(() => {
        setTimeout(() => seen.setResult(currentTask()), 0);
        return 1;
      });
      await t;
      expect(await seen).toBeUndefined();
    });
  });
});

describe("toString and inspect", () => {
  it("show the name, the state and the awaited future", async () => {
    await onVirtualLoop(async () => {
      const f = new Future<number>();
      const t = createTask(() => f, { name: "job" });
      expect(String(t)).toBe("Task [job, pending]");
      await sleep(0);
      expect(String(t)).toBe("Task [job, pending, waiting on Future [pending]]");
      expect(inspect(t)).toBe(String(t));
      expect(Object.prototype.toString.call(t)).toBe("[object Task]");
      t.cancel();
      expect(String(t)).toMatch(/^Task \[job, cancelling/);
      await rejection(t);
      expect(String(t)).toBe("Task [job, cancelled]");
      const first = new Future<void>();
      let release!: () => void;
      const onPlain = createTask(
        async () => {
          await first;
          await new Promise<void>((r) => (release = r));
        },
        { name: "plain" },
      );
      try {
        await sleep(0);
        expect(String(onPlain)).toBe("Task [plain, pending, waiting on Future [pending]]");
        first.setResult();
        await sleep(0);
        // The future it awaited is done: the task now waits on something else.
        expect(String(onPlain)).toBe("Task [plain, pending]");
      } finally {
        release(); // so that a failed assertion cannot leave run() waiting on the task
      }
      await onPlain;
      const ok = createTask(async () => "abc", { name: "ok" });
      await ok;
      expect(String(ok)).toBe('Task [ok, finished, result: "abc"]');
    });
  });
});
