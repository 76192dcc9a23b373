// Port of CPython Lib/test/test_asyncio/test_taskgroups.py
import { describe, test, expect } from "vitest";
import { taskGroup, TaskGroup, createTask, sleep, currentTask, CancelledError, ExceptionGroup, getRunningLoop, Task, timeout, TimeoutError } from "aiots";
import { vrun, runBriefly, caught } from "./helpers.js";

class MyExc extends Error {}
class ZeroDivisionError extends Error {}

function errorTypes(eg: unknown): Set<unknown> {
  return new Set((eg as ExceptionGroup).errors.map((e: unknown) => (e as object).constructor));
}

describe("TestTaskGroup", () => {
  test("test_taskgroup_01", () => vrun(async () => {
    const foo1 = async () => { await sleep(100); return 42; };
    const foo2 = async () => { await sleep(200); return 11; };
    let t1!: Task<number>, t2!: Task<number>;
    await taskGroup(async (g) => { t1 = g.createTask(foo1); t2 = g.createTask(foo2); });
    expect(t1.result()).toBe(42);
    expect(t2.result()).toBe(11);
  }));

  test("test_taskgroup_02: tasks created after await in body", () => vrun(async () => {
    let t1!: Task<number>, t2!: Task<number>;
    await taskGroup(async (g) => {
      t1 = g.createTask(async () => { await sleep(100); return 42; });
      await sleep(150);
      t2 = g.createTask(async () => { await sleep(200); return 11; });
    });
    expect(t1.result()).toBe(42);
    expect(t2.result()).toBe(11);
    expect(getRunningLoop().time()).toBe(350);
  }));

  test("test_taskgroup_03: await a child inside the body", () => vrun(async () => {
    let t2!: Task<number>;
    await taskGroup(async (g) => {
      const t1 = g.createTask(async () => { await sleep(100); return 42; });
      await sleep(150);
      t2 = g.createTask(async () => { await sleep(200); return 11; });
      expect(await t1).toBe(42);
    });
    expect(t2.result()).toBe(11);
  }));

  test("test_taskgroup_04: child failure cancels sibling", () => vrun(async () => {
    let NUM = 0;
    let t2Cancel = false;
    let t2!: Task<void>;
    const foo1 = async () => { await sleep(100); throw new ZeroDivisionError(); };
    const foo2 = async () => {
      try { await sleep(1000); } catch (e) { if (e instanceof CancelledError) t2Cancel = true; throw e; }
    };
    const e = await caught(() => taskGroup(async (g) => {
      g.createTask(foo1);
      t2 = g.createTask(foo2);
      NUM += 10;
    }));
    expect(e).toBeInstanceOf(ExceptionGroup);
    expect(errorTypes(e)).toEqual(new Set([ZeroDivisionError]));
    expect(NUM).toBe(10);
    expect(t2Cancel).toBe(true);
    expect(t2.cancelled()).toBe(true);
  }));

  test("test_taskgroup_05/06: multiple failures are grouped", () => vrun(async () => {
    const e = await caught(() => taskGroup(async (g) => {
      g.createTask(async () => { await sleep(10); throw new MyExc(); });
      g.createTask(async () => { try { await sleep(100); } finally { throw new ZeroDivisionError(); } });
    }));
    expect(e).toBeInstanceOf(ExceptionGroup);
    expect(e).toBeInstanceOf(AggregateError);
    expect((e as Error).name).toBe("ExceptionGroup");
    expect(errorTypes(e)).toEqual(new Set([MyExc, ZeroDivisionError]));
  }));

  test("test_taskgroup_07: body error is added to the group and cancels children", () => vrun(async () => {
    let childCancelled = false;
    const e = await caught(() => taskGroup(async (g) => {
      g.createTask(async () => { try { await sleep(1000); } catch (x) { childCancelled = true; throw x; } });
      await sleep(10);
      throw new MyExc();
    }));
    expect(e).toBeInstanceOf(ExceptionGroup);
    expect(errorTypes(e)).toEqual(new Set([MyExc]));
    expect(childCancelled).toBe(true);
  }));

  test("test_taskgroup_08: cancel from outside -> CancelledError, children cancelled", () => vrun(async () => {
    const children: Task<void>[] = [];
    const r = createTask(() => taskGroup(async (g) => {
      for (let i = 0; i < 5; i++) children.push(g.createTask(() => sleep(1000)));
      await sleep(10);
    }));
    await sleep(100);
    r.cancel();
    expect(await caught(() => r)).toBeInstanceOf(CancelledError);
    for (const c of children) expect(c.cancelled()).toBe(true);
  }));

  test("test_taskgroup_09/10: outer cancel while children fail -> ExceptionGroup wins", () => vrun(async () => {
    const r = createTask(() => taskGroup(async (g) => {
      g.createTask(async () => { try { await sleep(1000); } finally { throw new ZeroDivisionError(); } });
      await sleep(1000);
    }));
    await sleep(10);
    r.cancel();
    const e = await caught(() => r);
    expect(e).toBeInstanceOf(ExceptionGroup);
    expect(errorTypes(e)).toEqual(new Set([ZeroDivisionError]));
  }));

  test("test_cancel_children_on_child_error: body stops at its await", () => vrun(async () => {
    const log: string[] = [];
    const e = await caught(() => taskGroup(async (g) => {
      g.createTask(async () => { await sleep(10); throw new MyExc(); });
      try { await sleep(1000); log.push("body continued"); } catch (x) { log.push(x instanceof CancelledError ? "body cancelled" : "other"); throw x; }
    }));
    expect(e).toBeInstanceOf(ExceptionGroup);
    expect(log).toEqual(["body cancelled"]);
  }));

  test("parent task cancelling() restored after group handled a child failure (uncancel)", () => vrun(async () => {
    await caught(() => taskGroup(async (g) => {
      g.createTask(async () => { throw new MyExc(); });
      await sleep(1000);
    }));
    expect(currentTask()!.cancelling()).toBe(0);
    expect(await sleep(10, "still fine")).toBe("still fine");
  }));

  test("test_taskgroup_21: createTask on finished group throws", () => vrun(async () => {
    let saved!: TaskGroup;
    await taskGroup(async (g) => { saved = g; });
    expect(() => saved.createTask(async () => {})).toThrow();
  }));

  test("test_taskgroup_22: createTask on a group that failed throws", () => vrun(async () => {
    let saved!: TaskGroup;
    await caught(() => taskGroup(async (g) => { saved = g; g.createTask(async () => { throw new MyExc(); }); }));
    expect(() => saved.createTask(async () => {})).toThrow();
  }));

  test("test_taskgroup_task_name", () => vrun(async () => {
    await taskGroup(async (g) => {
      const t = g.createTask(async () => {}, { name: "named" });
      expect(t.getName()).toBe("named");
    });
  }));

  test("test_taskgroup_nested: inner group failure wraps", () => vrun(async () => {
    const e = await caught(() => taskGroup(async (outer) => {
      outer.createTask(() => taskGroup(async (inner) => { inner.createTask(async () => { throw new MyExc(); }); }));
      await sleep(100);
    }));
    expect(e).toBeInstanceOf(ExceptionGroup);
    const nested = (e as ExceptionGroup).errors[0];
    expect(nested).toBeInstanceOf(ExceptionGroup);
    expect(errorTypes(nested)).toEqual(new Set([MyExc]));
  }));

  test("test_taskgroup_cancel_children_then_body_returns_value?", () => vrun(async () => {
    const r = await taskGroup(async (g) => { g.createTask(() => sleep(10)); return "body value"; });
    expect(r).toBe("body value");
  }));

  test("test_children_cancelled_child_swallows (child catches cancel, group still ends)", () => vrun(async () => {
    const e = await caught(() => taskGroup(async (g) => {
      g.createTask(async () => { try { await sleep(1000); } catch { return "swallowed"; } return "x"; });
      g.createTask(async () => { await sleep(1); throw new MyExc(); });
    }));
    expect(e).toBeInstanceOf(ExceptionGroup);
  }));

  test("test_taskgroup_with_timeout: timeout around group converts to TimeoutError", () => vrun(async () => {
    const children: Task<void>[] = [];
    const e = await caught(() => timeout(50, () => taskGroup(async (g) => {
      children.push(g.createTask(() => sleep(1000)));
      children.push(g.createTask(() => sleep(2000)));
    })));
    expect(e).toBeInstanceOf(TimeoutError);
    for (const c of children) expect(c.cancelled()).toBe(true);
    expect(getRunningLoop().time()).toBe(50);
  }));

  test("test_cancellation_in_body: child cancelled by itself does not fail the group", () => vrun(async () => {
    let t!: Task<void>;
    await taskGroup(async (g) => {
      t = g.createTask(() => sleep(1000));
      await sleep(1);
      t.cancel();
    });
    expect(t.cancelled()).toBe(true);
  }));

  test("test_taskgroup_cancel_body_self: body cancels its own task -> CancelledError", () => vrun(async () => {
    const r = createTask(() => taskGroup(async (g) => {
      g.createTask(() => sleep(1000));
      currentTask()!.cancel();
      await sleep(10);
    }));
    expect(await caught(() => r)).toBeInstanceOf(CancelledError);
  }));

  test("ExceptionGroup errors keep the original error objects", () => vrun(async () => {
    const err = new MyExc("orig");
    const e = await caught(() => taskGroup(async (g) => { g.createTask(async () => { throw err; }); }));
    expect((e as ExceptionGroup).errors).toEqual([err]);
    expect((e as ExceptionGroup).errors[0]).toBe(err);
  }));

  test("taskGroup children run concurrently", () => vrun(async () => {
    const t0 = getRunningLoop().time();
    await taskGroup(async (g) => { for (let i = 0; i < 10; i++) g.createTask(() => sleep(100)); });
    expect(getRunningLoop().time() - t0).toBe(100);
  }));

  test("createTask from a child after body finished but group still waiting works", () => vrun(async () => {
    const log: string[] = [];
    await taskGroup(async (g) => {
      g.createTask(async () => { await sleep(10); g.createTask(async () => { await sleep(10); log.push("grandchild"); }); });
    });
    expect(log).toEqual(["grandchild"]);
  }));

  test("runBriefly lets the loop run the callbacks ready and the ones they schedule", () => vrun(async () => {
    const ran: string[] = [];
    getRunningLoop().callSoon(() => {
      ran.push("first");
      getRunningLoop().callSoon(() => ran.push("second"));
    });
    await runBriefly();
    expect(ran).toEqual(["first", "second"]);
  }));
});
