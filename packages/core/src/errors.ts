/**
 * The error classes of aiots. Each has a stable `name`, and a brand that survives
 * duplicated installs: `isCancelledError` and friends recognise an error made by
 * another copy of this package, where `instanceof` would not.
 */

const BRAND: unique symbol = Symbol.for("aiots.error");

function brand(target: Error, name: string): void {
  Object.defineProperty(target, BRAND, { value: name, enumerable: false });
}

function hasBrand(value: unknown, name: string): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { [BRAND]?: string })[BRAND] === name
  );
}

/**
 * The base of the single-cause aiots errors (`ExceptionGroup` is not one): sets `name` and
 * the brand, and makes `instanceof` of each subclass (`e instanceof CancelledError`)
 * recognise errors from another copy of the package. `instanceof AiotsError` itself
 * recognises only this copy's.
 *
 * @example
 * ```ts
 * try { new Queue().getNowait() } catch (e) {
 *   if (e instanceof AiotsError) console.log(e.name); // "QueueEmpty"
 * }
 * ```
 */
export abstract class AiotsError extends Error {
  static readonly errorName: string = "AiotsError";
  constructor(name: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = name;
    brand(this, name);
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, this.errorName) || Function.prototype[Symbol.hasInstance].call(this, value);
  }
}

/**
 * Thrown at the `await` of a task that was cancelled (asyncio's `CancelledError`).
 *
 * Catch it only to clean up, then rethrow: a task that swallows it and returns
 * normally completes with that value, not as cancelled.
 *
 * @example
 * ```ts
 * const t = createTask(() => sleep(1000));
 * t.cancel("no longer needed");
 * try { await t } catch (e) { console.log(e instanceof CancelledError, (e as Error).message) }
 * // true no longer needed
 * ```
 */
export class CancelledError extends AiotsError {
  static override readonly errorName = "CancelledError";
  constructor(message?: string) {
    super("CancelledError", message ?? "");
  }
}

/**
 * Thrown when an operation is not allowed in the object's current state
 * (asyncio's `InvalidStateError`): `result()` of a pending future, `setResult`
 * on a finished one.
 *
 * @example
 * ```ts
 * const f = new Future<number>();
 * try { f.result() } catch (e) { console.log((e as Error).name) } // "InvalidStateError"
 * ```
 */
export class InvalidStateError extends AiotsError {
  static override readonly errorName = "InvalidStateError";
  constructor(message?: string) {
    super("InvalidStateError", message ?? "invalid state");
  }
}

/**
 * Thrown by `waitFor`, `timeout` and `timeoutAt` when the deadline passes
 * (asyncio's `TimeoutError`, which is the builtin `TimeoutError` in Python 3.11+).
 *
 * @example
 * ```ts
 * try { await waitFor(sleep(1000), 10) } catch (e) { console.log(e instanceof TimeoutError) } // true
 * ```
 */
export class TimeoutError extends AiotsError {
  static override readonly errorName = "TimeoutError";
  /** `options.cause`: what the timeout interrupted (the `CancelledError` it turned into this). */
  constructor(message?: string, options?: ErrorOptions) {
    super("TimeoutError", message ?? "timed out", options);
  }
}

/**
 * Thrown by `Queue.getNowait()` on an empty queue (asyncio's `QueueEmpty`).
 *
 * @example
 * ```ts
 * try { new Queue().getNowait() } catch (e) { console.log(e instanceof QueueEmpty) } // true
 * ```
 */
export class QueueEmpty extends AiotsError {
  static override readonly errorName = "QueueEmpty";
  constructor(message?: string) {
    super("QueueEmpty", message ?? "queue is empty");
  }
}

/**
 * Thrown by `Queue.putNowait()` on a full queue (asyncio's `QueueFull`).
 *
 * @example
 * ```ts
 * const q = new Queue<number>(1); q.putNowait(1);
 * try { q.putNowait(2) } catch (e) { console.log(e instanceof QueueFull) } // true
 * ```
 */
export class QueueFull extends AiotsError {
  static override readonly errorName = "QueueFull";
  constructor(message?: string) {
    super("QueueFull", message ?? "queue is full");
  }
}

/**
 * Thrown by queue operations after `Queue.shutdown()` (asyncio's `QueueShutDown`, 3.13+).
 *
 * @example
 * ```ts
 * const q = new Queue<number>(); q.shutdown();
 * try { q.putNowait(1) } catch (e) { console.log(e instanceof QueueShutDown) } // true
 * ```
 */
export class QueueShutDown extends AiotsError {
  static override readonly errorName = "QueueShutDown";
  constructor(message?: string) {
    super("QueueShutDown", message ?? "queue is shut down");
  }
}

/**
 * Thrown by `Barrier.wait()` when the barrier is broken or reset while waiting
 * (asyncio's `BrokenBarrierError`).
 *
 * @example
 * ```ts
 * const b = new Barrier(2); await b.abort();
 * try { await b.wait() } catch (e) { console.log(e instanceof BrokenBarrierError) } // true
 * ```
 */
export class BrokenBarrierError extends AiotsError {
  static override readonly errorName = "BrokenBarrierError";
  constructor(message?: string) {
    super("BrokenBarrierError", message ?? "barrier is broken");
  }
}

