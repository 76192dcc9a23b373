// Condition, Barrier, Event, BoundedSemaphore, PriorityQueue and LifoQueue under random
// schedules and random cancellations: at random virtual times, after random loop iterations
// (`sleep(0)` steps), and after random numbers of microtasks from the step that woke a waiter,
// plus random `signal` aborts. Each property checks asyncio's (CPython 3.13) guarantees; the
// Barrier's well-separated schedules are checked outcome by outcome against a model of asyncio,
// which was itself checked against CPython 3.13 runs of the same schedules.
//
// Not checked (documented in docs/choices.md and the package READMEs): the order in which
// code woken in one step interleaves at its awaits (woken code resumes as microtasks), so the
// indices a Barrier hands out right after a released party is cancelled can differ from
// asyncio's; a Condition waiter that throws passing on a notify only if it consumed one; and
// the queues' direct hand-over to waiting getters.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Barrier, BoundedSemaphore, BrokenBarrierError, Condition, Event, LifoQueue, PriorityQueue, QueueEmpty, QueueFull, VirtualTimeLoop, createTask, currentTask, getRunningLoop, isCancelledError, run, sleep } from "aiots";
import type { Task } from "aiots";

const virtual = <T>(main: () => Promise<T>): Promise<T> => run(main, { loop: new VirtualTimeLoop() });

const RUNS = 150;

