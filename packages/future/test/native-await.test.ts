import { describe, expect, it } from "vitest";
import { isCancelledError } from "@aiots/core";
import { Future, Task, createTask, currentTask, sleep } from "@aiots/future";
import { onVirtualLoop, rejection } from "./helpers.js";

/** Pushes `label` after `n` microtask turns. */
async function afterTurns(n: number, log: string[], label: string): Promise<void> {
  for (let i = 0; i < n; i++) await undefined;
  log.push(label);
}

/** Runs `fn` and collects the reasons of unhandled rejections reported meanwhile (and one macrotask after). */
async function unhandledDuring(fn: () => Promise<void>): Promise<unknown[]> {
  const reports: unknown[] = [];
  const onUnhandled = (reason: unknown) => reports.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    await fn();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
  return reports;
}

describe("a Future is a native promise", () => {
  it("is an instance of Promise, tagged Future (or Task)", async () => {
    const fut = new Future<number>();
    expect(fut).toBeInstanceOf(Promise);
    expect(Object.prototype.toString.call(fut)).toBe("[object Future]");
    await onVirtualLoop(async () => {
      const task = createTask(async () => 1);
      expect(task).toBeInstanceOf(Promise);
      expect(Object.prototype.toString.call(task)).toBe("[object Task]");
      await task;
    });
  });

  it("then/catch/finally return plain promises, not futures", async () => {
    const fut = new Future<number>();
    const chained = fut.then((v) => v + 1);
    const caught = fut.catch(() => 0);
    const finalized = fut.finally(() => {});
    fut.setResult(1);
    for (const p of [chained, caught, finalized]) expect(p).not.toBeInstanceOf(Future);
    expect(await chained).toBe(2);
    expect(await caught).toBe(1);
    expect(await finalized).toBe(1);
    const done = new Future<number>();
    done.setResult(5);
    const again = done.then((v) => v * 2);
    expect(again).not.toBeInstanceOf(Future);
    expect(await again).toBe(10);
  });

  it("awaiting a future that is already done takes one turn, as awaiting a settled native promise", async () => {
    const log: string[] = [];
    const fut = new Future<string>();
    fut.setResult("x");
    const native = Promise.resolve("x");
    await Promise.all([
      (async () => {
        await fut;
        log.push("future");
      })(),
      (async () => {
        await native;
        log.push("native");
      })(),
      afterTurns(2, log, "two turns"),
    ]);
    expect(log).toEqual(["future", "native", "two turns"]);
  });

  it("awaiting a pending future outside tasks resumes one turn after it is resolved", async () => {
    const log: string[] = [];
    const fut = new Future<string>();
    const waiter = (async () => {
      log.push(`got ${await fut}`);
    })();
    await undefined; // the await has started
    fut.setResult("v");
    await Promise.all([waiter, afterTurns(2, log, "two turns")]);
    expect(log).toEqual(["got v", "two turns"]);
  });

  it("Promise.resolve of a done future is the future itself; of a pending one, a promise that follows it", async () => {
    const done = new Future<number>();
    done.setResult(3);
    expect(Promise.resolve(done)).toBe(done);
    const pending = new Future<number>();
    const followed = Promise.resolve(pending);
    pending.setResult(4);
    expect(await followed).toBe(4);
  });

  it("a future resolved with a thenable is adopted by an await, as a promise would be", async () => {
    const inner = new Future<number>();
    const outer = new Future<PromiseLike<number>>();
    outer.setResult(inner);
    setTimeout(() => inner.setResult(7), 1);
    expect(await outer).toBe(7);
  });

  it("several awaits of one future, native and not, resume in the order they started", async () => {
    await onVirtualLoop(async () => {
      const fut = new Future<number>();
      const log: string[] = [];
      const waiters = [
        (async () => log.push(`plain ${await fut}`))(),
        createTask(async () => log.push(`task a ${await fut}`)),
        fut.then((v) => log.push(`then ${v}`)),
        createTask(async () => log.push(`task b ${await fut}`)),
      ];
      await sleep(0);
      fut.setResult(1);
      await Promise.all(waiters);
      // (`then` callbacks run from the batch that settles the awaits, so before any of them.)
      expect(log.filter((line) => !line.startsWith("then"))).toEqual(["plain 1", "task a 1", "task b 1"]);
      expect(log).toContain("then 1");
    });
  });

  it("a rejected or cancelled future is never reported as an unhandled rejection, however it was awaited", async () => {
    const reports = await unhandledDuring(async () => {
      await onVirtualLoop(async () => {
        const raced = new Future<number>();
        const other = new Future<number>();
        const racer = createTask(() => Promise.race([raced, other]));
        const resolvedOnly = new Future<number>();
        void Promise.resolve(resolvedOnly); // looked at by the engine, never awaited
        await sleep(0);
        other.setException(new Error("lost the race"));
        expect(await rejection(racer)).toBeInstanceOf(Error);
        raced.cancel();
        resolvedOnly.setException(new Error("nobody awaits this"));
        const awaited = new Future<number>();
        const waiter = createTask(async () => await awaited);
        await sleep(0);
        waiter.cancel();
        expect(isCancelledError(await rejection(waiter))).toBe(true);
      });
    });
    expect(reports).toEqual([]);
  });

  it("a subclass of Future is awaited, tracked and cancelled like a Future", async () => {
    class Tagged<T> extends Future<T> {
      readonly tag = "tagged";
    }
    await onVirtualLoop(async () => {
      const done = new Tagged<number>();
      done.setResult(2);
      expect(await done).toBe(2);
      const pending = new Tagged<number>();
      const waiter = createTask(async () => {
        try {
          return await pending;
        } finally {
          expect(currentTask()).toBe(waiter);
        }
      });
      await sleep(0);
      expect(waiter.cancel()).toBe(true);
      expect(pending.cancelled()).toBe(true);
      expect(isCancelledError(await rejection(waiter))).toBe(true);
      expect(Object.getPrototypeOf(new Tagged<number>())).toBe(Tagged.prototype);
      expect(done.tag).toBe("tagged");
    });
  });

  it("cancelling a task in the same step as its await of a pending future starts still throws at that await", async () => {
    await onVirtualLoop(async () => {
      const fut = new Future<string>();
      const steps: string[] = [];
      const task = createTask(
        async () => {
          try {
            steps.push(`got ${await fut}`);
          } catch (e) {
            steps.push(isCancelledError(e) ? "cancelled at the await" : "other");
            throw e;
          }
        },
        { eagerStart: true },
      );
      // The await began inside createTask: the task tracks the future already.
      fut.setResult("value");
      task.cancel();
      expect(isCancelledError(await rejection(task))).toBe(true);
      expect(steps).toEqual(["cancelled at the await"]);
    });
  });

  it("a task that awaits Promise.all of pending tasks cancels each of them once", async () => {
    await onVirtualLoop(async () => {
      const kids = [0, 1, 2].map(() => createTask(() => sleep(10)));
      const parent: Task<unknown> = createTask(() => Promise.all(kids));
      await sleep(1);
      parent.cancel();
      expect(kids.map((k) => k.cancelling())).toEqual([1, 1, 1]);
      expect(isCancelledError(await rejection(parent))).toBe(true);
      expect(kids.every((k) => k.cancelled())).toBe(true);
    });
  });
});

describe("the await hook read again by the awaiter itself", () => {
  // `Promise.all` over tasks reads each one's `constructor` (the await hook), then calls its
  // `then`, whose native part reads it again: that is still the one awaiter, not a second
  // one taking a place among the awaiters.
  it("Promise.all over pending tasks leaves each with its one awaiter", async () => {
    await onVirtualLoop(async () => {
      const tasks = [0, 1, 2].map(() => createTask(() => sleep(1)));
      const all = Promise.all(tasks);
      await Promise.resolve();
      for (const task of tasks) expect((task as unknown as { _reactions: unknown })._reactions).toBe(task);
      await all;
    });
  });
});
