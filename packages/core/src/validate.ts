/** Argument checks shared by every package: they throw at the call, naming the argument. */

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  return typeof value;
}

/** Throws a `TypeError` unless `value` is a function. */
export function checkFunction(value: unknown, what: string): asserts value is (...args: never[]) => unknown {
  if (typeof value !== "function") throw new TypeError(`${what} must be a function, got ${describe(value)}`);
}

/**
 * Checks a delay or deadline in ms: a non-number throws `TypeError`, `NaN` throws
 * `RangeError`; negative numbers and `Infinity` are allowed (now / never).
 */
export function checkTime(value: unknown, what: string): asserts value is number {
  if (typeof value !== "number") throw new TypeError(`${what} must be a number of milliseconds, got ${describe(value)}`);
  if (Number.isNaN(value)) throw new RangeError(`${what} must not be NaN`);
}

/** Checks an optional timeout: `null`/`undefined` mean none, otherwise as `checkTime`. */
export function checkTimeout(value: unknown, what: string): asserts value is number | null | undefined {
  if (value === null || value === undefined) return;
  checkTime(value, what);
}

/** Throws a `RangeError` unless `value` is an integer >= `min` (`TypeError` for a non-number). */
export function checkInteger(value: unknown, what: string, min: number): asserts value is number {
  if (typeof value !== "number") throw new TypeError(`${what} must be an integer, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`${what} must be an integer >= ${min}, got ${describe(value)}`);
  }
}

/** Checks the `{ signal }` options argument of a waiting method. */
export function checkWaitOptions(options: unknown, what: string, method?: string): AbortSignal | undefined {
  if (options === undefined || options === null) return undefined;
  // (`what.method`, joined only for the message: the check runs on every wait.)
  if (typeof options !== "object") throw new TypeError(`${label(what, method)} options must be an object, got ${describe(options)}`);
  const signal = (options as { signal?: unknown }).signal;
  if (signal === undefined || signal === null) return undefined;
  if (typeof signal !== "object" || typeof (signal as AbortSignal).addEventListener !== "function" || !("aborted" in signal)) {
    throw new TypeError(`${label(what, method)} options.signal must be an AbortSignal, got ${describe(signal)}`);
  }
  return signal as AbortSignal;
}

function label(what: string, method: string | undefined): string {
  return method === undefined ? what : `${what}.${method}`;
}