/** Long enough, in virtual ms, for every schedule below to play out. */
const HORIZON = 100_000;
const at = (max: number) => fc.integer({ min: 0, max }).map((x) => x * 5); // coarse grid: many ties
/** `arb` one time in `n`, else undefined. */
const oneIn = <T>(n: number, arb: fc.Arbitrary<T>) => fc.oneof({ weight: n - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

/**
 * When to fire: at virtual time `at`, then after `steps` loop iterations (a `callSoon` chain,
 * asyncio's `sleep(0)`), then after `micro` microtasks (a plain `await Promise.resolve()` chain).
 */
interface When {
  at: number;
  steps: number;
  micro: number;
}
const whenArb = (maxAt: number): fc.Arbitrary<When> =>
  fc.record({ at: at(maxAt), steps: fc.integer({ min: 0, max: 3 }), micro: fc.integer({ min: 0, max: 12 }) });

async function microtasks(k: number): Promise<void> {
  for (let i = 0; i < k; i++) await Promise.resolve();
}

/** Runs `fn` after `micro` microtasks, from a plain promise chain (no task). */
function afterMicrotasks(micro: number, fn: () => void): void {
  if (micro === 0) fn();
  else void microtasks(micro).then(fn);
}

function fireAt(when: When | undefined, fn: () => void): void {
  if (when === undefined) return;
  const loop = getRunningLoop();
  const step = (left: number): void => {
    if (left > 0) loop.callSoon(() => step(left - 1));
    else afterMicrotasks(when.micro, fn);
  };
  loop.callLater(when.at, () => step(when.steps));
}

const ABORT = new Error("aborted by the schedule");
const isAbort = (e: unknown) => e === ABORT;

/** Waits for `task` without being cancelled with it. */
function settled(task: Task<unknown>): Promise<void> {
  return new Promise((resolve) => task.addDoneCallback(() => resolve()));
}

// ---------------------------------------------------------------------------------------------
// Condition
// ---------------------------------------------------------------------------------------------

const condWorkerArb = fc.record({
  role: fc.constantFrom("waiter", "waiter", "notifier"),
  how: fc.constantFrom("wait", "waitFor", "waitSignal", "waitForSignal"),
  arrive: at(6),
  rounds: fc.integer({ min: 1, max: 3 }),
  hold: fc.integer({ min: 0, max: 2 }),
  gap: fc.integer({ min: 0, max: 7 }),
  n: fc.constantFrom(0, 1, 1, 2, 3, "all" as const),
  cancel: oneIn(3, whenArb(15)),
  abort: oneIn(3, whenArb(15)),
  // Right after its notify (still holding the lock), cancel a worker after `micro` microtasks.
  kill: oneIn(2, fc.record({ target: fc.nat(7), micro: fc.integer({ min: 0, max: 8 }) })),
  // Right after it releases the lock (often handed to a woken waiter), cancel a worker.
  killOnRelease: oneIn(3, fc.record({ target: fc.nat(7), micro: fc.integer({ min: 0, max: 8 }) })),
});
type CondWorker = typeof condWorkerArb extends fc.Arbitrary<infer W> ? W : never;

async function playCondition(workers: CondWorker[]): Promise<void> {
  const cond = new Condition();
  const violations: string[] = [];
  let holder: number | undefined;
  let tokens = 0;
  // Notify accounting: each waiter a notify reaches either returns true from its wait, or
  // passes the notify on (to the next waiter, or to nobody if none waits then).
  let delivered = 0;
  let returnedTrue = 0;
  let droppedForNobody = 0;
  let inNotify = false;
  const wake = cond._wake.bind(cond);
  cond._wake = () => {
    const woke = wake();
    if (inNotify) {
      if (woke) delivered++;
    } else if (!woke) droppedForNobody++;
    return woke;
  };
  const relock = cond._waitThenRelock.bind(cond);
  cond._waitThenRelock = async (waiter) => {
    const r = await relock(waiter);
    returnedTrue++;
    return r;
  };
  const enter = (i: number, where: string) => {
    if (!cond.locked()) violations.push(`${i} ${where} without the lock`);
    if (holder !== undefined) violations.push(`${i} ${where} while ${holder} holds the lock`);
    holder = i;
  };
  const leave = (i: number) => {
    if (holder !== i) violations.push(`${i} leaves but holder is ${holder}`);
    holder = undefined;
  };
  const unexpected: unknown[] = [];
  const waitForWaiters: Task<void>[] = [];
  await virtual(async () => {
    const tasks: Task<void>[] = [];
    workers.forEach((w, i) => {
      const ac = new AbortController();
      fireAt(w.abort, () => ac.abort(ABORT));
      const signal = w.how.endsWith("Signal") ? { signal: ac.signal } : undefined;
      const task = createTask(async () => {
        await sleep(w.role === "notifier" ? w.arrive + 3 : w.arrive);
        for (let r = 0; r < w.rounds; r++) {
          try {
            await cond.acquire(signal);
          } catch (e) {
            if (!isCancelledError(e) && !isAbort(e)) unexpected.push(e);
            throw e;
          }
          enter(i, "acquired");
          try {
            if (w.role === "notifier") {
              inNotify = true;
              try {
                if (w.n === "all") cond.notifyAll();
                else cond.notify(w.n);
              } finally {
                inNotify = false;
              }
              tokens += w.n === "all" ? 1 : w.n;
              if (w.kill !== undefined) {
                const target = tasks[w.kill.target % tasks.length]!;
                afterMicrotasks(w.kill.micro, () => target.cancel());
              }
            } else {
              leave(i);
              try {
                if (w.how.startsWith("waitFor")) {
                  await cond.waitFor(() => tokens > 0, signal);
                  tokens--;
                } else {
                  await cond.wait(signal);
                  if (tokens > 0) tokens--;
                }
              } catch (e) {
                if (!isCancelledError(e) && !isAbort(e)) unexpected.push(e);
                throw e;
              } finally {
                enter(i, "back from waiting");
              }
            }
            await sleep(w.hold);
          } finally {
            leave(i);
            try {
              cond.release();
            } catch (e) {
              violations.push(`${i} could not release: ${String(e)}`);
            }
            if (w.killOnRelease !== undefined) {
              const target = tasks[w.killOnRelease.target % tasks.length]!;
              afterMicrotasks(w.killOnRelease.micro, () => target.cancel());
            }
          }
          await sleep(w.gap);
        }
      });
      fireAt(w.cancel, () => task.cancel());
      tasks.push(task);
      if (w.role === "waiter" && w.how.startsWith("waitFor")) waitForWaiters.push(task);
    });
    await sleep(HORIZON);
    // No lost notify: tokens are left only if no waitFor waiter is left waiting for one.
    if (tokens > 0) expect(waitForWaiters.filter((t) => !t.done())).toHaveLength(0);
    for (const t of tasks) t.cancel();
    for (const t of tasks) await settled(t);
  });
  expect(unexpected).toEqual([]);
  expect(violations).toEqual([]);
  expect(delivered).toBe(returnedTrue + droppedForNobody);
  expect(cond.locked()).toBe(false);
  expect(cond._waiters.size).toBe(0);
  expect(cond._lock._waiters.size).toBe(0);
}


describe("Condition: random waiters and notifiers, cancelled at random times, steps and microtasks", () => {
  it("the lock has one holder at most, waits return or throw holding it, no notify is lost, and all ends free", async () => {
    await fc.assert(fc.asyncProperty(fc.array(condWorkerArb, { minLength: 2, maxLength: 8, size: "max" }), playCondition), { numRuns: RUNS });
  });
});

// ---------------------------------------------------------------------------------------------
// Barrier
// ---------------------------------------------------------------------------------------------

/**
 * A Barrier schedule where everything happens at its own time, 10 ms apart: each worker calls
 * `wait()` at its slots (skipping a slot it is still waiting at), and cancels, signal aborts,
 * `reset()`s and `abort()`s come at other slots. Every change then settles before the next
 * one, so asyncio's outcome is simple to tell (the model below; checked against CPython 3.13
 * runs of the same schedules).
 */
interface BarrierSchedule {
  parties: number;
  workers: { slots: number[] }[];
  events: { t: number; kind: "cancel" | "signal" | "reset" | "abort"; w: number }[];
  end: number;
}
const barrierScheduleArb: fc.Arbitrary<BarrierSchedule> = fc
  .record({
    parties: fc.integer({ min: 1, max: 4 }),
    rounds: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 7 }),
    events: fc.array(fc.record({ kind: fc.constantFrom("cancel", "signal", "reset", "abort") as fc.Arbitrary<"cancel" | "signal" | "reset" | "abort">, w: fc.nat(6) }), { maxLength: 5 }),
    order: fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { minLength: 26, maxLength: 26 }),
  })
  .map(({ parties, rounds, events, order }) => {
    let next = 0;
    const take = () => order[next++]! * 10;
    const workers = rounds.map((r) => ({ slots: Array.from({ length: r }, take).sort((a, b) => a - b) }));
    return { parties, workers, events: events.map((e) => ({ ...e, t: take(), w: e.w % workers.length })), end: 420 };
  });

