import type { EventLoop, Handle } from "@aiots/core";

/** A loop of `@aiots/loop`, which can schedule a one-argument callback without an array. */
interface OneArgLoop {
  _callSoonOne?(cb: (arg: never) => unknown, arg: unknown): Handle;
}

/** `loop.callSoon(cb, arg)`, through the loop's array-free path when it has one. */
export function callSoonOne<A>(loop: EventLoop, cb: (arg: A) => unknown, arg: A): Handle {
  const fast = (loop as OneArgLoop)._callSoonOne;
  return fast !== undefined ? fast.call(loop, cb as (arg: never) => unknown, arg) : loop.callSoon(cb, arg);
}
