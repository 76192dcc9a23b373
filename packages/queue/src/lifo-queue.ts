import { Queue } from "./queue.js";
import { LifoStore } from "./store.js";

/**
 * A last-in, first-out queue (asyncio's `LifoQueue`): `get` takes the most recently put item.
 * Everything else (waiting, cancellation, `taskDone`/`join`, `shutdown`, iteration) is `Queue`'s.
 *
 * @throws TypeError / RangeError from the constructor for a maxsize that is not an integer.
 * @example
 * ```ts
 * const stack = new LifoQueue<number>();
 * for (const n of [1, 3, 2]) stack.putNowait(n);
 * console.log(stack.getNowait(), stack.getNowait(), stack.getNowait()); // 2 3 1
 * ```
 */
export class LifoQueue<T> extends Queue<T> {
  /** A stack holding at most `maxsize` items (`<= 0` or `Infinity`: unbounded). */
  constructor(maxsize = 0) {
    super(maxsize);
    this._store = new LifoStore<T>();
  }

  override get [Symbol.toStringTag](): string {
    return "LifoQueue";
  }
}
