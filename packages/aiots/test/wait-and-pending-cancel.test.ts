/*
 * Three corners of `wait` and of a pending cancel that no other test pins, each checked
 * against CPython 3.13's asyncio (which behaves as 3.14 here) with a script of the same shape:
 *
 * 1. Two `wait()` calls in two tasks, triggered in one loop iteration: the order in which the
 *    waiting tasks resume, relative to each other and to the iteration's other callbacks (a
 *    `callSoon` ticker, a task doing `sleep(0)`), and the done/pending sets each one sees.
 * 2. A `wait()` whose task is cancelled (or whose `signal` aborts) between the trigger (a
 *    waited future completing) and the report (the sets delivered, one loop step later).
 * 3. A task with a cancel pending (made while it awaited a plain promise, or by itself while
 *    it runs: asyncio's `_must_cancel`) whose next aiots await is `gather([u])` or `shield(u)`.
 *
 * The expected logs are CPython's, word for word (True/False written true/false), except where
 * a comment says otherwise. asyncio.wait has no `signal`: those tests pin aiots' own behaviour
 * (wait's documentation: aborting it ends the wait with the signal's reason, children run on).
 */
import { describe, expect, it } from "vitest";
import { ALL_COMPLETED, CancelledError, FIRST_COMPLETED, Future, VirtualTimeLoop, createTask, currentTask, gather, getRunningLoop, run, shield, sleep, wait } from "aiots";
import type { ReturnWhen, Task } from "aiots";

const vrun = <T>(fn: () => Promise<T>): Promise<T> => run(fn, { loop: new VirtualTimeLoop() });
const describeError = (e: unknown): string => `${(e as Error).name}(${(e as Error).message})`;

describe("two wait() calls in two tasks, triggered in the same loop iteration", () => {
  interface Shape {
    /** The futures A and B wait on, and how. */
    a: { on: string[]; returnWhen: ReturnWhen };
    b: { on: string[]; returnWhen: ReturnWhen };
    /** The futures one loop callback completes, in this order. */
    trigger: string[];
    /** Completes x from the ticker's second run, the iteration between the trigger and the report. */
    xAtTick1?: boolean;
  }

  /**
   * A and B wait; then, queued in this order: the trigger callback, the first step of a task C
   * doing sleep(0) five times, and a ticker that re-queues itself with `callSoon` six times.
   */
  async function resumeOrder(shape: Shape): Promise<string[]> {
    const log: string[] = [];
    await vrun(async () => {
      const loop = getRunningLoop();
      const futures = new Map<string, Future<number>>([
        ["f", new Future<number>()],
        ["g", new Future<number>()],
        ["x", new Future<number>()],
      ]);
      const named = (s: Set<Future<number>>) =>
        [...futures].filter(([, fut]) => s.has(fut)).map(([name]) => name).join(",");
      const waiter = async (name: string, on: string[], returnWhen: ReturnWhen) => {
        const { done, pending } = await wait(on.map((n) => futures.get(n)!), { returnWhen });
        log.push(`${name} done=${named(done)} pending=${named(pending)}`);
        await sleep(0);
        log.push(`${name} after sleep0`);
      };
      let n = 0;
      const tick = () => {
        log.push(`tick${n}`);
        n++;
        if (n === 2 && shape.xAtTick1 === true) futures.get("x")!.setResult(3);
        if (n < 6) loop.callSoon(tick);
      };
      const a = createTask(() => waiter("A", shape.a.on, shape.a.returnWhen));
      const b = createTask(() => waiter("B", shape.b.on, shape.b.returnWhen));
      await sleep(0); // both are waiting now
      loop.callSoon(() => {
        log.push("trigger");
        for (const name of shape.trigger) futures.get(name)!.setResult(1);
      });
      const c = createTask(async () => {
        for (let i = 0; i < 5; i++) {
          log.push(`C${i}`);
          await sleep(0);
        }
      });
      loop.callSoon(tick);
      await gather([a, b, c]);
      if (!futures.get("x")!.done()) futures.get("x")!.cancel();
    });
    return log;
  }

  /**
   * The log every shape gives around the two reports: the trigger's iteration, the one
   * between, then the two waiters' reports and their lines after `sleep(0)`, in that order.
   */
  const withReports = (reports: [string, string], afterSleep: [string, string]): string[] => [
    "trigger", "C0", "tick0",
    "C1", "tick1",
    ...reports, "C2", "tick2",
    ...afterSleep, "C3", "tick3",
    "C4", "tick4",
    "tick5",
  ];

  it("waits on two futures one callback completes: A then B resume two iterations after the trigger, each before that iteration's sleep(0) task and ticker, with the sets made as it resumes (as asyncio)", async () => {
    const log = await resumeOrder({
      a: { on: ["f", "x"], returnWhen: FIRST_COMPLETED },
      b: { on: ["g", "f"], returnWhen: ALL_COMPLETED },
      trigger: ["f", "g"],
    });
    // CPython: the same list.
    expect(log).toEqual(withReports(["A done=f pending=x", "B done=f,g pending="], ["A after sleep0", "B after sleep0"]));
  });

  it("waits on the same future: the two waiters resume in the order their waits were hooked on it, in the same iteration and at the same place (as asyncio)", async () => {
    const log = await resumeOrder({
      a: { on: ["f", "x"], returnWhen: FIRST_COMPLETED },
      b: { on: ["f"], returnWhen: ALL_COMPLETED },
      trigger: ["f"],
    });
    // CPython: the same list.
    expect(log).toEqual(withReports(["A done=f pending=x", "B done=f pending="], ["A after sleep0", "B after sleep0"]));
  });

  it("the wait triggered first resumes first, not the task created first, and a wait sees every future that completed in the trigger's callback (as asyncio)", async () => {
    const log = await resumeOrder({
      a: { on: ["f", "x"], returnWhen: FIRST_COMPLETED },
      b: { on: ["g", "f"], returnWhen: FIRST_COMPLETED },
      trigger: ["g", "f"],
    });
    // CPython: the same list.
    expect(log).toEqual(withReports(["B done=f,g pending=", "A done=f pending=x"], ["B after sleep0", "A after sleep0"]));
  });

  it("a future completed in the iteration between the trigger and the report is in done, not pending (as asyncio)", async () => {
    const log = await resumeOrder({
      a: { on: ["f", "x"], returnWhen: FIRST_COMPLETED },
      b: { on: ["g", "f"], returnWhen: ALL_COMPLETED },
      trigger: ["f", "g"],
      xAtTick1: true,
    });
    // CPython: the same list.
    expect(log).toEqual(withReports(["A done=f,x pending=", "B done=f,g pending="], ["A after sleep0", "B after sleep0"]));
  });
});

