import { describe, expect, expectTypeOf, it } from "vitest";
import { CancelledError } from "@aiots/core";
import { Future, allTasks, createTask, currentTask, sleep } from "@aiots/future";
import { VirtualTimeLoop, getRunningLoop } from "@aiots/loop";
import { gather, shield } from "@aiots/flow";
import { runV } from "./helpers.js";

const futures = <T = number>(n: number) => Array.from({ length: n }, () => new Future<T>(getRunningLoop()));
/** Lets every ready callback and the awaiters they wake run. */
const settle = async () => {
  for (let i = 0; i < 3; i++) await sleep(0);
};

describe("results", () => {
  it("resolves to the results in input order, not completion order, once all are done", async () => {
    await runV(async () => {
      for (const returnExceptions of [false, true]) {
        const [a, b, c] = futures(3);
        const g = gather([a!, b!, c!], { returnExceptions });
        let calls = 0;
        g.addDoneCallback(() => calls++);
        b!.setResult(1);
        a!.setResult(2);
        await settle();
        expect(calls).toBe(0);
        expect(g.done()).toBe(false);
        c!.setResult(3);
        await settle();
        expect(calls).toBe(1);
        expect(g.result()).toEqual([2, 1, 3]);
      }
    });
  });

  it("is typed per position, and mixes Futures, Tasks, promises and functions", async () => {
    await runV(async () => {
      const task = createTask(async () => true);
      const g = gather([sleep(10, "a"), async () => 2, Promise.resolve(3n), task]);
      expectTypeOf(g).resolves.toEqualTypeOf<[string, number, bigint, boolean]>();
      expect(await g).toEqual(["a", 2, 3n, true]);
    });
  });

  it("an empty input resolves to an empty array", async () => {
    await runV(async () => {
      const g = gather([]);
      expect(g.done()).toBe(true);
      expect(await g).toEqual([]);
    });
  });

  it("the same awaitable given twice is one child whose result fills both slots", async () => {
    await runV(async () => {
      let runs = 0;
      const f = async () => {
        runs++;
        return "abc";
      };
      const g = gather([f, f, async () => "def", f]);
      expect(await g).toEqual(["abc", "abc", "def", "abc"]);
      expect(runs).toBe(1);
    });
  });

  it("with returnExceptions, errors and CancelledErrors fill their slots", async () => {
    await runV(async () => {
      const [a, b, c, d, e, f] = futures(6);
      const g = gather([a!, b!, c!, d!, e!, f!], { returnExceptions: true });
      a!.setResult(1);
      const zde = new RangeError("zde");
      b!.setException(zde);
      c!.cancel();
      await settle();
      expect(g.done()).toBe(false);
      d!.setResult(3);
      e!.cancel("e gone");
      const rte = new TypeError("rte");
      f!.setException(rte);
      const res = await g;
      expect(res[2]).toBeInstanceOf(CancelledError);
      expect(res[4]).toBeInstanceOf(CancelledError);
      expect((res[4] as Error).message).toBe("e gone");
      expect([res[0], res[1], res[3], res[5]]).toEqual([1, zde, 3, rte]);
    });
  });
});

describe("a child that fails", () => {
  it("rejects the gather with its error at once; the other children run on", async () => {
    await runV(async () => {
      const [a, b, c, d, e] = futures(5);
      const g = gather([a!, b!, c!, d!, e!]);
      const error = new RangeError("boom");
      a!.setResult(1);
      b!.setException(error);
      await settle();
      expect(g.done()).toBe(true);
      expect(g.exception()).toBe(error);
      expect(c!.cancelled() || d!.cancelled() || e!.cancelled()).toBe(false);
      // Later outcomes change nothing.
      c!.setResult(3);
      d!.cancel();
      e!.setException(new TypeError());
      await settle();
      expect(g.exception()).toBe(error);
    });
  });

  it("does not cancel sibling tasks (use taskGroup for that)", async () => {
    await runV(async () => {
      const steps: string[] = [];
      const sibling = async () => {
        await sleep(100);
        steps.push("sibling finished");
      };
      await expect(
        gather([
          async () => {
            await sleep(10);
            throw new RangeError("first");
          },
          sibling,
        ]),
      ).rejects.toBeInstanceOf(RangeError);
      expect(steps).toEqual([]);
      expect(allTasks().size).toBe(2);
      await sleep(100);
      expect(steps).toEqual(["sibling finished"]);
    });
  });

  it("a cancelled child rejects the gather with CancelledError, but the gather itself is not cancelled", async () => {
    await runV(async () => {
      const [a, b, c] = futures(3);
      const g = gather([a!, b!, c!]);
      a!.setResult(1);
      b!.cancel();
      await settle();
      expect(g.done()).toBe(true);
      expect(g.cancelled()).toBe(false);
      expect(g.exception()).toBeInstanceOf(CancelledError);
      expect(c!.done()).toBe(false);
    });
  });

  it("an error in a child task reaches the task awaiting the gather", async () => {
    await runV(async () => {
      const [a, b] = futures<void>(2);
      const inner = async (f: Future<void>) => {
        await f;
        throw new RangeError("should not be ignored");
      };
      const outer = createTask(() => gather([() => inner(a!), () => inner(b!)]));
      await sleep(0);
      a!.setResult();
      await sleep(0);
      b!.setResult();
      await expect(outer).rejects.toBeInstanceOf(RangeError);
    });
  });
});

