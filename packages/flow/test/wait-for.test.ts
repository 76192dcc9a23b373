import { describe, expect, it } from "vitest";
import { CancelledError, TimeoutError } from "@aiots/core";
import { Future, createTask, currentTask, sleep } from "@aiots/future";
import { getRunningLoop } from "@aiots/loop";
import { shield, wait, waitFor } from "@aiots/flow";
import { runV, now } from "./helpers.js";


/** Runs for `ms` of loop time, swallowing every cancellation on the way. */
function slowTask(ms: number) {
  const state = { exited: false };
  const fn = async () => {
    const exitAt = now() + ms;
    for (;;) {
      const left = exitAt - now();
      if (left <= 0) break;
      try {
        await sleep(left);
      } catch {
        // ignore the cancel
      }
    }
    state.exited = true;
  };
  return { state, fn };
}

describe("in time", () => {
  it("returns the result", async () => {
    await runV(async () => {
      expect(await waitFor(async () => "done", null)).toBe("done");
      expect(await waitFor(sleep(100, "ok"), 200)).toBe("ok");
      expect(now()).toBe(100);
    });
  });

  it("a result set by a callback before the deadline is returned", async () => {
    await runV(async () => {
      const fut = new Future<string>();
      getRunningLoop().callLater(100, () => fut.setResult("ok"));
      expect(await waitFor(fut, 200)).toBe("ok");
    });
  });

  it("a result that arrives at the same moment as the deadline is not lost", async () => {
    await runV(async () => {
      const fut = new Future<string>();
      getRunningLoop().callLater(100, () => fut.setResult("just in time"));
      expect(await waitFor(fut, 100)).toBe("just in time");
    });
  });

  it("with timeout <= 0 a done Future gives its result at once", async () => {
    await runV(async () => {
      const fut = new Future<string>();
      fut.setResult("done");
      expect(await waitFor(fut, 0)).toBe("done");
      expect(await waitFor(fut, -1)).toBe("done");
    });
  });
});

describe("at the deadline", () => {
  it("a function whose own sleep ends at the deadline times out: the deadline was set before it started (asyncio enters the timeout first)", async () => {
    await runV(async () => {
      let cleaned = false;
      const work = async () => {
        try {
          await sleep(100);
          return "late";
        } finally {
          cleaned = true;
        }
      };
      const error = await waitFor(work, 100).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TimeoutError);
      expect(cleaned).toBe(true);
      expect(now()).toBe(100);
    });
  });

  it("cancels the task, waits for its finally, then throws TimeoutError", async () => {
    await runV(async () => {
      let running: boolean | undefined;
      const fut = createTask(async () => {
        running = true;
        try {
          await sleep(10_000);
        } finally {
          running = false;
        }
        return "done";
      });
      await expect(waitFor(fut, 100)).rejects.toBeInstanceOf(TimeoutError);
      expect(fut.cancelled()).toBe(true);
      expect(running).toBe(false);
      expect(now()).toBe(100);
    });
  });

  it("with timeout <= 0 a pending task is cancelled at once and a function never starts", async () => {
    await runV(async () => {
      for (const ms of [0, -1]) {
        let started = false;
        await expect(
          waitFor(async () => {
            started = true;
          }, ms),
        ).rejects.toBeInstanceOf(TimeoutError);
        expect(started).toBe(false);
        const task = createTask(() => sleep(10_000));
        await sleep(0);
        await expect(waitFor(task, ms)).rejects.toBeInstanceOf(TimeoutError);
        expect(task.cancelled()).toBe(true);
        expect(now()).toBe(0);
      }
    });
  });

  it("waits for a task that takes its time to finish cancelling, and chains the CancelledError", async () => {
    await runV(async () => {
      let taskDone = false;
      const slowToCancel = () =>
        createTask(async () => {
          try {
            await sleep(10_000);
          } catch (e) {
            await sleep(1);
            throw e;
          } finally {
            taskDone = true;
          }
        });
      const inner = slowToCancel();
      for (const ms of [1, 0]) {
        taskDone = false;
        const task = ms === 1 ? inner : slowToCancel();
        await sleep(0);
        const error = await waitFor(task, ms).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(TimeoutError);
        expect((error as Error).cause).toBeInstanceOf(CancelledError);
        expect(taskDone).toBe(true);
      }
    });
  });

  it("a task that swallows the cancellation and returns gives its value (asyncio 3.12)", async () => {
    await runV(async () => {
      const v = await waitFor(async () => {
        try {
          await sleep(10_000);
        } catch {
          return 42;
        }
        return 0;
      }, 100);
      expect(v).toBe(42);
    });
  });

  it("a task that ignores the cancellation is waited for to its end", async () => {
    await runV(async () => {
      const slow = slowTask(200);
      await expect(waitFor(slow.fn, 100)).resolves.toBeUndefined();
      expect(slow.state.exited).toBe(true);
      expect(now()).toBe(200);
    });
  });

  it("an error raised while cancelling is thrown instead of TimeoutError", async () => {
    await runV(async () => {
      const inner = createTask(async () => {
        try {
          await sleep(200);
        } finally {
          // eslint-disable-next-line no-unsafe-finally
          throw new RangeError("foo");
        }
      });
      await expect(waitFor(inner, 1)).rejects.toBeInstanceOf(RangeError);
    });
  });

  it("a shielded task runs on past the deadline", async () => {
    await runV(async () => {
      const task = createTask(() => sleep(100, "late"));
      await expect(waitFor(shield(task), 10)).rejects.toBeInstanceOf(TimeoutError);
      expect(task.cancelled()).toBe(false);
      expect(await task).toBe("late");
    });
  });

  it("a plain promise cannot be stopped: waitFor throws and the promise runs on", async () => {
    await runV(async () => {
      let resolve!: (v: string) => void;
      const promise = new Promise<string>((r) => (resolve = r));
      await expect(waitFor(promise, 10)).rejects.toBeInstanceOf(TimeoutError);
      resolve("later");
      expect(await promise).toBe("later");
    });
  });
});

