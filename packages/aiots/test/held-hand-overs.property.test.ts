/**
 * Hand-overs held by the task whose code made them (docs/cancellation.md, point 4), under
 * random programs on a VirtualTimeLoop.
 *
 * asyncio runs a woken task's step only after the step of the task that woke it. aiots holds
 * a wake-up that a task's code makes (a Lock or Semaphore release, a put to a waiting getter,
 * a get that admits a waiting putter) until that code really waits (on a pending aiots
 * future) or its task ends, for up to 32 microtask turns (the programs here take fewer). So
 * the waker can go through microtask hops (an async function's return, an `await using` exit,
 * `await null`, awaits of settled promises, an uncontended acquire of another lock) and then
 * cancel the task it woke: that task's `await` still throws `CancelledError` and what it was
 * handed passes on (CPython's test_acquire_no_hang).
 *
 * Each program has 2 to 6 tasks contending on a Lock, a Semaphore(k) or a bounded Queue.
 * After each hand-over a task goes through a random sequence of hops, some of them real waits
 * (`sleep(0)`, a plain promise resolved by `loop.callSoon`), and at a random point of it may
 * cancel another task (sometimes two): most often the one it just woke, else any. Properties:
 *
 * 1. A task whose wait was handed something, and that is cancelled before the waker's next
 *    real wait (by the waker or by anyone) with no other task's code running in between, never
 *    runs its code after that await: the await throws `CancelledError`.
 * 2. Mutual exclusion / the permit bound / the queue bound always hold.
 * 3. At the end every lock is free, the semaphore has its full count, and every queue item was
 *    got exactly once or is still queued (exactly when its put returned), with no slot held.
 * 4. FIFO: tasks never cancelled acquire in the order they started waiting (a queue's blocked
 *    getters and putters resume in the order they started waiting).
 * 5. Nothing hangs: every lock or semaphore task ends; the tasks still waiting on the queue at
 *    the end are getters of an empty queue or putters of a full one.
 *
 * Who was handed what is seen from outside: the primitive's hand-over methods (`release`,
 * `put`, `get`) are wrapped on the instance, and a wait counts as handed over by the calling
 * task when the future that another task awaits becomes resolved during that call. A failure
 * reports the violations and a trace of the hand-overs, cancels and outcomes; for property 1
 * it also says whether the code of other tasks (than the waker and the woken) ran between the
 * hand-over and the cancel.
 *
 * `HELD_HAND_OVERS_SEED=<n>` fixes fast-check's seed; `HELD_HAND_OVERS_RUNS=<factor>` scales
 * the number of runs.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Future, Lock, Queue, Semaphore, VirtualTimeLoop, createTask, currentTask, getRunningLoop, isCancelledError, run, sleep } from "aiots";
import type { Task } from "aiots";

/** Long enough, in virtual ms, for every program to have run through. */
const HORIZON = 1_000_000;
/** A run that takes longer than this in real time hangs. */
const REAL_TIME_LIMIT_MS = 3_000;

const runs = (n: number) => Math.ceil(n * Number(process.env.HELD_HAND_OVERS_RUNS ?? 1));
const seed = process.env.HELD_HAND_OVERS_SEED === undefined ? undefined : Number(process.env.HELD_HAND_OVERS_SEED);
function fcOptions<Ts>(numRuns: number, examples: Ts[]): fc.Parameters<Ts> {
  return seed === undefined ? { numRuns: runs(numRuns), examples } : { numRuns: runs(numRuns), examples, seed };
}

// ---------------------------------------------------------------------------------------
// Programs
// ---------------------------------------------------------------------------------------

/**
 * A hop after a hand-over. `sleep0` and `plain` (a plain promise resolved by
 * `loop.callSoon`) are real waits; the others are microtask hops that asyncio's step runs
 * through in one go: `await null`, `await Promise.resolve()`, the return of an awaited async
 * function, an uncontended acquire (and release) of a lock of the task's own.
 */
