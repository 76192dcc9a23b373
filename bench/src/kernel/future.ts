/**
 * (a) Create, resolve and await a Future, N times, vs the same with a native promise.
 * Two shapes: resolved before the await (the engine's fast path), and resolved while the
 * await is pending (how a lock or queue waiter is woken). Each shape runs outside any task
 * (plain async code) and inside an aiots task, where the task's async context is live.
 */
import { Future } from "@aiots/future";
import { run } from "@aiots/loop";
import { benchCase, type CaseResult, type Timed } from "../harness.js";

const N = Number(process.env.BENCH_FUTURE_N ?? 1_000_000);

async function nativeResolvedFirst(): Promise<number> {
  let sum = 0;
  for (let i = 0; i < N; i++) {
    let resolve!: (v: number) => void;
    const p = new Promise<number>((r) => {
      resolve = r;
    });
    resolve(i);
    sum += await p;
  }
  return sum;
}

async function futureResolvedFirst(): Promise<number> {
  let sum = 0;
  for (let i = 0; i < N; i++) {
    const f = new Future<number>();
    f.setResult(i);
    sum += await f;
  }
  return sum;
}

/**
 * The engine's floor for any Future that is a native promise: a Promise subclass with one
 * field of state and nothing else, whose `constructor` getter answers `Promise` (so the
 * engine awaits it directly, as it does a Future). What a Future does on top of this (its
 * loop, cancellation, callbacks, the await hook's bookkeeping) is aiots' own cost.
 */
class BareSubclass<T> extends Promise<T> {
  _state = 0;
  _resolve: (value: T) => void;
  constructor() {
    let resolve!: (value: T) => void;
    super((r) => {
      resolve = r;
    });
    this._resolve = resolve;
  }
}
Object.defineProperty(BareSubclass.prototype, "constructor", { configurable: true, get: () => Promise });

async function bareSubclassResolvedFirst(): Promise<number> {
  let sum = 0;
  for (let i = 0; i < N; i++) {
    const f = new BareSubclass<number>();
    f._state = 1;
    f._resolve(i);
    sum += await f;
  }
  return sum;
}

async function nativeResolvedLater(): Promise<number> {
  let sum = 0;
  for (let i = 0; i < N; i++) {
    let resolve!: (v: number) => void;
    const p = new Promise<number>((r) => {
      resolve = r;
    });
    queueMicrotask(() => resolve(i));
    sum += await p;
  }
  return sum;
}

async function futureResolvedLater(): Promise<number> {
  let sum = 0;
  for (let i = 0; i < N; i++) {
    const f = new Future<number>();
    queueMicrotask(() => f.setResult(i));
    sum += await f;
  }
  return sum;
}

/** Times `body` inside an aiots task (the main task of `run`), excluding run()'s own setup. */
function inTask(body: () => Promise<number>): () => Promise<Timed> {
  return () =>
    run(async () => {
      const start = performance.now();
      sink += await body();
      return { elapsedMs: performance.now() - start };
    });
}

/** Keeps the sums alive so the loops cannot be optimised away. */
export let sink = 0;
function plain(body: () => Promise<number>): () => Promise<void> {
  return async () => {
    sink += await body();
  };
}

export async function benchFuture(): Promise<CaseResult[]> {
  const n = N.toLocaleString("en-US");
  const goal = "Future within 1.5x of native in the same context";
  return [
    await benchCase(`(a1) create + resolve + await, ${n} times, outside any task`, [
      { name: "native Promise", run: plain(nativeResolvedFirst) },
      { name: "aiots Future", run: plain(futureResolvedFirst) },
      { name: "bare Promise subclass (engine floor, ref)", run: plain(bareSubclassResolvedFirst) },
    ], { goal }),
    await benchCase(`(a2) create + resolve + await, ${n} times, inside a task`, [
      { name: "native Promise in task", run: inTask(nativeResolvedFirst) },
      { name: "aiots Future in task", run: inTask(futureResolvedFirst) },
      { name: "bare Promise subclass in task (engine floor, ref)", run: inTask(bareSubclassResolvedFirst) },
      { name: "native Promise, no task (ref)", run: plain(nativeResolvedFirst) },
    ], { goal }),
    await benchCase(`(a3) create + await + resolve from a microtask, ${n} times, outside any task`, [
      { name: "native Promise", run: plain(nativeResolvedLater) },
      { name: "aiots Future", run: plain(futureResolvedLater) },
    ], { goal }),
    await benchCase(`(a4) create + await + resolve from a microtask, ${n} times, inside a task`, [
      { name: "native Promise in task", run: inTask(nativeResolvedLater) },
      { name: "aiots Future in task", run: inTask(futureResolvedLater) },
      { name: "native Promise, no task (ref)", run: plain(nativeResolvedLater) },
    ], { goal }),
  ];
}
