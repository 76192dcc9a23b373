/**
 * (e) J jobs started at once, at most C running at a time; each job: acquire, `await null`,
 * release. Every contender is checked to have run exactly C at once (never more). aiots
 * runs inside `run()` with the jobs as async functions of the main task (the README's
 * `Promise.all(urls.map(...))` shape), as J tasks, and in plain async code outside any
 * task. The whole run is timed, `run()` included.
 */
import { Semaphore, createTask, run } from "aiots";
import pLimit from "p-limit";
import PQueue from "p-queue";
import { Sema } from "async-sema";
import { Semaphore as AsyncMutexSemaphore } from "async-mutex";
import { AsyncSemaphore } from "@esfx/async-semaphore";
import { benchCase, type CaseResult } from "../harness.js";
import { Probe, guarded, section } from "./probe.js";

const JOBS = Number(process.env.BENCH_SEMAPHORE_N ?? 100_000);
const LIMIT = Number(process.env.BENCH_SEMAPHORE_LIMIT ?? 16);

/** Starts every job with `start`, waits for all, and checks the limit held. */
async function jobs(name: string, start: (job: () => Promise<void>) => PromiseLike<void>, job: (probe: Probe) => Promise<void>): Promise<void> {
  const probe = new Probe();
  const all: PromiseLike<void>[] = new Array(JOBS);
  const one = () => job(probe);
  for (let j = 0; j < JOBS; j++) all[j] = start(one);
  await Promise.all(all);
  probe.check(name, JOBS, LIMIT);
}

const direct = (job: () => Promise<void>) => job();
const asTask = (job: () => Promise<void>) => createTask(job);

function aiotsJob(sem: Semaphore) {
  return guarded(() => sem.acquire(), () => sem.release());
}

const aiotsInRun = () => run(() => jobs("aiots Semaphore in run()", direct, aiotsJob(new Semaphore(LIMIT))));
const aiotsTasks = () => run(() => jobs("aiots Semaphore, one task per job", asTask, aiotsJob(new Semaphore(LIMIT))));
const aiotsNoTask = () => jobs("aiots Semaphore, no task", direct, aiotsJob(new Semaphore(LIMIT)));

function pLimitRun(): Promise<void> {
  const limit = pLimit(LIMIT);
  return jobs("p-limit", (job) => limit(job), section);
}

function pQueueRun(): Promise<void> {
  const queue = new PQueue({ concurrency: LIMIT });
  return jobs("p-queue", (job) => queue.add(job), section);
}

function asyncSema(): Promise<void> {
  const sema = new Sema(LIMIT);
  return jobs("async-sema", direct, guarded(() => sema.acquire(), () => sema.release()));
}

function asyncMutexSemaphore(): Promise<void> {
  const sem = new AsyncMutexSemaphore(LIMIT);
  return jobs("async-mutex Semaphore", direct, guarded(() => sem.acquire(), ([, release]) => release()));
}

function esfxSemaphore(): Promise<void> {
  const sem = new AsyncSemaphore(LIMIT);
  return jobs("@esfx/async-semaphore", direct, guarded(() => sem.wait(), () => sem.release()));
}

export async function benchSemaphore(): Promise<CaseResult[]> {
  return [
    await benchCase(`(e) Semaphore: ${JOBS.toLocaleString("en-US")} jobs, ${LIMIT} at once, each acquire / await null / release`, [
      { name: "aiots Semaphore in run()", run: aiotsInRun },
      { name: "aiots Semaphore, task per job", run: aiotsTasks },
      { name: "aiots Semaphore, no task", run: aiotsNoTask },
      { name: "p-limit", run: pLimitRun },
      { name: "p-queue", run: pQueueRun },
      { name: "async-sema Sema", run: asyncSema },
      { name: "async-mutex Semaphore", run: asyncMutexSemaphore },
      { name: "@esfx/async-semaphore", run: esfxSemaphore },
    ], { goal: "aiots Semaphore in run() faster than the fastest peer (ratio of every peer > 1.00x)", rounds: 7 }),
  ];
}
