// Port of CPython Lib/test/test_asyncio/test_queues.py
import { describe, test, expect } from "vitest";
import {
  Queue, LifoQueue, PriorityQueue, QueueEmpty, QueueFull, QueueShutDown, createTask, sleep,
  getRunningLoop, CancelledError, gather, waitFor, TimeoutError,
} from "aiots";
import { vrun, runBriefly, caught } from "./helpers.js";

describe("QueueBasicTests", () => {
  test("test_empty", () => {
    const q = new Queue<number>();
    expect(q.empty()).toBe(true);
    q.putNowait(1);
    expect(q.empty()).toBe(false);
    expect(q.getNowait()).toBe(1);
    expect(q.empty()).toBe(true);
  });

  test("test_full", () => {
    const q = new Queue<number>();
    expect(q.full()).toBe(false);
    const q2 = new Queue<number>(1);
    q2.putNowait(1);
    expect(q2.full()).toBe(true);
  });

  test("test_order (FIFO)", () => {
    const q = new Queue<number>();
    for (const i of [1, 3, 2]) q.putNowait(i);
    expect([q.getNowait(), q.getNowait(), q.getNowait()]).toEqual([1, 3, 2]);
  });

  test("test_maxsize", () => vrun(async () => {
    const q = new Queue<number>(2);
    expect(q.maxsize).toBe(2);
    const have: number[] = [];
    const putter = createTask(async () => { for (let i = 0; i < 3; i++) { await q.put(i); have.push(i); } return true; });
    await runBriefly();
    expect(have).toEqual([0, 1]);
    expect(q.full()).toBe(true);
    expect(q.getNowait()).toBe(0);
    expect(await putter).toBe(true);
    expect(have).toEqual([0, 1, 2]);
  }));

  test("maxsize <= 0 is unbounded", () => {
    for (const m of [0, -1]) {
      const q = new Queue<number>(m);
      for (let i = 0; i < 100; i++) q.putNowait(i);
      expect(q.full()).toBe(false);
      expect(q.qsize()).toBe(100);
    }
  });

  test("bad maxsize type throws", () => {
    expect(() => new Queue<number>("3" as unknown as number)).toThrow(TypeError);
  });

  test("test_repr / str shows state", () => {
    const q = new Queue<number>(3);
    q.putNowait(1);
    expect(String(q)).toMatch(/maxsize/);
  });

  test("queue errors have names", () => {
    expect(new QueueEmpty().name).toBe("QueueEmpty");
    expect(new QueueFull().name).toBe("QueueFull");
    expect(new QueueShutDown().name).toBe("QueueShutDown");
  });
});

describe("QueueGetTests", () => {
  test("test_blocking_get", () => vrun(async () => {
    const q = new Queue<number>();
    q.putNowait(1);
    expect(await q.get()).toBe(1);
  }));

  test("test_get_with_putters", () => vrun(async () => {
    const q = new Queue<number>(1);
    q.putNowait(1);
    const p = createTask(() => q.put(2));
    await runBriefly();
    expect(await q.get()).toBe(1);
    await p;
    expect(q.getNowait()).toBe(2);
  }));

  test("test_blocking_get_wait (virtual time)", () => vrun(async () => {
    const loop = getRunningLoop();
    const q = new Queue<number>();
    const t0 = loop.time();
    loop.callLater(100, () => q.putNowait(1));
    expect(await q.get()).toBe(1);
    expect(loop.time() - t0).toBe(100);
  }));

  test("test_nonblocking_get_exception", () => {
    const q = new Queue<number>();
    expect(() => q.getNowait()).toThrow(QueueEmpty);
  });

  test("test_get_cancelled", () => vrun(async () => {
    const q = new Queue<number>();
    const loop = getRunningLoop();
    const t0 = loop.time();
    const e = await caught(() => waitFor(q.get(), 50));
    expect(e).toBeInstanceOf(TimeoutError);
    expect(loop.time() - t0).toBe(50);
    q.putNowait(1);
    expect(await q.get()).toBe(1);
  }));

  test("test_get_cancelled_race: cancelled getter doesn't lose the item", () => vrun(async () => {
    const q = new Queue<string>();
    const t1 = createTask(() => q.get());
    const t2 = createTask(() => q.get());
    await runBriefly();
    t1.cancel();
    await runBriefly();
    expect(t1.done()).toBe(true);
    q.putNowait("a");
    await runBriefly();
    expect(await t2).toBe("a");
  }));

  test("test_get_with_waiting_putters", () => vrun(async () => {
    const q = new Queue<string>(1);
    createTask(() => q.put("a"));
    createTask(() => q.put("b"));
    await runBriefly();
    expect(await q.get()).toBe("a");
    expect(await q.get()).toBe("b");
  }));

  test("test_why_are_getters_waiting / FIFO getters", () => vrun(async () => {
    const q = new Queue<number>();
    const got: string[] = [];
    const ts = ["a", "b", "c"].map((n) => createTask(async () => { got.push(`${n}${await q.get()}`); }));
    await runBriefly();
    q.putNowait(1); q.putNowait(2); q.putNowait(3);
    await Promise.all(ts);
    expect(got).toEqual(["a1", "b2", "c3"]);
  }));

  test("test_cancelled_getter_after_wakeup does not lose item", () => vrun(async () => {
    const q = new Queue<number>();
    const g1 = createTask(() => q.get());
    const g2 = createTask(() => q.get());
    await runBriefly();
    q.putNowait(1);  // wakes g1
    g1.cancel();     // cancelled after wake-up
    await runBriefly(6);
    // the item must be either returned by g1 or still obtainable: never lost
    const viaG1 = !g1.cancelled() && g1.done() ? [g1.result()] : [];
    const viaG2 = g2.done() ? [g2.result()] : [];
    const left = q.qsize();
    expect(viaG1.length + viaG2.length + left).toBe(1);
    g2.cancel();
  }));

  test("get with abort signal withdraws the wait, consumes nothing", () => vrun(async () => {
    const q = new Queue<number>();
    const ac = new AbortController();
    const p = q.get({ signal: ac.signal });
    await runBriefly();
    ac.abort(new Error("stop"));
    expect(await caught(() => p)).toMatchObject({ message: "stop" });
    q.putNowait(5);
    expect(q.qsize()).toBe(1);
    expect(q.getNowait()).toBe(5);
  }));
});

