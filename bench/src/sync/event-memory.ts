/**
 * (g) Memory per waiting task: N async functions (or tasks) each suspended in
 * `await event.wait()` on one aiots Event, vs N async functions each suspended on a bare
 * native promise (`await new Promise((r) => resolvers.push(r))`). Heap is measured with
 * `gc()` + `process.memoryUsage().heapUsed` before the waiters are made and once all of them
 * are suspended; the figure is the difference divided by N (it includes each async
 * function's own frame and promise, the same for every row). Then everyone is woken and
 * must finish. Rows inside `run()` are compared with native promises inside `run()`: on
 * Node 20 a live AsyncLocalStorage makes every native promise bigger too.
 */
import { Event, createTask, run, sleep } from "aiots";
import { gc, median } from "../harness.js";

const N = Number(process.env.BENCH_MEMORY_N ?? 100_000);
const ROUNDS = Number(process.env.BENCH_MEMORY_ROUNDS ?? 5);

const macrotask = () => new Promise<void>((r) => setImmediate(r));

function heap(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

/** What a row makes: N waiters, a way to wake them all, and the count of those suspended / finished. */
interface Waiters {
  started: () => number;
  wake: () => void;
  finished: Promise<void>;
}

/** Makes N waiters with `make`, waits until all are suspended, and returns bytes per waiter. */
async function measure(make: () => Waiters, flush: () => Promise<unknown>): Promise<number> {
  const before = heap();
  const w = make();
  while (w.started() < N) await flush();
  await flush(); // awaits that go through `then` subscribe one microtask after they start
  const after = heap();
  w.wake();
  await w.finished;
  return (after - before) / N;
}

/** N calls of `spawn(waiter)`, where each waiter counts itself started, awaits `wait()`, and counts itself done. */
function waiters(spawn: (fn: () => Promise<void>) => void, wait: () => PromiseLike<unknown>, wake: () => void): Waiters {
  let started = 0;
  let done = 0;
  let allDone!: () => void;
  const finished = new Promise<void>((r) => (allDone = r));
  const fn = async () => {
    started++;
    await wait();
    if (++done === N) allDone();
  };
  for (let i = 0; i < N; i++) spawn(fn);
  return { started: () => started, wake, finished };
}

const call = (fn: () => Promise<void>) => void fn();
const task = (fn: () => Promise<void>) => void createTask(fn);

function native(spawn = call): Waiters {
  let resolvers: (() => void)[] = [];
  return waiters(spawn, () => new Promise<void>((r) => resolvers.push(r)), () => {
    for (const r of resolvers) r();
    resolvers = [];
  });
}

function aiots(spawn = call): Waiters {
  const event = new Event();
  return waiters(spawn, () => event.wait(), () => event.set());
}

interface Row {
  name: string;
  /** Name of the row this one is compared with. */
  ref: string;
  bytes: () => Promise<number>;
}

const inRun = (body: () => Promise<number>) => () => run(body);

const rows: Row[] = [
  { name: "native promise, async fn", ref: "native promise, async fn", bytes: () => measure(native, macrotask) },
  { name: "aiots Event.wait, async fn", ref: "native promise, async fn", bytes: () => measure(aiots, macrotask) },
  { name: "native promise, async fn in run()", ref: "native promise, async fn in run()", bytes: inRun(() => measure(native, macrotask)) },
  { name: "aiots Event.wait, async fn in run()", ref: "native promise, async fn in run()", bytes: inRun(() => measure(aiots, macrotask)) },
  { name: "aiots Event.wait, one task each", ref: "native promise, async fn in run()", bytes: inRun(() => measure(() => aiots(task), () => sleep(0))) },
];

export async function benchEventMemory(): Promise<unknown> {
  const title = `(g) memory per waiter: ${N.toLocaleString("en-US")} waiters suspended on one aiots Event vs on bare native promises`;
  if (gc === undefined) {
    console.log(`\n### ${title}\n\nskipped: needs node --expose-gc`);
    return [];
  }
  for (const row of rows) await row.bytes(); // warm-up
  const results = new Map<string, number[]>(rows.map((r) => [r.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < rows.length; k++) {
      const row = rows[(k + round) % rows.length]!;
      results.get(row.name)!.push(await row.bytes());
    }
  }
  const width = Math.max(...rows.map((r) => r.name.length));
  const out = ["", `### ${title}`, ""];
  out.push(`| ${"contender".padEnd(width)} | bytes/waiter |   min |   max | ratio to native, same context |`);
  out.push(`|${"-".repeat(width + 2)}|-------------:|------:|------:|------------------------------:|`);
  const med = new Map(rows.map((r) => [r.name, median(results.get(r.name)!)]));
  for (const row of rows) {
    const xs = results.get(row.name)!;
    const ratio = row.name === row.ref ? "(reference)" : `${(med.get(row.name)! / med.get(row.ref)!).toFixed(2)}x`;
    out.push(`| ${row.name.padEnd(width)} | ${med.get(row.name)!.toFixed(0).padStart(12)} | ${Math.min(...xs).toFixed(0).padStart(5)} | ${Math.max(...xs).toFixed(0).padStart(5)} | ${ratio.padStart(29)} |`);
  }
  out.push("", "Goal: aiots Event.wait within 2x of a bare native promise (ratio <= 2.00x)");
  console.log(out.join("\n"));
  return results;
}
