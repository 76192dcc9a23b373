import { QueueShutDown } from "@aiots/core";

/** The lifecycle of a queue: asyncio 3.13's states, in the words `toString` shows (internal). */
export type QueueState = "open" | "shut down" | "shut down immediately";

/** What the iterator needs of a queue (internal). */
interface Gettable<T> {
  get(): Promise<T>;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") return String(value);
  return typeof value;
}

/**
 * Checks a queue's `maxsize`: an integer (`<= 0` for unbounded, as asyncio), or `Infinity`.
 * Throws `TypeError` for a non-number and `RangeError` for a fraction or `NaN` (internal).
 */
export function checkMaxsize(value: unknown, what: string): number {
  if (typeof value !== "number") throw new TypeError(`${what} maxsize must be an integer, got ${describe(value)}`);
  if (!Number.isInteger(value) && value !== Infinity && value !== -Infinity) {
    throw new RangeError(`${what} maxsize must be an integer (<= 0 for unbounded), got ${describe(value)}`);
  }
  return value;
}

const END: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

function wrap<T>(value: T): IteratorYieldResult<T> {
  return { done: false, value };
}

function endAtShutDown(error: unknown): IteratorReturnResult<undefined> {
  if (error instanceof QueueShutDown) return END;
  throw error;
}

/**
 * `for await (const item of queue)`: each step is a `get()`, and a `QueueShutDown` ends the
 * loop. `get()` is chained on in the caller's context, so cancelling the task that iterates
 * withdraws the pending get like any other, and a cancel that lands after an item was handed
 * over, before the loop body runs, gives the item back (internal).
 */
export class QueueIterator<T> implements AsyncIterator<T, undefined>, AsyncIterable<T> {
  /** @internal */ readonly _queue: Gettable<T>;
  /** @internal */ _done = false;

  constructor(queue: Gettable<T>) {
    this._queue = queue;
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this._done) return Promise.resolve(END);
    return this._queue.get().then(wrap<T>, (error: unknown) => {
      const result = endAtShutDown(error);
      this._done = true;
      return result;
    });
  }

  return(): Promise<IteratorResult<T, undefined>> {
    this._done = true;
    return Promise.resolve(END);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