describe("a function that awaits a plain promise at the deadline", () => {
  it("keeps the value it returns without another aiots await (the cancel never reached it); a plain promise passed as it is times out at the deadline", async () => {
    await runV(async () => {
      const slow = () => new Promise<string>((resolve) => getRunningLoop().callLater(50, resolve, "late"));
      expect(await waitFor(async () => await slow(), 10)).toBe("late");
      expect(now()).toBe(50);
      await expect(waitFor(slow(), 10)).rejects.toBeInstanceOf(TimeoutError);
      expect(now()).toBe(60);
    });
  });
});

describe("cancelling the caller", () => {
  for (const ms of [null, 60_000]) {
    it(`cancels the inner task too (timeout ${ms})`, async () => {
      await runV(async () => {
        const task = createTask(async () => {
          await new Future<void>();
        });
        const waiting = createTask(() => waitFor(task, ms));
        getRunningLoop().callSoon(() => waiting.cancel());
        await expect(waiting).rejects.toBeInstanceOf(CancelledError);
        expect(task.cancelled()).toBe(true);
      });
    });
  }

  it("a slow task is waited for after the caller is cancelled, and its outcome is the answer (asyncio 3.12+)", async () => {
    await runV(async () => {
      const slow = slowTask(200);
      const waiting = createTask(() => waitFor(slow.fn, 400));
      await sleep(1);
      waiting.cancel();
      await wait([waiting]);
      expect(slow.state.exited).toBe(true);
      // The work ignored the cancel and finished: the caller gets that result, as a plain
      // `await` of it would, and its cancel request stays counted.
      expect(waiting.cancelled()).toBe(false);
      expect(waiting.result()).toBeUndefined();
      expect(waiting.cancelling()).toBe(1);
    });
  });

  it("a cancelled caller still gets CancelledError when the work ends cancelled", async () => {
    await runV(async () => {
      const waiting = createTask(() => waitFor(sleep(1000, "late"), 400));
      await sleep(1);
      waiting.cancel();
      await wait([waiting]);
      expect(waiting.cancelled()).toBe(true);
    });
  });

  it("a cancelled caller that never started leaves the inner task alone", async () => {
    await runV(async () => {
      const inner = createTask(async () => {
        try {
          await sleep(300);
        } catch {
          await sleep(300);
        }
        return 42;
      });
      const task = createTask(() => waitFor(inner, 100));
      task.cancel();
      await expect(task).rejects.toBeInstanceOf(CancelledError);
      expect(await inner).toBe(42);
    });
  });

  it("a cancel after a quick inner finished is still seen by the caller (gh-86296)", async () => {
    await runV(async () => {
      let reachedEnd = false;
      const task = createTask(async () => {
        await waitFor(async () => undefined, 100_000);
        await sleep(1000);
        reachedEnd = true;
      });
      await sleep(0);
      expect(task.done()).toBe(false);
      task.cancel();
      await expect(task).rejects.toBeInstanceOf(CancelledError);
      expect(reachedEnd).toBe(false);
    });
  });

  it("several run side by side in one task", async () => {
    await runV(async () => {
      const results = await Promise.allSettled([waitFor(sleep(50, "a"), 100), waitFor(sleep(500, "b"), 200)]);
      expect(results[0]).toEqual({ status: "fulfilled", value: "a" });
      expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(TimeoutError);
      expect(currentTask()!.cancelling()).toBe(0);
    });
  });
});

