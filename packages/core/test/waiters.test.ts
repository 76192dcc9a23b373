import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CancelledError } from "@aiots/core";
import { WaiterQueue, linkAbort, onDropped, onSettle } from "@aiots/core/internal";
import { type Task, createTask, sleep } from "@aiots/future";
import { VirtualTimeLoop, getRunningLoop, run } from "@aiots/loop";

const onVirtualLoop = <T>(fn: () => Promise<T>) => run(fn, { loop: new VirtualTimeLoop() });

describe("WaiterQueue", () => {
  it("wakes waiters first to last and counts only live ones", async () => {
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      const q = new WaiterQueue<number>();
      const a = q.add(loop);
      const b = q.add(loop);
      const c = q.add(loop);
      expect(q.size).toBe(3);
      b.cancel();
      expect(q.size).toBe(2);
      expect(q.wakeFirst(1)).toBe(true);
      expect(q.wakeFirst(2)).toBe(true);
      expect(q.wakeFirst(3)).toBe(false);
      expect(a.result()).toBe(1);
      expect(c.result()).toBe(2);
      expect(q.size).toBe(0);
    });
  });

  it("push queues a future made by the caller, counted and woken like the others", async () => {
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      const q = new WaiterQueue<number>();
      const a = q.add(loop);
      const own = loop.createFuture<number>();
      expect(q.push(own)).toBe(own);
      expect(q.size).toBe(2);
      own.cancel();
      expect(q.size).toBe(1);
      const again = q.push(loop.createFuture<number>());
      expect(q.wakeFirst(1)).toBe(true);
      expect(q.wakeFirst(2)).toBe(true);
      expect([a.result(), again.result()]).toEqual([1, 2]);
      expect(q.size).toBe(0);
    });
  });

  it("a waiter withdrawn by its task's cancellation leaves the queue at once", async () => {
    await onVirtualLoop(async () => {
      const q = new WaiterQueue<string>();
      const loop = getRunningLoop();
      const waiter = createTask(async () => q.add(loop));
      await sleep(1);
      expect(q.size).toBe(1);
      waiter.cancel();
      await expect(waiter).rejects.toBeInstanceOf(CancelledError);
      expect(q.size).toBe(0);
      expect(q.wakeFirst("x")).toBe(false);
    });
  });

  it("rejectAll rejects every live waiter and wakeAll resolves them in order", async () => {
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      const q = new WaiterQueue<number>();
      const ws = [q.add(loop), q.add(loop)];
      const err = new Error("closed");
      expect(q.rejectAll(err)).toBe(2);
      for (const w of ws) expect(w.exception()).toBe(err);
      const more = [q.add(loop), q.add(loop), q.add(loop)];
      expect(q.wakeAll(7)).toBe(3);
      expect(more.map((w) => w.result())).toEqual([7, 7, 7]);
      expect(q.size).toBe(0);
    });
  });

  it("compacts dead entries so a queue of abandoned waiters does not grow", async () => {
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      const q = new WaiterQueue<void>();
      const keep = q.add(loop);
      for (let i = 0; i < 10_000; i++) q.add(loop).cancel();
      expect(q.size).toBe(1);
      expect(q._waiters.length).toBeLessThan(100);
      expect(q.wakeFirst()).toBe(true);
      expect(keep.done()).toBe(true);
    });
  });

  it("keeps the live count exact under random adds, cancels and wakes", async () => {
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      fc.assert(
        fc.property(fc.array(fc.constantFrom("add", "cancel", "wake", "reject"), { maxLength: 200 }), fc.nat(), (ops, seed) => {
          const q = new WaiterQueue<number>();
          const live: ReturnType<typeof q.add>[] = [];
          const woken: number[] = [];
          let n = 0;
          let pick = seed;
          for (const op of ops) {
            if (op === "add") live.push(q.add(loop));
            else if (op === "cancel" && live.length > 0) live.splice((pick = (pick * 31 + 7) >>> 0) % live.length, 1)[0]!.cancel();
            else if (op === "wake") {
              const expected = live.shift();
              expect(q.wakeFirst(++n)).toBe(expected !== undefined);
              if (expected !== undefined) woken.push(expected.result());
            } else if (op === "reject") {
              expect(q.rejectAll(new Error("r"))).toBe(live.length);
              live.length = 0;
            }
            expect(q.size).toBe(live.length);
          }
          expect(woken).toEqual([...woken].sort((a, b) => a - b));
        }),
        { numRuns: 100 },
      );
    });
  });
});

describe("WaiterQueue hand-overs in flight", () => {
  it("a wake-up whose setResult throws leaves nothing counted in flight", async () => {
    await run(async () => {
      const line = new WaiterQueue<number>(() => {});
      const waiter = line.add(getRunningLoop());
      (waiter as { setResult: (v: number) => void }).setResult = () => {
        throw new RangeError("refused");
      };
      expect(() => line.wakeFirst(1)).toThrow(RangeError);
      expect(line.handing).toBe(0);
    }, { loop: new VirtualTimeLoop() });
  });
});

describe("onDropped", () => {
  /** A task awaiting a waiter of `q`; a value handed to that waiter but dropped lands in `givenBack`. */
  function waitingTask(q: WaiterQueue<string>, givenBack: string[]): Task<string> {
    const loop = getRunningLoop();
    return createTask(async () => {
      const f = q.add(loop);
      onDropped(f, (v) => givenBack.push(v));
      return await f;
    });
  }

  it("gives back a value handed to a task that was cancelled before it resumed", async () => {
    await onVirtualLoop(async () => {
      const q = new WaiterQueue<string>();
      const givenBack: string[] = [];
      const waiter = waitingTask(q, givenBack);
      await sleep(1);
      q.wakeFirst("item");
      waiter.cancel();
      await expect(waiter).rejects.toBeInstanceOf(CancelledError);
      expect(givenBack).toEqual(["item"]);
    });
  });

  it("gives nothing back when the value reached the task", async () => {
    await onVirtualLoop(async () => {
      const q = new WaiterQueue<string>();
      const givenBack: string[] = [];
      const waiter = waitingTask(q, givenBack);
      await sleep(1);
      q.wakeFirst("item");
      await sleep(0);
      waiter.cancel();
      expect(await waiter).toBe("item");
      expect(givenBack).toEqual([]);
    });
  });
});

describe("onSettle and linkAbort", () => {
  it("runs the hook synchronously when an aiots future settles, chaining hooks", async () => {
    await onVirtualLoop(async () => {
      const f = getRunningLoop().createFuture<number>();
      const seen: string[] = [];
      onSettle(f, () => seen.push("first"));
      onSettle(f, () => seen.push("second"));
      f.setResult(1);
      expect(seen).toEqual(["first", "second"]);
    });
  });

  it("rejects a pending waiter with the signal's reason, and unlinking stops it", async () => {
    await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      const ac = new AbortController();
      const f = loop.createFuture<number>();
      linkAbort(f, ac.signal);
      const reason = new Error("stop");
      ac.abort(reason);
      expect(f.exception()).toBe(reason);

      const ac2 = new AbortController();
      const g = loop.createFuture<number>();
      const unlink = linkAbort(g, ac2.signal);
      unlink();
      ac2.abort();
      expect(g.done()).toBe(false);
    });
  });
});