type Outcome = number | "B" | "C" | "A";

/** asyncio's (and aiots') outcome of a well-separated schedule: each worker's outcomes, and (nWaiting, broken) after each slot. */
function barrierModel(sc: BarrierSchedule): { results: Outcome[][]; snaps: [number, boolean][]; pending: number[] } {
  const results: Outcome[][] = sc.workers.map(() => []);
  const status = sc.workers.map(() => "idle" as "idle" | "waiting" | "cancelled");
  const signalled = sc.workers.map(() => false);
  let broken = false;
  let waiting: number[] = []; // in arrival order; a worker's index is its position when it arrived
  const index = new Map<number, number>();
  const actions: { t: number; run: () => void }[] = [];
  sc.workers.forEach((w, i) =>
    w.slots.forEach((t) =>
      actions.push({
        t,
        run: () => {
          if (status[i] !== "idle") return; // still waiting (the slot is skipped) or cancelled
          if (signalled[i]) return void results[i]!.push("A");
          if (broken) return void results[i]!.push("B");
          index.set(i, waiting.length);
          waiting.push(i);
          status[i] = "waiting";
          if (waiting.length === sc.parties) {
            for (const p of waiting) {
              results[p]!.push(index.get(p)!);
              status[p] = "idle";
            }
            waiting = [];
          }
        },
      }),
    ),
  );
  const breakAll = () => {
    for (const p of waiting) {
      results[p]!.push("B");
      status[p] = "idle";
    }
    waiting = [];
  };
  for (const e of sc.events) {
    actions.push({
      t: e.t,
      run: () => {
        if (e.kind === "reset") {
          breakAll();
          broken = false;
        } else if (e.kind === "abort") {
          breakAll();
          broken = true;
        } else if (e.kind === "cancel") {
          if (status[e.w] === "cancelled") return;
          // A worker past its last slot has finished: the cancel does nothing.
          if (status[e.w] === "idle" && sc.workers[e.w]!.slots.every((t) => t < e.t)) return;
          if (status[e.w] === "waiting") waiting = waiting.filter((p) => p !== e.w);
          results[e.w]!.push("C");
          status[e.w] = "cancelled";
        } else {
          signalled[e.w] = true;
          if (status[e.w] === "waiting") {
            waiting = waiting.filter((p) => p !== e.w);
            results[e.w]!.push("A");
            status[e.w] = "idle";
          }
        }
      },
    });
  }
  actions.sort((a, b) => a.t - b.t);
  const snaps: [number, boolean][] = [];
  let a = 0;
  for (let t = 0; t < sc.end; t += 10) {
    while (a < actions.length && actions[a]!.t <= t) actions[a++]!.run();
    snaps.push([broken ? 0 : waiting.length, broken]);
  }
  return { results, snaps, pending: waiting.slice().sort((x, y) => x - y) };
}

async function playBarrierSchedule(sc: BarrierSchedule): Promise<ReturnType<typeof barrierModel>> {
  return virtual(async () => {
    const loop = getRunningLoop();
    const barrier = new Barrier(sc.parties);
    const results: Outcome[][] = sc.workers.map(() => []);
    const controllers = sc.workers.map(() => new AbortController());
    const tasks = sc.workers.map((w, i) =>
      createTask(async () => {
        for (const t of w.slots) {
          if (loop.time() > t) continue; // still waiting at that slot
          await sleep(t - loop.time());
          try {
            results[i]!.push(await barrier.wait({ signal: controllers[i]!.signal }));
          } catch (e) {
            if (e instanceof BrokenBarrierError) results[i]!.push("B");
            else if (isAbort(e)) results[i]!.push("A");
            else throw e;
          }
        }
      }),
    );
    for (const t of tasks) t.addDoneCallback(() => (t.cancelled() ? results[tasks.indexOf(t)]!.push("C") : undefined));
    for (const e of sc.events) {
      loop.callLater(e.t, () => {
        if (e.kind === "cancel") tasks[e.w]!.cancel();
        else if (e.kind === "signal") controllers[e.w]!.abort(ABORT);
        else if (e.kind === "reset") loop.createTask(() => barrier.reset());
        else loop.createTask(() => barrier.abort());
      });
    }
    const snaps: [number, boolean][] = [];
    for (let t = 0; t < sc.end; t += 10) {
      await sleep(t + 5 - loop.time());
      snaps.push([barrier.nWaiting, barrier.broken]);
    }
    const pending = tasks.flatMap((t, i) => (t.done() ? [] : [i]));
    for (const t of tasks) t.cancel();
    for (const t of tasks) await settled(t);
    // The final cancels are not part of the schedule.
    for (const i of pending) results[i]!.pop();
    return { results, snaps, pending };
  });
}

