import { describe, expect, it } from "vitest";
import { CancelledError } from "@aiots/core";
import { onDropped } from "@aiots/core/internal";
import { getRunningLoop } from "@aiots/loop";
import { Future, Task, createTask, currentTask, sleep } from "@aiots/future";
import { onVirtualLoop, plainPromise, rejection } from "./helpers.js";

describe("cancel() throws CancelledError at the task's await", () => {
  it("the pending sleep throws, finally runs, and the task ends cancelled", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const t = createTask(async () => {
        try {
          steps.push("start");
          await sleep(10_000);
          steps.push("not reached");
        } catch (e) {
          steps.push(`caught ${(e as Error).name} at ${getRunningLoop().time()}`);
          throw e;
        } finally {
          steps.push("finally");
        }
      });
      await sleep(5);
      expect(t.cancel()).toBe(true);
      expect(t.done()).toBe(false);
      await expect(t).rejects.toBeInstanceOf(CancelledError);
      expect(t.done()).toBe(true);
      expect(t.cancelled()).toBe(true);
      expect(t.cancel()).toBe(false);
      expect(getRunningLoop().time()).toBe(5);
      steps.push("awaited");
    });
    expect(steps).toEqual(["start", "caught CancelledError at 5", "finally", "awaited"]);
  });

  it("reaches an await inside nested async functions the task calls, running every finally inside out", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      async function inner(): Promise<void> {
        try {
          await sleep(1000);
        } finally {
          steps.push("inner finally");
        }
      }
      async function middle(): Promise<void> {
        try {
          await inner();
        } finally {
          steps.push("middle finally");
        }
      }
      const t = createTask(async () => {
        try {
          await middle();
        } finally {
          steps.push("task finally");
        }
      });
      await sleep(1);
      t.cancel();
      expect(await rejection(t)).toBeInstanceOf(CancelledError);
    });
    expect(steps).toEqual(["inner finally", "middle finally", "task finally"]);
  });

  it("cancels the plain Future the task awaits, so its owner sees it cancelled", async () => {
    await onVirtualLoop(async () => {
      const f = new Future<number>();
      const t = createTask(async () => (await f) + 1);
      await sleep(0);
      t.cancel();
      await expect(t).rejects.toBeInstanceOf(CancelledError);
      expect(f.cancelled()).toBe(true);
    });
  });

  it("cancelling the awaited future from outside cancels the task", async () => {
    await onVirtualLoop(async () => {
      const f = new Future<number>();
      const t = createTask(async () => await f);
      await sleep(0);
      f.cancel("inner");
      const error = await rejection(t);
      expect(error).toBeInstanceOf(CancelledError);
      expect(t.cancelled()).toBe(true);
      expect((error as Error).message).toBe("inner");
    });
  });

  it("the cancelled task can be awaited by several tasks, each getting CancelledError", async () => {
    await onVirtualLoop(async () => {
      const t = createTask(() => sleep(100));
      const waiters = [1, 2].map(() => createTask(async () => rejection(t)));
      await sleep(1);
      t.cancel();
      const errors = await Promise.all(waiters);
      for (const e of errors) expect(e).toBeInstanceOf(CancelledError);
      for (const w of waiters) expect(w.cancelled()).toBe(false);
    });
  });
});

describe("cancel(msg)", () => {
  it("the message reaches the CancelledError inside the task and of whoever awaits it", async () => {
    let inside: unknown;
    await onVirtualLoop(async () => {
      const t = createTask(async () => {
        try {
          await sleep(100);
        } catch (e) {
          inside = e;
          throw e;
        }
      });
      await sleep(1);
      t.cancel("shutting down");
      const outside = await rejection(t);
      expect((outside as Error).message).toBe("shutting down");
      expect(() => t.result()).toThrow("shutting down");
      expect(() => t.exception()).toThrow("shutting down");
    });
    expect(inside).toBeInstanceOf(CancelledError);
    expect((inside as Error).message).toBe("shutting down");
  });

  it("a message given before the task starts reaches its awaiter", async () => {
    await onVirtualLoop(async () => {
      const t = createTask(() => sleep(10));
      t.cancel("my message");
      expect((await rejection(t)) as Error).toMatchObject({ name: "CancelledError", message: "my message" });
    });
  });
});

