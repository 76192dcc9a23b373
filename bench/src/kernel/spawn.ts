/**
 * (b) Spawn N tasks that each sleep(0) once, then wait for all of them, inside run():
 * vs native async functions awaiting a setImmediate promise + Promise.all, and vs
 * effection (spawn N operations that each `yield* sleep(0)`, then `yield*` every task).
 */
import type { TaskOptions } from "@aiots/core";
import { createTask, sleep } from "@aiots/future";
import { run } from "@aiots/loop";
import { run as effectionRun, sleep as effectionSleep, spawn as effectionSpawn, type Task as EffectionTask } from "effection";
import { benchCase, type CaseResult } from "../harness.js";

const N = Number(process.env.BENCH_SPAWN_N ?? 100_000);

async function native(): Promise<void> {
  const child = async () => {
    await new Promise<void>((r) => setImmediate(r));
  };
  const all: Promise<void>[] = new Array(N);
  for (let i = 0; i < N; i++) all[i] = child();
  await Promise.all(all);
}

function aiots(options?: TaskOptions): () => Promise<void> {
  return () =>
    run(async () => {
      const child = async () => {
        await sleep(0);
      };
      const all = new Array(N);
      for (let i = 0; i < N; i++) all[i] = createTask(child, options);
      await Promise.all(all);
    });
}

async function effection(): Promise<void> {
  await effectionRun(function* () {
    const tasks: EffectionTask<void>[] = new Array(N);
    for (let i = 0; i < N; i++) {
      tasks[i] = yield* effectionSpawn(function* () {
        yield* effectionSleep(0);
      });
    }
    for (const task of tasks) yield* task;
  });
}

export async function benchSpawn(): Promise<CaseResult[]> {
  const n = N.toLocaleString("en-US");
  return [
    await benchCase(`(b) spawn ${n} tasks that each sleep(0), then wait for all`, [
      { name: "native async fn + setImmediate", run: native },
      { name: "aiots createTask + sleep(0)", run: aiots() },
      { name: "aiots createTask eagerStart", run: aiots({ eagerStart: true }) },
      { name: "effection spawn + sleep(0)", run: effection },
    ], { goal: "aiots within 2x of native, faster than effection", warmup: 0, rounds: 3 }),
  ];
}
