/**
 * A task's first step goes on through awaits of things that are done already (an uncontended
 * acquire, a put with room, a `waitFor` of work that finishes without waiting) before the loop
 * runs its next callback, as asyncio's step does: tasks created together do not interleave at
 * those awaits. Each case was checked against CPython 3.13.
 */
import { describe, expect, it } from "vitest";
import { Event, Future, Lock, Queue, Semaphore, createTask, getRunningLoop, sleep, waitFor } from "aiots";
import type { Task } from "aiots";
import { vrun } from "./conformance/helpers.js";

describe("a task's first step goes on through awaits that do not wait", () => {
  it("a task that takes an uncontended lock and cancels a task created after it cancels it before it starts", () =>
    vrun(async () => {
      const lock = new Lock();
      const log: string[] = [];
      const tasks: Task<void>[] = [];
      tasks.push(
        createTask(async () => {
          await lock.acquire();
          log.push(`cancel t1 -> ${tasks[1]!.cancel()}`);
          lock.release();
        }),
      );
      tasks.push(
        createTask(async () => {
          log.push("t1 body runs");
          await sleep(1);
        }),
      );
      await Promise.allSettled(tasks);
      expect(log).toEqual(["cancel t1 -> true"]);
      expect(tasks[1]!.cancelled()).toBe(true);
    }));

  it("a task that puts through waitFor and then gets gets its own item back before a task created after it", () =>
    vrun(async () => {
      const q = new Queue<number>(1);
      const log: string[] = [];
      const t0 = createTask(async () => {
        await waitFor(() => q.put(1), 2);
        log.push(`t0 got ${await q.get()}`);
      });
      const t1 = createTask(async () => {
        log.push(`t1 got ${await q.get()}`);
      });
      await sleep(5);
      expect(log).toEqual(["t0 got 1"]);
      expect(t0.done()).toBe(true);
      expect(t1.done()).toBe(false);
      t1.cancel();
    }));

  it("a task that takes a free permit logs its entry before the next task created with it starts", () =>
    vrun(async () => {
      const sem = new Semaphore(2);
      const log: string[] = [];
      const a = createTask(async () => {
        await sem.acquire();
        log.push("a in");
        sem.release();
      });
      const b = createTask(async () => {
        log.push("b starts");
      });
      await Promise.all([a, b]);
      expect(log).toEqual(["a in", "b starts"]);
    }));

  it("a task whose first step waits on a pending future lets the next task run at once (nothing held back)", () =>
    vrun(async () => {
      const lock = new Lock();
      await lock.acquire();
      const log: string[] = [];
      const t0 = createTask(async () => {
        await lock.acquire();
        log.push("t0 got the lock");
        lock.release();
      });
      const t1 = createTask(async () => {
        log.push("t1 runs");
        lock.release();
      });
      await Promise.all([t0, t1]);
      expect(log).toEqual(["t1 runs", "t0 got the lock"]);
    }));

  it("a task woken by a first step resumes after that step has gone on through awaits of things done already", () =>
    vrun(async () => {
      const ev = new Event();
      const log: string[] = [];
      const waiter = createTask(async () => {
        await ev.wait();
        log.push("waiter woke");
      });
      await sleep(0);
      const setter = createTask(async () => {
        ev.set();
        await Promise.resolve();
        await Promise.resolve();
        log.push("setter went on");
      });
      await Promise.all([waiter, setter]);
      expect(log).toEqual(["setter went on", "waiter woke"]);
    }));
});

describe("a task woken by a loop callback", () => {
  it("resumes once the rest of that iteration's callbacks have run, also when the iteration stops early for another task (asyncio: main, Y, A)", () =>
    vrun(async () => {
      const loop = getRunningLoop();
      const log: string[] = [];
      const fut = new Future<number>();
      createTask(async () => {
        await fut;
        log.push("A");
      });
      await sleep(0); // A waits for fut
      loop.callSoon(() => fut.setResult(1));
      loop.callLater(0, () => log.push("Y"));
      await sleep(0);
      log.push("main");
      await sleep(0);
      await sleep(0);
      expect(log).toEqual(["main", "Y", "A"]);
    }));
});