const barrierWorkerArb = fc.record({
  arrive: at(6),
  rounds: fc.integer({ min: 1, max: 3 }),
  gap: fc.constantFrom(0, 0, 1, 5),
  signal: fc.boolean(),
  cancel: oneIn(3, whenArb(10)),
  abort: oneIn(4, whenArb(10)),
  // Right after it returns from a round, cancel a worker after `micro` microtasks.
  kill: oneIn(3, fc.record({ target: fc.nat(7), micro: fc.integer({ min: 0, max: 10 }) })),
  // What it does itself right after a round: nothing, or reset or abort the barrier.
  then: fc.constantFrom("none", "none", "none", "reset", "abort"),
});
const barrierControlArb = fc.array(fc.record({ kind: fc.constantFrom("reset", "abort") as fc.Arbitrary<"reset" | "abort">, when: whenArb(10) }), { maxLength: 2 });

describe("Barrier: random arrivals, cancels, signal aborts, resets and aborts", () => {
  it("on well-separated schedules, every outcome, nWaiting and broken are asyncio's", async () => {
    await fc.assert(
      fc.asyncProperty(barrierScheduleArb, async (sc) => {
        expect(await playBarrierSchedule(sc)).toEqual(barrierModel(sc));
      }),
      { numRuns: RUNS },
    );
  });

  it("at microtask granularity: indices in range, the count stays right, nobody is stranded, an abort breaks every waiter and a reset leaves it usable", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(barrierWorkerArb, { minLength: 1, maxLength: 8 }),
        barrierControlArb,
        fc.constantFrom("abort", "reset") as fc.Arbitrary<"abort" | "reset">,
        async (parties, workers, controls, finish) => {
          const barrier = new Barrier(parties);
          const unexpected: unknown[] = [];
          const outcomes: Outcome[][] = workers.map(() => []);
          await virtual(async () => {
            const tasks: Task<void>[] = [];
            // The workers whose wait() is pending (called, not settled).
            const inside = new Set<number>();
            let stopping = false; // once set, workers do not wait again
            workers.forEach((w, i) => {
              const ac = new AbortController();
              fireAt(w.abort, () => ac.abort(ABORT));
              const task = createTask(async () => {
                await sleep(w.arrive);
                for (let r = 0; r < w.rounds && !stopping; r++) {
                  let index: number;
                  inside.add(i);
                  try {
                    index = await barrier.wait(w.signal ? { signal: ac.signal } : undefined);
                  } catch (e) {
                    if (e instanceof BrokenBarrierError) {
                      outcomes[i]!.push("B");
                      continue;
                    }
                    if (isAbort(e)) {
                      outcomes[i]!.push("A");
                      return;
                    }
                    if (isCancelledError(e)) outcomes[i]!.push("C");
                    else unexpected.push(e);
                    throw e;
                  } finally {
                    inside.delete(i);
                  }
                  outcomes[i]!.push(index);
                  if (!(Number.isInteger(index) && index >= 0 && index < parties)) unexpected.push(`index ${index}`);
                  if (w.kill !== undefined) {
                    const target = tasks[w.kill.target % tasks.length]!;
                    afterMicrotasks(w.kill.micro, () => target.cancel());
                  }
                  if (w.then === "reset") await barrier.reset();
                  else if (w.then === "abort") await barrier.abort();
                  await sleep(w.gap);
                }
              });
              fireAt(w.cancel, () => task.cancel());
              tasks.push(task);
            });
            // (From a loop's task: a microtask chained on a loop callback is outside the loop.)
            const loop = getRunningLoop();
            for (const c of controls) fireAt(c.when, () => void loop.createTask(() => (c.kind === "reset" ? barrier.reset() : barrier.abort())));
            await sleep(HORIZON);
            // Quiescent: no round is left half drained, the count is the parties inside, and
            // a filling barrier has fewer than `parties` of them (else the round would be done).
            const pending = tasks.flatMap((t, i) => (t.done() ? [] : [i]));
            expect(["filling", "broken"]).toContain(barrier.state);
            expect([...inside].sort()).toEqual(pending);
            expect(barrier._count).toBe(barrier.broken ? 0 : pending.length);
            expect(barrier.nWaiting).toBe(barrier.broken ? 0 : pending.length);
            if (!barrier.broken) expect(pending.length).toBeLessThan(parties);
            else expect(pending).toEqual([]);
            // Every party still waiting gets BrokenBarrierError from an abort or a reset.
            const before = pending.map((i) => outcomes[i]!.length);
            stopping = true;
            await (finish === "abort" ? barrier.abort() : barrier.reset());
            await sleep(HORIZON);
            pending.forEach((i, k) => expect(outcomes[i]![before[k]!]).toBe("B"));
            expect(tasks.every((t) => t.done())).toBe(true);
            expect(barrier._count).toBe(0);
            expect(barrier.broken).toBe(finish === "abort");
            expect(barrier.state).toBe(finish === "abort" ? "broken" : "filling");
            if (finish === "reset") {
              // Usable again: `parties` newcomers get every index once.
              const fresh = await Promise.all(Array.from({ length: parties }, () => createTask(() => barrier.wait())));
              expect(fresh.sort()).toEqual(Array.from({ length: parties }, (_, k) => k));
              expect(barrier.state).toBe("filling");
            }
          });
          expect(unexpected).toEqual([]);
          expect(barrier._cond.locked()).toBe(false);
          expect(barrier._cond._waiters.size).toBe(0);
          expect(barrier._cond._lock._waiters.size).toBe(0);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Event
// ---------------------------------------------------------------------------------------------

const eventWorkerArb = fc.record({
  arrive: at(6),
  rounds: fc.integer({ min: 1, max: 3 }),
  gap: fc.constantFrom(0, 0, 1, 5),
  signal: fc.boolean(),
  cancel: oneIn(3, whenArb(10)),
  abort: oneIn(3, whenArb(10)),
});
// set, clear, or both in one synchronous step (a waiter woken by the set still returns true).
// Right after it, cancel a worker after `micro` microtasks (often one the set() just woke).
const eventOpArb = fc.record({
  op: fc.constantFrom("set", "clear", "set+clear", "clear+set"),
  when: whenArb(10),
  kill: oneIn(2, fc.record({ target: fc.nat(7), micro: fc.integer({ min: 0, max: 6 }) })),
});

describe("Event: random waiters, cancels, aborts, sets and clears", () => {
  it("nobody returns unless a set() came since it began waiting (or it was set then), everyone a set() reached returns true unless cancelled, and a final set frees all", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(eventWorkerArb, { minLength: 1, maxLength: 8 }), fc.array(eventOpArb, { maxLength: 6 }), async (workers, ops) => {
        const ev = new Event();
        const violations: string[] = [];
        let sets = 0; // set() calls that set the flag
        interface Call {
          worker: number;
          setAtCall: boolean;
          setsAtCall: number;
          reached: boolean; // a set() came while it was pending
          outcome?: "true" | "C" | "A";
        }
        const calls: Call[] = [];
        const pending = new Set<Call>();
        const set = () => {
          if (!ev.isSet()) {
            sets++;
            for (const c of pending) c.reached = true;
          }
          ev.set();
        };
        const cancelIssued = workers.map(() => false);
        const abortIssued = workers.map(() => false);
        await virtual(async () => {
          const tasks = workers.map((w, i) => {
            const ac = new AbortController();
            fireAt(w.abort, () => {
              abortIssued[i] = true;
              ac.abort(ABORT);
            });
            const task = createTask(async () => {
              await sleep(w.arrive);
              for (let r = 0; r < w.rounds; r++) {
                const call: Call = { worker: i, setAtCall: ev.isSet(), setsAtCall: sets, reached: false };
                calls.push(call);
                pending.add(call);
                try {
                  const v = await ev.wait(w.signal ? { signal: ac.signal } : undefined);
                  call.outcome = "true";
                  if (v !== true) violations.push(`wait resolved to ${String(v)}`);
                  if (!call.setAtCall && sets === call.setsAtCall) violations.push(`${i} returned with no set() since it began waiting`);
                } catch (e) {
                  if (isCancelledError(e)) call.outcome = "C";
                  else if (isAbort(e)) call.outcome = "A";
                  else violations.push(`${i}: ${String(e)}`);
                  if (isAbort(e)) return;
                  throw e;
                } finally {
                  pending.delete(call);
                }
                await sleep(w.gap);
              }
            });
            fireAt(w.cancel, () => kill(i));
            return task;
          });
          const kill = (i: number) => {
            cancelIssued[i] = true;
            tasks[i]!.cancel();
          };
          for (const { op, when, kill: k } of ops) {
            fireAt(when, () => {
              if (k !== undefined) afterMicrotasks(k.micro, () => kill(k.target % tasks.length));
              if (op === "set") set();
              else if (op === "clear") ev.clear();
              else if (op === "set+clear") {
                set();
                ev.clear();
              } else {
                ev.clear();
                set();
              }
            });
          }
          await sleep(HORIZON);
          // Whoever still waits was reached by no set(), and the flag is clear.
          for (const c of pending) {
            if (c.reached) violations.push(`${c.worker} still waits after a set() reached it`);
            if (ev.isSet()) violations.push(`${c.worker} still waits on a set Event`);
          }
          set();
          await sleep(HORIZON);
          expect(tasks.every((t) => t.done())).toBe(true);
        });
        for (const c of calls) {
          if (c.outcome === undefined) violations.push(`${c.worker} never settled`);
          if (c.outcome === "C" && !cancelIssued[c.worker]) violations.push(`${c.worker} cancelled by nobody`);
          if (c.outcome === "A" && !abortIssued[c.worker]) violations.push(`${c.worker} aborted by nobody`);
        }
        expect(violations).toEqual([]);
        expect(ev._waiters.size).toBe(0);
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// BoundedSemaphore
// ---------------------------------------------------------------------------------------------

const semWorkerArb = fc.record({
  arrive: at(6),
  rounds: fc.integer({ min: 1, max: 3 }),
  hold: fc.integer({ min: 0, max: 2 }),
  how: fc.constantFrom("acquire", "signal", "guard"),
  cancel: oneIn(3, whenArb(10)),
  abort: oneIn(3, whenArb(10)),
  // Right after releasing (often handing the permit to a waiter), cancel a worker after `micro` microtasks.
  kill: oneIn(2, fc.record({ target: fc.nat(7), micro: fc.integer({ min: 0, max: 10 }) })),
});

describe("BoundedSemaphore: random holders, cancels at random times, steps and microtasks", () => {
  it("the permits never go over the bound or below 0, a release with every permit free throws RangeError and changes nothing, and all permits come back", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(semWorkerArb, { minLength: 1, maxLength: 8 }),
        fc.array(whenArb(12), { maxLength: 4 }),
        async (k, workers, probes) => {
          const sem = new BoundedSemaphore(k);
          const violations: string[] = [];
          let holders = 0;
          const check = (where: string) => {
            const v = sem._value;
            if (v < 0 || v > k) violations.push(`${where}: value ${v}`);
            if (holders + v + sem._waiters.handing > k) violations.push(`${where}: ${holders} holders + ${v} free + ${sem._waiters.handing} handed > ${k}`);
          };
          const overRelease = (where: string) => {
            const before = String(sem);
            const value = sem._value;
            try {
              sem.release();
              violations.push(`${where}: release with all ${k} permits free did not throw`);
            } catch (e) {
              if (!(e instanceof RangeError)) violations.push(`${where}: threw ${String(e)}`);
            }
            if (sem._value !== value || String(sem) !== before) violations.push(`${where}: refused release changed the semaphore`);
          };
          await virtual(async () => {
            const tasks: Task<void>[] = [];
            workers.forEach((w, i) => {
              const ac = new AbortController();
              fireAt(w.abort, () => ac.abort(ABORT));
              const hold = async () => {
                holders++;
                check(`${i} acquired`);
                try {
                  await sleep(w.hold);
                } finally {
                  holders--;
                }
              };
              const task = createTask(async () => {
                await sleep(w.arrive);
                for (let r = 0; r < w.rounds; r++) {
                  try {
                    if (w.how === "guard") {
                      await using _ = await sem.guard({ signal: ac.signal });
                      await hold();
                    } else {
                      await sem.acquire(w.how === "signal" ? { signal: ac.signal } : undefined);
                      try {
                        await hold();
                      } finally {
                        sem.release();
                      }
                    }
                  } catch (e) {
                    if (!isCancelledError(e) && !isAbort(e)) violations.push(`${i}: ${String(e)}`);
                    if (isAbort(e)) return;
                    throw e;
                  } finally {
                    check(`${i} left`);
                    if (w.kill !== undefined) {
                      const target = tasks[w.kill.target % tasks.length]!;
                      afterMicrotasks(w.kill.micro, () => target.cancel());
                    }
                  }
                }
              });
              fireAt(w.cancel, () => task.cancel());
              tasks.push(task);
            });
            for (const p of probes) {
              fireAt(p, () => {
                check("probe");
                if (sem._value >= k) overRelease("probe");
              });
            }
            await sleep(HORIZON);
            // Every holder let go long ago, so no permit can have been left behind a waiter.
            expect(tasks.filter((t) => !t.done())).toEqual([]);
            check("end");
            overRelease("end");
          });
          expect(violations).toEqual([]);
          expect(holders).toBe(0);
          expect(sem._value).toBe(k);
          expect(sem._waiters.size).toBe(0);
          expect(sem._waiters.handing).toBe(0);
          expect(String(sem)).toBe(`BoundedSemaphore [unlocked, value: ${k}]`);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// PriorityQueue and LifoQueue
// ---------------------------------------------------------------------------------------------

const putStepArb = fc.record({
  delay: fc.integer({ min: 0, max: 3 }),
  priority: fc.integer({ min: 0, max: 9 }),
  mode: fc.constantFrom("put", "put", "nowait", "signal"),
  abortAfter: fc.record({ steps: fc.integer({ min: 0, max: 2 }), micro: fc.integer({ min: 0, max: 8 }) }),
});
const getStepArb = fc.record({
  delay: fc.integer({ min: 0, max: 3 }),
  mode: fc.constantFrom("get", "get", "nowait", "signal"),
  abortAfter: fc.record({ steps: fc.integer({ min: 0, max: 2 }), micro: fc.integer({ min: 0, max: 8 }) }),
  hold: fc.integer({ min: 0, max: 2 }),
});
const queueScenarioArb = fc.record({
  maxsize: fc.constantFrom(0, 1, 2, 3),
  producers: fc.array(fc.array(putStepArb, { maxLength: 6 }), { minLength: 1, maxLength: 3 }),
  consumers: fc.array(fc.array(getStepArb, { maxLength: 6 }), { minLength: 1, maxLength: 3 }),
  cancels: fc.array(fc.record({ when: whenArb(6), target: fc.nat() }), { maxLength: 4 }),
  // For the n-th hand-over to a waiting getter (or putter): cancel its task after that many
  // microtasks (undefined: not at all), from the very step that woke it.
  cancelHanded: fc.array(oneIn(2, fc.integer({ min: 0, max: 8 })), { minLength: 1, maxLength: 6 }),
  cancelAdmitted: fc.array(oneIn(2, fc.integer({ min: 0, max: 8 })), { minLength: 1, maxLength: 6 }),
});
type QueueScenario = typeof queueScenarioArb extends fc.Arbitrary<infer S> ? S : never;

async function playQueue(kind: "PriorityQueue" | "LifoQueue", sc: QueueScenario): Promise<void> {
  const q = kind === "PriorityQueue" ? new PriorityQueue<number>(sc.maxsize) : new LifoQueue<number>(sc.maxsize);
  const violations: string[] = [];
  const putOk: number[] = [];
  const putFailed: number[] = [];
  const got: number[] = [];
  const leftover: number[] = [];
  // The buffer as it should be: every item taken must be the smallest (PriorityQueue) or the
  // last in (LifoQueue) of the items buffered at that moment.
  const shadow: number[] = [];
  const store = q._store;
  const add = store.add.bind(store);
  store.add = (x) => {
    add(x);
    shadow.push(x);
  };
  const restore = store.restore.bind(store);
  store.restore = (x, rank) => {
    const before = shadow.length;
    restore(x, rank);
    if (shadow.length === before) shadow.push(x); // (a heap's restore is its add)
  };
  const take = store.take.bind(store);
  store.take = () => {
    const x = take();
    const expected = kind === "PriorityQueue" ? Math.min(...shadow) : shadow[shadow.length - 1];
    if (x !== expected) violations.push(`took ${x} from [${shadow.join(", ")}], expected ${expected}`);
    const at = shadow.lastIndexOf(x);
    if (at < 0) violations.push(`took ${x}, which was not buffered`);
    else shadow.splice(at, 1);
    return x;
  };
  const bound = (where: string) => {
    if (sc.maxsize > 0 && q.qsize() + q._reserved > sc.maxsize) violations.push(`${where}: ${q.qsize()} + ${q._reserved} reserved > ${sc.maxsize}`);
  };
  await virtual(async () => {
    const loop = getRunningLoop();
    // Cancel the task that waits on a waiter, some microtasks after the waiter is woken.
    const owners = new WeakMap<object, Task<unknown>>();
    const waitToGet = q._waitToGet.bind(q);
    q._waitToGet = () => {
      const waiter = waitToGet();
      owners.set(waiter, currentTask()!);
      return waiter;
    };
    const waitToPut = q._waitToPut.bind(q);
    q._waitToPut = (item) => {
      const waiter = waitToPut(item);
      owners.set(waiter, currentTask()!);
      return waiter;
    };
    const cancelAfterWake = (line: { wakeFirst(value: never): boolean; [Symbol.iterator](): Iterator<object> }, plan: (number | undefined)[]) => {
      const wakeFirst = line.wakeFirst.bind(line);
      let n = 0;
      line.wakeFirst = (value: never) => {
        const first = line[Symbol.iterator]().next().value as object | undefined;
        const woken = wakeFirst(value);
        const owner = first === undefined ? undefined : owners.get(first);
        const micro = plan[n++ % plan.length];
        if (woken && owner !== undefined && micro !== undefined) afterMicrotasks(micro, () => owner.cancel());
        bound("wake");
        return woken;
      };
    };
    cancelAfterWake(q._getters as never, sc.cancelHanded);
    cancelAfterWake(q._putters as never, sc.cancelAdmitted);
    const abortLater = (ac: AbortController, after: { steps: number; micro: number }) => {
      const step = (left: number): void => {
        if (left > 0) loop.callSoon(() => step(left - 1));
        else afterMicrotasks(after.micro, () => ac.abort(ABORT));
      };
      step(after.steps);
    };
    let seq = 0;
    const producers = sc.producers.map((steps) =>
      createTask(async () => {
        for (const s of steps) {
          await sleep(s.delay);
          const item = s.priority * 1000 + seq++; // distinct items, ordered by priority first
          try {
            if (s.mode === "nowait") q.putNowait(item);
            else if (s.mode === "signal") {
              const ac = new AbortController();
              abortLater(ac, s.abortAfter);
              await q.put(item, { signal: ac.signal });
            } else await q.put(item);
            putOk.push(item);
          } catch (e) {
            putFailed.push(item);
            if (e instanceof QueueFull || isAbort(e)) continue;
            if (!isCancelledError(e)) violations.push(`put: ${String(e)}`);
            throw e;
          } finally {
            bound("put");
          }
        }
      }),
    );
    const consumers = sc.consumers.map((steps) =>
      createTask(async () => {
        for (const s of steps) {
          await sleep(s.delay);
          let item: number;
          try {
            if (s.mode === "nowait") item = q.getNowait();
            else if (s.mode === "signal") {
              const ac = new AbortController();
              abortLater(ac, s.abortAfter);
              item = await q.get({ signal: ac.signal });
            } else item = await q.get();
          } catch (e) {
            if (e instanceof QueueEmpty || isAbort(e)) continue;
            if (!isCancelledError(e)) violations.push(`get: ${String(e)}`);
            throw e;
          } finally {
            bound("get");
          }
          got.push(item);
          await sleep(s.hold);
        }
      }),
    );
    const everyone = [...producers, ...consumers];
    for (const c of sc.cancels) fireAt(c.when, () => everyone[c.target % everyone.length]!.cancel());
    await sleep(HORIZON);
    // Quiescent: nobody waits for an item while one is buffered, or for room while there is some.
    if (q._getters.size > 0) expect(q.qsize()).toBe(0);
    if (q._putters.size > 0) expect(q.full()).toBe(true);
    for (const t of everyone) t.cancel();
    for (const t of everyone) await settled(t);
    while (q.qsize() > 0) leftover.push(q.getNowait());
    expect(q._getters.size + q._putters.size + q._reserved).toBe(0);
  });
  expect(violations).toEqual([]);
  // Every item put is got exactly once or was left in the queue; no failed put got in.
  expect([...got, ...leftover].sort((a, b) => a - b)).toEqual([...putOk].sort((a, b) => a - b));
  expect(putFailed.filter((x) => got.includes(x) || leftover.includes(x))).toEqual([]);
  expect(shadow).toEqual([]);
}

describe("PriorityQueue and LifoQueue: getters and putters cancelled at random times and microtasks after a hand-over", () => {
  for (const kind of ["PriorityQueue", "LifoQueue"] as const) {
    it(`${kind}: every item got once or still queued, no cancelled put gets in, the bound holds, and each item taken comes first among those buffered`, async () => {
      await fc.assert(
        fc.asyncProperty(queueScenarioArb, (sc) => playQueue(kind, sc)),
        { numRuns: RUNS },
      );
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Barrier: a party cancelled around a completed round
// ---------------------------------------------------------------------------------------------

describe("Barrier: a party cancelled around a completed round", () => {
  // asyncio (3.13), same schedule, gives {'B2': 1, 'A2': 'CancelledError'} and n_waiting 0: A's
  // second wait counts in round 2, which B completes, and A's pending cancel then lands.
  it("a party that cancels itself after a round and waits again still completes the next round: the other party gets index 1, its own wait throws CancelledError, nobody is left waiting", async () => {
    const got: { A2?: string; B2?: number } = {};
    await virtual(async () => {
      const b = new Barrier(2);
      const a = createTask(async () => {
        await b.wait();
        currentTask()!.cancel();
        await b.wait().catch((e) => {
          got.A2 = (e as Error).name;
        });
      });
      const bt = createTask(async () => {
        await sleep(1);
        await b.wait();
        got.B2 = await b.wait();
      });
      await sleep(10);
      expect(a.done()).toBe(true);
      expect(bt.done()).toBe(true);
      expect(b.nWaiting).toBe(0);
      expect(b.state).toBe("filling");
    });
    expect(got).toEqual({ A2: "CancelledError", B2: 1 });
  });

  // Barrier(3): A, B and C complete round 1; in that step C cancels B (released, not yet
  // resumed) and waits again, and A comes back for round 2, which D completes. B's cancel
  // must not strand A and C: every task ends and round 2 hands out each index once. (Which
  // index A and C get depends on the order in which the released parties go on, which the
  // note at the top of this file leaves unchecked.)
  it("a party released by a completed round and cancelled before it resumes leaves without stranding the others", async () => {
    const got: Record<string, Outcome[]> = { A: [], B: [], C: [], D: [] };
    const tasks: Record<string, Task<void>> = {};
    await virtual(async () => {
      const barrier = new Barrier(3);
      const party = (name: string, delay: number, rounds: number, kill?: string) => async () => {
        await sleep(delay);
        for (let r = 0; r < rounds; r++) {
          try {
            got[name]!.push(await barrier.wait());
          } catch (e) {
            if (isCancelledError(e)) got[name]!.push("C");
            throw e;
          }
          if (kill !== undefined) tasks[kill]!.cancel();
        }
      };
      tasks.A = createTask(party("A", 1, 2));
      tasks.B = createTask(party("B", 2, 1));
      tasks.C = createTask(party("C", 3, 2, "B"));
      tasks.D = createTask(party("D", 10, 1));
      await sleep(20);
      expect(Object.values(tasks).every((t) => t.done())).toBe(true);
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.state).toBe("filling");
    });
    expect(tasks.B!.cancelled()).toBe(true);
    expect(got.B).toEqual(["C"]);
    for (const name of ["A", "C", "D"]) expect(tasks[name]!.cancelled()).toBe(false);
    expect(got.A).toHaveLength(2);
    expect(got.C).toHaveLength(2);
    expect(got.D).toHaveLength(1);
    // Round 1: A and C got distinct indices; round 2 (A, C, D) every index once.
    const round1 = [got.A[0], got.C[0]];
    for (const i of round1) expect([0, 1, 2]).toContain(i);
    expect(round1[0]).not.toBe(round1[1]);
    expect([got.A[1], got.C[1], got.D[0]].sort()).toEqual([0, 1, 2]);
  });
});
