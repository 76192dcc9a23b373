/**
 * Runs the benchmarks and prints one markdown table per case.
 * `BENCH_ONLY=future,spawn,timers,lock,semaphore,queue,event-memory` picks suites;
 * `BENCH_*_N` changes sizes.
 */
import { benchFuture } from "./kernel/future.js";
import { benchSpawn } from "./kernel/spawn.js";
import { benchTimers } from "./kernel/timers.js";
import { benchQueue } from "./queue/queue.js";
import { benchEventMemory } from "./sync/event-memory.js";
import { benchLock } from "./sync/lock.js";
import { benchSemaphore } from "./sync/semaphore.js";

const only = process.env.BENCH_ONLY?.split(",");
const suites: [string, () => Promise<unknown>][] = [
  ["future", benchFuture],
  ["spawn", benchSpawn],
  ["timers", benchTimers],
  ["lock", benchLock],
  ["semaphore", benchSemaphore],
  ["queue", benchQueue],
  ["event-memory", benchEventMemory],
];

console.log(`## aiots benchmarks — Node ${process.version}, ${process.platform}-${process.arch}${(globalThis as { gc?: unknown }).gc ? ", gc between runs" : ""}`);
for (const [name, suite] of suites) {
  if (only !== undefined && !only.includes(name)) continue;
  await suite();
}