describe("QueuePutTests", () => {
  test("test_blocking_put", () => vrun(async () => {
    const q = new Queue<number>();
    await q.put(1);
    expect(q.getNowait()).toBe(1);
  }));

  test("test_blocking_put_wait", () => vrun(async () => {
    const loop = getRunningLoop();
    const q = new Queue<number>(1);
    q.putNowait(0);
    const t0 = loop.time();
    loop.callLater(100, () => q.getNowait());
    await q.put(1);
    expect(loop.time() - t0).toBe(100);
  }));

  test("test_nonblocking_put_exception", () => {
    const q = new Queue<number>(1);
    q.putNowait(1);
    expect(() => q.putNowait(2)).toThrow(QueueFull);
  });

  test("test_float_maxsize / put cancel", () => vrun(async () => {
    const q = new Queue<number>(1);
    q.putNowait(1);
    const t = createTask(() => q.put(2));
    await runBriefly();
    t.cancel();
    await caught(() => t);
    expect(q.qsize()).toBe(1);
    expect(q.getNowait()).toBe(1);
    expect(q.empty()).toBe(true);
  }));

  test("test_put_cancelled_race", () => vrun(async () => {
    const q = new Queue<string>(1);
    const put_a = createTask(() => q.put("a"));
    const put_b = createTask(() => q.put("b"));
    const put_c = createTask(() => q.put("X"));
    await runBriefly();
    expect(put_a.done()).toBe(true);
    expect(put_b.done()).toBe(false);
    put_c.cancel();
    await runBriefly();
    expect(put_c.done()).toBe(true);
    expect(q.getNowait()).toBe("a");
    expect(await q.get()).toBe("b");
    await put_b;
    expect(q.empty()).toBe(true);
  }));

  test("test_put_with_waiting_getters", () => vrun(async () => {
    const q = new Queue<string>();
    const t = createTask(() => q.get());
    await runBriefly();
    await q.put("a");
    expect(await t).toBe("a");
  }));

  test("test_cancelled_puts_not_being_held_in_full_queue", () => vrun(async () => {
    const q = new Queue<number>(1);
    q.putNowait(1);
    const t = createTask(() => q.put(2));
    await runBriefly();
    t.cancel();
    await caught(() => t);
    expect(q.getNowait()).toBe(1);
    q.putNowait(3);
    expect(q.getNowait()).toBe(3);
  }));

  test("test_put_with_aborted_signal_rejects_at_once", () => vrun(async () => {
    const q = new Queue<number>();
    const ac = new AbortController();
    ac.abort(new Error("no"));
    await caught(() => q.put(1, { signal: ac.signal }));
    expect(q.qsize()).toBe(0);
  }));

  test("putNowait wakes a blocked getter", () => vrun(async () => {
    const q = new Queue<number>();
    const t = createTask(() => q.get());
    await runBriefly();
    q.putNowait(7);
    expect(await t).toBe(7);
  }));
});

