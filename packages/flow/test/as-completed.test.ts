import { describe, expect, it } from "vitest";
import { CancelledError, TimeoutError } from "@aiots/core";
import { Future, allTasks, createTask, currentTask, ensureFuture, sleep } from "@aiots/future";
import { asCompleted, wait } from "@aiots/flow";
import { runV, now } from "./helpers.js";


async function viaIterator<T>(it: Iterable<PromiseLike<T>>): Promise<T[]> {
  const values: T[] = [];
  for (const next of it) values.push(await next);
  return values;
}

async function viaAsyncIterator<T>(it: AsyncIterable<T>): Promise<T[]> {
  const values: T[] = [];
  for await (const v of it) values.push(v);
  return values;
}

describe("completion order", () => {
  for (const [name, collect] of [
    ["plain iteration", viaIterator],
    ["for await", viaAsyncIterator],
  ] as const) {
    it(`${name} gives the results in the order they finish`, async () => {
      await runV(async () => {
        const sleeper = (ms: number, x: string) => () => sleep(ms, x);
        const res = await collect(asCompleted([sleeper(10, "b"), sleeper(150, "c"), sleeper(5, "a")]));
        expect(res).toEqual(["a", "b", "c"]);
        expect(now()).toBe(150);
      });
    });

    it(`${name} counts the same awaitable once`, async () => {
      await runV(async () => {
        const c = async () => "ham";
        const res = await collect(asCompleted<string>([c, c, async () => "spam"]));
        expect(new Set(res)).toEqual(new Set(["ham", "spam"]));
        expect(res).toHaveLength(2);
      });
    });

    it(`${name} over nothing yields nothing`, async () => {
      await runV(async () => {
        expect(await collect(asCompleted([]))).toEqual([]);
      });
    });

    it(`${name} with a timeout: results in time, then TimeoutError`, async () => {
      await runV(async () => {
        const a = createTask(() => sleep(100, "a"));
        const b = createTask(() => sleep(150, "b"));
        const values: unknown[] = [];
        try {
          if (name === "plain iteration") {
            for (const next of asCompleted([a, b], { timeout: 120 })) values.push(await next);
          } else {
            for await (const v of asCompleted([a, b], { timeout: 120 })) values.push(v);
          }
        } catch (e) {
          values.push(e);
        }
        expect(values[0]).toBe("a");
        expect(values[1]).toBeInstanceOf(TimeoutError);
        expect(now()).toBe(120);
        // The Tasks passed in are not cancelled.
        expect(await b).toBe("b");
      });
    });

    it(`${name} with a timeout that is never reached`, async () => {
      await runV(async () => {
        expect(await collect(asCompleted([sleep(10, "a")], { timeout: 1000 }))).toEqual(["a"]);
        expect(now()).toBe(10);
      });
    });
  }

  it("plain iteration: the first item awaited gets the first result, whichever item it is", async () => {
    await runV(async () => {
      const futs = [...asCompleted([() => sleep(50, "a"), () => sleep(100, "b")])];
      expect(futs).toHaveLength(2);
      expect(await futs[1]!).toBe("a");
      expect(now()).toBe(50);
      expect(await futs[0]!).toBe("b");
      expect(now()).toBe(100);
    });
  });

  it("plain iteration: the items can be awaited together", async () => {
    await runV(async () => {
      const futs = [...asCompleted([sleep(50, "a"), sleep(50, "b")])];
      const { done } = await wait(futs.map((f) => ensureFuture(f)));
      expect(new Set([...done].map((f) => f.result()))).toEqual(new Set(["a", "b"]));
    });
  });

  it("a failed child's error is thrown where its result would be", async () => {
    await runV(async () => {
      const it = asCompleted<string>([
        () => sleep(10, "ok"),
        async () => {
          await sleep(20);
          throw new RangeError("bad");
        },
      ]);
      const items = [...it];
      expect(await items[0]!).toBe("ok");
      await expect(items[1]!).rejects.toBeInstanceOf(RangeError);
    });
  });

  it("an item whose awaiting task is cancelled gives its result to the next item", async () => {
    await runV(async () => {
      const [first, second] = [...asCompleted([sleep(10, "x"), sleep(20, "y")])];
      const waiter = createTask(async () => await first!);
      await sleep(1);
      waiter.cancel();
      await expect(waiter).rejects.toBeInstanceOf(CancelledError);
      expect(await second!).toBe("x");
    });
  });
});

