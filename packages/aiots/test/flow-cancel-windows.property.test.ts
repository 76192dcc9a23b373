/**
 * The flow combinators (gather, TaskGroup, waitFor, timeout/timeoutAt, shield, wait,
 * asCompleted) under random schedules, with children that take queue items or hold semaphore
 * permits, and cancels of the outer task, of children and of abort signals at random virtual
 * times, at random microtask offsets after a loop callback (a plain promise chain started from
 * outside every task), in the very callback that puts an item (so in the window between a
 * hand-over and the code that takes it), and after random numbers of `sleep(0)` steps.
 *
 * Everywhere, at the end (virtual time advanced past everything, then the stragglers
 * cancelled): every permit is free, every item put was got exactly once (by some code, held
 * as the result of a child that returned the get, or held by the promise of a `q.get()` the
 * caller made itself) or is still queued, no task is pending, and the loop's exception handler
 * was never called. Each property adds what asyncio (CPython 3.13) promises for its combinator.
 *
 * `q.get()` and `sem.acquire()` return a waiter Future when they must wait, and otherwise (a
 * non-empty queue, a free permit) a plain promise, already settled. A plain promise passed to
 * a combinator is work the caller started, which nothing can interrupt: its value is the
 * caller's, who holds the promise, also when a cancel of the caller drops a combinator's result
 * that carries it (the wrapper a combinator puts around the promise settles a microtask later,
 * and asyncio drops the outcome of a gather or shield still pending when its awaiting task is
 * cancelled).
 *
 * The cases at the end pin the narrowest windows one by one, each asserting what asyncio does
 * for the same schedule (checked with CPython 3.13.0, or, where said, read from its source).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ExceptionGroup,
  GatheringFuture,
  Queue,
  Semaphore,
  TaskGroup,
  TimeoutError,
  VirtualTimeLoop,
  allTasks,
  asCompleted,
  createTask,
  currentTask,
  gather,
  getRunningLoop,
  isCancelledError,
  isFuture,
  run,
  shield,
  sleep,
  taskGroup,
  timeout,
  timeoutAt,
  wait,
  waitFor,
} from "aiots";
import type { Future, Task, Timeout } from "aiots";

const RUNS = Number(process.env.RUNS ?? 150);
const LIMIT = Math.max(20_000, RUNS * 40);
const HORIZON = 1_000;
const vrun = <T>(fn: () => Promise<T>, loop = new VirtualTimeLoop()): Promise<T> => run(fn, { loop });

class JobError extends Error {
  override name = "JobError";
}
const ABORT = new Error("aborted by the scenario");

// ---------------------------------------------------------------------------------------------
// When to act (cancel or abort)
// ---------------------------------------------------------------------------------------------

/** Calls `f` at once (`k` 0, in the same synchronous step) or in the `k`-th microtask from now. */
function afterTicks(k: number, f: () => void): void {
  if (k === 0) {
    f();
    return;
  }
  void (async () => {
    for (let i = 0; i < k; i++) await Promise.resolve();
    f();
  })();
}

type When =
  | { kind: "time"; at: number; ticks: number } // a timer at `at`, then `ticks` microtasks
  | { kind: "put"; nth: number; ticks: number } // in the callback that puts item `nth`, then `ticks` microtasks
  | { kind: "sleeps"; n: number }; // a side task, after `n` sleep(0)

const grid = fc.integer({ min: 0, max: 6 }).map((x) => x * 2);
const whenArb: fc.Arbitrary<When> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("time" as const), at: grid, ticks: fc.nat(7) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("put" as const), nth: fc.nat(4), ticks: fc.constantFrom(0, 0, 1, 2, 3, 4) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("sleeps" as const), n: fc.nat(5) }) },
);

// ---------------------------------------------------------------------------------------------
// The world of one run: a queue, a semaphore, the accounting, the exception handler
// ---------------------------------------------------------------------------------------------

/** An outcome read as a done future's: a Future or Task, or what a plain promise ended with. */
interface Outcome {
  done(): boolean;
  cancelled(): boolean;
  exception(): unknown;
  result(): unknown;
}

/**
 * What a plain promise ended with, recorded by `then` (a microtask after it settled), read as
 * a future's outcome. A plain promise is never cancelled: `cancelled()` is false.
 */
class Settled implements Outcome {
  private state: "pending" | "resolved" | "rejected" = "pending";
  private value: unknown;

  constructor(promise: PromiseLike<unknown>, onValue?: (value: unknown) => void) {
    promise.then(
      (v) => {
        this.state = "resolved";
        this.value = v;
        onValue?.(v);
      },
      (e: unknown) => {
        this.state = "rejected";
        this.value = e;
      },
    );
  }

  done(): boolean {
    return this.state !== "pending";
  }

  cancelled(): boolean {
    return false;
  }

  exception(): unknown {
    if (this.state === "pending") throw new Error("the promise is pending");
    return this.state === "rejected" ? this.value : null;
  }

  result(): unknown {
    if (this.state !== "resolved") throw this.state === "pending" ? new Error("the promise is pending") : this.value;
    return this.value;
  }
}

/**
 * How the outcome of what `q.get()` or `sem.acquire()` returned is read: a waiter Future is
 * its own record; a plain promise (the fast path, settled already) is recorded with `then`.
 * A waiter Future is not given a `then` of the test's: inside a task that counts as an await
 * by the task (its cancel would cancel the waiter), and a delivery through `then` takes what
 * the waiter handed over (a late cancel of the code that really awaits it could no longer
 * give it back).
 */
function watch(p: PromiseLike<unknown>): Outcome {
  return isFuture(p) ? p : new Settled(p);
}

class World {
  readonly q = new Queue<string>();
  readonly sem: Semaphore;
  /** Every item put. */
  readonly put: string[] = [];
  /** Items that reached some code (which then owns them). */
  readonly handled: string[] = [];
  /**
   * Futures, and promises the caller holds, whose value, if they end with one, is an item
   * nobody's code received (unless `claimed()` says some code did, and counted it).
   */
  readonly holders: { of: Outcome; claimed?: () => boolean }[] = [];
  readonly violations: string[] = [];
  readonly handlerCalls: string[] = [];
  readonly putHooks = new Map<number, (() => void)[]>();

  constructor(
    readonly loop: VirtualTimeLoop,
    readonly permits: number,
  ) {
    this.sem = new Semaphore(permits);
  }

  putItem(): void {
    const n = this.put.length;
    const x = `i${n}`;
    this.put.push(x);
    this.q.putNowait(x);
    for (const f of this.putHooks.get(n) ?? []) f();
  }

  /** Runs `act` as `w` says. */
  when(w: When, act: () => void): void {
    switch (w.kind) {
      case "time":
        this.loop.callLater(w.at, () => afterTicks(w.ticks, act));
        break;
      case "put": {
        const list = this.putHooks.get(w.nth) ?? [];
        list.push(() => afterTicks(w.ticks, act));
        this.putHooks.set(w.nth, list);
        break;
      }
      case "sleeps":
        createTask(async () => {
          for (let i = 0; i < w.n; i++) await sleep(0);
          act();
        });
        break;
    }
  }

  /** A future (a task, or a get's waiter) whose value, if it ends with one, is an item nobody's code received. */
  holder(f: Future<unknown>): void {
    this.holders.push({ of: f });
  }

  /**
   * The promise of a `q.get()` the caller made: the item it resolves with is the caller's
   * (nobody's code received it, unless `claimed()` says some code did).
   */
  holdItem(p: PromiseLike<unknown>, claimed?: () => boolean): Outcome {
    const of = watch(p);
    this.holders.push({ of, claimed });
    return of;
  }

  /** A future whose `true` is a permit nobody's code received: given back when it comes. */
  permitHolder(f: Future<unknown>): void {
    f.addDoneCallback(() => {
      if (!f.cancelled() && f.exception() === null && f.result() === true) this.sem.release();
    });
  }

  /**
   * The promise of a `sem.acquire()` the caller made, whose permit nobody's code receives:
   * given back when it comes.
   */
  holdPermit(p: PromiseLike<unknown>): Outcome {
    if (isFuture(p)) {
      this.permitHolder(p);
      return p;
    }
    return new Settled(p, (v) => {
      if (v === true) this.sem.release();
    });
  }