type Hop = "null" | "resolved" | "asyncReturn" | "lock2" | "sleep0" | "plain";
const isRealWait = (hop: Hop) => hop === "sleep0" || hop === "plain";
const hopArb: fc.Arbitrary<Hop> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom<Hop>("null", "resolved", "asyncReturn", "lock2") },
  { weight: 2, arbitrary: fc.constantFrom<Hop>("sleep0", "plain") },
);
const hopsArb = fc.array(hopArb, { maxLength: 5 });

/** A cancel made after `at` of the hops (at most all of them): of the task just woken, or of task `target % n`. */
interface Cancel {
  at: number;
  target: "woken" | number;
}
const cancelArb: fc.Arbitrary<Cancel> = fc.record({
  at: fc.nat(6),
  target: fc.oneof({ weight: 3, arbitrary: fc.constant("woken" as const) }, { weight: 1, arbitrary: fc.nat(5) }),
});
/** Most often one cancel or none; sometimes two (say, of a sleeping task, then of the one just woken). */
const cancelsArb: fc.Arbitrary<Cancel[]> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<Cancel[]>([]) },
  { weight: 3, arbitrary: cancelArb.map((c) => [c]) },
  { weight: 1, arbitrary: fc.tuple(cancelArb, cancelArb).map(([c, d]) => [c, d]) },
);

/** Before an acquire or a queue operation: go at once, or `sleep(ms)` first. */
type Start = "now" | 0 | 1 | 2;
const startArb = fc.constantFrom<Start>("now", 0, 1, 2);

/** How a Lock or Semaphore is let go: `release()`, `release()` inside an awaited async function, or the exit of an `await using` block over `guard()`. */
type Release = "direct" | "asyncFn" | "guard";

/** One acquire of a lock or semaphore: hold it for `hold` ms, let it go, then the hops (and the cancels among them). */
interface GateRound {
  start: Start;
  hold: number;
  release: Release;
  hops: Hop[];
  cancels: Cancel[];
}
const gateRoundArb: fc.Arbitrary<GateRound> = fc.record({
  start: startArb,
  hold: fc.constantFrom(0, 0, 1, 2),
  release: fc.constantFrom<Release>("direct", "asyncFn", "guard"),
  hops: hopsArb,
  cancels: cancelsArb,
});
const gateTasksArb = fc.array(fc.array(gateRoundArb, { minLength: 1, maxLength: 2 }), { minLength: 2, maxLength: 6 });

/**
 * One queue operation, made directly or inside an awaited async function (the await of the
 * operation itself is always direct), then the hops (and the cancels among them).
 */
