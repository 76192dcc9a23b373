import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { CancelledError } from "@aiots/core";
import { createTask, sleep } from "@aiots/future";
import { getRunningLoop } from "@aiots/loop";
import { BoundedSemaphore, Semaphore } from "@aiots/sync";
import { abortListeners, outcome, ticks, virtual } from "./helpers.js";

describe("Semaphore state", () => {
  it("a semaphore of 0 starts locked; the default value is 1", () => {
    expect(new Semaphore(0).locked()).toBe(true);
    const sem = new Semaphore();
    expect(sem.locked()).toBe(false);
    expect(String(sem)).toBe("Semaphore [unlocked, value: 1]");
  });

  it("shows its state in String() and util.inspect", async () => {
    await virtual(async () => {
      const sem = new Semaphore();
      expect(String(sem)).toBe("Semaphore [unlocked, value: 1]");
      await sem.acquire();
      expect(String(sem)).toBe("Semaphore [locked]");
      const ts = [createTask(() => sem.acquire()), createTask(() => sem.acquire())];
      await ticks();
      expect(inspect(sem)).toBe("Semaphore [locked, waiters: 2]");
      expect(String(new BoundedSemaphore(2))).toBe("BoundedSemaphore [unlocked, value: 2]");
      expect(Object.prototype.toString.call(sem)).toBe("[object Semaphore]");
      for (const t of ts) t.cancel();
    });
  });

  it("release without waiters unlocks", async () => {
    await virtual(async () => {
      const sem = new Semaphore();
      await sem.acquire();
      expect(sem.locked()).toBe(true);
      sem.release();
      expect(sem.locked()).toBe(false);
    });
  });
});

describe("Semaphore fairness", () => {
  it("hands released permits to waiters in order; a newcomer queues behind them", async () => {
    await virtual(async () => {
      const sem = new Semaphore(3);
      const result: number[] = [];
      expect(await sem.acquire()).toBe(true);
      expect(await sem.acquire()).toBe(true);
      expect(sem.locked()).toBe(false);
      const c = (n: number) => async () => {
        await sem.acquire();
        result.push(n);
        return true;
      };
      const t1 = createTask(c(1));
      const t2 = createTask(c(2));
      const t3 = createTask(c(3));
      await ticks();
      expect(result).toEqual([1]);
      expect(sem.locked()).toBe(true);
      expect(sem._waiters.size).toBe(2);
      expect(sem._value).toBe(0);
      const t4 = createTask(c(4));
      sem.release();
      sem.release();
      expect(sem._value).toBe(0); // handed over, not counted as free
      await ticks();
      expect(result).toEqual([1, 2, 3]);
      expect(sem.locked()).toBe(true);
      expect(sem._waiters.size).toBe(1);
      expect([t1, t2, t3].every((t) => t.done())).toBe(true);
      expect(t4.done()).toBe(false);
      sem.release();
      expect(await t4).toBe(true);
    });
  });

  it("keeps FIFO order when holders come back for a second turn", async () => {
    await virtual(async () => {
      const sem = new Semaphore(1);
      const result: string[] = [];
      const coro = (tag: string) => async () => {
        for (const turn of [1, 2]) {
          await sem.acquire();
          result.push(`${tag}_${turn}`);
          await sleep(10);
          sem.release();
        }
      };
      await Promise.all([createTask(coro("c1")), createTask(coro("c2")), createTask(coro("c3"))]);
      expect(result).toEqual(["c1_1", "c2_1", "c3_1", "c1_2", "c2_2", "c3_2"]);
    });
  });

  it("a holder that releases and re-acquires queues behind the waiters", async () => {
    await virtual(async () => {
      const sem = new Semaphore(1);
      const result: number[] = [];
      const t1 = createTask(async () => {
        await sem.acquire();
        result.push(1);
      });
      const t2 = createTask(async () => {
        await sem.acquire();
        result.push(2);
        sem.release();
        await sem.acquire();
        result.push(4);
      });
      const t3 = createTask(async () => {
        await sem.acquire();
        result.push(3);
      });
      await ticks();
      sem.release();
      sem.release();
      await Promise.all([t1, t2, t3]);
      expect(result).toEqual([1, 2, 3, 4]);
    });
  });

  it("a cancelled waiter does not break the order of the others", async () => {
    await virtual(async () => {
      const sem = new Semaphore(0);
      const result: number[] = [];
      const c = (n: number) => async () => {
        await sem.acquire();
        result.push(n);
      };
      const tasks = [createTask(c(1)), createTask(c(2)), createTask(c(3))];
      await ticks();
      tasks[0]!.cancel();
      await ticks();
      sem.release();
      sem.release();
      await Promise.allSettled(tasks);
      expect(result).toEqual([2, 3]);
    });
  });
});