describe("wait() cancelled or aborted between the trigger and the report", () => {
  /**
   * Where the cancel (or abort) is made, the trigger callback completing f being iteration N:
   * - "in the trigger's callback": right after f.setResult, before f's done callbacks run;
   * - "after the trigger": in N+1, queued behind f's done callbacks (wait's own, then a later
   *   one that logs): the wait has seen its condition met, its report is queued for N+2
   *   (asyncio: its waiter future is done, so the cancel sets _must_cancel);
   * - "in the report's iteration": in N+2, queued before the report (asyncio: before the
   *   task's wake-up, again with _must_cancel).
   */
  type Window = "in the trigger's callback" | "after the trigger" | "in the report's iteration";
  const windows: Window[] = ["in the trigger's callback", "after the trigger", "in the report's iteration"];

  /** Queues the trigger callback, which completes `f`, and runs `interrupt` in `window`. */
  function inWindow(window: Window, f: Future<number>, interrupt: () => void): void {
    const loop = getRunningLoop();
    loop.callSoon(() => {
      if (window === "in the report's iteration") loop.callSoon(() => loop.callSoon(interrupt));
      f.setResult(1);
      if (window === "in the trigger's callback") interrupt();
      if (window === "after the trigger") loop.callSoon(interrupt);
    });
  }

  async function cancelled(window: Window, swallow: boolean): Promise<string[]> {
    const log: string[] = [];
    await vrun(async () => {
      const f = new Future<number>();
      const x = new Future<number>();
      const t = createTask(async () => {
        try {
          const { done, pending } = await wait([f, x], { returnWhen: FIRST_COMPLETED });
          log.push(`returned done=${done.size} pending=${pending.size}`);
        } catch (e) {
          log.push(`threw ${describeError(e)} cancelling=${currentTask()!.cancelling()}`);
          if (!swallow) throw e;
        }
        await sleep(0);
        log.push("slept");
        return "went on";
      });
      await sleep(0); // t waits
      f.addDoneCallback(() => log.push("f's later done callback"));
      inWindow(window, f, () => log.push(`cancel() -> ${t.cancel("stop")}`));
      try {
        log.push(`t=${await t}`);
      } catch (e) {
        expect(e).toBeInstanceOf(CancelledError);
      }
      log.push(`t.cancelled=${t.cancelled()} t.cancelling=${t.cancelling()} f.result=${f.result()} f.cancelled=${f.cancelled()} x.done=${x.done()}`);
      x.setResult(2); // still usable: nothing cancelled it
      await sleep(0);
      log.push(`x.result=${x.result()}`);
    });
    return log;
  }

  /** Where the cancel falls relative to f's done callbacks. */
  const firstLines = (window: Window): string[] =>
    window === "in the trigger's callback" ? ["cancel() -> true", "f's later done callback"] : ["f's later done callback", "cancel() -> true"];

  for (const window of windows) {
    it(`task.cancel() ${window}: the await throws that CancelledError, cancelling() is 1, the task ends cancelled, and the waited futures are not cancelled and keep their results (as asyncio)`, async () => {
      const log = await cancelled(window, false);
      // CPython: the same list.
      expect(log).toEqual([
        ...firstLines(window),
        "threw CancelledError(stop) cancelling=1",
        "t.cancelled=true t.cancelling=1 f.result=1 f.cancelled=false x.done=false",
        "x.result=2",
      ]);
    });
  }

  it("a task that catches such a cancel goes on: its next await does not throw again, it returns its value, and cancelling() stays 1 (as asyncio)", async () => {
    for (const window of windows) {
      const log = await cancelled(window, true);
      // CPython: the same list.
      expect(log, window).toEqual([
        ...firstLines(window),
        "threw CancelledError(stop) cancelling=1",
        "slept",
        "t=went on",
        "t.cancelled=false t.cancelling=1 f.result=1 f.cancelled=false x.done=false",
        "x.result=2",
      ]);
    }
  });

  it("of two waits on one future, the task that resumes first can cancel the other, whose wait throws though its report was already queued (as asyncio, where that cancel sets _must_cancel)", async () => {
    const log: string[] = [];
    await vrun(async () => {
      const fut = new Future<number>();
      let b!: Task<void>;
      const a = createTask(async () => {
        await wait([fut]);
        log.push(`A resumed, cancel(B) -> ${b.cancel("by A")}`);
      });
      b = createTask(async () => {
        try {
          await wait([fut]);
          log.push("B returned");
        } catch (e) {
          log.push(`B threw ${describeError(e)} cancelling=${currentTask()!.cancelling()}`);
          throw e;
        }
      });
      await sleep(0);
      getRunningLoop().callSoon(() => fut.setResult(1));
      await a;
      await expect(b).rejects.toBeInstanceOf(CancelledError);
      log.push(`b.cancelled=${b.cancelled()} f=${fut.result()}`);
    });
    // CPython: the same list.
    expect(log).toEqual(["A resumed, cancel(B) -> true", "B threw CancelledError(by A) cancelling=1", "b.cancelled=true f=1"]);
  });

  for (const window of windows) {
    it(`signal aborted ${window}: the await throws the abort reason, the task is not cancelled (cancelling() 0), and the waited futures are untouched`, async () => {
      const log: string[] = [];
      await vrun(async () => {
        const f = new Future<number>();
        const x = new Future<number>();
        const controller = new AbortController();
        const reason = new RangeError("aborted");
        const t = createTask(async () => {
          try {
            await wait([f, x], { returnWhen: FIRST_COMPLETED, signal: controller.signal });
            log.push("returned");
          } catch (e) {
            expect(e).toBe(reason);
            log.push(`threw ${describeError(e)} cancelling=${currentTask()!.cancelling()}`);
          }
          return "went on";
        });
        await sleep(0);
        inWindow(window, f, () => {
          controller.abort(reason);
          log.push("aborted");
        });
        log.push(`t=${await t}`);
        log.push(`t.cancelled=${t.cancelled()} t.cancelling=${t.cancelling()} f.result=${f.result()} f.cancelled=${f.cancelled()} x.done=${x.done()}`);
        x.setResult(2);
        expect(await x).toBe(2);
      });
      // No asyncio counterpart; the same outcome as the cancel, but with the reason and no cancel counted.
      expect(log).toEqual([
        "aborted",
        "threw RangeError(aborted) cancelling=0",
        "t=went on",
        "t.cancelled=false t.cancelling=0 f.result=1 f.cancelled=false x.done=false",
      ]);
    });
  }
});

