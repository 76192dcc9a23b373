/**
 * Compositions of primitives the way programs combine them, under interleavings that
 * fast-check's scheduler picks (critical sections and cancels wait for scheduler hops) and
 * deadlines that expire whenever the virtual clock jumps:
 * - a pipeline: workers in a TaskGroup (or a `gather` with `returnExceptions`) wait at an
 *   Event start gate, take items from a Queue (`waitFor(q.get(), ms)`, `waitFor(() => q.get(), ms)`,
 *   `timeout(ms, ...)`, a get aborted by a signal), sometimes with the whole step inside a
 *   `timeout` scope, hold a Semaphore and/or a Lock through `await using` guards (acquired
 *   plainly or through `waitFor`), and put the result into a bounded Queue (plainly, through
 *   `waitFor`, or shielded) that a consumer drains; the group, single workers and the
 *   consumer are cancelled at random moments;
 * - a producer/consumer on a Condition, consumers in `timeout` scopes and cancelled at random.
 * Cancels come from the scheduler (after some hops, so at quiescent moments) and from the
 * actors themselves, a few microtasks after a hand-over of their own (a put, a release, a
 * notify), so that they also land between a hand-over and the code that takes it.
 * Checked: every item is consumed exactly once or is still queued at the end; never two Lock
 * holders nor more than N Semaphore holders; at the end every lock is free, the semaphore's
 * value is back, no primitive has a waiter and no task is pending; a TimeoutError only comes
 * from a deadline that has passed, a CancelledError only from something cancelled; no
 * Condition consumer is left waiting un-notified for an item that is there; nothing hangs.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  Condition,
  Event,
  Lock,
  Queue,
  Semaphore,
  TimeoutError,
  VirtualTimeLoop,
  allTasks,
  createTask,
  currentTask,
  gather,
  getRunningLoop,
  isCancelledError,
  run,
  shield,
  sleep,
  taskGroup,
  timeout,
  waitFor,
} from "aiots";
import type { AbstractEventLoop, Future, Task } from "aiots";
import { afterTicks } from "./helpers.js";

const RUNS = Number(process.env.RUNS ?? 400);
/** For exploration: `HANG_MS=4000` makes a run that takes longer (a hang) fail with its counterexample. */
const PARAMS = { numRuns: RUNS, ...(process.env.HANG_MS ? { timeout: Number(process.env.HANG_MS) } : {}) };

/** Deadlines in virtual ms: 0 (only if done already), or short ones the clock jumps to. */
const ms = fc.constantFrom(0, 1, 3, 10);
const maybeMs = fc.option(ms, { nil: null, freq: 2 });

/** Cancels released by the scheduler after `hops` scheduler hops: `target` 0 is the group, 1 the consumer, 2+ a worker. */
const cancelsArb = fc.array(fc.record({ target: fc.nat(7), hops: fc.nat(6) }), { maxLength: 4 });
/** A cancel that an actor makes itself, right after a hand-over of its own (a put, a release, a notify), `ticks` microtasks later. */
const pokeArb = fc.option(fc.record({ target: fc.nat(7), ticks: fc.nat(6) }), { nil: undefined, freq: 2 });

/** Test-side bookkeeping shared by both properties. */
function harness(s: fc.Scheduler) {
  const violations: string[] = [];
  /** TimeoutErrors already checked against the deadline that produced them. */
  const checked = new WeakSet<object>();
  const hop = (label: string): Promise<string> => s.schedule(Promise.resolve(label), label);
  /** Calls `fn` once the scheduler has released `hops` hops, then one more. */
  const laterAfter = (hops: number, label: string, fn: () => void): void => {
    let p: Promise<unknown> = Promise.resolve();
    for (let i = 0; i < hops; i++) p = p.then(() => hop(`${label} (hop ${i})`));
    void p.then(() => hop(label)).then(fn);
  };
  /** Runs `f(delay)`; a TimeoutError out of it that no inner deadline explains must come at or after `now + delay`. */
  const deadline = async <T>(delay: number, what: string, f: (delay: number) => Promise<T>): Promise<T> => {
    const loop = getRunningLoop();
    const due = loop.time() + delay;
    try {
      return await f(delay);
    } catch (error) {
      if (error instanceof TimeoutError && !checked.has(error)) {
        checked.add(error);
        if (loop.time() < due) violations.push(`${what}: TimeoutError at ${loop.time()}, before its deadline ${due}`);
      }
      throw error;
    }
  };
  /** What a task ended with, as a word; a violation for anything but a result or a cancel. */
  const outcome = (name: string, task: Future<unknown>, mayCancel: boolean): "done" | "cancelled" => {
    if (!task.done()) {
      violations.push(`${name} still pending at the end`);
      return "done";
    }
    if (task.cancelled()) {
      if (!mayCancel) violations.push(`${name} ended cancelled though nothing cancelled it`);
      return "cancelled";
    }
    const error = task.exception();
    if (error !== null) violations.push(`${name} failed: ${String(error)}`);
    return "done";
  };
  return { violations, hop, laterAfter, deadline, outcome };
}

