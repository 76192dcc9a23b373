/**
 * (f) N items through one queue of capacity C, P producers (`await put`) and P consumers
 * (`await get`), each producer putting N/P distinct numbers and each consumer getting N/P.
 * Every contender is checked to deliver every item exactly once. aiots runs with the
 * producers and consumers as tasks in `run()`, and as plain async functions outside any
 * task; the reference is a hand-written bounded channel on native promises. The whole run is
 * timed, `run()` included.
 *
 * @esfx/async-queue has no bound (`put` is synchronous and never waits), so its row adds the
 * bound the esfx way, with an @esfx/async-semaphore of C slots: a producer waits for a slot,
 * a consumer frees one. Unbounded as it is, its producers run far ahead and its `get` takes
 * from an array with `shift()`, which costs O(length) once the array is large: the time grows
 * with the square of N (about 4.5 s for 100,000 items), so that row runs only when N <= 200,000.
 */
import { Queue, run } from "aiots";
import { AsyncQueue } from "@esfx/async-queue";
import { AsyncSemaphore } from "@esfx/async-semaphore";
import { benchCase, type CaseResult } from "../harness.js";
import { NativeChannel } from "./channel.js";
import { asTask, direct } from "../sync/probe.js";

const N = Number(process.env.BENCH_QUEUE_N ?? 1_000_000);
const CAPACITY = Number(process.env.BENCH_QUEUE_CAPACITY ?? 100);
const SIDES = Number(process.env.BENCH_QUEUE_SIDES ?? 4);
const PER = Math.floor(N / SIDES);
const TOTAL = PER * SIDES;

interface Channel {
  put(item: number): Promise<void> | void;
  get(): Promise<number>;
}

/** Runs P producers and P consumers on `channel`, started with `start`, and checks delivery. */
async function pump(name: string, channel: Channel, start: (fn: () => Promise<void>) => PromiseLike<void>): Promise<void> {
  const seen = new Uint8Array(TOTAL);
  let received = 0;
  const all: PromiseLike<void>[] = [];
  for (let p = 0; p < SIDES; p++) {
    const first = p * PER;
    all.push(start(async () => {
      for (let i = first; i < first + PER; i++) await channel.put(i);
    }));
  }
  for (let c = 0; c < SIDES; c++) {
    all.push(start(async () => {
      for (let i = 0; i < PER; i++) {
        const item = await channel.get();
        if (seen[item] !== 0) throw new Error(`${name}: item ${item} received twice`);
        seen[item] = 1;
        received++;
      }
    }));
  }
  await Promise.all(all);
  if (received !== TOTAL || !seen.every((s) => s === 1)) throw new Error(`${name}: received ${received} of ${TOTAL} items`);
}

const aiotsTasks = (name: string) => run(() => pump(name, new Queue<number>(CAPACITY), asTask));
const aiotsNoTask = (name: string) => pump(name, new Queue<number>(CAPACITY), direct);
const native = (name: string) => pump(name, new NativeChannel<number>(CAPACITY), direct);

function esfxBounded(name: string): Promise<void> {
  const queue = new AsyncQueue<number>();
  const slots = new AsyncSemaphore(CAPACITY);
  const put = async (item: number) => {
    await slots.wait();
    queue.put(item);
  };
  const get = async () => {
    const item = await queue.get();
    slots.release();
    return item;
  };
  return pump(name, { put, get }, direct);
}

function esfxUnbounded(name: string): Promise<void> {
  const queue = new AsyncQueue<number>();
  return pump(name, { put: (item) => queue.put(item), get: () => queue.get() }, direct);
}

export async function benchQueue(): Promise<CaseResult[]> {
  return [
    await benchCase(`(f) Queue: ${TOTAL.toLocaleString("en-US")} items, capacity ${CAPACITY}, ${SIDES} producers, ${SIDES} consumers`, [
      { name: "native bounded channel", run: native },
      { name: "aiots Queue in tasks", run: aiotsTasks },
      { name: "aiots Queue, no task", run: aiotsNoTask },
      { name: "@esfx/async-queue + async-semaphore bound", run: esfxBounded },
      ...(TOTAL <= 200_000 ? [{ name: "@esfx/async-queue, unbounded", run: esfxUnbounded }] : []),
    ], { goal: "aiots Queue in tasks within 1.5x of the native channel (ratio <= 1.50x) and faster than @esfx/async-queue", rounds: 5 }),
  ];
}
