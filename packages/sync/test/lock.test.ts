import { AsyncLocalStorage } from "node:async_hooks";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { CancelledError, InvalidStateError } from "@aiots/core";
import { Future, createTask, currentTask, sleep } from "@aiots/future";
import { getRunningLoop } from "@aiots/loop";
import { Lock } from "@aiots/sync";
import { abortListeners, outcome, ticks, virtual } from "./helpers.js";

describe("Lock state", () => {
  it("acquire resolves to true and locks; release unlocks", async () => {
    await virtual(async () => {
      const lock = new Lock();
      expect(lock.locked()).toBe(false);
      expect(await lock.acquire()).toBe(true);
      expect(lock.locked()).toBe(true);
      lock.release();
      expect(lock.locked()).toBe(false);
    });
  });

  it("shows its state in String(), util.inspect and Object.prototype.toString", async () => {
    await virtual(async () => {
      const lock = new Lock();
      expect(String(lock)).toBe("Lock [unlocked]");
      await lock.acquire();
      expect(String(lock)).toBe("Lock [locked]");
      const waiters = [1, 2, 3].map(() => createTask(() => lock.acquire()));
      await ticks();
      expect(String(lock)).toBe("Lock [locked, waiters: 3]");
      expect(inspect(lock)).toBe("Lock [locked, waiters: 3]");
      expect(Object.prototype.toString.call(lock)).toBe("[object Lock]");
      for (const w of waiters) w.cancel();
      expect(String(lock)).toBe("Lock [locked]");
    });
  });
});

describe("Lock on its way to a waiter that returned or chained the acquire", () => {
  // asyncio (test_locks, and CPython 3.13 run by hand): after the release that woke a
  // waiter, locked() is false and a second release() raises, until that waiter resumes.
  it("a task that returns acquire(): locked() false and a second release throws", async () => {
    const { lockedAfter, second, holders } = await virtual(async () => {
      const lock = new Lock();
      await lock.acquire();
      const waiters = [0, 1, 2].map(() => createTask(() => lock.acquire()));
      await ticks();
      lock.release();
      const lockedAfter = lock.locked();
      let second = "no error";
      try {
        lock.release();
      } catch (error) {
        second = error instanceof InvalidStateError ? "InvalidStateError" : String(error);
      }
      await ticks();
      const holders = waiters.filter((w) => w.done() && !w.cancelled()).length;
      for (const w of waiters) w.cancel();
      await Promise.allSettled(waiters);
      return { lockedAfter, second, holders };
    });
    expect({ lockedAfter, second, holders }).toEqual({ lockedAfter: false, second: "InvalidStateError", holders: 1 });
  });

  it("plain code that chains .then on acquire(): locked() false until the callback ran", async () => {
    const seen = await virtual(async () => {
      const lock = new Lock();
      await lock.acquire();
      const seen: string[] = [];
      void lock.acquire().then(() => seen.push(`callback, locked ${lock.locked()}`));
      lock.release();
      seen.push(`released, locked ${lock.locked()}`);
      await ticks();
      lock.release();
      return seen;
    });
    expect(seen).toEqual(["released, locked false", "callback, locked true"]);
  });
});

describe("Lock fairness", () => {
  it("waiters get the lock first come, first served, also one that arrives later", async () => {
    await virtual(async () => {
      const lock = new Lock();
      const result: number[] = [];
      await lock.acquire();
      const c = (n: number) => async () => {
        if (await lock.acquire()) result.push(n);
        return true;
      };
      const t1 = createTask(c(1));
      const t2 = createTask(c(2));
      await ticks();
      expect(result).toEqual([]);
      lock.release();
      await ticks();
      expect(result).toEqual([1]);
      await ticks();
      expect(result).toEqual([1]);
      const t3 = createTask(c(3));
      lock.release();
      await ticks();
      expect(result).toEqual([1, 2]);
      lock.release();
      await ticks();
      expect(result).toEqual([1, 2, 3]);
      for (const t of [t1, t2, t3]) expect(t.result()).toBe(true);
    });
  });

  it("a release hands the lock to the first waiter, so a newcomer cannot barge in", async () => {
    await virtual(async () => {
      const steps: string[] = [];
      const lock = new Lock();
      await lock.acquire();
      const waiter = createTask(async () => {
        await lock.acquire();
        steps.push("waiter acquired");
        await sleep(10);
        lock.release();
      });
      await ticks();
      lock.release();
      // On its way to the waiter: not held (asyncio's locked() says false too), so it cannot
      // be released again, and nobody else can take it either.
      expect(lock.locked()).toBe(false);
      expect(() => lock.release()).toThrow(InvalidStateError);
      const newcomer = lock.acquire().then(() => steps.push("newcomer acquired"));
      await Promise.all([waiter, newcomer]);
      expect(steps).toEqual(["waiter acquired", "newcomer acquired"]);
      lock.release();
      expect(lock.locked()).toBe(false);
    });
  });

  it("works with many waiters in order", async () => {
    await virtual(async () => {
      const lock = new Lock();
      const order: number[] = [];
      await lock.acquire();
      const tasks = Array.from({ length: 50 }, (_, i) =>
        createTask(async () => {
          await lock.acquire();
          order.push(i);
          await sleep(1);
          lock.release();
        }),
      );
      await ticks();
      lock.release();
      await Promise.all(tasks);
      expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i));
      expect(getRunningLoop().time()).toBe(50);
    });
  });
});

