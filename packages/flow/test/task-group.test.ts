import { describe, expect, it } from "vitest";
import { CancelledError, ExceptionGroup, InvalidStateError } from "@aiots/core";
import { Future, allTasks, createTask, currentTask, sleep } from "@aiots/future";
import type { Task } from "@aiots/future";
import { VirtualTimeLoop } from "@aiots/loop";
import { TaskGroup, taskGroup, timeout } from "@aiots/flow";
import { runV, now, MyError } from "./helpers.js";


function errorTypes(e: unknown): Set<string> {
  expect(e).toBeInstanceOf(ExceptionGroup);
  return new Set((e as ExceptionGroup).errors.map((x) => (x as Error).name));
}

async function crashAfter(ms: number, error: () => Error = () => new RangeError(String(ms))): Promise<never> {
  await sleep(ms);
  throw error();
}

describe("children that succeed", () => {
  it("the group waits for every child, including ones started later", async () => {
    await runV(async () => {
      let t1: Task<number> | undefined;
      let t2: Task<number> | undefined;
      await taskGroup(async (tg) => {
        t1 = tg.createTask(async () => {
          await sleep(100);
          return 42;
        });
        await sleep(150);
        t2 = tg.createTask(async () => {
          await sleep(200);
          return 11;
        });
      });
      expect(t1!.result()).toBe(42);
      expect(t2!.result()).toBe(11);
      expect(now()).toBe(350);
    });
  });

  it("resolves to what the body returned", async () => {
    await runV(async () => {
      const [v] = await taskGroup(async (tg) => {
        const t = tg.createTask(() => sleep(5, "x"));
        return [t] as const;
      });
      expect(v.result()).toBe("x");
    });
  });

  it("a child cancelled on its own is not a failure", async () => {
    await runV(async () => {
      let t1: Task<void> | undefined;
      let t2: Task<number> | undefined;
      await taskGroup(async (tg) => {
        t1 = tg.createTask(() => sleep(1000));
        await sleep(150);
        t1.cancel();
        t2 = tg.createTask(() => sleep(200, 11));
      });
      expect(t1!.cancelled()).toBe(true);
      expect(t2!.result()).toBe(11);
    });
  });

  it("children may start more children (a tree), and the group waits for all", async () => {
    await runV(async () => {
      let count = 0;
      await taskGroup(async (tg) => {
        const spawn = async (depth: number): Promise<void> => {
          count++;
          await sleep(10);
          if (depth < 3) {
            tg.createTask(() => spawn(depth + 1));
            tg.createTask(() => spawn(depth + 1));
          }
        };
        tg.createTask(() => spawn(0));
      });
      expect(count).toBe(15);
    });
  });

  it("finished children leave the group as they finish", async () => {
    await runV(async () => {
      await taskGroup(async (tg) => {
        for (let i = 0; i < 10; i++) {
          await sleep(100);
          tg.createTask(() => sleep(300));
          if (i === 5) expect(tg.size).toBeLessThan(5);
        }
        await sleep(1350);
        expect(tg.size).toBe(0);
      });
    });
  });

  it("createTask passes the name on", async () => {
    await runV(async () => {
      let name = "";
      await taskGroup((tg) => {
        const t = tg.createTask(
          async () => {
            name = currentTask()!.getName();
          },
          { name: "example name" },
        );
        expect(t.getName()).toBe("example name");
      });
      expect(name).toBe("example name");
    });
  });
});

