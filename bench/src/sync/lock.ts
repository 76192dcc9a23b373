/**
 * (d) One lock, W workers, each doing N times: acquire, `await null` (a trivial yield, so
 * the others pile up behind the lock), release. Every contender is checked to have let
 * exactly one worker in at a time. aiots runs inside tasks (workers are `createTask`s in
 * `run()`, how it is used), with `acquire`/`release` and with `await using guard()`, and
 * once in plain async code outside any task. The whole run is timed, `run()` included.
 */
import { createTask, run } from "aiots";
import { Lock } from "aiots";
import { Mutex } from "async-mutex";
import { AsyncMutex } from "@esfx/async-mutex";
import AwaitLock from "await-lock";
import { benchCase, type CaseResult } from "../harness.js";
import { Probe, guarded } from "./probe.js";

const WORKERS = Number(process.env.BENCH_LOCK_WORKERS ?? 100);
const N = Number(process.env.BENCH_LOCK_N ?? 10_000);

/** Starts W workers with `spawn`, waits for all, and checks mutual exclusion. */
async function contend(name: string, spawn: (worker: () => Promise<void>) => PromiseLike<void>, section: (probe: Probe) => Promise<void>): Promise<void> {
  const probe = new Probe();
  const all: PromiseLike<void>[] = new Array(WORKERS);
  const worker = async () => {
    for (let i = 0; i < N; i++) await section(probe);
  };
  for (let w = 0; w < WORKERS; w++) all[w] = spawn(worker);
  await Promise.all(all);
  probe.check(name, WORKERS * N, 1);
}

const direct = (worker: () => Promise<void>) => worker();
const asTask = (worker: () => Promise<void>) => createTask(worker);

async function aiotsInTasks(): Promise<void> {
  const lock = new Lock();
  await run(() => contend("aiots Lock in tasks", asTask, guarded(() => lock.acquire(), () => lock.release())));
}

async function aiotsGuardInTasks(): Promise<void> {
  const lock = new Lock();
  await run(() =>
    contend("aiots Lock guard in tasks", asTask, async (probe) => {
      await using _ = await lock.guard();
      probe.enter();
      await null;
      probe.exit();
    }),
  );
}

async function aiotsNoTask(): Promise<void> {
  const lock = new Lock();
  await contend("aiots Lock, no task", direct, guarded(() => lock.acquire(), () => lock.release()));
}

async function asyncMutex(): Promise<void> {
  const mutex = new Mutex();
  await contend("async-mutex", direct, guarded(() => mutex.acquire(), (release) => release()));
}

async function esfxMutex(): Promise<void> {
  const mutex = new AsyncMutex();
  await contend("@esfx/async-mutex", direct, guarded(() => mutex.lock(), (handle) => handle.unlock()));
}

async function awaitLock(): Promise<void> {
  const lock = new AwaitLock();
  await contend("await-lock", direct, guarded(() => lock.acquireAsync(), () => lock.release()));
}

export async function benchLock(): Promise<CaseResult[]> {
  const total = (WORKERS * N).toLocaleString("en-US");
  return [
    await benchCase(`(d) Lock: ${WORKERS} workers x ${N.toLocaleString("en-US")} acquire / await null / release (${total} in all)`, [
      { name: "aiots Lock in tasks", run: aiotsInTasks },
      { name: "aiots Lock guard() in tasks", run: aiotsGuardInTasks },
      { name: "aiots Lock, no task", run: aiotsNoTask },
      { name: "async-mutex Mutex", run: asyncMutex },
      { name: "@esfx/async-mutex AsyncMutex", run: esfxMutex },
      { name: "await-lock", run: awaitLock },
    ], { goal: "aiots Lock in tasks faster than the fastest peer (ratio of every peer > 1.00x)" }),
  ];
}