describe("cancelling() and uncancel()", () => {
  it("each cancel() counts and returns true while the task is pending; the count stays after the end", async () => {
    await onVirtualLoop(async () => {
      const t = createTask(() => sleep(10_000));
      expect(t.cancelling()).toBe(0);
      expect(t.cancel()).toBe(true);
      expect(t.cancelling()).toBe(1);
      expect(t.cancel()).toBe(true);
      expect(t.cancelling()).toBe(2);
      await expect(t).rejects.toBeInstanceOf(CancelledError);
      expect(t.cancel()).toBe(false);
      expect(t.cancelling()).toBe(2);
    });
  });

  it("uncancel() takes one request back and never goes below zero", async () => {
    await onVirtualLoop(async () => {
      const t = createTask(async () => {
        try {
          await sleep(100);
        } catch {
          const task = currentTask()!;
          expect(task.cancelling()).toBe(2);
          expect(task.uncancel()).toBe(1);
          expect(task.uncancel()).toBe(0);
          expect(task.uncancel()).toBe(0);
          await sleep(100);
          return "recovered";
        }
        return "not cancelled";
      });
      await sleep(1);
      t.cancel();
      t.cancel();
      expect(await t).toBe("recovered");
      expect(t.cancelled()).toBe(false);
      expect(t.cancelling()).toBe(0);
      expect(getRunningLoop().time()).toBe(101);
    });
  });

  it("after uncancel() to zero the task can be cancelled again (asyncio's test_uncancel)", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const t = createTask(async () => {
        try {
          await sleep(10_000);
        } catch {
          steps.push("first cancel");
          currentTask()!.uncancel();
          await sleep(10_000);
        }
      });
      await sleep(10);
      expect(t.cancel()).toBe(true);
      expect(String(t)).toContain("cancelling");
      await sleep(10);
      expect(String(t)).not.toContain("cancelling");
      expect(t.cancel()).toBe(true);
      await expect(t).rejects.toBeInstanceOf(CancelledError);
      expect(getRunningLoop().time()).toBe(20);
    });
    expect(steps).toEqual(["first cancel"]);
  });

  it("a task that cancels itself and uncancels to zero before its next await is not cancelled (3.13)", async () => {
    await onVirtualLoop(async () => {
      const t = createTask(async () => {
        const me = currentTask()!;
        me.cancel();
        expect(me.signal.aborted).toBe(true);
        expect(me.uncancel()).toBe(0);
        expect(me.signal.aborted).toBe(false);
        await sleep(5);
        return "ran to the end";
      });
      expect(await t).toBe("ran to the end");
      expect(t.signal.aborted).toBe(false);
    });
  });

  it("a task that catches CancelledError keeps cancelling() at 1 (asyncio does not uncancel for you)", async () => {
    await onVirtualLoop(async () => {
      const t = createTask(async () => {
        try {
          await sleep(100);
        } catch {
          return currentTask()!.cancelling();
        }
        return -1;
      });
      await sleep(1);
      t.cancel();
      expect(await t).toBe(1);
      expect(t.cancelling()).toBe(1);
    });
  });
});

