/**
 * What a primitive hands over (a lock, a permit, a queue item) is never lost when the code
 * waiting for it through a combinator is cancelled after the hand-over and before it resumes:
 * it goes back to the primitive, as it does for a plain late-cancelled `await`.
 */
import { describe, expect, it } from "vitest";
import { CancelledError, Event, Lock, Queue, Semaphore, VirtualTimeLoop, asCompleted, createTask, getRunningLoop, run, sleep, wait, waitFor } from "aiots";
import type { Task } from "aiots";

const vrun = <T>(fn: () => Promise<T>): Promise<T> => run(fn, { loop: new VirtualTimeLoop() });

describe("waitFor over a hand-over, caller cancelled after the hand-over and before it resumes", () => {
  const shapes = [
    ["the wait itself", (sem: Semaphore) => waitFor(sem.acquire(), 1000)],
    ["a function returning the wait", (sem: Semaphore) => waitFor(() => sem.acquire(), 1000)],
  ] as const;
  for (const [shape, acquire] of shapes) {
    it(`${shape}: the permit goes back to the semaphore, and the next waiter gets it`, async () => {
      await vrun(async () => {
        const sem = new Semaphore(1);
        await sem.acquire();
        const caller = createTask(async () => {
          await acquire(sem);
          return "acquired";
        });
        const next = createTask(async () => {
          await sleep(1);
          await sem.acquire();
          return "next acquired";
        });
        await sleep(0);
        sem.release(); // hands the permit to the caller's wait
        caller.cancel(); // before the caller resumes
        await expect(caller).rejects.toBeInstanceOf(CancelledError);
        expect(await next).toBe("next acquired");
        sem.release();
        expect(sem.locked()).toBe(false);
      });
    });
  }

  it("a Lock handed over to a cancelled waitFor is free again; a queue item goes back to the queue", async () => {
    await vrun(async () => {
      const lock = new Lock();
      await lock.acquire();
      const locker = createTask(() => waitFor(lock.acquire(), 1000));
      const q = new Queue<string>();
      const getter = createTask(() => waitFor(q.get(), 1000));
      await sleep(0);
      lock.release();
      q.putNowait("item");
      locker.cancel();
      getter.cancel();
      await expect(locker).rejects.toBeInstanceOf(CancelledError);
      await expect(getter).rejects.toBeInstanceOf(CancelledError);
      expect(lock.locked()).toBe(false);
      expect(q.getNowait()).toBe("item");
    });
  });
});

describe("a hand-over already taken is never given back again", () => {
  it("an item got by one await is not given back by a waitFor over the same get whose caller is cancelled", async () => {
    await vrun(async () => {
      const q = new Queue<number>();
      const g = q.get();
      q.putNowait(7);
      expect(await g).toBe(7); // taken here
      const caller = createTask(() => waitFor(g, 100));
      await sleep(0);
      caller.cancel();
      await caller.catch(() => undefined);
      expect(q.qsize()).toBe(0);
    });
  });

  it("a permit taken through a task that returned the wait is not given back by a cancelled waitFor over that task", async () => {
    await vrun(async () => {
      const sem = new Semaphore(1);
      await sem.acquire();
      const t = createTask(() => sem.acquire());
      await sleep(0);
      sem.release(); // hands the permit to t's wait
      expect(await t).toBe(true); // this code now holds the permit
      const caller = createTask(() => waitFor(t, 100));
      await sleep(0);
      caller.cancel();
      await caller.catch(() => undefined);
      expect(sem.locked()).toBe(true);
      expect(sem._value).toBe(0);
      sem.release();
      expect(sem.locked()).toBe(false);
    });
  });

  it("a task that returned a queue get, awaited by two tasks: the one that gets the item keeps it, the other's late cancel gives nothing back", async () => {
    await vrun(async () => {
      const q = new Queue<number>();
      const t = createTask(() => q.get());
      const a = createTask(() => t);
      const b = createTask(async () => await t);
      await sleep(0);
      q.putNowait(1);
      await t;
      b.cancel(); // after t is done, before b resumes
      expect(await a).toBe(1);
      await b.catch(() => undefined);
      expect(q.qsize()).toBe(0);
    });
  });
});

