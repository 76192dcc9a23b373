import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { BrokenBarrierError, CancelledError } from "@aiots/core";
import type { Task } from "@aiots/future";
import { createTask, sleep } from "@aiots/future";
import { getRunningLoop } from "@aiots/loop";
import { Barrier } from "@aiots/sync";
import { abortListeners, outcome, settle, virtual } from "./helpers.js";

const N = 5;

function makeTasks<T>(n: number, fn: () => Promise<T>): Task<T>[] {
  return Array.from({ length: n }, () => createTask(fn));
}

function gatherTasks<T>(n: number, fn: () => Promise<T>): Promise<T[]> {
  return Promise.all(makeTasks(n, fn));
}

/**
 * N parties wait once; each logs what its wait returned, or the name of the error. The one
 * that returns (the party that completed the round) then runs `then`, once.
 */
function completerThen(barrier: Barrier, log: string[], then: () => Promise<void>): Promise<void[]> {
  let done = false;
  return gatherTasks(N, async () => {
    try {
      log.push(`returned ${await barrier.wait()}`);
    } catch (e) {
      log.push((e as Error).name);
      return;
    }
    if (!done) {
      done = true;
      await then();
    }
  });
}

/**
 * One party of a round of N that waits twice; the middle party throws after the first wait
 * and aborts the barrier. Pushes to `passed` a party whose second wait returned, to `broken`
 * one that got BrokenBarrierError.
 */
async function failOneAndAbort(barrier: Barrier, passed: boolean[], broken: boolean[]): Promise<void> {
  try {
    const i = await barrier.wait();
    if (i === Math.floor(N / 2)) throw new RangeError("failed");
    await barrier.wait();
    passed.push(true);
  } catch (e) {
    if (e instanceof BrokenBarrierError) broken.push(true);
    else await barrier.abort();
  }
}

describe("Barrier state", () => {
  it("shows filling, draining, resetting and broken in String() and util.inspect", async () => {
    await virtual(async () => {
      const barrier = new Barrier(N);
      expect(String(barrier)).toBe("Barrier [filling, waiters: 0/5]");
      const seen: string[] = [];
      const wait = async () => {
        try {
          await barrier.wait();
        } finally {
          seen.push(String(barrier));
        }
      };
      const waiters = [createTask(wait), createTask(wait)];
      await settle();
      expect(inspect(barrier)).toBe("Barrier [filling, waiters: 2/5]");
      for (let i = barrier.parties - barrier.nWaiting; i > 0; i--) waiters.push(createTask(wait));
      await Promise.all(waiters);
      // Each party saw the round draining as it left, except the last one out.
      expect(seen).toEqual([...Array.from({ length: N - 1 }, () => "Barrier [draining, waiters: 0/5]"), "Barrier [filling, waiters: 0/5]"]);
      seen.length = 0;
      const broken = [createTask(wait), createTask(wait)];
      await settle();
      await barrier.reset();
      await Promise.allSettled(broken);
      expect(seen).toEqual(["Barrier [resetting, waiters: 0/5]", "Barrier [filling, waiters: 0/5]"]);
      await barrier.abort();
      expect(String(barrier)).toBe("Barrier [broken]");
      expect(barrier.broken).toBe(true);
      expect(Object.prototype.toString.call(barrier)).toBe("[object Barrier]");
    });
  });

  it("parties must be an integer >= 1", () => {
    expect(() => new Barrier(0)).toThrow(RangeError);
    expect(() => new Barrier(0)).toThrow("Barrier parties must be an integer >= 1, got 0");
    expect(() => new Barrier(-4)).toThrow(RangeError);
    expect(() => new Barrier(2.5)).toThrow(RangeError);
    expect(() => new Barrier(undefined as never)).toThrow(TypeError);
    expect(new Barrier(N).parties).toBe(N);
  });

  it("bad options throw TypeError at the call and change nothing", () => {
    const barrier = new Barrier(2);
    expect(() => barrier.wait(1 as never)).toThrow(/Barrier\.wait options must be an object/);
    expect(() => barrier.reset({ signal: "x" } as never)).toThrow(TypeError);
    expect(() => barrier.abort({ signal: 0 } as never)).toThrow(TypeError);
    expect(barrier.state).toBe("filling");
    expect(barrier.nWaiting).toBe(0);
  });
});