describe("cancelling the gather", () => {
  it("cancelling the task that awaits it cancels every child, and nothing after the await runs", async () => {
    await runV(async () => {
      let proof = 0;
      const waiter = new Future<void>();
      const inner = async () => {
        await waiter;
        proof += 1;
      };
      const child1 = createTask(inner);
      const child2 = createTask(inner);
      let gatherer: Future<unknown> | undefined;
      const f = createTask(async () => {
        gatherer = gather([child1, child2]);
        await gatherer;
        proof += 100;
      });
      await sleep(0);
      expect(f.cancel()).toBe(true);
      await expect(f).rejects.toBeInstanceOf(CancelledError);
      expect(gatherer!.cancel()).toBe(false);
      expect(waiter.cancelled()).toBe(true);
      expect(child1.cancelled()).toBe(true);
      expect(child2.cancelled()).toBe(true);
      expect(proof).toBe(0);
    });
  });

  it("waits for every child to finish its cleanup, then ends cancelled with the message", async () => {
    await runV(async () => {
      const steps: string[] = [];
      const child = (name: string, cleanup: number) => async () => {
        try {
          await sleep(10_000);
        } finally {
          await sleep(cleanup);
          steps.push(`${name} cleaned up`);
        }
      };
      const g = gather([child("a", 5), child("b", 50)]);
      await sleep(1);
      expect(g.cancel("enough")).toBe(true);
      const error = await g.catch((e: unknown) => e);
      steps.push("gather ended");
      expect(steps).toEqual(["a cleaned up", "b cleaned up", "gather ended"]);
      expect(g.cancelled()).toBe(true);
      expect((error as Error).message).toBe("enough");
      expect(allTasks().size).toBe(1);
    });
  });

  it("ends cancelled even with returnExceptions, so the awaiting task sees its cancellation (bpo-32684)", async () => {
    await runV(async () => {
      const loop = getRunningLoop();
      const worker = createTask(async () => {
        for (;;) await gather([sleep(50)], { returnExceptions: true });
      });
      loop.callLater(200, () => worker.cancel("my message"));
      const error = await worker.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CancelledError);
      expect((error as Error).message).toBe("my message");
      expect(worker.cancelled()).toBe(true);
    });
  });

  it("refuses once every child is done, even before the gather has noticed (bpo-26923)", async () => {
    await runV(async () => {
      const fut = new Future<number>();
      const g = gather([async () => await fut]);
      await sleep(0);
      let cancelResult: boolean | undefined;
      fut.addDoneCallback(() => {
        cancelResult = g.cancel();
      });
      fut.setResult(42);
      expect(await g).toEqual([42]);
      expect(cancelResult).toBe(false);
      expect(g.cancelled()).toBe(false);
    });
  });

  it("a child that swallows the cancellation still leaves the gather cancelled", async () => {
    await runV(async () => {
      const g = gather([
        async () => {
          try {
            await sleep(100);
          } catch {
            return "ignored";
          }
          return "slept";
        },
      ]);
      await sleep(1);
      g.cancel();
      await expect(g).rejects.toBeInstanceOf(CancelledError);
      expect(g.cancelled()).toBe(true);
    });
  });

  it("shielded children are not cancelled, only their shields", async () => {
    await runV(async () => {
      const [child1, child2] = futures(2);
      const inner1 = shield(child1!);
      const inner2 = shield(child2!);
      const parent = gather([inner1, inner2]);
      await settle();
      parent.cancel();
      await settle();
      expect(parent.cancelled()).toBe(true);
      expect(inner1.cancelled()).toBe(true);
      expect(inner2.cancelled()).toBe(true);
      expect(child1!.done() || child2!.done()).toBe(false);
      child1!.setResult(1);
      child2!.setResult(2);
    });
  });
});

