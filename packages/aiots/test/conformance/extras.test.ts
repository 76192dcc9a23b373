// Extra contract probes: abort signals on every wait, default host loop, timeout/cancel interplay
import { describe, test, expect } from "vitest";
import {
  Lock, Event, Condition, Semaphore, Barrier, Queue, Future, createTask, sleep, getRunningLoop,
  CancelledError, TimeoutError, timeout, waitFor, gather,
} from "aiots";
import { vrun, runBriefly, caught } from "./helpers.js";

describe("abort signals", () => {
  test("Event.wait with signal", () => vrun(async () => {
    const ev = new Event();
    const ac = new AbortController();
    const p = ev.wait({ signal: ac.signal });
    await runBriefly();
    const r = new Error("r");
    ac.abort(r);
    expect(await caught(() => p)).toBe(r);
  }));

  test("Semaphore.acquire with signal: nothing consumed", () => vrun(async () => {
    const sem = new Semaphore(0);
    const ac = new AbortController();
    const p = sem.acquire({ signal: ac.signal });
    await runBriefly();
    ac.abort(new Error("x"));
    await caught(() => p);
    sem.release();
    expect(sem.locked()).toBe(false);
    await sem.acquire();
    expect(sem.locked()).toBe(true);
  }));

  test("Queue.put with signal: item not inserted", () => vrun(async () => {
    const q = new Queue<number>(1);
    q.putNowait(1);
    const ac = new AbortController();
    const p = q.put(2, { signal: ac.signal });
    await runBriefly();
    ac.abort(new Error("x"));
    await caught(() => p);
    expect(q.getNowait()).toBe(1);
    expect(q.empty()).toBe(true);
  }));

  test("Queue.join with signal", () => vrun(async () => {
    const q = new Queue<number>();
    q.putNowait(1);
    const ac = new AbortController();
    const p = q.join({ signal: ac.signal });
    await runBriefly();
    const r = new Error("j");
    ac.abort(r);
    expect(await caught(() => p)).toBe(r);
  }));

  test("Condition.wait with signal re-acquires the lock before rejecting", () => vrun(async () => {
    const cond = new Condition();
    const ac = new AbortController();
    const log: string[] = [];
    const waiter = createTask(async () => {
      await cond.acquire();
      try { await cond.wait({ signal: ac.signal }); } catch (e) { log.push(`rejected, locked=${cond.locked()}`); throw e; } finally { cond.release(); }
    });
    await runBriefly();
    await cond.acquire();     // main holds the lock
    ac.abort(new Error("stop"));
    await runBriefly();
    expect(log).toEqual([]); // cannot return before re-acquiring
    cond.release();
    await caught(() => waiter);
    expect(log).toEqual(["rejected, locked=true"]);
    expect(cond.locked()).toBe(false);
  }));

  test("Barrier.wait with signal while filling: count restored", () => vrun(async () => {
    const b = new Barrier(2);
    const ac = new AbortController();
    const p = b.wait({ signal: ac.signal });
    await runBriefly();
    expect(b.nWaiting).toBe(1);
    ac.abort(new Error("x"));
    await caught(() => p);
    expect(b.nWaiting).toBe(0);
    expect(b.broken).toBe(false);
  }));

  test("listener removed once the wait settles", () => vrun(async () => {
    const ac = new AbortController();
    let adds = 0, removes = 0;
    const sig = ac.signal;
    const origAdd = sig.addEventListener.bind(sig), origRemove = sig.removeEventListener.bind(sig);
    sig.addEventListener = ((...a: Parameters<typeof origAdd>) => { adds++; return origAdd(...a); }) as typeof origAdd;
    sig.removeEventListener = ((...a: Parameters<typeof origRemove>) => { removes++; return origRemove(...a); }) as typeof origRemove;
    const ev = new Event();
    const p = ev.wait({ signal: sig });
    ev.set();
    await p;
    expect(adds).toBeGreaterThan(0);
    expect(removes).toBe(adds);
  }));
});

describe("default host loop (no run())", () => {
  test("createTask outside any loop", async () => {
    expect(await createTask(async () => { await sleep(1); return 1; })).toBe(1);
  });
  test("Future outside any loop", async () => {
    const f = new Future<number>();
    setTimeout(() => f.setResult(3), 1);
    expect(await f).toBe(3);
  });
  test("Queue outside any loop", async () => {
    const q = new Queue<number>();
    setTimeout(() => q.putNowait(9), 1);
    expect(await q.get()).toBe(9);
  });
  test("Barrier outside any loop", async () => {
    const b = new Barrier(2);
    const r = await Promise.all([b.wait(), b.wait()]);
    expect(r.sort()).toEqual([0, 1]);
  });
  test("gather + waitFor outside any loop", async () => {
    expect(await gather([() => sleep(1, "a"), Promise.resolve("b")])).toEqual(["a", "b"]);
    expect(await caught(() => waitFor(() => sleep(1000), 5))).toBeInstanceOf(TimeoutError);
  });
  test("lock released by another task (asyncio allows)", () => vrun(async () => {
    const lock = new Lock();
    await lock.acquire();
    await createTask(async () => { lock.release(); });
    expect(lock.locked()).toBe(false);
  }));
});

describe("timeout vs outside cancel", () => {
  test("outside cancel at the same instant as expiry stays CancelledError", () => vrun(async () => {
    const loop = getRunningLoop();
    const t = createTask(() => timeout(10, async () => { await sleep(1000); }));
    await sleep(0);
    loop.callLater(10, () => t.cancel());
    expect(await caught(() => t)).toBeInstanceOf(CancelledError);
  }));

  test("timeout(Infinity) never fires", () => vrun(async () => {
    expect(await timeout(Infinity, async () => { await sleep(1e9); return "ok"; })).toBe("ok");
  }));

  test("waitFor(Infinity) waits", () => vrun(async () => {
    expect(await waitFor(() => sleep(1e8, "z"), Infinity)).toBe("z");
  }));

  test("queue get under waitFor timeout loses no item (test_get_cancelled_race variant)", () => vrun(async () => {
    const q = new Queue<number>();
    const loop = getRunningLoop();
    loop.callLater(10, () => q.putNowait(1));
    const outcome = await waitFor(q.get(), 10).then(
      (item) => ({ item }),
      (error: unknown) => ({ error }),
    );
    // Either the item was returned, or the get timed out and the item is still in the queue.
    if ("error" in outcome) {
      expect(outcome.error).toBeInstanceOf(TimeoutError);
      expect(q.qsize()).toBe(1);
    } else {
      expect(outcome.item).toBe(1);
      expect(q.qsize()).toBe(0);
    }
  }));
});
