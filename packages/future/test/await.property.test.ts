import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isCancelledError } from "@aiots/core";
import { VirtualTimeLoop, run } from "@aiots/loop";
import { Future, createTask } from "@aiots/future";
import type { Task } from "@aiots/future";

/**
 * Many consumers of one Future, each taking it up a different way (a task's `await`, the
 * same through `Promise.all` or `Promise.race`, a task's `then`, plain code's `await` and
 * `then`), while the future is settled and consumer tasks are cancelled at random
 * microtask offsets. Whatever the order: every consumer ends, each gets the future's own
 * outcome or a `CancelledError` it has a reason for, a task never cancelled gets the
 * outcome, and nothing is reported as an unhandled rejection.
 */
type Kind = "task-await" | "task-all" | "task-race" | "task-then" | "plain-await" | "plain-then";
type Settle = "result" | "error" | "cancel";

interface Scenario {
  consumers: { kind: Kind; delay: number }[];
  settle: { how: Settle; at: number };
  cancels: { consumer: number; at: number }[];
}

const kindArb = fc.constantFrom<Kind>("task-await", "task-all", "task-race", "task-then", "plain-await", "plain-then");
const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  consumers: fc.array(fc.record({ kind: kindArb, delay: fc.integer({ min: 0, max: 4 }) }), { minLength: 1, maxLength: 6 }),
  settle: fc.record({ how: fc.constantFrom<Settle>("result", "error", "cancel"), at: fc.integer({ min: 0, max: 8 }) }),
  cancels: fc.array(fc.record({ consumer: fc.nat(5), at: fc.integer({ min: 0, max: 10 }) }), { maxLength: 4 }),
});

/** Runs `fn` after `n` microtask turns. */
function afterTurns(n: number, fn: () => void): void {
  let p = Promise.resolve();
  for (let i = 0; i < n; i++) p = p.then();
  void p.then(fn);
}

const NEVER = new Promise<never>(() => {});
const VALUE = { answer: 42 };

type Got = { ok: true; value: unknown } | { ok: false; error: unknown };

async function runScenario(sc: Scenario): Promise<string[]> {
  const violations: string[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    const failure = new Error("settled with an error");
    const got: (Got | undefined)[] = sc.consumers.map(() => undefined);
    const tasks: (Task<unknown> | undefined)[] = sc.consumers.map(() => undefined);
    const cancelled = new Set<number>();
    await run(
      async () => {
        const fut = new Future<typeof VALUE>();
        const record = (i: number, p: PromiseLike<unknown>): Promise<void> =>
          Promise.resolve(p).then(
            (value) => void (got[i] = { ok: true, value }),
            (error: unknown) => void (got[i] = { ok: false, error }),
          );
        const ends: Promise<void>[] = [];
        sc.consumers.forEach(({ kind, delay }, i) => {
          const start = () => {
            if (kind === "plain-await" || kind === "plain-then") {
              // Plain code, outside any task: started from a host callback made outside the loop's tasks.
              ends.push(
                new Promise<void>((done) => {
                  setImmediate(() => {
                    const p = kind === "plain-await" ? (async () => await fut)() : fut.then((v) => v);
                    void record(i, p).then(done);
                  });
                }),
              );
              return;
            }
            const task = createTask(async () => {
              if (kind === "task-await") return await fut;
              if (kind === "task-all") return (await Promise.all([fut]))[0];
              if (kind === "task-race") return await Promise.race([fut, NEVER]);
              return await new Promise((resolve, reject) => void fut.then(resolve, reject));
            });
            tasks[i] = task;
            ends.push(record(i, task));
          };
          afterTurns(delay, start);
        });
        afterTurns(sc.settle.at, () => {
          if (sc.settle.how === "result") fut.setResult(VALUE);
          else if (sc.settle.how === "error") fut.setException(failure);
          else fut.cancel();
        });
        for (const { consumer, at } of sc.cancels) {
          afterTurns(at, () => {
            const task = tasks[consumer];
            if (task !== undefined && task.cancel()) cancelled.add(consumer);
          });
        }
        // Let every start and every cancel happen, then wait for every consumer.
        for (let i = 0; i < 20; i++) await Promise.resolve();
        await new Promise((r) => setImmediate(r));
        await Promise.all(ends);
      },
      { loop: new VirtualTimeLoop() },
    );
    sc.consumers.forEach(({ kind }, i) => {
      const g = got[i];
      const tag = `consumer ${i} (${kind})`;
      if (g === undefined) {
        violations.push(`${tag}: never ended`);
        return;
      }
      if (g.ok) {
        if (sc.settle.how !== "result" || g.value !== VALUE) violations.push(`${tag}: got a value the future never had`);
        return;
      }
      if (isCancelledError(g.error)) {
        if (sc.settle.how !== "cancel" && !cancelled.has(i)) violations.push(`${tag}: CancelledError without a cancel`);
        return;
      }
      if (g.error !== failure) violations.push(`${tag}: failed with ${String(g.error)}`);
      else if (sc.settle.how !== "error") violations.push(`${tag}: got an error the future never had`);
    });
    sc.consumers.forEach(({ kind }, i) => {
      const g = got[i];
      if (!cancelled.has(i) && sc.settle.how === "result" && g !== undefined && !g.ok) {
        violations.push(`consumer ${i} (${kind}): not cancelled, yet did not get the result`);
      }
    });
    await new Promise((r) => setImmediate(r));
    if (unhandled.length > 0) violations.push(`unhandled rejections: ${unhandled.map(String).join(", ")}`);
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
  return violations;
}

describe("one future, many consumers, random settles and cancels", () => {
  it("every consumer ends with the future's outcome or a CancelledError it has a reason for", async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (sc) => {
        expect(await runScenario(sc)).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });
});
