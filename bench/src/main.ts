/**
 * Runs the kernel benchmarks and prints one markdown table per case.
 * `BENCH_ONLY=future,spawn,timers` picks cases; `BENCH_*_N` changes sizes.
 */
import { benchFuture } from "./kernel/future.js";
import { benchSpawn } from "./kernel/spawn.js";
import { benchTimers } from "./kernel/timers.js";

const only = process.env.BENCH_ONLY?.split(",");
const suites: [string, () => Promise<unknown>][] = [
  ["future", benchFuture],
  ["spawn", benchSpawn],
  ["timers", benchTimers],
];

console.log(`## aiots kernel benchmarks — Node ${process.version}, ${process.platform}-${process.arch}${(globalThis as { gc?: unknown }).gc ? ", gc between runs" : ""}`);
for (const [name, suite] of suites) {
  if (only !== undefined && !only.includes(name)) continue;
  await suite();
}
