import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { AsyncLocalStorage } from "node:async_hooks";
import { createTask, sleep } from "@aiots/future";
import type { Task } from "@aiots/future";
import { VirtualTimeLoop, getRunningLoop, run } from "@aiots/loop";

/** One task of a random tree: where its creator puts it, and what it does. */
interface Node {
  /** A value its creator wraps `createTask` in (`als.run`), or null to create it as it is. */
  wrap: number | null;
  eager: boolean;
  /** How long it sleeps before it creates its children, and again after. */
  before: number;
  after: number;
  /** A value the task itself enters (`enterWith`) before its children, or null. */
  enter: number | null;
  children: Node[];
}

const node: fc.Memo<Node> = fc.memo((depth) =>
  fc.record({
    wrap: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: null }),
    eager: fc.boolean(),
    before: fc.integer({ min: 0, max: 5 }),
    after: fc.integer({ min: 0, max: 5 }),
    enter: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: null }),
    children: depth <= 1 ? fc.constant([]) : fc.array(node(depth - 1), { maxLength: 3 }),
  }),
);

describe("async context under random task trees and schedules", () => {
  it("every task sees the context its creator had at createTask, across its awaits, whatever runs in between; loop callbacks see none", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(node(3), { minLength: 1, maxLength: 4 }), fc.option(fc.integer({ min: 1, max: 1000 }), { nil: null }), async (roots, outer) => {
        const als = new AsyncLocalStorage<number>();
        const wrong: string[] = [];
        const tasks: Task<void>[] = [];
        const callbackSaw: (number | undefined)[] = [];

        function spawn(spec: Node, path: string): void {
          // What the task must see: the wrap value, else whatever its creator sees now.
          const expected = spec.wrap ?? als.getStore();
          const body = async () => {
            const check = (where: string) => {
              if (als.getStore() !== expected) wrong.push(`${path} ${where}: ${als.getStore()} != ${expected}`);
            };
            check("start");
            await sleep(spec.before);
            check("after first sleep");
            if (spec.enter !== null) als.enterWith(spec.enter);
            const own = spec.enter ?? expected;
            spec.children.forEach((child, i) => spawn(child, `${path}.${i}`));
            // Loop callbacks never carry the caller's context.
            getRunningLoop().callSoon(() => callbackSaw.push(als.getStore()));
            await sleep(spec.after);
            if (als.getStore() !== own) wrong.push(`${path} end: ${als.getStore()} != ${own}`);
          };
          const make = () => createTask(body, { eagerStart: spec.eager });
          tasks.push(spec.wrap === null ? make() : als.run(spec.wrap, make));
        }

        const main = async () => {
          roots.forEach((root, i) => spawn(root, String(i)));
          // Wait for the whole tree (tasks are added while it grows).
          for (let seen = 0; seen < tasks.length; ) {
            const batch = tasks.slice(seen);
            seen = tasks.length;
            await Promise.all(batch);
          }
        };
        await run(() => (outer === null ? main() : als.run(outer, main)), { loop: new VirtualTimeLoop() });
        expect(wrong).toEqual([]);
        expect(callbackSaw.every((v) => v === undefined)).toBe(true);
        expect(callbackSaw.length).toBe(tasks.length);
      }),
      { numRuns: 80 },
    );
  });
});
