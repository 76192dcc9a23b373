// Port of CPython Lib/test/test_asyncio/test_futures.py
import { describe, test, expect } from "vitest";
import {
  Future, CancelledError, InvalidStateError, getRunningLoop, sleep, ensureFuture,
  isCancelledError, isFuture, createTask, Task,
} from "aiots";
import { vrun, runBriefly, caught } from "./helpers.js";

describe("test_futures", () => {
  test("test_initial_state", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    expect(f.cancelled()).toBe(false);
    expect(f.done()).toBe(false);
    f.cancel();
    expect(f.cancelled()).toBe(true);
  }));

  test("test_constructor_use_running_loop", () => vrun(async () => {
    const f = new Future<number>();
    expect(f.getLoop()).toBe(getRunningLoop());
  }));

  test("test_cancel", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    expect(f.cancel()).toBe(true);
    expect(f.cancelled()).toBe(true);
    expect(f.done()).toBe(true);
    expect(() => f.result()).toThrow(CancelledError);
    expect(() => f.exception()).toThrow(CancelledError);
    expect(() => f.setResult(1)).toThrow(InvalidStateError);
    expect(() => f.setException(new Error())).toThrow(InvalidStateError);
    expect(f.cancel()).toBe(false);
  }));

  test("test_result", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    expect(() => f.result()).toThrow(InvalidStateError);
    f.setResult(42);
    expect(f.cancelled()).toBe(false);
    expect(f.done()).toBe(true);
    expect(f.result()).toBe(42);
    // ambiguity: "no exception" -- null (None) or undefined?
    expect(f.exception()).toBeNull();
    expect(() => f.setResult(1)).toThrow(InvalidStateError);
    expect(() => f.setException(new Error())).toThrow(InvalidStateError);
    expect(f.cancel()).toBe(false);
  }));

  test("test_exception", () => vrun(async () => {
    const exc = new RangeError("boom");
    const f = getRunningLoop().createFuture<number>();
    expect(() => f.exception()).toThrow(InvalidStateError);
    f.setException(exc);
    expect(f.cancelled()).toBe(false);
    expect(f.done()).toBe(true);
    expect(() => f.result()).toThrow(exc);
    expect(f.exception()).toBe(exc);
    expect(() => f.setResult(1)).toThrow(InvalidStateError);
    expect(() => f.setException(new Error())).toThrow(InvalidStateError);
    expect(f.cancel()).toBe(false);
  }));

  test("test_future_cancel_message_getter", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    f.cancel("my message");
    const e = await caught(() => f);
    expect(e).toBeInstanceOf(CancelledError);
    expect((e as Error).message).toBe("my message");
    const e2 = await caught(() => f.result());
    expect((e2 as Error).message).toBe("my message");
  }));

  test("test_await_twice (yield_from_twice)", () => vrun(async () => {
    const f = getRunningLoop().createFuture<string>();
    const t = createTask(async () => [await f, await f]);
    await sleep(0);
    f.setResult("x");
    expect(await t).toEqual(["x", "x"]);
  }));

  test("await rejected future throws the exception", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    const err = new Error("nope");
    f.setException(err);
    expect(await caught(() => f)).toBe(err);
  }));

  test("future works with Promise.all (PromiseLike)", () => vrun(async () => {
    const loop = getRunningLoop();
    const a = loop.createFuture<number>();
    const b = loop.createFuture<string>();
    loop.callSoon(() => a.setResult(1));
    loop.callSoon(() => b.setResult("two"));
    expect(await Promise.all([a, b])).toEqual([1, "two"]);
  }));

  test("test_callbacks_invoked_on_set_result (scheduled, in order)", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    const bag: number[] = [];
    f.addDoneCallback(() => bag.push(42));
    f.addDoneCallback(() => bag.push(17));
    f.addDoneCallback(() => bag.push(100));
    expect(bag).toEqual([]);
    f.setResult(10);
    expect(bag).toEqual([]); // not called synchronously: scheduled with callSoon
    await runBriefly();
    expect(bag).toEqual([42, 17, 100]);
    expect(f.result()).toBe(10);
  }));

  test("test_callbacks_invoked_on_set_exception", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    const bag: unknown[] = [];
    f.addDoneCallback((fut) => bag.push(fut.exception()));
    const exc = new Error("x");
    f.setException(exc);
    await runBriefly();
    expect(bag).toEqual([exc]);
  }));

  test("done callback receives the future", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    let got: unknown = undefined;
    f.addDoneCallback((fut) => { got = fut; });
    f.setResult(1);
    await runBriefly();
    expect(got).toBe(f);
  }));

  test("callback on cancel", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    let c: boolean | undefined;
    f.addDoneCallback((fut) => { c = fut.cancelled(); });
    f.cancel();
    await runBriefly();
    expect(c).toBe(true);
  }));

  test("addDoneCallback on a done future is scheduled soon, not called at once", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    f.setResult(1);
    const bag: number[] = [];
    f.addDoneCallback(() => bag.push(1));
    expect(bag).toEqual([]);
    await runBriefly();
    expect(bag).toEqual([1]);
  }));

  test("test_callbacks_remove_first_callback", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    const bag: number[] = [];
    const cb1 = () => bag.push(1);
    const cb2 = () => bag.push(2);
    const cb3 = () => bag.push(3);
    f.addDoneCallback(cb1);
    f.addDoneCallback(cb2);
    f.addDoneCallback(cb3);
    expect(f.removeDoneCallback(cb1)).toBe(1);
    expect(f.removeDoneCallback(cb1)).toBe(0);
    f.setResult("foo" as unknown as number);
    await runBriefly();
    expect(bag).toEqual([2, 3]);
  }));

  test("test_remove_done_callbacks_list_clear / duplicates", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    const bag: number[] = [];
    const cb1 = () => bag.push(1);
    const cb2 = () => bag.push(2);
    f.addDoneCallback(cb1);
    f.addDoneCallback(cb2);
    f.addDoneCallback(cb1);
    f.addDoneCallback(cb1);
    expect(f.removeDoneCallback(cb1)).toBe(3);
    f.setResult(1);
    await runBriefly();
    expect(bag).toEqual([2]);
  }));

  test("test_callbacks_remove_third_callback", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    const bag: number[] = [];
    const cb1 = () => bag.push(1), cb2 = () => bag.push(2), cb3 = () => bag.push(3);
    f.addDoneCallback(cb1); f.addDoneCallback(cb2); f.addDoneCallback(cb3);
    f.removeDoneCallback(cb3);
    f.removeDoneCallback(cb3);
    f.setResult(1);
    await runBriefly();
    expect(bag).toEqual([1, 2]);
  }));

  test("test_isfuture", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    expect(isFuture(f)).toBe(true);
    expect(isFuture(Promise.resolve(1))).toBe(false);
    expect(isFuture(42)).toBe(false);
    f.cancel();
  }));

  test("test_ensure_future (future / promise / function)", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    expect(ensureFuture(f)).toBe(f);
    const p = ensureFuture(Promise.resolve(7));
    expect(isFuture(p)).toBe(true);
    expect(await p).toBe(7);
    const t = ensureFuture(async () => 8);
    expect(t).toBeInstanceOf(Task);
    expect(await t).toBe(8);
    f.cancel();
  }));

  test("isCancelledError", () => {
    expect(isCancelledError(new CancelledError())).toBe(true);
    expect(isCancelledError(new Error())).toBe(false);
    expect(new CancelledError().name).toBe("CancelledError");
    expect(new InvalidStateError().name).toBe("InvalidStateError");
  });

  test("then() chaining on a future", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    const p = f.then((v) => v * 2);
    f.setResult(21);
    expect(await p).toBe(42);
  }));

  test("test_future_cancelled_result / exception after cancel(msg)", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    f.cancel("msg");
    const e = await caught(() => f.exception());
    expect(e).toBeInstanceOf(CancelledError);
  }));

  test("test_future_iter_get_referents / awaiting from many waiters", () => vrun(async () => {
    const f = getRunningLoop().createFuture<number>();
    const ts = [1, 2, 3].map((i) => createTask(async () => (await f) + i));
    await sleep(0);
    f.setResult(10);
    expect(await Promise.all(ts)).toEqual([11, 12, 13]);
  }));
});
