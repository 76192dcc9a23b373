/**
 * Cases from CPython 3.13's test_asyncio/test_locks.py (the Condition, Semaphore and Barrier
 * classes, and LockTests.test_lock_by_with_statement) and test_queues.py whose exact
 * observable sequence the sync and queue tests and the rest of this conformance suite do not
 * check yet: `using` on an awaited primitive, a `waitFor` timeout inside a condition's block,
 * the getters and putters of a queue at each
 * single step of the cancel races, and what a queue's text shows.
 * Each test asserts what asyncio 3.13 does (checked against CPython), unless JavaScript or
 * the docs make aiots differ, which the test name then says.
 */
import { describe, expect, test } from "vitest";
import {
  BoundedSemaphore,
  Condition,
  LifoQueue,
  Lock,
  PriorityQueue,
  Queue,
  QueueEmpty,
  Semaphore,
  TimeoutError,
  CancelledError,
  createTask,
  getRunningLoop,
  sleep,
  waitFor,
} from "aiots";
import { caught, vrun } from "./helpers.js";

describe("Lock, Condition, Semaphore, BoundedSemaphore (test_locks.py)", () => {
  test("`using` a primitive that was awaited throws TypeError and acquires nothing; guard() is the way in (test_lock_by_with_statement)", () =>
    vrun(async () => {
      // asyncio: `with await lock:` raises TypeError at the await. JavaScript awaits any
      // non-thenable to itself, so the TypeError comes from `using`, which finds no
      // Symbol.dispose on the primitive itself. Either way nothing is acquired.
      const loop = getRunningLoop();
      const primitives = [new Lock(), new Condition(), new Semaphore(), new BoundedSemaphore()];
      for (const p of primitives) {
        await sleep(10);
        expect(p.locked()).toBe(false);
        let entered = false;
        const syncError = await caught(async () => {
          using _ = (await (p as unknown as PromiseLike<unknown>)) as Disposable;
          entered = true;
        });
        expect(syncError).toBeInstanceOf(TypeError);
        const asyncError = await caught(async () => {
          await using _ = (await (p as unknown as PromiseLike<unknown>)) as AsyncDisposable;
          entered = true;
        });
        expect(asyncError).toBeInstanceOf(TypeError);
        expect(entered).toBe(false);
        expect(p.locked()).toBe(false);
        {
          await using _ = await p.guard();
          expect(p.locked()).toBe(true);
        }
        expect(p.locked()).toBe(false);
      }
      expect(loop.time()).toBe(40);
    }));

  test("waitFor(cond.wait, 500) inside the condition's block throws TimeoutError at 500 ms, with the lock held again and no waiter left (test_timeout_in_block)", () =>
    vrun(async () => {
      const loop = getRunningLoop();
      const cond = new Condition();
      {
        await using _ = await cond.guard();
        const error = await caught(() => waitFor(() => cond.wait(), 500));
        expect(error).toBeInstanceOf(TimeoutError);
        expect((error as Error).cause).toBeInstanceOf(CancelledError);
        expect(loop.time()).toBe(500);
        expect(cond.locked()).toBe(true);
        expect(cond._waiters.size).toBe(0);
        expect(String(cond)).toBe("Condition [locked]");
      }
      expect(cond.locked()).toBe(false);
    }));
});

