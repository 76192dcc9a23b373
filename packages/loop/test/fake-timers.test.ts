/**
 * The loops under vitest's fake timers (@sinonjs/fake-timers). The host loop, as the loop
 * README says to use them: it reads its clock from `performance.now()`, arms one `setTimeout`
 * for its earliest timer, and runs each iteration from a `setImmediate`. A `VirtualTimeLoop`
 * uses none of the globals fake timers replace, so it runs as usual under them.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { sleep } from "@aiots/future";
import { VirtualTimeLoop, getRunningLoop, run } from "@aiots/loop";
import { turn } from "./helpers.js";

/** Host macrotasks for the loop's iterations (`setImmediate` stays real in the first mode). */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await turn();
}

afterEach(() => {
  vi.useRealTimers();
});

describe("fake timers", () => {
  it("with setTimeout, clearTimeout, performance and Date faked, advancing the fake clock moves aiots' timers exactly", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance", "Date"] });
    const log: string[] = [];
    const main = run(async () => {
      const start = getRunningLoop().time();
      await sleep(1000);
      log.push(`slept ${getRunningLoop().time() - start}`);
      return "done";
    });
    await vi.advanceTimersByTimeAsync(999);
    await turns();
    expect(log).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await expect(main).resolves.toBe("done");
    expect(log).toEqual(["slept 1000"]);
  });

  it("the same for a sleep in plain async code, on the default loop", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance", "Date"] });
    let done = false;
    const slept = sleep(500).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(499);
    await turns();
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await slept;
    expect(done).toBe(true);
  });

  it("with every timer faked (vitest's default), runAllTimersAsync runs the loop to the end", async () => {
    vi.useFakeTimers();
    const main = run(async () => {
      const start = getRunningLoop().time();
      await sleep(1000);
      await sleep(0);
      return getRunningLoop().time() - start;
    });
    await vi.runAllTimersAsync();
    // Each iteration the fake clock schedules while it ticks is set 1 ms later, so the
    // loop's clock has gone at least 1000 ms, a little more than the sleeps alone.
    const elapsed = await main;
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    expect(elapsed).toBeLessThan(1010);
  });

  it("a VirtualTimeLoop runs as usual with every timer faked, and fake time does not move it", async () => {
    vi.useFakeTimers();
    const loop = new VirtualTimeLoop();
    const took = await run(async () => {
      const start = getRunningLoop().time();
      await sleep(3_600_000);
      await sleep(0);
      return getRunningLoop().time() - start;
    }, { loop });
    expect(took).toBe(3_600_000);
    const idle = new VirtualTimeLoop();
    const fired: number[] = [];
    idle.callLater(500, () => fired.push(idle.time()));
    await vi.advanceTimersByTimeAsync(1000);
    expect(fired).toEqual([]);
    await idle.advance(500);
    expect(fired).toEqual([500]);
    idle.close();
  });
});