describe("a put made by a task of its own", () => {
  it("is done once that task is: the awaiting task, cancelled before it resumes, throws and the item stays put once, with no slot left held", async () => {
    const q = new Queue<string>(1);
    q.putNowait("f0");
    const log: string[] = [];
    await run(
      async () => {
        const putter = createTask(async () => {
          try {
            await createTask(() => q.put("x"));
            log.push("put returned");
          } catch (e) {
            log.push(e instanceof CancelledError ? "put threw CancelledError" : `put threw ${String(e)}`);
          }
        });
        // Two getters: the first frees the slot the put is admitted to, the second is handed
        // "x" and, as soon as it has it, cancels the putter, which has not resumed yet.
        const getter = (cancels: boolean) =>
          createTask(async () => {
            await sleep(0);
            log.push(`got ${await q.get()}`);
            if (cancels) void Promise.resolve().then(() => putter.cancel());
          });
        getter(false);
        getter(true);
        await sleep(10);
      },
      { loop: new VirtualTimeLoop() },
    );
    expect(log).toEqual(["got f0", "got x", "put threw CancelledError"]);
    // Nothing was given back after the item went in: no slot is held, and the queue takes two puts again.
    expect(q._reserved).toBe(0);
    expect(q.qsize()).toBe(0);
    q.putNowait("y");
    expect(q.full()).toBe(true);
  });
});

describe("a fast path inside waitFor, caller cancelled in the microtasks that follow", () => {
  // An uncontended acquire (or a get from a non-empty queue) takes what it hands over at the
  // call, as asyncio's fast path does without suspending, and returns a settled promise.
  // asyncio runs waitFor's awaitable inside the caller's step, so a cancel of the caller that
  // comes while waitFor finishes must not lose it: the caller keeps it (and its finally gives
  // it back). (gather and shield of such a promise can drop their own outcome when the caller
  // is cancelled, as asyncio's do; the value then stays with the promise the caller holds.)
  const ticks = async (n: number) => {
    for (let i = 0; i < n; i++) await Promise.resolve();
  };
  const combinators = [["waitFor", <T>(p: Promise<T>) => waitFor(p, 10)]] as const;
  for (const [name, wrap] of combinators) {
    for (let k = 0; k < 6; k++) {
      it(`${name}: a Semaphore's permit and a Lock's guard, cancel after ${k} microtasks`, async () => {
        await vrun(async () => {
          const sem = new Semaphore(1);
          const lock = new Lock();
          const t: Task<void> = createTask(async () => {
            void ticks(k).then(() => t.cancel());
            await wrap(sem.acquire());
            try {
              await using _ = await wrap(lock.guard());
              await sleep(1);
            } finally {
              sem.release();
            }
          });
          await Promise.allSettled([t]);
          expect(t.cancelled()).toBe(true);
          expect(sem.locked()).toBe(false);
          expect(lock.locked()).toBe(false);
        });
      });

      it(`${name}: an item got at once, and a put into free room, cancel after ${k} microtasks`, async () => {
        await vrun(async () => {
          const q = new Queue<string>(2);
          q.putNowait("a");
          const got: string[] = [];
          const t: Task<void> = createTask(async () => {
            void ticks(k).then(() => t.cancel());
            got.push(await wrap(q.get()));
            await wrap(q.put("b"));
            got.push("put b");
            await sleep(1);
          });
          await Promise.allSettled([t]);
          expect(t.cancelled()).toBe(true);
          // "a" was got exactly once or is still queued; "b" is queued exactly when its put returned.
          const left: string[] = [];
          while (!q.empty()) left.push(q.getNowait());
          expect([...got.filter((x) => x === "a"), ...left.filter((x) => x === "a")]).toEqual(["a"]);
          expect(left.includes("b")).toBe(got.includes("put b"));
        });
      });
    }
  }
});

describe("two uncontended acquires given to a combinator", () => {
  it("are two children: wait sees two done, asCompleted yields twice, and both permits are taken", async () => {
    await vrun(async () => {
      const sem = new Semaphore(4);
      const { done, pending } = await wait([sem.acquire(), sem.acquire()]);
      expect(done.size).toBe(2);
      expect(pending.size).toBe(0);
      const yielded: boolean[] = [];
      for await (const v of asCompleted([sem.acquire(), sem.acquire()])) yielded.push(v);
      expect(yielded).toEqual([true, true]);
      expect(sem.locked()).toBe(true); // 4 permits taken
      for (let i = 0; i < 4; i++) sem.release();
      expect(sem.locked()).toBe(false);
    });
  });
});

