import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ExceptionGroup, InvalidStateError, TimeoutError, isCancelledError } from "@aiots/core";
import { allTasks, createTask, currentTask, isFuture, sleep } from "@aiots/future";
import type { Future, Task } from "@aiots/future";
import { getRunningLoop } from "@aiots/loop";
import { ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION, TaskGroup, asCompleted, gather, shield, timeout, wait, waitFor } from "@aiots/flow";
import type { AsCompleted, ReturnWhen, Timeout } from "@aiots/flow";
import { runV } from "./helpers.js";

/**
 * The flow combinators under random interleavings picked by fast-check's scheduler.
 *
 * Children are async functions (or tasks made from them) whose steps are scheduling points
 * (`s.schedule`, plain promises: no cancellation point, zero virtual time) and aiots sleeps
 * (cancellation points, virtual time). The scheduler picks which child goes on at each point,
 * and also when cancels land (`s.scheduleFunction`): on the operation's task, on a child, or
 * on the operation's own future (a gather, a shield). A child can also cancel something in
 * the same synchronous block as one of its steps, or in its `finally`, right before it ends.
 * Deadlines run on the virtual-time loop, so each child's duration is known exactly: the sum
 * of its sleeps.
 */

class ChildError extends Error {
  constructor(readonly i: number) {
    super(`child ${i} failed`);
    this.name = "ChildError";
  }
}
class BodyError extends Error {
  override name = "BodyError";
}
const ABORT = new Error("aborted by the scenario");
/** Virtual time after which a run that has not ended hangs. */
const HANG = 1_000_000;

type Step = { via: "sched" } | { via: "sleep"; ms: number };
/** Cancel target `t` (an index into `Run.targets()`, modulo its length). */
interface Action {
  do: "cancel" | "abort";
  t: number;
}
interface ChildSpec {
  steps: Step[];
  fails: boolean;
  /** Catches the first CancelledError and returns its value instead. */
  swallow: boolean;
  /** Its `finally` waits at a scheduling point (a cleanup that the one who cancelled it must wait for). */
  cleanup: boolean;
  /** Passed in as a task made beforehand, rather than as a function. */
  asTask: boolean;
  /**
   * Its task (one made beforehand, or by a TaskGroup) starts eagerly: its first step runs
   * inside `createTask`, before the operation has it (asyncio 3.12+ eager tasks).
   */
  eager: boolean;
  /** Right after step `at` (steps.length: in its `finally`), in the same synchronous block. */
  then: { at: number; action: Action } | null;
}
interface Chaos {
  gap: number;
  action: Action;
}

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ via: "sched" as const }) },
  { weight: 2, arbitrary: fc.record({ via: fc.constant("sleep" as const), ms: fc.constantFrom(0, 5, 10, 20) }) },
);
const actionArb: fc.Arbitrary<Action> = fc.record({ do: fc.constantFrom("cancel" as const, "cancel" as const, "abort" as const), t: fc.nat(6) });
const childArb = (swallow: boolean): fc.Arbitrary<ChildSpec> =>
  fc.record({
    steps: fc.array(stepArb, { maxLength: 4 }),
    fails: fc.boolean(),
    swallow: swallow ? fc.boolean() : fc.constant(false),
    cleanup: fc.boolean(),
    asTask: fc.boolean(),
    eager: fc.boolean(),
    then: fc.option(fc.record({ at: fc.nat(4), action: actionArb }), { nil: null, freq: 3 }),
  });
const chaosArb = fc.array(fc.record({ gap: fc.nat(5), action: actionArb }), { maxLength: 2 });
const childrenArb = (swallow = false, min = 1, max = 4) => fc.array(childArb(swallow), { minLength: min, maxLength: max });

/** How long a child works when nothing interrupts it: the sum of its sleeps. */
const duration = (spec: ChildSpec) => spec.steps.reduce((ms, st) => ms + (st.via === "sleep" ? st.ms : 0), 0);
const valueOf = (i: number) => 100 + i;

interface ChildRec {
  i: number;
  spec: ChildSpec;
  task: Task<unknown> | undefined;
  started: boolean;
  /** The event number at which its function returned a value, or threw. */
  returnedAt: number | undefined;
  failedWith: ChildError | undefined;
  /** It caught a CancelledError (and returned its value). */
  swallowed: boolean;
  /** When one of its sleeps (an aiots await) completed normally: event number, and the sleep's ms. */
  sleepsDone: { at: number; ms: number }[];
  finished: boolean;
  /** Virtual time its function ended at. */
  endTime: number | undefined;
}

interface CancelRec {
  name: string;
  at: number;
  time: number;
  accepted: boolean;
}

type Outcome = { value: unknown } | { error: unknown };

