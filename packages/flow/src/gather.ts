import type { AwaitableLike, CancelledError, EventLoop } from "@aiots/core";
import { Future } from "@aiots/future";
import { getEventLoop } from "@aiots/loop";
import { collect, failureOf, thrownBy, toFutures } from "./awaitables.js";
import type { AwaitedResult } from "./awaitables.js";

/**
 * Options of `gather`.
 *
 * @example
 * ```ts
 * const fail = async () => { throw new Error("nope") };
 * const [a, b] = await gather([sleep(10, 1), fail], { returnExceptions: true });
 * console.log(a, b.message); // 1 "nope"
 * ```
 */
export interface GatherOptions {
  /** Put each child's error in its result slot instead of rejecting with the first one. */
  returnExceptions?: boolean;
}

/**
 * The results of `gather(aws)`: one per input, in input order.
 *
 * @example
 * ```ts
 * const aws = [sleep(10, "a"), async () => 2] as const;
 * const results: GatherResults<typeof aws> = await gather(aws); // [string, number]
 * console.log(results); // ["a", 2]
 * ```
 */
export type GatherResults<A extends readonly unknown[]> = { -readonly [K in keyof A]: AwaitedResult<A[K]> };

/**
 * The results of `gather(aws, { returnExceptions: true })`: a result or the error in each
 * slot. Typed `Error`, since that is what code throws; a non-Error throwable comes back
 * as it was thrown.
 *
 * @example
 * ```ts
 * const aws = [async () => 1, async () => { throw new Error("no") }] as const;
 * const results: GatherSettledResults<typeof aws> = await gather(aws, { returnExceptions: true });
 * for (const r of results) console.log(r instanceof Error ? r.message : r); // 1, then "no"
 * ```
 */
export type GatherSettledResults<A extends readonly unknown[]> = { -readonly [K in keyof A]: AwaitedResult<A[K]> | Error };

/**
 * The Future `gather` returns (asyncio's `_GatheringFuture`): cancelling it cancels the
 * children instead of marking it cancelled at once, and it ends cancelled once they are
 * all done.
 *
 * @example
 * ```ts
 * const g = gather([() => sleep(1000), () => sleep(1000)]);
 * g.cancel(); // cancels both children; g ends cancelled once they have finished
 * try { await g } catch (e) { console.log(isCancelledError(e), g.cancelled()) } // true true
 * ```
 */
export class GatheringFuture<T> extends Future<T> {
  /** @internal */ readonly _children: readonly Future<unknown>[];
  /** @internal */ _cancelRequested = false;

  /** @internal Use `gather`. */
  constructor(children: readonly Future<unknown>[], loop: EventLoop) {
    super(loop);
    this._children = children;
  }

  /**
   * Cancels every child that is not done; the gather then ends cancelled once all of them
   * have finished (their `finally` blocks have run). Returns `false` if the gather is
   * already done or no child could be cancelled.
   */
  override cancel(msg?: string): boolean {
    if (this.done()) return false;
    let cancelled = false;
    for (const child of this._children) if (child.cancel(msg)) cancelled = true;
    if (cancelled) {
      // Even with returnExceptions, a cancelled gather must end cancelled, or the task that
      // awaits it would never see its own cancellation (CPython bpo-32684).
      this._cancelRequested = true;
    }
    return cancelled;
  }

  /**
   * @internal Every child is done after a cancel: the gather ends cancelled with the
   * `CancelledError` of `from` if that child ended cancelled (after two cancels the
   * children carry the first one's message), else with one built as asyncio builds it, from
   * that child's own cancel message: that of the latest cancel of it that found nothing to
   * interrupt (a task that cancelled itself and caught it), usually none. `from` is, as in
   * asyncio, the first child to end cancelled, without `returnExceptions` (asyncio's gather
   * ends with it at once), else the child of the last argument (asyncio's callback reads it
   * from that one, whichever child finished last).
   */
  _finishCancelled(from: Future<unknown>): void {
    const thrown = from.cancelled() ? thrownBy(from) : undefined;
    if (thrown === undefined) {
      super.cancel((from as { _markedMessage?: string })._markedMessage);
      return;
    }
    this._cancelWith(thrown.error as CancelledError); // the child's own error
  }

  override get [Symbol.toStringTag](): string {
    return "GatheringFuture";
  }

  override toString(): string {
    const pending = this._children.filter((c) => !c.done()).length;
    return `GatheringFuture [${this._describe()}, children: ${this._children.length}, pending: ${pending}]`;
  }
}