interface QueueOp {
  kind: "put" | "get";
  start: Start;
  style: "direct" | "asyncFn";
  hops: Hop[];
  cancels: Cancel[];
}
const queueOpArb: fc.Arbitrary<QueueOp> = fc.record({
  kind: fc.constantFrom<"put" | "get">("put", "get"),
  start: startArb,
  style: fc.constantFrom<"direct" | "asyncFn">("direct", "asyncFn"),
  hops: hopsArb,
  cancels: cancelsArb,
});
const queueTasksArb = fc.array(fc.array(queueOpArb, { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 6 });

// ---------------------------------------------------------------------------------------
// The world a program runs in
// ---------------------------------------------------------------------------------------

/** An aiots future that is still pending (a blocked acquire, put or get returns one). */
function isPendingFuture(p: unknown): p is Future<unknown> {
  return p instanceof Future && !p.done();
}

class World {
  readonly tasks: Task<void>[] = [];
  readonly indexOf = new Map<unknown, number>();
  /** The pending future each task awaits now (directly, with `await`), and the id of that operation. */
  readonly awaiting: (Future<unknown> | undefined)[];
  readonly awaitingOp: (string | undefined)[];
  /**
   * Per waker: the tasks its code handed something to since it last really waited, with the
   * id of the operation handed to and the steps other tasks had taken then (see `othersOf`).
   * Cleared when the waker starts a real wait or ends.
   */
  readonly handed: Map<number, { op: string; others: number }>[];
  /** Per task: the last task its code woke in its current round (or queue operation). */
  readonly lastWoken: (number | undefined)[];
  /** Tasks a program cancelled (FIFO is checked among the others). */
  readonly targeted = new Set<number>();
  /** Set once the run is over: the tasks still waiting are then cancelled by the test itself. */
  over = false;
  /** Operations that must end in `CancelledError`: id -> why. */
  readonly mustThrow = new Map<string, string>();
  /** How each operation's await ended: "returned", "cancelled" or what it threw. */
  readonly outcome = new Map<string, string>();
  readonly violations: string[] = [];
  readonly trace: string[] = [];
  /** Steps (resumptions of their code) of the program's tasks: all of them, and each task's. */
  steps = 0;
  readonly stepsOf: number[];

  constructor(readonly n: number) {
    this.awaiting = Array.from({ length: n }, () => undefined);
    this.awaitingOp = Array.from({ length: n }, () => undefined);
    this.handed = Array.from({ length: n }, () => new Map());
    this.lastWoken = Array.from({ length: n }, () => undefined);
    this.stepsOf = Array.from({ length: n }, () => 0);
  }

  /** The code of task `i` runs (called at its start and after each of its awaits). */
  ran(i: number): void {
    this.steps++;
    this.stepsOf[i]!++;
  }

  /** How many steps the tasks other than `i` and `j` have taken. */
  othersOf(i: number, j: number): number {
    return this.steps - this.stepsOf[i]! - this.stepsOf[j]!;
  }

  check(ok: boolean, message: string): void {
    if (!ok && this.violations.length < 10) this.violations.push(message);
  }

  /** The index of the task whose code runs now, if it is one of the program's. */
  me(): number | undefined {
    return this.indexOf.get(currentTask());
  }

  /** Task `i` is about to really wait (or might): what it handed over reaches the woken tasks now. */
  waits(i: number): void {
    this.handed[i]!.clear();
  }

  /**
   * Wraps a hand-over method of a primitive: a wait of another task that is resolved during
   * the call was handed over by the calling task.
   */
  observe<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
    return (...args: A): R => {
      const before: number[] = [];
      for (let j = 0; j < this.n; j++) if (this.awaiting[j] !== undefined && !this.awaiting[j]!.done()) before.push(j);
      const result = fn(...args);
      const w = this.me();
      for (const j of before) {
        const f = this.awaiting[j]!;
        if (!f.done() || f.cancelled()) continue;
        this.trace.push(`${w ?? "main"} hands over to ${j} (${this.awaitingOp[j]})`);
        if (w !== undefined) {
          this.handed[w]!.set(j, { op: this.awaitingOp[j]!, others: this.othersOf(w, j) });
          this.lastWoken[w] = j;
        }
      }
      return result;
    };
  }

  /** Awaits `p`, the operation `op` of task `i`, recording how it ends (and, while `p` is pending, that task `i` awaits it). */
  async track<T>(i: number, op: string, p: Promise<T>): Promise<T> {
    const pending = isPendingFuture(p);
    if (pending) {
      this.waits(i);
      this.awaiting[i] = p as unknown as Future<unknown>;
      this.awaitingOp[i] = op;
    }
    try {
      const value = await p;
      this.ran(i);
      this.outcome.set(op, "returned");
      this.trace.push(`${op} returned`);
      return value;
    } catch (error) {
      this.ran(i);
      this.outcome.set(op, isCancelledError(error) ? "cancelled" : `threw ${String(error)}`);
      this.trace.push(`${op} ${this.outcome.get(op)}`);
      throw error;
    } finally {
      this.awaiting[i] = undefined;
      this.awaitingOp[i] = undefined;
    }
  }

  /** The cancel `c` made by task `i`, whose latest hand-over woke `woken` (if any). */
  cancel(i: number, c: Cancel, woken: number | undefined): void {
    let v = c.target === "woken" ? woken : c.target % this.n;
    if (v === undefined) return;
    if (v === i) v = (i + 1) % this.n;
    this.targeted.add(v);
    // Handed over by a waker that has not really waited since: the victim must not resume.
    for (let w = 0; w < this.n; w++) {
      const handed = this.handed[w]!.get(v);
      if (handed === undefined || this.mustThrow.has(handed.op)) continue;
      // Only while no other task's code ran in between: a wake-up made by another task's code
      // lets a held one go first (such tasks run side by side in microtasks, which asyncio's
      // steps never do).
      if (this.othersOf(w, v) - handed.others > 0) continue;
      this.mustThrow.set(handed.op, `${handed.op} was handed over by task ${w}, and task ${i} cancelled task ${v} before task ${w} really waited (no other task's code ran in between)`);
    }
    this.trace.push(`${i} cancels ${v}`);
    this.tasks[v]!.cancel();
  }

  /** One hop of task `i`. */
  async hop(i: number, hop: Hop, own: Lock): Promise<void> {
    if (isRealWait(hop)) this.waits(i);
    switch (hop) {
      case "null":
        await null;
        break;
      case "resolved":
        await Promise.resolve();
        break;
      case "asyncReturn":
        await (async () => {})();
        break;
      case "lock2":
        await own.acquire();
        own.release();
        break;
      case "sleep0":
        await sleep(0);
        break;
      case "plain": {
        const loop = getRunningLoop();
        await new Promise<void>((resolve) => loop.callSoon(resolve));
        break;
      }
    }
    this.ran(i);
  }

  /** The hops of task `i` after a hand-over, with each cancel after `at` of them. */
  async letGo(i: number, hops: Hop[], cancels: Cancel[], own: Lock): Promise<void> {
    for (let h = 0; h <= hops.length; h++) {
      for (const c of cancels) if (Math.min(c.at, hops.length) === h) this.cancel(i, c, this.lastWoken[i]);
      if (h < hops.length) {
        await this.hop(i, hops[h]!, own);
        this.ran(i);
      }
    }
  }

  /** Starts task `i` running `body`; a `CancelledError` ends it quietly, if it was cancelled. */
  spawn(i: number, body: () => Promise<void>): void {
    const task = createTask(async () => {
      this.ran(i);
      try {
        await body();
        this.ran(i);
      } catch (error) {
        this.ran(i);
        if (!isCancelledError(error)) this.check(false, `task ${i} threw ${String(error)}`);
        else this.check(this.targeted.has(i) || this.over, `task ${i} threw CancelledError without being cancelled`);
      } finally {
        this.waits(i);
      }
    });
    this.tasks[i] = task;
    this.indexOf.set(task, i);
  }

  /** Property 1, at the end. */
  checkMustThrow(): void {
    for (const [op, why] of this.mustThrow) {
      const outcome = this.outcome.get(op);
      this.check(outcome === "cancelled", `(1) ${why}, yet its await ended: ${outcome ?? "never"}`);
    }
  }
}