describe("Barrier.wait", () => {
  it("returns each party a distinct arrival index", async () => {
    await virtual(async () => {
      const barrier = new Barrier(3);
      const results = await gatherTasks(3, () => barrier.wait());
      expect([...results].sort()).toEqual([0, 1, 2]);
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.broken).toBe(false);
    });
  });

  it("a barrier of one lets every caller through at once with index 0", async () => {
    await virtual(async () => {
      const barrier = new Barrier(1);
      expect(await barrier.wait()).toBe(0);
      const t1 = createTask(() => barrier.wait());
      await settle();
      expect(barrier.nWaiting).toBe(0);
      const t2 = createTask(() => barrier.wait());
      await settle();
      expect(t1.result()).toBe(t2.result());
      expect(barrier.broken).toBe(false);
    });
  });

  it("fills task by task", async () => {
    await virtual(async () => {
      const barrier = new Barrier(3);
      const t1 = createTask(() => barrier.wait());
      await settle();
      expect(barrier.nWaiting).toBe(1);
      expect(String(barrier)).toContain("filling");
      const t2 = createTask(() => barrier.wait());
      await settle();
      expect(barrier.nWaiting).toBe(2);
      const t3 = createTask(() => barrier.wait());
      expect([...(await Promise.all([t1, t2, t3]))]).toEqual([0, 1, 2]);
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.broken).toBe(false);
    });
  });

  it("can be passed twice in a row, and returns indices each round", async () => {
    await virtual(async () => {
      const barrier = new Barrier(N);
      const first: number[] = [];
      const res = await gatherTasks(N, async () => {
        first.push(await barrier.wait());
        return barrier.wait();
      });
      expect([...first].sort()).toEqual([0, 1, 2, 3, 4]);
      expect([...res].sort()).toEqual([0, 1, 2, 3, 4]);
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.broken).toBe(false);
    });
  });

  it("is draining until the last party of the round has left", async () => {
    await virtual(async () => {
      const barrier = new Barrier(N);
      const results: boolean[] = [];
      await gatherTasks(N, async () => {
        await barrier.wait();
        results.push(String(barrier).includes("draining"));
      });
      expect(results).toEqual([true, true, true, true, false]);
    });
  });

  it("blocks callers that come back while the round drains until the next round", async () => {
    await virtual(async () => {
      const rewait = 2;
      const barrier = new Barrier(N);
      const others = new Barrier(N - rewait);
      let rewaitN = rewait;
      await gatherTasks(N, async () => {
        await barrier.wait();
        if (rewaitN > 0) {
          rewaitN--;
          await barrier.wait();
        } else {
          await others.wait();
          await barrier.wait();
        }
      });
      expect(barrier.nWaiting).toBe(0);
    });
  });

  it("a party cancelled while the barrier fills leaves, and the round completes with a newcomer", async () => {
    await virtual(async () => {
      const barrier = new Barrier(3);
      const results: boolean[] = [];
      const coro = async () => {
        await barrier.wait();
        results.push(true);
      };
      const t1 = createTask(coro);
      await settle();
      expect(barrier.nWaiting).toBe(1);
      const t2 = createTask(coro);
      await settle();
      expect(barrier.nWaiting).toBe(2);
      t1.cancel();
      await settle();
      expect(barrier.nWaiting).toBe(1);
      await expect(t1).rejects.toBeInstanceOf(CancelledError);
      const t3 = createTask(coro);
      await settle();
      expect(barrier.nWaiting).toBe(2);
      const t4 = createTask(coro);
      await Promise.all([t2, t3, t4]);
      expect(results).toEqual([true, true, true]);
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.broken).toBe(false);
    });
  });
});