describe("a loop closed with a wake-up in its ready queue", () => {
  it("still delivers it: the woken waiter gets the lock it was handed, and the lock stays consistent", async () => {
    const loop = new VirtualTimeLoop();
    const lock = new Lock();
    let acquired = false;
    loop.createTask(async () => {
      await lock.acquire();
      createTask(async () => {
        await lock.acquire();
        acquired = true;
      });
      await sleep(0); // the waiter now waits for the lock
      loop.callSoon(() => {
        // A callback is queued already, so the waiter's wake-up goes into the ready queue
        // behind it; the loop stops before that runs, and is closed.
        loop.callSoon(() => undefined);
        lock.release();
        loop.stop();
      });
    });
    await loop.runForever();
    loop.close();
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(acquired).toBe(true);
    expect(lock.locked()).toBe(true);
  });
});

describe("an item that reached a task's result", () => {
  it("stays there when the task awaiting that task is cancelled before it resumes: it is not put back into the queue as well", async () => {
    const q = new Queue<string>(1);
    let getter!: Task<string>;
    let awaiter!: Task<string>;
    await run(
      async () => {
        const loop = getRunningLoop();
        getter = createTask(() => q.get());
        awaiter = createTask(async () => await getter);
        await sleep(0); // the get waits, and the awaiter waits for the getter task
        createTask(() => {
          // From a first step, the wake-up of the get goes through the ready queue; the cancel
          // queued behind it lands once the getter task has its item, before the awaiter resumes.
          q.putNowait("x");
          loop.callSoon(() => awaiter.cancel());
        });
        await Promise.allSettled([getter, awaiter]);
      },
      { loop: new VirtualTimeLoop() },
    );
    expect(getter.result()).toBe("x");
    expect(awaiter.cancelled()).toBe(true);
    // Got once, by the getter task: not queued again, and the bound holds.
    expect(q.qsize()).toBe(0);
  });
});

describe("a loop closed while wake-ups wait for the end of its iteration", () => {
  it("delivers them all, from a later callback or from the same one", async () => {
    for (const where of ["later callback", "same callback"]) {
      const loop = new VirtualTimeLoop();
      const fa = loop.createFuture<number>();
      const fb = loop.createFuture<number>();
      const got: string[] = [];
      const reports: unknown[] = [];
      loop.setExceptionHandler((_l, context) => reports.push(context.exception ?? context.message));
      // Two tasks await fa and fb; the loop is idle (not running), as a default loop is.
      loop.createTask(async () => got.push(`a ${await fa}`));
      loop.createTask(async () => got.push(`b ${await fb}`));
      await loop.advance(0);
      if (where === "later callback") {
        loop.callSoon(() => {
          fa.setResult(1);
          fb.setResult(2);
        });
        loop.callSoon(() => loop.close());
      } else {
        loop.callSoon(() => {
          loop.close();
          fa.setResult(1);
          fb.setResult(2);
        });
        loop.callSoon(() => undefined);
      }
      for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
      expect([where, ...got]).toEqual([where, "a 1", "b 2"]);
      expect(reports).toEqual([]);
    }
  });
});