describe("LifoQueue / PriorityQueue", () => {
  test("test_order (LIFO)", () => {
    const q = new LifoQueue<number>();
    for (const i of [1, 3, 2]) q.putNowait(i);
    expect([q.getNowait(), q.getNowait(), q.getNowait()]).toEqual([2, 3, 1]);
  });

  test("test_order (priority numbers)", () => {
    const q = new PriorityQueue<number>();
    for (const i of [1, 3, 2]) q.putNowait(i);
    expect([q.getNowait(), q.getNowait(), q.getNowait()]).toEqual([1, 2, 3]);
  });

  test("priority with tuples (arrays element by element)", () => {
    const q = new PriorityQueue<[number, string]>();
    q.putNowait([2, "b"]); q.putNowait([1, "z"]); q.putNowait([2, "a"]); q.putNowait([1, "a"]);
    const out = [q.getNowait(), q.getNowait(), q.getNowait(), q.getNowait()];
    expect(out).toEqual([[1, "a"], [1, "z"], [2, "a"], [2, "b"]]);
  });

  test("priority strings", () => {
    const q = new PriorityQueue<string>();
    for (const s of ["pear", "apple", "fig"]) q.putNowait(s);
    expect([q.getNowait(), q.getNowait(), q.getNowait()]).toEqual(["apple", "fig", "pear"]);
  });

  test("priority numbers are numeric, not lexicographic", () => {
    const q = new PriorityQueue<number>();
    for (const i of [10, 9, 100, 2]) q.putNowait(i);
    expect([q.getNowait(), q.getNowait(), q.getNowait(), q.getNowait()]).toEqual([2, 9, 10, 100]);
  });

  test("priority with custom compare", () => {
    const q = new PriorityQueue<{ p: number }>(0, (a, b) => b.p - a.p);
    for (const p of [1, 5, 3]) q.putNowait({ p });
    expect([q.getNowait().p, q.getNowait().p, q.getNowait().p]).toEqual([5, 3, 1]);
  });

  test("priority many items heap order", () => {
    const q = new PriorityQueue<number>();
    const xs = Array.from({ length: 200 }, (_, i) => (i * 7919) % 211);
    xs.forEach((x) => q.putNowait(x));
    const out: number[] = [];
    while (!q.empty()) out.push(q.getNowait());
    expect(out).toEqual([...xs].sort((a, b) => a - b));
  });
});

describe("QueueJoinTests", () => {
  test("test_task_done_underflow", () => {
    const q = new Queue<number>();
    expect(() => q.taskDone()).toThrow(/task_?done|taskDone|too many/i);
  });

  test("test_task_done", () => vrun(async () => {
    const q = new Queue<number>();
    for (let i = 0; i < 100; i++) q.putNowait(i);
    let acc = 0;
    let running = true;
    const worker = async () => { while (running) { const item = await q.get(); acc += item; q.taskDone(); } };
    const tasks = [createTask(worker), createTask(worker)];
    await q.join();
    expect(acc).toBe(4950);
    running = false;
    for (let i = 0; i < tasks.length; i++) q.putNowait(0);
    await Promise.all(tasks);
  }));

  test("test_join_empty_queue", () => vrun(async () => {
    const q = new Queue<number>();
    let loopTurned = false;
    getRunningLoop().callSoon(() => { loopTurned = true; });
    await expect(q.join()).resolves.toBeUndefined();
    await expect(q.join()).resolves.toBeUndefined();
    expect(loopTurned).toBe(false);
  }));

  test("join waits for taskDone", () => vrun(async () => {
    const q = new Queue<number>();
    q.putNowait(1);
    const j = createTask(() => q.join());
    await runBriefly();
    expect(j.done()).toBe(false);
    q.getNowait();
    await runBriefly();
    expect(j.done()).toBe(false);
    q.taskDone();
    await runBriefly();
    expect(j.done()).toBe(true);
  }));
});

