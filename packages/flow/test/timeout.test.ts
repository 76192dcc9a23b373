import { describe, expect, it } from "vitest";
import { CancelledError, InvalidStateError, TimeoutError } from "@aiots/core";
import { Future, createTask, currentTask, sleep } from "@aiots/future";
import { VirtualTimeLoop, getRunningLoop } from "@aiots/loop";
import { Timeout, timeout, timeoutAt } from "@aiots/flow";
import { runV, now } from "./helpers.js";


describe("timeout expiry", () => {
  it("throws TimeoutError when the body is still running at the deadline, and the scope says expired", async () => {
    await runV(async () => {
      let scope: Timeout | undefined;
      await expect(
        timeout(10, async (s) => {
          scope = s;
          await sleep(10_000);
        }),
      ).rejects.toBeInstanceOf(TimeoutError);
      expect(scope!.expired()).toBe(true);
      expect(scope!.state).toBe("expired");
      expect(now()).toBe(10);
    });
  });

  it("the TimeoutError says how long the deadline allowed, in ms from entry", async () => {
    await runV(async () => {
      await sleep(1234.5);
      await expect(timeout(250, () => sleep(10_000))).rejects.toThrow(/^timed out after 250 ms$/);
    });
  });

  it("timeoutAt expires at the given loop time and keeps it as when()", async () => {
    await runV(async () => {
      const deadline = now() + 10;
      let scope: Timeout | undefined;
      await expect(
        timeoutAt(deadline, async (s) => {
          scope = s;
          await sleep(10_000);
        }),
      ).rejects.toBeInstanceOf(TimeoutError);
      expect(scope!.expired()).toBe(true);
      expect(scope!.when()).toBe(deadline);
    });
  });

  it("the body sees CancelledError and its finally runs before TimeoutError is thrown", async () => {
    const steps: string[] = [];
    await runV(async () => {
      try {
        await timeout(10, async () => {
          try {
            await sleep(10_000);
          } catch (e) {
            steps.push(e instanceof CancelledError ? "cancelled" : "other");
            throw e;
          } finally {
            steps.push("finally");
          }
        });
      } catch (e) {
        steps.push((e as Error).name);
      }
    });
    expect(steps).toEqual(["cancelled", "finally", "TimeoutError"]);
  });

  it("the TimeoutError has the CancelledError as its cause", async () => {
    await runV(async () => {
      const error = await timeout(0, () => sleep(1000)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as Error).cause).toBeInstanceOf(CancelledError);
    });
  });

  it("a zero or past deadline expires on the next loop iteration, even over sleep(0)", async () => {
    await runV(async () => {
      for (const delay of [0, -11]) {
        const t0 = now();
        let scope: Timeout | undefined;
        await expect(
          timeout(delay, async (s) => {
            scope = s;
            await sleep(0);
          }),
        ).rejects.toBeInstanceOf(TimeoutError);
        expect(scope!.expired()).toBe(true);
        expect(scope!.when()).toBe(t0 + delay);
        expect(now()).toBe(t0);
      }
    });
  });

  it("the task running the scope is not left cancelled", async () => {
    await runV(async () => {
      const task = createTask(async () => {
        await expect(timeout(1, () => sleep(10_000))).rejects.toBeInstanceOf(TimeoutError);
        return currentTask()!.cancelling();
      });
      expect(await task).toBe(0);
      expect(task.cancelled()).toBe(false);
    });
  });

  it("a body that swallows the cancellation and returns gives its value, and the scope still says expired", async () => {
    await runV(async () => {
      let scope: Timeout | undefined;
      const value = await timeout(5, async (s) => {
        scope = s;
        try {
          await sleep(1000);
        } catch {
          return "swallowed";
        }
        return "slept";
      });
      expect(value).toBe("swallowed");
      expect(scope!.expired()).toBe(true);
      expect(currentTask()!.cancelling()).toBe(0);
    });
  });
});

describe("a body that awaits a plain promise at the deadline", () => {
  it("keeps the value it returns without another aiots await: the cancel never reached it (asyncio's timeout raises only when the CancelledError comes out)", async () => {
    await runV(async () => {
      let scope: Timeout | undefined;
      const slow = new Promise<string>((resolve) => getRunningLoop().callLater(50, resolve, "late"));
      const value = await timeout(10, async (s) => {
        scope = s;
        return await slow;
      });
      expect(value).toBe("late");
      expect(now()).toBe(50);
      expect(scope!.expired()).toBe(true);
      expect(currentTask()!.cancelling()).toBe(0);
    });
  });

  it("throws TimeoutError at its next aiots await", async () => {
    await runV(async () => {
      const slow = new Promise<void>((resolve) => getRunningLoop().callLater(50, resolve));
      await expect(
        timeout(10, async () => {
          await slow;
          await sleep(0);
          return "not reached";
        }),
      ).rejects.toBeInstanceOf(TimeoutError);
      expect(now()).toBe(50);
    });
  });
});

