import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isCancelledError } from "@aiots/core";
import { VirtualTimeLoop, getRunningLoop, run } from "@aiots/loop";
import { Task, allTasks, createTask, currentTask, sleep } from "@aiots/future";

/**
 * One task of a random tree. It sleeps `ms`, then starts its children and waits for them
 * as `mode` says: all at once (`Promise.all`), one after the other, or not at all
 * (detached: they run on by themselves). A `swallow` task catches a CancelledError and
 * returns; a `cancelAtBirth` task is cancelled by its parent right after it is created.
 */
interface NodeSpec {
  parent: number; // -1: started by the main task
  ms: number;
  mode: "all" | "sequential" | "detached";
  swallow: boolean;
  cancelAtBirth: boolean;
}

interface CancelOp {
  at: number;
  node: number;
}

const nodeArb = (i: number): fc.Arbitrary<NodeSpec> =>
  fc.record({
    parent: fc.integer({ min: -1, max: i - 1 }),
    ms: fc.integer({ min: 0, max: 60 }),
    mode: fc.constantFrom("all" as const, "sequential" as const, "detached" as const),
    swallow: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
    cancelAtBirth: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  });

const treeArb: fc.Arbitrary<NodeSpec[]> = fc
  .integer({ min: 1, max: 12 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => nodeArb(i))));

const scenarioArb = treeArb.chain((nodes) =>
  fc.record({
    nodes: fc.constant(nodes),
    cancels: fc.array(
      fc.record({ at: fc.integer({ min: 0, max: 200 }), node: fc.integer({ min: 0, max: nodes.length - 1 }) }),
      { maxLength: 10 },
    ),
  }),
);

type Outcome = "ok" | "swallowed" | "cancelled" | "error";

interface NodeState {
  task: Task<string> | undefined;
  started: number;
  finallyRuns: number;
  caught: unknown[];
  directCancels: number;
  awaitedByParent: boolean;
  outcome: Outcome | undefined;
  rejection: unknown;
  phase: "created" | "sleeping" | "children" | "done";
  kids: Task<string>[];
  cancelledBeforeStart: boolean;
}

async function runScenario(nodes: NodeSpec[], cancels: CancelOp[]): Promise<string[]> {
  const violations: string[] = [];
  const states: NodeState[] = nodes.map((spec) => ({
    task: undefined,
    started: 0,
    finallyRuns: 0,
    caught: [],
    directCancels: 0,
    awaitedByParent: spec.parent >= 0 && nodes[spec.parent]!.mode !== "detached",
    outcome: undefined,
    rejection: undefined,
    phase: "created",
    kids: [],
    cancelledBeforeStart: false,
  }));
  const childrenOf = (i: number) => nodes.flatMap((n, j) => (n.parent === i ? [j] : []));

  const cancel = (i: number) => {
    const state = states[i]!;
    const task = state.task;
    if (task === undefined) return;
    // The children the task waits on right now: all pending ones under Promise.all, the
    // first pending one when it awaits them in turn. The cancel must reach each of them.
    const pendingKids = state.kids.filter((k) => !k.done());
    const mode = nodes[i]!.mode;
    const reached = state.phase !== "children" || mode === "detached" ? [] : mode === "all" ? pendingKids : pendingKids.slice(0, 1);
    const before = reached.map((k) => k.cancelling());
    const wasDone = task.done();
    const returned = task.cancel();
    if (returned === wasDone) violations.push(`node ${i}: cancel() returned ${returned} on a task done=${wasDone}`);
    if (returned) state.directCancels++;
    if (returned && state.started === 0) state.cancelledBeforeStart = true;
    reached.forEach((k, j) => {
      if (k.cancelling() !== before[j]! + 1) violations.push(`node ${i}: cancel did not reach its awaited child ${k.getName()}`);
    });
  };

  const start = (i: number): Task<string> => {
    const spec = nodes[i]!;
    const state = states[i]!;
    const task = createTask(async () => {
      state.started++;
      state.phase = "sleeping";
      if (currentTask() !== state.task) violations.push(`node ${i}: currentTask() is not the task`);
      try {
        await sleep(spec.ms);
        const kids = (state.kids = childrenOf(i).map(start));
        state.phase = "children";
        if (spec.mode === "all") await Promise.all(kids);
        else if (spec.mode === "sequential") for (const kid of kids) await kid;
        return "ok";
      } catch (error) {
        state.caught.push(error);
        if (spec.swallow && isCancelledError(error)) return "swallowed";
        throw error;
      } finally {
        state.phase = "done";
        state.finallyRuns++;
      }
    });
    state.task = task;
    if (spec.cancelAtBirth) cancel(i);
    return task;
  };

  const settle = async () => {
    for (;;) {
      const pending = states.flatMap((s) => (s.task !== undefined && !s.task.done() ? [s.task] : []));
      if (pending.length === 0) return;
      await Promise.all(pending.map((t) => t.then(() => undefined, () => undefined)));
    }
  };

  await run(
    async () => {
      const loop = getRunningLoop();
      for (const op of cancels) loop.callLater(op.at, cancel, op.node);
      nodes.forEach((spec, i) => {
        if (spec.parent === -1) start(i);
      });
      await sleep(201); // every cancel op has run
      await settle();

      const left = [...allTasks()].filter((t) => t !== currentTask());
      if (left.length > 0) violations.push(`tasks left pending: ${left.map(String).join(", ")}`);

      for (const [i, state] of states.entries()) {
        const task = state.task;
        if (task === undefined) continue; // its parent never got to start it
        await task.then(
          (value) => (state.outcome = value as Outcome),
          (error: unknown) => {
            state.rejection = error;
            state.outcome = isCancelledError(error) ? "cancelled" : "error";
          },
        );
        const tag = `node ${i} (${JSON.stringify(nodes[i])}, outcome ${state.outcome}, cancelling ${task.cancelling()})`;
        if (!task.done()) violations.push(`${tag}: not done`);
        if (state.outcome === "error") violations.push(`${tag}: failed with ${String(state.rejection)}`);
        if (task.cancelled() !== (state.outcome === "cancelled")) violations.push(`${tag}: cancelled() disagrees with its await`);
        if (state.started > 1) violations.push(`${tag}: function ran ${state.started} times`);
        if (state.finallyRuns !== state.started) violations.push(`${tag}: finally ran ${state.finallyRuns} times`);
        if (state.started === 0 && !task.cancelled()) violations.push(`${tag}: never started yet not cancelled`);
        if (state.cancelledBeforeStart && state.started > 0) violations.push(`${tag}: cancelled before it started, yet ran`);
        for (const e of state.caught) if (!isCancelledError(e)) violations.push(`${tag}: caught ${String(e)}`);
        if (task.cancelling() < state.directCancels) violations.push(`${tag}: cancelling() below the cancels made`);
        if (!state.awaitedByParent && task.cancelling() !== state.directCancels) {
          violations.push(`${tag}: cancelling() ${task.cancelling()} != ${state.directCancels} cancels made`);
        }
        if (task.cancelled() && task.cancelling() === 0) {
          // Cancelled without a request of its own: only a cancelled child it awaited can do that.
          const kids = childrenOf(i).map((k) => states[k]!);
          if (nodes[i]!.mode === "detached" || !kids.some((k) => k.task?.cancelled())) {
            violations.push(`${tag}: cancelled with no request and no cancelled child`);
          }
        }
        if (state.outcome === "ok" && task.cancelling() > 0) {
          // asyncio's rule: the cancel went to an awaited child, which swallowed it and returned.
          const kids = childrenOf(i).map((k) => states[k]!);
          if (nodes[i]!.mode === "detached" || !kids.some((k) => k.task !== undefined && k.task.cancelling() > 0 && !k.task.cancelled())) {
            violations.push(`${tag}: cancel was lost`);
          }
        }
        if (state.outcome === "swallowed" && !state.caught.some(isCancelledError)) violations.push(`${tag}: swallowed nothing`);
      }
    },
    { loop: new VirtualTimeLoop() },
  );
  return violations;
}

