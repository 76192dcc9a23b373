// Port of CPython Lib/test/test_asyncio/test_locks.py
import { describe, test, expect } from "vitest";
import {
  Lock, Event, Condition, Semaphore, BoundedSemaphore, Barrier, BrokenBarrierError,
  createTask, sleep, getRunningLoop, CancelledError, Task, gather,
} from "aiots";
import { inspect } from "node:util";
import { vrun, runBriefly, caught } from "./helpers.js";

describe("LockTests", () => {
  test("test_repr", () => vrun(async () => {
    const lock = new Lock();
    expect(String(lock)).toMatch(/unlocked/);
    await lock.acquire();
    expect(String(lock)).toMatch(/locked/);
    expect(String(lock)).not.toMatch(/unlocked/);
    const ts = [1, 2, 3].map(() => createTask(() => lock.acquire()));
    await runBriefly();
    expect(String(lock)).toBe("Lock [locked, waiters: 3]");
    expect(inspect(lock)).toContain("Lock [locked, waiters: 3]");
    ts.forEach((t) => t.cancel());
    await runBriefly();
  }));

  test("test_lock", () => vrun(async () => {
    const lock = new Lock();
    expect(await lock.acquire()).toBe(true);
    expect(lock.locked()).toBe(true);
    lock.release();
    expect(lock.locked()).toBe(false);
  }));

  test("test_acquire (FIFO)", () => vrun(async () => {
    const lock = new Lock();
    const result: number[] = [];
    expect(await lock.acquire()).toBe(true);
    const mk = (i: number) => createTask(async () => { if (await lock.acquire()) result.push(i); return true; });
    const t1 = mk(1), t2 = mk(2);
    await runBriefly();
    expect(result).toEqual([]);
    lock.release();
    await runBriefly();
    expect(result).toEqual([1]);
    await runBriefly();
    expect(result).toEqual([1]);
    const t3 = mk(3);
    lock.release();
    await runBriefly();
    expect(result).toEqual([1, 2]);
    lock.release();
    await runBriefly();
    expect(result).toEqual([1, 2, 3]);
    for (const t of [t1, t2, t3]) { expect(t.done()).toBe(true); expect(t.result()).toBe(true); }
  }));

  test("test_acquire_cancel", () => vrun(async () => {
    const lock = new Lock();
    await lock.acquire();
    const t = createTask(() => lock.acquire());
    getRunningLoop().callSoon(() => t.cancel());
    expect(await caught(() => t)).toBeInstanceOf(CancelledError);
    expect(String(lock)).toBe("Lock [locked, waiters: 0]".replace(", waiters: 0", "")); // no waiters left
  }));

  test("test_cancel_race", () => vrun(async () => {
    const lock = new Lock();
    const loop = getRunningLoop();
    const lockit = async (blocker: PromiseLike<unknown> | null) => {
      await lock.acquire();
      try { if (blocker) await blocker; } finally { lock.release(); }
    };
    const fa = loop.createFuture<void>();
    const ta = createTask(() => lockit(fa));
    await runBriefly();
    expect(lock.locked()).toBe(true);
    const tb = createTask(() => lockit(null));
    await runBriefly();
    const tc = createTask(() => lockit(null));
    await runBriefly();
    fa.setResult();
    tb.cancel();
    await runBriefly(6);
    expect(lock.locked()).toBe(false);
    expect(ta.done()).toBe(true);
    expect(tb.cancelled()).toBe(true);
    expect(tc.done()).toBe(true);
  }));

  test("test_cancel_release_race (cancelled after being woken)", () => vrun(async () => {
    const lock = new Lock();
    const loop = getRunningLoop();
    await lock.acquire();
    const got: string[] = [];
    const t1 = createTask(async () => { await lock.acquire(); got.push("t1"); lock.release(); });
    const t2 = createTask(async () => { await lock.acquire(); got.push("t2"); lock.release(); });
    await runBriefly();
    loop.callSoon(() => { lock.release(); t1.cancel(); });
    await runBriefly(6);
    await Promise.allSettled([t1, t2]);
    expect(t1.cancelled()).toBe(true);
    expect(got).toEqual(["t2"]);
    expect(lock.locked()).toBe(false);
  }));

  test("test_finished_waiter_cancelled (CPython order: cancel, then release)", () => vrun(async () => {
    const lock = new Lock();
    await lock.acquire();
    const tb = createTask(() => lock.acquire());
    await sleep(0);
    const tc = createTask(() => lock.acquire());
    tb.cancel();
    lock.release();
    await sleep(0);
    expect(lock.locked()).toBe(true);
    expect(tb.cancelled()).toBe(true);
    await runBriefly();
    expect(tc.done()).toBe(true);
    expect(await tc).toBe(true);
  }));

  test("woken waiter cancelled (release, then cancel) must not leave the lock held by a cancelled task", () => vrun(async () => {
    const lock = new Lock();
    await lock.acquire();
    const ta = createTask(() => lock.acquire());
    await runBriefly();
    const tb = createTask(() => lock.acquire());
    await runBriefly();
    lock.release();     // wakes ta
    ta.cancel();        // ...which is then cancelled before it runs
    await runBriefly(8);
    expect(ta.cancelled()).toBe(true);
    // asyncio: ta's acquire raises CancelledError and hands the lock to tb
    expect(tb.done()).toBe(true);
    expect(lock.locked()).toBe(true);
    tb.cancel();
  }));

  test("test_release_not_acquired", () => {
    const lock = new Lock();
    expect(() => lock.release()).toThrow(/release|unlocked|not/i);
  });

  test("test_release_no_waiters", () => vrun(async () => {
    const lock = new Lock();
    await lock.acquire();
    lock.release();
    expect(lock.locked()).toBe(false);
  }));

  test("test_context_manager (guard with Symbol.asyncDispose)", () => vrun(async () => {
    const lock = new Lock();
    const g = await lock.guard();
    expect(lock.locked()).toBe(true);
    await g[Symbol.asyncDispose]();
    expect(lock.locked()).toBe(false);
  }));

  test("guard works with `await using`", () => vrun(async () => {
    const lock = new Lock();
    {
      await using _g = await lock.guard();
      expect(lock.locked()).toBe(true);
    }
    expect(lock.locked()).toBe(false);
  }));

  test("guard released on exception (sync dispose)", () => vrun(async () => {
    const lock = new Lock();
    try {
      using _g = await lock.guard();
      expect(lock.locked()).toBe(true);
      throw new Error("x");
    } catch { /* */ }
    expect(lock.locked()).toBe(false);
  }));

  test("newcomer never barges ahead of waiters (test_lock_doesnt_accept_new_waiters? fairness)", () => vrun(async () => {
    const lock = new Lock();
    await lock.acquire();
    const order: string[] = [];
    const w = createTask(async () => { await lock.acquire(); order.push("waiter"); lock.release(); });
    await runBriefly();
    lock.release();
    // newcomer tries immediately after release, before waiter runs
    const n = createTask(async () => { await lock.acquire(); order.push("newcomer"); lock.release(); }, { eagerStart: true });
    await Promise.all([w, n]);
    expect(order).toEqual(["waiter", "newcomer"]);
  }));

  test("acquire with abort signal withdraws the wait", async () => {
    await vrun(async () => {
      const lock = new Lock();
      await lock.acquire();
      const ac = new AbortController();
      const p = lock.acquire({ signal: ac.signal });
      await runBriefly();
      const reason = new Error("abort!");
      ac.abort(reason);
      expect(await caught(() => p)).toBe(reason);
      lock.release();
      expect(lock.locked()).toBe(false);
      expect(String(lock)).not.toMatch(/waiters: [1-9]/);
    });
  });

  test("acquire with already-aborted signal rejects at once", () => vrun(async () => {
    const lock = new Lock();
    const ac = new AbortController();
    ac.abort(new Error("r"));
    expect(await caught(() => lock.acquire({ signal: ac.signal }))).toMatchObject({ message: "r" });
    expect(lock.locked()).toBe(false);
  }));

  test("lock works outside any loop (default host loop)", async () => {
    const lock = new Lock();
    await lock.acquire();
    const p = lock.acquire();
    setTimeout(() => lock.release(), 1);
    expect(await p).toBe(true);
    lock.release();
  });
});