describe("abort signal", () => {
  it("aborting cancels the inner task, waits for it, and rejects with the reason", async () => {
    await runV(async () => {
      const steps: string[] = [];
      const controller = new AbortController();
      getRunningLoop().callLater(10, () => controller.abort(new RangeError("stop")));
      const error = await waitFor(
        async () => {
          try {
            await sleep(1000);
          } finally {
            steps.push("finally");
          }
        },
        null,
        { signal: controller.signal },
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RangeError);
      expect(steps).toEqual(["finally"]);
    });
  });

  it("an aborted signal rejects at once and starts nothing", async () => {
    await runV(async () => {
      let started = false;
      await expect(
        waitFor(
          async () => {
            started = true;
          },
          100,
          { signal: AbortSignal.abort(new RangeError("already")) },
        ),
      ).rejects.toBeInstanceOf(RangeError);
      await sleep(0);
      expect(started).toBe(false);
    });
  });
});

describe("a promise that has settled is done work", () => {
  const ticks = async (n: number) => {
    for (let i = 0; i < n; i++) await Promise.resolve();
  };

  for (let k = 0; k < 4; k++) {
    it(`a cancel of the caller ${k} microtasks after the call lets the value through; it lands at the caller's next await`, async () => {
      await runV(async () => {
        const steps: string[] = [];
        const t = createTask(async () => {
          void ticks(k).then(() => t.cancel());
          const v = await waitFor(Promise.resolve("taken"), 100);
          steps.push(`got ${v}`);
          try {
            await sleep(1);
          } catch (e) {
            steps.push(e instanceof CancelledError ? "cancelled at the next await" : String(e));
            throw e;
          }
        });
        await t.catch(() => undefined);
        expect(t.cancelled()).toBe(true);
        expect(steps).toEqual(["got taken", "cancelled at the next await"]);
      });
    });
  }

  it("with an already aborted signal, a promise settled by the next microtask gives its value; a pending one rejects with the reason", async () => {
    await runV(async () => {
      const reason = new RangeError("already");
      await expect(waitFor(Promise.resolve(7), 100, { signal: AbortSignal.abort(reason) })).resolves.toBe(7);
      await expect(waitFor(new Promise(() => undefined), 100, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      const pending = new Future<number>();
      await expect(waitFor(pending, 100, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      expect(pending.cancelled()).toBe(true);
    });
  });

  it("a gather child wrapping a settled promise refuses the cancel, so the gather completes with the value", async () => {
    await runV(async () => {
      const { gather } = await import("@aiots/flow");
      const g = gather([Promise.resolve(1)]);
      expect(g.cancel()).toBe(false); // its only child is done work
      expect(await g).toEqual([1]);
      const h = gather([Promise.resolve(1), sleep(50, 2)]);
      expect(h.cancel()).toBe(true); // the sleep is cancelled
      await expect(h).rejects.toBeInstanceOf(CancelledError);
    });
  });
});

describe("awaitables that are not native promises, and cancels passed through tasks", () => {
  it("a thenable that is not a native promise can still be timed out and cancelled (it has no state to read)", async () => {
    await runV(async () => {
      const later: PromiseLike<number> = {
        then: (f, r) => new Promise<number>((res) => setTimeout(() => res(7), 50)).then(f, r),
      };
      await expect(waitFor(later, 10)).rejects.toBeInstanceOf(TimeoutError);
      const never: PromiseLike<number> = { then: () => never as never };
      const { gather } = await import("@aiots/flow");
      const g = createTask(() => gather([never]));
      await sleep(1);
      g.cancel();
      await expect(g).rejects.toBeInstanceOf(CancelledError);
    });
  });

  it("the settled-promise check ignores util.inspect's global colour setting", async () => {
    const { inspect } = await import("node:util");
    const before = inspect.defaultOptions.colors;
    inspect.defaultOptions.colors = true;
    try {
      await runV(async () => {
        await expect(waitFor(new Promise(() => undefined), 10)).rejects.toBeInstanceOf(TimeoutError);
      });
    } finally {
      inspect.defaultOptions.colors = before;
    }
  });

  it("a deadline reaches a body that awaits a task waiting on a plain promise: TimeoutError once that task is done", async () => {
    await runV(async () => {
      const { timeout } = await import("@aiots/flow");
      let release!: () => void;
      const plain = new Promise<void>((r) => (release = r));
      const t0 = now();
      const body = createTask(() =>
        timeout(10, async () => {
          await createTask(async () => {
            await plain;
            return 1;
          });
          await sleep(1000);
        }),
      );
      await sleep(20);
      release();
      await expect(body).rejects.toBeInstanceOf(TimeoutError);
      expect(now() - t0).toBe(20);
    });
  });
});

describe("input", () => {
  it("bad arguments throw at the call", async () => {
    await runV(async () => {
      expect(() => waitFor(5 as unknown as Future<number>, 1)).toThrow(TypeError);
      expect(() => waitFor(sleep(1), Number.NaN)).toThrow(RangeError);
      expect(() => waitFor(sleep(1), "1" as unknown as number)).toThrow(TypeError);
      expect(() => waitFor(sleep(1), 1, { signal: 5 as unknown as AbortSignal })).toThrow(TypeError);
    });
  });
});