  /**
   * At the horizon every get and acquire has long had what it waited for: a waiter still
   * pending is a violation, and is withdrawn, so that the run ends clean.
   */
  withdrawPending(): void {
    for (const { of } of this.holders) {
      if (isFuture(of) && !of.done()) {
        this.violations.push(`a holder pending at the horizon: ${String(of)}`);
        of.cancel();
      }
    }
  }

  /** The end-of-run invariants. */
  checkEnd(): void {
    const owned: string[] = [...this.handled];
    for (const { of: h, claimed } of this.holders) {
      if (!h.done()) owned.push("<pending holder>");
      else if (claimed?.() === true) continue;
      else if (!h.cancelled() && h.exception() === null && typeof h.result() === "string") owned.push(h.result() as string);
    }
    while (!this.q.empty()) owned.push(this.q.getNowait());
    const sorted = (xs: string[]) => [...xs].sort();
    if (JSON.stringify(sorted(owned)) !== JSON.stringify(sorted(this.put))) {
      this.violations.push(`items: put ${JSON.stringify(sorted(this.put))}, accounted for ${JSON.stringify(sorted(owned))}`);
    }
    if (this.sem._value !== this.permits || this.sem.locked()) this.violations.push(`semaphore not free at the end: ${String(this.sem)}, value ${this.sem._value}`);
  }
}

interface Plan {
  permits: number;
  /** Items in the queue before anything starts (the fast path). */
  initial: number;
  /** When the other items are put (one each). */
  puts: number[];
}
const planArb = fc.record({
  permits: fc.constantFrom(1, 1, 2),
  initial: fc.nat(2),
  puts: fc.array(grid, { maxLength: 5 }),
});

/**
 * Runs `scenario` on a fresh virtual-time loop, then advances time, checks that nothing is
 * pending, cancels the stragglers, and checks the invariants. `getters` is how many items the
 * scenario may take at most: enough are put late to let every get finish.
 */
async function play(plan: Plan, getters: number, scenario: (w: World) => void | Promise<void>): Promise<World> {
  const loop = new VirtualTimeLoop();
  const w = new World(loop, plan.permits);
  loop.setExceptionHandler((_loop, context) => {
    // A shielded child that failed after its shield was cancelled is reported (asyncio 3.14):
    // expected here, as long as it is a real failure, never a cancellation.
    if (context.message.endsWith(" exception in shielded future") && context.exception instanceof Error && !isCancelledError(context.exception)) return;
    w.handlerCalls.push(`${context.message}: ${String(context.exception)}`);
  });
  await vrun(async () => {
    const main = currentTask();
    for (let i = 0; i < plan.initial; i++) w.putItem();
    for (const at of plan.puts) loop.callLater(at, () => w.putItem());
    const missing = Math.max(0, getters - plan.initial - plan.puts.length);
    loop.callLater(100, () => {
      for (let i = 0; i < missing; i++) w.putItem();
    });
    await scenario(w);
    await sleep(HORIZON);
    const pending = [...allTasks()].filter((t) => t !== main);
    if (pending.length > 0) w.violations.push(`pending at the horizon: ${pending.map(String).join("; ")}`);
    for (const t of pending) t.cancel();
    await sleep(HORIZON);
    if ([...allTasks()].some((t) => t !== main)) w.violations.push("tasks pending after being cancelled");
    w.withdrawPending();
    await sleep(0);
    w.checkEnd();
  }, loop);
  return w;
}

function expectClean(w: World): void {
  expect(w.violations).toEqual([]);
  expect(w.handlerCalls).toEqual([]);
}

// ---------------------------------------------------------------------------------------------
// Children
// ---------------------------------------------------------------------------------------------

const childKinds = [
  "get", // async: await q.get(), then work; the item is the code's
  "getDirect", // () => q.get(): the item is the task's result
  "getFuture", // q.get() itself, made by the outer task: a waiter Future, or a settled plain promise (its item is the caller's)
  "sem", // async: await sem.acquire(), work, release
  "semDirect", // () => sem.acquire(): the permit is the task's result (given back when it comes)
  "semFuture", // sem.acquire() itself, made by the outer task: a waiter Future, or a settled plain promise (given back when it comes)
  "sleep", // async: work, return a value
  "swallow", // async: work, and a CancelledError there is swallowed: returns "swallowed"
] as const;
type ChildKind = (typeof childKinds)[number];

const childArb = fc.record({
  kind: fc.constantFrom(...childKinds),
  work: fc.constantFrom(0, 0, 1, 2, 3, 5),
  fails: fc.nat(3).map((x) => x === 1),
  cleanup: fc.constantFrom(0, 0, 1),
  /** Passed in as a Task made beforehand with an abort signal of its own, not as a function. */
  asTask: fc.boolean(),
  /** A task made beforehand (or by a TaskGroup) starts eagerly, inside `createTask`. */
  eager: fc.boolean(),
});
type ChildSpec = typeof childArb extends fc.Arbitrary<infer C> ? C : never;

const TAKES_ITEM = new Set<ChildKind>(["get", "getDirect", "getFuture"]);

/** A child, built: what to pass to the combinator, and its future once known. */
interface Child {
  spec: ChildSpec;
  input: (() => Promise<unknown>) | PromiseLike<unknown>;
  /**
   * The task or future of the child (for functions: set when the task starts). None for a
   * plain promise: the combinator wraps it in a future of its own, which the test never sees.
   */
  future: Future<unknown> | undefined;
  /** For a `getFuture`/`semFuture` child: the outcome of the promise (the waiter Future itself, or a plain promise's record). */
  held: Outcome | undefined;
  abort: AbortController | undefined;
}

/** What child `c` ended with: its task or future, else its promise's record. */
function childOutcome(c: Child): Outcome | undefined {
  return c.future ?? c.held;
}

/**
 * Builds child `i`. Call it from the task that will await the combinator (a `getFuture` child
 * is made right there). Items and permits of direct children are accounted as their results;
 * those of a `getFuture`/`semFuture` child, as what its promise resolved with.
 */
function makeChild(w: World, spec: ChildSpec, i: number, register = true): Child {
  const child: Child = { spec, input: undefined as never, future: undefined, held: undefined, abort: undefined };
  const own = () => {
    const t = currentTask()!;
    child.future = t;
    return t;
  };
  // A get, or an acquire, returned as it is by the child's function.
  const getDirect = () => {
    const t = own();
    if (register) w.holder(t);
    return w.q.get();
  };
  const semDirect = () => {
    const t = own();
    if (register) w.permitHolder(t);
    return w.sem.acquire();
  };
  /** A `getFuture`/`semFuture` child not made as a task: the wait's promise, passed in as it is. */
  const asPromise = (p: Promise<unknown>, hold: (p: Promise<unknown>) => Outcome): Child => {
    child.held = register ? hold(p) : watch(p);
    child.future = isFuture(p) ? p : undefined;
    child.input = p;
    return child;
  };
  let fn: () => Promise<unknown>;
  switch (spec.kind) {
    case "getDirect":
      fn = getDirect;
      break;
    case "semDirect":
      fn = semDirect;
      break;
    case "semFuture":
      if (!spec.asTask) return asPromise(w.sem.acquire(), (p) => w.holdPermit(p));
      fn = semDirect;
      break;
    case "getFuture":
      if (!spec.asTask) return asPromise(w.q.get(), (p) => w.holdItem(p));
      fn = getDirect;
      break;
    default:
      fn = async () => {
        own();
        let value: unknown;
        try {
          value = await doWork(w, spec.kind, spec.work, `v${i}`);
        } finally {
          if (spec.cleanup > 0) await sleep(spec.cleanup).catch(() => undefined);
        }
        if (value === "swallowed") return value; // ended early by its cancel, before it could fail
        if (spec.fails) throw new JobError(`child ${i}`);
        return value;
      };
  }
  if (spec.asTask) {
    const ac = new AbortController();
    child.abort = ac;
    const t = createTask(fn, { signal: ac.signal, eagerStart: spec.eager });
    child.future = t;
    child.input = t;
  } else child.input = fn;
  return child;
}

/**
 * The work of a child: a get (its item recorded as handled), a permit held for `ms`, or a
 * sleep of `ms` that a "swallow" child ends early with "swallowed" when cancelled. Resolves
 * to the item, else `value`.
 */