describe("EventTests", () => {
  test("test_repr", () => vrun(async () => {
    const ev = new Event();
    expect(String(ev)).toMatch(/unset/);
    ev.set();
    expect(String(ev)).toMatch(/set/);
    expect(String(ev)).not.toMatch(/unset/);
  }));

  test("test_wait: t3, created before set(), runs its first step before the woken waiters resume ([3, 1, 2], as asyncio)", () => vrun(async () => {
    const ev = new Event();
    expect(ev.isSet()).toBe(false);
    const result: number[] = [];
    const mk = (i: number) => createTask(async () => { if (await ev.wait()) result.push(i); });
    const t1 = mk(1), t2 = mk(2);
    await runBriefly();
    expect(result).toEqual([]);
    const t3 = mk(3);
    ev.set();
    await runBriefly();
    // t3's first step was queued before the set(): the woken waiters resume after it.
    expect(result).toEqual([3, 1, 2]);
    for (const t of [t1, t2, t3]) { expect(t.done()).toBe(true); expect(t.result()).toBeUndefined(); }
  }));

  test("test_wait_on_set", () => vrun(async () => {
    const ev = new Event();
    ev.set();
    expect(await ev.wait()).toBe(true);
  }));

  test("test_wait_cancel", () => vrun(async () => {
    const ev = new Event();
    const w = createTask(() => ev.wait());
    getRunningLoop().callSoon(() => w.cancel());
    expect(await caught(() => w)).toBeInstanceOf(CancelledError);
    expect(String(ev)).not.toMatch(/waiters: [1-9]/);
  }));

  test("test_clear", () => {
    const ev = new Event();
    expect(ev.isSet()).toBe(false);
    ev.set();
    expect(ev.isSet()).toBe(true);
    ev.clear();
    expect(ev.isSet()).toBe(false);
  });

  test("test_clear_with_waiters", () => vrun(async () => {
    const ev = new Event();
    const result: number[] = [];
    const t = createTask(async () => { if (await ev.wait()) result.push(1); return true; });
    await runBriefly();
    expect(result).toEqual([]);
    ev.set();
    ev.clear();
    expect(ev.isSet()).toBe(false);
    ev.set();
    ev.set();
    await runBriefly();
    expect(result).toEqual([1]);
    expect(t.result()).toBe(true);
  }));

  test("set then clear before waiter runs still wakes the waiter", () => vrun(async () => {
    const ev = new Event();
    const t = createTask(() => ev.wait());
    await runBriefly();
    ev.set();
    ev.clear();
    expect(await t).toBe(true);
  }));
});