describe("Semaphore hand-overs nobody awaits, or several code paths await", () => {
  it("a permit handed to an acquire nobody awaits is its own: once that holder releases, the semaphore is free", async () => {
    await virtual(async () => {
      const sem = new Semaphore(1);
      await sem.acquire();
      const pending = sem.acquire(); // held on to, not awaited
      sem.release(); // hands the permit to it
      await ticks();
      expect(sem.locked()).toBe(true);
      sem.release(); // its holder is done
      expect(sem.locked()).toBe(false);
      expect(await pending).toBe(true);
      expect(sem._value).toBe(1);
    });
  });

  it("an acquire awaited both by a task and by a then callback counts as delivered once, after both", async () => {
    await virtual(async () => {
      const sem = new Semaphore(1);
      await sem.acquire();
      const pending = sem.acquire();
      const seen: string[] = [];
      void pending.then(() => seen.push(`then, in flight: ${sem._waiters.handing}`));
      const t = createTask(async () => {
        await pending;
        seen.push(`task, in flight: ${sem._waiters.handing}`);
        sem.release();
      });
      await ticks();
      sem.release();
      await t;
      expect(seen).toEqual(["then, in flight: 1", "task, in flight: 0"]);
      expect(sem.locked()).toBe(false);
      expect(sem._value).toBe(1);
      expect(sem._waiters.handing).toBe(0);
    });
  });
});

describe("Semaphore cancellation", () => {
  it("a cancelled waiter leaves the queue", async () => {
    await virtual(async () => {
      const sem = new Semaphore();
      await sem.acquire();
      const acquire = createTask(() => sem.acquire());
      getRunningLoop().callSoon(() => acquire.cancel());
      await expect(acquire).rejects.toBeInstanceOf(CancelledError);
      expect(sem._waiters.size).toBe(0);
    });
  });

  it("waiters cancelled before a release do not take its permit", async () => {
    await virtual(async () => {
      const sem = new Semaphore(0);
      const ts = [1, 2, 3, 4].map(() => createTask(() => sem.acquire()));
      await ticks();
      ts[0]!.cancel();
      ts[1]!.cancel();
      sem.release();
      await ticks(2);
      expect(ts[2]!.done()).toBe(true);
      expect(ts[3]!.done()).toBe(false);
      ts[3]!.cancel();
      await ticks();
      expect(sem._value).toBe(0);
    });
  });

  it("does not hang when the first waiter is cancelled just before or just after a release", async () => {
    // asyncio's test_acquire_hang, in both orders of cancel and release.
    for (const order of ["cancel, release", "release, cancel"]) {
      await virtual(async () => {
        const sem = new Semaphore(0);
        const t1 = createTask(() => sem.acquire());
        const t2 = createTask(() => sem.acquire());
        await ticks();
        if (order === "cancel, release") {
          t1.cancel();
          sem.release();
        } else {
          sem.release(); // hands the permit to t1...
          t1.cancel(); // ...which gives it back, to t2
        }
        await ticks(2);
        expect(t1.cancelled()).toBe(true);
        expect(sem.locked()).toBe(true);
        expect(t2.done()).toBe(true);
        expect(String(sem)).toBe("Semaphore [locked]");
      });
    }
  });

  it("a waiter cancelled after it was handed a permit, before it resumed, throws CancelledError and the permit goes back", async () => {
    for (const bounded of [false, true]) {
      await virtual(async () => {
        const steps: string[] = [];
        const sem = bounded ? new BoundedSemaphore(1) : new Semaphore(1);
        let t2: ReturnType<typeof createTask<void>> | undefined;
        const t1 = createTask(async () => {
          await sem.acquire();
          try {
            await sleep(0);
          } finally {
            sem.release();
            t2!.cancel(); // same step as the handover
          }
        });
        t2 = createTask(async () => {
          using _ = await sem.guard();
          steps.push("t2 inside");
        });
        const t3 = createTask(async () => {
          await sem.acquire();
          steps.push("t3 inside");
          sem.release();
        });
        expect(await outcome(t1)).toBe("value undefined");
        expect(await outcome(t2)).toBe("CancelledError");
        await t3;
        expect(steps).toEqual(["t3 inside"]);
        expect(String(sem)).toBe(`${bounded ? "BoundedSemaphore" : "Semaphore"} [unlocked, value: 1]`);
      });
    }
  });

  it("a waiter cancelled after its permit was handed over, while the releasing task goes on to its next wait, never enters: its await throws and the permit is free again (as asyncio)", async () => {
    await virtual(async () => {
      const steps: string[] = [];
      const sem = new Semaphore(1);
      let t2: ReturnType<typeof createTask<void>> | undefined;
      const t1 = createTask(async () => {
        {
          await using _ = await sem.guard();
          await sleep(0);
        } // the disposal awaits, and t1 goes on: t2 resumes only once t1 waits or ends
        t2!.cancel();
      });
      t2 = createTask(async () => {
        await using _ = await sem.guard();
        steps.push("t2 inside");
        await sleep(0);
        steps.push("not reached");
      });
      expect(await outcome(t1)).toBe("value undefined");
      expect(await outcome(t2)).toBe("CancelledError");
      expect(steps).toEqual([]);
      expect(String(sem)).toBe("Semaphore [unlocked, value: 1]");
      expect(await sem.acquire()).toBe(true);
    });
  });
});

