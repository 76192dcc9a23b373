import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { CancelledError, InvalidStateError } from "@aiots/core";
import type { Task } from "@aiots/future";
import { createTask, sleep } from "@aiots/future";
import { getRunningLoop } from "@aiots/loop";
import { Condition, Lock } from "@aiots/sync";
import { abortListeners, outcome, settle, ticks, virtual } from "./helpers.js";

/** An AbortSignal that aborts after `ms` of the running loop's (virtual) time. */
function abortAfter(ms: number): AbortSignal {
  const ac = new AbortController();
  getRunningLoop().callLater(ms, () => ac.abort(new Error("timed out")));
  return ac.signal;
}

/**
 * A task that waits on `cond` once, holding its lock, and logs to `steps` how the wait
 * ended: "<name> woke", or the error's name and whether the lock was held when it threw.
 */
function loggingWaiter(cond: Condition, steps: string[], name: string): Task<void> {
  return createTask(async () => {
    await using _ = await cond.guard();
    try {
      await cond.wait();
      steps.push(`${name} woke`);
    } catch (e) {
      steps.push(`${name} ${(e as Error).name}, locked: ${cond.locked()}`);
      throw e;
    }
  });
}

describe("Condition.wait", () => {
  it("releases the lock while waiting and returns holding it, in notify order", async () => {
    await virtual(async () => {
      const cond = new Condition();
      const result: number[] = [];
      const c = (n: number) => async () => {
        await cond.acquire();
        if (await cond.wait()) result.push(n);
        return true;
      };
      const t1 = createTask(c(1));
      const t2 = createTask(c(2));
      const t3 = createTask(c(3));
      await settle();
      expect(result).toEqual([]);
      expect(cond.locked()).toBe(false);

      expect(await cond.acquire()).toBe(true);
      cond.notify();
      await settle();
      expect(result).toEqual([]);
      expect(cond.locked()).toBe(true);

      cond.release();
      await settle();
      expect(result).toEqual([1]);
      expect(cond.locked()).toBe(true);

      cond.notify(2);
      await settle();
      expect(result).toEqual([1]);
      expect(cond.locked()).toBe(true);

      cond.release();
      await settle();
      expect(result).toEqual([1, 2]);
      expect(cond.locked()).toBe(true);

      cond.release();
      await settle();
      expect(result).toEqual([1, 2, 3]);
      expect(cond.locked()).toBe(true);
      for (const t of [t1, t2, t3]) expect(t.result()).toBe(true);
    });
  });

  it("a cancelled wait re-acquires the lock before it throws", async () => {
    await virtual(async () => {
      const cond = new Condition();
      await cond.acquire();
      const wait = createTask(() => cond.wait());
      getRunningLoop().callSoon(() => wait.cancel());
      await expect(wait).rejects.toBeInstanceOf(CancelledError);
      expect(cond._waiters.size).toBe(0);
      expect(cond.locked()).toBe(true);
    });
  });

  it("a wait notified, then cancelled while the lock is contested, still ends holding the lock", async () => {
    await virtual(async () => {
      const cond = new Condition();
      await cond.acquire();
      const waitTask = createTask(() => cond.wait());
      await ticks();
      expect(cond.locked()).toBe(false);
      await cond.acquire();
      cond.notify();
      getRunningLoop().callSoon(() => waitTask.cancel());
      getRunningLoop().callSoon(() => cond.release());
      await outcome(waitTask);
      expect(cond.locked()).toBe(true);
    });
  });

  it("a waiter cancelled after notify, while it re-acquires, ends cancelled having held the lock", async () => {
    await virtual(async () => {
      let waited = false;
      const cond = new Condition();
      const waiter = createTask(async () => {
        await using _ = await cond.guard();
        waited = true;
        await cond.wait();
      });
      await ticks();
      await cond.acquire();
      cond.notify();
      await ticks();
      waiter.cancel();
      await ticks();
      cond.release();
      await ticks();
      expect(waiter.cancelled()).toBe(true);
      expect(waited).toBe(true);
      expect(cond.locked()).toBe(false);
    });
  });

  it("throws InvalidStateError at the call without the lock", () => {
    const cond = new Condition();
    expect(() => cond.wait()).toThrow(InvalidStateError);
    expect(() => cond.wait()).toThrow("Condition.wait() called without holding the lock");
  });

  it("rethrows the very CancelledError received while waiting for a notify", async () => {
    await virtual(async () => {
      const cond = new Condition();
      let raised: unknown;
      const task = createTask(async () => {
        await using _ = await cond.guard();
        try {
          await cond.waitFor(() => false);
        } catch (e) {
          raised = e;
          expect(cond.locked()).toBe(true);
          throw e;
        }
      });
      await ticks();
      task.cancel("foo");
      const err = await task.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CancelledError);
      expect((err as Error).message).toBe("foo");
      expect(raised).toBe(err);
    });
  });

  it("rethrows the CancelledError received while re-acquiring the lock", async () => {
    await virtual(async () => {
      const cond = new Condition();
      let wake = false;
      let raised: unknown;
      const task = createTask(async () => {
        await using _ = await cond.guard();
        try {
          await cond.waitFor(() => wake);
        } catch (e) {
          raised = e;
          throw e;
        }
      });
      await ticks();
      await cond.acquire();
      wake = true;
      cond.notify();
      await ticks();
      task.cancel("foo"); // it waits for the lock now
      cond.release();
      const err = await task.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as Error).message).toBe("foo");
      expect(raised).toBe(err);
      expect(cond.locked()).toBe(false);
    });
  });
});

