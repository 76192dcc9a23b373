// Port of CPython Lib/test/test_asyncio/test_tasks.py (task core, cancellation, names, current/all)
import { describe, test, expect } from "vitest";
import {
  createTask, currentTask, allTasks, sleep, getRunningLoop, CancelledError, Task, run,
  VirtualTimeLoop, InvalidStateError,
} from "aiots";
import { vrun, runBriefly, caught } from "./helpers.js";

describe("test_tasks: basics", () => {
  test("test_task_basics", () => vrun(async () => {
    const t = createTask(async () => { await sleep(0); return "ok"; });
    expect(t).toBeInstanceOf(Task);
    expect(t.done()).toBe(false);
    expect(await t).toBe("ok");
    expect(t.done()).toBe(true);
    expect(t.result()).toBe("ok");
    expect(t.exception()).toBeNull();
  }));

  test("createTask with a synchronous function", () => vrun(async () => {
    const t = createTask(() => 42);
    expect(await t).toBe(42);
  }));

  test("task exception", () => vrun(async () => {
    const err = new TypeError("bad");
    const t = createTask(async () => { await sleep(0); throw err; });
    expect(await caught(() => t)).toBe(err);
    expect(t.exception()).toBe(err);
    expect(t.cancelled()).toBe(false);
  }));

  test("loop.createTask", () => vrun(async () => {
    const t = getRunningLoop().createTask(async () => 5, { name: "x" });
    expect(t.getName()).toBe("x");
    expect(await t).toBe(5);
  }));

  test("test_task_default_name / increments", () => vrun(async () => {
    const t1 = createTask(async () => {});
    const t2 = createTask(async () => {});
    const m1 = /^Task-(\d+)$/.exec(t1.getName());
    const m2 = /^Task-(\d+)$/.exec(t2.getName());
    expect(m1).not.toBeNull();
    expect(m2).not.toBeNull();
    expect(Number(m2![1])).toBeGreaterThan(Number(m1![1]));
    await Promise.all([t1, t2]);
  }));

  test("test_task_set_name / create with name", () => vrun(async () => {
    const t = createTask(async () => {}, { name: "foo" });
    expect(t.getName()).toBe("foo");
    t.setName("bar");
    expect(t.getName()).toBe("bar");
    await t;
  }));

  test("test_task_set_methods: Task does not support setResult/setException", () => vrun(async () => {
    const t = createTask(async () => { await sleep(10); return 1; });
    await sleep(0);
    expect(() => t.setResult(2)).toThrow();
    expect(() => t.setException(new Error())).toThrow();
    expect(await t).toBe(1);
  }));

  test("test_current_task", () => vrun(async () => {
    const main = currentTask();
    expect(main).toBeInstanceOf(Task);
    // NB: returning a Task (a thenable) from an async fn makes JS adopt it -> wrap it
    const t = createTask(async () => ({ cur: currentTask() }));
    expect((await t).cur).toBe(t);
    expect(currentTask()).toBe(main);
  }));

  test("currentTask outside a task is null/undefined", () => vrun(async () => {
    let got: unknown = "unset";
    getRunningLoop().callSoon(() => { got = currentTask(); });
    await runBriefly();
    expect(got == null).toBe(true);
  }));

  test("test_current_task_with_interleaving_tasks", () => vrun(async () => {
    const loop = getRunningLoop();
    const fut1 = loop.createFuture<boolean>();
    const fut2 = loop.createFuture<boolean>();
    const log: boolean[] = [];
    const t1: Task<void> = createTask(async () => {
      log.push(currentTask() === t1);
      await fut1;
      log.push(currentTask() === t1);
      fut2.setResult(true);
    });
    const t2: Task<void> = createTask(async () => {
      log.push(currentTask() === t2);
      fut1.setResult(true);
      await fut2;
      log.push(currentTask() === t2);
    });
    await Promise.all([t1, t2]);
    expect(log).toEqual([true, true, true, true]);
  }));

  test("current task in nested async functions", () => vrun(async () => {
    async function inner() { await sleep(1); return { cur: currentTask() }; }
    const t = createTask(async () => inner());
    expect((await t).cur).toBe(t);
  }));

  test("test_all_tasks", () => vrun(async () => {
    const f = getRunningLoop().createFuture<void>();
    const t1 = createTask(async () => { await f; });
    const t2 = createTask(async () => { await f; });
    await sleep(0);
    const all = allTasks();
    expect(all.has(t1)).toBe(true);
    expect(all.has(t2)).toBe(true);
    expect(all.has(currentTask()!)).toBe(true);
    f.setResult();
    await t1; await t2;
    const after = allTasks();
    expect(after.has(t1)).toBe(false);
    expect(after.has(t2)).toBe(false);
  }));

  test("test_task_awaits_on_itself", () => vrun(async () => {
    let t: Task<void>;
    t = createTask(async () => { await t; });
    const e = await caught(() => t);
    expect(e).toBeInstanceOf(Error);
    expect(e).not.toBeInstanceOf(CancelledError);
  }));

  test("task done callbacks", () => vrun(async () => {
    const bag: string[] = [];
    const t = createTask(async () => "r");
    t.addDoneCallback((x) => bag.push(String(x.result())));
    await t;
    await runBriefly();
    expect(bag).toEqual(["r"]);
  }));

  test("tasks start in creation order (FIFO)", () => vrun(async () => {
    const order: number[] = [];
    const ts = [1, 2, 3, 4].map((i) => createTask(async () => { order.push(i); }));
    expect(order).toEqual([]); // not started synchronously
    await Promise.all(ts);
    expect(order).toEqual([1, 2, 3, 4]);
  }));
});