describe("a task with a cancel pending whose next aiots await is gather([u]) or shield(u)", () => {
  /**
   * "plain": the task is cancelled while it awaits a plain promise (a loop callback resolves it
   * afterwards), so the cancel waits for its next aiots await. "self": the task cancels itself
   * while it runs, the shape of asyncio's _must_cancel that CPython's script uses (a cancel
   * made while an asyncio task is queued to resume lands at the await it resumes from instead).
   */
  type How = "plain" | "self";

  async function pendingCancel(kind: "gather" | "shield", how: How, uSwallows = false): Promise<{ log: string[]; error: unknown }> {
    const log: string[] = [];
    let error: unknown;
    await vrun(async () => {
      const loop = getRunningLoop();
      const gate = new Future<void>();
      const u = createTask(async () => {
        try {
          await gate;
          log.push("u finished");
          return "u value";
        } catch (e) {
          log.push(`u threw ${describeError(e)}`);
          if (uSwallows) return "u swallowed";
          throw e;
        } finally {
          log.push("u finally");
        }
      });
      await sleep(0); // u waits on gate
      let release!: () => void;
      const t = createTask(async () => {
        const me = currentTask()!;
        if (how === "self") me.cancel("pending");
        else await new Promise<void>((resolve) => (release = resolve));
        try {
          const r = await (kind === "gather" ? gather([u]) : shield(u));
          log.push(`t got ${String(r)}`);
        } catch (e) {
          log.push(`t threw ${(e as Error).name} cancelling=${me.cancelling()} u.done=${u.done()}`);
          throw e;
        }
      });
      if (how === "plain") {
        await sleep(0); // t awaits the plain promise
        expect(t.cancel("pending")).toBe(true);
        loop.callSoon(() => release());
      }
      try {
        await t;
      } catch (e) {
        error = e;
      }
      log.push(`t.cancelled=${t.cancelled()} t.cancelling=${t.cancelling()}`);
      if (!u.done()) gate.setResult();
      try {
        log.push(`u result ${await u}`);
      } catch {
        log.push(`u.cancelled=${u.cancelled()}`);
      }
    });
    return { log, error };
  }

  for (const how of ["plain", "self"] as const) {
    it(`gather (cancel ${how === "plain" ? "pending from a plain-promise await" : "made by the task itself"}): u is cancelled with the pending cancel's message, its finally runs once, and the task throws that CancelledError once u is done (as asyncio)`, async () => {
      const { log, error } = await pendingCancel("gather", how);
      expect(error).toBeInstanceOf(CancelledError);
      expect((error as Error).message).toBe("pending");
      // CPython: the same list.
      expect(log).toEqual([
        "u threw CancelledError(pending)",
        "u finally",
        "t threw CancelledError cancelling=1 u.done=true",
        "t.cancelled=true t.cancelling=1",
        "u.cancelled=true",
      ]);
    });

    it(`shield (cancel ${how === "plain" ? "pending from a plain-promise await" : "made by the task itself"}): the task throws CancelledError at once, and u runs on to its value, its finally once (as asyncio)`, async () => {
      const { log, error } = await pendingCancel("shield", how);
      expect(error).toBeInstanceOf(CancelledError);
      expect((error as Error).message).toBe("pending");
      // CPython: the same list.
      expect(log).toEqual([
        "t threw CancelledError cancelling=1 u.done=false",
        "t.cancelled=true t.cancelling=1",
        "u finished",
        "u finally",
        "u result u value",
      ]);
    });
  }

  it("gather, with u swallowing the cancel it got: u keeps its value, its finally runs once, and the task still ends cancelled (as asyncio)", async () => {
    for (const how of ["plain", "self"] as const) {
      const { log, error } = await pendingCancel("gather", how, true);
      // The error's message is not pinned: aiots gives the cancel's ("pending"), CPython's
      // gather an empty one (its CancelledError is made from u, whose cancel was swallowed).
      expect(error, how).toBeInstanceOf(CancelledError);
      // CPython: the same lines.
      expect(log, how).toEqual([
        "u threw CancelledError(pending)",
        "u finally",
        "t threw CancelledError cancelling=1 u.done=true",
        "t.cancelled=true t.cancelling=1",
        "u result u swallowed",
      ]);
    }
  });
});