describe("a child that fails", () => {
  it("cancels the other children and the body, and all failures come out in one ExceptionGroup", async () => {
    await runV(async () => {
      const steps: string[] = [];
      let after = false;
      const error = await taskGroup(async (tg) => {
        tg.createTask(() => crashAfter(100));
        tg.createTask(() => crashAfter(100));
        tg.createTask(async () => {
          try {
            await sleep(5000);
          } catch (e) {
            steps.push(`sibling ${(e as Error).name}`);
            throw e;
          }
        });
        try {
          await sleep(10_000);
        } catch (e) {
          steps.push(`body ${(e as Error).name}`);
          throw e;
        }
        after = true;
      }).catch((e: unknown) => e);
      expect(errorTypes(error)).toEqual(new Set(["RangeError"]));
      expect((error as ExceptionGroup).errors).toHaveLength(2);
      expect(steps.sort()).toEqual(["body CancelledError", "sibling CancelledError"]);
      expect(after).toBe(false);
      expect(now()).toBe(100);
      expect(currentTask()!.cancelling()).toBe(0);
    });
  });

  it("the task running the group is not left cancelled and can go on awaiting", async () => {
    await runV(async () => {
      await expect(taskGroup((tg) => void tg.createTask(async () => { throw new MyError() }))).rejects.toBeInstanceOf(ExceptionGroup);
      expect(currentTask()!.cancelling()).toBe(0);
      await sleep(0);
      await sleep(10);
    });
  });

  it("an error in the body cancels the children and joins the ExceptionGroup", async () => {
    await runV(async () => {
      let t1: Task<void> | undefined;
      let t2: Task<void> | undefined;
      for (const wait of [true, false]) {
        const error = await taskGroup(async (tg) => {
          t1 = tg.createTask(() => sleep(1000));
          t2 = tg.createTask(() => sleep(2000));
          if (wait) await sleep(100);
          throw new MyError();
        }).catch((e: unknown) => e);
        expect(errorTypes(error)).toEqual(new Set(["MyError"]));
        expect(t1!.cancelled()).toBe(true);
        expect(t2!.cancelled()).toBe(true);
      }
    });
  });

  it("an error from the body's finally joins the children's errors", async () => {
    await runV(async () => {
      const error = await taskGroup(async (tg) => {
        tg.createTask(() => crashAfter(100));
        try {
          await sleep(10_000);
        } finally {
          // eslint-disable-next-line no-unsafe-finally
          throw new MyError();
        }
      }).catch((e: unknown) => e);
      expect(errorTypes(error)).toEqual(new Set(["MyError", "RangeError"]));
    });
  });

  it("createTask is refused once the group is shutting down", async () => {
    await runV(async () => {
      let refused: unknown;
      const error = await taskGroup(async (tg) => {
        tg.createTask(() => crashAfter(1));
        tg.createTask(async () => {
          try {
            await sleep(1000);
          } catch {
            try {
              tg.createTask(() => sleep(1));
            } catch (e) {
              refused = e;
            }
          }
        });
      }).catch((e: unknown) => e);
      expect(errorTypes(error)).toEqual(new Set(["RangeError"]));
      expect(refused).toBeInstanceOf(InvalidStateError);
      expect(String(refused)).toMatch(/shutting down/);
    });
  });

  it("a child that fails at once also cancels a sibling it started (gh-128550)", async () => {
    await runV(async () => {
      let ran = false;
      const error = await taskGroup(async (tg) => {
        tg.createTask(async () => {
          tg.createTask(async () => {
            throw new MyError("third task failed");
          });
          await expect(
            (async () => {
              await sleep(0);
              await sleep(0);
            })(),
          ).rejects.toBeInstanceOf(CancelledError);
          ran = true;
        });
      }).catch((e: unknown) => e);
      expect(ran).toBe(true);
      expect(errorTypes(error)).toEqual(new Set(["MyError"]));
    });
  });
});

describe("nested groups", () => {
  it("an outer child failing cancels an inner group, which ends with CancelledError inside", async () => {
    await runV(async () => {
      const error = await taskGroup(async (g1) => {
        g1.createTask(() => crashAfter(100));
        await taskGroup((g2) => void g2.createTask(() => crashAfter(10_000)));
      }).catch((e: unknown) => e);
      expect(errorTypes(error)).toEqual(new Set(["RangeError"]));
    });
  });

  it("an inner group's ExceptionGroup is nested in the outer one", async () => {
    await runV(async () => {
      const error = await taskGroup(async (g1) => {
        g1.createTask(() => crashAfter(10_000));
        await taskGroup((g2) => void g2.createTask(() => crashAfter(100)));
      }).catch((e: unknown) => e);
      expect(errorTypes(error)).toEqual(new Set(["ExceptionGroup"]));
      expect(errorTypes((error as ExceptionGroup).errors[0])).toEqual(new Set(["RangeError"]));
    });
  });

  it("both groups failing leave the cancel counts as they were at each level", async () => {
    await runV(async () => {
      const task = currentTask()!;
      let between = -1;
      const error = await taskGroup(async (outer) => {
        const inner = await taskGroup(async (tg) => {
          tg.createTask(() => crashAfter(0, () => new MyError()));
          outer.createTask(() => crashAfter(0, () => new RangeError()));
        }).catch((e: unknown) => e);
        expect(errorTypes(inner)).toEqual(new Set(["MyError"]));
        between = task.cancelling();
      }).catch((e: unknown) => e);
      expect(between).toBe(1);
      expect(errorTypes(error)).toEqual(new Set(["RangeError"]));
      expect(task.cancelling()).toBe(0);
    });
  });
});

