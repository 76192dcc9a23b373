import { describe, expect, it } from "vitest";
import { CancelledError } from "@aiots/core";
import { VirtualTimeLoop, getRunningLoop } from "@aiots/loop";
import { Future, Task, createTask, ensureFuture, isCancelledError, sleep } from "@aiots/future";
import { onVirtualLoop } from "./helpers.js";

describe("ensureFuture", () => {
  it("returns a Future or a Task as it is", async () => {
    await onVirtualLoop(async () => {
      const f = new Future<string>();
      f.setResult("ko");
      expect(ensureFuture(f)).toBe(f);
      const t = createTask(async () => "ok");
      expect(ensureFuture(t)).toBe(t);
      expect(ensureFuture(t, getRunningLoop())).toBe(t);
      expect(await ensureFuture(t)).toBe("ok");
    });
  });

  it("starts a function as a Task on the running loop", async () => {
    await onVirtualLoop(async () => {
      const steps: string[] = [];
      const t = ensureFuture(async () => {
        steps.push("ran");
        await sleep(10);
        return 5;
      });
      expect(t).toBeInstanceOf(Task);
      expect(t.getLoop()).toBe(getRunningLoop());
      expect(steps).toEqual([]);
      expect(await t).toBe(5);
      expect(steps).toEqual(["ran"]);
    });
  });

  it("a function started this way can be cancelled at its await", async () => {
    const steps: string[] = [];
    await onVirtualLoop(async () => {
      const t = ensureFuture(async () => {
        try {
          await sleep(1000);
        } finally {
          steps.push("finally");
        }
      });
      await sleep(1);
      t.cancel();
      await expect(t).rejects.toBeInstanceOf(CancelledError);
    });
    expect(steps).toEqual(["finally"]);
  });

  it("wraps a promise in a Future that settles with it", async () => {
    await onVirtualLoop(async () => {
      const ok = ensureFuture(Promise.resolve(1));
      expect(ok).toBeInstanceOf(Future);
      expect(ok.done()).toBe(false);
      expect(await ok).toBe(1);
      expect(ok.done()).toBe(true);
      const error = new Error("rejected");
      const bad = ensureFuture(Promise.reject(error));
      await expect(bad).rejects.toBe(error);
      expect(bad.exception()).toBe(error);
    });
  });

  it("wraps any thenable", async () => {
    await onVirtualLoop(async () => {
      const thenable: PromiseLike<string> = {
        then(onFulfilled) {
          return Promise.resolve(onFulfilled!("from thenable"));
        },
      } as PromiseLike<string>;
      expect(await ensureFuture(thenable)).toBe("from thenable");
    });
  });

  it("cancelling the wrapper settles it at once; the promise runs on and its outcome is ignored", async () => {
    await onVirtualLoop(async () => {
      let resolve!: (v: number) => void;
      const p = new Promise<number>((r) => (resolve = r));
      const f = ensureFuture(p);
      expect(f.cancel()).toBe(true);
      expect(f.cancelled()).toBe(true);
      resolve(3);
      expect(await p).toBe(3);
      expect(f.cancelled()).toBe(true);
    });
  });

  it("uses the loop given", async () => {
    const other = new VirtualTimeLoop();
    await onVirtualLoop(async () => {
      const f = ensureFuture(Promise.resolve(1), other);
      expect(f.getLoop()).toBe(other);
    });
    other.close();
  });

  it("throws TypeError for anything that is not awaitable", async () => {
    await onVirtualLoop(async () => {
      for (const bad of ["ok", 42, null, undefined, {}, { then: 1 }]) {
        expect(() => ensureFuture(bad as never)).toThrow(TypeError);
      }
      expect(() => ensureFuture("ok" as never)).toThrow(/got string/);
      expect(() => ensureFuture(null as never)).toThrow(/got null/);
    });
  });
});

describe("isCancelledError", () => {
  it("recognises CancelledError and nothing else", () => {
    expect(isCancelledError(new CancelledError())).toBe(true);
    expect(isCancelledError(new Error("CancelledError"))).toBe(false);
    expect(isCancelledError({ name: "CancelledError" })).toBe(false);
    expect(isCancelledError(undefined)).toBe(false);
  });
});

describe("bad input", () => {
  it("createTask with a non-function throws TypeError at the call, naming what was got", async () => {
    await onVirtualLoop(async () => {
      expect(() => createTask(42 as never)).toThrow(TypeError);
      expect(() => createTask(42 as never)).toThrow(/task function must be a function, got 42/);
      expect(() => createTask(null as never)).toThrow(/got null/);
      expect(() => createTask(Promise.resolve(1) as never)).toThrow(TypeError);
      expect(() => getRunningLoop().createTask("fn" as never)).toThrow(TypeError);
    });
  });

  it("createTask options that are not an object throw TypeError", async () => {
    await onVirtualLoop(async () => {
      expect(() => createTask(() => 1, 5 as never)).toThrow(TypeError);
      expect(() => createTask(() => 1, "name" as never)).toThrow(/options must be an object/);
    });
  });

  it("an eagerStart that is not a boolean throws TypeError", async () => {
    await onVirtualLoop(async () => {
      expect(() => createTask(() => 1, { eagerStart: "yes" as never })).toThrow(TypeError);
      expect(() => createTask(() => 1, { eagerStart: 1 as never })).toThrow(/eagerStart/);
    });
  });

  it("a bad call creates no task", async () => {
    await onVirtualLoop(async () => {
      const { allTasks } = await import("@aiots/future");
      const before = allTasks().size;
      expect(() => createTask(() => 1, { name: 1 as never })).toThrow(TypeError);
      expect(() => createTask(() => 1, { signal: 1 as never })).toThrow(TypeError);
      expect(() => createTask(() => 1, { eagerStart: 1 as never })).toThrow(TypeError);
      expect(allTasks().size).toBe(before);
    });
  });

  it("new Future with something that is not an event loop throws TypeError", async () => {
    await onVirtualLoop(async () => {
      expect(() => new Future(42 as never)).toThrow(TypeError);
      expect(() => new Future({} as never)).toThrow(/loop/);
      expect(new Future(getRunningLoop()).getLoop()).toBe(getRunningLoop());
      expect(new Future(undefined).getLoop()).toBe(getRunningLoop());
    });
  });
});
