import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { QueueEmpty, QueueFull, QueueShutDown } from "@aiots/core";
import type { FutureLike } from "@aiots/core";
import { createTask, currentTask, isFuture, sleep } from "@aiots/future";
import type { Task } from "@aiots/future";
import { getRunningLoop } from "@aiots/loop";
import { LifoQueue, PriorityQueue, Queue } from "@aiots/queue";
import { onVirtualLoop, outcome } from "./helpers.js";

type Kind = "Queue" | "LifoQueue" | "PriorityQueue";

/**
 * Right after a step succeeds, in the same synchronous step, cancel another task or abort its
 * current wait (a signal wait that was already satisfied is not withdrawn by a late abort).
 */
type Then = { cancel: boolean; target: number } | null;
interface PutStep {
  delay: number;
  mode: "put" | "nowait" | "signal" | "task";
  abortAfter: number;
  then: Then;
}
interface GetStep {
  delay: number;
  mode: "get" | "nowait" | "signal" | "iterate" | "task";
  abortAfter: number;
  hold: number;
  then: Then;
}
interface Scenario {
  maxsize: number;
  producers: PutStep[][];
  consumers: GetStep[][];
  cancels: { at: number; target: number }[];
  joins: number[];
  shutdown: { at: number; immediate: boolean } | null;
  /**
   * For the n-th wake-up of a waiting getter (or putter), whether to cancel the task that
   * waits, in the same synchronous step, right after the item (or slot) was handed to it and
   * before its code resumes: asyncio's late cancel, which timer-driven cancels never hit.
   */
  cancelHanded: boolean[];
  cancelAdmitted: boolean[];
}

const time = fc.integer({ min: 0, max: 6 });
const then: fc.Arbitrary<Then> = fc.option(fc.record({ cancel: fc.boolean(), target: fc.nat() }), { nil: null, freq: 3 });
const putStep: fc.Arbitrary<PutStep> = fc.record({
  delay: time,
  mode: fc.constantFrom("put", "put", "nowait", "signal", "task"),
  abortAfter: time,
  then,
});
const getStep: fc.Arbitrary<GetStep> = fc.record({
  delay: time,
  mode: fc.constantFrom("get", "get", "nowait", "signal", "iterate", "task"),
  abortAfter: time,
  hold: fc.integer({ min: 0, max: 3 }),
  then,
});
const scenario = (withShutdown: boolean): fc.Arbitrary<Scenario> =>
  fc.record({
    maxsize: fc.constantFrom(0, 1, 2, 4),
    producers: fc.array(fc.array(putStep, { maxLength: 8 }), { minLength: 1, maxLength: 3 }),
    consumers: fc.array(fc.array(getStep, { maxLength: 8 }), { minLength: 1, maxLength: 3 }),
    cancels: fc.array(fc.record({ at: fc.integer({ min: 0, max: 40 }), target: fc.nat() }), { maxLength: 4 }),
    joins: fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 2 }),
    shutdown: withShutdown ? fc.option(fc.record({ at: fc.integer({ min: 0, max: 40 }), immediate: fc.boolean() }), { nil: null }) : fc.constant(null),
    cancelHanded: fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }),
    cancelAdmitted: fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }),
  });

/** After this virtual time every scenario has played out; the queue is then shut down to end it. */
const END = 1_000;
const ABORT = new Error("aborted by the scenario");

function make(kind: Kind, maxsize: number): Queue<string> {
  if (kind === "LifoQueue") return new LifoQueue<string>(maxsize);
  if (kind === "PriorityQueue") return new PriorityQueue<string>(maxsize);
  return new Queue<string>(maxsize);
}

function buffered(q: Queue<string>): string[] {
  return [...(q._store as unknown as { _items: Iterable<string> })._items];
}

/**
 * Waits for `task` through a plain promise, so cancelling the waiting task does not cancel
 * `task` too: what `task` did is always known, whatever befalls its parent.
 */
function settled(task: Task<unknown>): Promise<void> {
  return new Promise((resolve) => task.addDoneCallback(() => resolve()));
}

const itemName = (producer: number, seq: number) => `${producer}:${String(seq).padStart(3, "0")}`;
const parse = (item: string) => item.split(":").map(Number) as [number, number];

interface Record {
  putOk: string[];
  admitted: string[];
  gotBy: string[][];
  leftover: string[];
  drained: string[];
  givenBack: Set<string>;
  violations: string[];
  joinsResolved: boolean;
  idleAtEnd: boolean;
}