describe("cancel after the awaited future is done, before the task resumes", () => {
  it("throws CancelledError at that await and drops the value, as asyncio does", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const fut = getRunningLoop().createFuture<number>();
      const t = createTask(async () => {
        try {
          steps.push(`got ${await fut}`);
        } catch (e) {
          steps.push(`threw ${(e as Error).name}: ${(e as Error).message}`);
          throw e;
        }
      });
      await sleep(0);
      fut.setResult(1);
      t.cancel("late");
      expect(await rejection(t)).toBeInstanceOf(CancelledError);
      expect(t.cancelled()).toBe(true);
    });
    expect(steps).toEqual(["threw CancelledError: late"]);
  });

  it("the cancel is consumed there: a task that catches it goes on and its next await is not cancelled", async () => {
    await onVirtualLoop(async () => {
      const fut = getRunningLoop().createFuture<number>();
      const t = createTask(async () => {
        try {
          await fut;
          return "not reached";
        } catch {
          await sleep(5);
          return "recovered";
        }
      });
      await sleep(0);
      fut.setResult(1);
      t.cancel();
      expect(await t).toBe("recovered");
      expect(t.cancelling()).toBe(1);
    });
  });

  it("also when the awaited future failed: the await throws CancelledError, not the failure", async () => {
    await onVirtualLoop(async () => {
      const fut = getRunningLoop().createFuture<number>();
      let seen: unknown;
      const t = createTask(async () => {
        try {
          await fut;
        } catch (e) {
          seen = e;
          throw e;
        }
      });
      await sleep(0);
      fut.setException(new Error("boom"));
      t.cancel();
      await rejection(t);
      expect(seen).toBeInstanceOf(CancelledError);
      expect(t.cancelled()).toBe(true);
    });
  });

  it("a task whose function returns a future tracks it at once: a hand-over and a cancel in one step give it back", async () => {
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      const fut = loop.createFuture<string>();
      const givenBack: string[] = [];
      onDropped(fut, (v) => givenBack.push(v));
      const t = createTask(() => fut);
      await sleep(0);
      loop.callSoon(() => {
        fut.setResult("x");
        t.cancel();
      });
      expect(await rejection(t)).toBeInstanceOf(CancelledError);
      expect(givenBack).toEqual(["x"]);
    });
  });

  it("a cancel after the task's code has resumed waits for its next await", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const fut = getRunningLoop().createFuture<number>();
      const t = createTask(async () => {
        steps.push(`got ${await fut}`);
        try {
          await sleep(10);
        } finally {
          steps.push("finally");
        }
      });
      await sleep(0);
      fut.setResult(1);
      await sleep(0); // the task resumes in this iteration
      t.cancel();
      await rejection(t);
    });
    expect(steps).toEqual(["got 1", "finally"]);
  });
});

describe("cancel after the task's function has returned, before the task is done", () => {
  // The task is done one microtask after its async function returns. asyncio's task is done
  // when its coroutine returns, so a cancel in between is too late: it returns false and the
  // value (maybe an item or a permit the function took) is kept.
  it("returns false, counts nothing, and the task ends with the function's value", async () => {
    await onVirtualLoop(async () => {
      let answer: boolean | undefined;
      const t: Task<number> = createTask(async () => {
        await sleep(0);
        queueMicrotask(() => {
          expect(t.done()).toBe(false);
          answer = t.cancel("too late");
        });
        return 42;
      });
      expect(await t).toBe(42);
      expect(answer).toBe(false);
      expect(t.cancelled()).toBe(false);
      expect(t.cancelling()).toBe(0);
      expect(t.signal.aborted).toBe(false);
    });
  });

  it("a queue item the function returned is not lost: the cancel leaves the value with the task", async () => {
    await onVirtualLoop(async () => {
      const item = getRunningLoop().createFuture<string>();
      onDropped(item, () => {
        throw new Error("the item must not be given back: the function has it");
      });
      let answer: boolean | undefined;
      const t: Task<string> = createTask(async () => {
        const got = await item;
        queueMicrotask(() => (answer = t.cancel()));
        return got;
      });
      await sleep(0);
      item.setResult("a");
      expect(await t).toBe("a");
      expect(answer).toBe(false);
    });
  });

  it("also when the function threw: the task ends with that error", async () => {
    await onVirtualLoop(async () => {
      let answer: boolean | undefined;
      const t: Task<never> = createTask(async () => {
        await sleep(0);
        queueMicrotask(() => (answer = t.cancel()));
        throw new RangeError("boom");
      });
      expect(await rejection(t)).toBeInstanceOf(RangeError);
      expect(answer).toBe(false);
    });
  });

  it("a task that cancels itself in its first step and then returns ends cancelled (asyncio's _must_cancel at the end)", async () => {
    await onVirtualLoop(async () => {
      const t: Task<number> = createTask(async () => {
        expect(t.cancel()).toBe(true);
        return 1;
      });
      await rejection(t);
      expect(t.cancelled()).toBe(true);
    });
  });

  it("a cancel from a callback the task scheduled, landing after its last await, leaves the task its value", async () => {
    await onVirtualLoop(async () => {
      const q = getRunningLoop().createFuture<string>();
      let answer: boolean | undefined;
      const t: Task<string> = createTask(async () => {
        const item = await q;
        void Promise.resolve().then(() => (answer = t.cancel()));
        await Promise.resolve(); // a plain hop, as through a helper's async function
        return item;
      });
      await sleep(0);
      q.setResult("item");
      expect(await t).toBe("item");
      expect(answer).toBe(true);
      expect(t.cancelling()).toBe(1);
    });
  });

  it("a cancel that comes while the function still awaits a plain promise counts", async () => {
    await onVirtualLoop(async () => {
      const plain = plainPromise<number>();
      const t = createTask(async () => (await plain.promise) + 1);
      await sleep(0);
      expect(t.cancel()).toBe(true);
      expect(t.cancelling()).toBe(1);
      expect(t.signal.aborted).toBe(true);
      plain.resolve(1);
      expect(await t).toBe(2); // no aiots await came to throw at: the value stays
    });
  });
});