/** Checks that `items` holds 0..n-1 exactly once each. */
function expectEachOnce(items: number[], n: number, where: string): void {
  const sorted = [...items].sort((a, b) => a - b);
  expect(sorted, where).toEqual(Array.from({ length: n }, (_, i) => i));
}

// ---------------------------------------------------------------------------------------------
// A pipeline: gate → get → semaphore/lock → put → consumer
// ---------------------------------------------------------------------------------------------

const workerArb = fc.record({
  gate: fc.constantFrom("none", "wait", "waitFor"),
  gateMs: ms,
  iterations: fc.integer({ min: 1, max: 4 }),
  get: fc.constantFrom("waitForFuture", "waitForFn", "timeout", "signal"),
  getMs: ms,
  /** The whole step (get, critical section, put) inside `timeout(scopeMs, ...)`, or not. */
  scopeMs: maybeMs,
  useSem: fc.boolean(),
  useLock: fc.boolean(),
  /** `null`: a plain `guard()`; else `waitFor(guard(), acquireMs)`. */
  acquireMs: maybeMs,
  hops: fc.nat(2),
  put: fc.constantFrom("plain", "waitFor", "shield"),
  putMs: ms,
  /** Cancels another actor right after this worker's put, or after its step released the lock and the permit. */
  poke: pokeArb,
  pokeAt: fc.constantFrom("put", "release"),
});
type WorkerPlan = typeof workerArb extends fc.Arbitrary<infer W> ? W : never;

const pipelineArb = fc.record({
  items: fc.nat(8),
  outMax: fc.integer({ min: 1, max: 3 }),
  permits: fc.integer({ min: 1, max: 3 }),
  group: fc.constantFrom("taskGroup", "gather"),
  workers: fc.array(workerArb, { minLength: 1, maxLength: 4 }),
  consumer: fc.record({ iterations: fc.nat(8), ms, hops: fc.nat(1) }),
  gateHops: fc.nat(4),
  cancels: cancelsArb,
});