async function doWork(w: { q: Queue<string>; sem: Semaphore; handled: string[] }, kind: string, ms: number, value: unknown): Promise<unknown> {
  if (kind === "get") {
    const x = await w.q.get();
    w.handled.push(x);
    value = x;
  }
  if (kind === "sem") {
    await w.sem.acquire();
    try {
      await sleep(ms);
    } finally {
      w.sem.release();
    }
    return value;
  }
  try {
    await sleep(ms);
  } catch (e) {
    if (kind === "swallow" && isCancelledError(e)) return "swallowed";
    throw e;
  }
  return value;
}

/** What a done future (or promise) ended with, for messages. */
function outcome(f: Outcome | undefined): string {
  if (f === undefined) return "never made";
  if (!f.done()) return "pending";
  if (f.cancelled()) return "cancelled";
  const e = f.exception();
  return e === null ? `value ${String(f.result())}` : `error ${String(e)}`;
}

/** A cancel (or abort) of one participant, at some moment. */
const actArb = fc.record({ target: fc.nat(6), when: whenArb });

// ---------------------------------------------------------------------------------------------
// 1. gather
// ---------------------------------------------------------------------------------------------

describe("gather under cancels at microtask offsets", () => {
  const scenarioArb = fc.record({
    plan: planArb,
    children: fc.array(childArb, { minLength: 1, maxLength: 4 }),
    returnExceptions: fc.boolean(),
    /** Cancels of the outer task. */
    outer: fc.array(whenArb, { maxLength: 2 }),
    /** Cancels of a child (target < n), or aborts of its signal (target >= n). */
    acts: fc.array(actArb, { maxLength: 2 }),
    /** A cancel of the gather itself, by a third party. */
    cancelGather: fc.option(whenArb, { nil: undefined, freq: 3 }),
    /** The first child is given twice (one child, two slots). */
    dup: fc.boolean(),
  });

  it(
    "an outer cancel ends it cancelled with every child done; results keep their order; nothing is lost",
    async () => {
      await fc.assert(
        fc.asyncProperty(scenarioArb, async (s) => {
          const getters = s.children.filter((c) => TAKES_ITEM.has(c.kind)).length;
          let children: Child[] = [];
          let g: GatheringFuture<unknown[]> | undefined;
          let outerTask: Task<unknown> | undefined;
          /** A cancel of the outer task found the gather pending. */
          let cancelledWhilePending = false;
          /** A cancel of the gather itself took (it returned true). */
          let gatherCancelled = false;
          const w = await play(s.plan, getters, (w) => {
            outerTask = createTask(async () => {
              children = s.children.map((spec, i) => makeChild(w, spec, i));
              const inputs = children.map((c) => c.input);
              if (s.dup) inputs.push(children[0]!.input);
              g = gather(inputs, { returnExceptions: s.returnExceptions });
              return await g;
            });
            outerTask.addDoneCallback((t) => {
              if (gatherCancelled && !t.cancelled()) w.violations.push(`the gather was cancelled, the task ended with ${outcome(t)}`);
              if (cancelledWhilePending) {
                if (!t.cancelled()) w.violations.push(`cancelled while the gather was pending, but ended with ${outcome(t)}`);
                const left = children.filter((c) => c.future !== undefined && !c.future.done());
                if (left.length > 0) w.violations.push(`the outer task ended cancelled with ${left.length} children still running`);
              }
            });
            for (const when of s.outer) {
              w.when(when, () => {
                if (g !== undefined && !g.done() && !outerTask!.done()) cancelledWhilePending = true;
                outerTask!.cancel();
              });
            }
            for (const act of s.acts) {
              w.when(act.when, () => {
                const n = children.length;
                if (n === 0) return;
                const c = children[act.target % n]!;
                if (act.target < n) c.future?.cancel();
                else c.abort?.abort(ABORT);
              });
            }
            if (s.cancelGather !== undefined) {
              w.when(s.cancelGather, () => {
                if (g?.cancel() === true) gatherCancelled = true;
              });
            }
          });
          const t = outerTask!;
          if (t.done() && !t.cancelled() && t.exception() === null) {
            const r = t.result() as unknown[];
            if (r.length !== children.length + (s.dup ? 1 : 0)) w.violations.push(`${r.length} results for ${children.length} children`);
            if (s.dup && r[children.length] !== r[0]) w.violations.push(`the duplicate slot holds ${String(r[children.length])}, the first ${String(r[0])}`);
            children.forEach((c, i) => {
              const f = childOutcome(c)!;
              if (!f.done()) w.violations.push(`child ${i} pending although the gather has results`);
              else if (f.cancelled()) {
                if (!s.returnExceptions || !isCancelledError(r[i])) w.violations.push(`slot ${i}: child cancelled, slot ${String(r[i])}`);
              } else if (f.exception() !== null) {
                if (!s.returnExceptions || r[i] !== f.exception()) w.violations.push(`slot ${i}: child failed, slot ${String(r[i])}`);
              } else if (r[i] !== f.result()) w.violations.push(`slot ${i}: ${String(r[i])}, child's result ${String(f.result())}`);
            });
          }
          // Nothing cancelled anyone: the gather's own outcome.
          if (s.outer.length === 0 && s.acts.length === 0 && s.cancelGather === undefined) {
            const failed = children.some((c) => childOutcome(c)!.exception() !== null);
            if (t.cancelled()) w.violations.push("cancelled although nobody cancelled anything");
            // A failure does not cancel the other children (asyncio's gather).
            if (children.some((c) => childOutcome(c)!.cancelled())) w.violations.push("a child ended cancelled although nobody cancelled anything");
            else if (s.returnExceptions || !failed) {
              if (t.exception() !== null) w.violations.push(`failed with ${String(t.exception())}`);
            } else if (!(t.exception() instanceof JobError)) w.violations.push(`a child failed, the gather ended with ${outcome(t)}`);
          }
          expectClean(w);
        }),
        { numRuns: RUNS },
      );
    },
    LIMIT,
  );
});

// ---------------------------------------------------------------------------------------------
// 2. TaskGroup
// ---------------------------------------------------------------------------------------------