/** One run: its children, what they did, the cancels fired, and what the operation ended with. */
class Run {
  readonly loop = getRunningLoop();
  events = 0;
  /** Loop iterations run so far, and the iteration each event happened in. */
  iteration = 0;
  readonly iterationOf: number[] = [0];
  readonly children: ChildRec[];
  op: Task<unknown> | undefined;
  /** Other things a cancel may hit: the operation's own future. */
  readonly extras: { name: string; target: { cancel(msg?: string): boolean } }[] = [];
  readonly cancels: CancelRec[] = [];
  readonly aborts: number[] = [];
  controller: AbortController | undefined;
  readonly violations: string[] = [];
  outcome: Outcome | undefined;
  outcomeAt = -1;
  /**
   * When the awaited promise settled. A plain promise is no cancellation point: a cancel
   * that comes after it settled, before the operation resumed, lands at a later await.
   */
  settledAt = -1;
  outcomeTime = -1;
  /** Child tasks still pending when the operation ended. */
  pendingAtEnd: Task<unknown>[] = [];
  startTime = 0;
  readonly reports: string[] = [];
  private readonly ownTasks = new Set<Task<unknown>>();

  constructor(
    readonly s: fc.Scheduler,
    specs: ChildSpec[],
  ) {
    this.children = specs.map((spec, i) => ({
      i,
      spec,
      task: undefined,
      started: false,
      returnedAt: undefined,
      failedWith: undefined,
      swallowed: false,
      sleepsDone: [],
      finished: false,
      endTime: undefined,
    }));
    this.loop.setExceptionHandler((_loop, context) => this.reports.push(context.message));
    const loop = this.loop as unknown as { _runOnce(): void };
    const runOnce = loop._runOnce.bind(loop);
    loop._runOnce = () => {
      this.iteration++;
      runOnce();
    };
  }

  violation(message: string): void {
    this.violations.push(message);
  }

  tick(): number {
    this.iterationOf.push(this.iteration);
    return ++this.events;
  }

  /** Tasks that belong to the harness (main, watchdog, op), not to the operation. */
  own(task: Task<unknown> | undefined): void {
    if (task !== undefined) this.ownTasks.add(task);
  }

  /** Pending tasks other than the harness's: children of the operation. */
  pendingChildren(): Task<unknown>[] {
    return [...allTasks()].filter((t) => !this.ownTasks.has(t) && t !== this.op);
  }

  async point(label: string): Promise<void> {
    await this.s.schedule(Promise.resolve(label), label);
  }

  targets(): { name: string; target: { cancel(msg?: string): boolean } }[] {
    const out: { name: string; target: { cancel(msg?: string): boolean } }[] = [];
    if (this.op !== undefined) out.push({ name: "op", target: this.op });
    for (const c of this.children) if (c.task !== undefined && c.task !== this.op) out.push({ name: `child ${c.i}`, target: c.task });
    out.push(...this.extras);
    return out;
  }

  act(action: Action): void {
    if (action.do === "abort") {
      if (this.controller !== undefined && !this.controller.signal.aborted) {
        this.aborts.push(this.tick());
        this.controller.abort(ABORT);
      }
      return;
    }
    const targets = this.targets();
    const { name, target } = targets[action.t % targets.length]!;
    const at = this.tick();
    const accepted = target.cancel(`cancel ${name}`);
    this.cancels.push({ name, at, time: this.loop.time(), accepted });
  }

  /** Accepted cancels of `name` before event `before`. */
  cancelled(name: string | ((n: string) => boolean), before = Infinity): CancelRec[] {
    const match = typeof name === "string" ? (n: string) => n === name : name;
    return this.cancels.filter((c) => c.accepted && match(c.name) && c.at < before);
  }

  /** Whether `sleep` was a `sleep(0)` that resumed in the same loop iteration as event `at`. */
  sameTurn(sleep: { at: number; ms: number } | undefined, at: number): boolean {
    return sleep !== undefined && sleep.ms === 0 && this.iterationOf[sleep.at] === this.iterationOf[at];
  }

  /** The functions of the children; `asTask` ones are made into tasks by `items()`. */
  fn(i: number): () => Promise<number> {
    const rec = this.children[i]!;
    const { spec } = rec;
    return async () => {
      rec.task = currentTask();
      rec.started = true;
      this.tick();
      try {
        for (let k = 0; k < spec.steps.length; k++) {
          const st = spec.steps[k]!;
          try {
            if (st.via === "sched") await this.point(`child ${i} step ${k}`);
            else {
              await sleep(st.ms);
              rec.sleepsDone.push({ at: this.tick(), ms: st.ms });
            }
          } catch (error) {
            if (isCancelledError(error) && spec.swallow && !rec.swallowed) {
              rec.swallowed = true;
              rec.returnedAt = this.tick();
              rec.endTime = this.loop.time();
              return valueOf(i);
            }
            throw error;
          }
          this.tick();
          if (spec.then !== null && spec.then.at === k) this.act(spec.then.action);
        }
        rec.returnedAt = this.tick();
        rec.endTime = this.loop.time();
        if (spec.fails) {
          rec.failedWith = new ChildError(i);
          throw rec.failedWith;
        }
        return valueOf(i);
      } finally {
        if (spec.then !== null && spec.then.at >= spec.steps.length) this.act(spec.then.action);
        if (spec.cleanup) await this.point(`child ${i} cleanup`);
        rec.finished = true;
        this.tick();
      }
    };
  }

