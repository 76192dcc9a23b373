// Port of CPython Lib/test/test_asyncio/test_timeouts.py
import { describe, test, expect } from "vitest";
import { timeout, timeoutAt, sleep, getRunningLoop, currentTask, createTask, CancelledError, TimeoutError, Timeout } from "aiots";
import { vrun, caught } from "./helpers.js";

type Scope = { when(): number | null; reschedule(when: number | null): void; expired(): boolean };

describe("TimeoutTests", () => {
  test("test_timeout_basic", () => vrun(async () => {
    let cm!: Scope;
    const e = await caught(() => timeout(10, async (s) => { cm = s; await sleep(10_000); }));
    expect(e).toBeInstanceOf(TimeoutError);
    expect(cm.expired()).toBe(true);
  }));

  test("timeout returns fn's value", () => vrun(async () => {
    expect(await timeout(100, async () => { await sleep(10); return "v"; })).toBe("v");
  }));

  test("test_timeout_at_basic", () => vrun(async () => {
    const loop = getRunningLoop();
    let cm!: Scope;
    const deadline = loop.time() + 10;
    const e = await caught(() => timeoutAt(deadline, async (s) => { cm = s; await sleep(10_000); }));
    expect(e).toBeInstanceOf(TimeoutError);
    expect(cm.expired()).toBe(true);
    expect(cm.when()).toBe(deadline);
    expect(loop.time()).toBe(deadline);
  }));

  test("test_nested_timeouts: only the outermost raises TimeoutError", () => vrun(async () => {
    const loop = getRunningLoop();
    let cancelled = false;
    let cm1!: Scope, cm2!: Scope;
    const deadline = loop.time() + 10;
    const e = await caught(() => timeoutAt(deadline, async (s1) => {
      cm1 = s1;
      try {
        await timeoutAt(deadline, async (s2) => { cm2 = s2; await sleep(10_000); });
      } catch (x) {
        if (x instanceof CancelledError) { cancelled = true; }
        throw x;
      }
    }));
    expect(e).toBeInstanceOf(TimeoutError);
    expect(cancelled).toBe(true);
    expect(cm1.expired()).toBe(true);
    expect(cm2.expired()).toBe(true);
  }));

  test("test_waiter_cancelled", () => vrun(async () => {
    let cancelled = false;
    const e = await caught(() => timeout(10, async () => {
      try { await sleep(10_000); } catch (x) { if (x instanceof CancelledError) cancelled = true; throw x; }
    }));
    expect(e).toBeInstanceOf(TimeoutError);
    expect(cancelled).toBe(true);
  }));

  test("test_timeout_not_called", () => vrun(async () => {
    const loop = getRunningLoop();
    let cm!: Scope;
    await timeout(10_000, async (s) => { cm = s; await sleep(10); });
    const t1 = loop.time();
    expect(cm.expired()).toBe(false);
    expect(cm.when()!).toBeGreaterThan(t1);
  }));

  test("test_timeout_disabled", () => vrun(async () => {
    let cm!: Scope;
    await timeout(null, async (s) => { cm = s; await sleep(10); });
    expect(cm.expired()).toBe(false);
    expect(cm.when()).toBeNull();
  }));

  test("test_timeout_at_disabled", () => vrun(async () => {
    let cm!: Scope;
    await timeoutAt(null, async (s) => { cm = s; await sleep(10); });
    expect(cm.expired()).toBe(false);
    expect(cm.when()).toBeNull();
  }));

  test("test_timeout_zero", () => vrun(async () => {
    const loop = getRunningLoop();
    const t0 = loop.time();
    let cm!: Scope;
    expect(await caught(() => timeout(0, async (s) => { cm = s; await sleep(10_000); }))).toBeInstanceOf(TimeoutError);
    const t1 = loop.time();
    expect(cm.expired()).toBe(true);
    expect(cm.when()!).toBeGreaterThanOrEqual(t0);
    expect(cm.when()!).toBeLessThanOrEqual(t1);
  }));

  test("test_timeout_zero_sleep_zero", () => vrun(async () => {
    let cm!: Scope;
    expect(await caught(() => timeout(0, async (s) => { cm = s; await sleep(0); }))).toBeInstanceOf(TimeoutError);
    expect(cm.expired()).toBe(true);
  }));

  test("test_timeout_in_the_past_sleep_zero", () => vrun(async () => {
    const loop = getRunningLoop();
    const t0 = loop.time();
    let cm!: Scope;
    expect(await caught(() => timeout(-11, async (s) => { cm = s; await sleep(0); }))).toBeInstanceOf(TimeoutError);
    expect(cm.expired()).toBe(true);
    expect(cm.when()!).toBeLessThanOrEqual(t0);
  }));

  test("test_foreign_exception_passed", () => vrun(async () => {
    let cm!: Scope;
    class KeyError extends Error {}
    expect(await caught(() => timeout(10, async (s) => { cm = s; throw new KeyError(); }))).toBeInstanceOf(KeyError);
    expect(cm.expired()).toBe(false);
  }));

  test("test_foreign_exception_on_timeout", () => vrun(async () => {
    class ZeroDivisionError extends Error {}
    const crash = async () => { try { await sleep(1000); } finally { throw new ZeroDivisionError(); } };
    expect(await caught(() => timeout(10, crash))).toBeInstanceOf(ZeroDivisionError);
  }));

  test("test_foreign_cancel_doesnt_timeout_if_not_expired", () => vrun(async () => {
    let cm!: Scope;
    const e = await caught(() => timeout(10_000, async (s) => { cm = s; currentTask()!.cancel(); await sleep(10_000); }));
    expect(e).toBeInstanceOf(CancelledError);
    expect(cm.expired()).toBe(false);
  }));

  test("test_outer_task_is_not_cancelled", () => vrun(async () => {
    const t = createTask(async () => {
      const e = await caught(() => timeout(1, async () => { await sleep(10_000); }));
      expect(e).toBeInstanceOf(TimeoutError);
    });
    await t;
    expect(t.cancelled()).toBe(false);
    expect(t.done()).toBe(true);
    expect(t.cancelling()).toBe(0);
  }));

  test("test_nested_timeouts_concurrent (inner shorter expires)", () => vrun(async () => {
    const e = await caught(() => timeout(200, async () => {
      const inner = await caught(() => timeout(10, async () => { await sleep(1000); }));
      expect(inner).toBeInstanceOf(TimeoutError);
      await sleep(1000); // interrupted by outer
    }));
    expect(e).toBeInstanceOf(TimeoutError);
    expect(getRunningLoop().time()).toBe(200);
  }));

  test("test_nested_timeouts_loop_busy / outer expires first, inner does not convert", () => vrun(async () => {
    let innerErr: unknown;
    const e = await caught(() => timeout(10, async () => {
      try { await timeout(1000, async () => { await sleep(10_000); }); } catch (x) { innerErr = x; throw x; }
    }));
    expect(innerErr).toBeInstanceOf(CancelledError);
    expect(e).toBeInstanceOf(TimeoutError);
  }));

  test("test_reschedule", () => vrun(async () => {
    const loop = getRunningLoop();
    const fut = loop.createFuture<Scope>();
    const deadline1 = loop.time() + 10;
    const deadline2 = deadline1 + 20;
    const task = createTask(() => timeoutAt(deadline1, async (cm) => { fut.setResult(cm); await sleep(50); }));
    const cm = await fut;
    expect(cm.when()).toBe(deadline1);
    cm.reschedule(deadline2);
    expect(cm.when()).toBe(deadline2);
    cm.reschedule(null);
    expect(cm.when()).toBeNull();
    task.cancel();
    expect(await caught(() => task)).toBeInstanceOf(CancelledError);
    expect(cm.expired()).toBe(false);
  }));

  test("reschedule extends the deadline (virtual time)", () => vrun(async () => {
    const loop = getRunningLoop();
    const t0 = loop.time();
    const e = await caught(() => timeout(10, async (cm) => { cm.reschedule(loop.time() + 100); await sleep(10_000); }));
    expect(e).toBeInstanceOf(TimeoutError);
    expect(loop.time() - t0).toBe(100);
  }));

  test("reschedule into the past expires at once", () => vrun(async () => {
    const loop = getRunningLoop();
    const t0 = loop.time();
    const e = await caught(() => timeout(1000, async (cm) => { await sleep(5); cm.reschedule(loop.time() - 1); await sleep(10_000); }));
    expect(e).toBeInstanceOf(TimeoutError);
    expect(loop.time() - t0).toBe(5);
  }));

  test("test_repr_active / expired / finished (String(scope))", () => vrun(async () => {
    let active = "";
    let cm!: Scope;
    await timeout(10_000, async (s) => { cm = s; active = String(s); });
    expect(active).toMatch(/active/);
    expect(String(cm)).toMatch(/finished/);
    let cm2!: Scope;
    await caught(() => timeout(1, async (s) => { cm2 = s; await sleep(100); }));
    expect(String(cm2)).toMatch(/expired/);
  }));

  test("test_nested_timeout_in_finally", () => vrun(async () => {
    const e = await caught(() => timeout(10, async () => {
      try { await sleep(1000); } finally {
        const inner = await caught(() => timeout(10, async () => { await sleep(10_000); }));
        expect(inner).toBeInstanceOf(TimeoutError);
      }
    }));
    expect(e).toBeInstanceOf(TimeoutError);
  }));

  test("test_timeout_after_cancellation", () => vrun(async () => {
    try {
      currentTask()!.cancel();
      await sleep(1000);
    } catch (x) {
      if (!(x instanceof CancelledError)) throw x;
    } finally {
      const e = await caught(() => timeout(0, async () => { await sleep(1000); }));
      expect(e).toBeInstanceOf(TimeoutError);
    }
  }));

  test("test_cancel_in_timeout_after_cancellation", () => vrun(async () => {
    try {
      currentTask()!.cancel();
      await sleep(1000);
    } catch (x) {
      if (!(x instanceof CancelledError)) throw x;
    } finally {
      const e = await caught(() => timeout(1000, async () => { currentTask()!.cancel(); await sleep(2000); }));
      expect(e).toBeInstanceOf(CancelledError);
    }
  }));

  test("test_timeout_exception_cause (error.cause is the CancelledError)", () => vrun(async () => {
    const e = await caught(() => timeout(0, async () => { await sleep(1000); })) as Error;
    expect(e).toBeInstanceOf(TimeoutError);
    expect((e as Error & { cause?: unknown }).cause).toBeInstanceOf(CancelledError);
  }));

  test("test_timeout_finished: reschedule after finish throws", () => vrun(async () => {
    let cm!: Scope;
    await timeout(10, async (s) => { cm = s; });
    expect(() => cm.reschedule(getRunningLoop().time() + 20)).toThrow();
  }));

  test("timeout: invalid delay throws at the call", () => vrun(async () => {
    expect(() => timeout(NaN, async () => {})).toThrow();
    expect(() => timeout("5" as unknown as number, async () => {})).toThrow(TypeError);
  }));

  test("Timeout class is exported", () => {
    expect(typeof Timeout).toBe("function");
  });

  test("timeout of a sync-returning fn", () => vrun(async () => {
    expect(await timeout(10, () => 3)).toBe(3);
  }));

  test("timeout inside a child task only affects that task", () => vrun(async () => {
    const other = createTask(() => sleep(100, "other"));
    const e = await caught(() => timeout(10, async () => { await sleep(1000); }));
    expect(e).toBeInstanceOf(TimeoutError);
    expect(await other).toBe("other");
  }));
});
