/**
 * Task cancellation under interleavings that fast-check's scheduler picks: trees of tasks
 * whose steps await plain promises the scheduler releases, `sleep(0)`, futures a scheduled
 * function resolves (awaited directly, through `then`, or shared by several tasks), child
 * tasks, `Promise.all` of both kinds and sleeps given the task's signal, and cancel random tasks:
 * at once, from a step of one of them, or when the scheduler releases the cancel (often
 * between a future's resolution and the awaiting task's resumption, or while the task
 * awaits a plain promise). The checks are the ones asyncio's model makes:
 * - a cancelled task whose code then starts an aiots await of a pending future throws
 *   there, so it ends cancelled;
 * - a task ends cancelled only if it was cancelled, or an awaited child was, or a future it
 *   shared with a cancelled task;
 * - `signal` is aborted as soon as `cancel()` returns true;
 * - cancelling a task that awaits a pending child task cancels the child too;
 * - every `finally` of a started function runs exactly once, no function runs after a
 *   cancel that came before its first step, and everything ends (nothing hangs).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Future, VirtualTimeLoop, createTask, currentTask, isCancelledError, run, sleep } from "aiots";
import type { Task } from "aiots";

const RUNS = Number(process.env.RUNS ?? 1000);

type Step =
  | { kind: "plain" }
  | { kind: "sleep0" }
  | { kind: "future" }
  | { kind: "all" }
  | { kind: "child"; steps: Step[] }
  /** Awaits one of a few futures that several tasks may share, released by the scheduler. */
  | { kind: "shared"; which: number }
  /** Awaits a plain promise that `then` derived from a future the scheduler resolves. */
  | { kind: "then" }
  /** `sleep(1)` given the task's own `signal`: a cancel both cancels and aborts it. */
  | { kind: "signalSleep" }
  /** Cancels a task picked by index (modulo) among all made so far: now, or when the scheduler says. */
  | { kind: "cancel"; pick: number; now: boolean };

const leaf = fc.oneof(
  fc.constantFrom<Step>({ kind: "plain" }, { kind: "sleep0" }, { kind: "future" }, { kind: "all" }, { kind: "then" }, { kind: "signalSleep" }),
  fc.record({ kind: fc.constant("shared" as const), which: fc.nat(2) }),
  fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat(40), now: fc.boolean() }),
);
const stepsArb: fc.Arbitrary<Step[]> = fc.letrec<{ steps: Step[]; step: Step }>((tie) => ({
  step: fc.oneof({ depthSize: "small", withCrossShrink: true }, leaf, leaf, leaf, fc.record({ kind: fc.constant("child" as const), steps: tie("steps") })),
  steps: fc.array(tie("step"), { maxLength: 4 }),
})).steps;

const scenarioArb = fc.record({
  roots: fc.array(stepsArb, { minLength: 1, maxLength: 4 }),
  // Cancels from outside the tree: after some loop iterations, each released by the scheduler.
  cancels: fc.array(fc.record({ pick: fc.nat(40), iterations: fc.nat(4) }), { maxLength: 4 }),
  // Which tasks start eagerly (bit `id % 30`): their first step runs inside `createTask`.
  eagerBits: fc.integer({ min: 0, max: 2 ** 30 - 1 }),
});

/** What the run records of one task. */
interface Record {
  task: Task<number> | undefined;
  started: boolean;
  finallies: number;
  /** Whether `cancel()` on it returned true. */
  cancelled: boolean;
  /** Whether that happened before its function started. */
  cancelledBeforeStart: boolean;
  /** Whether it started awaiting `sleep(0)` after a `cancel()` of it returned true. */
  sleptAfterCancel: boolean;
  /** Whether an await of a child task threw because that child ended cancelled. */
  childCancelled: boolean;
  /** Whether an await of a shared future threw because another awaiter's cancel ended it. */
  sharedCancelled: boolean;
  /** The child it awaits now, if any. */
  awaiting: Record | undefined;
  /** Whether its function has finished (its `finally` ran): the task is as good as done. */
  finished: boolean;
}

