/**
 * A task cancelled twice in one step while it awaits something that the first cancel already
 * ended. asyncio's second `cancel()` reaches the awaited task again (which can only mark
 * itself: what it awaits is cancelled already) and returns there; the awaiting task keeps no
 * cancel of its own. So an awaited child that catches the cancel and returns gives its value
 * to the parent, whose next await goes through, with `cancelling()` at 2. Expected values
 * are CPython 3.13's.
 */
import { Queue, asCompleted, createTask, currentTask, gather, getRunningLoop, isCancelledError, shield, sleep, taskGroup, timeout, wait, waitFor } from "aiots";
import { describe, expect, it } from "vitest";
import { onVirtualLoop } from "./helpers.js";

/** A child that catches the cancel of its sleep and returns "caught". */
async function catches(): Promise<string> {
  try {
    await sleep(100);
  } catch {
    return "caught";
  }
  return "slept";
}

/**
 * Starts a task running `awaitIt` (its outcome, or "C" for a CancelledError, then its
 * `cancelling()`), then an `await sleep(1)`; cancels it `times` times at 5 ms; returns its log.
 */
function cancelledAround(awaitIt: () => PromiseLike<unknown>, times: number): Promise<unknown[]> {
  return onVirtualLoop(async () => {
    const task = createTask(async () => {
      const log: unknown[] = [];
      try {
        log.push(await awaitIt());
      } catch (error) {
        if (!isCancelledError(error)) throw error;
        log.push("C");
      }
      log.push(currentTask()!.cancelling());
      try {
        await sleep(1);
        log.push("next await ok");
      } catch {
        log.push("cancelled again");
      }
      return log;
    });
    await sleep(5);
    for (let i = 0; i < times; i++) task.cancel();
    return await task;
  });
}

describe("a second cancel in the same step", () => {
  const valueOfChild: Record<string, () => PromiseLike<unknown>> = {
    "a task": () => createTask(catches),
    "waitFor(task)": () => waitFor(createTask(catches), null),
    "waitFor(fn)": () => waitFor(catches, null),
    "timeout(fn)": () => timeout(1000, catches),
    "taskGroup, awaiting its child": () => taskGroup(async (tg) => await tg.createTask(catches)),
  };
  for (const [name, awaitIt] of Object.entries(valueOfChild)) {
    for (const times of [1, 2]) {
      it(`${name} that catches it gives its value, ${times} cancel(s)`, async () => {
        expect(await cancelledAround(awaitIt, times)).toEqual(["caught", times, "next await ok"]);
      });
    }
  }

  const cancelled: Record<string, () => PromiseLike<unknown>> = {
    sleep: () => sleep(100),
    "a future": () => getRunningLoop().createFuture(),
    shield: () => shield(() => sleep(100)),
    gather: () => gather([() => sleep(100)]),
    "gather of a child that catches it": () => gather([catches]),
    "queue.get": () => new Queue().get(),
    "a task that does not catch it": () => createTask(() => sleep(100)),
    "waitFor(fn)": () => waitFor(() => sleep(100), 1000),
    "waitFor(task)": () => waitFor(createTask(() => sleep(100)), 1000),
    "timeout(fn)": () => timeout(1000, () => sleep(100)),
    taskGroup: () => taskGroup(async (tg) => void tg.createTask(() => sleep(100))),
    wait: () => wait([createTask(() => sleep(100))]),
    "asCompleted of a child that catches it": async () => {
      for (const next of asCompleted([createTask(catches)])) return await next;
      return undefined;
    },
  };
  for (const [name, awaitIt] of Object.entries(cancelled)) {
    it(`${name}: the await throws once, the next one goes through`, async () => {
      expect(await cancelledAround(awaitIt, 2)).toEqual(["C", 2, "next await ok"]);
    });
  }
});

describe("a cancel in the same callback that settles what the awaited task awaits", () => {
  // asyncio: the cancel reaches the inner task, whose await was already on its way; the inner
  // task catches it and returns, and the outer task gets that value, not cancelled.
  it("reaches the awaited task, which catches it; the awaiting task gets its value", async () => {
    const { value, cancelled, cancelling } = await onVirtualLoop(async () => {
      const loop = getRunningLoop();
      const settled = loop.createFuture<number>();
      const inner = createTask(async () => {
        try {
          await settled;
          return "normal";
        } catch {
          return "swallowed";
        }
      });
      const outer = createTask(async () => `outer got ${await inner}`);
      await sleep(0);
      loop.callSoon(() => {
        settled.setResult(1);
        outer.cancel();
      });
      const value = await outer.catch((error: unknown) => (isCancelledError(error) ? "CancelledError" : String(error)));
      return { value, cancelled: outer.cancelled(), cancelling: outer.cancelling() };
    });
    expect({ value, cancelled, cancelling }).toEqual({ value: "outer got swallowed", cancelled: false, cancelling: 1 });
  });
});