describe("timeout that does not expire", () => {
  it("returns the body's value and keeps its deadline", async () => {
    await runV(async () => {
      let scope: Timeout | undefined;
      const v = await timeout(10_000, async (s) => {
        scope = s;
        await sleep(10);
        return 42;
      });
      expect(v).toBe(42);
      expect(scope!.expired()).toBe(false);
      expect(scope!.state).toBe("finished");
      expect(scope!.when()!).toBeGreaterThan(now());
    });
  });

  it("null (and Infinity) means no deadline", async () => {
    await runV(async () => {
      for (const fn of [(b: (s: Timeout) => Promise<void>) => timeout(null, b), (b: (s: Timeout) => Promise<void>) => timeoutAt(null, b)]) {
        let scope: Timeout | undefined;
        await fn(async (s) => {
          scope = s;
          await sleep(3_600_000);
        });
        expect(scope!.expired()).toBe(false);
        expect(scope!.when()).toBeNull();
      }
      await timeout(Infinity, () => sleep(3_600_000));
    });
  });

  it("an error of the body passes through unchanged", async () => {
    await runV(async () => {
      let scope: Timeout | undefined;
      const boom = new RangeError("boom");
      await expect(
        timeout(10, (s) => {
          scope = s;
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect(scope!.expired()).toBe(false);
    });
  });

  it("an error raised while unwinding from the deadline wins over TimeoutError", async () => {
    await runV(async () => {
      await expect(
        timeout(10, async () => {
          try {
            await sleep(1000);
          } finally {
            // eslint-disable-next-line no-unsafe-finally
            throw new SyntaxError("in finally");
          }
        }),
      ).rejects.toBeInstanceOf(SyntaxError);
    });
  });
});

describe("cancellation from outside", () => {
  it("stays a CancelledError when the deadline has not passed", async () => {
    await runV(async () => {
      let scope: Timeout | undefined;
      await expect(
        timeout(10_000, async (s) => {
          scope = s;
          currentTask()!.cancel();
          await sleep(10_000);
        }),
      ).rejects.toBeInstanceOf(CancelledError);
      expect(scope!.expired()).toBe(false);
      currentTask()!.uncancel();
    });
  });

  it("stays a CancelledError when it arrives together with the deadline", async () => {
    await runV(async () => {
      const task = createTask(() => timeout(10, () => sleep(10_000)));
      getRunningLoop().callAt(10, () => task.cancel("outside"));
      await expect(task).rejects.toBeInstanceOf(CancelledError);
      expect(task.cancelled()).toBe(true);
    });
  });

  it("a task cancelled while inside a rescheduled scope ends cancelled and the scope is not expired", async () => {
    await runV(async () => {
      const loop = getRunningLoop();
      const entered = new Future<Timeout>();
      const deadline1 = loop.time() + 10_000;
      const task = createTask(() =>
        timeoutAt(deadline1, async (s) => {
          entered.setResult(s);
          await sleep(50_000);
        }),
      );
      const scope = await entered;
      expect(scope.when()).toBe(deadline1);
      scope.reschedule(deadline1 + 20_000);
      expect(scope.when()).toBe(deadline1 + 20_000);
      scope.reschedule(null);
      expect(scope.when()).toBeNull();
      task.cancel();
      await expect(task).rejects.toBeInstanceOf(CancelledError);
      expect(scope.expired()).toBe(false);
    });
  });

  it("reschedule to an earlier time makes the scope expire then", async () => {
    await runV(async () => {
      await expect(
        timeout(10_000, async (s) => {
          s.reschedule(now() + 5);
          await sleep(1000);
        }),
      ).rejects.toBeInstanceOf(TimeoutError);
      expect(now()).toBe(5);
    });
  });
});

describe("nested scopes", () => {
  it("only the outermost of two scopes with the same deadline converts; the inner sees CancelledError", async () => {
    await runV(async () => {
      const deadline = now() + 10;
      let inner: Timeout | undefined;
      let outer: Timeout | undefined;
      let innerSaw: unknown;
      await expect(
        timeoutAt(deadline, async (s1) => {
          outer = s1;
          try {
            await timeoutAt(deadline, async (s2) => {
              inner = s2;
              await sleep(10_000);
            });
          } catch (e) {
            innerSaw = e;
            throw e;
          }
        }),
      ).rejects.toBeInstanceOf(TimeoutError);
      expect(innerSaw).toBeInstanceOf(CancelledError);
      expect(outer!.expired()).toBe(true);
      expect(inner!.expired()).toBe(true);
      expect(currentTask()!.cancelling()).toBe(0);
    });
  });

  it("the inner scope converts its own expiry and the outer one still expires later", async () => {
    await runV(async () => {
      const steps: string[] = [];
      await expect(
        timeout(100, async () => {
          try {
            await timeout(10, () => sleep(1000));
          } catch (e) {
            steps.push(`inner ${(e as Error).name} at ${now()}`);
          }
          await sleep(10_000);
        }),
      ).rejects.toBeInstanceOf(TimeoutError);
      steps.push(`outer at ${now()}`);
      expect(steps).toEqual(["inner TimeoutError at 10", "outer at 100"]);
    });
  });

  it("the outer expiry passes through an inner scope that has not expired as CancelledError", async () => {
    await runV(async () => {
      let innerSaw: unknown;
      await expect(
        timeout(10, async () => {
          try {
            await timeout(1000, () => sleep(10_000));
          } catch (e) {
            innerSaw = e;
            throw e;
          }
        }),
      ).rejects.toBeInstanceOf(TimeoutError);
      expect(innerSaw).toBeInstanceOf(CancelledError);
    });
  });

  it("a scope in a finally block of an expired scope works on its own", async () => {
    await runV(async () => {
      let innerResult: unknown;
      await expect(
        timeout(10, async () => {
          try {
            await sleep(1000);
          } finally {
            innerResult = await timeout(10, () => sleep(10_000)).catch((e: unknown) => e);
          }
        }),
      ).rejects.toBeInstanceOf(TimeoutError);
      expect(innerResult).toBeInstanceOf(TimeoutError);
    });
  });

  it("after a swallowed cancellation, a new scope still converts its own expiry", async () => {
    await runV(async () => {
      const task = currentTask()!;
      task.cancel();
      await sleep(1000).catch(() => undefined);
      expect(task.cancelling()).toBe(1);
      await expect(timeout(0, () => sleep(1000))).rejects.toBeInstanceOf(TimeoutError);
      expect(task.cancelling()).toBe(1);
      task.uncancel();
    });
  });

  it("after a swallowed cancellation, a new cancel inside a scope stays CancelledError", async () => {
    await runV(async () => {
      const task = currentTask()!;
      task.cancel();
      await sleep(1000).catch(() => undefined);
      await expect(
        timeout(1000, async () => {
          task.cancel();
          await sleep(2000);
        }),
      ).rejects.toBeInstanceOf(CancelledError);
      expect(task.cancelling()).toBe(2);
      task.uncancel();
      task.uncancel();
    });
  });

  it("two scopes side by side in one task are refused, since one's expiry would cancel the other", async () => {
    await runV(async () => {
      const first = timeout(100, () => sleep(10));
      await expect(timeout(100, () => sleep(10))).rejects.toBeInstanceOf(InvalidStateError);
      await first;
    });
  });
});

describe("outside any task", () => {
  it("plain async code gets the body run as a task, so the deadline interrupts it", async () => {
    const loop = new VirtualTimeLoop();
    const steps: string[] = [];
    await loop.runUntilComplete(
      (async () => {
        // runUntilComplete of a promise: this code is not in a task
        expect(currentTask()).toBeUndefined();
        await expect(
          timeout(10, async () => {
            steps.push(currentTask() === undefined ? "no task" : "in a task");
            try {
              await sleep(1000);
            } finally {
              steps.push("finally");
            }
          }),
        ).rejects.toBeInstanceOf(TimeoutError);
      })(),
    );
    loop.close();
    expect(steps).toEqual(["in a task", "finally"]);
  });
});

describe("state and arguments", () => {
  it("reschedule after the end or before the start throws InvalidStateError", async () => {
    await runV(async () => {
      let scope: Timeout | undefined;
      await timeout(10, (s) => {
        scope = s;
      });
      expect(() => scope!.reschedule(20)).toThrow(/finished/);
      expect(() => new Timeout(5).reschedule(20)).toThrow(/not been entered/);
      expect(() => new Timeout(5).reschedule(20)).toThrow(InvalidStateError);
    });
  });

  it("shows its state", async () => {
    await runV(async () => {
      let active = "";
      let scope: Timeout | undefined;
      await timeout(10, (s) => {
        scope = s;
        active = String(s);
      });
      expect(active).toBe("Timeout [active, when: 10]");
      expect(String(scope)).toBe("Timeout [finished]");
      await timeout(null, (s) => {
        active = String(s);
      });
      expect(active).toBe("Timeout [active, when: none]");
      await timeout(1, (s) => {
        scope = s;
        return sleep(5);
      }).catch(() => undefined);
      expect(String(scope)).toBe("Timeout [expired]");
    });
  });

  it("bad arguments throw at the call", async () => {
    await runV(async () => {
      expect(() => timeout(Number.NaN, () => 1)).toThrow(RangeError);
      expect(() => timeout("10" as unknown as number, () => 1)).toThrow(TypeError);
      expect(() => timeout(10, 5 as unknown as () => number)).toThrow(TypeError);
      expect(() => timeoutAt(Number.NaN, () => 1)).toThrow(RangeError);
      await timeout(10, (s) => {
        expect(() => s.reschedule(Number.NaN)).toThrow(RangeError);
      });
    });
  });
});
