// Ports of gather/wait/as_completed/shield tests in test_tasks.py, and test_waitfor.py
import { describe, test, expect } from "vitest";
import {
  gather, wait, waitFor, asCompleted, shield, createTask, sleep, getRunningLoop, CancelledError,
  TimeoutError, Future, isFuture, currentTask,
} from "aiots";
import { vrun, runBriefly, caught } from "./helpers.js";

describe("gather", () => {
  test("test_gather: results in order", () => vrun(async () => {
    const loop = getRunningLoop();
    const a = loop.createFuture<number>(), b = loop.createFuture<string>();
    const fut = gather([a, b]);
    expect(isFuture(fut)).toBe(true);
    b.setResult("b"); a.setResult(1);
    expect(await fut).toEqual([1, "b"]);
  }));

  test("gather of functions and promises", () => vrun(async () => {
    const res = await gather([async () => { await sleep(20); return 1; }, Promise.resolve("p"), () => 3]);
    expect(res).toEqual([1, "p", 3]);
  }));

  test("test_constructor_empty_sequence", () => vrun(async () => {
    const fut = gather([]);
    expect(await fut).toEqual([]);
  }));

  test("test_one_exception", () => vrun(async () => {
    const loop = getRunningLoop();
    const [a, b, c] = [loop.createFuture<number>(), loop.createFuture<number>(), loop.createFuture<number>()];
    const fut = gather([a, b, c]);
    const exc = new Error("z");
    a.setResult(1);
    b.setException(exc);
    expect(await caught(() => fut)).toBe(exc);
    c.setResult(3);
    // children are not cancelled by a failure
    expect(c.cancelled()).toBe(false);
  }));

  test("test_return_exceptions", () => vrun(async () => {
    const loop = getRunningLoop();
    const [a, b, c, d] = [0, 1, 2, 3].map(() => loop.createFuture<number>());
    const fut = gather([a!, b!, c!, d!], { returnExceptions: true });
    const exc = new Error("1"), exc2 = new Error("2");
    a!.setResult(3); b!.setException(exc); c!.setResult(1); d!.setException(exc2);
    expect(await fut).toEqual([3, exc, 1, exc2]);
  }));

  test("test_cancel_gather: cancelling the gather cancels every child", () => vrun(async () => {
    const children = [createTask(() => sleep(1e6)), createTask(() => sleep(1e6))];
    const g = gather(children);
    await runBriefly();
    expect(g.cancel()).toBe(true);
    expect(await caught(() => g)).toBeInstanceOf(CancelledError);
    for (const c of children) { await caught(() => c); expect(c.cancelled()).toBe(true); }
  }));

  test("test_one_cancellation: a cancelled child cancels the gather result (no returnExceptions)", () => vrun(async () => {
    const loop = getRunningLoop();
    const a = loop.createFuture<number>(), b = loop.createFuture<number>();
    const g = gather([a, b]);
    a.cancel();
    expect(await caught(() => g)).toBeInstanceOf(CancelledError);
    b.cancel();
  }));

  test("test_result_exception_one_cancellation with returnExceptions", () => vrun(async () => {
    const loop = getRunningLoop();
    const a = loop.createFuture<number>(), b = loop.createFuture<number>();
    const g = gather([a, b], { returnExceptions: true });
    a.cancel();
    b.setResult(2);
    const res = await g;
    expect(res[0]).toBeInstanceOf(CancelledError);
    expect(res[1]).toBe(2);
  }));

  test("test_gather_shield / cancel task awaiting gather cancels children", () => vrun(async () => {
    const c1 = createTask(() => sleep(1e6));
    const c2 = createTask(() => sleep(1e6));
    const outer = createTask(() => gather([c1, c2]));
    await runBriefly();
    outer.cancel();
    expect(await caught(() => outer)).toBeInstanceOf(CancelledError);
    await Promise.allSettled([c1, c2]);
    expect(c1.cancelled()).toBe(true);
    expect(c2.cancelled()).toBe(true);
  }));

  test("test_cancel_gather_2: gather cancel with msg", () => vrun(async () => {
    const g = gather([createTask(() => sleep(1e6))]);
    await runBriefly();
    g.cancel("my msg");
    const e = await caught(() => g);
    expect(e).toBeInstanceOf(CancelledError);
  }));

  test("test_gather_same_future twice", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    const g = gather([f, f]);
    f.setResult(5);
    expect(await g).toEqual([5, 5]);
  }));

  test("gather is typed tuple (compile-time) and ordered with sleeps", () => vrun(async () => {
    const [x, y] = await gather([async () => { await sleep(30); return 1 as const; }, async () => { await sleep(10); return "y" as const; }]);
    const xx: 1 = x; const yy: "y" = y;
    expect([xx, yy]).toEqual([1, "y"]);
  }));
});