async function play(kind: Kind, sc: Scenario): Promise<Record> {
  return onVirtualLoop(async () => {
    const loop = getRunningLoop();
    const q = make(kind, sc.maxsize);
    const rec: Record = {
      putOk: [],
      admitted: [],
      gotBy: sc.consumers.map(() => []),
      leftover: [],
      drained: [],
      givenBack: new Set(),
      violations: [],
      joinsResolved: false,
      idleAtEnd: false,
    };

    // Watch the queue from inside, synchronously, at every change of its count or contents.
    let admittedCount = 0;
    let finishedCount = 0;
    const joiners: { wait: Promise<void>; due: boolean }[] = [];
    const check = (where: string) => {
      if (sc.maxsize > 0 && q.qsize() + q._reserved > sc.maxsize) {
        rec.violations.push(`${where}: ${q.qsize()} buffered + ${q._reserved} held > maxsize ${sc.maxsize}`);
      }
      const unfinished = admittedCount - finishedCount;
      for (const j of joiners) {
        if (unfinished === 0) j.due = true;
        const done = !isFuture(j.wait) || (j.wait as unknown as FutureLike<void>).done();
        if (done !== j.due) rec.violations.push(`${where}: join ${done ? "resolved with work unfinished" : "still waiting with nothing unfinished"}`);
      }
    };
    const deliver = q._deliver.bind(q);
    q._deliver = (item) => {
      deliver(item);
      admittedCount++;
      rec.admitted.push(item);
      check("deliver");
    };
    const finished = q._finished.bind(q);
    q._finished = (count) => {
      if (count > q._unfinished) rec.violations.push(`finished ${count} of ${q._unfinished}`);
      finished(count);
      finishedCount += count;
      check("finished");
    };
    const giveBack = q._giveBack.bind(q);
    q._giveBack = (item, from) => {
      if (q._state === "shut down immediately") rec.drained.push(item);
      else rec.givenBack.add(item);
      giveBack(item, from);
      check("give back");
    };
    const finishPut = q._finishPut;
    (q as { _finishPut: typeof finishPut })._finishPut = (pending) => {
      // An admitted put has happened; shutdown(true) before its item got in drops it.
      if (!pending.dropped && q._state === "shut down immediately") rec.drained.push(pending.item as string);
      finishPut(pending);
      check("finish put");
    };

    // Which task waits on each waiter, to cancel it right after it is woken.
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
    const cancelAfterWake = (line: { wakeFirst(value: never): boolean; [Symbol.iterator](): Iterator<object> }, plan: boolean[]) => {
      const wakeFirst = line.wakeFirst.bind(line);
      let n = 0;
      line.wakeFirst = (value: never) => {
        const first = line[Symbol.iterator]().next().value as object | undefined;
        const woken = wakeFirst(value);
        // Only an owner already awaiting the waiter (tracked by the task).
        const owner = owners.get(first!);
        const awaiting = owner !== undefined && (owner as unknown as { _waitingOn: unknown })._waitingOn === first;
        if (woken && awaiting && plan[n++ % plan.length]!) owner.cancel();
        return woken;
      };
    };
    cancelAfterWake(q._getters as never, sc.cancelHanded);
    cancelAfterWake(q._putters as never, sc.cancelAdmitted);
    const shutdown = q.shutdown.bind(q);
    q.shutdown = (immediate = false) => {
      if (immediate) rec.drained.push(...buffered(q));
      shutdown(immediate);
      check("shutdown");
    };
    const join = q.join.bind(q);
    q.join = (options) => {
      const wait = join(options);
      joiners.push({ wait, due: admittedCount === finishedCount });
      return wait;
    };

    // The AbortController of each task's current signal wait, and what a step does right after.
    const controllers = new Map<number, AbortController>();
    let everyone: Task<void>[] = [];
    const after = (step: { then: Then }) => {
      if (step.then === null) return;
      const target = step.then.target % everyone.length;
      if (step.then.cancel) everyone[target]!.cancel();
      else controllers.get(target)?.abort(ABORT);
    };

    const producers = sc.producers.map((steps, p) =>
      createTask(async () => {
        for (let s = 0; s < steps.length; s++) {
          const step = steps[s]!;
          const item = itemName(p, s);
          await sleep(step.delay);
          try {
            if (step.mode === "nowait") {
              try {
                q.putNowait(item);
              } catch (error) {
                if (error instanceof QueueFull) continue;
                throw error;
              }
            } else if (step.mode === "signal") {
              const controller = new AbortController();
              controllers.set(p, controller);
              const timer = loop.callLater(step.abortAfter, () => controller.abort(ABORT));
              try {
                await q.put(item, { signal: controller.signal });
              } catch (error) {
                if (error === ABORT) continue;
                throw error;
              } finally {
                timer.cancel();
                controllers.delete(p);
              }
            } else if (step.mode === "task") {
              // The put runs as a task of its own, which only the wake-up cancels target.
              const putter = createTask(() => q.put(item));
              await settled(putter);
              if (putter.cancelled()) continue;
              putter.result();
            } else {
              await q.put(item);
            }
            rec.putOk.push(item);
            after(step);
          } catch (error) {
            if (error instanceof QueueShutDown) return;
            throw error;
          }
        }
      }),
    );

    const consumers = sc.consumers.map((steps, c) =>
      createTask(async () => {
        const iterator = q[Symbol.asyncIterator]();
        for (const step of steps) {
          await sleep(step.delay);
          let item: string;
          try {
            if (step.mode === "nowait") {
              try {
                item = q.getNowait();
              } catch (error) {
                if (error instanceof QueueEmpty) continue;
                throw error;
              }
            } else if (step.mode === "signal") {
              const controller = new AbortController();
              controllers.set(sc.producers.length + c, controller);
              const timer = loop.callLater(step.abortAfter, () => controller.abort(ABORT));
              try {
                item = await q.get({ signal: controller.signal });
              } catch (error) {
                if (error === ABORT) continue;
                throw error;
              } finally {
                timer.cancel();
                controllers.delete(sc.producers.length + c);
              }
            } else if (step.mode === "task") {
              const getter = createTask(() => q.get());
              await settled(getter);
              if (getter.cancelled()) continue;
              item = getter.result();
            } else if (step.mode === "iterate") {
              const next = await iterator.next();
              if (next.done === true) return;
              item = next.value;
            } else {
              item = await q.get();
            }
          } catch (error) {
            if (error instanceof QueueShutDown) return;
            throw error;
          }
          rec.gotBy[c]!.push(item);
          after(step);
          try {
            await sleep(step.hold);
          } finally {
            q.taskDone();
          }
        }
      }),
    );

    everyone = [...producers, ...consumers];
    for (const { at, target } of sc.cancels) loop.callLater(at, () => everyone[target % everyone.length]!.cancel());
    const joinTasks: Task<void>[] = [];
    for (const at of sc.joins) loop.callLater(at, () => joinTasks.push(createTask(() => q.join())));
    if (sc.shutdown !== null) {
      const { at, immediate } = sc.shutdown;
      loop.callLater(at, () => q.shutdown(immediate));
    }

    await sleep(END);
    q.shutdown(); // ends producers stuck on a full queue and consumers stuck on an empty one
    for (const t of everyone) {
      const { error } = await outcome(t);
      if (error !== undefined && !(error instanceof Error && error.name === "CancelledError")) throw error;
    }
    for (;;) {
      try {
        rec.leftover.push(q.getNowait());
      } catch (error) {
        if (error instanceof QueueShutDown) break;
        throw error;
      }
      q.taskDone();
    }
    for (const t of joinTasks) await t;
    rec.joinsResolved = true;
    rec.idleAtEnd = q._getters.size === 0 && q._putters.size === 0 && q._reserved === 0 && q._unfinished === 0;
    return rec;
  });
}