/** Runs `body` as the main task of a fresh VirtualTimeLoop, failing if that takes too long in real time. */
async function runVirtual(body: () => Promise<void>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`(5) the run did not finish within ${REAL_TIME_LIMIT_MS} ms of real time`)), REAL_TIME_LIMIT_MS);
  });
  try {
    await Promise.race([run(body, { loop: new VirtualTimeLoop() }), hang]);
  } finally {
    clearTimeout(timer);
  }
}

function report(w: World): string {
  return `${w.violations.join("\n")}\ntrace:\n  ${w.trace.join("\n  ")}`;
}

// ---------------------------------------------------------------------------------------
// Lock and Semaphore
// ---------------------------------------------------------------------------------------

type Gate = { kind: "lock"; permits: 1 } | { kind: "semaphore"; permits: number };
const gateArb: fc.Arbitrary<Gate> = fc.oneof(
  fc.constant({ kind: "lock" as const, permits: 1 as const }),
  fc.integer({ min: 1, max: 3 }).map((permits) => ({ kind: "semaphore" as const, permits })),
);

async function gateProgram(gate: Gate, programs: GateRound[][]): Promise<World> {
  const n = programs.length;
  const w = new World(n);
  await runVirtual(async () => {
    const prim = gate.kind === "lock" ? new Lock() : new Semaphore(gate.permits);
    const release = prim.release.bind(prim);
    prim.release = w.observe(release);
    let inside = 0;
    /** Operation ids in the order their acquire was called, and in the order the code after it ran. */
    const calls: string[] = [];
    const entered: string[] = [];

    const round = async (i: number, r: number, own: Lock): Promise<void> => {
      const rd = programs[i]![r]!;
      const op = `${i}.${r}`;
      await startAt(w, i, rd.start);
      calls.push(op);
      const enter = () => {
        entered.push(op);
        inside++;
        w.check(inside <= gate.permits, `(2) ${inside} holders of ${gate.permits} permits once ${op} got in`);
        if (prim instanceof Semaphore) w.check(inside + prim._value <= gate.permits, `(2) ${inside} holders and ${prim._value} free permits of ${gate.permits} once ${op} got in`);
        else w.check(prim.locked(), `(2) ${op} holds the lock but it is not locked`);
      };
      /** Inside: counted in, holds for `rd.hold` virtual ms, counted out. */
      const critical = async () => {
        enter();
        try {
          w.waits(i);
          await sleep(rd.hold);
          w.ran(i);
        } finally {
          inside--;
        }
      };
      w.lastWoken[i] = undefined;
      if (rd.release === "guard") {
        const guard = await w.track(i, op, prim.guard());
        w.ran(i);
        {
          await using _ = guard;
          await critical();
          w.ran(i);
        }
        w.ran(i);
      } else {
        await w.track(i, op, prim.acquire());
        w.ran(i);
        try {
          await critical();
          w.ran(i);
        } finally {
          if (rd.release === "direct") prim.release();
          else {
            const letGo = async () => {
              prim.release();
            };
            await letGo();
            w.ran(i);
          }
        }
      }
      await w.letGo(i, rd.hops, rd.cancels, own);
      w.ran(i);
    };

    await playAll(w, programs, round);
    // (5) Every task ends: a lock or a permit always comes to whoever waits for it.
    const unfinished = w.tasks.map((t, i) => (t.done() ? -1 : i)).filter((i) => i >= 0);
    w.check(unfinished.length === 0, `(5) tasks ${String(unfinished)} never finished`);
    w.over = true;
    for (const t of w.tasks) t.cancel();
    await Promise.allSettled(w.tasks);
    prim.release = release;
    // (3) Free at the end, with every permit back.
    w.check(inside === 0, `(3) ${inside} holders left at the end`);
    w.check(!prim.locked(), `(3) the ${gate.kind} is still locked at the end`);
    if (prim instanceof Semaphore) w.check(prim._value === gate.permits, `(3) the semaphore has ${prim._value} of its ${gate.permits} permits at the end`);
    // (4) FIFO among the tasks never cancelled.
    const clean = (ids: string[]) => ids.filter((id) => !w.targeted.has(Number(id.split(".")[0])));
    w.check(
      JSON.stringify(clean(entered)) === JSON.stringify(clean(calls)),
      `(4) tasks never cancelled called acquire in the order ${String(clean(calls))} but got in in the order ${String(clean(entered))}`,
    );
    w.checkMustThrow();
  });
  return w;
}

