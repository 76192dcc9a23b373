import { describe, expect, it } from "vitest";
import {
  AiotsError,
  BrokenBarrierError,
  CancelledError,
  ExceptionGroup,
  InvalidStateError,
  QueueEmpty,
  QueueFull,
  QueueShutDown,
  TimeoutError,
  isCancelledError,
} from "@aiots/core";

const single = [
  [CancelledError, "CancelledError"],
  [InvalidStateError, "InvalidStateError"],
  [TimeoutError, "TimeoutError"],
  [QueueEmpty, "QueueEmpty"],
  [QueueFull, "QueueFull"],
  [QueueShutDown, "QueueShutDown"],
  [BrokenBarrierError, "BrokenBarrierError"],
] as const;

describe("error classes", () => {
  for (const [Cls, name] of single) {
    it(`${name} has a stable name, a message, and is an Error`, () => {
      const e = new Cls("boom");
      expect(e.name).toBe(name);
      expect(e.message).toBe("boom");
      expect(e).toBeInstanceOf(Error);
      expect(e).toBeInstanceOf(AiotsError);
      expect(e).toBeInstanceOf(Cls);
      expect(String(e)).toBe(`${name}: boom`);
    });
  }

  it("distinguishes the classes from each other", () => {
    expect(new TimeoutError()).not.toBeInstanceOf(CancelledError);
    expect(new CancelledError()).not.toBeInstanceOf(TimeoutError);
    expect(new Error("x")).not.toBeInstanceOf(CancelledError);
  });

  it("recognises a CancelledError made by another copy of the package by its brand", () => {
    const foreign = new Error("other copy");
    Object.defineProperty(foreign, Symbol.for("aiots.error"), { value: "CancelledError" });
    expect(isCancelledError(foreign)).toBe(true);
    expect(foreign instanceof CancelledError).toBe(true);
    expect(isCancelledError(new Error("plain"))).toBe(false);
    expect(isCancelledError("CancelledError")).toBe(false);
    expect(isCancelledError(null)).toBe(false);
  });

  it("a CancelledError without a message has an empty one", () => {
    expect(new CancelledError().message).toBe("");
  });
});

describe("ExceptionGroup", () => {
  it("extends AggregateError and lists its errors", () => {
    const a = new Error("a");
    const b = new TypeError("b");
    const g = new ExceptionGroup("two", [a, b]);
    expect(g).toBeInstanceOf(AggregateError);
    expect(g.name).toBe("ExceptionGroup");
    expect(g.message).toBe("two");
    expect(g.errors).toEqual([a, b]);
  });

  it("refuses an empty list or a non-iterable", () => {
    expect(() => new ExceptionGroup("none", [])).toThrow(RangeError);
    expect(() => new ExceptionGroup("bad", 5 as unknown as unknown[])).toThrow(TypeError);
  });

  it("splits nested groups keeping their shape", () => {
    const inner = new ExceptionGroup("inner", [new TypeError("t1"), new Error("e1")]);
    const g = new ExceptionGroup("outer", [new TypeError("t2"), inner, new RangeError("r")]);
    const [types, rest] = g.split((e) => e instanceof TypeError);
    expect(types?.errors.length).toBe(2);
    expect((types?.errors[0] as Error).message).toBe("t2");
    expect(types?.errors[1]).toBeInstanceOf(ExceptionGroup);
    expect(((types?.errors[1] as ExceptionGroup).errors[0] as Error).message).toBe("t1");
    expect(rest?.errors.map((e) => (e instanceof ExceptionGroup ? "group" : (e as Error).message))).toEqual(["group", "r"]);
    expect(g.subgroup((e) => e instanceof SyntaxError)).toBeUndefined();
    expect(g.subgroup((e) => e === g)).toBe(g);
    expect(() => g.split(5 as unknown as (e: unknown) => boolean)).toThrow(TypeError);
  });
});