describe("wait", () => {
  test("test_wait ALL_COMPLETED", () => vrun(async () => {
    const loop = getRunningLoop();
    const a = createTask(() => sleep(10, "a"));
    const b = createTask(() => sleep(15, "b"));
    const t0 = loop.time();
    const { done, pending } = await wait([b, a]);
    expect(done).toEqual(new Set([a, b]));
    expect(pending.size).toBe(0);
    expect(loop.time() - t0).toBe(15);
  }));

  test("test_wait_first_completed", () => vrun(async () => {
    const a = createTask(() => sleep(10, "a"));
    const b = createTask(() => sleep(100, "b"));
    const { done, pending } = await wait([b, a], { returnWhen: "FIRST_COMPLETED" });
    expect(done).toEqual(new Set([a]));
    expect(pending).toEqual(new Set([b]));
    expect(b.done()).toBe(false);
    expect(b.cancelled()).toBe(false);
    b.cancel();
  }));

  test("test_wait_really_done (already done futures)", () => vrun(async () => {
    const a = createTask(async () => 1);
    await a;
    const { done, pending } = await wait([a], { returnWhen: "FIRST_COMPLETED" });
    expect(done.has(a)).toBe(true);
    expect(pending.size).toBe(0);
  }));

  test("test_wait_first_exception", () => vrun(async () => {
    const a = createTask(() => sleep(100, "a"));
    const b = createTask(async () => { await sleep(10); throw new Error("b"); });
    const { done, pending } = await wait([b, a], { returnWhen: "FIRST_EXCEPTION" });
    expect(done).toEqual(new Set([b]));
    expect(pending).toEqual(new Set([a]));
    a.cancel();
  }));

  test("test_wait_first_exception_in_wait: no exception -> all completed", () => vrun(async () => {
    const a = createTask(() => sleep(10, "a"));
    const b = createTask(() => sleep(20, "b"));
    const { done, pending } = await wait([a, b], { returnWhen: "FIRST_EXCEPTION" });
    expect(done.size).toBe(2);
    expect(pending.size).toBe(0);
  }));

  test("test_wait_with_timeout: cancels nothing", () => vrun(async () => {
    const loop = getRunningLoop();
    const a = createTask(() => sleep(10, "a"));
    const b = createTask(() => sleep(150, "b"));
    const t0 = loop.time();
    const { done, pending } = await wait([a, b], { timeout: 110 });
    expect(done).toEqual(new Set([a]));
    expect(pending).toEqual(new Set([b]));
    expect(loop.time() - t0).toBe(110);
    expect(b.cancelled()).toBe(false);
    expect(await b).toBe("b");
  }));

  test("test_wait_errors: empty set", () => vrun(async () => {
    const e = await caught(() => wait([]));
    expect(e).toBeInstanceOf(Error);
  }));

  test("test_wait_errors: bad returnWhen", () => vrun(async () => {
    const a = createTask(() => sleep(1));
    const e = await caught(() => wait([a], { returnWhen: "BOGUS" as never }));
    expect(e).toBeInstanceOf(Error);
    await a;
  }));

  test("wait on functions: starts them as tasks; done set holds Futures", () => vrun(async () => {
    const { done } = await wait([async () => 1, async () => 2]);
    expect(done.size).toBe(2);
    const vals = [...done].map((f) => f.result()).sort();
    expect(vals).toEqual([1, 2]);
  }));

  test("cancelling the waiter does not cancel the children", () => vrun(async () => {
    const a = createTask(() => sleep(100, "a"));
    const w = createTask(() => wait([a]));
    await runBriefly();
    w.cancel();
    await caught(() => w);
    expect(a.cancelled()).toBe(false);
    expect(await a).toBe("a");
  }));
});