describe("cancel while the task awaits a plain promise", () => {
  it("task.signal aborts at once, and the next aiots await throws (and its future is cancelled)", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const plain = plainPromise();
      let nextSleep: Future<void> | undefined;
      const t = createTask(async () => {
        const signal = currentTask()!.signal;
        signal.addEventListener("abort", () => steps.push(`abort ${(signal.reason as Error).name}`));
        await plain.promise;
        steps.push("plain resolved");
        try {
          nextSleep = sleep(50);
          await nextSleep;
          steps.push("not reached");
        } finally {
          steps.push("finally");
        }
      });
      await sleep(1);
      t.cancel("late");
      steps.push("cancel returned");
      expect(t.signal.aborted).toBe(true);
      expect(t.signal.reason).toBeInstanceOf(CancelledError);
      plain.resolve();
      const error = await rejection(t);
      expect((error as Error).message).toBe("late");
      expect(t.cancelled()).toBe(true);
      expect(nextSleep!.cancelled()).toBe(true);
      expect(getRunningLoop().time()).toBe(1);
    });
    expect(steps).toEqual(["abort CancelledError", "cancel returned", "plain resolved", "finally"]);
  });

  it("a pending cancel never refuses an already-resolved future: its value is delivered and the next pending await throws", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const plain = plainPromise();
      const handed = getRunningLoop().createFuture<string>();
      const t = createTask(async () => {
        await plain.promise;
        // Something was handed over (as a lock hands itself to a waiter) before this await started.
        steps.push(`got ${await handed}`);
        try {
          await sleep(10);
          steps.push("not reached");
        } finally {
          steps.push("released");
        }
      });
      await sleep(1);
      handed.setResult("the lock");
      t.cancel("late");
      plain.resolve();
      expect(await rejection(t)).toBeInstanceOf(CancelledError);
    });
    expect(steps).toEqual(["got the lock", "released"]);
  });

  it("a task that finishes after such a cancel without another aiots await keeps its value (nothing interrupted it)", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const plain = plainPromise<number>();
      const t = createTask(async () => {
        try {
          const v = await plain.promise;
          steps.push(`got ${v}`);
          return v * 2;
        } finally {
          steps.push("finally");
        }
      });
      await sleep(1);
      expect(t.cancel("too late")).toBe(true);
      plain.resolve(21);
      expect(await t).toBe(42);
      expect(t.cancelled()).toBe(false);
      expect(t.cancelling()).toBe(1);
    });
    expect(steps).toEqual(["got 21", "finally"]);
  });
  it("awaiting a future that is already done is not where such a cancel lands: the value goes through", async () => {
    await onVirtualLoop(async () => {
      const plain = plainPromise();
      const done = new Future<number>();
      done.setResult(1);
      const t = createTask(async () => {
        await plain.promise;
        const v = await done;
        try {
          await sleep(1);
        } catch (e) {
          return `${v}, then ${(e as Error).message}`;
        }
        return "not cancelled";
      });
      await sleep(1);
      t.cancel("refused");
      plain.resolve();
      expect(await t).toBe("1, then refused");
      expect(done.result()).toBe(1);
    });
  });
  it("a task that throws another error after such a cancel ends with that error", async () => {
    await onVirtualLoop(async () => {
      const plain = plainPromise();
      const failure = new Error("own failure");
      const t = createTask(async () => {
        await plain.promise;
        throw failure;
      });
      await sleep(1);
      t.cancel();
      plain.resolve();
      expect(await rejection(t)).toBe(failure);
      expect(t.cancelled()).toBe(false);
      expect(t.exception()).toBe(failure);
    });
  });

  it("a signal-aware API given task.signal stops at once", async () => {
    await onVirtualLoop(async () => {
      const t = createTask(async () => {
        const signal = currentTask()!.signal;
        await new Promise<void>((_resolve, reject) => {
          signal.addEventListener("abort", () => reject(signal.reason as Error), { once: true });
        });
      });
      await sleep(1);
      t.cancel("abort the fetch");
      const error = await rejection(t);
      expect(error).toBeInstanceOf(CancelledError);
      expect((error as Error).message).toBe("abort the fetch");
      expect(t.cancelled()).toBe(true);
    });
  });
});

