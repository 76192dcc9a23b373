import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ExceptionGroup, isCancelledError } from "@aiots/core";
import { allTasks, createTask, currentTask, sleep } from "@aiots/future";
import type { Task } from "@aiots/future";
import { VirtualTimeLoop, getRunningLoop, run } from "@aiots/loop";
import { asCompleted, gather, shield, taskGroup, timeout, wait, waitFor } from "@aiots/flow";

/** One child: how long it works, whether it fails, how long its cleanup awaits. */
interface ChildSpec {
  duration: number;
  fails: boolean;
  cleanup: number;
}

const childSpec = fc.record({
  duration: fc.integer({ min: 0, max: 100 }),
  fails: fc.boolean(),
  cleanup: fc.integer({ min: 0, max: 20 }),
});

const scenario = fc.record({
  children: fc.array(childSpec, { minLength: 1, maxLength: 5 }),
  /** When the operation's task is cancelled from outside (null: never). */
  cancelAt: fc.option(fc.integer({ min: 0, max: 150 }), { nil: null }),
  /** A deadline for the operations that take one (null: none). */
  deadline: fc.option(fc.integer({ min: 0, max: 150 }), { nil: null }),
});

class ChildError extends Error {
  override name = "ChildError";
}

/** The children of one run, and what they went through. */
class Harness {
  readonly tasks = new Set<Task<unknown>>();
  readonly started = new Set<number>();
  readonly cleanedUp = new Set<number>();
  /** Children whose cleanup await was cut short by a second cancel. */
  readonly cutShort = new Set<number>();
  /** Children that swallowed a cancel landing in their cleanup (and so may return normally). */
  readonly swallowed = new Set<number>();
  constructor(readonly specs: ChildSpec[]) {}

  fns(): (() => Promise<number>)[] {
    return this.specs.map((spec, i) => async () => {
      this.tasks.add(currentTask()!);
      this.started.add(i);
      let cancelled = false;
      try {
        await sleep(spec.duration).catch((e: unknown) => {
          cancelled = true;
          throw e;
        });
        if (spec.fails) throw new ChildError(String(i));
        return i;
      } finally {
        // Cleanup that itself awaits: an operation that cancelled the child lets it finish.
        if (spec.cleanup > 0) {
          await sleep(spec.cleanup).catch(() => {
            this.swallowed.add(i);
            if (cancelled) this.cutShort.add(i);
          });
        }
        this.cleanedUp.add(i);
      }
    });
  }

  /** No child task is pending, and every child that started ran its finally block. */
  expectAllFinished(bodyInOpTask = false): void {
    for (const t of this.tasks) expect(t.done()).toBe(true);
    const pending = [...allTasks()].filter((t) => this.tasks.has(t));
    expect(pending).toEqual([]);
    expect([...this.cleanedUp].sort()).toEqual([...this.started].sort());
    // Each operation cancels a child at most once: the cleanup after that cancel is not cut
    // short. (A scope body runs in the operation's own task, which both the deadline and the
    // outside cancel hit, as in asyncio.)
    if (!bodyInOpTask) expect([...this.cutShort]).toEqual([]);
  }
}

type Operation = (h: Harness, deadline: number | null) => Promise<unknown>;

/** Operations after which no child may be left running, however the run went. */
const structured: Record<string, Operation> = {
  taskGroup: (h) =>
    taskGroup((tg) => {
      for (const fn of h.fns()) tg.createTask(fn);
    }),
  "gather with returnExceptions": (h) => gather(h.fns(), { returnExceptions: true }),
  "waitFor over gather": (h, deadline) => waitFor(() => gather(h.fns(), { returnExceptions: true }), deadline),
  "waitFor of one child": (h, deadline) => waitFor(h.fns()[0]!, deadline),
  "timeout over taskGroup": (h, deadline) =>
    timeout(deadline, () =>
      taskGroup((tg) => {
        for (const fn of h.fns()) tg.createTask(fn);
      }),
    ),
  "timeout over one child": (h, deadline) => timeout(deadline, h.fns()[0]!),
  "asCompleted with for await": async (h, deadline) => {
    const out: number[] = [];
    for await (const v of asCompleted(h.fns(), { timeout: deadline })) out.push(v);
    return out;
  },
};