describe("test_waitfor.py", () => {
  test("test_wait_for (timeout)", () => vrun(async () => {
    const loop = getRunningLoop();
    let innerCancelled = false;
    const t0 = loop.time();
    const e = await caught(() => waitFor(async () => { try { await sleep(5000); } catch (x) { innerCancelled = true; throw x; } return "done"; }, 100));
    expect(e).toBeInstanceOf(TimeoutError);
    expect(innerCancelled).toBe(true);
    expect(loop.time() - t0).toBe(100);
  }));

  test("test_wait_for result before timeout", () => vrun(async () => {
    expect(await waitFor(() => sleep(10, "ok"), 100)).toBe("ok");
  }));

  test("test_wait_for_timeout_less_then_0_or_0_future_done", () => vrun(async () => {
    const fut = getRunningLoop().createFuture<string>();
    fut.setResult("done");
    expect(await waitFor(fut, 0)).toBe("done");
    expect(await waitFor(fut, -1)).toBe("done");
  }));

  test("test_wait_for_timeout_less_then_0_or_0_coroutine_do_not_started", () => vrun(async () => {
    let started = false;
    const e = await caught(() => waitFor(async () => { started = true; await sleep(100); }, 0));
    expect(e).toBeInstanceOf(TimeoutError);
    // CPython 3.12+: the coroutine is started as a task then cancelled; either way no leak
    void started;
  }));

  test("test_wait_for_timeout_less_then_0_or_0: future pending -> cancelled", () => vrun(async () => {
    const fut = getRunningLoop().createFuture<void>();
    expect(await caught(() => waitFor(fut, 0))).toBeInstanceOf(TimeoutError);
    expect(fut.cancelled()).toBe(true);
  }));

  test("test_wait_for_with_global_loop / None timeout waits forever", () => vrun(async () => {
    const loop = getRunningLoop();
    const t0 = loop.time();
    expect(await waitFor(() => sleep(1e7, "x"), null)).toBe("x");
    expect(loop.time() - t0).toBe(1e7);
  }));

  test("test_wait_for_blocking: inner swallows cancellation -> its value is returned", () => vrun(async () => {
    const res = await waitFor(async () => {
      try { await sleep(1000); } catch (e) { if (e instanceof CancelledError) return "swallowed"; throw e; }
      return "normal";
    }, 10);
    expect(res).toBe("swallowed");
  }));

  test("test_wait_for_waits_for_task_cancellation", () => vrun(async () => {
    const loop = getRunningLoop();
    let taskDone = false;
    const inner = async () => {
      try { await sleep(1e6); } finally { await sleep(100); taskDone = true; }
    };
    const t0 = loop.time();
    const e = await caught(() => waitFor(inner, 10));
    expect(e).toBeInstanceOf(TimeoutError);
    expect(taskDone).toBe(true);
    expect(loop.time() - t0).toBe(110);
  }));

  test("test_wait_for_reraises_exception_during_cancellation", () => vrun(async () => {
    class FooException extends Error {}
    const inner = async () => { try { await sleep(1e6); } finally { throw new FooException(); } };
    expect(await caught(() => waitFor(inner, 10))).toBeInstanceOf(FooException);
  }));

  test("test_wait_for_raises_timeout_error_if_returned_during_cancellation? inner exception propagates", () => vrun(async () => {
    const err = new Error("inner");
    expect(await caught(() => waitFor(async () => { await sleep(1); throw err; }, 100))).toBe(err);
  }));

  test("test_cancel_wait_for: cancelling outer cancels inner", () => vrun(async () => {
    let innerCancelled = false;
    const outer = createTask(() => waitFor(async () => { try { await sleep(1e6); } catch (e) { innerCancelled = true; throw e; } }, 1e5));
    await sleep(1);
    outer.cancel();
    expect(await caught(() => outer)).toBeInstanceOf(CancelledError);
    expect(innerCancelled).toBe(true);
  }));

  test("test_wait_for_self_cancellation", () => vrun(async () => {
    const inner = async () => {
      try { await sleep(300); } catch (e) {
        if (!(e instanceof CancelledError)) throw e;
        try { await sleep(300); } catch (e2) { if (!(e2 instanceof CancelledError)) throw e2; await sleep(300); }
      }
      return 42;
    };
    const innerTask = createTask(inner);
    const task = createTask(() => waitFor(innerTask, 100));
    await sleep(200);
    task.cancel();
    // asyncio 3.12+ (checked on 3.13): the caller awaits the inner task itself, which swallows
    // both cancels and returns 42, and so does the caller.
    expect(await task).toBe(42);
    expect(await innerTask).toBe(42);
  }));

  test("TimeoutError cause/name", () => vrun(async () => {
    const e = await caught(() => waitFor(() => sleep(1000), 1)) as Error;
    expect(e.name).toBe("TimeoutError");
  }));

  test("test_wait_for_race_condition: inner finishes exactly at deadline", () => vrun(async () => {
    const fut = getRunningLoop().createFuture<string>();
    getRunningLoop().callLater(50, () => fut.setResult("ok"));
    const r = await caught(() => waitFor(fut, 50)).catch(() => undefined);
    // either ok or TimeoutError is acceptable in CPython; ensure no hang and state consistent
    expect(fut.done()).toBe(true);
    void r;
  }));

  test("waitFor invalid timeout throws at the call", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    expect(() => waitFor(f, NaN)).toThrow();
    f.cancel();
  }));

  test("waitFor with signal aborts the wait", () => vrun(async () => {
    const ac = new AbortController();
    const p = waitFor(() => sleep(1e6), 1e5, { signal: ac.signal });
    await sleep(1);
    const reason = new Error("aborted!");
    ac.abort(reason);
    expect(await caught(() => p)).toBe(reason);
  }));
});

