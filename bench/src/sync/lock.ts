/**
 * (d) One lock, W workers, each doing N times: acquire, `await null` (a trivial yield, so
 * the others pile up behind the lock), release. Every contender is checked to have let
 * exactly one worker in at a time. aiots runs inside tasks (workers are `createTask`s in
 * `run()`, how it is used), with `acquire`/`release` and with `await using guard()`, and
 * once in plain async code outside any task. The whole run is timed, `run()` included.
 */
import { Lock, run } from "aiots";
import { Mutex } from "async-mutex";
import { AsyncMutex } from "@esfx/async-mutex";
import AwaitLock from "await-lock";
import { benchCase, type CaseResult } from "../harness.js";
import { type Probe, asTask, contend, direct, guarded } from "./probe.js";

const WORKERS = Number(process.env.BENCH_LOCK_WORKERS ?? 100);
const N = Number(process.env.BENCH_LOCK_N ?? 10_000);

/** W workers, each running `section` N times; exactly one inside at once. */
function contendLock(name: string, start: (worker: () => Promise<void>) => PromiseLike<void>, section: (probe: Probe) => Promise<void>): Promise<void> {
  const worker = async (probe: Probe) => {
    for (let i = 0; i < N; i++) await section(probe);
  };
  return contend(name, WORKERS, start, worker, WORKERS * N, 1);
}

async function aiotsInTasks(name: string): Promise<void> {
  const lock = new Lock();
  await run(() => contendLock(name, asTask, guarded(() => lock.acquire(), () => lock.release())));
}

async function aiotsGuardInTasks(name: string): Promise<void> {
  const lock = new Lock();
  await run(() =>
    contendLock(name, asTask, async (probe) => {
      await using _ = await lock.guard();
      probe.enter();
      await null;
      probe.exit();
    }),
  );
}

function aiotsNoTask(name: string): Promise<void> {
  const lock = new Lock();
  return contendLock(name, direct, guarded(() => lock.acquire(), () => lock.release()));
}

function asyncMutex(name: string): Promise<void> {
  const mutex = new Mutex();
  return contendLock(name, direct, guarded(() => mutex.acquire(), (release) => release()));
}

function esfxMutex(name: string): Promise<void> {
  const mutex = new AsyncMutex();
  return contendLock(name, direct, guarded(() => mutex.lock(), (handle) => handle.unlock()));
}

function awaitLock(name: string): Promise<void> {
  const lock = new AwaitLock();
  return contendLock(name, direct, guarded(() => lock.acquireAsync(), () => lock.release()));
}

/** The same peer with its workers as aiots tasks: what the task context costs any lock. */
async function awaitLockInTasks(name: string): Promise<void> {
  const lock = new AwaitLock();
  await run(() => contendLock(name, asTask, guarded(() => lock.acquireAsync(), () => lock.release())));
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
      { name: "await-lock in aiots tasks (ref)", run: awaitLockInTasks },
    ], { goal: "aiots Lock in tasks faster than the fastest peer (ratio of every peer > 1.00x)" }),
  ];
}
