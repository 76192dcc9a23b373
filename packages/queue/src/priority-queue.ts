import { checkFunction } from "@aiots/core/internal";
import { defaultCompare } from "./compare.js";
import { HeapStore } from "./heap.js";
import { Queue } from "./queue.js";

/**
 * A queue that gives out its smallest item first (asyncio's `PriorityQueue`), kept in a
 * binary heap. `compare(a, b)` returns a negative number when `a` comes first (as for
 * `Array.prototype.sort`); the default, `defaultCompare`, orders numbers, strings and arrays
 * element by element, so `[priority, data]` entries work as Python's tuples do. Equal items
 * come out in no particular order. Everything else (waiting, cancellation,
 * `taskDone`/`join`, `shutdown`, iteration) is `Queue`'s.
 *
 * A `compare` that throws makes that `put`/`putNowait`/`get`/`getNowait` throw the same
 * error and leaves the queue as it was (an item is handed straight to a waiting getter
 * without being compared, as nothing else is buffered then).
 *
 * @throws TypeError / RangeError from the constructor for a maxsize that is not an integer;
 *   TypeError for a `compare` that is not a function.
 * @example
 * ```ts
 * const jobs = new PriorityQueue<[number, string]>();
 * jobs.putNowait([2, "later"]);
 * jobs.putNowait([1, "first"]);
 * console.log((await jobs.get())[1]); // "first"
 *
 * const byDeadline = new PriorityQueue<{ due: number }>(0, (a, b) => a.due - b.due);
 * ```
 */
export class PriorityQueue<T> extends Queue<T> {
  /** A priority queue holding at most `maxsize` items (`<= 0` or `Infinity`: unbounded), ordered by `compare`. */
  constructor(maxsize = 0, compare: (a: T, b: T) => number = defaultCompare) {
    super(maxsize);
    checkFunction(compare, "PriorityQueue compare");
    this._store = new HeapStore<T>(compare);
  }

  override get [Symbol.toStringTag](): string {
    return "PriorityQueue";
  }
}