describe("task cancellation under scheduler-picked interleavings", () => {
  it("keeps asyncio's cancellation rules whatever the order", async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), scenarioArb, async (s, scenario) => {
        const records: Record[] = [];
        const violations: string[] = [];

        /** Calls `fn` when the scheduler releases it. */
        const later = (label: string, fn: () => void): void => {
          void s.schedule(Promise.resolve(label), label).then(fn);
        };

        /** A future the scheduler resolves with `value` (unless it was cancelled first). */
        const resolvedLater = (label: string, value: number): Future<number> => {
          const f = new Future<number>();
          later(label, () => {
            if (!f.done()) f.setResult(value);
          });
          return f;
        };

        const spawn = (steps: Step[]): Record => {
          const rec: Record = { task: undefined, started: false, finallies: 0, cancelled: false, cancelledBeforeStart: false, sleptAfterCancel: false, childCancelled: false, sharedCancelled: false, awaiting: undefined, finished: false };
          const id = records.length;
          records.push(rec);
          const eagerStart = ((scenario.eagerBits >> (id % 30)) & 1) === 1;
          rec.task = createTask(async () => {
            rec.started = true;
            if (rec.cancelledBeforeStart) violations.push(`task ${id} ran its function after a cancel that came before its first step`);
            try {
              for (const step of steps) await runStep(rec, step);
              return id;
            } finally {
              rec.finallies++;
              rec.finished = true;
            }
          }, { eagerStart });
          return rec;
        };

        const runStep = async (rec: Record, step: Step): Promise<void> => {
          switch (step.kind) {
            case "plain":
              await s.schedule(Promise.resolve(0), "plain hop");
              return;
            case "sleep0":
              if (rec.cancelled) rec.sleptAfterCancel = true;
              await sleep(0);
              return;
            case "future":
              await resolvedLater("resolve future", 1);
              return;
            case "all":
              await Promise.all([resolvedLater("resolve future in all", 2), s.schedule(Promise.resolve(3), "plain hop in all")]);
              return;
            case "shared": {
              const f = shared[step.which]!;
              try {
                await f;
              } catch (error) {
                // Cancelling a task cancels the future it awaits, for every awaiter (asyncio).
                if (f.cancelled() && !rec.cancelled) rec.sharedCancelled = true;
                throw error;
              }
              return;
            }
            case "then":
              await resolvedLater("resolve future behind then", 4).then((x) => x + 1);
              return;
            case "signalSleep":
              if (rec.cancelled) rec.sleptAfterCancel = true;
              await sleep(1, undefined, { signal: currentTask()!.signal });
              return;
            case "cancel":
              if (step.now) cancelOne(step.pick);
              else later(`cancel #${step.pick}`, () => cancelOne(step.pick));
              return;
            case "child": {
              const child = spawn(step.steps);
              rec.awaiting = child;
              try {
                await child.task;
              } catch (error) {
                if (child.task!.cancelled()) rec.childCancelled = true;
                throw error;
              } finally {
                rec.awaiting = undefined;
              }
              return;
            }
          }
        };

        const cancelOne = (pick: number): void => {
          if (records.length === 0) return;
          const rec = records[pick % records.length]!;
          const task = rec.task;
          // (An eager task's first step runs before `createTask` returns it.)
          if (task === undefined) return;
          // (A child whose function has finished only waits for the microtask that records its
          // outcome: asyncio's would be done, and a cancel no longer reaches it.)
          const child = rec.awaiting;
          const childPending = child !== undefined && !child.task!.done() && !child.finished;
          // (Half the time the signal is made before the cancel, half the time after it.)
          const early = pick % 2 === 0 ? task.signal : undefined;
          if (!task.cancel()) return;
          rec.cancelled = true;
          if (!rec.started) rec.cancelledBeforeStart = true;
          if (!(early ?? task.signal).aborted) violations.push("signal not aborted right after cancel() returned true");
          if (childPending && !child.task!.done() && child.task!.cancelling() === 0) violations.push("cancelling a task did not cancel the child task it awaits");
        };

        const shared: Future<number>[] = [];
        const scenario$ = run(
          async () => {
            for (let i = 0; i < 3; i++) shared.push(resolvedLater(`resolve shared future ${i}`, 10 + i));
            for (const steps of scenario.roots) spawn(steps);
            const outside = (async () => {
              for (const { pick, iterations } of scenario.cancels) {
                for (let i = 0; i < iterations; i++) await sleep(0);
                later(`cancel #${pick} from outside`, () => cancelOne(pick));
              }
            })();
            // Every task, those made later by their parents included, is awaited to the end.
            for (let seen = 0; seen < records.length; seen++) await Promise.allSettled([records[seen]!.task!]);
            await outside;
          },
          { loop: new VirtualTimeLoop() },
        );
        await s.waitFor(scenario$);

        records.forEach((rec, id) => {
          const task = rec.task!;
          expect(task.done(), `task ${id} done`).toBe(true);
          if (rec.started) expect(rec.finallies, `finally blocks of task ${id}`).toBe(1);
          else expect(task.cancelled(), `task ${id} never started, so it was cancelled`).toBe(true);
          if (rec.sleptAfterCancel) expect(task.cancelled(), `task ${id} awaited sleep(0) after a cancel`).toBe(true);
          if (task.cancelled()) {
            expect(rec.cancelled || rec.childCancelled || rec.sharedCancelled || task.cancelling() > 0, `task ${id} ended cancelled without a cancel`).toBe(true);
          } else if (task.exception() === null) {
            expect(task.result()).toBe(id);
          } else {
            // Only a cancelled child's error escapes a body, and that ends the task cancelled.
            expect.fail(`task ${id} failed with ${String(task.exception())}`);
          }
          if (task.cancelled()) expect(isCancelledError(cancelledError(task)), `task ${id} throws CancelledError`).toBe(true);
        });
        expect(violations).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  }, 60_000);
});

function cancelledError(task: Task<number>): unknown {
  try {
    task.result();
  } catch (error) {
    return error;
  }
  return undefined;
}