/**
 * Several errors thrown together, as `TaskGroup` does when children fail
 * (Python's `ExceptionGroup`). It extends the builtin `AggregateError`, so
 * `.errors` lists them.
 *
 * @example
 * ```ts
 * const g = new ExceptionGroup("two failures", [new Error("a"), new TypeError("b")]);
 * console.log(g instanceof AggregateError, g.errors.length); // true 2
 * console.log(g.subgroup((e) => e instanceof TypeError)?.errors.length); // 1
 * ```
 */
export class ExceptionGroup extends AggregateError {
  override readonly errors: unknown[];
  constructor(message: string, errors: Iterable<unknown>) {
    if (errors === null || typeof errors !== "object" || typeof (errors as Iterable<unknown>)[Symbol.iterator] !== "function") {
      throw new TypeError(`ExceptionGroup errors must be an iterable, got ${typeof errors}`);
    }
    const list = Array.from(errors);
    if (list.length === 0) throw new RangeError("ExceptionGroup needs at least one error, got none");
    super(list, message);
    this.errors = list;
    this.name = "ExceptionGroup";
    brand(this, "ExceptionGroup");
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, "ExceptionGroup") || Function.prototype[Symbol.hasInstance].call(this, value);
  }

  /**
   * The errors (looking inside nested groups) that match, kept in a group of the same shape, or
   * `undefined`. `match` is a predicate, an error class, or a list of classes (Python's type or
   * tuple of types): `g.subgroup(TypeError)`.
   * @throws TypeError if `match` is none of those.
   */
  subgroup(match: ErrorMatch): ExceptionGroup | undefined {
    return this.split(match)[0];
  }

  /**
   * Splits into `[matching, rest]`, each a group of the same shape or `undefined` (Python's
   * `split`). `match` is as for `subgroup`.
   * @throws TypeError if `match` is not a predicate, an error class or a list of classes.
   */
  split(match: ErrorMatch): [ExceptionGroup | undefined, ExceptionGroup | undefined] {
    const matches = toPredicate(match);
    if (matches(this)) return [this, undefined];
    const yes: unknown[] = [];
    const no: unknown[] = [];
    for (const error of this.errors) {
      if (error instanceof ExceptionGroup) {
        // Through its public `split`: a group from another copy of aiots, or a subclass, splits its own way.
        const [a, b] = error.split(matches);
        if (a) yes.push(a);
        if (b) no.push(b);
      } else if (matches(error)) {
        yes.push(error);
      } else {
        no.push(error);
      }
    }
    const make = (list: unknown[]) => (list.length === 0 ? undefined : new ExceptionGroup(this.message, list));
    return [make(yes), make(no)];
  }
}

/**
 * An error class: `TypeError`, `CancelledError`, a class of your own.
 *
 * @example
 * ```ts
 * const expected: ErrorClass[] = [TypeError, CancelledError];
 * const g = new ExceptionGroup("failures", [new TypeError("a"), new Error("b")]);
 * console.log(g.subgroup(expected)?.errors.length); // 1
 * ```
 */
export type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * What `ExceptionGroup.subgroup`/`split` match errors with: a predicate, an error class, or
 * a list of classes (Python's type or tuple of types).
 *
 * @example
 * ```ts
 * const isTimeout: ErrorMatch = (e) => e instanceof TimeoutError;
 * const g = new ExceptionGroup("two", [new TimeoutError(), new Error("x")]);
 * const [timeouts, rest] = g.split(isTimeout);
 * console.log(timeouts?.errors.length, rest?.errors.length); // 1 1
 * ```
 */
export type ErrorMatch = ((error: unknown) => boolean) | ErrorClass | readonly ErrorClass[];

/** Whether `value` is a class whose instances are errors (so `instanceof` is what it means). */
function isErrorClass(value: unknown): value is ErrorClass {
  if (typeof value !== "function") return false;
  const prototype = (value as { prototype?: unknown }).prototype;
  return value === Error || (typeof prototype === "object" && prototype !== null && prototype instanceof Error);
}

function toPredicate(match: ErrorMatch): (error: unknown) => boolean {
  if (isErrorClass(match)) return (error) => error instanceof match;
  if (Array.isArray(match)) {
    const classes = match as readonly unknown[];
    for (const c of classes) {
      if (!isErrorClass(c)) throw new TypeError(`ExceptionGroup match list must hold error classes, got ${describeValue(c)}`);
    }
    return (error) => classes.some((c) => error instanceof (c as ErrorClass));
  }
  if (typeof match !== "function" || isClassSyntax(match)) {
    // (A class that is not an error class cannot be called as a predicate; Python refuses it too.)
    throw new TypeError(`ExceptionGroup match must be a predicate, an error class or a list of classes, got ${describeValue(match)}`);
  }
  return match as (error: unknown) => boolean;
}

function isClassSyntax(fn: unknown): boolean {
  return typeof fn === "function" && Function.prototype.toString.call(fn).startsWith("class");
}

function describeValue(value: unknown): string {
  if (typeof value === "function") return isClassSyntax(value) ? `class ${value.name}` : "a function";
  return value === null ? "null" : typeof value;
}

/**
 * Whether `error` is a `CancelledError` (from any copy of aiots).
 *
 * @example
 * ```ts
 * const t = createTask(() => sleep(1000));
 * t.cancel();
 * try { await t } catch (e) { console.log(isCancelledError(e)) } // true
 * ```
 */
export function isCancelledError(error: unknown): error is CancelledError {
  return hasBrand(error, "CancelledError");
}
