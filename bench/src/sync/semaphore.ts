/**
 * (e) J jobs started at once, at most C running at a time; each job: acquire, `await null`,
 * release. Every contender is checked to have run exactly C at once (never more). aiots
 * runs inside `run()` with the jobs as async functions of the main task (the README's
 * `Promise.all(urls.map(...))` shape), as J tasks, and in plain async code outside any
 * task. The whole run is timed, `run()` included.
 */
import { Semaphore, run } from "aiots";
import pLimit from "p-limit";
import PQueue from "p-queue";
import { Sema } from "async-sema";
import { Semaphore as AsyncMutexSemaphore } from "async-mutex";
import { AsyncSemaphore } from "@esfx/async-semaphore";
import { benchCase, type CaseResult } from "../harness.js";
import { type Probe, asTask, contend, direct, guarded, section } from "./probe.js";

const JOBS = Number(process.env.BENCH_SEMAPHORE_N ?? 100_000);
const LIMIT = Number(process.env.BENCH_SEMAPHORE_LIMIT ?? 16);

/** J jobs started with `start`; exactly LIMIT inside at once. */
function jobs(name: string, start: (job: () => Promise<void>) => PromiseLike<void>, job: (probe: Probe) => Promise<void>): Promise<void> {
  return contend(name, JOBS, start, job, JOBS, LIMIT);
}

function aiotsJob(sem: Semaphore) {
  return guarded(() => sem.acquire(), () => sem.release());
}

const aiotsInRun = (name: string) => run(() => jobs(name, direct, aiotsJob(new Semaphore(LIMIT))));
const aiotsTasks = (name: string) => run(() => jobs(name, asTask, aiotsJob(new Semaphore(LIMIT))));
const aiotsNoTask = (name: string) => jobs(name, direct, aiotsJob(new Semaphore(LIMIT)));

function pLimitRun(name: string): Promise<void> {
  const limit = pLimit(LIMIT);
  return jobs(name, (job) => limit(job), section);
}

function pQueueRun(name: string): Promise<void> {
  const queue = new PQueue({ concurrency: LIMIT });
  return jobs(name, (job) => queue.add(job), section);
}

function asyncSema(name: string): Promise<void> {
  const sema = new Sema(LIMIT);
  return jobs(name, direct, guarded(() => sema.acquire(), () => sema.release()));
}

function asyncMutexSemaphore(name: string): Promise<void> {
  const sem = new AsyncMutexSemaphore(LIMIT);
  return jobs(name, direct, guarded(() => sem.acquire(), ([, release]) => release()));
}

function esfxSemaphore(name: string): Promise<void> {
  const sem = new AsyncSemaphore(LIMIT);
  return jobs(name, direct, guarded(() => sem.wait(), () => sem.release()));
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