describe("Barrier.reset", () => {
  it("on an empty barrier changes nothing", async () => {
    await virtual(async () => {
      const barrier = new Barrier(1);
      createTask(() => barrier.reset());
      await settle();
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.broken).toBe(false);
    });
  });

  it("sends the waiting parties a BrokenBarrierError and refills", async () => {
    await virtual(async () => {
      const barrier = new Barrier(N);
      const results: boolean[] = [];
      const tasks = makeTasks(N - 1, async () => {
        try {
          await barrier.wait();
        } catch (e) {
          if (e instanceof BrokenBarrierError) results.push(true);
        }
      });
      await settle();
      createTask(() => barrier.reset());
      await Promise.all(tasks);
      expect(results).toEqual([true, true, true, true]);
      expect(barrier.nWaiting).toBe(0);
      expect(String(barrier)).not.toContain("resetting");
      expect(barrier.broken).toBe(false);
    });
  });

  it("a reset by the party that completed the round breaks the parties that have not left yet", async () => {
    // As asyncio: woken parties leave the round only when they run, so a reset that comes
    // first (here from the party that completed the round) sends them BrokenBarrierError.
    await virtual(async () => {
      const barrier = new Barrier(N);
      const log: string[] = [];
      await completerThen(barrier, log, () => barrier.reset());
      expect(log).toEqual(["returned 4", ...Array.from({ length: N - 1 }, () => "BrokenBarrierError")]);
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.state).toBe("filling");
    });
  });

  it("a reset leaves alone the parties blocked until the previous round drains", async () => {
    await virtual(async () => {
      const barrier = new Barrier(3);
      const log: string[] = [];
      const party = (name: string) => async () => {
        try {
          log.push(`${name} ${await barrier.wait()}`);
        } catch (e) {
          log.push(`${name} ${(e as Error).name}`);
        }
      };
      const p0 = createTask(party("p0"));
      const p1 = createTask(party("p1"));
      await settle();
      const p2 = createTask(async () => {
        await barrier.wait(); // completes round 1
        const again = barrier.wait(); // blocks: round 1 is still draining
        await barrier.reset(); // breaks p0 and p1, which have not left yet
        log.push(`p2 again ${await again}`);
      });
      await Promise.all([p0, p1]);
      expect(log).toEqual(["p0 BrokenBarrierError", "p1 BrokenBarrierError"]);
      await settle();
      expect(barrier.nWaiting).toBe(1); // p2 waits in the next round, not broken
      const rest = [createTask(party("p3")), createTask(party("p4"))];
      await Promise.all([p2, ...rest]);
      expect(log.slice(2).sort()).toEqual(["p2 again 0", "p3 1", "p4 2"]);
      expect(barrier.broken).toBe(false);
    });
  });

  it("parties broken by a reset can wait again and complete a round", async () => {
    await virtual(async () => {
      const barrier = new Barrier(N);
      const results1: boolean[] = [];
      const results2: boolean[] = [];
      const tasks = makeTasks(N - 1, async () => {
        try {
          await barrier.wait();
        } catch (e) {
          if (e instanceof BrokenBarrierError) results1.push(true);
        } finally {
          await barrier.wait();
          results2.push(true);
        }
      });
      await settle();
      createTask(() => barrier.reset());
      await settle();
      createTask(async () => {
        await barrier.wait();
        results2.push(true);
      });
      await Promise.all(tasks);
      await settle();
      expect(barrier.broken).toBe(false);
      expect(results1).toHaveLength(N - 1);
      expect(results2).toHaveLength(N);
      expect(barrier.nWaiting).toBe(0);
    });
  });

  it("a reset once every party has left does not break the next round", async () => {
    await virtual(async () => {
      const barrier = new Barrier(N);
      expect([...(await gatherTasks(N, () => barrier.wait()))].sort()).toEqual([0, 1, 2, 3, 4]);
      expect(barrier._count).toBe(0);
      await barrier.reset();
      expect(barrier.state).toBe("filling");
      expect([...(await gatherTasks(N, () => barrier.wait()))].sort()).toEqual([0, 1, 2, 3, 4]);
      expect(barrier.broken).toBe(false);
      expect(barrier.nWaiting).toBe(0);
    });
  });
});