describe("one blocked wait shared by several awaiters, one of them cancelled after the hand-over and before it resumes", () => {
  /** Two tasks awaiting `wait`; the hand-over is made by `handOver`, and the first task is cancelled right after. */
  async function shared<T>(wait: PromiseLike<T>, handOver: () => void): Promise<{ a: Task<T>; b: Task<T> }> {
    const a = createTask(async () => await wait);
    const b = createTask(async () => await wait);
    await sleep(0);
    handOver();
    a.cancel(); // same synchronous block: a has not resumed yet
    await a.then(undefined, () => undefined);
    await b.then(undefined, () => undefined);
    return { a, b };
  }

  it("a queue item goes to the other awaiter only: it is not put back as well", async () => {
    await vrun(async () => {
      const q = new Queue<string>();
      const { a, b } = await shared(q.get(), () => q.putNowait("x"));
      expect(a.cancelled()).toBe(true);
      expect(b.result()).toBe("x");
      expect(q.qsize()).toBe(0);
    });
  });

  it("with every awaiter cancelled, the item goes back to the queue once", async () => {
    await vrun(async () => {
      const q = new Queue<string>();
      const get = q.get();
      const a = createTask(async () => await get);
      const b = createTask(async () => await get);
      await sleep(0);
      q.putNowait("x");
      a.cancel();
      b.cancel();
      await a.then(undefined, () => undefined);
      await b.then(undefined, () => undefined);
      expect([a.cancelled(), b.cancelled()]).toEqual([true, true]);
      expect(q.qsize()).toBe(1);
      expect(q.getNowait()).toBe("x");
    });
  });

  it("a lock handed to a shared acquire stays with the awaiter that resumed", async () => {
    await vrun(async () => {
      const lock = new Lock();
      await lock.acquire();
      const { a, b } = await shared(lock.acquire(), () => lock.release());
      expect(a.cancelled()).toBe(true);
      expect(b.result()).toBe(true);
      expect(lock.locked()).toBe(true);
      lock.release();
      expect(lock.locked()).toBe(false);
    });
  });

  it("a put shared by two awaiters puts its item once, when one of them is cancelled", async () => {
    await vrun(async () => {
      const q = new Queue<string>(1);
      q.putNowait("first");
      const { a, b } = await shared(q.put("second"), () => q.getNowait());
      expect(a.cancelled()).toBe(true);
      expect(b.done() && !b.cancelled()).toBe(true);
      expect(q.qsize()).toBe(1);
      expect(q.getNowait()).toBe("second");
    });
  });

  it("a done callback observing the wait keeps the item with the future: it is not put back", async () => {
    await vrun(async () => {
      const q = new Queue<string>();
      const get = q.get();
      const seen: string[] = [];
      (get as unknown as { addDoneCallback(cb: (f: { result(): string }) => void): void }).addDoneCallback((f) => seen.push(f.result()));
      const a = createTask(async () => await get);
      await sleep(0);
      q.putNowait("x");
      a.cancel();
      await a.then(undefined, () => undefined);
      await sleep(0);
      expect(a.cancelled()).toBe(true);
      expect(seen).toEqual(["x"]);
      expect(q.qsize()).toBe(0);
    });
  });
});

