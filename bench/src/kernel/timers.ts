/**
 * (c) Schedule N timers with varied delays and cancel every other one: loop.callLater vs
 * setTimeout/clearTimeout. Two cases: the schedule+cancel work alone (long delays, the
 * rest cancelled afterwards, untimed), and the full cycle with short delays where the
 * surviving half fires.
 */
import { getRunningLoop, run } from "@aiots/loop";
import type { TimerHandle } from "@aiots/core";
import { benchCase, type CaseResult, type Timed } from "../harness.js";

const N = Number(process.env.BENCH_TIMERS_N ?? 200_000);

/** Deterministic "random" delays, the same for every contender. */
function delays(max: number): Float64Array {
  const out = new Float64Array(N);
  let x = 12345;
  for (let i = 0; i < N; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = 1 + (x % max);
  }
  return out;
}
const LONG = delays(60_000);
const SHORT = delays(20);
const noop = () => {};

function nativeScheduleCancel(): Timed {
  const handles: ReturnType<typeof setTimeout>[] = new Array(N);
  const start = performance.now();
  for (let i = 0; i < N; i++) handles[i] = setTimeout(noop, LONG[i]);
  for (let i = 0; i < N; i += 2) clearTimeout(handles[i]);
  const took = performance.now() - start;
  for (let i = 1; i < N; i += 2) clearTimeout(handles[i]);
  return { elapsedMs: took };
}

function aiotsScheduleCancel(): Promise<Timed> {
  return run(async () => {
    const loop = getRunningLoop();
    const handles: TimerHandle[] = new Array(N);
    const start = performance.now();
    for (let i = 0; i < N; i++) handles[i] = loop.callLater(LONG[i]!, noop);
    for (let i = 0; i < N; i += 2) handles[i]!.cancel();
    const took = performance.now() - start;
    for (let i = 1; i < N; i += 2) handles[i]!.cancel();
    return { elapsedMs: took };
  });
}

function nativeFire(): Promise<void> {
  return new Promise<void>((resolve) => {
    let left = N / 2;
    const fire = () => {
      if (--left === 0) resolve();
    };
    const handles: ReturnType<typeof setTimeout>[] = new Array(N);
    for (let i = 0; i < N; i++) handles[i] = setTimeout(fire, SHORT[i]);
    for (let i = 0; i < N; i += 2) clearTimeout(handles[i]);
  });
}

function aiotsFire(): Promise<void> {
  return run(async () => {
    const loop = getRunningLoop();
    await new Promise<void>((resolve) => {
      let left = N / 2;
      const fire = () => {
        if (--left === 0) resolve();
      };
      const handles: TimerHandle[] = new Array(N);
      for (let i = 0; i < N; i++) handles[i] = loop.callLater(SHORT[i]!, fire);
      for (let i = 0; i < N; i += 2) handles[i]!.cancel();
    });
  });
}

export async function benchTimers(): Promise<CaseResult[]> {
  const n = N.toLocaleString("en-US");
  const goal = "aiots at least 2x faster than setTimeout/clearTimeout (ratio <= 0.50x)";
  return [
    await benchCase(`(c1) schedule ${n} timers (1..60,000 ms) and cancel half`, [
      { name: "setTimeout/clearTimeout", run: nativeScheduleCancel },
      { name: "loop.callLater/cancel", run: aiotsScheduleCancel },
    ], { goal }),
    await benchCase(`(c2) schedule ${n} timers (1..20 ms), cancel half, wait for the rest to fire`, [
      { name: "setTimeout/clearTimeout", run: nativeFire },
      { name: "loop.callLater/cancel", run: aiotsFire },
    ], { goal }),
  ];
}