describe("Barrier.abort", () => {
  it("breaks an empty barrier", async () => {
    await virtual(async () => {
      const barrier = new Barrier(1);
      createTask(() => barrier.abort());
      await settle();
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.broken).toBe(true);
      await expect(barrier.wait()).rejects.toBeInstanceOf(BrokenBarrierError);
    });
  });

  it("an abort by the party that completed the round breaks the others and every later wait", async () => {
    await virtual(async () => {
      const barrier = new Barrier(N);
      const log: string[] = [];
      await completerThen(barrier, log, () => barrier.abort());
      expect(log).toEqual(["returned 4", ...Array.from({ length: N - 1 }, () => "BrokenBarrierError")]);
      expect(barrier.broken).toBe(true);
      expect(barrier.nWaiting).toBe(0);
      await expect(barrier.wait()).rejects.toBeInstanceOf(BrokenBarrierError);
      expect(String(barrier)).toBe("Barrier [broken]");
    });
  });

  it("an abort after an error breaks every other party's next wait", async () => {
    await virtual(async () => {
      const barrier = new Barrier(N);
      const results1: boolean[] = [];
      const results2: boolean[] = [];
      await gatherTasks(N, () => failOneAndAbort(barrier, results1, results2));
      expect(barrier.broken).toBe(true);
      expect(results1).toHaveLength(0);
      expect(results2).toHaveLength(N - 1);
      expect(barrier.nWaiting).toBe(0);
    });
  });

  it("a reset after an abort makes the barrier usable again", async () => {
    await virtual(async () => {
      const barrier1 = new Barrier(N);
      const barrier2 = new Barrier(N);
      const results1: boolean[] = [];
      const results2: boolean[] = [];
      const results3: boolean[] = [];
      await gatherTasks(N, async () => {
        await failOneAndAbort(barrier1, results1, results2);
        const i = await barrier2.wait();
        if (i === Math.floor(N / 2)) await barrier1.reset();
        await barrier2.wait();
        await barrier1.wait();
        results3.push(true);
      });
      expect(barrier1.broken).toBe(false);
      expect(results1).toHaveLength(0);
      expect(results2).toHaveLength(N - 1);
      expect(results3).toHaveLength(N);
      expect(barrier1.nWaiting).toBe(0);
    });
  });
});

describe("Barrier with an AbortSignal", () => {
  it("an already aborted signal rejects at once and does not count as an arrival", async () => {
    await virtual(async () => {
      const barrier = new Barrier(2);
      await expect(barrier.wait({ signal: AbortSignal.abort("no") })).rejects.toBe("no");
      expect(barrier.nWaiting).toBe(0);
      await expect(barrier.reset({ signal: AbortSignal.abort("no") })).rejects.toBe("no");
    });
  });

  it("aborting later withdraws the party from the round and removes the listener", async () => {
    await virtual(async () => {
      const barrier = new Barrier(2);
      const ac = new AbortController();
      const first = barrier.wait({ signal: ac.signal });
      await settle();
      expect(barrier.nWaiting).toBe(1);
      ac.abort("left");
      await expect(first).rejects.toBe("left");
      expect(barrier.nWaiting).toBe(0);
      expect(abortListeners(ac.signal)).toBe(0);
      expect(barrier.broken).toBe(false);
      const [a, b] = await Promise.all([barrier.wait(), barrier.wait()]);
      expect([a, b]).toEqual([0, 1]);
    });
  });

  it("works in plain async code on the default loop", async () => {
    const barrier = new Barrier(3);
    expect(await Promise.all([barrier.wait(), barrier.wait(), barrier.wait()])).toEqual([0, 1, 2]);
  });

  it("a party cancelled in the very step its round completes throws CancelledError, the others return, and the barrier refills", async () => {
    await virtual(async () => {
      const barrier = new Barrier(3);
      const log: string[] = [];
      const party = (name: string) =>
        createTask(async () => {
          try {
            log.push(`${name} ${await barrier.wait()}`);
          } catch (e) {
            log.push(`${name} ${(e as Error).name}`);
            throw e;
          }
        });
      const a = party("a");
      const b = party("b");
      await settle();
      // Cancel a right after the last arrival wakes the round, before a resumes.
      const cond = barrier._cond;
      const notifyAll = cond.notifyAll.bind(cond);
      cond.notifyAll = () => {
        notifyAll();
        if (barrier.state === "draining" && !a.done()) a.cancel();
      };
      log.push(`main ${await barrier.wait()}`);
      await Promise.allSettled([a, b]);
      expect(a.cancelled()).toBe(true);
      expect(log.sort()).toEqual(["a CancelledError", "b 1", "main 2"]);
      expect(barrier.state).toBe("filling");
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.broken).toBe(false);
    });
  });

  it("a party cancelled after the round completed but before it resumed ends cancelled and the barrier refills", async () => {
    await virtual(async () => {
      const barrier = new Barrier(2);
      const first = createTask(() => barrier.wait());
      await settle();
      const second = barrier.wait();
      getRunningLoop().callSoon(() => first.cancel());
      expect(await second).toBe(1);
      expect(["value 0", "CancelledError"]).toContain(await outcome(first));
      await settle();
      expect(barrier.state).toBe("filling");
      expect(barrier.nWaiting).toBe(0);
    });
  });
});