describe("TaskGroup under cancels at microtask offsets", () => {
  const scenarioArb = fc.record({
    plan: planArb,
    children: fc.array(
      childArb.map((c) => ({ ...c, kind: c.kind === "getFuture" ? ("getDirect" as const) : c.kind === "semFuture" ? ("semDirect" as const) : c.kind })),
      { minLength: 1, maxLength: 4 },
    ),
    /** How many children the body starts after its await. */
    later: fc.nat(2),
    body: fc.record({ take: fc.boolean(), work: fc.constantFrom(0, 1, 3), fails: fc.nat(4).map((x) => x === 1) }),
    /** The group runs inside `timeout(deadline)`, when not null. */
    deadline: fc.option(fc.constantFrom(0, 1, 2, 4, 6), { nil: null, freq: 3 }),
    outer: fc.array(whenArb, { maxLength: 2 }),
    acts: fc.array(actArb, { maxLength: 2 }),
  });

  it(
    "a failure cancels the rest and is in the ExceptionGroup, exactly the failures are; an outer cancel ends it cancelled unless something failed; no child outlives it",
    async () => {
      await fc.assert(
        fc.asyncProperty(scenarioArb, async (s) => {
          const getters = s.children.filter((c) => TAKES_ITEM.has(c.kind)).length + (s.body.take ? 1 : 0);
          const children: Child[] = [];
          const tg = new TaskGroup();
          let outerTask: Task<unknown> | undefined;
          /**
           * What the body awaits. Only a cancel that finds it pending must end the group
           * cancelled: one that comes after it was delivered, while another task woken in the
           * same turn runs first, is thrown at the next await (docs/choices.md), and the body
           * may have none left.
           */
          let bodyAwaits: Future<unknown> | undefined;
          let bodyMustThrow = false;
          let bodyError: unknown;
          let scope: Timeout | undefined;
          /** A cancel of the outer task came while the body awaited, or while children ran. */
          let mustEndCancelled = false;
          const w = await play(s.plan, getters, (w) => {
            const start = (i: number) => {
              const child = makeChild(w, { ...s.children[i]!, asTask: false }, i);
              const ac = s.children[i]!.asTask ? new AbortController() : undefined;
              child.abort = ac;
              child.future = tg.createTask(child.input as () => Promise<unknown>, { signal: ac?.signal, eagerStart: s.children[i]!.eager });
              // Runs after the group's own done callback: a failure that finds the body's await
              // still pending has cancelled it.
              child.future.addDoneCallback((f) => {
                if (!f.cancelled() && f.exception() !== null && bodyAwaits !== undefined && !bodyAwaits.done()) bodyMustThrow = true;
              });
              children.push(child);
            };
            const body = async (): Promise<string> => {
              const n = s.children.length;
              const first = Math.max(0, n - s.later);
              for (let i = 0; i < first; i++) start(i);
              if (s.body.take) {
                // A plain promise (an item was there) is no await to interrupt.
                const p = w.q.get();
                bodyAwaits = isFuture(p) ? p : undefined;
                const x = await p;
                bodyAwaits = undefined;
                w.handled.push(x);
              }
              const nap = sleep(s.body.work);
              bodyAwaits = nap;
              await nap;
              bodyAwaits = undefined;
              if (bodyMustThrow) w.violations.push("a child failed while the body awaited, and the body went on");
              for (let i = first; i < n; i++) start(i);
              if (s.body.fails) {
                bodyError = new JobError("body");
                throw bodyError;
              }
              return "body";
            };
            outerTask = createTask(() =>
              s.deadline === null
                ? tg.run(body)
                : timeout(s.deadline, (sc) => {
                    scope = sc;
                    return tg.run(body);
                  }),
            );
            outerTask.addDoneCallback(() => {
              const left = children.filter((c) => !c.future!.done());
              if (left.length > 0) w.violations.push(`${left.length} children outlived the group`);
            });
            for (const when of s.outer) {
              w.when(when, () => {
                const active = tg.state === "entered" || tg.state === "exiting";
                if (active && ((bodyAwaits !== undefined && !bodyAwaits.done()) || tg.size > 0)) mustEndCancelled = true;
                outerTask!.cancel();
              });
            }
            for (const act of s.acts) {
              w.when(act.when, () => {
                const n = children.length;
                if (n === 0) return;
                const c = children[act.target % n]!;
                if (act.target < n) c.future!.cancel();
                else c.abort?.abort(ABORT);
              });
            }
          });
          const t = outerTask!;
          const failures: unknown[] = children.map((c) => c.future!).filter((f) => !f.cancelled() && f.exception() !== null).map((f) => f.exception());
          if (bodyError !== undefined) failures.push(bodyError);
          const e = t.cancelled() ? undefined : t.exception();
          if (failures.length > 0) {
            if (!(e instanceof ExceptionGroup)) w.violations.push(`failures ${failures.map(String).join(", ")}, but the group ended with ${outcome(t)}`);
            else {
              const same = e.errors.length === failures.length && failures.every((f) => e.errors.includes(f));
              if (!same) w.violations.push(`ExceptionGroup of ${e.errors.map(String).join(", ")}, failures ${failures.map(String).join(", ")}`);
            }
          } else {
            if (e instanceof ExceptionGroup) w.violations.push(`an ExceptionGroup with no failures: ${e.errors.map(String).join(", ")}`);
            if (mustEndCancelled && !t.cancelled()) w.violations.push(`cancelled while the body awaited or children ran, ended with ${outcome(t)}`);
            if (s.outer.length === 0) {
              if (scope === undefined || !scope.expired()) {
                if (!(t.exception() === null && t.result() === "body")) w.violations.push(`nobody cancelled the group, it ended with ${outcome(t)}`);
              } else if (!(e instanceof TimeoutError) && !(t.exception() === null && t.result() === "body")) {
                w.violations.push(`the deadline passed, the group ended with ${outcome(t)}`);
              }
            }
          }
          if (e instanceof TimeoutError && (scope === undefined || !scope.expired())) w.violations.push("a TimeoutError although the deadline did not pass");
          expectClean(w);
        }),
        { numRuns: RUNS },
      );
    },
    LIMIT,
  );
});

// ---------------------------------------------------------------------------------------------
// 3. waitFor, timeout, timeoutAt, nested, with signals
// ---------------------------------------------------------------------------------------------

const levelKinds = ["timeout", "timeoutAt", "waitFor", "waitForSignal"] as const;
const workKinds = ["get", "getDirect", "getFuture", "sem", "semDirect", "semFuture", "sleep", "swallow"] as const;
type WorkKind = (typeof workKinds)[number];
const ITEM_WORK = new Set<WorkKind>(["getDirect", "getFuture"]);
const PERMIT_WORK = new Set<WorkKind>(["semDirect", "semFuture"]);

const levelArb = fc.record({
  kind: fc.constantFrom(...levelKinds),
  d: fc.option(fc.constantFrom(0, 1, 2, 3, 4, 6, 10), { nil: null, freq: 4 }),
  abort: fc.option(whenArb, { nil: undefined, freq: 2 }),
});
type Level = typeof levelArb extends fc.Arbitrary<infer L> ? L : never;

interface LevelState {
  /** Loop time of the deadline (null: none), once entered. */
  deadline: number | null;
  scope?: Timeout;
  ac?: AbortController;
  entered: boolean;
  /** The work under this level has finished (its function returned or threw, or its future settled). */
  workDone: () => boolean;
  /** A cancel of the outer task came while this level was active and its work was not done. */
  outerCancelInside: boolean;
}

/**
 * Runs the levels, outermost first, around the work. Each level records the TimeoutError
 * (or abort reason) that first surfaces at it. `getFuture`/`semFuture` work is the promise of
 * the call made inside the innermost level (a `waitFor` of it, or a scope body returning it).
 *
 * A waiter Future passes what it hands over to the code that awaits it, or gives it back if
 * that await is cancelled late: the top code accounts for it. A plain promise (the fast path)
 * gives nothing back: its value is the caller's, who holds the promise, until the top code
 * receives it (`claim`); the test gives back a permit nobody received once the task is done
 * (`releaseUnclaimed`).
 */
function nestedRunner(w: World, levels: Level[], work: { kind: WorkKind; ms: number }) {
  const states: LevelState[] = levels.map(() => ({ deadline: null, entered: false, workDone: () => false, outerCancelInside: false }));
  const firstSeen = new Map<unknown, number>();
  let workFinishedAt: number | undefined;
  let workValue: unknown;
  /** The plain promise a `getFuture`/`semFuture` work made, and whether the top code received its value. */
  let plain: { of: Outcome; claimed: boolean } | undefined;
  const call = (p: Promise<unknown>): Promise<unknown> => {
    if ((work.kind === "getFuture" || work.kind === "semFuture") && !isFuture(p)) {
      const held: { of: Outcome; claimed: boolean } = { of: undefined as never, claimed: false };
      held.of = work.kind === "getFuture" ? w.holdItem(p, () => held.claimed) : watch(p);
      plain = held;
    }
    return p;
  };
  /** Whether `p` is done: a plain promise from these calls is settled when made. */
  const settled = (p: Promise<unknown>): boolean => !isFuture(p) || p.done();
  const inner = (): Promise<unknown> => {
    switch (work.kind) {
      case "getDirect":
      case "getFuture":
        return call(w.q.get());
      case "semDirect":
      case "semFuture":
        return call(w.sem.acquire());
      default:
        return (async () => {
          const value = await doWork(w, work.kind, work.ms, "done");
          workFinishedAt = getRunningLoop().time();
          workValue = value;
          return value;
        })();
    }
  };
  const level = async (i: number): Promise<unknown> => {
    if (i === levels.length) return inner();
    const lv = levels[i]!;
    const st = states[i]!;
    const loop = getRunningLoop();
    st.entered = true;
    st.deadline = lv.d === null ? null : loop.time() + lv.d;
    let done = false;
    const below = async () => {
      try {
        return await level(i + 1);
      } finally {
        done = true;
      }
    };
    st.workDone = () => done;
    try {
      switch (lv.kind) {
        case "timeout":
          return await timeout(lv.d, (scope) => {
            st.scope = scope;
            return below();
          });
        case "timeoutAt":
          return await timeoutAt(st.deadline, (scope) => {
            st.scope = scope;
            return below();
          });
        case "waitFor":
        case "waitForSignal": {
          const options = lv.kind === "waitForSignal" ? { signal: (st.ac ??= new AbortController()).signal } : undefined;
          if (i === levels.length - 1 && (work.kind === "getFuture" || work.kind === "semFuture")) {
            const p = inner();
            st.workDone = () => settled(p);
            return await waitFor(p, lv.d, options);
          }
          if (i === levels.length - 1 && (work.kind === "getDirect" || work.kind === "semDirect")) {
            let p: Promise<unknown> | undefined;
            st.workDone = () => p !== undefined && settled(p);
            return await waitFor(
              () => {
                p = inner();
                return p;
              },
              lv.d,
              options,
            );
          }
          return await waitFor(below, lv.d, options);
        }
      }
    } catch (e) {
      if ((e instanceof TimeoutError || e === ABORT) && !firstSeen.has(e)) firstSeen.set(e, i);
      throw e;
    }
  };
  return {
    states,
    firstSeen,
    level,
    workFinishedAt: () => workFinishedAt,
    workValue: () => workValue,
    /** The top code received the work's value. */
    claim: () => {
      if (plain !== undefined) plain.claimed = true;
    },
    /** Gives back the permit of a plain promise whose value the top code did not receive. */
    releaseUnclaimed: () => {
      if (work.kind === "semFuture" && plain !== undefined && !plain.claimed && plain.of.done() && plain.of.exception() === null && plain.of.result() === true) {
        plain.claimed = true;
        w.sem.release();
      }
    },
  };
}

