/**
 * Cancellation windows at microtask granularity: consumers of a Queue and holders of a Lock
 * or Semaphore, in several shapes (a task returning the wait, an async function that awaits
 * it, waitFor, timeout, shield, gather, a signal), cancelled (or their signal aborted) a
 * random number of microtasks after their own first step, after the n-th put or release (or
 * the first one after they started: often in the window between a hand-over to them and
 * their resumption), after a random virtual time, or after a few loop iterations. At the end
 * every item that was put is accounted for exactly once, and every lock or permit is free again.
 *
 * The cases at the end of this file pin down the narrowest of those windows one by one.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  Lock,
  Queue,
  QueueFull,
  Semaphore,
  TimeoutError,
  VirtualTimeLoop,
  createTask,
  gather,
  getRunningLoop,
  isCancelledError,
  isFuture,
  run,
  shield,
  sleep,
  timeout,
  waitFor,
} from "aiots";
import type { Future, Task } from "aiots";
import { afterTicks } from "./helpers.js";

const vrun = <T>(fn: () => Promise<T>): Promise<T> => run(fn, { loop: new VirtualTimeLoop() });
const HORIZON = 1_000;
const RUNS = Number(process.env.RUNS ?? 1000);
/** For longer explorations (RUNS=...), the per-test timeout grows with the number of runs. */
const LIMIT = Math.max(20_000, RUNS * 20);
const ABORT = new Error("aborted by the scenario");

/** Collects tasks into `tasks`, and the errors they end with that `expectedError` does not allow into `unexpected`. */
function watcher(tasks: Task<unknown>[], unexpected: unknown[]): (t: Task<unknown>) => void {
  return (t) => {
    t.addDoneCallback(() => {
      const o = outcomeOf(t);
      if (typeof o === "object" && "error" in o && !expectedError(o.error)) unexpected.push(o.error);
    });
    tasks.push(t);
  };
}

/** A task's outcome once it is done, without awaiting it (so nothing is cancelled with it). */
function outcomeOf<T>(t: Task<T>): { value: T } | { error: unknown } | "cancelled" | "pending" {
  if (!t.done()) return "pending";
  if (t.cancelled()) return "cancelled";
  const e = t.exception();
  return e === null ? { value: t.result() } : { error: e };
}

function expectedError(e: unknown): boolean {
  return isCancelledError(e) || e instanceof TimeoutError || e === ABORT || e instanceof QueueFull;
}

// ---------------------------------------------------------------------------------------------
// When to cancel (or abort)
// ---------------------------------------------------------------------------------------------

const grid = fc.integer({ min: 0, max: 8 }).map((x) => x * 2);
type When =
  | { kind: "never" }
  | { kind: "start"; ticks: number }
  | { kind: "event"; nth: number; ticks: number }
  | { kind: "next"; ticks: number }
  | { kind: "time"; at: number; ticks: number }
  | { kind: "sleeps"; n: number };
const whenArb: fc.Arbitrary<When> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: "never" as const }) },
  // From the task's own first step: at least one microtask later (a cancel in that very step is
  // the task cancelling itself, which in asyncio too drops what it then returns).
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("start" as const), ticks: fc.integer({ min: 1, max: 8 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("event" as const), nth: fc.nat(6), ticks: fc.nat(8) }) },
  // The first put/release after the task's first step (the task is then often the waiter woken by it).
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("next" as const), ticks: fc.constantFrom(0, 0, 0, 1, 2, 3) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("time" as const), at: grid, ticks: fc.nat(6) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("sleeps" as const), n: fc.nat(4) }) },
);

/** The events of a scenario (each put that returned, each release), and what is armed on them, run in the synchronous step of the event. */
class Events {
  count = 0;
  readonly on = new Map<number, (() => void)[]>();
  next: (() => void)[] = [];
  /** The tasks that act after `sleep(0)`s ("sleeps"), cancelled with the rest at the end. */
  readonly sleepers: Task<unknown>[] = [];

  fire(): void {
    const n = this.count++;
    const next = this.next;
    this.next = [];
    for (const f of [...(this.on.get(n) ?? []), ...next]) f();
  }

  /** Arms `act` for the next event (called from the task's first step, for "next"). */
  armNext(ticks: number, act: () => void): void {
    this.next.push(() => afterTicks(ticks, act));
  }