async function runScenario(op: Operation, specs: ChildSpec[], cancelAt: number | null, deadline: number | null) {
  const h = new Harness(specs);
  await run(
    async () => {
      const loop = getRunningLoop();
      const opTask = createTask(() => op(h, deadline));
      let hitWhilePending = false;
      if (cancelAt !== null) {
        loop.callLater(cancelAt, () => {
          hitWhilePending = !opTask.done();
          opTask.cancel("outside");
        });
      }
      await opTask.catch(() => undefined);
      // (waitFor's caller awaits the work itself, as asyncio 3.12+: a cancel from outside after
      // the deadline reaches the work again, as it does in asyncio.)
      const bodyInOpTask =
        op === structured["timeout over one child"] || op === structured["waitFor over gather"] || op === structured["waitFor of one child"];
      h.expectAllFinished(bodyInOpTask);
      // A cancel from outside is never turned into a result or a TimeoutError; only children's
      // failures win over it: an ExceptionGroup, or, from waitFor, the one child's own error,
      // which asyncio 3.12+ passes on as an `await` of that child would (the child failed
      // while the cancel was on its way to it). (A child whose cleanup swallowed the cancel
      // returns normally, and awaiting it gives its value, as in asyncio.)
      const childFailure = op === structured["waitFor of one child"] && !opTask.cancelled() && opTask.exception() instanceof ChildError;
      if (hitWhilePending && h.swallowed.size === 0) expect(opTask.cancelled() || opTask.exception() instanceof ExceptionGroup || childFailure).toBe(true);
      // A task that was not cancelled does not end with a stray CancelledError.
      if (!opTask.cancelled()) expect(isCancelledError(opTask.exception())).toBe(false);
    },
    { loop: new VirtualTimeLoop() },
  );
}

describe("no child outlives the operation", () => {
  for (const [name, op] of Object.entries(structured)) {
    it(`${name}: whatever fails or is cancelled, every child is done and cleaned up when it ends`, async () => {
      await fc.assert(
        fc.asyncProperty(scenario, async ({ children, cancelAt, deadline }) => {
          await runScenario(op, children, cancelAt, deadline);
        }),
        { numRuns: 60 },
      );
    });
  }
});

describe("operations that leave children running on purpose", () => {
  it("gather: a failure rejects at once without cancelling siblings; otherwise no child outlives it", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ children, cancelAt }) => {
        const h = new Harness(children);
        await run(
          async () => {
            const loop = getRunningLoop();
            const opTask = createTask(() => gather(h.fns()));
            if (cancelAt !== null) loop.callLater(cancelAt, () => opTask.cancel());
            await opTask.catch(() => undefined);
            const failedWithChildError = !opTask.cancelled() && opTask.exception() instanceof ChildError;
            if (!failedWithChildError) h.expectAllFinished();
            else if (cancelAt === null) for (const t of h.tasks) expect(t.cancelled()).toBe(false);
            await wait([...h.tasks].concat([createTask(() => sleep(0))]));
            h.expectAllFinished();
          },
          { loop: new VirtualTimeLoop() },
        );
      }),
      { numRuns: 60 },
    );
  });

  it("wait and shield cancel nothing: their children finish on their own", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, fc.boolean(), async ({ children, cancelAt, deadline }, useShield) => {
        const h = new Harness(children);
        await run(
          async () => {
            const loop = getRunningLoop();
            const fns = h.fns();
            const opTask = createTask<unknown>(() => (useShield ? shield(() => gather(fns, { returnExceptions: true })) : wait(fns, { timeout: deadline })));
            if (cancelAt !== null) loop.callLater(cancelAt, () => opTask.cancel());
            await opTask.catch(() => undefined);
            await sleep(1000);
            h.expectAllFinished();
            for (const t of h.tasks) expect(t.cancelled()).toBe(false);
            expect(h.started.size).toBe(children.length);
          },
          { loop: new VirtualTimeLoop() },
        );
      }),
      { numRuns: 60 },
    );
  });
});