describe("a cancelled task awaiting a task that can only be marked, which then swallows the cancel", () => {
  // aiots cannot tell a cancel the awaited task swallowed from one that never reached it
  // (a function that finishes first keeps its value), so the awaiting task keeps the cancel
  // for itself in both cases. asyncio, whose cancel always reaches the child, would give the
  // awaiting task the child's value here. The child's value stays in its result().
  for (const cancelFirst of [false, true]) {
    it(`the awaiting task throws CancelledError and the child keeps its value (cancel ${cancelFirst ? "pending before the await" : "during the await"})`, async () => {
      const steps: string[] = [];
      await onVirtualLoop(async () => {
        const plain = plainPromise<void>();
        const gate = plainPromise<void>();
        let inner!: Task<string>;
        const outer = createTask(async () => {
          inner = createTask(async () => {
            await plain.promise;
            try {
              await sleep(0); // the mark lands here
            } catch (e) {
              steps.push(`inner caught ${(e as Error).name}`);
            }
            return "inner value";
          });
          if (cancelFirst) await gate.promise;
          try {
            steps.push(`outer got ${await inner}`);
          } catch (e) {
            steps.push(`outer threw ${(e as Error).name}: ${(e as Error).message}`);
            throw e;
          }
          return "outer value";
        });
        await sleep(1);
        expect(outer.cancel("stop")).toBe(true);
        gate.resolve();
        await sleep(1);
        plain.resolve();
        expect(await rejection(outer)).toBeInstanceOf(CancelledError);
        expect(outer.cancelled()).toBe(true);
        expect(inner.result()).toBe("inner value");
      });
      expect(steps).toEqual(["inner caught CancelledError", "outer threw CancelledError: stop"]);
    });
  }
});

describe("the signal of a task that ends cancelled with no cancel of its own", () => {
  it("aborts when the child it awaited was cancelled, whether it was read before or after the end", async () => {
    for (const readEarly of [false, true]) {
      await onVirtualLoop(async () => {
        const child = createTask(async () => {
          await sleep(10);
        });
        const parent = createTask(async () => {
          await child;
        });
        const early = readEarly ? parent.signal : undefined;
        await sleep(1);
        child.cancel("child only");
        expect(await rejection(parent)).toBeInstanceOf(CancelledError);
        expect(parent.cancelling()).toBe(0);
        const signal = early ?? parent.signal;
        expect(signal.aborted, `read early: ${readEarly}`).toBe(true);
        expect(signal.reason).toBeInstanceOf(CancelledError);
      });
    }
  });
});