describe("cancellation from outside", () => {
  it("cancels every child and throws CancelledError with the message", async () => {
    await runV(async () => {
      let cancelledChildren = 0;
      let bodyCancelled = false;
      const r = createTask(() =>
        taskGroup(async (tg) => {
          for (let i = 0; i < 5; i++) {
            tg.createTask(async () => {
              try {
                await sleep(5000);
              } catch (e) {
                cancelledChildren++;
                throw e;
              }
            });
          }
          try {
            await sleep(10_000);
          } catch (e) {
            bodyCancelled = true;
            throw e;
          }
        }),
      );
      await sleep(100);
      expect(r.done()).toBe(false);
      r.cancel("test");
      const error = await r.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CancelledError);
      expect((error as Error).message).toBe("test");
      expect(cancelledChildren).toBe(5);
      expect(bodyCancelled).toBe(true);
      expect(r.cancelled()).toBe(true);
    });
  });

  it("arriving while the group waits for its children still cancels them all", async () => {
    await runV(async () => {
      const r = createTask(() =>
        taskGroup((tg) => {
          tg.createTask(() => sleep(1000));
          tg.createTask(() => sleep(2000));
        }),
      );
      await sleep(50);
      r.cancel();
      await expect(r).rejects.toBeInstanceOf(CancelledError);
      expect(now()).toBe(50);
      expect(allTasks().size).toBe(1);
    });
  });

  it("stays a CancelledError when it comes just before children would fail", async () => {
    await runV(async () => {
      const r = createTask(() =>
        taskGroup(async (tg) => {
          for (let i = 0; i < 5; i++) tg.createTask(() => crashAfter(101));
          await sleep(10_000);
        }),
      );
      await sleep(100);
      r.cancel("test");
      const error = await r.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CancelledError);
      expect((error as Error).message).toBe("test");
    });
  });

  it("loses to the ExceptionGroup when a child failed first, and stays requested", async () => {
    await runV(async () => {
      let cancellingAfter = -1;
      const r = createTask(async () => {
        try {
          await taskGroup(async (tg) => {
            tg.createTask(() => crashAfter(300));
            try {
              await sleep(10_000);
            } catch (e) {
              await sleep(500).catch(() => undefined);
              throw e;
            }
          });
        } catch (e) {
          cancellingAfter = currentTask()!.cancelling();
          throw e;
        }
      });
      await sleep(100);
      r.cancel();
      await expect(r).rejects.toBeInstanceOf(ExceptionGroup);
      expect(cancellingAfter).toBe(1);
    });
  });

  it("a body that turns the cancellation into an error gives an ExceptionGroup", async () => {
    await runV(async () => {
      let seen = 0;
      const r = createTask(() =>
        taskGroup(async () => {
          try {
            await sleep(10_000);
          } catch {
            seen += 10;
            throw new MyError();
          }
        }),
      );
      await sleep(100);
      r.cancel();
      const error = await r.catch((e: unknown) => e);
      expect(errorTypes(error)).toEqual(new Set(["MyError"]));
      expect(seen).toBe(10);
    });
  });

  it("a child failing as the cancel from outside arrives: the ExceptionGroup wins and the cancel stays requested", async () => {
    await runV(async () => {
      const started = new Future<void>();
      const inner = createTask(async () => {
        const error = await taskGroup(async (tg) => {
          tg.createTask(async () => {
            started.setResult(undefined);
            throw new MyError();
          });
          await sleep(1000);
          throw new Error("sleep in the group should have been cancelled");
        }).catch((e: unknown) => e);
        expect(errorTypes(error)).toEqual(new Set(["MyError"]));
        expect(currentTask()!.cancelling()).toBe(1);
        await sleep(1000);
        throw new Error("sleep after the group should have been cancelled");
      });
      await started;
      inner.cancel();
      expect(inner.cancelling()).toBe(1);
      await expect(inner).rejects.toBeInstanceOf(CancelledError);
      expect(inner.cancelled()).toBe(true);
    });
  });

  it("a cancelled group inside a timeout becomes the timeout's TimeoutError", async () => {
    await runV(async () => {
      const error = await timeout(-1, () => taskGroup(() => sleep(0))).catch((e: unknown) => e);
      expect((error as Error).name).toBe("TimeoutError");
      expect((error as Error).cause).toBeInstanceOf(CancelledError);
    });
  });
});

describe("lifecycle", () => {
  it("a group runs once; createTask before entry and after the end throws", async () => {
    await runV(async () => {
      const tg = new TaskGroup();
      expect(() => tg.createTask(() => sleep(0))).toThrow(/not been entered/);
      await tg.run(async () => {
        expect(() => tg.run(() => 1)).toThrow(/already been entered/);
      });
      expect(() => tg.run(() => 1)).toThrow(InvalidStateError);
      expect(() => tg.createTask(() => sleep(0))).toThrow(/finished/);
      expect(tg.state).toBe("finished");
    });
  });

  it("shows its state", async () => {
    await runV(async () => {
      const tg = new TaskGroup();
      expect(String(tg)).toBe("TaskGroup [created]");
      await tg.run(async () => {
        tg.createTask(() => sleep(10));
        expect(String(tg)).toBe("TaskGroup [entered, tasks: 1]");
      });
      expect(String(tg)).toBe("TaskGroup [finished]");
    });
  });

  it("works from plain async code, running the body as a task", async () => {
    const loop = new VirtualTimeLoop();
    const value = await loop.runUntilComplete(
      (async () => {
        expect(currentTask()).toBeUndefined();
        return taskGroup(async (tg) => {
          const t = tg.createTask(() => sleep(100, 7));
          return (await t) * 6;
        });
      })(),
    );
    loop.close();
    expect(value).toBe(42);
  });

  it("bad arguments throw at the call", () => {
    expect(() => taskGroup(5 as unknown as () => void)).toThrow(TypeError);
    expect(() => new TaskGroup().run(null as unknown as () => void)).toThrow(TypeError);
  });
});