describe("Barrier release order", () => {
  it("parties released together go on one loop iteration each, in the order they arrived, after the party that completed the round", async () => {
    await virtual(async () => {
      const barrier = new Barrier(4);
      const log: string[] = [];
      const party = (name: string) =>
        createTask(async () => {
          await barrier.wait();
          log.push(`${name} out, count ${barrier._count}`);
          // Each party's own code runs to its next wait before the next party leaves.
          await Promise.resolve();
          log.push(`${name} still first`);
        });
      const tasks = ["a", "b", "c", "d"].map(party);
      // A plain callback scheduled before the round completes runs between the turns.
      let iteration = 0;
      const tick = () => {
        iteration++;
        log.push(`iteration ${iteration}`);
        if (iteration < 4) getRunningLoop().callSoon(tick);
      };
      getRunningLoop().callSoon(tick);
      await Promise.all(tasks);
      // The tasks start in the iteration of the first tick, d last, completing the round and
      // going on in its own step, before the tick (as in asyncio).
      expect(log).toEqual([
        "d out, count 3",
        "d still first",
        "iteration 1",
        "a out, count 2",
        "a still first",
        "iteration 2",
        "b out, count 1",
        "b still first",
        "iteration 3",
        "c out, count 0",
        "c still first",
        // c's end reaches the awaiting Promise.all after the tick c's iteration queued (asyncio too).
        "iteration 4",
      ]);
    });
  });

  it("a released party's turn runs its code to its end before the callbacks queued after the turn (CPython 3.13 order)", async () => {
    await virtual(async () => {
      const barrier = new Barrier(2);
      const log: string[] = [];
      const a = createTask(async () => {
        await barrier.wait();
        log.push("a passed");
      });
      const b = createTask(async () => {
        await barrier.wait();
        log.push("b passed");
        getRunningLoop().callSoon(() => log.push(`callback: a done ${a.done()}`));
      });
      await Promise.all([a, b]);
      await sleep(1);
      expect(log).toEqual(["b passed", "a passed", "callback: a done true"]);
    });
  });

  it("a released party leaves before the releaser's next loop step (its turn is taken when it is woken), so an abort after sleep(0) does not break it", async () => {
    await virtual(async () => {
      const barrier = new Barrier(2);
      const waiter = createTask(() => barrier.wait());
      const releaser = createTask(async () => {
        const index = await barrier.wait();
        await sleep(0);
        await barrier.abort();
        return index;
      });
      // asyncio gives the same: the woken party's step was scheduled before the sleep(0).
      expect(await waiter).toBe(0);
      expect(await releaser).toBe(1);
      expect(barrier.broken).toBe(true);
    });
  });
});