function verify(kind: Kind, rec: Record): void {
  expect(rec.violations).toEqual([]);
  const accounted = [...rec.gotBy.flat(), ...rec.leftover, ...rec.drained].sort();
  // Every item whose put succeeded is got exactly once, still queued, or dropped by shutdown(true).
  expect(accounted).toEqual([...rec.putOk].sort());
  expect(new Set(accounted).size).toBe(accounted.length);
  // And the queue took in exactly those items.
  expect([...rec.admitted].sort()).toEqual([...rec.putOk].sort());
  expect(rec.joinsResolved).toBe(true);
  expect(rec.idleAtEnd).toBe(true);
  if (kind !== "Queue") return;
  // FIFO per producer, as each consumer saw it and as it was left. An item a getter gave back
  // (cancelled in the same step as the put) goes to the front, so it may come after later ones.
  for (const seen of [...rec.gotBy, rec.leftover]) {
    const last = new Map<number, number>();
    for (const item of seen) {
      if (rec.givenBack.has(item)) continue;
      const [producer, seq] = parse(item);
      expect(seq).toBeGreaterThan(last.get(producer) ?? -1);
      last.set(producer, seq);
    }
  }
}

describe("random producers and consumers, with cancels and aborts at random times", () => {
  for (const kind of ["Queue", "LifoQueue", "PriorityQueue"] as const) {
    it(`${kind}: no item is lost or duplicated, the bound holds and join resumes exactly when all is done`, async () => {
      await fc.assert(
        fc.asyncProperty(scenario(false), async (sc) => verify(kind, await play(kind, sc))),
        { numRuns: kind === "Queue" ? 120 : 60 },
      );
    });

    it(`${kind}: the same holds when the queue is shut down, immediately or not, at a random time`, async () => {
      await fc.assert(
        fc.asyncProperty(scenario(true), async (sc) => verify(kind, await play(kind, sc))),
        { numRuns: kind === "Queue" ? 100 : 50 },
      );
    });
  }
});
