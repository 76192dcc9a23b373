import { describe, expect, it } from "vitest";
import * as aiots from "aiots";
import * as core from "@aiots/core";
import * as future from "@aiots/future";
import * as loop from "@aiots/loop";
import * as sync from "@aiots/sync";
import * as flow from "@aiots/flow";
import * as queue from "@aiots/queue";

const packages: Record<string, Record<string, unknown>> = { core, future, loop, sync, queue, flow };

describe("each package on its own", () => {
  // API.md's table of packages, plus the errors a user of that package alone catches.
  const contract: Record<string, string[]> = {
    core: ["CancelledError", "InvalidStateError", "TimeoutError", "QueueEmpty", "QueueFull", "QueueShutDown", "BrokenBarrierError", "ExceptionGroup", "isCancelledError"],
    future: ["Future", "Task", "createTask", "currentTask", "allTasks", "sleep", "ensureFuture", "isCancelledError"],
    loop: ["EventLoop", "VirtualTimeLoop", "run", "Runner", "getRunningLoop", "getEventLoop", "newEventLoop"],
    sync: ["Lock", "Event", "Condition", "Semaphore", "BoundedSemaphore", "Barrier", "BrokenBarrierError", "CancelledError", "InvalidStateError"],
    queue: ["Queue", "PriorityQueue", "LifoQueue", "QueueEmpty", "QueueFull", "QueueShutDown"],
    flow: ["gather", "wait", "waitFor", "asCompleted", "shield", "timeout", "timeoutAt", "TaskGroup", "taskGroup", "TimeoutError", "ExceptionGroup", "CancelledError"],
  };
  for (const [name, names] of Object.entries(contract)) {
    it(`@aiots/${name} exports ${names.join(", ")}`, () => {
      const mod = packages[name]!;
      expect(names.filter((key) => typeof mod[key] !== "function")).toEqual([]);
    });
  }
});

describe("the umbrella package", () => {
  for (const [name, mod] of Object.entries(packages)) {
    it(`re-exports every runtime name of @aiots/${name}, as the same object`, () => {
      const missing = Object.keys(mod).filter((key) => !(key in aiots));
      expect(missing).toEqual([]);
      for (const key of Object.keys(mod)) {
        // `EventLoop` is the loop class in the umbrella; core's is only an interface (a type).
        expect((aiots as Record<string, unknown>)[key]).toBe(mod[key]);
      }
    });
  }

  it("runs the seed example: five 2-second fetches take 2 s of loop time, not 10", async () => {
    const { VirtualTimeLoop, getRunningLoop, gather, run, sleep } = aiots;
    const fetched: string[] = [];
    const fetchData = async (url: string) => {
      fetched.push(url);
      await sleep(2000);
      return `Data from ${url}`;
    };
    const { results, took } = await run(
      async () => {
        const start = getRunningLoop().time();
        const results = await gather([0, 1, 2, 3, 4].map((i) => () => fetchData(`url${i}`)));
        return { results, took: getRunningLoop().time() - start };
      },
      { loop: new VirtualTimeLoop() },
    );
    expect(results).toEqual(["Data from url0", "Data from url1", "Data from url2", "Data from url3", "Data from url4"]);
    expect(fetched).toHaveLength(5);
    expect(took).toBe(2000);
  });
});