describe("Queue: the cancel races step by step (test_queues.py)", () => {
  test("a getter cancelled while waiting is done one step later and leaves one getter; a put then reaches the other one step later (test_get_cancelled_race)", () =>
    vrun(async () => {
      const q = new Queue<string>();
      const t1 = createTask(() => q.get());
      const t2 = createTask(() => q.get());
      await sleep(0);
      expect(q._getters.size).toBe(2);
      t1.cancel();
      await sleep(0);
      expect(t1.done()).toBe(true);
      expect(t1.cancelled()).toBe(true);
      expect(q._getters.size).toBe(1);
      expect(t2.done()).toBe(false);
      await q.put("a");
      await sleep(0);
      expect(t2.done()).toBe(true);
      expect(await t2).toBe("a");
      expect(q.qsize()).toBe(0);
      expect(q._getters.size).toBe(0);
    }));

  test("of three putters on a queue of one, the first puts, the third is cancelled; a get admits the second, whose item is in one step later (test_put_cancelled_race)", () =>
    vrun(async () => {
      const q = new Queue<string>(1);
      const putA = createTask(() => q.put("a"));
      const putB = createTask(() => q.put("b"));
      const putC = createTask(() => q.put("X"));
      await sleep(0);
      expect(putA.done()).toBe(true);
      expect(putB.done()).toBe(false);
      expect(putC.done()).toBe(false);
      expect(q.qsize()).toBe(1);
      expect(q._putters.size).toBe(2);

      putC.cancel();
      await sleep(0);
      expect(putC.done()).toBe(true);
      expect(putC.cancelled()).toBe(true);
      expect(q.qsize()).toBe(1);
      expect(q._putters.size).toBe(1);

      expect(q.getNowait()).toBe("a");
      expect(q.qsize()).toBe(0);
      expect(putB.done()).toBe(false);
      await sleep(0);
      expect(putB.done()).toBe(true);
      expect(q.qsize()).toBe(1);
      expect(q._putters.size).toBe(0);
      expect(q.getNowait()).toBe("b");
      await putB;
      expect(q.qsize()).toBe(0);
      expect(() => q.getNowait()).toThrow(QueueEmpty);
    }));

  test("a get made before two putters start returns 'a' while the second putter still waits and nothing is buffered, and the next get returns 'b' (test_get_with_waiting_putters)", () =>
    vrun(async () => {
      const q = new Queue<string>(1);
      const putA = createTask(() => q.put("a"));
      const putB = createTask(() => q.put("b"));
      expect(await q.get()).toBe("a");
      // "a" went straight to the waiting get, and the putter of "b" waits on the full queue:
      // the slot the get frees reaches it only after this code has resumed.
      expect(putA.done()).toBe(true);
      expect(putB.done()).toBe(false);
      expect(q.qsize()).toBe(0);
      expect(await q.get()).toBe("b");
      expect(putB.done()).toBe(true);
      expect(q.qsize()).toBe(0);
      await sleep(0);
      expect(q.empty()).toBe(true);
      expect(String(q)).toBe("Queue [maxsize: 1, size: 0, getters: 0, putters: 0, unfinished: 2]");
    }));
});

describe("what a queue's text shows (test_queues.py, _QueueJoinTestMixin and _QueueShutdownTestMixin)", () => {
  const kinds = [
    ["Queue", () => new Queue<number>()],
    ["LifoQueue", () => new LifoQueue<number>()],
    ["PriorityQueue", () => new PriorityQueue<number>()],
  ] as const;

  for (const [name, make] of kinds) {
    test(`${name}: a fresh queue shows maxsize 0 and nothing else of note; once shut down it says so (asyncio: 'maxsize=0', 'maxsize=0 shutdown') (test_format)`, () => {
      const q = make();
      expect(String(q)).toBe(`${name} [maxsize: 0, size: 0, getters: 0, putters: 0]`);
      expect(String(q)).not.toMatch(/unfinished|shut/);
      q.shutdown();
      expect(String(q)).toBe(`${name} [maxsize: 0, size: 0, getters: 0, putters: 0, shut down]`);
    });

    test(`${name}: the text shows how many items wait for taskDone() while there are some, as 'unfinished: 2' (asyncio: 'maxsize=0 tasks=2') (test_format)`, () => {
      const q = make();
      q.putNowait(1);
      q.putNowait(2);
      q.getNowait();
      q.getNowait();
      // Two items were got and not yet marked done: join() would wait for them.
      expect(String(q)).toBe(`${name} [maxsize: 0, size: 0, getters: 0, putters: 0, unfinished: 2]`);
      q.taskDone();
      expect(String(q)).toBe(`${name} [maxsize: 0, size: 0, getters: 0, putters: 0, unfinished: 1]`);
      q.taskDone();
      expect(String(q)).not.toMatch(/unfinished/);
    });
  }
});