describe("test_tasks: cancellation", () => {
  test("test_cancel (sleeping task)", () => vrun(async () => {
    const t = createTask(async () => { await sleep(10_000); return 12; });
    await sleep(0);
    expect(t.cancel()).toBe(true);
    expect(t.cancelled()).toBe(false); // not yet: the CancelledError must be delivered first
    expect(await caught(() => t)).toBeInstanceOf(CancelledError);
    expect(t.cancelled()).toBe(true);
    expect(t.cancel()).toBe(false);
    expect(() => t.result()).toThrow(CancelledError);
  }));

  test("test_cancel_with_message_then_future_result", () => vrun(async () => {
    const t = createTask(async () => { await sleep(10_000); });
    await sleep(0);
    t.cancel("my message");
    const e = await caught(() => t);
    expect(e).toBeInstanceOf(CancelledError);
    expect((e as Error).message).toBe("my message");
  }));

  test("test_cancel_with_message_before_starting_task", () => vrun(async () => {
    let ran = false;
    const t = createTask(async () => { ran = true; await sleep(10_000); });
    t.cancel("my message");
    const e = await caught(() => t);
    expect(e).toBeInstanceOf(CancelledError);
    expect((e as Error).message).toBe("my message");
    expect(ran).toBe(false);
    expect(t.cancelled()).toBe(true);
  }));

  test("test_cancel_yield: cancel runs finally blocks", () => vrun(async () => {
    const log: string[] = [];
    const t = createTask(async () => {
      try { await sleep(10_000); log.push("after"); } finally { log.push("finally"); }
    });
    await sleep(0);
    t.cancel();
    await caught(() => t);
    expect(log).toEqual(["finally"]);
  }));

  test("test_cancel_inner_future", () => vrun(async () => {
    const f = getRunningLoop().createFuture<void>();
    const t = createTask(async () => { await f; return 12; });
    await sleep(0);
    f.cancel();
    expect(await caught(() => t)).toBeInstanceOf(CancelledError);
    expect(f.cancelled()).toBe(true);
    expect(t.cancelled()).toBe(true);
  }));

  test("cancelling a task cancels the future it awaits (Task.cancel -> _fut_waiter.cancel)", () => vrun(async () => {
    const f = getRunningLoop().createFuture<void>();
    const t = createTask(async () => { await f; });
    await sleep(0);
    t.cancel();
    await caught(() => t);
    expect(f.cancelled()).toBe(true);
  }));

  test("cancelling a task cancels the task it awaits", () => vrun(async () => {
    const inner = createTask(async () => { await sleep(10_000); });
    const outer = createTask(async () => { await inner; });
    await sleep(0);
    outer.cancel();
    await caught(() => outer);
    await caught(() => inner);
    expect(inner.cancelled()).toBe(true);
    expect(outer.cancelled()).toBe(true);
  }));

  test("test_cancel_both_task_and_inner_future", () => vrun(async () => {
    const f = getRunningLoop().createFuture<void>();
    const t = createTask(async () => { await f; return 12; });
    await sleep(0);
    f.cancel();
    t.cancel();
    expect(await caught(() => t)).toBeInstanceOf(CancelledError);
    expect(t.done()).toBe(true);
    expect(f.cancelled()).toBe(true);
    expect(t.cancelled()).toBe(true);
  }));

  test("test_cancel_task_catching", () => vrun(async () => {
    const loop = getRunningLoop();
    const fut1 = loop.createFuture<void>();
    const fut2 = loop.createFuture<void>();
    const t = createTask(async () => {
      await fut1;
      try { await fut2; } catch (e) { if (e instanceof CancelledError) return 42; throw e; }
      return 0;
    });
    await sleep(0);
    fut1.setResult();
    await sleep(0); await sleep(0);
    t.cancel();
    expect(await t).toBe(42);
    expect(t.cancelled()).toBe(false);
  }));

  test("test_cancel_task_ignoring", () => vrun(async () => {
    const loop = getRunningLoop();
    const fut1 = loop.createFuture<void>();
    const fut2 = loop.createFuture<void>();
    const fut3 = loop.createFuture<number>();
    const t = createTask(async () => {
      await fut1;
      try { await fut2; } catch (e) { if (!(e instanceof CancelledError)) throw e; }
      return await fut3;
    });
    await runBriefly();
    fut1.setResult();
    await runBriefly();
    t.cancel();
    expect(fut2.cancelled()).toBe(true);
    await runBriefly();
    expect(t.done()).toBe(false);
    fut3.setResult(42);
    expect(await t).toBe(42);
    expect(t.cancelled()).toBe(false);
  }));

  test("cancel after the awaited future completed but before the task resumed: CancelledError at that await", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    const log: unknown[] = [];
    const t = createTask(async () => { const v = await f; log.push(v); await sleep(0); log.push("end"); });
    await sleep(0);
    f.setResult(1);
    t.cancel();
    expect(await caught(() => t)).toBeInstanceOf(CancelledError);
    expect(log).toEqual([]);
  }));

  test("test_cancel_current_task", () => vrun(async () => {
    let reached = false;
    const t: Task<number> = createTask(async () => {
      t.cancel();
      reached = true; // code continues until the next await
      await sleep(100);
      return 12;
    });
    expect(await caught(() => t)).toBeInstanceOf(CancelledError);
    expect(reached).toBe(true);
    expect(t.cancelled()).toBe(true);
  }));

  test("test_cancel_at_end: self-cancel then return ends cancelled", () => vrun(async () => {
    const t: Task<number> = createTask(async () => { t.cancel(); return 12; });
    expect(await caught(() => t)).toBeInstanceOf(CancelledError);
    expect(t.done()).toBe(true);
    expect(t.cancelled()).toBe(true);
  }));

  test("test_cancel_done_future (cancel a finished task returns false)", () => vrun(async () => {
    const t = createTask(async () => 1);
    await t;
    expect(t.cancel()).toBe(false);
    expect(t.cancelled()).toBe(false);
    expect(t.result()).toBe(1);
  }));

  test("test_cancelling / uncancel counts", () => vrun(async () => {
    const t = createTask(async () => { await sleep(10_000); });
    await sleep(0);
    expect(t.cancelling()).toBe(0);
    t.cancel();
    expect(t.cancelling()).toBe(1);
    t.cancel();
    expect(t.cancelling()).toBe(2);
    expect(t.uncancel()).toBe(1);
    expect(t.cancelling()).toBe(1);
    await caught(() => t);
    expect(t.cancelled()).toBe(true);
  }));

  test("test_uncancel_resets_must_cancel", () => vrun(async () => {
    const fut = getRunningLoop().createFuture<void>();
    const t = createTask(async () => { await fut; return "done"; });
    await sleep(0);
    fut.setResult(); // make task runnable
    t.cancel();
    expect(t.cancelling()).toBe(1);
    t.uncancel();
    expect(t.cancelling()).toBe(0);
    expect(await t).toBe("done");
  }));

  test("uncancel does not go below zero", () => vrun(async () => {
    const t = createTask(async () => { await sleep(1); });
    expect(t.uncancel()).toBe(0);
    await t;
  }));

  test("test_uncancel_structured_blocks (catch, uncancel, continue)", () => vrun(async () => {
    const log: string[] = [];
    const t: Task<string> = createTask(async () => {
      try { await sleep(10_000); } catch (e) {
        if (!(e instanceof CancelledError)) throw e;
        log.push(`caught ${t.cancelling()}`);
        t.uncancel();
      }
      await sleep(1); // continues normally
      return "finished";
    });
    await sleep(0);
    t.cancel();
    expect(await t).toBe("finished");
    expect(log).toEqual(["caught 1"]);
    expect(t.cancelling()).toBe(0);
  }));

  test("test_task_cancel_sleeping_task (virtual time)", () => vrun(async () => {
    const loop = getRunningLoop();
    const t0 = loop.time();
    const sleeper = createTask(async () => { await sleep(5000); return 5000; });
    const doer = createTask(async () => { await sleep(100); sleeper.cancel(); return "done"; });
    expect(await doer).toBe("done");
    expect(await caught(() => sleeper)).toBeInstanceOf(CancelledError);
    expect(loop.time() - t0).toBe(100);
  }));

  test("cancelling a task awaiting a plain promise aborts its signal and cancels at next aiots await", () => vrun(async () => {
    let resolvePlain!: () => void;
    const plain = new Promise<void>((r) => { resolvePlain = r; });
    const log: string[] = [];
    const t: Task<void> = createTask(async () => {
      await plain;
      log.push("after plain");
      await sleep(0);
      log.push("after sleep");
    });
    await sleep(0);
    t.cancel();
    expect(t.signal.aborted).toBe(true);
    resolvePlain();
    expect(await caught(() => t)).toBeInstanceOf(CancelledError);
    expect(log).toEqual(["after plain"]);
  }));

  test("task.signal aborted when cancelled", () => vrun(async () => {
    const t = createTask(async () => { await sleep(10_000); });
    await sleep(0);
    expect(t.signal).toBeInstanceOf(AbortSignal);
    expect(t.signal.aborted).toBe(false);
    t.cancel();
    expect(t.signal.aborted).toBe(true);
    await caught(() => t);
  }));

  test("createTask({signal}): aborting the signal cancels the task", () => vrun(async () => {
    const ac = new AbortController();
    const t = createTask(async () => { await sleep(10_000); }, { signal: ac.signal });
    await sleep(0);
    ac.abort();
    expect(await caught(() => t)).toBeInstanceOf(CancelledError);
    expect(t.cancelled()).toBe(true);
  }));

  test("createTask with an already-aborted signal is cancelled", () => vrun(async () => {
    const ac = new AbortController();
    ac.abort();
    const t = createTask(async () => { await sleep(10_000); }, { signal: ac.signal });
    expect(await caught(() => t)).toBeInstanceOf(CancelledError);
  }));

  test("cancel propagates into nested async functions", () => vrun(async () => {
    const log: string[] = [];
    async function deeper() { try { await sleep(10_000); } finally { log.push("deeper"); } }
    async function inner() { try { await deeper(); } finally { log.push("inner"); } }
    const t = createTask(inner);
    await sleep(0);
    t.cancel();
    await caught(() => t);
    expect(log).toEqual(["deeper", "inner"]);
  }));

  test("awaiting a cancelled task from another task raises CancelledError", () => vrun(async () => {
    const t = createTask(async () => { await sleep(10_000); });
    const waiter = createTask(async () => { try { await t; return "no"; } catch (e) { return e instanceof CancelledError ? "cancelled" : "other"; } });
    await sleep(0);
    t.cancel();
    expect(await waiter).toBe("cancelled");
    expect(waiter.cancelled()).toBe(false);
  }));
});

