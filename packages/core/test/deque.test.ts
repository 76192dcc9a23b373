import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Deque } from "@aiots/core/internal";

describe("Deque", () => {
  it("pushes and shifts in FIFO order across wrap-arounds", () => {
    const d = new Deque<number>(4);
    const out: number[] = [];
    for (let i = 0; i < 100; i++) {
      d.push(i);
      if (i % 3 === 2) out.push(d.shift()!, d.shift()!);
    }
    while (d.length > 0) out.push(d.shift()!);
    expect(out).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(d.shift()).toBeUndefined();
    expect(d.pop()).toBeUndefined();
  });

  it("keeps its buffer bounded by the peak length over millions of cycles", () => {
    const d = new Deque<number>();
    for (let i = 0; i < 2_000_000; i++) {
      d.push(i);
      d.push(i);
      d.shift();
      d.shift();
    }
    expect(d.length).toBe(0);
    expect(d._buffer.length).toBeLessThanOrEqual(16);
  });

  it("releases shifted items so they can be collected", () => {
    const d = new Deque<object>(4);
    d.push({});
    d.shift();
    expect(d._buffer.every((x) => x === undefined)).toBe(true);
  });

  it("behaves like an array under random operations", () => {
    type Op = { kind: "push" | "unshift"; v: number } | { kind: "shift" | "pop" | "filter" };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constantFrom("push" as const, "unshift" as const), v: fc.integer() }),
      fc.record({ kind: fc.constantFrom("shift" as const, "pop" as const, "filter" as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const d = new Deque<number>(2);
        const model: number[] = [];
        for (const o of ops) {
          switch (o.kind) {
            case "push":
              d.push(o.v);
              model.push(o.v);
              break;
            case "unshift":
              d.unshift(o.v);
              model.unshift(o.v);
              break;
            case "shift":
              expect(d.shift()).toBe(model.shift());
              break;
            case "pop":
              expect(d.pop()).toBe(model.pop());
              break;
            case "filter": {
              d.filterInPlace((x) => x % 2 === 0);
              const kept = model.filter((x) => x % 2 === 0);
              model.length = 0;
              model.push(...kept);
              break;
            }
          }
          expect(d.length).toBe(model.length);
          expect(d.peekFirst()).toBe(model[0]);
          expect(d.peekLast()).toBe(model[model.length - 1]);
        }
        expect([...d]).toEqual(model);
      }),
      { numRuns: 200 },
    );
  });
});
