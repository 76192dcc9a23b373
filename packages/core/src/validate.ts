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
  if (isSignal(options)) {
    // A signal where its options go would otherwise be read as options without a signal.
    throw new TypeError(`${label(what, method)} takes the signal as an option: pass { signal }, not the signal itself`);
  }
  return checkSignal((options as { signal?: unknown }).signal, `${label(what, method)} options.signal`);
}

/** Checks an optional `signal` option: `null`/`undefined` mean none, else it must be an AbortSignal. */
export function checkSignal(signal: unknown, what: string): AbortSignal | undefined {
  if (signal === undefined || signal === null) return undefined;
  if (!isSignal(signal)) throw new TypeError(`${what} must be an AbortSignal, got ${describe(signal)}`);
  return signal;
}

function isSignal(value: unknown): value is AbortSignal {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as AbortSignal).addEventListener === "function" &&
    typeof (value as AbortSignal).removeEventListener === "function" &&
    "aborted" in value
  );
}

/** Throws a `TypeError` unless `value` is an event loop (an object with `callSoon`). */
export function checkLoop(value: unknown, what: string): void {
  if (value === null || typeof value !== "object" || typeof (value as { callSoon?: unknown }).callSoon !== "function") {
    throw new TypeError(`${what} must be an EventLoop, got ${describe(value)}`);
  }
}

/** Throws a `TypeError` unless `value` is an object (not `null`, not a function). */
export function checkObject(value: unknown, what: string): asserts value is object {
  if (value === null || typeof value !== "object") throw new TypeError(`${what} must be an object, got ${describe(value)}`);
}

/** Throws a `TypeError` unless `value` is a boolean. */
export function checkBoolean(value: unknown, what: string): asserts value is boolean {
  if (typeof value !== "boolean") throw new TypeError(`${what} must be a boolean, got ${describe(value)}`);
}

/** Throws a `TypeError` unless `value` is a boolean, or `undefined`/`null` (not given). */
export function checkOptionalBoolean(value: unknown, what: string): asserts value is boolean | undefined | null {
  if (value !== undefined && value !== null && typeof value !== "boolean") throw new TypeError(`${what} must be a boolean, got ${describe(value)}`);
}

function label(what: string, method: string | undefined): string {
  return method === undefined ? what : `${what}.${method}`;
}

/**
 * The class name of an object, for messages (`"RangeError"`), read from its prototype
 * without touching its own properties; `undefined` for a non-object, a null prototype, an
 * unnamed class, or a prototype whose `constructor` throws.
 */
export function classNameOf(value: unknown): string | undefined {
  if (value === null || typeof value !== "object") return undefined;
  try {
    return nameOf((Object.getPrototypeOf(value) as { constructor?: unknown } | null)?.constructor);
  } catch {
    return undefined;
  }
}

/**
 * A function's (or class's) own `name`, for messages; `undefined` for anything else, an
 * empty name, or a `name` that throws when read.
 */
export function nameOf(fn: unknown): string | undefined {
  if (typeof fn !== "function") return undefined;
  try {
    const name = (fn as { name?: unknown }).name;
    return typeof name === "string" && name !== "" ? name : undefined;
  } catch {
    return undefined;
  }
}