  /** Arms `act` per `when`; "start" and "next" are armed by the caller, from inside its task's first step. */
  arm(when: When, act: () => void): void {
    switch (when.kind) {
      case "event": {
        const list = this.on.get(when.nth) ?? [];
        list.push(() => afterTicks(when.ticks, act));
        this.on.set(when.nth, list);
        break;
      }
      case "time":
        getRunningLoop().callLater(when.at, () => afterTicks(when.ticks, act));
        break;
      case "sleeps":
        this.sleepers.push(
          createTask(async () => {
            for (let i = 0; i < when.n; i++) await sleep(0);
            act();
          }),
        );
        break;
      default:
        break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Queue
// ---------------------------------------------------------------------------------------------

const getShapes = [
  "task", // createTask(() => q.get()): the item is the task's result
  "asyncTask", // createTask(async () => await q.get()): the item is the task's result
  "waitForTask", // createTask(() => waitFor(q.get(), t)): the item is the task's result
  "signalTask", // createTask(() => q.get({ signal })): the item is the task's result
  "push", // createTask(async () => { const x = await q.get(); got.push(x); return x })
  "waitForPush", // ... await waitFor(q.get(), t) ...
  "waitForFnPush", // ... await waitFor(() => q.get(), t) ...
  "waitForSignalPush", // ... await waitFor(q.get(), t, { signal }) ...
  "timeoutPush", // ... await timeout(t, () => q.get()) ...
  "signalPush", // ... await q.get({ signal }) ...
  "shieldPush", // ... await shield(inner = q.get()) ...: if the caller is cancelled, `inner` holds the item
  "gatherPush", // ... const [x] = await gather([inner = q.get()]) ...: if cancelled late, `inner` holds the item
] as const;
type GetShape = (typeof getShapes)[number];
/** Shapes whose item is the task's result, not recorded by their own code. */
const RESULT_SHAPES = new Set<GetShape>(["task", "asyncTask", "waitForTask", "signalTask"]);

const tmoArb = fc.option(fc.constantFrom(0, 1, 2, 4, 6, 10), { nil: null, freq: 3 });
const consumerArb = fc.record({
  at: grid,
  shape: fc.constantFrom(...getShapes),
  tmo: tmoArb,
  cancel: whenArb,
  abort: whenArb,
});
const producerArb = fc.record({
  at: grid,
  steps: fc.array(fc.record({ delay: fc.constantFrom(0, 0, 1, 2, 3), shape: fc.constantFrom("put", "nowait", "nowait", "waitFor"), tmo: tmoArb }), {
    minLength: 1,
    maxLength: 4,
  }),
  cancel: fc.option(whenArb, { nil: undefined, freq: 4 }),
});
const queueScenarioArb = fc.record({
  maxsize: fc.constantFrom(0, 0, 1, 2),
  /** Items already in the queue when the consumers start (the fast path). */
  initial: fc.nat(3),
  producers: fc.array(producerArb, { maxLength: 3 }),
  consumers: fc.array(consumerArb, { minLength: 1, maxLength: 6 }),
});
/** Consumers that all wait on an empty queue first, then puts that wake them one by one. */
const wokenScenarioArb = fc.record({
  maxsize: fc.constantFrom(0, 1),
  initial: fc.constant(0),
  producers: fc.array(
    fc.record({
      at: fc.constantFrom(2, 4),
      steps: fc.array(fc.record({ delay: fc.constantFrom(0, 1), shape: fc.constantFrom("nowait", "nowait", "put"), tmo: fc.constant(null) }), { minLength: 1, maxLength: 4 }),
      cancel: fc.constant(undefined),
    }),
    { minLength: 1, maxLength: 2 },
  ),
  consumers: fc.array(consumerArb.map((c) => ({ ...c, at: 0 })), { minLength: 1, maxLength: 5 }),
});
type QueueScenario = typeof queueScenarioArb extends fc.Arbitrary<infer S> ? S : never;

interface Consumer {
  shape: GetShape;
  task?: Task<unknown>;
  got: string[];
  held: Future<string>[];
  /** Items a plain promise the consumer held resolved with (its combinator's outcome may be dropped). */
  heldValues: string[];
}

/** Keeps what `inner`, a get the consumer made, resolves with: a waiter Future, or a fast path's settled promise. */
function hold(c: Consumer, inner: Promise<string>): void {
  if (isFuture(inner)) c.held.push(inner as unknown as Future<string>);
  else void inner.then((item) => c.heldValues.push(item), () => undefined);
}

interface QueueRun {
  put: string[];
  accounted: string[];
  violations: string[];
  unexpected: unknown[];
}

async function playQueue(sc: QueueScenario): Promise<QueueRun> {
  const out: QueueRun = { put: [], accounted: [], violations: [], unexpected: [] };
  await vrun(async () => {
    const loop = getRunningLoop();
    const q = new Queue<string>(sc.maxsize);
    const ev = new Events();
    for (let i = 0; i < sc.initial && (sc.maxsize <= 0 || i < sc.maxsize); i++) {
      q.putNowait(`i${i}`);
      out.put.push(`i${i}`);
    }
    const tasks: Task<unknown>[] = [];
    const watch = watcher(tasks, out.unexpected);

    sc.producers.forEach((p, pi) => {
      loop.callLater(p.at, () => {
        const t = createTask(async () => {
          for (const [si, step] of p.steps.entries()) {
            await sleep(step.delay);
            const item = `p${pi}:${si}`;
            try {
              if (step.shape === "nowait") q.putNowait(item);
              else if (step.shape === "put") await q.put(item);
              else await waitFor(q.put(item), step.tmo);
            } catch (e) {
              if (e instanceof QueueFull || e instanceof TimeoutError) continue;
              throw e;
            }
            out.put.push(item); // the put returned: the item is in
            ev.fire();
          }
        });
        watch(t);
        if (p.cancel !== undefined) ev.arm(p.cancel, () => t.cancel());
      });
    });

    const consumers: Consumer[] = [];
    for (const spec of sc.consumers) {
      const { shape } = spec;
      const c: Consumer = { shape, got: [], held: [], heldValues: [] };
      consumers.push(c);
      loop.callLater(spec.at, () => {
        const ac = new AbortController();
        const signal = ac.signal;
        const { tmo } = spec;
        const push = (x: string) => {
          c.got.push(x);
          return x;
        };
        const body = (): unknown => {
          switch (shape) {
            case "task":
              return q.get();
            case "asyncTask":
              return (async () => await q.get())();
            case "waitForTask":
              return waitFor(q.get(), tmo);
            case "signalTask":
              return q.get({ signal });
            case "push":
              return (async () => push(await q.get()))();
            case "waitForPush":
              return (async () => push(await waitFor(q.get(), tmo)))();
            case "waitForFnPush":
              return (async () => push(await waitFor(() => q.get(), tmo)))();
            case "waitForSignalPush":
              return (async () => push(await waitFor(q.get(), tmo, { signal })))();
            case "timeoutPush":
              return (async () => push(await timeout(tmo, () => q.get())))();
            case "signalPush":
              return (async () => push(await q.get({ signal })))();
            case "shieldPush":
              return (async () => {
                const inner = q.get();
                hold(c, inner);
                return push(await shield(inner));
              })();
            case "gatherPush":
              return (async () => {
                const inner = q.get();
                hold(c, inner);
                const [x] = await gather([inner]);
                return push(x);
              })();
          }
        };
        const t: Task<unknown> = createTask(() => {
          if (spec.cancel.kind === "start") afterTicks(spec.cancel.ticks, () => t.cancel());
          if (spec.abort.kind === "start") afterTicks(spec.abort.ticks, () => ac.abort(ABORT));
          if (spec.cancel.kind === "next") ev.armNext(spec.cancel.ticks, () => t.cancel());
          if (spec.abort.kind === "next") ev.armNext(spec.abort.ticks, () => ac.abort(ABORT));
          return body() as Promise<unknown>;
        });
        c.task = t;
        watch(t);
        ev.arm(spec.cancel, () => t.cancel());
        ev.arm(spec.abort, () => ac.abort(ABORT));
      });
    }

    await sleep(HORIZON);
    for (const t of [...tasks, ...ev.sleepers]) t.cancel();
    await sleep(HORIZON);
    // A shielded get whose caller left still waits: withdraw it (it takes nothing then).
    for (const c of consumers) for (const f of c.held) f.cancel();
    await sleep(HORIZON);
    if (tasks.some((t) => !t.done())) out.violations.push("tasks still pending at the end");

    for (const [i, c] of consumers.entries()) {
      if (c.task === undefined) continue;
      const o = outcomeOf(c.task);
      if (c.got.length > 1) out.violations.push(`consumer ${i} (${c.shape}) got ${c.got.length} items`);
      let mine: string[];
      if (c.got.length > 0) {
        mine = c.got;
        if (typeof o === "object" && "value" in o && o.value !== c.got[0]) out.violations.push(`consumer ${i} returned ${String(o.value)} but got ${c.got[0]}`);
      } else if (RESULT_SHAPES.has(c.shape) && typeof o === "object" && "value" in o) mine = [o.value as string];
      else mine = [...c.held.filter((f) => f.done() && !f.cancelled() && f.exception() === null).map((f) => f.result()), ...c.heldValues];
      out.accounted.push(...mine);
    }
    while (!q.empty()) out.accounted.push(q.getNowait());
  });
  return out;
}

function checkQueue(r: QueueRun): void {
  expect(r.unexpected).toEqual([]);
  expect(r.violations).toEqual([]);
  // Every item put is got exactly once or still in the queue; nothing else is anywhere.
  expect([...r.accounted].sort()).toEqual([...r.put].sort());
}

/** Checks `property` on scenarios from each of `arbs`, `RUNS` times each. */
async function holdsFor<S>(arbs: fc.Arbitrary<S>[], property: (scenario: S) => Promise<void>): Promise<void> {
  for (const arb of arbs) await fc.assert(fc.asyncProperty(arb, property), { numRuns: RUNS });
}

describe("Queue: consumers of every shape cancelled at microtask offsets", () => {
  it("every item put is in the queue or held by exactly one consumer", async () => {
    await holdsFor([queueScenarioArb, wokenScenarioArb], async (sc) => checkQueue(await playQueue(sc)));
  }, LIMIT);
});

// ---------------------------------------------------------------------------------------------
// Lock and Semaphore
// ---------------------------------------------------------------------------------------------

const gateShapes = [
  "acquire", // await g.acquire(); try { ... } finally { g.release() }
  "signal", // await g.acquire({ signal }) ...
  "waitFor", // await waitFor(g.acquire(), t) ...
  "waitForFn", // await waitFor(() => g.acquire(), t) ...
  "waitForSignal", // await waitFor(g.acquire(), t, { signal }) ...
  "guard", // await using _ = await g.guard()
  "guardSignal", // await using _ = await g.guard({ signal })
  "timeoutGuard", // await timeout(t, async () => { await using _ = await g.guard(); ... })
  "task", // inner = createTask(() => g.acquire()), the one cancelled; its holder uses the permit if inner ends with it
  "asyncTask", // inner = createTask(async () => await g.acquire()), likewise
  "waitForTask", // inner = createTask(() => waitFor(g.acquire(), t)), likewise
] as const;

const holderArb = fc.record({
  at: grid,
  shape: fc.constantFrom(...gateShapes),
  tmo: tmoArb,
  hold: fc.constantFrom(0, 1, 2, 3),
  cancel: whenArb,
  abort: whenArb,
});
const gateScenarioArb = fc.record({
  kind: fc.constantFrom("Lock", "Semaphore"),
  permits: fc.integer({ min: 1, max: 3 }),
  holders: fc.array(holderArb, { minLength: 1, maxLength: 7 }),
});
type GateScenario = typeof gateScenarioArb extends fc.Arbitrary<infer S> ? S : never;

interface GateRun {
  violations: string[];
  unexpected: unknown[];
}

/** Resolves once `t` is done, whatever its outcome (a plain promise: awaiting it cancels nothing). */
function settled(t: Task<unknown>): Promise<void> {
  return new Promise((resolve) => t.addDoneCallback(() => resolve()));
}

async function playGate(sc: GateScenario): Promise<GateRun> {
  const out: GateRun = { violations: [], unexpected: [] };
  const permits = sc.kind === "Lock" ? 1 : sc.permits;
  const g = sc.kind === "Lock" ? new Lock() : new Semaphore(permits);
  await vrun(async () => {
    const loop = getRunningLoop();
    const ev = new Events();
    const tasks: Task<unknown>[] = [];
    const watch = watcher(tasks, out.unexpected);
    let inside = 0;
    const hold = async (ms: number, where: string) => {
      inside++;
      if (inside > permits) out.violations.push(`${inside} holders inside (${where}) with ${permits} permits`);
      if (!g.locked() && g instanceof Lock) out.violations.push(`a holder (${where}) inside an unlocked Lock`);
      try {
        await sleep(ms);
      } finally {
        inside--;
      }
    };
    const release = () => {
      g.release();
      ev.fire();
    };

    for (const spec of sc.holders) {
      const { shape, tmo } = spec;
      loop.callLater(spec.at, () => {
        const ac = new AbortController();
        const signal = ac.signal;
        /** Arms the cancels that start from the first step of `t`, the task that acquires. */
        const armStart = (t: Task<unknown>) => {
          if (spec.cancel.kind === "start") afterTicks(spec.cancel.ticks, () => t.cancel());
          if (spec.abort.kind === "start") afterTicks(spec.abort.ticks, () => ac.abort(ABORT));
          if (spec.cancel.kind === "next") ev.armNext(spec.cancel.ticks, () => t.cancel());
          if (spec.abort.kind === "next") ev.armNext(spec.abort.ticks, () => ac.abort(ABORT));
        };
        const acquireThenHold = async (acquire: () => Promise<unknown>) => {
          await acquire();
          try {
            await hold(spec.hold, shape);
          } finally {
            release();
          }
        };
        const guardThenHold = async (guard: () => Promise<AsyncDisposable & Disposable>) => {
          let held = false;
          try {
            await using _ = await guard();
            held = true;
            await hold(spec.hold, shape);
          } finally {
            if (held) ev.fire();
          }
        };
        let target: Task<unknown> | undefined;
        const holder: Task<unknown> = createTask(async () => {
          if (shape !== "task" && shape !== "asyncTask" && shape !== "waitForTask") armStart(holder);
          switch (shape) {
            case "acquire":
              return acquireThenHold(() => g.acquire());
            case "signal":
              return acquireThenHold(() => g.acquire({ signal }));
            case "waitFor":
              return acquireThenHold(() => waitFor(g.acquire(), tmo));
            case "waitForFn":
              return acquireThenHold(() => waitFor(() => g.acquire(), tmo));
            case "waitForSignal":
              return acquireThenHold(() => waitFor(g.acquire(), tmo, { signal }));
            case "guard":
              return guardThenHold(() => g.guard());
            case "guardSignal":
              return guardThenHold(() => g.guard({ signal }));
            case "timeoutGuard":
              return timeout(tmo, () => guardThenHold(() => g.guard()));
            case "task":
            case "asyncTask":
            case "waitForTask": {
              const inner: Task<unknown> = createTask(() => {
                armStart(inner);
                if (shape === "task") return g.acquire();
                if (shape === "asyncTask") return (async () => await g.acquire())();
                return waitFor(g.acquire(), tmo);
              });
              target = inner;
              watch(inner);
              await settled(inner);
              const o = outcomeOf(inner);
              if (typeof o === "object" && "value" in o) {
                try {
                  await hold(spec.hold, shape);
                } finally {
                  release();
                }
              }
              return;
            }
          }
        });
        watch(holder);
        const victim = () => (target ?? holder).cancel();
        ev.arm(spec.cancel, victim);
        ev.arm(spec.abort, () => ac.abort(ABORT));
      });
    }

    await sleep(HORIZON);
    for (const t of [...tasks, ...ev.sleepers]) t.cancel();
    await sleep(HORIZON);
    if (tasks.some((t) => !t.done())) out.violations.push("tasks still pending at the end");
    if (inside !== 0) out.violations.push(`${inside} holders still inside at the end`);
    // Everything is free again: `permits` acquires succeed without waiting, and no more.
    if (String(g).includes("waiters")) out.violations.push(`waiters left: ${String(g)}`);
    for (let i = 0; i < permits; i++) {
      if (g.locked()) {
        out.violations.push(`only ${i} of ${permits} permits free at the end: ${String(g)}`);
        break;
      }
      await g.acquire();
    }
    if (!g.locked()) out.violations.push(`more than ${permits} permits free at the end: ${String(g)}`);
  });
  return out;
}

function checkGate(r: GateRun): void {
  expect(r.unexpected).toEqual([]);
  expect(r.violations).toEqual([]);
}

/** Holders that all arrive at once, so that most of them wait and are woken by a release. */
const wokenGateArb = gateScenarioArb.map((sc) => ({ ...sc, holders: sc.holders.map((h) => ({ ...h, at: 0 })) }));

describe("Lock and Semaphore: holders of every shape cancelled at microtask offsets", () => {
  it("never more holders than permits, and every permit is free again at the end", async () => {
    await holdsFor([gateScenarioArb, wokenGateArb], async (sc) => checkGate(await playGate(sc)));
  }, LIMIT);
});

// ---------------------------------------------------------------------------------------------
// The narrowest windows, one at a time. Each checks asyncio's outcome: a wait that does not
// suspend (an item in the queue, a free lock) stays with the code that made it, and a cancel
// that comes once a task's code has the item (or the lock) is either too late (the task keeps
// it) or lands at an await that then throws, and the primitive takes the item back.
// ---------------------------------------------------------------------------------------------

describe("cancel windows, one at a time", () => {
  // A task whose function returns a wait that is already done (the fast path: a done Future)
  // is finished once its step ends, as asyncio's `create_task(q.get())` is after its first
  // step: a cancel after that step is too late.
  it("createTask(() => q.get()) on a non-empty queue, cancelled one microtask after its step: cancel() returns false and the task keeps the item", async () => {
    await vrun(async () => {
      const q = new Queue<string>();
      q.putNowait("a");
      let cancelled: boolean | undefined;
      const t: Task<string> = createTask(() => {
        afterTicks(1, () => (cancelled = t.cancel()));
        return q.get();
      });
      await sleep(1);
      expect(cancelled).toBe(false);
      expect(t.cancelled()).toBe(false);
      expect(t.result()).toBe("a");
      expect(q.empty()).toBe(true);
    });
  });

  it("createTask(() => q.put(x)) on a queue with room, cancelled one microtask after its step: cancel() returns false, the task completes and x is in the queue", async () => {
    await vrun(async () => {
      const q = new Queue<string>();
      let cancelled: boolean | undefined;
      const t: Task<void> = createTask(() => {
        afterTicks(1, () => (cancelled = t.cancel()));
        return q.put("x");
      });
      await sleep(1);
      expect(cancelled).toBe(false);
      expect(t.cancelled()).toBe(false);
      expect(t.result()).toBeUndefined();
      expect(q.qsize()).toBe(1);
      expect(q.getNowait()).toBe("x");
    });
  });

  // waitFor runs a function as a task of its own. On a free lock that task is done, holding the
  // lock, once its step ends; a cancel of the caller that comes right after (from the next
  // task's step) must not leave the lock held by nobody.
  it("await waitFor(() => lock.acquire(), t) on a free lock, caller cancelled by the next task's step: the caller ends cancelled and the lock is free again", async () => {
    await vrun(async () => {
      const lock = new Lock();
      const holder = createTask(async () => {
        await waitFor(() => lock.acquire(), 1000);
        try {
          await sleep(1);
        } finally {
          lock.release();
        }
      });
      let cancelled: boolean | undefined;
      createTask(() => void (cancelled = holder.cancel())); // its step runs right after the holder's
      await sleep(10);
      expect(cancelled).toBe(true);
      expect(holder.cancelled()).toBe(true);
      expect(lock.locked()).toBe(false);
    });
  });

  // A cancel in the step that hands an item to a waiting getter lands at the get's await, which
  // throws: the item goes back to the queue (asyncio's outcome). A cancel that comes after the
  // await's delivery, in the promise hops back to the task's code, finds nothing to interrupt:
  // the task returns the item. Whenever the cancel comes, the item is in exactly one place.
  it("createTask(async () => await q.get()) woken by a put: cancelled in the put's step it ends cancelled and the item stays queued; cancelled later it keeps the item", async () => {
    await vrun(async () => {
      const outcomes: string[] = [];
      for (let k = 0; k <= 8; k++) {
        const q = new Queue<string>();
        const t = createTask(async () => await q.get());
        await sleep(0); // t waits
        q.putNowait("a"); // handed to t
        afterTicks(k, () => t.cancel()); // k 0: in the put's own step
        await sleep(1);
        expect(t.done()).toBe(true);
        if (t.cancelled()) {
          expect(q.qsize()).toBe(1);
          outcomes.push("queued");
        } else {
          expect(t.result()).toBe("a");
          expect(q.empty()).toBe(true);
          outcomes.push("kept");
        }
      }
      expect(outcomes[0]).toBe("queued");
      expect(outcomes.slice(1)).toEqual(Array.from({ length: 8 }, () => "kept"));
    });
  });

  // timeout() returns the item through async functions of its own: a cancel in those hops
  // comes after the delivery, so the task keeps the item.
  it("createTask(() => timeout(t, () => q.get())) on a non-empty queue, cancelled three microtasks after its step: the task keeps the item", async () => {
    await vrun(async () => {
      const q = new Queue<string>();
      q.putNowait("a");
      const t: Task<string> = createTask(() => {
        afterTicks(3, () => t.cancel());
        return timeout(1000, () => q.get());
      });
      await sleep(1);
      expect(t.cancelled()).toBe(false);
      expect(t.result()).toBe("a");
      expect(q.empty()).toBe(true);
    });
  });

  it("createTask(async () => await lock.acquire()) woken by a release, cancelled one microtask later: the task keeps the lock", async () => {
    await vrun(async () => {
      const lock = new Lock();
      await lock.acquire();
      const t = createTask(async () => await lock.acquire());
      await sleep(0); // t waits
      lock.release(); // handed to t
      afterTicks(1, () => t.cancel());
      await sleep(1);
      expect(t.cancelled()).toBe(false);
      expect(t.result()).toBe(true);
      expect(lock.locked()).toBe(true); // held by t, which returned with it
      lock.release();
      expect(lock.locked()).toBe(false);
    });
  });

  // With an already aborted signal, waitFor starts nothing and withdraws a wait that is still
  // pending; a fast-path wait has already taken the item or the lock, and counts as done (as
  // with a timeout of 0), so waitFor returns it to the caller instead of losing it.
  it("waitFor(q.get(), t, { signal: aborted }) on a non-empty queue returns the item the get took", async () => {
    await vrun(async () => {
      const q = new Queue<string>();
      q.putNowait("a");
      const reason = new Error("stop");
      await expect(waitFor(q.get(), 1000, { signal: AbortSignal.abort(reason) })).resolves.toBe("a");
      expect(q.qsize()).toBe(0);
    });
  });

  it("waitFor(lock.acquire(), t, { signal: aborted }) on a free lock returns true: the caller holds the lock", async () => {
    await vrun(async () => {
      const lock = new Lock();
      const reason = new Error("stop");
      await expect(waitFor(lock.acquire(), 1000, { signal: AbortSignal.abort(reason) })).resolves.toBe(true);
      expect(lock.locked()).toBe(true);
      lock.release();
    });
  });

  it("waitFor(q.get(), t, { signal: aborted }) on an empty queue rejects with the reason and leaves no getter behind", async () => {
    await vrun(async () => {
      const q = new Queue<string>();
      const reason = new Error("stop");
      await expect(waitFor(q.get(), 1000, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      q.putNowait("b");
      expect(q.getNowait()).toBe("b");
    });
  });

  // A callback the task scheduled (a microtask, a host timer) runs after the task's step, as
  // asyncio's call_soon callbacks do: its cancel is not the task's own, so a task that took a
  // lock or an item without waiting, and returns it, keeps it.
  it("a task that queues its own cancel in a microtask and returns waitFor(lock.acquire()) keeps the lock", async () => {
    await vrun(async () => {
      const lock = new Lock();
      const t: Task<true> = createTask(() => {
        queueMicrotask(() => t.cancel());
        return waitFor(lock.acquire(), null);
      });
      await sleep(1);
      expect(t.cancelled()).toBe(false);
      expect(t.result()).toBe(true);
      expect(lock.locked()).toBe(true);
      lock.release();
    });
  });

  it("a task that queues its own cancel in a microtask and returns await waitFor(q.get()) keeps the item", async () => {
    await vrun(async () => {
      const q = new Queue<string>();
      q.putNowait("item");
      const t: Task<string> = createTask(async () => {
        queueMicrotask(() => t.cancel());
        return await waitFor(q.get(), null);
      });
      await sleep(1);
      expect(t.cancelled()).toBe(false);
      expect(t.result()).toBe("item");
      expect(q.qsize()).toBe(0);
    });
  });
});
