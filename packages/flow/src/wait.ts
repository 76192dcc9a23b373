import type { AwaitableLike, WaitOptions } from "@aiots/core";
import { checkTimeout, checkWaitOptions, linkAbort, markResumption, onSettle, settleInPlace } from "@aiots/core/internal";
import { Future } from "@aiots/future";
import { collect, failureOf, toFutures } from "./awaitables.js";

/**
 * Return as soon as any awaitable is done (asyncio's `FIRST_COMPLETED`).
 *
 * @example
 * ```ts
 * const aws = [sleep(10, "a"), sleep(1000, "b")];
 * const { done, pending } = await wait(aws, { returnWhen: FIRST_COMPLETED });
 * console.log(done.size, pending.size); // 1 1
 * ```
 */
export const FIRST_COMPLETED = "FIRST_COMPLETED";
/**
 * Return as soon as any awaitable fails (not counting cancellation), else when all are done
 * (asyncio's `FIRST_EXCEPTION`).
 *
 * @example
 * ```ts
 * const fail = async (): Promise<void> => { await sleep(10); throw new Error("boom") };
 * const { done, pending } = await wait([fail, () => sleep(1000)], { returnWhen: FIRST_EXCEPTION });
 * for (const f of done) console.log((f.exception() as Error).message); // "boom"
 * for (const f of pending) f.cancel();
 * ```
 */
export const FIRST_EXCEPTION = "FIRST_EXCEPTION";
/**
 * Return when every awaitable is done (the default; asyncio's `ALL_COMPLETED`).
 *
 * @example
 * ```ts
 * const { done, pending } = await wait([sleep(10), sleep(20)], { returnWhen: ALL_COMPLETED });
 * console.log(done.size, pending.size); // 2 0
 * ```
 */
export const ALL_COMPLETED = "ALL_COMPLETED";

/**
 * When `wait` returns: `FIRST_COMPLETED`, `FIRST_EXCEPTION` or `ALL_COMPLETED` (the
 * constants, or the same strings).
 *
 * @example
 * ```ts
 * const until = (urgent: boolean): ReturnWhen => (urgent ? FIRST_COMPLETED : "ALL_COMPLETED");
 * const { done } = await wait([sleep(10), sleep(20)], { returnWhen: until(true) });
 * console.log(done.size); // 1
 * ```
 */
export type ReturnWhen = typeof FIRST_COMPLETED | typeof FIRST_EXCEPTION | typeof ALL_COMPLETED;

/**
 * Options of `wait`.
 *
 * @example
 * ```ts
 * const options: WaitFlowOptions = { timeout: 50, returnWhen: "FIRST_EXCEPTION" };
 * const { done, pending } = await wait([sleep(10), sleep(1000)], options);
 * console.log(done.size, pending.size); // 1 1 (the timeout passed; nothing was cancelled)
 * ```
 */
export interface WaitFlowOptions extends WaitOptions {
  /** Return after this many ms at the latest (`null`: no limit). Nothing is cancelled then. */
  timeout?: number | null;
  /** When to return (default `"ALL_COMPLETED"`). */
  returnWhen?: ReturnWhen;
}

/**
 * What `wait` resolves to: the Futures that are done, and those still pending.
 *
 * @example
 * ```ts
 * const { done }: WaitResult<number> = await wait([sleep(10, 1), sleep(20, 2)]);
 * for (const f of done) console.log(f.result()); // 1, then 2
 * ```
 */
export interface WaitResult<T> {
  done: Set<Future<T>>;
  pending: Set<Future<T>>;
}