describe("the CancelledError of a cancelled gather (CPython 3.13 gives the same messages)", () => {
  /** The message of the `CancelledError` that awaiting `g` throws. */
  async function messageOf(g: PromiseLike<unknown>): Promise<string> {
    try {
      await g;
    } catch (e) {
      expect(e).toBeInstanceOf(CancelledError);
      return (e as Error).message;
    }
    throw new Error("the gather was not cancelled");
  }
  const sleeper = () => sleep(10_000);

  it("has no message when no child ended cancelled (each caught the cancel and returned)", async () => {
    await runV(async () => {
      const catcher = async () => {
        try {
          await sleep(10_000);
        } catch {
          return 1;
        }
      };
      const g = gather([catcher, catcher], { returnExceptions: true });
      await sleep(0);
      g.cancel("m");
      expect(await messageOf(g)).toBe("");
    });
  });

  /** The message of a `gather([sleeper, last], { returnExceptions: true })` cancelled once `last` has run. */
  async function messageAfterLastRan(last: () => Promise<unknown>): Promise<string> {
    const g = gather([sleeper, last], { returnExceptions: true });
    await sleep(0);
    await sleep(0);
    g.cancel();
    return messageOf(g);
  }

  it("with returnExceptions, is the one of the last argument's child, whichever finished last", async () => {
    await runV(async () => {
      const selfCancel = async () => {
        currentTask()!.cancel("self");
        await sleep(0);
      };
      expect(await messageAfterLastRan(selfCancel)).toBe("self");
    });
  });

  it("carries the message of a cancel that found the last argument's child running, when that child caught it", async () => {
    await runV(async () => {
      const catcher = async () => {
        currentTask()!.cancel("self");
        try {
          await sleep(0);
        } catch {
          currentTask()!.uncancel();
          return 1;
        }
      };
      expect(await messageAfterLastRan(catcher)).toBe("self");
    });
  });

  it("without returnExceptions, is the one of the first child to end cancelled, not of the last", async () => {
    await runV(async () => {
      const slow = createTask(async () => {
        try {
          await sleep(10_000);
        } catch (e) {
          await sleep(1);
          throw e;
        }
      });
      const g = gather([slow, sleeper]);
      await sleep(0);
      g.cancel("m1");
      await sleep(0.5);
      slow.cancel("m2");
      expect(await messageOf(g)).toBe("m1");
      expect(await messageOf(slow)).toBe("m2");
    });
  });
});

describe("input", () => {
  it("bad input throws at the call, before anything starts", async () => {
    await runV(async () => {
      let started = 0;
      const fn = async () => {
        started++;
      };
      expect(() => gather(5 as unknown as [])).toThrow(TypeError);
      expect(() => gather(new Future() as unknown as [])).toThrow(/iterable/);
      expect(() => gather([fn, {} as unknown as () => void])).toThrow(/item 1/);
      expect(() => gather([fn], { returnExceptions: "yes" as unknown as boolean })).toThrow(TypeError);
      await sleep(0);
      expect(started).toBe(0);
    });
  });

  it("Futures of different loops are refused", async () => {
    const a = new VirtualTimeLoop();
    const b = new VirtualTimeLoop();
    expect(() => gather([a.createFuture(), b.createFuture()])).toThrow(RangeError);
    a.close();
    b.close();
  });

  it("accepts any iterable, and uses the loop of the Futures given", async () => {
    const other = new VirtualTimeLoop();
    const children = [other.createFuture<number>(), other.createFuture<number>()];
    const g = gather(new Set(children));
    expect(g.getLoop()).toBe(other);
    children[0]!.setResult(1);
    children[1]!.setResult(2);
    expect(await other.runUntilComplete(g)).toEqual([1, 2]);
    other.close();
  });

  it("shows its state", async () => {
    await runV(async () => {
      const [a, b] = futures(2);
      const g = gather([a!, b!]);
      a!.setResult(1);
      expect(String(g)).toBe("GatheringFuture [pending, children: 2, pending: 1]");
      b!.setResult(2);
      await g;
    });
  });
});
