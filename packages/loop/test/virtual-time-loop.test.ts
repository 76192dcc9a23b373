import { describe, expect, it } from "vitest";
import { CancelledError } from "@aiots/core";
import { createTask, sleep } from "@aiots/future";
import { VirtualTimeLoop, getRunningLoop, run } from "@aiots/loop";

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await turn();
};

describe("autojump while running", () => {
  it("sleep(3_600_000) returns at once with the clock exactly one hour later", async () => {
    const loop = new VirtualTimeLoop();
    const took = await run(async () => {
      const start = getRunningLoop().time();
      await sleep(3_600_000);
      return getRunningLoop().time() - start;
    }, { loop });
    expect(took).toBe(3_600_000);
    expect(loop.time()).toBe(3_600_000);
  });

  it("jumps from timer to timer, each task waking at its own deadline", async () => {
    const steps: string[] = [];
    await run(async () => {
      const loop = getRunningLoop();
      const sleeper = (name: string, ms: number[]) =>
        createTask(async () => {
          for (const d of ms) {
            await sleep(d);
            steps.push(`${name}@${loop.time()}`);
          }
        });
      const a = sleeper("a", [10, 10, 10]);
      const b = sleeper("b", [15, 1000]);
      await a;
      await b;
    }, { loop: new VirtualTimeLoop() });
    expect(steps).toEqual(["a@10", "b@15", "a@20", "a@30", "b@1015"]);
  });

  it("time stands still while callbacks and tasks can still run", async () => {
    const steps: string[] = [];
    await run(async () => {
      const loop = getRunningLoop();
      loop.callLater(1, () => steps.push(`timer@${loop.time()}`));
      const busy = createTask(async () => {
        for (let i = 0; i < 50; i++) await sleep(0);
        steps.push(`busy done@${loop.time()}`);
      });
      await busy;
      await sleep(5);
    }, { loop: new VirtualTimeLoop() });
    expect(steps).toEqual(["busy done@0", "timer@1"]);
  });

  it("time does not jump over a task that is only waiting for microtasks", async () => {
    const steps: string[] = [];
    await run(async () => {
      const loop = getRunningLoop();
      createTask(async () => {
        // A long chain of settled promises before the task reaches its timer.
        for (let i = 0; i < 200; i++) await Promise.resolve();
        await sleep(5);
        steps.push(`b@${loop.time()}`);
      });
      await sleep(10);
      steps.push(`main@${loop.time()}`);
    }, { loop: new VirtualTimeLoop() });
    expect(steps).toEqual(["b@5", "main@10"]);
  });

  it("a timer at Infinity is never jumped to", async () => {
    const loop = new VirtualTimeLoop();
    const steps: string[] = [];
    await run(async () => {
      const forever = createTask(async () => {
        try {
          await sleep(Infinity);
        } catch (error) {
          steps.push(`cancelled@${loop.time()}: ${error instanceof CancelledError}`);
          throw error;
        }
      });
      loop.callLater(Infinity, () => steps.push("never"));
      await sleep(100);
      forever.cancel();
      await forever.then(
        () => {},
        () => {},
      );
    }, { loop });
    expect(steps).toEqual(["cancelled@100: true"]);
    expect(loop.time()).toBe(100);
  });
});

describe("advance (loop not running)", () => {
  it("time moves only by advance() when the loop is not running", async () => {
    const loop = new VirtualTimeLoop();
    const steps: string[] = [];
    loop.callLater(10, () => steps.push("timer"));
    loop.callSoon(() => steps.push("soon"));
    await turns(5);
    expect(steps).toEqual(["soon"]);
    expect(loop.time()).toBe(0);
    await loop.advance(9);
    expect(steps).toEqual(["soon"]);
    await loop.advance(1);
    expect(steps).toEqual(["soon", "timer"]);
    expect(loop.time()).toBe(10);
    loop.close();
  });

  it("runs due timers in order, each at its own time, and lets what they wake settle before the next", async () => {
    const loop = new VirtualTimeLoop();
    const steps: string[] = [];
    const log = (name: string) => steps.push(`${name}@${loop.time()}`);
    loop.callLater(40, log, "t40");
    loop.callLater(10, log, "t10");
    loop.callLater(10, () => loop.callLater(0, log, "child-of-t10"));
    const task = loop.createTask(async () => {
      await sleep(30);
      log("task");
      await sleep(5);
      log("task again");
      return "done";
    });
    loop.callLater(200, log, "beyond");
    await loop.advance(100);
    expect(steps).toEqual(["t10@10", "child-of-t10@10", "task@30", "task again@35", "t40@40"]);
    expect(task.result()).toBe("done");
    expect(loop.time()).toBe(100);
    loop.close();
  });

  it("advance(0) runs what is due now without moving the clock", async () => {
    const loop = new VirtualTimeLoop({ start: 50 });
    const steps: string[] = [];
    loop.callLater(-5, () => steps.push(`past@${loop.time()}`));
    loop.callAt(50, () => steps.push(`now@${loop.time()}`));
    loop.callAt(51, () => steps.push("later"));
    await loop.advance(0);
    expect(steps).toEqual(["past@50", "now@50"]);
    expect(loop.time()).toBe(50);
    loop.close();
  });

  it("cancelled timers are skipped", async () => {
    const loop = new VirtualTimeLoop();
    const steps: string[] = [];
    const a = loop.callLater(5, () => steps.push("a"));
    loop.callLater(6, () => steps.push("b"));
    a.cancel();
    await loop.advance(10);
    expect(steps).toEqual(["b"]);
    loop.close();
  });

  it("refuses bad input with the argument named", async () => {
    const loop = new VirtualTimeLoop();
    // At the call, not as a rejection.
    expect(() => loop.advance(-1)).toThrow(RangeError);
    expect(() => loop.advance(-1)).toThrow(/advance needs a finite ms >= 0, got -1/);
    expect(() => loop.advance(NaN)).toThrow(RangeError);
    expect(() => loop.advance(Infinity)).toThrow(RangeError);
    expect(() => loop.advance("5" as never)).toThrow(TypeError);
    expect(loop.time()).toBe(0);
    loop.close();
    expect(() => loop.advance(1)).toThrow(/closed/);
  });
});

describe("start option", () => {
  it("starts the clock where asked", async () => {
    const loop = new VirtualTimeLoop({ start: 5000 });
    expect(loop.time()).toBe(5000);
    expect(loop.callLater(10, () => {}).when()).toBe(5010);
    const seen = await run(async () => {
      await sleep(25);
      return getRunningLoop().time();
    }, { loop });
    expect(seen).toBe(5025);
  });

  it("defaults to 0, and refuses a start that is not a finite number", () => {
    expect(new VirtualTimeLoop().time()).toBe(0);
    expect(new VirtualTimeLoop({}).time()).toBe(0);
    expect(new VirtualTimeLoop({ start: -20 }).time()).toBe(-20);
    expect(() => new VirtualTimeLoop({ start: NaN })).toThrow(RangeError);
    expect(() => new VirtualTimeLoop({ start: Infinity })).toThrow(/VirtualTimeLoop start must be finite, got Infinity/);
    expect(() => new VirtualTimeLoop({ start: "0" as never })).toThrow(TypeError);
  });
});