describe("Condition: no lost notify", () => {
  const consumerScenario = (cancelWhileRelocking: boolean) => async () => {
    await virtual(async () => {
      const cond = new Condition();
      let state = 0;
      const consumer = async () => {
        await using _ = await cond.guard();
        for (;;) {
          await cond.waitFor(() => state !== 0);
          if (state < 0) return;
          state -= 1;
        }
      };
      const c = [createTask(consumer), createTask(consumer)];
      await ticks();
      {
        await using _ = await cond.guard();
        state += 1;
        cond.notify(1);
        if (cancelWhileRelocking) await ticks(); // the woken one now waits for the lock
        c[0]!.cancel();
        try {
          await cond.waitFor(() => state === 0, { signal: abortAfter(10) });
        } catch {
          // timed out: checked below
        }
        expect(state).toBe(0);
        state = -1;
        cond.notifyAll();
      }
      await c[1];
      expect(await outcome(c[0]!)).toBe("CancelledError");
    });
  };

  it("a waiter cancelled at the moment it is notified does not lose the item", consumerScenario(false));
  it("a waiter cancelled while it re-acquires after a notify passes the notify on", consumerScenario(true));

  it("a consumer notified, then cancelled by the next producer while it waits for the lock, leaves the lock free", async () => {
    await virtual(async () => {
      const cond = new Condition();
      let items = 0;
      const tasks: Task<void>[] = [];
      tasks.push(
        createTask(async () => {
          await using _ = await cond.guard();
          await cond.waitFor(() => items > 0);
          items--;
        }),
      );
      for (const kill of [false, true]) {
        tasks.push(
          createTask(async () => {
            await sleep(45);
            await using _ = await cond.guard();
            items++;
            cond.notify();
            if (kill) tasks[0]!.cancel();
          }),
        );
      }
      await sleep(100);
      expect(tasks.map((t) => t.done())).toEqual([true, true, true]);
      expect(await outcome(tasks[0]!)).toBe("CancelledError");
      expect(items).toBe(2);
      expect(String(cond)).toBe("Condition [unlocked]");
      expect(String(cond._lock)).toBe("Lock [unlocked]");
    });
  });

  it("a waiter notified and cancelled in the same step throws CancelledError holding the lock, and the next waiter gets the notify", async () => {
    // asyncio 3.13's test_cancelled_wakeup, step by step.
    await virtual(async () => {
      const steps: string[] = [];
      const cond = new Condition();
      const a = loggingWaiter(cond, steps, "a");
      const b = loggingWaiter(cond, steps, "b");
      await ticks();
      await cond.acquire();
      cond.notify(1);
      a.cancel(); // a is notified but has not resumed
      cond.release();
      await Promise.allSettled([a, b]);
      expect(a.cancelled()).toBe(true);
      expect(steps).toEqual(["a CancelledError, locked: true", "b woke"]);
      expect(cond.locked()).toBe(false);
    });
  });

  it("a task whose function returns the wait, notified and cancelled in the same step, ends cancelled holding the lock", async () => {
    await virtual(async () => {
      const cond = new Condition();
      await cond.acquire();
      const t = createTask(() => cond.wait());
      await ticks();
      expect(cond.locked()).toBe(false);
      await cond.acquire();
      cond.notify();
      t.cancel();
      cond.release();
      expect(await outcome(t)).toBe("CancelledError");
      expect(cond.locked()).toBe(true); // re-acquired on t's behalf before it threw
      cond.release();
    });
  });

  it("a notified waiter that is cancelled while re-acquiring wakes the next waiter", async () => {
    await virtual(async () => {
      const steps: string[] = [];
      const cond = new Condition();
      const a = loggingWaiter(cond, steps, "a");
      const b = loggingWaiter(cond, steps, "b");
      await ticks();
      await cond.acquire();
      cond.notify(1);
      await ticks(); // a is woken and queues for the lock
      a.cancel();
      cond.release();
      await Promise.allSettled([a, b]);
      expect(steps).toEqual(["a CancelledError, locked: true", "b woke"]);
      expect(cond.locked()).toBe(false);
    });
  });
});