  /** Each child as given to the operation: a function, or a task made from it now (maybe eagerly). */
  items(): (Task<number> | (() => Promise<number>))[] {
    return this.children.map((c) => (c.spec.asTask ? createTask(this.fn(c.i), { eagerStart: c.spec.eager }) : this.fn(c.i)));
  }

  /** `items()`, with each task made noted at once as its child's task (before the child starts, unless eager). */
  trackedItems(): (Task<number> | (() => Promise<number>))[] {
    const items = this.items();
    this.children.forEach((c, i) => {
      const item = items[i]!;
      if (typeof item !== "function") c.task = item;
    });
    return items;
  }

  /** Called by the operation, synchronously, the moment its await settles. */
  record(outcome: Outcome): void {
    this.outcome = outcome;
    this.outcomeAt = this.tick();
    if (this.settledAt === Infinity) this.settledAt = this.outcomeAt;
    this.outcomeTime = this.loop.time();
    this.pendingAtEnd = this.pendingChildren();
  }

  error(): unknown {
    return this.outcome !== undefined && "error" in this.outcome ? this.outcome.error : undefined;
  }

  /**
   * A child that was cancelled at event `at` (by whoever) and had not ended then must not
   * have its next aiots await complete normally: the cancel interrupts it (or, if it awaited
   * a plain promise then, its next aiots await).
   *
   * One documented exception (docs/choices.md): tasks woken together by one loop callback,
   * such as a `sleep(0)` of several tasks, resume together; a cancel made by one of them
   * whose code runs first reaches the other's await too late, and is thrown at its next
   * await (asyncio would throw it at the woken await). So a `sleep(0)` right after the cancel
   * may still complete normally; a child with no aiots await after it then keeps its value.
   */
  expectInterrupted(c: ChildRec, at: number, why: string): void {
    if (c.returnedAt !== undefined && c.returnedAt < at) return;
    const late = c.sleepsDone.filter((d) => d.at > at);
    const excused = this.sameTurn(late[0], at) ? 1 : 0;
    if (late.length > excused) this.violation(`${why}: child ${c.i} was cancelled at event ${at}, yet a sleep of its completed at event ${late[excused]!.at}`);
    if (c.task !== undefined && c.task.done() && !c.task.cancelled() && c.failedWith === undefined && !c.swallowed && late.length > excused) {
      this.violation(`${why}: child ${c.i} returned normally after a cancel`);
    }
  }
}

/** A plain promise settled when `task` is done (awaiting it never cancels `task`). */
function settled(task: Task<unknown>): Promise<void> {
  return new Promise((resolve) => task.addDoneCallback(() => resolve()));
}

async function runChaos(r: Run, chaos: Chaos[]): Promise<void> {
  const fire = r.s.scheduleFunction(async function chaos(i: number) {
    return i;
  });
  for (let i = 0; i < chaos.length; i++) {
    for (let g = 0; g < chaos[i]!.gap; g++) await r.point(`chaos ${i} gap`);
    await fire(i);
    r.act(chaos[i]!.action);
  }
}

/**
 * Runs `op` as a task on a virtual-time loop with `chaos` fired at moments the scheduler
 * picks, until the operation and every child have ended (a virtual-time watchdog says it
 * hangs otherwise), then hands the run to `check`.
 */
async function play(s: fc.Scheduler, specs: ChildSpec[], chaos: Chaos[], op: (r: Run) => Promise<void>, check: (r: Run) => void): Promise<void> {
  const r = await runV(async () => {
    const r = new Run(s, specs);
    r.own(currentTask());
    const watchdog = createTask(() => sleep(HANG));
    r.own(watchdog);
    r.startTime = r.loop.time();
    let started!: () => void;
    const opStarted = new Promise<void>((resolve) => (started = resolve));
    r.op = createTask(() => {
      started();
      return op(r);
    });
    // (Fired once the operation runs: a cancel before it starts would test nothing.)
    const chaosDone = opStarted.then(() => runChaos(r, chaos));
    const hung = settled(watchdog).then(() => "hang" as const);
    if ((await s.waitFor(Promise.race([settled(r.op).then(() => "ok" as const), hung]))) === "hang") {
      r.violation(`the operation hangs (outcome ${r.outcome === undefined ? "none" : "recorded"})`);
      await s.waitAll();
      return r;
    }
    // What the operation leaves running on purpose (gather after a failure, wait, shield)
    // must end too.
    const rest = Promise.all([chaosDone, ...r.children.filter((c) => c.task !== undefined).map((c) => settled(c.task!))]);
    if ((await s.waitFor(Promise.race([rest.then(() => "ok" as const), hung]))) === "hang") {
      r.violation(`children hang after the operation ended: ${r.children.filter((c) => c.task !== undefined && !c.task.done()).map((c) => c.i)}`);
      await s.waitAll();
      return r;
    }
    const left = r.pendingChildren().filter((t) => t !== watchdog);
    if (left.length > 0) r.violation(`${left.length} tasks still pending at the end`);
    watchdog.cancel();
    if (r.outcome === undefined) r.violation("the operation ended without recording an outcome");
    return r;
  });
  expect(r.violations).toEqual([]);
  check(r);
  expect(r.violations).toEqual([]);
}