describe("waitFor, timeout and timeoutAt, nested, with signals, under cancels at microtask offsets", () => {
  const scenarioArb = fc
    .record({
      plan: planArb,
      levels: fc.array(levelArb, { minLength: 1, maxLength: 3 }),
      work: fc.record({ kind: fc.constantFrom(...workKinds), ms: fc.constantFrom(0, 1, 2, 3, 4, 6) }),
      outer: fc.array(whenArb, { maxLength: 2 }),
      /** Another holder of a permit, so that acquires wait. */
      hog: fc.option(fc.record({ at: grid, hold: grid }), { nil: undefined }),
    })

  it(
    "a TimeoutError comes only from a level whose deadline passed, never over an outer cancel; work done in time gives its value; nothing is lost",
    async () => {
      await fc.assert(
        fc.asyncProperty(scenarioArb, async (s) => {
          let outerTask: Task<unknown> | undefined;
          let runner: ReturnType<typeof nestedRunner> | undefined;
          let outerCancelled = false;
          let aborted = false;
          const getters = s.work.kind === "get" || ITEM_WORK.has(s.work.kind) ? 1 : 0;
          const w = await play(s.plan, getters, (w) => {
            runner = nestedRunner(w, s.levels, s.work);
            const r = runner;
            if (s.hog !== undefined) {
              const hog = s.hog;
              createTask(async () => {
                await sleep(hog.at);
                await w.sem.acquire();
                try {
                  await sleep(hog.hold);
                } finally {
                  w.sem.release();
                }
              });
            }
            outerTask = createTask(async () => {
              const v = await r.level(0);
              // The top code owns what the work handed over directly.
              r.claim();
              if (ITEM_WORK.has(s.work.kind)) w.handled.push(v as string);
              if (PERMIT_WORK.has(s.work.kind)) w.sem.release();
              return v;
            });
            // A plain promise's permit that never reached the top code is the caller's: given back.
            outerTask.addDoneCallback(() => r.releaseUnclaimed());
            for (const when of s.outer) {
              w.when(when, () => {
                if (outerTask!.done()) return;
                outerCancelled = true;
                const now = w.loop.time();
                s.levels.forEach((lv, i) => {
                  const st = r.states[i]!;
                  // A scope is inside while active or expiring (not exited yet); a waitFor,
                  // while its work runs and its deadline is still ahead (at the deadline
                  // itself the order decides, and after it the answer may be given already).
                  const inside =
                    st.scope !== undefined
                      ? st.scope.state === "active" || st.scope.state === "expiring"
                      : lv.kind.startsWith("waitFor") && st.entered && !st.workDone() && (st.deadline === null || now < st.deadline);
                  if (inside) st.outerCancelInside = true;
                });
                outerTask!.cancel();
              });
            }
            s.levels.forEach((lv, i) => {
              if (lv.abort !== undefined && lv.kind === "waitForSignal") {
                w.when(lv.abort, () => {
                  aborted = true;
                  (r.states[i]!.ac ??= new AbortController()).abort(ABORT);
                });
              }
            });
          });
          const t = outerTask!;
          const r = runner!;
          for (const [error, i] of r.firstSeen) {
            const st = r.states[i]!;
            const lv = s.levels[i]!;
            if (error === ABORT) {
              if (lv.kind !== "waitForSignal" || !st.ac?.signal.aborted) w.violations.push(`level ${i} (${lv.kind}) threw the abort reason`);
              continue;
            }
            if (st.scope !== undefined ? !st.scope.expired() : st.deadline === null || lv.kind.startsWith("timeout")) {
              w.violations.push(`level ${i} (${lv.kind}, deadline ${st.deadline}) threw a TimeoutError, its deadline did not pass`);
            }
            if (st.outerCancelInside) w.violations.push(`level ${i} (${lv.kind}) turned an outer cancel into a TimeoutError`);
          }
          // The work finished before every deadline, and nobody cancelled or aborted: its value.
          const doneAt = r.workFinishedAt();
          if (!outerCancelled && !aborted && doneAt !== undefined && r.states.every((st) => st.deadline === null || doneAt < st.deadline)) {
            if (t.cancelled() || t.exception() !== null || t.result() !== r.workValue()) {
              w.violations.push(`work done at ${doneAt} with ${String(r.workValue())}, before every deadline; the task ended with ${outcome(t)}`);
            }
          }
          if (!outerCancelled && t.cancelled()) w.violations.push("the task ended cancelled, nobody cancelled it");
          // (An outer cancel may also end with the value: one that finds no aiots await to
          // interrupt, as in the microtask before a returned Future is taken up, lets the task
          // finish with what its code received.)
          if (r.states.every((st) => st.outerCancelInside) && !t.cancelled() && t.exception() instanceof TimeoutError) {
            w.violations.push("an outer cancel inside every level, the task ended with a TimeoutError");
          }
          if (!t.cancelled() && t.exception() !== null && !(t.exception() instanceof TimeoutError) && t.exception() !== ABORT) {
            w.violations.push(`unexpected error ${String(t.exception())}`);
          }
          expectClean(w);
        }),
        { numRuns: RUNS },
      );
    },
    LIMIT,
  );
});

// ---------------------------------------------------------------------------------------------
// 4. shield
// ---------------------------------------------------------------------------------------------