describe("asCompleted", () => {
  test("test_as_completed: completion order (for of + await)", () => vrun(async () => {
    const a = () => sleep(30, "a"), b = () => sleep(10, "b"), c = () => sleep(20, "c");
    const res: string[] = [];
    for (const f of asCompleted([a, b, c])) res.push(await f);
    expect(res).toEqual(["b", "c", "a"]);
  }));

  test("for await yields results", () => vrun(async () => {
    const res: string[] = [];
    for await (const v of asCompleted([() => sleep(30, "a"), () => sleep(10, "b")])) res.push(v);
    expect(res).toEqual(["b", "a"]);
  }));

  test("test_as_completed_with_timeout", () => vrun(async () => {
    const loop = getRunningLoop();
    const a = createTask(() => sleep(10, "a"));
    const b = createTask(() => sleep(500, "b"));
    const res: unknown[] = [];
    const t0 = loop.time();
    for (const f of asCompleted([a, b], { timeout: 100 })) {
      try { res.push(await f); } catch (e) { res.push(e instanceof TimeoutError ? "timeout" : e); }
    }
    expect(res).toEqual(["a", "timeout"]);
    expect(loop.time() - t0).toBe(100);
    expect(b.cancelled()).toBe(false);
    b.cancel();
  }));

  test("test_as_completed_reverse_wait / exceptions come through", () => vrun(async () => {
    const err = new Error("e");
    const res: unknown[] = [];
    for (const f of asCompleted([async () => { await sleep(5); throw err; }, () => sleep(10, "ok")])) {
      try { res.push(await f); } catch (e) { res.push(e); }
    }
    expect(res).toEqual([err, "ok"]);
  }));

  test("test_as_completed_concurrent with already-done futures", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    f.setResult(1);
    const res: number[] = [];
    for await (const v of asCompleted([f, () => sleep(1, 2)])) res.push(v);
    expect(res).toEqual([1, 2]);
  }));

  test("test_as_completed_duplicate_coroutines: duplicates count once", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    const res: number[] = [];
    getRunningLoop().callSoon(() => f.setResult(9));
    for await (const v of asCompleted([f, f])) res.push(v);
    expect(res).toEqual([9]);
  }));

  test("asCompleted empty", () => vrun(async () => {
    const res: unknown[] = [];
    for await (const v of asCompleted([])) res.push(v);
    expect(res).toEqual([]);
  }));
});

