/*
 * More cases from CPython 3.13's Lib/test/test_asyncio/test_futures.py (the done-callback
 * tests) that the other tests of this package do not cover yet. Each asserts what asyncio
 * does (checked against CPython 3.13).
 */
import { describe, expect, it } from "vitest";
import { Future, sleep } from "@aiots/future";
import { onVirtualLoop } from "./helpers.js";

describe("done callbacks (test_futures.py BaseFutureDoneCallbackTests)", () => {
  it("removing the first and the second of three callbacks, then the first again, leaves only the third to run (test_callbacks_remove_first_and_second_callback)", async () => {
    await onVirtualLoop(async () => {
      const bag: number[] = [];
      const f = new Future<string>();
      const pushes = (n: number) => () => {
        bag.push(n);
      };
      const [a, b, c] = [pushes(42), pushes(17), pushes(100)];
      f.addDoneCallback(a);
      f.addDoneCallback(b);
      f.addDoneCallback(c);
      expect(f.removeDoneCallback(a)).toBe(1);
      expect(f.removeDoneCallback(b)).toBe(1);
      expect(f.removeDoneCallback(a)).toBe(0);
      expect(bag).toEqual([]);
      f.setResult("foo");
      expect(bag).toEqual([]);
      await sleep(0);
      expect(bag).toEqual([100]);
      expect(f.result()).toBe("foo");
    });
  });
});