describe("shield under cancels at microtask offsets", () => {
  const scenarioArb = fc.record({
    plan: planArb,
    inner: childArb,
    /** The shield is awaited inside `timeout(deadline)`, when not null. */
    deadline: fc.option(fc.constantFrom(0, 1, 2, 4), { nil: null, freq: 2 }),
    outer: fc.array(whenArb, { minLength: 1, maxLength: 2 }),
    hog: fc.option(fc.record({ at: grid, hold: grid }), { nil: undefined }),
  });

  it(
    "cancelling the caller leaves the inner work running to its end; its item or permit is not lost",
    async () => {
      await fc.assert(
        fc.asyncProperty(scenarioArb, async (s) => {
          const getters = TAKES_ITEM.has(s.inner.kind) ? 1 : 0;
          let outerTask: Task<unknown> | undefined;
          let inner: Child | undefined;
          let shielded: Future<unknown> | undefined;
          let cancelledWhileShielded = false;
          const direct = s.inner.kind === "getDirect" || s.inner.kind === "getFuture" || s.inner.kind === "semDirect" || s.inner.kind === "semFuture";
          const item = s.inner.kind === "getDirect" || s.inner.kind === "getFuture";
          const w = await play(s.plan, getters, (w) => {
            if (s.hog !== undefined) {
              const hog = s.hog;
              createTask(async () => {
                await sleep(hog.at);
                await w.sem.acquire();
                try {
                  await sleep(hog.hold);
                } finally {
                  w.sem.release();
                }
              });
            }
            outerTask = createTask(async () => {
              const body = async () => {
                // A function is started by the shield, whose hand-over stays its task's result
                // (`makeChild` accounts for it); a Task, Future or promise made beforehand is
                // accounted here, as the shield took it up or handed it back as it is. (A plain
                // promise is always taken up: its value is the caller's, who holds it.)
                const made = s.inner.asTask || s.inner.kind === "getFuture" || s.inner.kind === "semFuture";
                inner = makeChild(w, s.inner, 0, !made);
                const sh = shield(inner.input);
                shielded = sh;
                const wrapped = sh !== inner.input;
                if (made && direct && wrapped) {
                  const p = inner.input as PromiseLike<unknown>;
                  if (item) w.holdItem(p);
                  else w.holdPermit(p);
                }
                const v = await sh;
                if (made && direct && !wrapped) {
                  // A done future comes back as it is: awaiting it took the hand-over.
                  if (item) w.handled.push(v as string);
                  else w.sem.release();
                }
                return v;
              };
              return s.deadline === null ? await body() : await timeout(s.deadline, body);
            });
            for (const when of s.outer) {
              w.when(when, () => {
                if (shielded !== undefined && !shielded.done() && !outerTask!.done()) cancelledWhileShielded = true;
                outerTask!.cancel();
              });
            }
          });
          const t = outerTask!;
          const f = inner?.future;
          if (f !== undefined && f.cancelled()) w.violations.push("the shielded work was cancelled");
          if (cancelledWhileShielded && !t.cancelled() && !(t.exception() instanceof TimeoutError)) {
            w.violations.push(`the caller was cancelled while it awaited the shield, it ended with ${outcome(t)}`);
          }
          expectClean(w);
        }),
        { numRuns: RUNS },
      );
    },
    LIMIT,
  );
});

// ---------------------------------------------------------------------------------------------
// 5. wait and asCompleted
// ---------------------------------------------------------------------------------------------

describe("wait and asCompleted under cancels at microtask offsets", () => {
  const waitArb = fc.record({
    plan: planArb,
    children: fc.array(childArb, { minLength: 1, maxLength: 4 }),
    timeout: fc.option(fc.constantFrom(0, 1, 2, 4, 6), { nil: null, freq: 2 }),
    returnWhen: fc.constantFrom("ALL_COMPLETED" as const, "FIRST_COMPLETED" as const, "FIRST_EXCEPTION" as const),
    signal: fc.option(whenArb, { nil: undefined, freq: 2 }),
    outer: fc.array(whenArb, { maxLength: 2 }),
  });

  it(
    "wait cancels nothing: after its caller is cancelled the children still finish; done and pending split them as returnWhen says",
    async () => {
      await fc.assert(
        fc.asyncProperty(waitArb, async (s) => {
          const getters = s.children.filter((c) => TAKES_ITEM.has(c.kind)).length;
          let children: Child[] = [];
          let outerTask: Task<unknown> | undefined;
          let startedAt = 0;
          let triggeredAt: number | undefined;
          const ac = new AbortController();
          const w = await play(s.plan, getters, (w) => {
            outerTask = createTask(async () => {
              children = s.children.map((spec, i) => makeChild(w, spec, i));
              startedAt = w.loop.time();
              const r = await wait(
                children.map((c) => c.input),
                { timeout: s.timeout, returnWhen: s.returnWhen, signal: ac.signal },
              );
              triggeredAt = w.loop.time();
              return r;
            });
            for (const when of s.outer) w.when(when, () => outerTask!.cancel());
            if (s.signal !== undefined) w.when(s.signal, () => ac.abort(ABORT));
          });
          const t = outerTask!;
          children.forEach((c, i) => {
            if (c.future?.cancelled()) w.violations.push(`child ${i} was cancelled, nobody cancelled it`);
          });
          if (!t.cancelled() && t.exception() === null) {
            const { done, pending } = t.result() as { done: Set<Future<unknown>>; pending: Set<Future<unknown>> };
            // A plain promise is in them as the future wait wrapped it in: one of the rest,
            // which (when done) ends with the promise's value. A plain promise given twice is two
            // children (every uncontended `sem.acquire()` returns one shared settled promise, for
            // one permit each time).
            const plain = children.filter((c) => typeof c.input !== "function" && !isFuture(c.input));
            const all = children.filter((c) => !plain.includes(c)).map((c) => c.future);
            const rest = [...done, ...pending].filter((f) => !all.includes(f));
            if (done.size + pending.size !== all.length + plain.length || rest.length !== plain.length || !all.every((f) => f !== undefined && done.has(f) !== pending.has(f))) {
              w.violations.push("done and pending do not split the children");
            }
            const plainValues = plain.map((c) => (c.held!.done() && c.held!.exception() === null ? c.held!.result() : undefined));
            for (const f of rest) {
              if (f.done() && !f.cancelled() && f.exception() === null && !plainValues.includes(f.result())) {
                w.violations.push(`a wrapper in done ends with ${String(f.result())}, the promises with ${JSON.stringify(plainValues)}`);
              }
            }
            for (const f of done) if (!f.done()) w.violations.push("a pending future in done");
            const timedOut = s.timeout !== null && triggeredAt! >= startedAt + s.timeout;
            if (!timedOut) {
              if (s.returnWhen === "ALL_COMPLETED" && pending.size > 0) w.violations.push("ALL_COMPLETED returned before the timeout with some pending");
              if (s.returnWhen === "FIRST_COMPLETED" && done.size === 0) w.violations.push("FIRST_COMPLETED returned before the timeout with none done");
              if (s.returnWhen === "FIRST_EXCEPTION" && pending.size > 0 && ![...done].some((f) => !f.cancelled() && f.exception() !== null)) {
                w.violations.push("FIRST_EXCEPTION returned before the timeout with none failed and some pending");
              }
            }
          } else if (!t.cancelled() && t.exception() !== ABORT) w.violations.push(`wait failed with ${String(t.exception())}`);
          if (!t.cancelled() && t.exception() === ABORT && !ac.signal.aborted) w.violations.push("the abort reason, with no abort");
          expectClean(w);
        }),
        { numRuns: RUNS },
      );
    },
    LIMIT,
  );

  const acArb = fc.record({
    plan: planArb,
    children: fc.array(
      // asCompleted cancels the tasks it started itself when the iteration ends early: those are
      // the function children; a child that swallows cancellation would not be cancelled then.
      childArb,
      { minLength: 1, maxLength: 4 },
    ),
    timeout: fc.option(fc.constantFrom(0, 1, 2, 4, 6), { nil: null, freq: 2 }),
    form: fc.constantFrom("forAwait" as const, "plain" as const),
    outer: fc.array(whenArb, { maxLength: 2 }),
    acts: fc.array(actArb, { maxLength: 1 }),
  });

  it(
    "asCompleted yields each child at most once, in the order they finished; all of them unless it timed out, failed or was cancelled",
    async () => {
      await fc.assert(
        fc.asyncProperty(acArb, async (s) => {
          const getters = s.children.filter((c) => TAKES_ITEM.has(c.kind)).length;
          let children: Child[] = [];
          let outerTask: Task<unknown> | undefined;
          /** Children in the order they finished (their first done callback). */
          const finished: Future<unknown>[] = [];
          /** What the iteration yielded: the futures whose outcome each item was. */
          const yielded: unknown[] = [];
          const w = await play(s.plan, getters, (w) => {
            outerTask = createTask(async () => {
              children = s.children.map((spec, i) => makeChild(w, spec, i));
              const it = asCompleted(
                children.map((c) => c.input),
                { timeout: s.timeout },
              );
              // Function children have their task once started: hook them as they start.
              for (const c of children) if (c.future !== undefined) c.future.addDoneCallback((f) => finished.push(f));
              if (s.form === "forAwait") {
                for await (const v of it) yielded.push(v);
              } else {
                for (const next of it) yielded.push(await next);
              }
              return "all";
            });
            for (const when of s.outer) w.when(when, () => outerTask!.cancel());
            for (const act of s.acts) {
              w.when(act.when, () => {
                const n = children.length;
                if (n === 0) return;
                const c = children[act.target % n]!;
                if (act.target < n) c.future?.cancel();
                else c.abort?.abort(ABORT);
              });
            }
          });
          const t = outerTask!;
          // Values identify children: each child's value is its own (`v<i>`, an item, `true` for a permit).
          const valueOf = (f: Future<unknown>) => (f.done() && !f.cancelled() && f.exception() === null ? f.result() : undefined);
          const order = finished.filter((f) => valueOf(f) !== undefined && valueOf(f) !== true && valueOf(f) !== "swallowed").map(valueOf);
          const seen = yielded.filter((v) => v !== true && v !== "swallowed");
          if (new Set(seen).size !== seen.length) w.violations.push(`a child yielded twice: ${JSON.stringify(yielded)}`);
          // The order they finished in, for the children asCompleted did not start itself.
          const tracked = seen.filter((v) => order.includes(v));
          const expectedOrder = order.filter((v) => tracked.includes(v));
          if (JSON.stringify(tracked) !== JSON.stringify(expectedOrder)) w.violations.push(`yielded ${JSON.stringify(tracked)}, finished ${JSON.stringify(order)}`);
          // A Future or function given twice is one child; a plain promise given twice is two (every
          // uncontended `sem.acquire()` returns one shared settled promise, for one permit each time).
          const distinct = new Set(children.map((c) => (isFuture(c.input) || typeof c.input === "function" ? c.input : {}))).size;
          if (!t.cancelled() && t.exception() === null && yielded.length !== distinct) w.violations.push(`${yielded.length} yielded for ${distinct} distinct children`);
          if (!t.cancelled() && t.exception() !== null) {
            const e = t.exception();
            const ok = e instanceof TimeoutError ? s.timeout !== null : e instanceof JobError || e === ABORT || isCancelledError(e);
            if (!ok) w.violations.push(`unexpected ${String(e)}`);
          }
          expectClean(w);
        }),
        { numRuns: RUNS },
      );
    },
    LIMIT,
  );
});