describe("ConditionTests", () => {
  test("test_wait", () => vrun(async () => {
    const cond = new Condition();
    const result: number[] = [];
    const mk = (i: number) => createTask(async () => { await cond.acquire(); if (await cond.wait()) result.push(i); return true; });
    const t1 = mk(1), t2 = mk(2), t3 = mk(3);
    await runBriefly();
    expect(result).toEqual([]);
    expect(cond.locked()).toBe(false);
    expect(await cond.acquire()).toBe(true);
    cond.notify();
    await runBriefly();
    expect(result).toEqual([]);
    expect(cond.locked()).toBe(true);
    cond.release();
    await runBriefly();
    expect(result).toEqual([1]);
    expect(cond.locked()).toBe(true);
    cond.notify(2);
    await runBriefly();
    expect(result).toEqual([1]);
    cond.release();
    await runBriefly();
    expect(result).toEqual([1, 2]);
    cond.release();
    await runBriefly();
    expect(result).toEqual([1, 2, 3]);
    expect(cond.locked()).toBe(true);
    for (const t of [t1, t2, t3]) expect(t.result()).toBe(true);
  }));

  test("test_wait_cancel: lock re-acquired after cancel", () => vrun(async () => {
    const cond = new Condition();
    await cond.acquire();
    const w = createTask(async () => { try { await cond.wait(); } finally { expect(cond.locked()).toBe(true); } });
    // w can't run wait() until... it shares the lock owner-less; asyncio Condition.wait only checks locked()
    getRunningLoop().callSoon(() => w.cancel());
    expect(await caught(() => w)).toBeInstanceOf(CancelledError);
    expect(cond.locked()).toBe(true);
  }));

  test("test_wait_cancel_contested: wait re-acquires even when lock is held by another", () => vrun(async () => {
    const cond = new Condition();
    const log: string[] = [];
    const waiter = createTask(async () => {
      await cond.acquire();
      try { await cond.wait(); } catch (e) { log.push(`caught locked=${cond.locked()}`); throw e; } finally { cond.release(); }
    });
    await runBriefly();
    await cond.acquire(); // main holds the lock
    waiter.cancel();
    await runBriefly();
    expect(waiter.done()).toBe(false); // must re-acquire first
    cond.release();
    await caught(() => waiter);
    expect(log).toEqual(["caught locked=true"]);
    expect(waiter.cancelled()).toBe(true);
    expect(cond.locked()).toBe(false);
  }));

  test("test_wait_unacquired", () => vrun(async () => {
    const cond = new Condition();
    expect(await caught(() => cond.wait())).toBeInstanceOf(Error);
  }));

  test("test_wait_for", () => vrun(async () => {
    const cond = new Condition();
    let presult = false;
    const result: number[] = [];
    const t = createTask(async () => {
      await cond.acquire();
      if (await cond.waitFor(() => presult)) { result.push(1); cond.release(); }
      return true;
    });
    await runBriefly();
    expect(result).toEqual([]);
    await cond.acquire(); cond.notify(); cond.release();
    await runBriefly();
    expect(result).toEqual([]);
    presult = true;
    await cond.acquire(); cond.notify(); cond.release();
    await runBriefly();
    expect(result).toEqual([1]);
    expect(t.result()).toBe(true);
  }));

  test("test_wait_for_unacquired", () => vrun(async () => {
    const cond = new Condition();
    // predicate can return true immediately -- asyncio returns its value even unlocked
    const res = await cond.waitFor(() => [1, 2, 3]);
    expect(res).toEqual([1, 2, 3]);
    expect(await caught(() => cond.waitFor(() => false))).toBeInstanceOf(Error);
  }));

  test("test_notify", () => vrun(async () => {
    const cond = new Condition();
    const result: number[] = [];
    const mk = (i: number) => createTask(async () => { await cond.acquire(); if (await cond.wait()) { result.push(i); cond.release(); } return true; });
    const ts = [mk(1), mk(2), mk(3)];
    await runBriefly();
    await cond.acquire(); cond.notify(1); cond.release();
    await runBriefly();
    expect(result).toEqual([1]);
    await cond.acquire(); cond.notify(1); cond.notify(2048); cond.release();
    await runBriefly();
    expect(result).toEqual([1, 2, 3]);
    for (const t of ts) expect(t.result()).toBe(true);
  }));

  test("test_notify_all", () => vrun(async () => {
    const cond = new Condition();
    const result: number[] = [];
    const mk = (i: number) => createTask(async () => { await cond.acquire(); if (await cond.wait()) { result.push(i); cond.release(); } return true; });
    mk(1); mk(2);
    await runBriefly();
    await cond.acquire(); cond.notifyAll(); cond.release();
    await runBriefly();
    expect(result).toEqual([1, 2]);
  }));

  test("test_notify_unacquired / notify_all_unacquired", () => {
    const cond = new Condition();
    expect(() => cond.notify()).toThrow(/lock|acquire/i);
    expect(() => cond.notifyAll()).toThrow(/lock|acquire/i);
  });

  test("test_explicit_lock", () => vrun(async () => {
    const lock = new Lock();
    const cond = new Condition(lock);
    await cond.acquire();
    expect(lock.locked()).toBe(true);
    cond.release();
    expect(lock.locked()).toBe(false);
    await lock.acquire();
    expect(cond.locked()).toBe(true);
    lock.release();
  }));

  test("test_context_manager (guard)", () => vrun(async () => {
    const cond = new Condition();
    {
      await using _g = await cond.guard();
      expect(cond.locked()).toBe(true);
    }
    expect(cond.locked()).toBe(false);
  }));

  test("test_cancelled_wakeup: notified-then-cancelled waiter passes the wake-up on", () => vrun(async () => {
    const cond = new Condition();
    const got: string[] = [];
    const w1 = createTask(async () => { await cond.acquire(); try { await cond.wait(); got.push("w1"); } finally { cond.release(); } });
    const w2 = createTask(async () => { await cond.acquire(); try { await cond.wait(); got.push("w2"); } finally { cond.release(); } });
    await runBriefly();
    await cond.acquire();
    cond.notify(1);   // wakes w1
    w1.cancel();      // w1 cancelled after being woken: wake-up must pass to w2
    cond.release();
    await runBriefly(10);
    expect(w1.cancelled()).toBe(true);
    expect(got).toEqual(["w2"]);
    expect(w2.done()).toBe(true);
    expect(cond.locked()).toBe(false);
    w2.cancel();
  }));

  test("test_repr", () => vrun(async () => {
    const cond = new Condition();
    expect(String(cond)).toMatch(/unlocked/);
    await cond.acquire();
    expect(String(cond)).toMatch(/locked/);
    cond.release();
  }));
});