describe("compositions of primitives under scheduler-picked interleavings", () => {
  it("a gated worker pipeline loses, duplicates and leaks nothing whatever is cancelled when", async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), pipelineArb, async (s, sc) => {
        const { violations, hop, laterAfter, deadline, outcome } = harness(s);
        const inq = new Queue<number>();
        const outq = new Queue<number>(sc.outMax);
        const sem = new Semaphore(sc.permits);
        const lock = new Lock();
        const gate = new Event();
        const consumed: number[] = [];
        const shielded: Task<void>[] = [];
        const workers: (Task<number> | undefined)[] = sc.workers.map(() => undefined);
        const workerCancelled = sc.workers.map(() => false);
        let groupCancelled = false;
        let consumerCancelled = false;
        let semHolders = 0;
        let lockHolders = 0;
        let loop!: AbstractEventLoop;
        let group: Future<unknown> | undefined;
        let consumer: Task<void> | undefined;
        /** `target` 0 is the group, 1 the consumer, 2+ a worker. */
        const cancelTarget = (target: number): void => {
          if (target === 0) groupCancelled = group?.cancel() === true || groupCancelled;
          else if (target === 1) consumerCancelled = consumer?.cancel() === true || consumerCancelled;
          else {
            const w = (target - 2) % workers.length;
            if (workers[w]?.cancel()) workerCancelled[w] = true;
          }
        };
        const poke = (plan: WorkerPlan, at: "put" | "release"): void => {
          if (plan.poke !== undefined && plan.pokeAt === at) afterTicks(plan.poke.ticks, () => cancelTarget(plan.poke!.target));
        };

        const getItem = (plan: WorkerPlan, w: number): Promise<number> =>
          deadline(plan.getMs, `worker ${w} get (${plan.get})`, async (d) => {
            switch (plan.get) {
              case "waitForFuture":
                return waitFor(inq.get(), d);
              case "waitForFn":
                return waitFor(() => inq.get(), d);
              case "timeout":
                return timeout(d, () => inq.get());
              case "signal": {
                const ac = new AbortController();
                const handle = loop.callLater(d, () => ac.abort(new TimeoutError("get aborted")));
                try {
                  return await inq.get({ signal: ac.signal });
                } finally {
                  handle.cancel();
                }
              }
            }
          });

        const acquire = (target: Lock | Semaphore, plan: WorkerPlan, what: string): Promise<AsyncDisposable> =>
          plan.acquireMs === null ? target.guard() : deadline(plan.acquireMs, what, (d) => waitFor(target.guard(), d));

        /** Gets an item, holds the semaphore and/or the lock, passes the item on. */
        const step = async (plan: WorkerPlan, w: number): Promise<void> => {
          let item: number | undefined;
          try {
            item = await getItem(plan, w);
            await using _permit = plan.useSem ? await acquire(sem, plan, `worker ${w} semaphore`) : undefined;
            if (plan.useSem && ++semHolders > sc.permits) violations.push(`${semHolders} semaphore holders, ${sc.permits} permits`);
            try {
              await using _lock = plan.useLock ? await acquire(lock, plan, `worker ${w} lock`) : undefined;
              if (plan.useLock && ++lockHolders > 1) violations.push(`${lockHolders} lock holders`);
              try {
                for (let i = 0; i < plan.hops; i++) await hop(`worker ${w} in its critical section`);
                const x = item;
                switch (plan.put) {
                  case "plain":
                    await outq.put(x);
                    break;
                  case "waitFor":
                    await deadline(plan.putMs, `worker ${w} put`, (d) => waitFor(outq.put(x), d));
                    break;
                  case "shield": {
                    // The shielded task owns the item from here on, whatever happens to the worker.
                    item = undefined;
                    const t = createTask(() => outq.put(x));
                    shielded.push(t);
                    await shield(t);
                    break;
                  }
                }
                item = undefined;
                poke(plan, "put");
              } finally {
                if (plan.useLock) lockHolders--;
              }
            } finally {
              if (plan.useSem) semHolders--;
            }
          } finally {
            // A worker that gives up an item it took puts it back (the queue is unbounded).
            if (item !== undefined) inq.putNowait(item);
          }
        };

        const worker = async (plan: WorkerPlan, w: number): Promise<number> => {
          if (plan.gate === "wait") await gate.wait();
          else if (plan.gate === "waitFor") {
            try {
              await deadline(plan.gateMs, `worker ${w} gate`, (d) => waitFor(gate.wait(), d));
            } catch (error) {
              if (error instanceof TimeoutError) return w;
              throw error;
            }
          }
          for (let i = 0; i < plan.iterations; i++) {
            try {
              if (plan.scopeMs === null) await step(plan, w);
              else await deadline(plan.scopeMs, `worker ${w} step scope`, (d) => timeout(d, () => step(plan, w)));
            } catch (error) {
              if (!(error instanceof TimeoutError)) throw error;
            } finally {
              poke(plan, "release");
            }
          }
          return w;
        };

        const scenario$ = run(
          async () => {
            loop = getRunningLoop();
            const main = currentTask()!;
            for (let i = 0; i < sc.items; i++) inq.putNowait(i);
            laterAfter(sc.gateHops, "open the gate", () => gate.set());

            consumer = createTask(async () => {
              for (let i = 0; i < sc.consumer.iterations; i++) {
                try {
                  consumed.push(await deadline(sc.consumer.ms, "consumer get", (d) => waitFor(outq.get(), d)));
                } catch (error) {
                  if (!(error instanceof TimeoutError)) throw error;
                }
                for (let h = 0; h < sc.consumer.hops; h++) await hop("consumer between items");
              }
            });

            if (sc.group === "taskGroup") {
              group = createTask(() =>
                taskGroup((tg) => {
                  sc.workers.forEach((plan, w) => (workers[w] = tg.createTask(() => worker(plan, w))));
                }),
              );
            } else {
              sc.workers.forEach((plan, w) => (workers[w] = createTask(() => worker(plan, w))));
              group = gather(workers as Task<number>[], { returnExceptions: true });
            }

            for (const { target, hops } of sc.cancels) laterAfter(hops, `cancel #${target}`, () => cancelTarget(target));

            await Promise.allSettled([consumer]);
            // Then the program drains what is left of the output until every put is over.
            const drain = (): void => {
              while (!outq.empty()) consumed.push(outq.getNowait());
            };
            const made = group;
            const busy = (): boolean => !made.done() || workers.some((t) => t !== undefined && !t.done()) || shielded.some((t) => !t.done());
            while (busy()) {
              drain();
              await sleep(1); // (not 0: the virtual clock must be free to jump to the workers' deadlines)
            }
            await Promise.allSettled([group, ...shielded]);
            drain();
            const left: number[] = [];
            while (!inq.empty()) left.push(inq.getNowait());

            // Every item consumed exactly once, or still in the input queue.
            expectEachOnce([...consumed, ...left], sc.items, "consumed + left in the input queue");
            if (semHolders !== 0 || lockHolders !== 0) violations.push(`holders at the end: sem ${semHolders}, lock ${lockHolders}`);
            expect(String(lock)).toBe("Lock [unlocked]");
            expect(String(sem)).toBe(`Semaphore [unlocked, value: ${sc.permits}]`);
            expect(String(gate)).not.toMatch(/waiters/);
            expect(String(inq)).toMatch(/size: 0, getters: 0, putters: 0/);
            expect(String(outq)).toMatch(/size: 0, getters: 0, putters: 0/);
            expect([...allTasks()].filter((t) => t !== main)).toEqual([]);

            outcome("consumer", consumer, consumerCancelled);
            shielded.forEach((t, i) => outcome(`shielded put ${i}`, t, false));
            const groupEnd = outcome("group", group, groupCancelled);
            workers.forEach((t, w) => {
              if (t === undefined) {
                // Only a task group cancelled before its body ran makes no workers.
                if (!(sc.group === "taskGroup" && groupCancelled)) violations.push(`worker ${w} never made`);
                return;
              }
              if (outcome(`worker ${w}`, t, workerCancelled[w]! || groupCancelled) === "done" && t.exception() === null) expect(t.result()).toBe(w);
            });
            if (sc.group === "gather" && groupEnd === "done" && group.exception() === null) {
              const results = group.result() as unknown[];
              results.forEach((r, w) => {
                if (r instanceof Error && !isCancelledError(r)) violations.push(`gather slot ${w}: ${String(r)}`);
                if (isCancelledError(r) && !workerCancelled[w]) violations.push(`gather slot ${w} cancelled, but only that worker could have been`);
              });
            }
          },
          { loop: new VirtualTimeLoop() },
        );
        await s.waitFor(scenario$);
        expect(violations).toEqual([]);
      }),
      PARAMS,
    );
  }, 60_000);

  // -------------------------------------------------------------------------------------------
  // A Condition-based producer/consumer
  // -------------------------------------------------------------------------------------------

  it("a Condition producer/consumer keeps every item and every wake-up whatever is cancelled when", async () => {
    const consumerArb = fc.record({ iterations: fc.integer({ min: 1, max: 5 }), scopeMs: maybeMs, hops: fc.nat(2) });
    const conditionArb = fc.record({
      producers: fc.array(fc.record({ items: fc.nat(3), hops: fc.nat(2), notifyAll: fc.boolean(), startHops: fc.nat(3), poke: pokeArb, pokeAt: fc.constantFrom("notify", "release") }), {
        minLength: 1,
        maxLength: 3,
      }),
      consumers: fc.array(consumerArb, { minLength: 1, maxLength: 3 }),
      gateHops: fc.nat(3),
      cancels: cancelsArb,
    });
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), conditionArb, async (s, sc) => {
        const { violations, hop, laterAfter, deadline, outcome } = harness(s);
        const cond = new Condition();
        const gate = new Event();
        const buf: number[] = [];
        const consumed: number[] = [];
        const total = sc.producers.reduce((n, p) => n + p.items, 0);
        let closed = false;
        let holders = 0;
        const holding = (who: string): void => {
          if (++holders > 1) violations.push(`${who}: ${holders} holders of the condition's lock`);
        };
        /** Consumers now inside `cond.wait()` (notified or not). */
        let inWait = 0;
        /** Where each consumer is, for the messages. */
        const phase: string[] = sc.consumers.map(() => "created");

        const scenario$ = run(
          async () => {
            const main = currentTask()!;
            let producers: Task<void>[] = [];
            let consumers: Task<void>[] = [];
            let producersCancelled = false;
            const consumerCancelled = sc.consumers.map(() => false);
            /** `target` 0 and 1 are producers, 2+ consumers. */
            const cancelTarget = (target: number): void => {
              if (target < 2) producersCancelled = producers[target % producers.length]?.cancel() === true || producersCancelled;
              else {
                const c = (target - 2) % sc.consumers.length;
                if (consumers[c]?.cancel()) consumerCancelled[c] = true;
              }
            };
            laterAfter(sc.gateHops, "open the gate", () => gate.set());
            let next = 0;
            const consume = async (plan: (typeof sc.consumers)[number], c: number): Promise<void> => {
              phase[c] = "acquiring";
              await using _ = await cond.guard();
              phase[c] = "holding";
              holding(`consumer ${c}`);
              try {
                holders--;
                inWait++;
                phase[c] = "waiting";
                try {
                  await cond.waitFor(() => buf.length > 0 || closed);
                } finally {
                  inWait--;
                  phase[c] = "took";
                  // wait() holds the lock again when it returns or throws.
                  holding(`consumer ${c} after wait`);
                  if (!cond.locked()) violations.push(`consumer ${c}: wait() ended without the lock`);
                }
                if (buf.length > 0) consumed.push(buf.shift()!);
                for (let h = 0; h < plan.hops; h++) await hop(`consumer ${c} holds the lock`);
              } finally {
                holders--;
              }
            };
            consumers = sc.consumers.map((plan, c) =>
              createTask(async () => {
                phase[c] = "at the gate";
                await gate.wait();
                for (let i = 0; i < plan.iterations && !closed; i++) {
                  try {
                    if (plan.scopeMs === null) await consume(plan, c);
                    else await deadline(plan.scopeMs, `consumer ${c} scope`, (d) => timeout(d, () => consume(plan, c)));
                  } catch (error) {
                    if (!(error instanceof TimeoutError)) throw error;
                  }
                }
              }),
            );
            // Consumers first, so that notifies often find waiters.
            producers = sc.producers.map((plan, p) =>
              createTask(async () => {
                await gate.wait();
                // (Consumers were made first: a producer that waits a little finds them waiting.)
                for (let h = 0; h < plan.startHops; h++) await hop(`producer ${p} starts`);
                const poke = (at: "notify" | "release"): void => {
                  if (plan.poke !== undefined && plan.pokeAt === at) afterTicks(plan.poke.ticks, () => cancelTarget(plan.poke!.target));
                };
                for (let i = 0; i < plan.items; i++) {
                  {
                    await using _ = await cond.guard();
                    holding(`producer ${p}`);
                    try {
                      for (let h = 0; h < plan.hops; h++) await hop(`producer ${p} holds the lock`);
                      buf.push(next++);
                      if (plan.notifyAll) cond.notifyAll();
                      else cond.notify();
                      poke("notify");
                    } finally {
                      holders--;
                    }
                  }
                  poke("release");
                }
              }),
            );
            for (const { target, hops } of sc.cancels) laterAfter(hops, `cancel #${target}`, () => cancelTarget(target));
            await Promise.allSettled(producers);
            // Producers are done: consumers that still run must drain the buffer, unless all of
            // them wait un-notified (a wake-up was lost) or the buffer is empty.
            const live = (): number => consumers.filter((t) => !t.done()).length;
            const unnotified = (): number => Number(/waiters: (\d+)/.exec(String(cond))?.[1] ?? 0);
            for (let polls = 0; ; polls++) {
              if (buf.length === 0 || live() === 0) break;
              if (polls === 1000) {
                violations.push(`no progress: ${String(cond)}, ${buf.length} item(s), ${live()} consumer(s) live, ${inWait} in wait; consumers ${phase.join(", ")}; ${consumers.map((t) => (t.done() ? "done" : "pending")).join(", ")}`);
                break;
              }
              if (!cond.locked() && inWait === live() && unnotified() === inWait) {
                violations.push(`${buf.length} item(s) left while ${inWait} consumer(s) wait un-notified`);
                break;
              }
              // (A loop sleep, not a scheduler hop: hops released back to back would starve the loop.)
              await sleep(1);
            }
            {
              await using _ = await cond.guard();
              closed = true;
              cond.notifyAll();
            }
            await Promise.allSettled(consumers);

            expectEachOnce([...consumed, ...buf], next, "consumed + left in the buffer");
            if (!producersCancelled) expect(next).toBe(total);
            expect(holders).toBe(0);
            expect(String(cond)).toBe("Condition [unlocked]");
            expect(String(gate)).not.toMatch(/waiters/);
            expect([...allTasks()].filter((t) => t !== main)).toEqual([]);
            producers.forEach((t, p) => outcome(`producer ${p}`, t, producersCancelled));
            consumers.forEach((t, c) => outcome(`consumer ${c}`, t, consumerCancelled[c]!));
          },
          { loop: new VirtualTimeLoop() },
        );
        await s.waitFor(scenario$);
        expect(violations).toEqual([]);
      }),
      // (Cheaper runs, and the lost wake-up it looks for needs a rarer arrangement: more of them.)
      { ...PARAMS, numRuns: RUNS * 3 },
    );
  }, 60_000);
});
