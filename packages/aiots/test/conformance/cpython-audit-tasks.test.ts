/**
 * Cases from CPython 3.13's test_asyncio (test_futures.py, test_tasks.py) whose behaviour
 * the package tests and the rest of this conformance suite do not check yet: cancelling the
 * Future that `ensureFuture` wraps around a promise after the promise has settled but before
 * the wrapper took its value (asyncio's `wrap_future`), and a gather of pending Futures of a
 * loop that is not running. Each test asserts what asyncio 3.13 does (checked against
 * CPython), unless JavaScript or the docs make aiots differ, which the test name then says.
 */
import { describe, expect, test } from "vitest";
import { CancelledError, Future, VirtualTimeLoop, ensureFuture, gather, sleep } from "aiots";
import { vrun, runBriefly, caught } from "./helpers.js";

describe("ensureFuture around a promise (test_futures.py, wrap_future)", () => {
  test("a promise that has just resolved, its wrapper cancelled before taking the value: the wrapper ends cancelled and the promise keeps its value (test_wrap_future_cancel2)", () =>
    vrun(async () => {
      let resolve!: (value: number) => void;
      const source = new Promise<number>((r) => (resolve = r));
      const wrapper = ensureFuture(source);
      resolve(42);
      expect(wrapper.done()).toBe(false);
      expect(wrapper.cancel()).toBe(true);
      await runBriefly();
      expect(wrapper.cancelled()).toBe(true);
      expect(await caught(() => wrapper)).toBeInstanceOf(CancelledError);
      expect(() => wrapper.result()).toThrow(CancelledError);
      expect(await source).toBe(42);
    }));
});

describe("gather of Futures of one loop (test_tasks.py, FutureGatherTests)", () => {
  test("gather of pending Futures of a loop that is not running belongs to that loop, stays pending while it runs, and a second gather of the same children is a new one (test_constructor_homogenous_futures)", async () => {
    const other = new VirtualTimeLoop();
    try {
      const children = [0, 1, 2].map(() => other.createFuture<number>());
      const first = gather(children);
      expect(first.getLoop()).toBe(other);
      await other.runUntilComplete(() => sleep(0));
      expect(first.done()).toBe(false);
      const second = gather(children);
      expect(second).not.toBe(first);
      expect(second.getLoop()).toBe(other);
      await other.runUntilComplete(() => sleep(0));
      expect(second.done()).toBe(false);
      expect(first.done()).toBe(false);
      children.forEach((child, i) => child.setResult(i));
      expect(await other.runUntilComplete(first)).toEqual([0, 1, 2]);
      expect(await other.runUntilComplete(second)).toEqual([0, 1, 2]);
      expect(children.every((c) => c instanceof Future && !c.cancelled())).toBe(true);
    } finally {
      other.close();
    }
  });
});