describe("Condition.waitFor", () => {
  it("waits until the predicate holds and resolves to its value", async () => {
    await virtual(async () => {
      const cond = new Condition();
      let presult: number | false = false;
      const result: number[] = [];
      const t = createTask(async () => {
        await cond.acquire();
        const v = await cond.waitFor(() => presult);
        result.push(v as number);
        cond.release();
        return true;
      });
      await ticks();
      expect(result).toEqual([]);
      await cond.acquire();
      cond.notify();
      cond.release();
      await ticks();
      expect(result).toEqual([]);
      presult = 7;
      await cond.acquire();
      cond.notify();
      cond.release();
      await ticks();
      expect(result).toEqual([7]);
      expect(await t).toBe(true);
    });
  });

  it("resolves without the lock when the predicate already holds, and throws at the call when it does not", async () => {
    await virtual(async () => {
      const cond = new Condition();
      expect(await cond.waitFor(() => [1, 2, 3])).toEqual([1, 2, 3]);
      expect(() => cond.waitFor(() => false)).toThrow(InvalidStateError);
      expect(() => cond.waitFor(() => 0)).toThrow("Condition.waitFor() called without holding the lock");
    });
  });

  it("rejects with the predicate's error", async () => {
    await virtual(async () => {
      const cond = new Condition();
      await expect(
        cond.waitFor(() => {
          throw new Error("bad predicate");
        }),
      ).rejects.toThrow("bad predicate");
    });
  });

  it("a signal that aborts ends the wait holding the lock (a timeout in the block)", async () => {
    await virtual(async () => {
      const cond = new Condition();
      await using _ = await cond.guard();
      await expect(cond.waitFor(() => false, { signal: abortAfter(500) })).rejects.toThrow("timed out");
      expect(cond.locked()).toBe(true);
      expect(getRunningLoop().time()).toBe(500);
    });
  });
});

describe("Condition.notify", () => {
  it("wakes n waiters, first to last; a larger n wakes them all", async () => {
    await virtual(async () => {
      const cond = new Condition();
      const result: number[] = [];
      const c = (n: number) => async () => {
        await cond.acquire();
        if (await cond.wait()) {
          result.push(n);
          cond.release();
        }
        return true;
      };
      const ts = [createTask(c(1)), createTask(c(2)), createTask(c(3))];
      await ticks();
      await cond.acquire();
      cond.notify(1);
      cond.release();
      await ticks();
      expect(result).toEqual([1]);
      await cond.acquire();
      cond.notify(1);
      cond.notify(2048);
      cond.release();
      await ticks();
      expect(result).toEqual([1, 2, 3]);
      for (const t of ts) expect(t.result()).toBe(true);
    });
  });

  it("notifyAll wakes every waiter", async () => {
    await virtual(async () => {
      const cond = new Condition();
      const result: number[] = [];
      const c = (n: number) => async () => {
        await cond.acquire();
        if (await cond.wait()) {
          result.push(n);
          cond.release();
        }
      };
      const ts = [createTask(c(1)), createTask(c(2))];
      await ticks();
      await cond.acquire();
      cond.notifyAll();
      cond.release();
      await Promise.all(ts);
      expect(result).toEqual([1, 2]);
    });
  });

  it("notify and notifyAll throw InvalidStateError without the lock", () => {
    const cond = new Condition();
    expect(() => cond.notify()).toThrow("Condition.notify() called without holding the lock");
    expect(() => cond.notifyAll()).toThrow(InvalidStateError);
  });

  it("a bad n throws at the call and changes nothing", async () => {
    await virtual(async () => {
      const cond = new Condition();
      await cond.acquire();
      expect(() => cond.notify(-1)).toThrow(RangeError);
      expect(() => cond.notify(1.5)).toThrow("Condition.notify n must be an integer >= 0, got 1.5");
      expect(() => cond.notify("1" as never)).toThrow(TypeError);
      cond.notify(Infinity);
      cond.notify(0);
      expect(cond.locked()).toBe(true);
    });
  });
});