describe("cancelling a task that awaits a task which awaits a plain promise", () => {
  it("the outer await throws once the inner task is done, even if the inner one finishes with a value", async () => {
    await onVirtualLoop(async () => {
      const plain = plainPromise<string>();
      const inner = createTask(async () => await plain.promise);
      const steps: string[] = [];
      const outer = createTask(async () => {
        try {
          steps.push(`inner gave ${await inner}`);
        } catch (e) {
          steps.push(`outer caught ${(e as Error).name}`);
          throw e;
        }
        await sleep(10_000);
        return "outer finished";
      });
      await sleep(1);
      expect(outer.cancel()).toBe(true);
      plain.resolve("b");
      await rejection(outer);
      expect(outer.cancelled()).toBe(true);
      expect(steps).toEqual(["outer caught CancelledError"]);
      expect(getRunningLoop().time()).toBe(1);
      expect(inner.result()).toBe("b"); // nothing interrupted it: it keeps its value
    });
  });

  it("also when the cancel came first and the await of that task starts afterwards: the cancel stays pending until the inner task is done", async () => {
    await onVirtualLoop(async () => {
      const plain = plainPromise<string>();
      const steps: string[] = [];
      const outer = createTask(async () => {
        // Cancelled from its own step, while it awaits nothing aiots: the cancel waits for
        // its next aiots await, which is the await of a task that can only be marked.
        currentTask()!.cancel("pending");
        const inner = createTask(async () => await plain.promise, { eagerStart: true });
        try {
          steps.push(`inner gave ${await inner}`);
        } catch (e) {
          steps.push(`outer caught ${(e as Error).name}: ${(e as Error).message}`);
          throw e;
        }
        await sleep(0);
        steps.push("outer went on");
        return inner;
      });
      await sleep(1);
      plain.resolve("b");
      await rejection(outer);
      expect(outer.cancelled()).toBe(true);
      expect(steps).toEqual(["outer caught CancelledError: pending"]);
    });
  });
});

describe("a pending cancel and a future that refuses to be cancelled", () => {
  it("a task that cancelled itself and then awaits a pending future whose cancel() refuses keeps the cancel pending: the await throws when the future settles (asyncio's _must_cancel)", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      class Stubborn<T> extends Future<T> {
        override cancel(): boolean {
          return false; // as a gather whose children are all done
        }
      }
      const fut = new Stubborn<number>(getRunningLoop());
      const t = createTask(async () => {
        currentTask()!.cancel("pending");
        try {
          steps.push(`got ${await fut}`);
        } catch (e) {
          steps.push(`threw ${(e as Error).name}: ${(e as Error).message}`);
          throw e;
        }
      });
      await sleep(0);
      expect(t.done()).toBe(false);
      fut.setResult(1);
      expect(await rejection(t)).toBeInstanceOf(CancelledError);
      expect(t.cancelled()).toBe(true);
      expect(t.cancelling()).toBe(1);
    });
    expect(steps).toEqual(["threw CancelledError: pending"]);
  });
});

describe("cancelling a task that awaits another task", () => {
  it("cancels the awaited task too, whose finally runs first", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const inner = createTask(async () => {
        try {
          await sleep(1000);
        } finally {
          steps.push("inner finally");
        }
      });
      const outer = createTask(async () => {
        try {
          await inner;
        } finally {
          steps.push("outer finally");
        }
      });
      await sleep(1);
      outer.cancel("from outside");
      const error = await rejection(outer);
      expect((error as Error).message).toBe("from outside");
      expect(inner.cancelled()).toBe(true);
      expect(outer.cancelled()).toBe(true);
      expect(inner.cancelling()).toBe(1);
    });
    expect(steps).toEqual(["inner finally", "outer finally"]);
  });

  it("a task that cancels itself and then awaits a nested task cancels that task and its future (bpo-34872)", async () => {
    await onVirtualLoop(async () => {
      const fut = new Future<void>();
      let nested: Task<void> | undefined;
      const t = createTask(async () => {
        nested = createTask(async () => {
          await fut;
        });
        await sleep(0);
        currentTask()!.cancel();
        await nested;
      });
      await expect(t).rejects.toBeInstanceOf(CancelledError);
      expect(t.cancelled()).toBe(true);
      expect(nested!.cancelled()).toBe(true);
      expect(fut.cancelled()).toBe(true);
    });
  });

  it("if the awaited task swallows the cancel and returns, the outer task gets that value (as asyncio)", async () => {
    await onVirtualLoop(async () => {
      const inner = createTask(async () => {
        try {
          await sleep(1000);
          return "finished";
        } catch {
          return "swallowed";
        }
      });
      const outer = createTask(async () => `outer saw ${await inner}`);
      await sleep(1);
      outer.cancel();
      expect(await outer).toBe("outer saw swallowed");
      expect(outer.cancelling()).toBe(1);
    });
  });

  it("a second cancel reaches the awaited task again while it still runs its cleanup", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const inner = createTask(async () => {
        try {
          await sleep(1000);
        } catch {
          steps.push(`inner caught at ${getRunningLoop().time()}`);
        }
        try {
          await sleep(1000);
          steps.push("cleanup done");
        } catch {
          steps.push(`cleanup interrupted at ${getRunningLoop().time()}`);
          throw new CancelledError("cleanup interrupted");
        }
      });
      const outer = createTask(() => inner);
      await sleep(1);
      outer.cancel();
      await sleep(1);
      outer.cancel();
      await expect(outer).rejects.toBeInstanceOf(CancelledError);
      expect(inner.cancelled()).toBe(true);
      expect(inner.cancelling()).toBe(2);
    });
    expect(steps).toEqual(["inner caught at 1", "cleanup interrupted at 2"]);
  });
});