describe("test_tasks: eager start", () => {
  test("eagerStart runs synchronously until first await", () => vrun(async () => {
    const log: string[] = [];
    const t = createTask(async () => { log.push("start"); await sleep(0); log.push("end"); }, { eagerStart: true });
    expect(log).toEqual(["start"]);
    await t;
    expect(log).toEqual(["start", "end"]);
  }));

  test("eagerStart task that finishes synchronously is done at once", () => vrun(async () => {
    const t = createTask(() => 5, { eagerStart: true });
    expect(t.done()).toBe(true);
    expect(t.result()).toBe(5);
  }));

  test("currentTask inside eager task is that task", () => vrun(async () => {
    let seen: unknown;
    const t: Task<void> = createTask(() => { seen = currentTask(); }, { eagerStart: true });
    await t;
    expect(seen).toBe(t);
  }));
});

describe("test_tasks: sleep", () => {
  test("test_sleep returns value, virtual time advances", () => vrun(async () => {
    const loop = getRunningLoop();
    const t0 = loop.time();
    expect(await sleep(3_600_000, "yeah")).toBe("yeah");
    expect(loop.time() - t0).toBe(3_600_000);
  }));

  test("sleep(0) returns undefined/value and yields", () => vrun(async () => {
    const order: string[] = [];
    const t = createTask(async () => { order.push("task"); });
    order.push("before");
    await sleep(0);
    order.push("after");
    await t;
    expect(order).toEqual(["before", "task", "after"]);
  }));

  test("negative sleep is now", () => vrun(async () => {
    const loop = getRunningLoop();
    const t0 = loop.time();
    expect(await sleep(-100, 1)).toBe(1);
    expect(loop.time()).toBe(t0);
  }));

  test("sleep(NaN) throws at the call", () => vrun(async () => {
    expect(() => sleep(NaN)).toThrow();
    expect(() => sleep("10" as unknown as number)).toThrow(TypeError);
  }));

  test("sleep(Infinity) waits until cancelled", () => vrun(async () => {
    const t = createTask(async () => { await sleep(Infinity); });
    await sleep(1e9);
    expect(t.done()).toBe(false);
    t.cancel();
    expect(await caught(() => t)).toBeInstanceOf(CancelledError);
  }));

  test("test_sleep_cancel", () => vrun(async () => {
    const t = createTask(async () => sleep(10_000, "x"));
    await sleep(1);
    t.cancel();
    expect(await caught(() => t)).toBeInstanceOf(CancelledError);
  }));

  test("sleeps wake in deadline order", () => vrun(async () => {
    const order: number[] = [];
    const ts = [30, 10, 20].map((d) => createTask(async () => { await sleep(d); order.push(d); }));
    await Promise.all(ts);
    expect(order).toEqual([10, 20, 30]);
  }));

  test("sleep with aborted signal rejects at once; later abort rejects with reason", async () => {
    const ac = new AbortController();
    ac.abort(new Error("why"));
    const e = await caught(() => sleep(1000, undefined, { signal: ac.signal }));
    expect((e as Error).message).toBe("why");
    await vrun(async () => {
      const ac2 = new AbortController();
      const p = sleep(10_000, undefined, { signal: ac2.signal });
      const reason = new Error("later");
      getRunningLoop().callSoon(() => ac2.abort(reason));
      expect(await caught(() => p)).toBe(reason);
    });
  });

  test("sleep outside any loop (default host loop)", async () => {
    expect(await sleep(1, "v")).toBe("v");
  });
});

test("run: main task cancelled from inside returns CancelledError", async () => {
  const e = await caught(() => run(async () => { currentTask()!.cancel(); await sleep(1); }, { loop: new VirtualTimeLoop() }));
  expect(e).toBeInstanceOf(CancelledError);
});

test("InvalidStateError: result of pending task", () => vrun(async () => {
  const t = createTask(async () => { await sleep(1); });
  expect(() => t.result()).toThrow(InvalidStateError);
  await t;
}));

test("a task function that returns currentTask() fails: the task would await itself", () => vrun(async () => {
  // asyncio's coroutine would return the task object; an async function adopts the returned thenable, so the task awaits itself and fails (docs/cancellation.md, "Returning a task from a task").
  const t = createTask(async () => currentTask());
  const e = await caught(() => t);
  expect(e).toBeInstanceOf(Error);
  expect((e as Error).message).toMatch(/Task cannot await on itself/);
  expect(t.done()).toBe(true);
  expect(t.cancelled()).toBe(false);
  expect(t.exception()).toBe(e);
}));