/**
 * Waits until some or all awaitables are done (asyncio's `wait`) and resolves to
 * `{ done, pending }`, two sets of Futures. It never throws the children's errors (read
 * them from the done Futures) and cancels nothing: at the timeout, or when the wait itself
 * is cancelled, the pending ones run on. Functions are started as tasks (they are in the
 * sets); promises are wrapped in Futures; duplicates count once.
 *
 * @param options.timeout ms to wait at most (`null`: no limit); negative means "look now".
 * @param options.returnWhen `"FIRST_COMPLETED"`, `"FIRST_EXCEPTION"` or `"ALL_COMPLETED"`.
 * @param options.signal aborting it ends the wait with the signal's `reason` (children run on).
 * @throws TypeError at the call for a non-iterable or a bad item or option; RangeError for an
 *   empty input, a bad `returnWhen` value or a `NaN` timeout. Nothing is started then.
 * @example
 * ```ts
 * const { done, pending } = await wait([() => fetchA(), () => fetchB()], { returnWhen: "FIRST_COMPLETED" });
 * for (const f of pending) f.cancel();
 * ```
 */
export function wait<T>(aws: Iterable<AwaitableLike<T>>, options?: WaitFlowOptions): Future<WaitResult<T>> {
  const signal = checkWaitOptions(options, "wait");
  const timeout = options?.timeout;
  checkTimeout(timeout, "wait timeout");
  const returnWhen = checkReturnWhen(options?.returnWhen);
  const items = collect(aws, "wait");
  if (items.length === 0) throw new RangeError("wait needs at least one awaitable, got none");
  if (signal !== undefined && signal.aborted) {
    const refused = new Future<WaitResult<T>>();
    refused.setException(signal.reason);
    return refused;
  }
  const { loop, unique } = toFutures(items, "wait");
  const outer = new Future<WaitResult<T>>(loop);
  let triggered = false;
  const finish = () => {
    if (triggered) return;
    triggered = true;
    loop.callSoon(report<T>, outer, unique);
  };
  let left = unique.length;
  const onCompletion = (f: Future<T>) => {
    left--;
    if (left <= 0 || returnWhen === FIRST_COMPLETED || (returnWhen === FIRST_EXCEPTION && failureOf(f) !== undefined)) finish();
  };
  for (const f of unique) f.addDoneCallback(onCompletion);
  const handle = timeout === null || timeout === undefined || timeout === Infinity ? undefined : loop.callLater(timeout, finish);
  if (signal !== undefined) linkAbort(outer, signal);
  // However the wait ends (result, cancel, abort), it leaves no callback, timer or listener behind.
  onSettle(outer, () => {
    handle?.cancel();
    for (const f of unique) f.removeDoneCallback(onCompletion);
  });
  return outer;
}

/**
 * Makes the sets and settles the wait, one loop step after the trigger, where asyncio's
 * waiting task resumes: what finished meanwhile (at the same moment) counts as done, so
 * nothing in `pending` is ever done already. It stands for that task's step, so the waiting
 * code resumes right here, before the callbacks queued behind it (a task finishing there
 * is still pending when the caller looks at the sets, as in asyncio).
 */
function report<T>(outer: Future<WaitResult<T>>, unique: Future<T>[]): void {
  if (outer.done()) return;
  const done = new Set<Future<T>>();
  const pending = new Set<Future<T>>();
  for (const f of unique) (f.done() ? done : pending).add(f);
  settleInPlace(settle<T>, outer, { done, pending });
}
markResumption(report);

function settle<T>(outer: Future<WaitResult<T>>, sets: WaitResult<T>): void {
  outer.setResult(sets);
}

function checkReturnWhen(value: unknown): ReturnWhen {
  if (value === undefined) return ALL_COMPLETED;
  if (typeof value !== "string") throw new TypeError(`wait options.returnWhen must be a string, got ${value === null ? "null" : typeof value}`);
  if (value !== FIRST_COMPLETED && value !== FIRST_EXCEPTION && value !== ALL_COMPLETED) {
    throw new RangeError(`wait options.returnWhen must be "FIRST_COMPLETED", "FIRST_EXCEPTION" or "ALL_COMPLETED", got ${JSON.stringify(value)}`);
  }
  return value;
}