describe("SemaphoreTests", () => {
  test("test_initial_value_zero", () => {
    const sem = new Semaphore(0);
    expect(sem.locked()).toBe(true);
  });

  test("test_ctor: negative value", () => {
    expect(() => new Semaphore(-1)).toThrow(RangeError);
  });

  test("test_semaphore", () => vrun(async () => {
    const sem = new Semaphore();
    expect(await sem.acquire()).toBe(true);
    expect(sem.locked()).toBe(true);
    sem.release();
    expect(sem.locked()).toBe(false);
  }));

  test("test_acquire (FIFO, value 3)", () => vrun(async () => {
    const sem = new Semaphore(3);
    const result: number[] = [];
    expect(await sem.acquire()).toBe(true);
    expect(await sem.acquire()).toBe(true);
    expect(sem.locked()).toBe(false);
    const mk = (i: number) => createTask(async () => { await sem.acquire(); result.push(i); return true; });
    const t1 = mk(1), t2 = mk(2), t3 = mk(3);
    await runBriefly();
    expect(result).toEqual([1]);
    expect(sem.locked()).toBe(true);
    const t4 = mk(4);
    sem.release();
    sem.release();
    await runBriefly();
    expect(result).toEqual([1, 2, 3]);
    expect(sem.locked()).toBe(true);
    expect(t4.done()).toBe(false);
    t4.cancel();
    await runBriefly();
    for (const t of [t1, t2, t3]) expect(t.result()).toBe(true);
  }));

  test("test_acquire_cancel", () => vrun(async () => {
    const sem = new Semaphore();
    await sem.acquire();
    const t = createTask(() => sem.acquire());
    getRunningLoop().callSoon(() => t.cancel());
    expect(await caught(() => t)).toBeInstanceOf(CancelledError);
  }));

  test("test_acquire_cancel_before_awoken: no wake-up lost", () => vrun(async () => {
    const sem = new Semaphore(0);
    const t1 = createTask(() => sem.acquire());
    const t2 = createTask(() => sem.acquire());
    const t3 = createTask(() => sem.acquire());
    const t4 = createTask(() => sem.acquire());
    await runBriefly();
    t1.cancel();
    t2.cancel();
    sem.release();
    await runBriefly(6);
    let numDone = 0;
    for (const t of [t3, t4]) if (t.done()) numDone++;
    expect(numDone).toBe(1);
    expect(t3.done()).toBe(true);
    expect(t4.done()).toBe(false);
    t4.cancel();
    await runBriefly();
  }));

  test("test_acquire_hang (CPython 3.12+ order: cancel, then release)", () => vrun(async () => {
    const sem = new Semaphore(0);
    const t1 = createTask(() => sem.acquire());
    const t2 = createTask(() => sem.acquire());
    await sleep(0);
    t1.cancel();
    sem.release();
    await sleep(0);
    await sleep(0);
    expect(sem.locked()).toBe(true);
    expect(t2.done()).toBe(true);
  }));

  test("test_acquire_hang (3.8 variant: release, then cancel): cancelled-after-wakeup hands the permit on", () => vrun(async () => {
    const sem = new Semaphore(0);
    const t1 = createTask(() => sem.acquire());
    const t2 = createTask(() => sem.acquire());
    await runBriefly();
    sem.release();
    t1.cancel();
    await runBriefly(6);
    expect(sem.locked()).toBe(true);
    expect(t2.done()).toBe(true);
  }));

  test("test_acquire_no_hang (woken waiter cancelled, release again)", () => vrun(async () => {
    const sem = new Semaphore(1);
    const c1 = async () => { await sem.acquire(); try { await sleep(0); } finally { sem.release(); } };
    const c2 = async () => { await sem.acquire(); sem.release(); };
    const t1 = createTask(c1);
    const t2 = createTask(c2);
    await runBriefly(1);
    t1.cancel();
    await Promise.allSettled([t1, t2]);
    expect(sem.locked()).toBe(false);
    await sem.acquire();
    sem.release();
  }));

  test("test_release_not_acquired (BoundedSemaphore)", () => {
    const sem = new BoundedSemaphore();
    expect(() => sem.release()).toThrow(RangeError);
  });

  test("BoundedSemaphore counts", () => vrun(async () => {
    const sem = new BoundedSemaphore(2);
    await sem.acquire(); await sem.acquire();
    expect(sem.locked()).toBe(true);
    sem.release(); sem.release();
    expect(() => sem.release()).toThrow(RangeError);
  }));

  test("plain Semaphore can be released above initial value", () => vrun(async () => {
    const sem = new Semaphore(1);
    sem.release();
    await sem.acquire(); await sem.acquire();
    expect(sem.locked()).toBe(true);
  }));

  test("test_release_no_waiters", () => vrun(async () => {
    const sem = new Semaphore();
    await sem.acquire();
    expect(sem.locked()).toBe(true);
    sem.release();
    expect(sem.locked()).toBe(false);
  }));

  test("test_context_manager (guard)", () => vrun(async () => {
    const sem = new Semaphore(2);
    {
      await using _g = await sem.guard();
      await using _h = await sem.guard();
      expect(sem.locked()).toBe(true);
    }
    expect(sem.locked()).toBe(false);
  }));

  test("test_semaphore_fairness / newcomer doesn't barge", () => vrun(async () => {
    const sem = new Semaphore(1);
    const order: number[] = [];
    await sem.acquire();
    const ts = [1, 2, 3].map((i) => createTask(async () => { await sem.acquire(); order.push(i); await sleep(1); sem.release(); }));
    await runBriefly();
    sem.release();
    const late = createTask(async () => { await sem.acquire(); order.push(4); sem.release(); }, { eagerStart: true });
    await Promise.all([...ts, late]);
    expect(order).toEqual([1, 2, 3, 4]);
  }));

  test("test_repr", () => vrun(async () => {
    const sem = new Semaphore(2);
    expect(String(sem)).toMatch(/unlocked/);
    expect(String(sem)).toMatch(/2/);
  }));
});