describe("random trees of tasks with random cancellations", () => {
  it("every finally runs once, cancelled tasks reject with CancelledError, nothing is left pending", async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ({ nodes, cancels }) => {
        const violations = await runScenario(nodes, cancels);
        expect(violations).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });
});

describe("cancelling() and uncancel() bookkeeping", () => {
  it("follows a counter model through random cancel/uncancel sequences, and signal.aborted tracks count > 0", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom("cancel" as const, "uncancel" as const), { maxLength: 30 }), async (ops) => {
        const violations: string[] = [];
        await run(
          async () => {
            let stop = false;
            let finallyRuns = 0;
            const t = createTask(async () => {
              try {
                for (;;) {
                  try {
                    await sleep(Infinity);
                  } catch (error) {
                    if (stop) throw error;
                  }
                }
              } finally {
                finallyRuns++;
              }
            });
            await sleep(1);
            let model = 0;
            for (const op of ops) {
              if (op === "cancel") {
                if (!t.cancel()) violations.push("cancel() returned false on a pending task");
                model++;
              } else {
                const left = t.uncancel();
                model = Math.max(0, model - 1);
                if (left !== model) violations.push(`uncancel() returned ${left}, expected ${model}`);
              }
              if (t.cancelling() !== model) violations.push(`cancelling() ${t.cancelling()}, expected ${model}`);
              if (t.signal.aborted !== model > 0) violations.push(`signal.aborted ${t.signal.aborted} with count ${model}`);
              await sleep(1);
              if (t.done()) violations.push("the task ended while it swallows every cancel");
            }
            stop = true;
            t.cancel();
            await t.then(
              () => violations.push("the task did not end cancelled"),
              (error: unknown) => {
                if (!isCancelledError(error)) violations.push(`the task failed with ${String(error)}`);
              },
            );
            if (finallyRuns !== 1) violations.push(`finally ran ${finallyRuns} times`);
            if (t.cancelling() !== model + 1) violations.push(`final cancelling() ${t.cancelling()}, expected ${model + 1}`);
          },
          { loop: new VirtualTimeLoop() },
        );
        expect(violations).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });
});