// ---------------------------------------------------------------------------------------------
// 6. Combinators nested in each other
// ---------------------------------------------------------------------------------------------

type TreeNode =
  | { kind: "leaf"; leaf: "get" | "sem" | "sleep" | "swallow" | "fail"; ms: number }
  | { kind: "direct"; what: "get" | "sem" } // only as a child of gather, taskGroup, wait, asCompleted
  | { kind: "gather" | "gatherSettled" | "taskGroup" | "wait" | "asCompleted"; d: number | null; children: TreeNode[] }
  | { kind: "waitFor" | "waitForSignal" | "timeout" | "shield"; d: number | null; child: TreeNode };

const leafArb: fc.Arbitrary<TreeNode> = fc.record({
  kind: fc.constant("leaf" as const),
  leaf: fc.constantFrom("get" as const, "sem" as const, "sleep" as const, "swallow" as const, "fail" as const),
  ms: fc.constantFrom(0, 1, 2, 4),
});
const dArb = fc.option(fc.constantFrom(0, 1, 2, 3, 5), { nil: null, freq: 2 });
function treeArb(depth: number): fc.Arbitrary<TreeNode> {
  if (depth === 0) return leafArb;
  const sub = treeArb(depth - 1);
  const many = fc.array(fc.oneof({ weight: 4, arbitrary: sub }, { weight: 1, arbitrary: fc.record({ kind: fc.constant("direct" as const), what: fc.constantFrom("get" as const, "sem" as const) }) }), {
    minLength: 1,
    maxLength: 3,
  });
  return fc.oneof(
    { weight: 1, arbitrary: leafArb },
    { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom("gather" as const, "gatherSettled" as const, "taskGroup" as const, "wait" as const, "asCompleted" as const), d: dArb, children: many }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom("waitFor" as const, "waitForSignal" as const, "timeout" as const, "shield" as const), d: dArb, child: sub }) },
  );
}

function countTakers(n: TreeNode): number {
  switch (n.kind) {
    case "leaf":
      return n.leaf === "get" ? 1 : 0;
    case "direct":
      return n.what === "get" ? 1 : 0;
    case "waitFor":
    case "waitForSignal":
    case "timeout":
    case "shield":
      return countTakers(n.child);
    default:
      return n.children.reduce((a, c) => a + countTakers(c), 0);
  }
}

describe("combinators nested in each other, under cancels at microtask offsets", () => {
  const scenarioArb = fc.record({
    plan: planArb,
    tree: treeArb(3),
    outer: fc.array(whenArb, { maxLength: 2 }),
    /** Cancels of the task running the k-th node evaluated, or aborts of the k-th signal. */
    acts: fc.array(fc.record({ target: fc.nat(9), abort: fc.boolean(), when: whenArb }), { maxLength: 3 }),
  });

  const allowed = (e: unknown): boolean =>
    isCancelledError(e) || e instanceof TimeoutError || e instanceof JobError || e === ABORT || (e instanceof ExceptionGroup && e.errors.every(allowed));

  it(
    "only cancellations, timeouts, the aborts and the children's failures come out; nothing is lost or left running",
    async () => {
      await fc.assert(
        fc.asyncProperty(scenarioArb, async (s) => {
          const nodeTasks: Task<unknown>[] = [];
          const signals: AbortController[] = [];
          const odd: unknown[] = [];
          let outerTask: Task<unknown> | undefined;
          const w = await play(s.plan, countTakers(s.tree), (w) => {
            const asInput = (n: TreeNode): (() => Promise<unknown>) => {
              if (n.kind !== "direct") return () => evalNode(n);
              return n.what === "get"
                ? () => {
                    w.holder(currentTask()!);
                    return w.q.get();
                  }
                : () => {
                    w.permitHolder(currentTask()!);
                    return w.sem.acquire();
                  };
            };
            const evalNode = async (n: TreeNode): Promise<unknown> => {
              nodeTasks.push(currentTask()!);
              try {
                switch (n.kind) {
                  case "direct":
                    throw new Error("a direct hand-over is only a child of a fan-out");
                  case "leaf": {
                    if (n.leaf === "get") {
                      const x = await w.q.get();
                      w.handled.push(x);
                    }
                    if (n.leaf === "sem") {
                      await w.sem.acquire();
                      try {
                        await sleep(n.ms);
                      } finally {
                        w.sem.release();
                      }
                      return "sem";
                    }
                    try {
                      await sleep(n.ms);
                    } catch (e) {
                      if (n.leaf === "swallow" && isCancelledError(e)) return "swallowed";
                      throw e;
                    }
                    if (n.leaf === "fail") throw new JobError("leaf");
                    return "leaf";
                  }
                  case "gather":
                  case "gatherSettled":
                    return await gather(n.children.map(asInput), { returnExceptions: n.kind === "gatherSettled" });
                  case "taskGroup":
                    return await taskGroup((tg) => {
                      for (const c of n.children) tg.createTask(asInput(c));
                      return "group";
                    });
                  case "wait":
                    return await wait(n.children.map(asInput), { timeout: n.d });
                  case "asCompleted": {
                    const out: unknown[] = [];
                    for await (const v of asCompleted(n.children.map(asInput), { timeout: n.d })) out.push(v);
                    return out;
                  }
                  case "waitFor":
                    return await waitFor(() => evalNode(n.child), n.d);
                  case "waitForSignal": {
                    const ac = new AbortController();
                    signals.push(ac);
                    return await waitFor(() => evalNode(n.child), n.d, { signal: ac.signal });
                  }
                  case "timeout":
                    return await timeout(n.d, () => evalNode(n.child));
                  case "shield":
                    return await shield(() => evalNode(n.child));
                }
              } catch (e) {
                if (!allowed(e)) odd.push(e);
                throw e;
              }
            };
            outerTask = createTask(() => evalNode(s.tree));
            for (const when of s.outer) w.when(when, () => outerTask!.cancel());
            for (const act of s.acts) {
              w.when(act.when, () => {
                if (act.abort) signals[act.target % Math.max(1, signals.length)]?.abort(ABORT);
                else nodeTasks[act.target % Math.max(1, nodeTasks.length)]?.cancel();
              });
            }
          });
          for (const e of odd) w.violations.push(`unexpected error: ${String(e)}`);
          const t = outerTask!;
          if (!t.cancelled() && t.exception() !== null && !allowed(t.exception())) w.violations.push(`ended with ${String(t.exception())}`);
          if (s.outer.length === 0 && s.acts.length === 0 && t.cancelled()) w.violations.push("ended cancelled, nobody cancelled anything");
          expectClean(w);
        }),
        { numRuns: RUNS },
      );
    },
    LIMIT,
  );
});