/** Runs `fn` in the operation's task and records how its await settled. */
async function recordOutcome(r: Run, fn: () => PromiseLike<unknown>): Promise<void> {
  try {
    const p = fn();
    r.settledAt = Infinity;
    // (A Future is awaited as a cancellation point: its outcome is what the await gives.)
    if (p instanceof Promise && !isFuture(p)) {
      const mark = () => {
        r.settledAt = r.tick();
      };
      p.then(mark, mark);
    }
    const value = await p;
    r.record({ value });
  } catch (error) {
    r.record({ error });
  }
}

/** Runs per property, scaled by `SCHEDULER_RACES_RUNS=<factor>` (`4` for a longer soak). */
const RUNS = Math.ceil(600 * Number(process.env.SCHEDULER_RACES_RUNS ?? 1));

/** One run of a property: the children to play (the generated ones unless given), the operation, and the checks. */
interface Scenario {
  specs?: ChildSpec[];
  op: (r: Run) => Promise<void>;
  check: (r: Run) => void;
}

/**
 * One property of this file, as a test of `RUNS` runs: fast-check's scheduler, children from
 * `children`, chaos, and a value of each of `arbs`; `scenario` makes each run's operation and
 * checks (and the state they share), which `play` plays.
 */
function property<Ts extends unknown[]>(
  name: string,
  children: fc.Arbitrary<ChildSpec[]>,
  arbs: [...{ [K in keyof Ts]: fc.Arbitrary<Ts[K]> }],
  scenario: (specs: ChildSpec[], ...values: Ts) => Scenario,
): void {
  it(name, async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), children, chaosArb, fc.tuple<Ts>(...arbs), async (s, specs, chaos, values) => {
        const { specs: played = specs, op, check } = scenario(specs, ...values);
        await play(s, played, chaos, op, check);
      }),
      { numRuns: RUNS },
    );
  });
}