/**
 * Runs awaitables concurrently and resolves to their results, in input order (asyncio's
 * `gather`). Typed per position: `gather([sleep(1, "a"), async () => 2])` is a
 * `Future<[string, number]>`. Functions are started as tasks; the same Future or function
 * given twice is one child whose result fills both slots.
 *
 * - A child that fails rejects the gather with its error at once, and the other children
 *   run on (asyncio's semantics: to cancel the rest on the first failure, use `taskGroup`).
 *   With `returnExceptions: true`, errors (and the `CancelledError` of cancelled children)
 *   fill their slots instead and the gather waits for every child.
 * - A child that is cancelled counts as failing with `CancelledError`; the gather itself is
 *   not cancelled.
 * - Cancelling the gather (or the task awaiting it) cancels every child that is not done,
 *   waits until all of them have finished, and then ends cancelled, so no child outlives
 *   it. (asyncio ends it as soon as the first child finishes cancelling.)
 *
 * Which children stop on cancel: functions (started here as tasks), Tasks and Futures; a
 * plain promise cannot be stopped, only its wrapper ends.
 *
 * @throws TypeError at the call if `aws` is not an iterable of Futures, promises or
 *   functions (nothing is started then); RangeError if Futures of different loops are mixed.
 * @example
 * ```ts
 * const [user, posts] = await gather([() => fetchUser(id), () => fetchPosts(id)]);
 * const settled = await gather([ok(), failing()], { returnExceptions: true }); // [value, Error]
 * ```
 */
export function gather<const A extends readonly AwaitableLike<unknown>[]>(aws: A, options?: GatherOptions & { returnExceptions?: false }): GatheringFuture<GatherResults<A>>;
export function gather<const A extends readonly AwaitableLike<unknown>[]>(aws: A, options: GatherOptions & { returnExceptions: true }): GatheringFuture<GatherSettledResults<A>>;
export function gather<T>(aws: Iterable<AwaitableLike<T>>, options?: GatherOptions & { returnExceptions?: false }): GatheringFuture<T[]>;
export function gather<T>(aws: Iterable<AwaitableLike<T>>, options: GatherOptions & { returnExceptions: true }): GatheringFuture<(T | Error)[]>;
export function gather<T>(aws: Iterable<AwaitableLike<T>>, options?: GatherOptions): GatheringFuture<(T | Error)[]>;
export function gather(aws: Iterable<AwaitableLike<unknown>>, options?: GatherOptions): GatheringFuture<unknown[]> {
  const returnExceptions = checkOptions(options);
  const items = collect(aws, "gather");
  if (items.length === 0) {
    const empty = new GatheringFuture<unknown[]>([], getEventLoop());
    empty.setResult([]);
    return empty;
  }
  const { loop, perItem, unique } = toFutures(items, "gather");
  const outer = new GatheringFuture<unknown[]>(unique, loop);
  let finished = 0;
  // Without returnExceptions, the first child to end cancelled after a cancel of the gather,
  // whose CancelledError asyncio's gather ends with at once.
  let firstCancelled: Future<unknown> | undefined;
  const onChildDone = (child: Future<unknown>) => {
    finished++;
    if (outer.done()) {
      // Too late to matter: mark the error as seen so debug mode does not report it.
      if (!child.cancelled()) child.exception();
      return;
    }
    if (!returnExceptions && !outer._cancelRequested) {
      if (child.cancelled()) {
        outer.setException(thrownBy(child)!.error);
        return;
      }
      const failure = failureOf(child);
      if (failure !== undefined) {
        outer.setException(failure.error);
        return;
      }
    }
    if (!returnExceptions && firstCancelled === undefined && child.cancelled()) firstCancelled = child;
    if (finished < unique.length) return;
    if (outer._cancelRequested) {
      for (const c of unique) if (!c.cancelled()) c.exception();
      outer._finishCancelled(firstCancelled ?? perItem[perItem.length - 1]!);
      return;
    }
    const results = perItem.map((c) => {
      const thrown = thrownBy(c);
      return thrown === undefined ? c.result() : thrown.error;
    });
    outer.setResult(results);
  };
  // Children already done (finished eagerly, or given done) count at once, after the rest
  // are hooked: if all are, the gather is done when it is returned (asyncio 3.12+).
  const done: Future<unknown>[] = [];
  for (const child of unique) {
    if (child.done()) done.push(child);
    else child.addDoneCallback(onChildDone);
  }
  for (const child of done) onChildDone(child);
  return outer;
}

function checkOptions(options: GatherOptions | undefined): boolean {
  if (options === undefined || options === null) return false;
  if (typeof options !== "object") throw new TypeError(`gather options must be an object, got ${typeof options}`);
  const value = options.returnExceptions;
  if (value === undefined) return false;
  if (typeof value !== "boolean") throw new TypeError(`gather options.returnExceptions must be a boolean, got ${typeof value}`);
  return value;
}