describe("Condition and its lock", () => {
  it("shows its state in String() and util.inspect", async () => {
    await virtual(async () => {
      const cond = new Condition();
      expect(String(cond)).toBe("Condition [unlocked]");
      await cond.acquire();
      expect(String(cond)).toBe("Condition [locked]");
      cond.release();
      const waiter = async () => {
        await using _ = await cond.guard();
        await cond.waitFor(() => false);
      };
      const ts = [createTask(waiter), createTask(waiter)];
      await settle();
      await cond.acquire();
      expect(inspect(cond)).toBe("Condition [locked, waiters: 2]");
      expect(Object.prototype.toString.call(cond)).toBe("[object Condition]");
      for (const t of ts) t.cancel();
      cond.release(); // the cancelled waiters re-acquire it before they end
      expect(await Promise.all(ts.map(outcome))).toEqual(["CancelledError", "CancelledError"]);
      expect(String(cond)).toBe("Condition [unlocked]");
    });
  });

  it("guard holds the lock for a block", async () => {
    await virtual(async () => {
      const cond = new Condition();
      {
        await using _ = await cond.guard();
        expect(cond.locked()).toBe(true);
      }
      expect(cond.locked()).toBe(false);
    });
  });

  it("shares an explicit lock", async () => {
    await virtual(async () => {
      const lock = new Lock();
      const cond = new Condition(lock);
      expect(cond._lock).toBe(lock);
      {
        await using _ = await cond.guard();
        expect(lock.locked()).toBe(true);
      }
      expect(lock.locked()).toBe(false);
      {
        await using _ = await lock.guard();
        expect(cond.locked()).toBe(true);
      }
      expect(cond.locked()).toBe(false);
    });
  });

  it("refuses a lock that is not a Lock", () => {
    expect(() => new Condition({} as never)).toThrow(TypeError);
    expect(() => new Condition(3 as never)).toThrow("Condition lock must be a Lock, got number");
  });

  it("bad arguments throw TypeError at the call", async () => {
    await virtual(async () => {
      const cond = new Condition();
      await cond.acquire();
      expect(() => cond.waitFor("yes" as never)).toThrow(/predicate must be a function/);
      expect(() => cond.wait({ signal: true } as never)).toThrow(TypeError);
      expect(cond.locked()).toBe(true);
    });
  });

  it("works in plain async code on the default loop", async () => {
    const cond = new Condition();
    await cond.acquire();
    const waiting = cond.wait();
    expect(cond.locked()).toBe(false);
    await cond.acquire();
    cond.notify();
    cond.release();
    expect(await waiting).toBe(true);
    expect(cond.locked()).toBe(true);
    cond.release();
  });
});

describe("Condition.wait with an AbortSignal", () => {
  it("an already aborted signal rejects at once and keeps the lock held", async () => {
    await virtual(async () => {
      const cond = new Condition();
      await cond.acquire();
      await expect(cond.wait({ signal: AbortSignal.abort("early") })).rejects.toBe("early");
      expect(cond.locked()).toBe(true);
      expect(cond._waiters.size).toBe(0);
    });
  });

  it("aborting later withdraws the wait, re-acquires the lock, rejects with the reason, and removes the listener", async () => {
    await virtual(async () => {
      const cond = new Condition();
      const ac = new AbortController();
      const steps: string[] = [];
      const t = createTask(async () => {
        await cond.acquire();
        try {
          await cond.wait({ signal: ac.signal });
        } catch (e) {
          steps.push(`${String(e)}, locked: ${cond.locked()}`);
        } finally {
          cond.release();
        }
      });
      await ticks();
      await cond.acquire(); // contest the lock so the re-acquire has to wait
      ac.abort("stop");
      expect(cond._waiters.size).toBe(0);
      expect(abortListeners(ac.signal)).toBe(0);
      await sleep(5);
      expect(steps).toEqual([]);
      cond.release();
      await t;
      expect(steps).toEqual(["stop, locked: true"]);
      expect(cond.locked()).toBe(false);
    });
  });

  it("a signal aborted after the notify changes nothing", async () => {
    await virtual(async () => {
      const cond = new Condition();
      const ac = new AbortController();
      await cond.acquire();
      const p = cond.wait({ signal: ac.signal });
      await cond.acquire();
      cond.notify();
      expect(abortListeners(ac.signal)).toBe(0);
      ac.abort();
      cond.release();
      expect(await p).toBe(true);
      expect(cond.locked()).toBe(true);
      cond.release();
    });
  });
});