describe("a task that catches CancelledError", () => {
  it("and returns completes with that value, not cancelled", async () => {
    await onVirtualLoop(async () => {
      const f1 = new Future<void>();
      const f2 = new Future<void>();
      const t = createTask(async () => {
        await f1;
        try {
          await f2;
        } catch (e) {
          expect(e).toBeInstanceOf(CancelledError);
          return 42;
        }
        return 0;
      });
      await sleep(0);
      f1.setResult();
      await sleep(0);
      t.cancel();
      expect(f2.cancelled()).toBe(true);
      expect(await t).toBe(42);
      expect(t.cancelled()).toBe(false);
      expect(t.result()).toBe(42);
    });
  });

  it("and goes on awaiting other futures runs normally (test_cancel_task_ignoring)", async () => {
    await onVirtualLoop(async () => {
      const f2 = new Future<void>();
      const f3 = new Future<number>();
      const t = createTask(async () => {
        try {
          await f2;
        } catch {
          // ignored on purpose
        }
        return await f3;
      });
      await sleep(0);
      t.cancel();
      expect(f2.cancelled()).toBe(true);
      await sleep(0);
      f3.setResult(42);
      expect(await t).toBe(42);
      expect(f3.cancelled()).toBe(false);
      expect(t.cancelled()).toBe(false);
    });
  });
});

describe("cancel before the task starts", () => {
  it("never runs the function, and the task ends cancelled", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const t = createTask(async () => {
        steps.push("ran");
      });
      expect(t.cancel()).toBe(true);
      await expect(t).rejects.toBeInstanceOf(CancelledError);
      expect(t.cancelled()).toBe(true);
    });
    expect(steps).toEqual([]);
  });

  it("a cancel taken back with uncancel() before the start lets the function run (3.13)", async () => {
    await onVirtualLoop(async () => {
      const t = createTask(async () => "ran");
      t.cancel();
      expect(t.uncancel()).toBe(0);
      expect(await t).toBe("ran");
    });
  });

  it("a task that cancels itself and ends at once is cancelled (test_cancel_at_end)", async () => {
    await onVirtualLoop(async () => {
      const t: Task<number> = createTask(() => {
        t.cancel();
        return 12;
      });
      await expect(t).rejects.toBeInstanceOf(CancelledError);
      expect(t.cancelled()).toBe(true);
    });
  });

  it("a task that cancels itself then sleeps is cancelled at that sleep (test_cancel_current_task)", async () => {
    await onVirtualLoop(async () => {
      const t: Task<number> = createTask(async () => {
        t.cancel();
        await sleep(100_000);
        return 12;
      });
      await expect(t).rejects.toBeInstanceOf(CancelledError);
      expect(getRunningLoop().time()).toBe(0);
    });
  });
});

