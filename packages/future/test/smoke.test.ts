import { describe, expect, it } from "vitest";
import { CancelledError } from "@aiots/core";
import { VirtualTimeLoop, run } from "@aiots/loop";
import { createTask, sleep } from "@aiots/future";

describe("smoke", () => {
  it("a cancelled task's finally runs and its await throws CancelledError", async () => {
    const steps: string[] = [];
    await run(
      async () => {
        const t = createTask(async () => {
          try {
            await sleep(1000);
          } finally {
            steps.push("finally");
          }
        });
        await sleep(1);
        t.cancel("stop");
        await expect(t).rejects.toBeInstanceOf(CancelledError);
        steps.push("awaited");
      },
      { loop: new VirtualTimeLoop() },
    );
    expect(steps).toEqual(["finally", "awaited"]);
  });
});