describe("Lock cancellation", () => {
  it("a waiter cancelled while waiting leaves the queue", async () => {
    await virtual(async () => {
      const lock = new Lock();
      await lock.acquire();
      const task = createTask(() => lock.acquire());
      getRunningLoop().callSoon(() => task.cancel());
      await expect(task).rejects.toBeInstanceOf(CancelledError);
      expect(lock._waiters.size).toBe(0);
      expect(String(lock)).toBe("Lock [locked]");
    });
  });

  it("a waiter cancelled just before the holder releases does not take the lock from the next one", async () => {
    await virtual(async () => {
      const lock = new Lock();
      const lockit = async (blocker?: Future<void>) => {
        await lock.acquire();
        try {
          if (blocker !== undefined) await blocker;
        } finally {
          lock.release();
        }
      };
      const fa = new Future<void>();
      const ta = createTask(() => lockit(fa));
      await ticks();
      expect(lock.locked()).toBe(true);
      const tb = createTask(() => lockit());
      await ticks();
      expect(lock._waiters.size).toBe(1);
      const tc = createTask(() => lockit());
      await ticks();
      expect(lock._waiters.size).toBe(2);
      fa.setResult();
      tb.cancel();
      await ticks();
      expect(ta.done()).toBe(true);
      expect(tb.cancelled()).toBe(true);
      await tc;
      expect(lock.locked()).toBe(false);
    });
  });

  it("cancelling a waiter and releasing at once lets exactly one other waiter in", async () => {
    await virtual(async () => {
      const lock = new Lock();
      let lockCount = 0;
      let callCount = 0;
      const lockit = async () => {
        callCount++;
        await lock.acquire();
        lockCount++;
      };
      await lock.acquire();
      const t1 = createTask(lockit);
      const t2 = createTask(lockit);
      const t3 = createTask(lockit);
      await ticks();
      getRunningLoop().callSoon(() => {
        t1.cancel();
        lock.release();
      });
      await expect(t1).rejects.toBeInstanceOf(CancelledError);
      await ticks();
      expect(lockCount).toBe(1);
      expect(callCount).toBe(3);
      expect(t2.done()).toBe(true);
      expect(t3.done()).toBe(false);
      t3.cancel();
      await ticks();
      expect(t3.cancelled()).toBe(true);
    });
  });

  it("a waiter cancelled before the release lets a newer waiter have the lock", async () => {
    await virtual(async () => {
      const lock = new Lock();
      await lock.acquire();
      const tb = createTask(() => lock.acquire());
      await ticks();
      expect(lock._waiters.size).toBe(1);
      const tc = createTask(() => lock.acquire());
      tb.cancel();
      lock.release();
      await ticks();
      expect(lock.locked()).toBe(true);
      expect(tb.cancelled()).toBe(true);
      expect(await tc).toBe(true);
    });
  });

  it("a waiter cancelled before the release and one cancelled after it both end cancelled, and the newer waiter gets the lock", async () => {
    // asyncio's test_finished_waiter_cancelled, in both orders of cancel and release.
    for (const order of ["cancel, release", "release, cancel"]) {
      await virtual(async () => {
        const lock = new Lock();
        await lock.acquire();
        const tb = createTask(() => lock.acquire());
        await ticks();
        expect(lock._waiters.size).toBe(1);
        const tc = createTask(() => lock.acquire());
        if (order === "cancel, release") {
          tb.cancel();
          lock.release();
        } else {
          lock.release(); // hands the lock to tb...
          tb.cancel(); // ...which is cancelled before it resumes, so gives it back
        }
        await ticks();
        // Cancelled first, tb gave up its place, and tc took the lock in its first step; woken
        // first, tb gave the lock back when its await threw, and it is on its way to tc, which
        // has not resumed yet (asyncio's locked() says the same in both orders).
        expect(lock.locked()).toBe(order === "cancel, release");
        expect(tb.cancelled()).toBe(true);
        expect(await tc).toBe(true);
        expect(lock.locked()).toBe(true);
        lock.release();
        expect(lock.locked()).toBe(false);
      });
    }
  });

  it("a waiter cancelled after it was woken, before it resumed, throws CancelledError from acquire and the lock goes to the next waiter", async () => {
    await virtual(async () => {
      const steps: string[] = [];
      const lock = new Lock();
      await lock.acquire();
      const a = createTask(async () => {
        try {
          await lock.acquire();
          steps.push("a acquired");
          lock.release();
        } catch (e) {
          steps.push(`a: ${(e as Error).name}, waiters: ${lock._waiters.size}`);
          throw e;
        }
      });
      const b = createTask(async () => {
        await lock.acquire();
        steps.push("b acquired");
        lock.release();
      });
      await ticks();
      lock.release(); // hands the lock to a
      a.cancel(); // a has not resumed yet: its acquire throws and the lock passes to b
      expect(lock.locked()).toBe(false); // on its way to a (asyncio says false too)
      expect(await outcome(a)).toBe("CancelledError");
      await b;
      expect(steps).toEqual(["a: CancelledError, waiters: 0", "b acquired"]);
      expect(lock.locked()).toBe(false);
    });
  });

  it("a woken waiter cancelled before it resumes leaves the lock free when nobody else waits, and its code after acquire never runs", async () => {
    await virtual(async () => {
      const steps: string[] = [];
      const lock = new Lock();
      await lock.acquire();
      const a = createTask(async () => {
        await lock.acquire();
        steps.push("a acquired");
        lock.release();
        return "done";
      });
      await ticks();
      lock.release();
      a.cancel();
      expect(await outcome(a)).toBe("CancelledError");
      expect(steps).toEqual([]);
      expect(lock.locked()).toBe(false);
    });
  });

  it("a task whose function returns the waiter, cancelled in the same step as the release, gives the lock back", async () => {
    await virtual(async () => {
      const lock = new Lock();
      await lock.acquire();
      const a = createTask(() => lock.acquire());
      await ticks();
      lock.release();
      a.cancel();
      expect(await outcome(a)).toBe("CancelledError");
      expect(lock.locked()).toBe(false);
      expect(lock.acquire()).toBeInstanceOf(Promise); // the fast path again
      expect(lock.locked()).toBe(true);
    });
  });

  it("a cancel and a handover in the same step as the await starts: the waiter never gets the lock, whichever comes first", async () => {
    // The await is tracked the moment it starts, so asyncio's rule holds even here: a cancel
    // before the handover withdraws the waiter; one after it makes the await throw and
    // passes the lock on (here: nobody else waits, so it is unlocked).
    for (const order of ["release, cancel", "cancel, release"]) {
      await virtual(async () => {
        const steps: string[] = [];
        const lock = new Lock();
        await lock.acquire();
        const a = createTask(async () => {
          await lock.acquire();
          steps.push("a acquired");
          try {
            await sleep(1);
          } finally {
            lock.release();
          }
        });
        // Runs in the loop iteration in which a starts waiting, before any microtask.
        getRunningLoop().callSoon(() => {
          if (order === "release, cancel") {
            lock.release();
            a.cancel();
          } else {
            a.cancel();
            lock.release();
          }
        });
        expect(await outcome(a)).toBe("CancelledError");
        expect(steps).toEqual([]);
        expect(lock.locked()).toBe(false);
        expect(await lock.acquire()).toBe(true);
      });
    }
  });

  it("a contended acquire is the waiter future itself, and one nobody awaits reports no unhandled rejection when withdrawn", async () => {
    const reports: unknown[] = [];
    const onUnhandled = (reason: unknown) => reports.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      await virtual(async () => {
        const lock = new Lock();
        expect(lock.acquire()).not.toBeInstanceOf(Future); // the fast path: a shared promise
        const ac = new AbortController();
        const waiting = lock.acquire({ signal: ac.signal });
        expect(waiting).toBeInstanceOf(Future);
        void lock.guard({ signal: ac.signal });
        const cancelled = lock.acquire();
        expect(lock._waiters.size).toBe(3);
        ac.abort(new Error("withdrawn"));
        (cancelled as unknown as Future<true>).cancel();
        expect(lock._waiters.size).toBe(0);
        await sleep(1);
        lock.release();
        expect(lock.locked()).toBe(false);
      });
      await new Promise((resolve) => setImmediate(resolve));
      expect(reports).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});

describe("Lock hand-overs and the async context of callbacks", () => {
  it("a then callback woken by a lock given back from a late-cancelled task runs outside any task, not in the releasing task's context", async () => {
    const als = new AsyncLocalStorage<string>();
    const seen: unknown[] = [];
    await virtual(async () => {
      const lock = new Lock();
      await lock.acquire();
      const b = createTask(async () => {
        await lock.acquire();
      });
      await sleep(0);
      getRunningLoop().callSoon(() => {
        void lock.acquire().then(() => {
          seen.push(currentTask(), als.getStore());
          lock.release();
        });
      });
      await sleep(0);
      als.enterWith("the releasing task's value");
      lock.release(); // hands the lock to b
      b.cancel(); // before b resumes: b gives it back, and the callback's wait gets it
      await b.catch(() => undefined);
      await ticks();
    });
    expect(seen).toEqual([undefined, undefined]);
  });
});

describe("Lock misuse and bad input", () => {
  it("release of an unlocked lock throws InvalidStateError naming the misuse and leaves the lock usable", async () => {
    await virtual(async () => {
      const lock = new Lock();
      expect(() => lock.release()).toThrow(InvalidStateError);
      expect(() => lock.release()).toThrow(/Lock\.release\(\) called on an unlocked Lock/);
      expect(await lock.acquire()).toBe(true);
      lock.release();
      expect(lock.locked()).toBe(false);
    });
  });

  it("bad options throw TypeError at the call", () => {
    const lock = new Lock();
    expect(() => lock.acquire(5 as never)).toThrow(TypeError);
    expect(() => lock.acquire({ signal: "x" } as never)).toThrow(/Lock\.acquire options\.signal must be an AbortSignal/);
    expect(() => lock.guard({ signal: 1 } as never)).toThrow(TypeError);
    expect(lock.locked()).toBe(false);
  });
});

describe("Lock with an AbortSignal", () => {
  it("an already aborted signal rejects at once with its reason, without acquiring", async () => {
    await virtual(async () => {
      const lock = new Lock();
      const reason = new Error("stop");
      await expect(lock.acquire({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      expect(lock.locked()).toBe(false);
    });
  });

  it("aborting later withdraws the wait, rejects with the reason, and removes the listener", async () => {
    await virtual(async () => {
      const lock = new Lock();
      await lock.acquire();
      const ac = new AbortController();
      const p = lock.acquire({ signal: ac.signal });
      const other = lock.acquire();
      expect(lock._waiters.size).toBe(2);
      expect(abortListeners(ac.signal)).toBe(1);
      ac.abort("gone");
      expect(lock._waiters.size).toBe(1);
      expect(abortListeners(ac.signal)).toBe(0);
      await expect(p).rejects.toBe("gone");
      lock.release();
      expect(await other).toBe(true);
      lock.release();
      expect(lock.locked()).toBe(false);
    });
  });

  it("removes the listener once the lock is acquired, and a later abort changes nothing", async () => {
    await virtual(async () => {
      const lock = new Lock();
      await lock.acquire();
      const ac = new AbortController();
      const p = lock.acquire({ signal: ac.signal });
      lock.release();
      expect(await p).toBe(true);
      expect(abortListeners(ac.signal)).toBe(0);
      ac.abort();
      expect(lock.locked()).toBe(true);
      lock.release();
    });
  });
});

describe("Lock.guard", () => {
  it("await using holds the lock for the block and releases it after, also on a throw", async () => {
    await virtual(async () => {
      const lock = new Lock();
      {
        await using _ = await lock.guard();
        expect(lock.locked()).toBe(true);
      }
      expect(lock.locked()).toBe(false);
      await expect(
        (async () => {
          await using _ = await lock.guard();
          throw new Error("boom");
        })(),
      ).rejects.toThrow("boom");
      expect(lock.locked()).toBe(false);
    });
  });

  it("using (synchronous disposal) releases too, and a second disposal does nothing", async () => {
    await virtual(async () => {
      const lock = new Lock();
      const guard = await lock.guard();
      {
        using _ = guard;
        expect(lock.locked()).toBe(true);
      }
      expect(lock.locked()).toBe(false);
      await lock.acquire();
      guard[Symbol.dispose]();
      await guard[Symbol.asyncDispose]();
      expect(lock.locked()).toBe(true); // the other holder keeps it
      lock.release();
    });
  });

  it("a guard handed the lock and cancelled before it resumed passes the lock on; a woken guard resolves to a releaser", async () => {
    await virtual(async () => {
      const lock = new Lock();
      await lock.acquire();
      const steps: string[] = [];
      const a = createTask(async () => {
        await using _ = await lock.guard();
        steps.push("a inside");
      });
      const b = createTask(async () => {
        const guard = await lock.guard();
        steps.push(`b inside, locked ${lock.locked()}`);
        await guard[Symbol.asyncDispose]();
      });
      await ticks();
      lock.release(); // hands the lock to a's guard
      a.cancel(); // before a resumed: its await throws, and the lock goes to b
      expect(await outcome(a)).toBe("CancelledError");
      await b;
      expect(steps).toEqual(["b inside, locked true"]);
      expect(lock.locked()).toBe(false);
    });
  });

  it("a guard waiting its turn is interrupted by cancelling its task", async () => {
    await virtual(async () => {
      const lock = new Lock();
      await lock.acquire();
      const steps: string[] = [];
      const t = createTask(async () => {
        await using _ = await lock.guard();
        steps.push("inside");
      });
      await ticks();
      t.cancel();
      expect(await outcome(t)).toBe("CancelledError");
      expect(steps).toEqual([]);
      lock.release();
      expect(lock.locked()).toBe(false);
    });
  });

  it("a guard handed the lock and cancelled before its task resumed throws CancelledError and the lock goes to the next waiter", async () => {
    await virtual(async () => {
      const lock = new Lock();
      await lock.acquire();
      const steps: string[] = [];
      const t = createTask(async () => {
        using _ = await lock.guard();
        steps.push("t inside");
      });
      const u = createTask(async () => {
        using _ = await lock.guard();
        steps.push("u inside");
      });
      await ticks();
      lock.release(); // hands the lock to t
      t.cancel(); // before t resumed: the guard is dropped and released
      expect(await outcome(t)).toBe("CancelledError");
      await u;
      expect(steps).toEqual(["u inside"]);
      expect(lock.locked()).toBe(false);
    });
  });

  it("a guard cancelled after its task resumed releases when its scope ends", async () => {
    await virtual(async () => {
      const lock = new Lock();
      await lock.acquire();
      const steps: string[] = [];
      const t = createTask(async () => {
        await using _ = await lock.guard();
        steps.push("inside");
        await sleep(10);
        steps.push("not reached");
      });
      await ticks();
      lock.release();
      await ticks();
      t.cancel();
      expect(await outcome(t)).toBe("CancelledError");
      expect(steps).toEqual(["inside"]);
      expect(lock.locked()).toBe(false);
    });
  });

  it("a guard waiting with a signal is withdrawn by an abort, which rejects it with the reason", async () => {
    await virtual(async () => {
      const lock = new Lock();
      await lock.acquire();
      const ac = new AbortController();
      const g = lock.guard({ signal: ac.signal });
      expect(lock._waiters.size).toBe(1);
      expect(abortListeners(ac.signal)).toBe(1);
      ac.abort("gone");
      expect(lock._waiters.size).toBe(0);
      expect(abortListeners(ac.signal)).toBe(0);
      await expect(g).rejects.toBe("gone");
      await expect(lock.guard({ signal: AbortSignal.abort("early") })).rejects.toBe("early");
      lock.release();
      expect(lock.locked()).toBe(false);
    });
  });
});

describe("Lock without a running loop", () => {
  it("works in plain async code on the default loop", async () => {
    const lock = new Lock();
    await lock.acquire();
    const waiting = lock.acquire();
    expect(String(lock)).toBe("Lock [locked, waiters: 1]");
    lock.release();
    expect(await waiting).toBe(true);
    lock.release();
    expect(lock.locked()).toBe(false);
  });

  it("is not bound to one loop: it serves one loop after another", async () => {
    const lock = new Lock();
    for (let round = 0; round < 2; round++) {
      await virtual(async () => {
        await lock.acquire();
        const t = createTask(async () => {
          await lock.acquire();
          lock.release();
          return "ok";
        });
        await sleep(5);
        lock.release();
        expect(await t).toBe("ok");
      });
    }
    expect(lock.locked()).toBe(false);
  });
});