describe("shield", () => {
  test("test_shield_result", () => vrun(async () => {
    const inner = getRunningLoop().createFuture<number>();
    const outer = shield(inner);
    inner.setResult(42);
    expect(await outer).toBe(42);
  }));

  test("test_shield_exception", () => vrun(async () => {
    const inner = getRunningLoop().createFuture<number>();
    const outer = shield(inner);
    const e = new Error("x");
    inner.setException(e);
    expect(await caught(() => outer)).toBe(e);
  }));

  test("test_shield_cancel_inner: inner cancelled -> outer cancelled", () => vrun(async () => {
    const inner = getRunningLoop().createFuture<number>();
    const outer = shield(inner);
    inner.cancel();
    expect(await caught(() => outer)).toBeInstanceOf(CancelledError);
  }));

  test("test_shield_cancel_outer: outer cancelled, inner not", () => vrun(async () => {
    const inner = getRunningLoop().createFuture<number>();
    const outer = shield(inner);
    outer.cancel();
    await runBriefly();
    expect(outer.cancelled()).toBe(true);
    expect(inner.cancelled()).toBe(false);
    inner.setResult(1);
  }));

  test("test_shield_shortcut (done inner)", () => vrun(async () => {
    const fut = getRunningLoop().createFuture<number>();
    fut.setResult(42);
    expect(await shield(fut)).toBe(42);
  }));

  test("test_shield_effect: task awaiting shield is cancelled but inner keeps going", () => vrun(async () => {
    const log: string[] = [];
    const inner = createTask(async () => { await sleep(100); log.push("inner done"); return 5; });
    const outer = createTask(async () => { await shield(inner); log.push("outer after"); });
    await sleep(10);
    outer.cancel();
    expect(await caught(() => outer)).toBeInstanceOf(CancelledError);
    expect(await inner).toBe(5);
    expect(log).toEqual(["inner done"]);
  }));

  test("shield of a function starts it as a task", () => vrun(async () => {
    const outer = shield(async () => { await sleep(5); return "f"; });
    expect(await outer).toBe("f");
  }));

  test("test_shield_gather", () => vrun(async () => {
    const loop = getRunningLoop();
    const c1 = loop.createFuture<number>(), c2 = loop.createFuture<number>();
    const parent = gather([c1, c2]);
    const outer = shield(parent);
    outer.cancel();
    await runBriefly();
    expect(parent.cancelled()).toBe(false);
    c1.setResult(1); c2.setResult(2);
    expect(await parent).toEqual([1, 2]);
  }));
});

test("ensure currentTask is main in flow helpers", () => vrun(async () => {
  const me = currentTask();
  await gather([() => sleep(1)]);
  expect(currentTask()).toBe(me);
  expect(new Future<number>()).toBeInstanceOf(Future);
}));