describe("flow combinators under scheduler-driven interleavings and cancels", () => {
  property(
    "gather: results in input order, returnExceptions, a cancelled gather cancels and waits for its children",
    childrenArb(true),
    [fc.boolean()],
    (specs, returnExceptions) => {
      let g: Future<unknown[]> | undefined;
      const doneOrder: number[] = [];
      return {
        op: async (r) => {
          const items = r.trackedItems();
          g = gather(items, { returnExceptions });
          r.extras.push({ name: "gather", target: g });
          (g as unknown as { _children: Future<unknown>[] })._children.forEach((child, i) => child.addDoneCallback(() => doneOrder.push(i)));
          await recordOutcome(r, () => g!);
        },
        check: (r) => {
          const kids = (g as unknown as { _children: Task<unknown>[] })._children;
          const outcome = r.outcome!;
          const gatherCancels = r.cancelled((n) => n === "op" || n === "gather", r.outcomeAt);
          // A cancel the gather accepted makes it end cancelled, also with returnExceptions
          // (or the task awaiting it would never see its own cancellation, bpo-32684).
          if (r.cancelled("gather").length > 0) expect(g!.cancelled()).toBe(true);
          const childCancelled = (i: number) => r.cancelled(`child ${i}`).length > 0;
          // A gather cancels its children only when it is cancelled itself.
          kids.forEach((kid, i) => {
            if (kid.cancelled() && !childCancelled(i) && gatherCancels.length === 0) {
              r.violation(`child ${i} ended cancelled, but nobody cancelled it or the gather`);
            }
          });
          if ("value" in outcome) {
            const v = outcome.value as unknown[];
            expect(v).toHaveLength(specs.length);
            expect(r.pendingAtEnd).toEqual([]);
            kids.forEach((kid, i) => {
              if (kid.cancelled()) {
                expect(returnExceptions).toBe(true);
                expect(isCancelledError(v[i])).toBe(true);
              } else if (kid.exception() !== null) {
                expect(returnExceptions).toBe(true);
                expect(v[i]).toBe(kid.exception());
              } else expect(v[i]).toBe(valueOf(i));
            });
            return;
          }
          const error = outcome.error;
          if (g!.cancelled()) {
            // Cancelled: ends cancelled once every child has ended, and each child still
            // running then was interrupted.
            expect(isCancelledError(error)).toBe(true);
            expect(gatherCancels.length).toBeGreaterThan(0);
            expect(r.pendingAtEnd).toEqual([]);
            for (const c of r.children) r.expectInterrupted(c, gatherCancels[0]!.at, "cancelled gather");
            return;
          }
          if (isCancelledError(error) && r.cancelled("op", r.outcomeAt).length > 0) return; // the op's own cancel, after the gather ended
          // Failed: with the first child to fail (or be cancelled), without cancelling the others.
          expect(returnExceptions).toBe(false);
          const first = doneOrder.find((i) => kids[i]!.cancelled() || kids[i]!.exception() !== null);
          expect(first).toBeDefined();
          if (kids[first!]!.cancelled()) expect(isCancelledError(error)).toBe(true);
          else expect(error).toBe(kids[first!]!.exception());
        },
      };
    },
  );

  const bodyArb = fc.record({
    steps: fc.array(fc.record({ step: stepArb, spawn: fc.boolean() }), { maxLength: 3 }),
    fails: fc.boolean(),
    spawnFirst: fc.nat(3),
  });
  property(
    "taskGroup: the first failure cancels the rest, every failure in one ExceptionGroup, no child outlives it",
    childrenArb(true),
    [bodyArb],
    (specs, body) => {
      let tg: TaskGroup | undefined;
      let abortAt: number | undefined;
      /** When the group could first see a child's failure (right after its own done callback). */
      let failureSeenAt: number | undefined;
      const bodySleeps: { at: number; ms: number }[] = [];
      let bodyError: BodyError | undefined;
      let refused = 0;
      let cancellingAfter = -1;
      const spawned: Task<unknown>[] = [];
      return {
        specs: specs.map((c) => ({ ...c, asTask: false })),
        op: async (r) => {
          tg = new TaskGroup();
          const abort = tg._abort.bind(tg);
          tg._abort = () => {
            abortAt ??= r.tick();
            abort();
          };
          let next = 0;
          const spawn = () => {
            if (next >= r.children.length) return;
            try {
              const task = tg!.createTask(r.fn(next), { eagerStart: r.children[next]!.spec.eager });
              // Runs right after the group's own done callback for the task.
              task.addDoneCallback(() => {
                if (task.cancelled() || task.exception() === null || failureSeenAt !== undefined) return;
                failureSeenAt = r.tick();
                // The group has just seen its first failure: every sibling still running
                // has been asked to stop, right then.
                for (const other of spawned) if (!other.done() && other.cancelling() === 0) r.violation("a child still running was not cancelled when the group saw the first failure");
              });
              spawned.push(task);
              next++;
            } catch (error) {
              if (!(error instanceof InvalidStateError)) throw error;
              refused++;
              if (abortAt === undefined) r.violation("createTask refused while the group was not shutting down");
            }
          };
          await recordOutcome(r, () =>
            tg!.run(async () => {
              for (let i = 0; i < body.spawnFirst; i++) spawn();
              for (const { step, spawn: more } of body.steps) {
                if (step.via === "sched") await r.point("body");
                else {
                  await sleep(step.ms);
                  bodySleeps.push({ at: r.tick(), ms: step.ms });
                }
                r.tick();
                if (more) spawn();
              }
              if (body.fails) {
                bodyError = new BodyError();
                throw bodyError;
              }
              return "body";
            }),
          );
          cancellingAfter = currentTask()!.cancelling();
        },
        check: (r) => {
          const error = r.error();
          // No child outlives the group.
          expect(r.pendingAtEnd).toEqual([]);
          for (const t of spawned) expect(t.done()).toBe(true);
          const failures = r.children.filter((c) => c.failedWith !== undefined && c.returnedAt! < r.outcomeAt).map((c) => c.failedWith!);
          const outside = r.cancelled("op", r.settledAt);
          // The group takes back its own cancel of the task: only the ones from outside remain.
          expect(cancellingAfter).toBe(r.cancelled("op", r.outcomeAt).length);
          if (failures.length > 0) {
            // Every failure, children's and body's, in one ExceptionGroup (and no CancelledError).
            expect(error).toBeInstanceOf(ExceptionGroup);
            const errors = (error as ExceptionGroup).errors;
            expect(new Set(errors)).toEqual(new Set(bodyError === undefined ? failures : [...failures, bodyError]));
            expect(errors).toHaveLength(failures.length + (bodyError === undefined ? 0 : 1));
          } else if (bodyError !== undefined) {
            // The body's failure alone: in an ExceptionGroup, unless a cancel from outside came
            // while the group waited for its children (asyncio then propagates the cancel).
            if (!(error instanceof ExceptionGroup)) {
              expect(isCancelledError(error)).toBe(true);
              expect(outside.length).toBeGreaterThan(0);
            } else expect(error.errors).toEqual([bodyError]);
          } else if (outside.length === 0) {
            // Nothing failed, nobody cancelled the group: it ends with the body's value.
            expect(r.outcome).toEqual({ value: "body" });
            expect(abortAt).toBeUndefined();
          } else {
            // A cancel from outside: CancelledError (or the body's value, if the cancel found
            // only plain promises to land on and the group had nothing to wait for).
            if (!isCancelledError(error)) expect(r.outcome).toEqual({ value: "body" });
          }
          // Once a child has failed (as soon as the group can see it), or the group shuts
          // down, every child still running and the body are interrupted.
          const shutdownAt = Math.min(abortAt ?? Infinity, failureSeenAt ?? Infinity);
          if (shutdownAt < Infinity) {
            for (const c of r.children) if (c.started) r.expectInterrupted(c, shutdownAt, "taskGroup shutdown");
            const late = bodySleeps.filter((d) => d.at > shutdownAt);
            if (late.length > (r.sameTurn(late[0], shutdownAt) ? 1 : 0)) r.violation(`the body's sleep completed at event ${late.at(-1)!.at}, after the group shut down at ${shutdownAt}`);
          }
          if (abortAt === undefined) {
            expect(refused).toBe(0);
            // No shutdown: a child ends cancelled only if cancelled itself.
            for (const c of r.children) if (c.task?.cancelled() === true && r.cancelled(`child ${c.i}`).length === 0) r.violation(`child ${c.i} cancelled with no shutdown and no cancel of its own`);
          }
        },
      };
    },
  );

  property(
    "shield: the inner work runs on when the outer is cancelled; its late failure is reported once",
    childrenArb(false, 1, 1),
    [],
    () => {
      let outer: Future<unknown> | undefined;
      let outerSettledAt = Infinity;
      let inner: Task<unknown> | undefined;
      return {
        op: async (r) => {
          const item = r.trackedItems()[0]!;
          if (typeof item !== "function") inner = item;
          outer = shield(item);
          // Runs right after the shield's own callback on its outer future.
          outer.addDoneCallback(() => (outerSettledAt = r.tick()));
          r.extras.push({ name: "shield", target: outer });
          await recordOutcome(r, () => outer!);
        },
        check: (r) => {
          const c = r.children[0]!;
          inner ??= c.task;
          const error = r.error();
          const innerCancels = r.cancelled("child 0");
          if (inner !== undefined && inner.cancelled() && innerCancels.length === 0) r.violation("the shielded work ended cancelled, but only its shield was cancelled");
          if (r.outcome !== undefined && "value" in r.outcome) {
            expect(r.outcome.value).toBe(valueOf(0));
            expect(c.returnedAt).toBeDefined();
          } else if (!isCancelledError(error)) {
            expect(error).toBe(c.failedWith);
          } else {
            const cancels = r.cancelled((n) => n === "op" || n === "shield" || n === "child 0", r.outcomeAt);
            expect(cancels.length).toBeGreaterThan(0);
          }
          // A failure nobody waits for any more (it came after the shield was cancelled and
          // had let go of it) goes to the exception handler, once; asyncio 3.14 too.
          const shieldedReports = r.reports.filter((m) => m.includes("exception in shielded future"));
          const failed = inner !== undefined && !inner.cancelled() && inner.exception() instanceof ChildError;
          const unseen = outer!.cancelled() && failed && c.returnedAt! > outerSettledAt;
          if (unseen) expect(shieldedReports).toHaveLength(1);
          else if (!(outer!.cancelled() && failed)) expect(shieldedReports).toHaveLength(0);
          else expect(shieldedReports.length).toBeLessThanOrEqual(1);
        },
      };
    },
  );

  property(
    "waitFor: TimeoutError exactly when the deadline passes first, and only after the work has ended",
    childrenArb(true, 1, 1),
    [fc.constantFrom<number | null>(null, 0, 5, 10, 15, 20, 30), fc.boolean()],
    (_specs, limit, withSignal) => {
      /** The work had started, or ended, before waitFor got it (an eager task). */
      let startedFirst = false;
      let endedFirst = false;
      return {
        op: async (r) => {
          if (withSignal) r.controller = new AbortController();
          const item = r.trackedItems()[0]!;
          startedFirst = r.children[0]!.started;
          endedFirst = r.children[0]!.finished;
          await recordOutcome(r, () => waitFor(item, limit, withSignal ? { signal: r.controller!.signal } : undefined));
        },
        check: (r) => {
          const c = r.children[0]!;
          const error = r.error();
          const D = duration(c.spec);
          const deadline = limit === null ? Infinity : r.startTime + limit;
          const outside = r.cancelled("op", r.settledAt);
          const direct = r.cancelled("child 0", r.settledAt);
          // It waits for the work to end.
          if (c.task !== undefined) expect(c.task.done()).toBe(true);
          if (error instanceof TimeoutError) {
            // Only once the deadline has passed (at it: unwinding takes no virtual time
            // here), with the work cancelled, and never for a cancel from outside.
            expect(r.outcomeTime).toBe(Math.max(deadline, r.startTime));
            if (c.task !== undefined) expect(c.task.cancelled()).toBe(true);
            expect(outside).toEqual([]);
          }
          if (error === ABORT) expect(r.aborts.length).toBeGreaterThan(0);
          if (outside.length > 0 && !c.swallowed) expect(error instanceof TimeoutError).toBe(false);
          // With nothing but the deadline in play, the outcome is decided by the clock.
          if (outside.length === 0 && direct.length === 0 && r.aborts.filter((a) => a < r.settledAt).length === 0) {
            if (limit !== null && limit <= 0) {
              // Past the deadline at once, unless the work had already ended: then its
              // outcome, as asyncio's wait_for(done_task, 0) gives. An eager task that
              // started waits at a plain promise (no cancellation point): the cancel lands
              // at its next sleep, and without one it keeps its outcome.
              const interruptible = !startedFirst || (c.spec.steps.some((st) => st.via === "sleep") && !c.spec.swallow);
              if (!endedFirst && interruptible) expect(error).toBeInstanceOf(TimeoutError);
              else if (error instanceof TimeoutError) expect(endedFirst).toBe(false);
              else if (c.spec.fails && !c.swallowed) expect(error).toBe(c.failedWith);
              else expect(r.outcome).toEqual({ value: valueOf(0) });
            } else if (D < deadline - r.startTime) {
              if (c.spec.fails) expect(error).toBe(c.failedWith);
              else expect(r.outcome).toEqual({ value: valueOf(0) });
            } else if (D > deadline - r.startTime || !c.spec.asTask) {
              // (A function's deadline is set before it starts: its own timer due at the
              // same moment fires after it.)
              if (c.swallowed) expect(r.outcome).toEqual({ value: valueOf(0) });
              else expect(error).toBeInstanceOf(TimeoutError);
            }
          }
        },
      };
    },
  );

  const limitArb = fc.constantFrom<number | null>(null, 0, 5, 10, 15, 20, 40);
  property(
    "timeout: nested scopes, only the scope whose deadline passed first turns the cancel into TimeoutError",
    childrenArb(true, 1, 1),
    [limitArb, limitArb],
    (specs, outerLimit, innerLimit) => {
      let outerScope: Timeout | undefined;
      let innerScope: Timeout | undefined;
      let cancellingAfter = -1;
      return {
        // The body runs in the operation's own task.
        specs: specs.map((c) => ({ ...c, asTask: false })),
        op: async (r) => {
          const body = r.fn(0);
          await recordOutcome(r, () =>
            timeout(outerLimit, (o) => {
              outerScope = o;
              return timeout(innerLimit, (i) => {
                innerScope = i;
                return body();
              });
            }),
          );
          cancellingAfter = currentTask()!.cancelling();
        },
        check: (r) => {
          const c = r.children[0]!;
          const error = r.error();
          const D = duration(c.spec);
          const limits = [outerLimit, innerLimit].filter((l): l is number => l !== null);
          const first = limits.length === 0 ? Infinity : Math.min(...limits);
          const outside = r.cancelled("op", r.settledAt);
          // The scopes take back their own cancels: only the ones from outside remain.
          expect(cancellingAfter).toBe(r.cancelled("op", r.outcomeAt).length);
          if (error instanceof TimeoutError) {
            // At the deadline, not later: unwinding takes no virtual time here.
            expect(r.outcomeTime - r.startTime).toBe(first);
            expect(outside).toEqual([]);
            // The scope that converted is one whose deadline passed; an inner one converts
            // only if its own deadline came strictly first.
            const innerFirst = innerLimit !== null && (outerLimit === null || innerLimit < outerLimit);
            expect(innerScope!.expired()).toBe(innerFirst || (innerLimit !== null && innerLimit === outerLimit));
            expect(outerScope!.expired()).toBe(!innerFirst);
          }
          if (outside.length > 0 && !c.swallowed) expect(error instanceof TimeoutError).toBe(false);
          if (outside.length === 0) {
            if (D < first) {
              if (c.spec.fails) expect(error).toBe(c.failedWith);
              else expect(r.outcome).toEqual({ value: valueOf(0) });
            } else if (D > first) {
              if (c.swallowed) expect(r.outcome).toEqual({ value: valueOf(0) });
              else expect(error).toBeInstanceOf(TimeoutError);
            }
          }
        },
      };
    },
  );

  const returnWhenArb = fc.constantFrom<ReturnWhen>(ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION);
  property(
    "wait: done and pending are right when it returns, it cancels nothing, and it honours its timeout",
    childrenArb(false),
    [returnWhenArb, fc.constantFrom<number | null>(null, 0, 5, 15, 30)],
    (specs, returnWhen, limit) => {
      let futures: Future<number>[] = [];
      return {
        op: async (r) => {
          const items = r.trackedItems();
          const w = wait(items, { returnWhen, timeout: limit });
          // When the sets are made: done ones are done, pending ones are not; and still so
          // when the caller resumes (asyncio makes the sets as the waiting task resumes).
          const setResult = w.setResult.bind(w);
          w.setResult = (result) => {
            for (const f of result.done) if (!f.done()) r.violation("a future in done is not done");
            for (const f of result.pending) if (f.done()) r.violation("a future in pending is already done");
            setResult(result);
          };
          await recordOutcome(r, async () => {
            const { done, pending } = await w;
            for (const f of pending) if (f.done()) r.violation("a future in pending is done when the caller resumes");
            futures = [...done, ...pending];
            return { done: done.size, pending: pending.size, failed: [...done].some((f) => !f.cancelled() && f.exception() !== null) };
          });
        },
        check: (r) => {
          const out = r.outcome!;
          // It cancels nothing, whatever befalls it.
          for (const c of r.children) if (c.task?.cancelled() === true && r.cancelled(`child ${c.i}`).length === 0) r.violation(`child ${c.i} ended cancelled, but nobody cancelled it`);
          if (!("value" in out)) {
            expect(isCancelledError(out.error)).toBe(true);
            expect(r.cancelled("op").length).toBeGreaterThan(0);
            return;
          }
          const { done, pending, failed } = out.value as { done: number; pending: number; failed: boolean };
          expect(done + pending).toBe(specs.length);
          expect(new Set(futures).size).toBe(specs.length);
          const timedOut = limit !== null && r.outcomeTime - r.startTime >= limit;
          // It returns at its timeout at the latest.
          if (limit !== null) expect(r.outcomeTime - r.startTime).toBeLessThanOrEqual(Math.max(limit, 0));
          if (pending > 0 && !timedOut) {
            if (returnWhen === ALL_COMPLETED) r.violation("ALL_COMPLETED returned with pending futures before its timeout");
            if (returnWhen === FIRST_COMPLETED) expect(done).toBeGreaterThan(0);
            if (returnWhen === FIRST_EXCEPTION) expect(failed).toBe(true);
          }
        },
      };
    },
  );

  property(
    "asCompleted (for await): results in completion order; leaving early cancels and waits for what it started",
    childrenArb(false),
    [fc.constantFrom<number | null>(null, 5, 15, 30), fc.option(fc.nat(3), { nil: null })],
    (specs, limit, breakAfter) => {
      const seen: number[] = [];
      let ac: AsCompleted<number> | undefined;
      let closedAt: number | undefined;
      const doneOrder: number[] = [];
      return {
        op: async (r) => {
          const items = r.trackedItems();
          ac = asCompleted(items, { timeout: limit });
          const cancelStarted = ac._cancelStarted.bind(ac);
          ac._cancelStarted = () => {
            closedAt ??= r.tick();
            cancelStarted();
          };
          const kids = [...ac._todo];
          kids.forEach((kid, i) => kid.addDoneCallback(() => doneOrder.push(i)));
          await recordOutcome(r, async () => {
            for await (const v of ac!) {
              seen.push(v);
              if (breakAfter !== null && seen.length > breakAfter) break;
            }
            return "ended";
          });
        },
        check: (r) => {
          const error = r.error();
          // The results come in the order the children finished, each once.
          const succeeded = doneOrder.filter((i) => {
            const t = r.children[i]!.task;
            return t === undefined || (!t.cancelled() && t.exception() === null);
          });
          expect(seen).toEqual(doneOrder.slice(0, seen.length).map(valueOf));
          expect(succeeded.slice(0, seen.length)).toEqual(doneOrder.slice(0, seen.length));
          // Leaving the loop, however, leaves no task it started behind.
          expect(r.pendingAtEnd.filter((t) => (ac!._started as unknown[]).includes(t))).toEqual([]);
          // Tasks passed in are never cancelled by it.
          for (const c of r.children) if (c.spec.asTask && c.task?.cancelled() === true && r.cancelled(`child ${c.i}`).length === 0) r.violation(`task ${c.i} passed in ended cancelled`);
          if (closedAt !== undefined) for (const c of r.children) if (!c.spec.asTask) r.expectInterrupted(c, closedAt, "asCompleted closed");
          if (r.outcome !== undefined && "value" in r.outcome) {
            if (breakAfter === null || seen.length <= breakAfter) expect(seen).toHaveLength(specs.length);
            return;
          }
          if (error instanceof TimeoutError) expect(r.outcomeTime - r.startTime).toBe(limit!);
          else if (error instanceof ChildError) {
            // The first child, after those given out, to finish with a failure or a cancel.
            const next = doneOrder[seen.length];
            expect(error).toBe(r.children[next!]!.failedWith);
          } else {
            expect(isCancelledError(error)).toBe(true);
            expect(r.cancelled(() => true, r.outcomeAt).length).toBeGreaterThan(0);
          }
        },
      };
    },
  );
});