describe("a hand-over made by a task's code reaches the woken task once that code waits (asyncio runs the woken step after the waker's)", () => {
  /** A task that takes `lock` once it is free, recording whether its code after the acquire ran. */
  function waiterOn(lock: Lock, log: string[], name: string): Task<void> {
    return createTask(async () => {
      await lock.acquire();
      log.push(`${name} in`);
      lock.release();
    });
  }

  /** Ways for a task holding `lock` to let it go and go on through microtask hops before it waits. */
  const hops: [string, (lock: Lock) => Promise<void>][] = [
    ["the release made inside an async function it awaits", async (lock) => {
      await lock.acquire();
      await sleep(0); // the waiters queue up
      const letGo = async () => {
        lock.release();
      };
      await letGo();
    }],
    ["the release made by the exit of an `await using` block", async (lock) => {
      {
        await using _ = await lock.guard();
        await sleep(0); // the waiters queue up
      }
    }],
    ["a few awaits of settled promises after the release", async (lock) => {
      await lock.acquire();
      await sleep(0); // the waiters queue up
      lock.release();
      await null;
      await Promise.resolve();
      await lock.locked();
    }],
  ];

  for (const [how, letGo] of hops) {
    it(`${how}: a cancel of the woken waiter before the releasing task waits makes its acquire throw, and the lock passes on`, async () => {
      await vrun(async () => {
        const log: string[] = [];
        const lock = new Lock();
        let first!: Task<void>;
        const releaser = createTask(async () => {
          await letGo(lock);
          first.cancel();
          log.push("releaser goes on");
        });
        first = waiterOn(lock, log, "first");
        const second = waiterOn(lock, log, "second");
        await Promise.allSettled([releaser, first, second]);
        expect(first.cancelled()).toBe(true);
        expect(log).toEqual(["releaser goes on", "second in"]);
        expect(lock.locked()).toBe(false);
      });
    });
  }

  it("the woken task resumes once the waker waits on a pending aiots future, before that wait ends", async () => {
    await vrun(async () => {
      const log: string[] = [];
      const lock = new Lock();
      await lock.acquire();
      const woken = waiterOn(lock, log, "woken");
      await sleep(0);
      const waker = createTask(async () => {
        const letGo = async () => {
          lock.release();
        };
        await letGo();
        log.push("waker before its wait");
        await sleep(10);
        log.push("waker after its wait");
      });
      await waker;
      await woken;
      expect(log).toEqual(["waker before its wait", "woken in", "waker after its wait"]);
    });
  });

  it("the woken task resumes once the waker's function returns, if it never waits", async () => {
    await vrun(async () => {
      const log: string[] = [];
      const q = new Queue<number>();
      const getter = createTask(async () => {
        const item = await q.get();
        log.push(`got ${item}`);
      });
      await sleep(0);
      const putter = createTask(async () => {
        q.putNowait(1);
        await null;
        log.push("putter ends");
      });
      await Promise.all([putter, getter]);
      expect(log).toEqual(["putter ends", "got 1"]);
    });
  });

  it("waitFor over a settled plain promise is not a wait: the woken task resumes after the waker goes on past it (CPython 3.13 order)", async () => {
    await vrun(async () => {
      const log: string[] = [];
      const q = new Queue<number>();
      const getter = createTask(async () => {
        try {
          await q.get();
        } catch (e) {
          log.push(`getter ${(e as Error).name}`);
          throw e;
        }
      });
      const waker = createTask(async () => {
        await sleep(0); // a later step of the waker, not its first
        getter.cancel();
        await waitFor(q.join(), 3); // join() of an idle queue: a settled promise
        log.push("waker past waitFor");
        await sleep(0);
        log.push("waker after its wait");
      });
      await Promise.allSettled([getter, waker]);
      expect(log).toEqual(["waker past waitFor", "getter CancelledError", "waker after its wait"]);
    });
  });

  it("a waker that waits on a plain promise lets the woken task go on within a few microtask turns, before the loop goes on", async () => {
    await vrun(async () => {
      const log: string[] = [];
      const lock = new Lock();
      await lock.acquire();
      const woken = waiterOn(lock, log, "woken");
      let resolvePlain!: () => void;
      const plain = new Promise<void>((resolve) => {
        resolvePlain = resolve;
      });
      const waker = createTask(async () => {
        await sleep(0);
        lock.release();
        await plain;
        log.push("waker resumed");
      });
      getRunningLoop().callLater(1, () => {
        log.push("timer");
        resolvePlain();
      });
      await Promise.all([waker, woken]);
      expect(log).toEqual(["woken in", "timer", "waker resumed"]);
    });
  });

  it("wake-ups held by two tasks are delivered in the order they were made, whichever waker waits first", async () => {
    await vrun(async () => {
      const log: string[] = [];
      const sem = new Semaphore(2);
      await sem.acquire();
      await sem.acquire();
      const a = createTask(async () => {
        await sem.acquire();
        log.push("a in");
      });
      const b = createTask(async () => {
        await sem.acquire();
        log.push("b in");
      });
      await sleep(0);
      let slow!: Task<void>;
      // The first releaser goes on through a few hops; the second waits at once.
      slow = createTask(async () => {
        sem.release(); // hands a permit to a
        await null;
        await null;
        await null;
        log.push("slow waits");
        await sleep(0);
      });
      const fast = createTask(async () => {
        sem.release(); // hands a permit to b
        log.push("fast waits");
        await sleep(0);
      });
      await Promise.all([slow, fast, a, b]);
      expect(log.indexOf("a in")).toBeLessThan(log.indexOf("b in"));
      expect(log.indexOf("a in")).toBeGreaterThan(log.indexOf("fast waits"));
    });
  });
});

describe("any wake-up a task's code makes reaches the woken task once that code waits (CPython 3.13 order)", () => {
  /** A task awaiting `wait()`, that logs `<name> cancelled` if that await throws. */
  const logsCancel = (log: string[], name: string, wait: () => PromiseLike<unknown>): Task<void> =>
    createTask(async () => {
      try {
        await wait();
      } catch (e) {
        log.push(`${name} cancelled`);
        throw e;
      }
    });

  it("a cancel of a task sleeping: the canceller goes on through uncontended acquires to its end first", async () => {
    await vrun(async () => {
      const log: string[] = [];
      const lock = new Lock();
      const sem = new Semaphore(1);
      const sleeper = logsCancel(log, "sleeper", () => sleep(1));
      const canceller = createTask(async () => {
        await sleep(0);
        sleeper.cancel();
        log.push("canceller cancelled the sleeper");
        {
          await using _l = await lock.guard();
          await using _s = await sem.guard();
        }
        log.push("canceller ends");
      });
      await Promise.allSettled([sleeper, canceller]);
      expect(log).toEqual(["canceller cancelled the sleeper", "canceller ends", "sleeper cancelled"]);
    });
  });

  it("Event.set: the setter goes on through awaits of things done already to its end first", async () => {
    await vrun(async () => {
      const log: string[] = [];
      const ev = new Event();
      const lock = new Lock();
      const waiter = createTask(async () => {
        await ev.wait();
        log.push("waiter woke");
      });
      const setter = createTask(async () => {
        await sleep(1);
        ev.set();
        log.push("setter set");
        await ev.wait();
        await lock.acquire();
        lock.release();
        log.push("setter ends");
      });
      await Promise.all([waiter, setter]);
      expect(log).toEqual(["setter set", "setter ends", "waiter woke"]);
    });
  });
});