// ---------------------------------------------------------------------------------------
// Queue
// ---------------------------------------------------------------------------------------

interface QueueSetup {
  maxsize: number;
  /** Items in the queue before the tasks start. */
  initial: number;
}
const queueSetupArb: fc.Arbitrary<QueueSetup> = fc
  .integer({ min: 1, max: 3 })
  .chain((maxsize) => fc.record({ maxsize: fc.constant(maxsize), initial: fc.integer({ min: 0, max: maxsize }) }));

async function queueProgram(setup: QueueSetup, programs: QueueOp[][]): Promise<World> {
  const n = programs.length;
  const w = new World(n);
  await runVirtual(async () => {
    const q = new Queue<string>(setup.maxsize);
    const items: string[] = [];
    const putReturned = new Set<string>();
    const got: string[] = [];
    for (let k = 0; k < setup.initial; k++) {
      const item = `initial ${k}`;
      items.push(item);
      q.putNowait(item);
      putReturned.add(item);
    }
    const put = q.put.bind(q);
    const get = q.get.bind(q);
    q.put = w.observe(put);
    q.get = w.observe(get);
    const bound = (where: string) => w.check(q.qsize() <= setup.maxsize, `(2) ${q.qsize()} items in a queue of ${setup.maxsize} ${where}`);
    /** Blocked operations (by kind) in the order they were called, and in the order the code after them ran. */
    const calls = { put: [] as string[], get: [] as string[] };
    const resumed = { put: [] as string[], get: [] as string[] };

    const step = async (i: number, s: number, own: Lock): Promise<void> => {
      const o = programs[i]![s]!;
      const op = `${i}.${s}`;
      await startAt(w, i, o.start);
      const item = `item ${op}`;
      const call = (): Promise<unknown> => {
        if (o.kind === "put") items.push(item);
        const p: Promise<unknown> = o.kind === "put" ? q.put(item) : q.get();
        // FIFO is checked among waits awaited from the start: a wait made inside an async
        // function is awaited a turn later, and once handed its item before that, it resumes
        // whenever its await comes (the item itself still went to it in turn).
        if (p instanceof Future && o.style === "direct") calls[o.kind].push(op);
        return p;
      };
      w.lastWoken[i] = undefined;
      let p: Promise<unknown>;
      if (o.style === "direct") p = call();
      else {
        ({ p } = await (async () => ({ p: call() }))());
        w.ran(i);
      }
      const blocked = p instanceof Future;
      const value = await w.track(i, op, p);
      w.ran(i);
      if (blocked && o.style === "direct") resumed[o.kind].push(op);
      if (o.kind === "put") putReturned.add(item);
      else got.push(value as string);
      bound(`after ${op}`);
      await w.letGo(i, o.hops, o.cancels, own);
      w.ran(i);
      bound(`after the hops of ${op}`);
    };

    await playAll(w, programs, step);
    // (5) The tasks still waiting are getters of an empty queue or putters of a full one.
    const waitingOn = (kind: "put" | "get") =>
      w.tasks.map((t, i) => (!t.done() && w.awaitingOp[i] !== undefined && programs[i]![Number(w.awaitingOp[i]!.split(".")[1])]!.kind === kind ? i : -1)).filter((i) => i >= 0);
    const getters = waitingOn("get");
    const putters = waitingOn("put");
    const unfinished = w.tasks.map((t, i) => (t.done() ? -1 : i)).filter((i) => i >= 0);
    w.check(unfinished.length === getters.length + putters.length, `(5) tasks ${String(unfinished)} are not done, and not all of them wait on the queue`);
    w.check(getters.length === 0 || q.empty(), `(5) getters ${String(getters)} wait while the queue holds ${q.qsize()} items`);
    w.check(putters.length === 0 || q.full(), `(5) putters ${String(putters)} wait while the queue holds ${q.qsize()} of ${setup.maxsize} items`);
    // The tasks left waiting are cancelled (not by the program: FIFO still counts them).
    w.over = true;
    for (const t of w.tasks) t.cancel();
    await Promise.allSettled(w.tasks);
    q.put = put;
    q.get = get;
    // (3) Every item was got exactly once or is still queued, exactly when its put returned.
    const left: string[] = [];
    while (!q.empty()) left.push(q.getNowait());
    for (const item of items) {
      const times = got.filter((x) => x === item).length + left.filter((x) => x === item).length;
      const expected = putReturned.has(item) ? 1 : 0;
      w.check(times === expected, `(3) ${item} was got or left ${times} times, its put ${putReturned.has(item) ? "returned" : "did not return"}`);
    }
    // (3) No slot is held: the empty queue takes maxsize items again, then is full.
    for (let k = 0; k < setup.maxsize; k++) {
      try {
        q.putNowait(`refill ${k}`);
      } catch (error) {
        w.check(false, `(3) the drained queue refused item ${k + 1} of ${setup.maxsize}: ${String(error)}`);
        break;
      }
    }
    w.check(q.full(), `(3) the drained queue is not full after ${setup.maxsize} puts`);
    // (4) FIFO: blocked operations of tasks never cancelled resume in the order they were called
    // (those never resumed, cancelled at the end, come last).
    const clean = (ids: string[]) => ids.filter((id) => !w.targeted.has(Number(id.split(".")[0])));
    for (const kind of ["put", "get"] as const) {
      const c = clean(calls[kind]);
      const r = clean(resumed[kind]);
      w.check(
        JSON.stringify(r) === JSON.stringify(c.slice(0, r.length)),
        `(4) blocked ${kind}s of tasks never cancelled were called in the order ${String(c)} but resumed in the order ${String(r)}`,
      );
    }
    w.checkMustThrow();
  });
  return w;
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

/** A round that takes the lock at once (or waits for it), holds it for a `sleep(0)` and releases it. */
const plainRound: GateRound = { start: "now", hold: 0, release: "direct", hops: [], cancels: [] };
/** A queue operation made at once, with nothing after it. */
const plainOp = (kind: "put" | "get"): QueueOp => ({ kind, start: "now", style: "direct", hops: [], cancels: [] });

/** Programs these properties found, checked first on every run (fast-check's `examples`). */
const gateExamples: [Gate, GateRound[][]][] = [
  // One waker: task 0 releases the lock to task 1, cancels task 2 (asleep, a wake-up that
  // hands nothing over), goes through an `await null`, then cancels task 1, which it woke.
  [
    { kind: "lock", permits: 1 },
    [[{ ...plainRound, hops: ["null"], cancels: [{ at: 0, target: 2 }, { at: 1, target: "woken" }] }], [plainRound], [{ ...plainRound, start: 2 }]],
  ],
  // Two wakers resumed in the same batch: task 0 releases a permit to task 2 (inside an async
  // function) and, after an `await null`, cancels it; meanwhile task 1 releases a permit to
  // task 3 and waits to acquire again.
  [
    { kind: "semaphore", permits: 2 },
    [[{ ...plainRound, release: "asyncFn", hops: ["null"], cancels: [{ at: 1, target: "woken" }] }], [plainRound, plainRound], [plainRound], [plainRound]],
  ],
];
const queueExamples: [QueueSetup, QueueOp[][]][] = [
  // A get made inside an async function, handed its item while a hand-over to an earlier
  // getter is held: the earlier getter still resumes first.
  [
    { maxsize: 2, initial: 0 },
    [
      [{ ...plainOp("put"), start: 0 }, { ...plainOp("put"), cancels: [{ at: 0, target: "woken" }] }],
      [{ ...plainOp("get"), start: 0, style: "asyncFn", cancels: [{ at: 0, target: 0 }] }, { ...plainOp("put"), cancels: [{ at: 0, target: 0 }] }],
      [{ ...plainOp("put"), start: 0, cancels: [{ at: 0, target: 0 }] }],
      [{ ...plainOp("put"), start: 2 }],
      [{ ...plainOp("get"), cancels: [{ at: 0, target: 0 }, { at: 0, target: "woken" }] }],
    ],
  ],
  // One waker: task 1 puts to task 0, a waiting getter, cancels task 2 (asleep), goes through
  // an `await null`, then cancels task 0, which it woke.
  [
    { maxsize: 1, initial: 0 },
    [[plainOp("get")], [{ ...plainOp("put"), start: 0, hops: ["null"], cancels: [{ at: 0, target: 2 }, { at: 1, target: "woken" }] }], [{ ...plainOp("get"), start: 2 }]],
  ],
];

/** Task `i` sleeps until `start` (virtual ms) before its step, or starts it at once ("now"). */
async function startAt(w: World, i: number, start: number | "now"): Promise<void> {
  if (start === "now") return;
  w.waits(i);
  await sleep(start);
  w.ran(i);
}

/**
 * Starts one task per program, each with a lock of its own (for its uncontended-acquire
 * hops), running `step(task, index, own)` for every step of its program, then lets virtual
 * time run until every program is through.
 */
async function playAll(w: World, programs: unknown[][], step: (task: number, index: number, own: Lock) => Promise<void>): Promise<void> {
  for (let i = 0; i < programs.length; i++) {
    w.spawn(i, async () => {
      const own = new Lock();
      for (let k = 0; k < programs[i]!.length; k++) {
        await step(i, k, own);
        w.ran(i);
      }
    });
  }
  await sleep(HORIZON);
}

/** Runs `program` on random setups and task programs (and the examples first), failing with the report of any violation. */
function holdsFor<S, P>(setups: fc.Arbitrary<S>, tasks: fc.Arbitrary<P>, program: (setup: S, programs: P) => Promise<World>, examples: [S, P][]): Promise<void> {
  return fc.assert(
    fc.asyncProperty(setups, tasks, async (setup, programs) => {
      const w = await program(setup, programs);
      expect(w.violations.length === 0 ? "no violation" : report(w)).toBe("no violation");
    }),
    fcOptions(250, examples),
  );
}

describe("hand-overs held until the waker really waits, under random programs", () => {
  it("Lock and Semaphore: a cancel before the releaser waits makes the woken acquire throw; exclusion, end state, FIFO, no hang", async () => {
    await holdsFor(gateArb, gateTasksArb, gateProgram, gateExamples);
  });

  it("Queue: a cancel before the putter (or the getter that admits a putter) waits makes the woken get (or put) throw; bound, items, FIFO, no hang", async () => {
    await holdsFor(queueSetupArb, queueTasksArb, queueProgram, queueExamples);
  });

  it("the programs do exercise property 1: cancels land on tasks handed something, and their awaits throw", async () => {
    // A fixed program of each kind: the releaser (putter) cancels the task it just woke after
    // an `await using` exit, `await null`, an uncontended acquire and an async return.
    const w1 = await gateProgram({ kind: "lock", permits: 1 }, [
      [{ start: "now", hold: 1, release: "guard", hops: ["null", "lock2", "asyncReturn"], cancels: [{ at: 3, target: "woken" }] }],
      [{ start: 0, hold: 0, release: "direct", hops: [], cancels: [] }],
      [{ start: 0, hold: 0, release: "direct", hops: [], cancels: [] }],
    ]);
    expect(w1.violations).toEqual([]);
    expect([...w1.mustThrow.keys()]).toEqual(["1.0"]);
    expect(w1.outcome.get("1.0")).toBe("cancelled");
    expect(w1.outcome.get("2.0")).toBe("returned");
    const w2 = await queueProgram({ maxsize: 1, initial: 0 }, [
      [{ kind: "get", start: "now", style: "direct", hops: [], cancels: [] }],
      [{ kind: "put", start: 0, style: "asyncFn", hops: ["resolved", "null"], cancels: [{ at: 2, target: "woken" }] }],
      [{ kind: "get", start: 1, style: "direct", hops: [], cancels: [] }],
    ]);
    expect(w2.violations).toEqual([]);
    expect([...w2.mustThrow.keys()]).toEqual(["0.0"]);
    expect(w2.outcome.get("0.0")).toBe("cancelled");
    expect(w2.outcome.get("2.0")).toBe("returned");
  });
});