describe("Promise.all inside a task", () => {
  it("is cancelled as a whole: every future it waits on is cancelled, every branch's finally runs", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const f1 = new Future<number>();
      const f2 = new Future<number>();
      const branch = async (name: string, ms: number) => {
        try {
          await sleep(ms);
        } finally {
          steps.push(`${name} finally`);
        }
      };
      const t = createTask(async () => {
        try {
          await Promise.all([f1, f2, branch("a", 100), branch("b", 200)]);
        } finally {
          steps.push("task finally");
        }
      });
      await sleep(10);
      t.cancel();
      await expect(t).rejects.toBeInstanceOf(CancelledError);
      expect(f1.cancelled()).toBe(true);
      expect(f2.cancelled()).toBe(true);
      await sleep(0);
      expect(getRunningLoop().time()).toBe(10);
    });
    expect(steps).toContain("a finally");
    expect(steps).toContain("b finally");
    expect(steps).toContain("task finally");
  });
});

describe("a cancel after a combinator inside the task has settled", () => {
  /** Runs `body` in a task on a fresh virtual loop; what the task gave or threw, as text. */
  async function outcome(body: (self: () => Task<string>) => Promise<string>, setup?: (t: () => Task<string>) => void): Promise<string> {
    return onVirtualLoop(async () => {
      let t!: Task<string>;
      t = createTask(() => body(() => t));
      setup?.(() => t);
      try {
        return `value ${await t}`;
      } catch (e) {
        return e instanceof CancelledError ? `CancelledError ${e.message}` : `error ${String(e)}`;
      }
    });
  }

  it("is not taken by a late delivery from a child of a Promise.all that already threw: the await it comes during throws it", async () => {
    const result = await outcome(
      async (self) => {
        try {
          await Promise.all([sleep(10), sleep(10)]);
        } catch {
          // the first cancel ended both sleeps
        }
        const f = new Future<string>();
        queueMicrotask(() => {
          f.setResult("value");
          self().cancel("late");
        });
        return await f;
      },
      (t) => {
        const loop = getRunningLoop();
        loop.callLater(1, () => {
          loop.callSoon(() => undefined); // something queued: the sleeps' deliveries go through the loop
          t().cancel("first");
        });
      },
    );
    expect(result).toBe("CancelledError late");
  });

  it("is not taken by a race's loser settling afterwards, whichever order the race was given", async () => {
    for (const order of ["fast first", "slow first"] as const) {
      const result = await outcome(async (self) => {
        const fast = sleep(4, "fast");
        const slow = sleep(6, "slow");
        expect(await Promise.race(order === "fast first" ? [fast, slow] : [slow, fast])).toBe("fast");
        const f = new Future<string>();
        getRunningLoop().callLater(2, () => {
          f.setResult("value");
          self().cancel("late");
        });
        return await f;
      });
      expect(result, order).toBe("CancelledError late");
    }
  });

  it("a cancel pending from a plain-promise await, spent on the task it awaits next, leaves a later cancel to that await only", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const plain = plainPromise();
      let outer!: Task<string>;
      const inner = createTask(async () => {
        try {
          await sleep(10);
        } finally {
          outer.cancel("second"); // finds nothing of inner's left to interrupt
        }
      });
      outer = createTask(async () => {
        await plain.promise;
        try {
          await inner; // the pending "first" cancels inner here
        } catch (e) {
          steps.push(`inner threw ${(e as Error).message}`);
        }
        await sleep(1);
        return "went on";
      });
      await sleep(0);
      outer.cancel("first");
      plain.resolve();
      expect(await outer).toBe("went on");
    });
    expect(steps).toEqual(["inner threw first"]);
  });

  it("that found the other child already ended by a first cancel throws that first cancel's message (Promise.all)", async () => {
    const result = await outcome(async (self) => {
      const f = new Future<number>();
      queueMicrotask(() => {
        f.setResult(1);
        self().cancel("first");
        self().cancel("second");
      });
      await Promise.all([f, sleep(10)]);
      return "not reached";
    });
    expect(result).toBe("CancelledError first");
  });
});

describe("a task's done callbacks and the tasks awaiting it", () => {
  it("a done callback added before another task awaited it runs first (CPython 3.13)", async () => {
    const log = await onVirtualLoop(async () => {
      const log: string[] = [];
      const child = createTask(async () => {
        await sleep(0);
        return 3;
      });
      child.addDoneCallback(() => log.push("callback"));
      await createTask(async () => {
        await child;
        log.push("awaiter");
      });
      log.push("end");
      return log;
    });
    expect(log).toEqual(["callback", "awaiter", "end"]);
  });
});