describe("Semaphore with an AbortSignal", () => {
  it("an already aborted signal rejects at once without taking a permit", async () => {
    await virtual(async () => {
      const sem = new Semaphore(2);
      await expect(sem.acquire({ signal: AbortSignal.abort("x") })).rejects.toBe("x");
      expect(String(sem)).toBe("Semaphore [unlocked, value: 2]");
    });
  });

  it("aborting later withdraws the wait, the permit goes to the next waiter, the listener is removed", async () => {
    await virtual(async () => {
      const sem = new Semaphore(0);
      const ac = new AbortController();
      const first = sem.acquire({ signal: ac.signal });
      const second = sem.acquire();
      ac.abort("bye");
      expect(abortListeners(ac.signal)).toBe(0);
      await expect(first).rejects.toBe("bye");
      sem.release();
      expect(await second).toBe(true);
      expect(String(sem)).toBe("Semaphore [locked]");
    });
  });
});

describe("Semaphore guard", () => {
  it("await using takes a permit for the block and gives it back after", async () => {
    await virtual(async () => {
      const sem = new Semaphore(2);
      {
        await using _a = await sem.guard();
        await using _b = await sem.guard();
        expect(sem.locked()).toBe(true);
      }
      expect(String(sem)).toBe("Semaphore [unlocked, value: 2]");
    });
  });
});

describe("Semaphore bad input", () => {
  it("a negative, fractional or non-number value throws at the construction", () => {
    expect(() => new Semaphore(-1)).toThrow(RangeError);
    expect(() => new Semaphore(-1)).toThrow("Semaphore value must be an integer >= 0, got -1");
    expect(() => new Semaphore(1.5)).toThrow(RangeError);
    expect(() => new Semaphore(NaN)).toThrow(RangeError);
    expect(() => new Semaphore("2" as never)).toThrow(TypeError);
    expect(() => new BoundedSemaphore(-3)).toThrow("BoundedSemaphore value must be an integer >= 0, got -3");
  });

  it("bad options throw TypeError at the call and take no permit", () => {
    const sem = new Semaphore(1);
    expect(() => sem.acquire({ signal: 42 } as never)).toThrow(/Semaphore\.acquire options\.signal/);
    expect(() => sem.guard(7 as never)).toThrow(TypeError);
    expect(String(sem)).toBe("Semaphore [unlocked, value: 1]");
  });

  it("a plain Semaphore may be released above its initial value, as asyncio", () => {
    const sem = new Semaphore(1);
    sem.release();
    expect(String(sem)).toBe("Semaphore [unlocked, value: 2]");
  });
});

describe("BoundedSemaphore", () => {
  it("release above the initial value throws RangeError and leaves the semaphore usable", async () => {
    await virtual(async () => {
      const sem = new BoundedSemaphore();
      expect(() => sem.release()).toThrow(RangeError);
      expect(() => sem.release()).toThrow(/released too many times/);
      await sem.acquire();
      sem.release();
      expect(() => sem.release()).toThrow(RangeError);
      expect(String(sem)).toBe("BoundedSemaphore [unlocked, value: 1]");
      expect(await sem.acquire()).toBe(true);
    });
  });

  it("a release with waiters hands the permit over within the bound", async () => {
    await virtual(async () => {
      const sem = new BoundedSemaphore(2);
      await sem.acquire();
      await sem.acquire();
      const t = createTask(() => sem.acquire());
      await ticks();
      sem.release();
      expect(await t).toBe(true);
      sem.release();
      sem.release();
      expect(() => sem.release()).toThrow(RangeError);
    });
  });

  it("a bound of 0 refuses every release", () => {
    const sem = new BoundedSemaphore(0);
    expect(sem.locked()).toBe(true);
    expect(() => sem.release()).toThrow(RangeError);
  });
});