describe("a held hand-over and the other tasks woken meanwhile", () => {
  it("a hand-over then an Event set: the taker's step runs through before the Event's waiter goes on, as asyncio runs one woken step after the other", async () => {
    await vrun(async () => {
      const log: string[] = [];
      const q = new Queue<number>();
      const ev = new Event();
      const x = createTask(async () => {
        const v = await q.get();
        log.push(`x got ${v}`);
        await null;
        log.push("x done");
      });
      const y = createTask(async () => {
        await ev.wait();
        log.push("y");
      });
      await sleep(0);
      const w = createTask(async () => {
        await sleep(0);
        q.putNowait(1);
        ev.set();
        await sleep(0);
      });
      await Promise.all([x, y, w]);
      expect(log).toEqual(["x got 1", "x done", "y"]);
    });
  });

  it("hand-overs by two tasks whose code interleaves: the takers resume in the order they were handed over", async () => {
    await vrun(async () => {
      const log: string[] = [];
      const qa = new Queue<number>();
      const qb = new Queue<number>();
      const x = createTask(async () => {
        await qa.get();
        log.push("x1");
        await null;
        log.push("x2");
      });
      const y = createTask(async () => {
        await qb.get();
        log.push("y1");
        await null;
        log.push("y2");
      });
      await sleep(0);
      const w1 = createTask(async () => {
        await sleep(0);
        qa.putNowait(1);
        await null;
        await null;
        await sleep(0);
      });
      const w2 = createTask(async () => {
        await sleep(0);
        qb.putNowait(1);
        await sleep(0);
      });
      await Promise.all([x, y, w1, w2]);
      expect(log.indexOf("x1")).toBeLessThan(log.indexOf("y1"));
      expect(log.filter((l) => l.startsWith("x"))).toEqual(["x1", "x2"]);
      expect(log.filter((l) => l.startsWith("y"))).toEqual(["y1", "y2"]);
    });
  });

  it("a waker that polls with microtask hops for the woken task's effect sees it after a few hops: a held hand-over does not wait forever", async () => {
    await vrun(async () => {
      const lock = new Lock();
      await lock.acquire();
      let ran = false;
      const woken = createTask(async () => {
        await lock.acquire();
        ran = true;
        lock.release();
      });
      await sleep(0);
      const waker = createTask(async () => {
        await sleep(0);
        lock.release();
        let hops = 0;
        while (!ran && hops < 1000) {
          await null;
          hops++;
        }
        return hops;
      });
      expect(await waker).toBeLessThan(100);
      await woken;
    });
  });
});

describe("a waitFor deadline due with another task's timer", () => {
  it("the work's finally takes the lock before the task whose timer fires after the deadline, as asyncio (the other way round, the work could never get it back)", async () => {
    // CPython 3.13: inner got lock, t0 caught TimeoutError, t1 got lock.
    await vrun(async () => {
      const log: string[] = [];
      const lock = new Lock();
      const ev = new Event();
      const t0 = createTask(async () => {
        try {
          await waitFor(async () => {
            try {
              await ev.wait();
            } finally {
              await lock.acquire();
              log.push("inner got lock");
              lock.release();
            }
          }, 3);
        } catch (error) {
          log.push(error instanceof Error ? `t0 caught ${error.name}` : "t0 caught something else");
        }
      });
      const t1 = createTask(async () => {
        await sleep(3);
        await lock.acquire();
        log.push("t1 got lock");
        await sleep(1);
        lock.release();
      });
      await Promise.all([t0, t1]);
      expect(log).toEqual(["inner got lock", "t0 caught TimeoutError", "t1 got lock"]);
    });
  });
});