describe("a child that ends cancelled", () => {
  it("its await throws that child's own CancelledError, with its message (CPython 3.13 too)", async () => {
    await runV(async () => {
      const selfCancel = createTask(async () => {
        currentTask()!.cancel("self");
        await sleep(0);
      });
      let message: string | undefined;
      for (const next of asCompleted([createTask(() => sleep(10_000)), selfCancel])) {
        try {
          await next;
        } catch (e) {
          expect(e).toBeInstanceOf(CancelledError);
          message = (e as Error).message;
          break;
        }
      }
      expect(message).toBe("self");
    });
  });
});

describe("leaving early", () => {
  it("break out of for await cancels the tasks asCompleted started and waits for them", async () => {
    await runV(async () => {
      const steps: string[] = [];
      const child = (ms: number) => async () => {
        try {
          await sleep(ms);
          return ms;
        } finally {
          steps.push(`finally ${ms}`);
        }
      };
      const passedIn = createTask(() => sleep(500, "mine"));
      for await (const v of asCompleted<number | string>([child(10), child(300), passedIn])) {
        steps.push(`got ${v}`);
        break;
      }
      expect(steps).toEqual(["finally 10", "got 10", "finally 300"]);
      // Left: the main task and the Task passed in.
      expect(allTasks().size).toBe(2);
      expect(allTasks().has(passedIn)).toBe(true);
      expect(passedIn.done()).toBe(false);
      expect(await passedIn).toBe("mine");
    });
  });

  it("an error out of for await also cancels the started tasks first", async () => {
    await runV(async () => {
      let cleaned = false;
      const error = await (async () => {
        for await (const _ of asCompleted<void>([
          async () => {
            throw new RangeError("first");
          },
          async () => {
            try {
              await sleep(1000);
            } finally {
              cleaned = true;
            }
          },
        ])) {
          // never reached
        }
      })().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RangeError);
      expect(cleaned).toBe(true);
    });
  });

  it("a timeout cancels the tasks asCompleted started, since nobody can get their results", async () => {
    await runV(async () => {
      const it = asCompleted([() => sleep(1000, "late")], { timeout: 10 });
      await expect(viaAsyncIterator(it)).rejects.toBeInstanceOf(TimeoutError);
      expect(allTasks().size).toBe(1); // the main task only
    });
  });

  it("after break, the iteration is closed", async () => {
    await runV(async () => {
      const it = asCompleted([sleep(1, 1), sleep(2, 2), sleep(3, 3)]);
      for (const next of it) {
        await next;
        break;
      }
      expect(String(it)).toMatch(/closed/);
      expect(await viaIterator(it)).toEqual([]);
    });
  });
});

describe("input", () => {
  it("bad input throws at the call", async () => {
    await runV(async () => {
      const fut = new Future<number>();
      expect(() => asCompleted(fut as unknown as Future<number>[])).toThrow(TypeError);
      expect(() => asCompleted([5 as unknown as Future<number>])).toThrow(TypeError);
      expect(() => asCompleted([fut], { timeout: Number.NaN })).toThrow(RangeError);
      expect(() => asCompleted([fut], 3 as never)).toThrow(TypeError);
    });
  });
});

describe("an item awaited again after its await was cancelled late", () => {
  it("claims the next completion: the one handed back goes to it, and the next item gets the following one", async () => {
    await runV(async () => {
      const a = new Future<string>();
      const b = new Future<string>();
      const got: string[] = [];
      const consumer = createTask(async () => {
        const [it1, it2] = [...asCompleted([a, b])];
        try {
          got.push(await it1!);
        } catch {
          got.push(`again ${await it1!}`);
        }
        got.push(await it2!);
      });
      await sleep(1);
      a.addDoneCallback(() => consumer.cancel()); // right after asCompleted woke it1's wait
      a.setResult("a");
      await sleep(1);
      b.setResult("b");
      await sleep(1);
      await consumer;
      expect(got).toEqual(["again a", "b"]);
    });
  });
});