// ---------------------------------------------------------------------------------------------
// Work done at the same moment as the deadline
// ---------------------------------------------------------------------------------------------

describe("work done at the same moment as the deadline", () => {
  for (const putFirst of [true, false]) {
    const order = putFirst ? "the put's timer first" : "the deadline's timer first";
    // waitFor over a Future: the deadline cancels it in its own callback, as asyncio's timeout
    // cancels the caller there. A put whose timer fires first hands the item over in time; one
    // whose timer fires after finds no getter, and the item stays queued.
    it(`waitFor(q.get(), 10), an item put at 10 (${order}): ${putFirst ? "returns it" : "TimeoutError, the item stays queued"}`, async () => {
      await vrun(async () => {
        const loop = getRunningLoop();
        const q = new Queue<string>();
        if (putFirst) loop.callLater(10, () => q.putNowait("a"));
        const t = createTask(() => waitFor(q.get(), 10));
        await sleep(0);
        if (!putFirst) loop.callLater(10, () => q.putNowait("a"));
        if (putFirst) {
          expect(await t).toBe("a");
          expect(q.qsize()).toBe(0);
        } else {
          await expect(t).rejects.toBeInstanceOf(TimeoutError);
          expect(q.getNowait()).toBe("a");
        }
      });
    });
    // Over a function, the task it runs is not done yet when the deadline's stop comes (its
    // await is delivered a microtask later): then it is cancelled, as asyncio's wait_for is in
    // both orders. Either way the item is got or back in the queue.
    it(`waitFor(() => q.get(), 10), an item put at 10 (${order}): the item is returned, or TimeoutError and it stays queued`, async () => {
      await vrun(async () => {
        const loop = getRunningLoop();
        const q = new Queue<string>();
        if (putFirst) loop.callLater(10, () => q.putNowait("a"));
        const t = createTask(() => waitFor(() => q.get(), 10));
        await sleep(0);
        if (!putFirst) loop.callLater(10, () => q.putNowait("a"));
        const got = await t.then(
          (v) => v,
          (e: unknown) => e,
        );
        if (got === "a") expect(q.qsize()).toBe(0);
        else {
          expect(got).toBeInstanceOf(TimeoutError);
          expect(q.getNowait()).toBe("a");
        }
      });
    });
    // A scope cancels its task at the deadline, as asyncio's: the get that was handed the
    // item throws, and the item goes back to the queue.
    it(`timeout(10, () => q.get()), an item put at 10 (${order}): TimeoutError, the item stays queued`, async () => {
      await vrun(async () => {
        const loop = getRunningLoop();
        const q = new Queue<string>();
        if (putFirst) loop.callLater(10, () => q.putNowait("a"));
        const t = createTask(() => timeout(10, () => q.get()));
        await sleep(0);
        if (!putFirst) loop.callLater(10, () => q.putNowait("a"));
        await expect(t).rejects.toBeInstanceOf(TimeoutError);
        expect(q.getNowait()).toBe("a");
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------
// The narrowest windows, one at a time. Each asserts what asyncio (CPython 3.13.0) does for
// the same schedule.
// ---------------------------------------------------------------------------------------------

describe("cancel windows, one at a time", () => {
  // asyncio 3.13: `it = iter(as_completed([a, b]))`, n1 and n2 awaited by tasks t1 and t2; a
  // finishes at 1 ms (b at 100 ms), and t1 is cancelled in a's done callback (after the
  // hand-over to t1's wait, before t1 resumes) -> [("t1", "cancelled"), ("t2", "a", 0.001)]:
  // `_wait_for_one` gets from an asyncio.Queue, which keeps the completion for the next getter.
  it("asCompleted (plain iteration): an await of an item cancelled after its child finished passes that child on to the next await", async () => {
    await vrun(async () => {
      const loop = getRunningLoop();
      const a = createTask(async () => {
        await sleep(1);
        return "a";
      });
      const b = createTask(async () => {
        await sleep(100);
        return "b";
      });
      const it = asCompleted([a, b])[Symbol.iterator]();
      const n1 = it.next().value!;
      const n2 = it.next().value!;
      const log: unknown[] = [];
      const consume = (next: PromiseLike<string>, name: string) =>
        createTask(async () => {
          try {
            log.push([name, await next, loop.time()]);
          } catch (e) {
            log.push([name, isCancelledError(e) ? "cancelled" : String(e)]);
          }
        });
      const t1 = consume(n1, "t1");
      const t2 = consume(n2, "t2");
      await sleep(0); // both wait
      a.addDoneCallback(() => t1.cancel()); // runs after asCompleted's own callback woke t1
      await Promise.all([t1, t2]);
      expect(log).toEqual([
        ["t1", "cancelled"],
        ["t2", "a", 1],
      ]);
    });
  });

  // asyncio 3.13 (wait_for awaits its coroutine inside the caller's own task, 3.12+):
  //   t = create_task(body()) with body = `got.append(await wait_for(wait_for(q.get(), 1), 1))`;
  //   q.put_nowait("a") then t.cancel() 0..5 loop steps later -> either t is cancelled and "a"
  //   is still in the queue (k = 0), or got == ["a"]; the item is never lost. aiots runs the
  //   function as a task of its own, marked as inline: a cancel of the caller after that
  //   function finished lands at the caller's next await, as asyncio's step has gone past it.
  it("waitFor(() => waitFor(q.get(), t), t) cancelled in the microtasks after the put: the item is got or back in the queue", async () => {
    const outcomes: string[] = [];
    for (let k = 0; k <= 8; k++) {
      await vrun(async () => {
        const loop = getRunningLoop();
        const q = new Queue<string>();
        const got: string[] = [];
        const t = createTask(async () => {
          got.push(await waitFor(() => waitFor(q.get(), 1000), 1000));
        });
        await sleep(1); // t waits for an item
        loop.callSoon(() => {
          q.putNowait("a");
          afterTicks(k, () => t.cancel());
        });
        await Promise.allSettled([t]);
        outcomes.push(`${k}: ${got.length + q.qsize() === 1 ? "kept" : "lost"}`);
      });
    }
    expect(outcomes).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8].map((k) => `${k}: kept`));
  });

  // asyncio 3.13 (read from its source): with an item queued (a permit free), a task running
  // `got.append(await wait_for(q.get(), 1)); await sleep(0)` goes through wait_for without
  // suspending (Queue.get and Semaphore.acquire return at once then, and wait_for is
  // `async with timeout(): return await fut`, 3.12+), so no cancel can come before the item is
  // got: `t.cancel()` lands at the `sleep(0)` -> got == ["a"] (got == [True]), t cancelled.
  // aiots's fast path returns a settled plain promise, which waitFor wraps in a future that
  // settles a microtask later: a cancel of the caller in those microtasks still lands at the
  // next await.
  it("waitFor(q.get() / sem.acquire(), t) on the fast path, the caller cancelled in the microtasks after the call: the item or permit is got, the cancel lands at the next await", async () => {
    const outcomes: string[] = [];
    for (const call of ["get", "acquire"] as const) {
      for (let k = 0; k <= 6; k++) {
        await vrun(async () => {
          const q = new Queue<string>();
          q.putNowait("a");
          const sem = new Semaphore(1);
          const got: unknown[] = [];
          const t = createTask(
            async () => {
              const p: Promise<unknown> = call === "get" ? q.get() : sem.acquire();
              got.push(await waitFor(p, 1000));
              await sleep(0);
            },
            { eagerStart: true }, // up to its first await: the cancel comes after the call
          );
          afterTicks(k, () => t.cancel());
          await Promise.allSettled([t]);
          const held = call === "get" ? q.qsize() === 0 : sem.locked();
          outcomes.push(`${call} ${k}: ${JSON.stringify(got)}, ${t.cancelled() ? "cancelled" : outcome(t)}, ${held ? "taken" : "not taken"}`);
        });
      }
    }
    const expected = (call: string, value: string) => [0, 1, 2, 3, 4, 5, 6].map((k) => `${call} ${k}: [${value}], cancelled, taken`);
    expect(outcomes).toEqual([...expected("get", '"a"'), ...expected("acquire", "true")]);
  });
});