describe("QueueShutdownTests", () => {
  for (const [name, Q] of [["Queue", Queue], ["LifoQueue", LifoQueue], ["PriorityQueue", PriorityQueue]] as const) {
    test(`${name}: test_shutdown_empty`, () => vrun(async () => {
      const q = new Q<string>();
      const getTask = createTask(() => q.get());
      await sleep(0);
      q.shutdown(false);
      expect(q.qsize()).toBe(0);
      await q.join();
      await sleep(0);
      expect(getTask.done()).toBe(true);
      expect(await caught(() => getTask)).toBeInstanceOf(QueueShutDown);
      expect(await caught(() => q.put("data"))).toBeInstanceOf(QueueShutDown);
      expect(() => q.putNowait("data")).toThrow(QueueShutDown);
      expect(await caught(() => q.get())).toBeInstanceOf(QueueShutDown);
      expect(() => q.getNowait()).toThrow(QueueShutDown);
    }));

    test(`${name}: test_shutdown_nonempty`, () => vrun(async () => {
      const q = new Q<string>(1);
      q.putNowait("data");
      const joinTask = createTask(() => q.join());
      const putTask = createTask(() => q.put("data2"));
      await sleep(0);
      expect(putTask.done()).toBe(false);
      q.shutdown(false);
      expect(q.qsize()).toBe(1);
      await sleep(0);
      expect(putTask.done()).toBe(true);
      expect(await caught(() => putTask)).toBeInstanceOf(QueueShutDown);
      expect(await q.get()).toBe("data");
      await sleep(0);
      expect(joinTask.done()).toBe(false);
      expect(await caught(() => q.put("data"))).toBeInstanceOf(QueueShutDown);
      expect(() => q.putNowait("data")).toThrow(QueueShutDown);
      expect(await caught(() => q.get())).toBeInstanceOf(QueueShutDown);
      expect(() => q.getNowait()).toThrow(QueueShutDown);
      q.taskDone();
      await sleep(0);
      expect(joinTask.done()).toBe(true);
      await joinTask;
      expect(() => q.taskDone()).toThrow();
    }));

    test(`${name}: test_shutdown_immediate`, () => vrun(async () => {
      const q = new Q<string>();
      q.putNowait("data");
      const joinTask = createTask(() => q.join());
      q.shutdown(true);
      expect(q.qsize()).toBe(0);
      await sleep(0);
      expect(joinTask.done()).toBe(true);
      await joinTask;
      expect(await caught(() => q.put("data"))).toBeInstanceOf(QueueShutDown);
      expect(() => q.putNowait("data")).toThrow(QueueShutDown);
      expect(await caught(() => q.get())).toBeInstanceOf(QueueShutDown);
      expect(() => q.getNowait()).toThrow(QueueShutDown);
      expect(() => q.taskDone()).toThrow();
    }));

    test(`${name}: test_shutdown_immediate_with_unfinished`, () => vrun(async () => {
      const q = new Q<string>();
      q.putNowait("data");
      q.putNowait("data");
      const joinTask = createTask(() => q.join());
      expect(await q.get()).toBe("data");
      q.shutdown(true);
      expect(q.qsize()).toBe(0);
      await sleep(0);
      expect(joinTask.done()).toBe(false);
      expect(await caught(() => q.put("data"))).toBeInstanceOf(QueueShutDown);
      expect(await caught(() => q.get())).toBeInstanceOf(QueueShutDown);
      q.taskDone();
      expect(() => q.taskDone()).toThrow();
      await sleep(0);
      expect(joinTask.done()).toBe(true);
      await joinTask;
    }));
  }

  test("for await iteration ends at shutdown", () => vrun(async () => {
    const q = new Queue<number>();
    const got: number[] = [];
    const consumer = createTask(async () => { for await (const x of q) got.push(x); return "ended"; });
    for (let i = 0; i < 3; i++) await q.put(i);
    await runBriefly();
    q.shutdown();
    expect(await consumer).toBe("ended");
    expect(got).toEqual([0, 1, 2]);
  }));

  test("for await drains remaining items after non-immediate shutdown", () => vrun(async () => {
    const q = new Queue<number>();
    q.putNowait(1); q.putNowait(2);
    q.shutdown();
    const got: number[] = [];
    for await (const x of q) got.push(x);
    expect(got).toEqual([1, 2]);
  }));

  test("blocked getters all get QueueShutDown on shutdown", () => vrun(async () => {
    const q = new Queue<number>();
    const gs = [createTask(() => q.get()), createTask(() => q.get())];
    await runBriefly();
    q.shutdown();
    const res = await gather(gs, { returnExceptions: true });
    for (const r of res) expect(r).toBeInstanceOf(QueueShutDown);
  }));

  test("items never lost or duplicated under random cancellation", () => vrun(async () => {
    const q = new Queue<number>(3);
    const N = 200;
    const received: number[] = [];
    const producer = createTask(async () => { for (let i = 0; i < N; i++) await q.put(i); });
    const consumers = Array.from({ length: 5 }, () => createTask(async () => {
      for (;;) { const x = await q.get(); received.push(x); }
    }));
    // cancel and restart consumers at various points
    for (let round = 0; round < 20; round++) {
      await sleep(0);
      const k = round % consumers.length;
      consumers[k]!.cancel();
      consumers[k] = createTask(async () => { for (;;) { const x = await q.get(); received.push(x); } });
    }
    await producer;
    await runBriefly(10);
    consumers.forEach((c) => c.cancel());
    await Promise.allSettled(consumers);
    const left: number[] = [];
    while (!q.empty()) left.push(q.getNowait());
    const all = [...received, ...left].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: N }, (_, i) => i));
  }));
});

test("CancelledError from get on cancel", () => vrun(async () => {
  const q = new Queue<number>();
  const t = createTask(() => q.get());
  await runBriefly();
  t.cancel();
  expect(await caught(() => t)).toBeInstanceOf(CancelledError);
}));