describe("BarrierTests", () => {
  test("test_barrier_parties", () => {
    expect(() => new Barrier(0)).toThrow(RangeError);
    expect(() => new Barrier(-4)).toThrow(RangeError);
    const b = new Barrier(5);
    expect(b.parties).toBe(5);
    expect(b.nWaiting).toBe(0);
    expect(b.broken).toBe(false);
  });

  test("test_wait_more (indices 0..n-1, all released)", () => vrun(async () => {
    const b = new Barrier(3);
    const results: number[] = [];
    const ts = [0, 1, 2].map(() => createTask(async () => { results.push(await b.wait()); }));
    await runBriefly(1);
    await Promise.all(ts);
    expect(results.slice().sort()).toEqual([0, 1, 2]);
    expect(b.nWaiting).toBe(0);
    expect(b.broken).toBe(false);
  }));

  test("test_barrier_nWaiting", () => vrun(async () => {
    const b = new Barrier(3);
    const ts = [createTask(() => b.wait()), createTask(() => b.wait())];
    await runBriefly();
    expect(b.nWaiting).toBe(2);
    expect(b.broken).toBe(false);
    await b.wait();
    await Promise.all(ts);
    expect(b.nWaiting).toBe(0);
  }));

  test("test_barrier reusable across cycles", () => vrun(async () => {
    const b = new Barrier(2);
    for (let i = 0; i < 3; i++) {
      const t = createTask(() => b.wait());
      const r = await b.wait();
      const r2 = await t;
      expect([r, r2].sort()).toEqual([0, 1]);
    }
  }));

  test("test_abort_barrier: waiters get BrokenBarrierError", () => vrun(async () => {
    const b = new Barrier(3);
    const ts = [createTask(() => b.wait()), createTask(() => b.wait())];
    await runBriefly();
    await b.abort();
    expect(b.broken).toBe(true);
    for (const t of ts) expect(await caught(() => t)).toBeInstanceOf(BrokenBarrierError);
    expect(await caught(() => b.wait())).toBeInstanceOf(BrokenBarrierError);
  }));

  test("test_reset_barrier", () => vrun(async () => {
    const b = new Barrier(2);
    const t = createTask(() => b.wait());
    await runBriefly();
    await b.reset();
    expect(await caught(() => t)).toBeInstanceOf(BrokenBarrierError);
    expect(b.broken).toBe(false);
    const t2 = createTask(() => b.wait());
    await b.wait();
    await t2;
  }));

  test("test_reset_barrier_after_abort", () => vrun(async () => {
    const b = new Barrier(2);
    await b.abort();
    expect(b.broken).toBe(true);
    await b.reset();
    expect(b.broken).toBe(false);
  }));

  test("test_barrier_cancel waiter: barrier broken? (asyncio: a cancelled waiter in filling state leaves count consistent)", () => vrun(async () => {
    const b = new Barrier(2);
    const t = createTask(() => b.wait());
    await runBriefly();
    expect(b.nWaiting).toBe(1);
    t.cancel();
    await caught(() => t);
    expect(b.nWaiting).toBe(0);
    const t2 = createTask(() => b.wait());
    const [r1, r2] = await gather([t2, () => b.wait()]);
    expect([r1, r2].sort()).toEqual([0, 1]);
  }));

  test("BrokenBarrierError name", () => {
    expect(new BrokenBarrierError().name).toBe("BrokenBarrierError");
  });
});

test("sync primitive waits in an unrelated task keep going (sanity for Task type)", () => vrun(async () => {
  const ev = new Event();
  const t: Task<true> = createTask(() => ev.wait());
  ev.set();
  expect(await t).toBe(true);
}));
