import { QueueShutDown } from "@aiots/core";
import type { FutureLike } from "@aiots/core";
import { WaiterQueue, onDropped } from "@aiots/core/internal";
import { Future } from "@aiots/future";
import { getEventLoop } from "@aiots/loop";
import { checkMaxsize } from "./support.js";
import type { QueueState } from "./support.js";
import type { ItemStore } from "./store.js";

/**
 * The waiter of a blocked put, holding its item (internal). `dropped` says the caller's
 * `await` threw after it was woken (admitted).
 */
export class PutWaiter<T> extends Future<void> {
  readonly item: T;
  /** Its `await` threw after it was admitted: the item is not put. */
  dropped = false;
  /** Its item went in (or was dropped by a shutdown): the put is done. */
  finished = false;

  constructor(item: T) {
    super(getEventLoop());
    this.item = item;
  }
}

/**
 * The waiter of a blocked get (internal). `landed` says its item reached the code awaiting it:
 * from then on the item is that code's (say, the result of a task that returned the get), and
 * a later cancel of whoever awaits that task does not put it back (as in asyncio, where a
 * task's result is no hand-over), which could have made it both got and queued.
 */
export class GetWaiter<T> extends Future<T> {
  landed = false;
  /** The rank of the item it holds among the items handed to getters (put order). */
  rank = 0;

  constructor() {
    super(getEventLoop());
  }

  /** A cancel of its task before it resumes gives the item back at once (see `QueueCore._giveBack`). */
  override _dropsEarly(): boolean {
    return true;
  }
}

/**
 * What every queue kind shares underneath its API: the buffer, the waiter lines, and the
 * hand-overs between them, with the slots they hold (internal).
 *
 * Both hand-overs go through a waiter Future that the caller awaits itself, so the kernel
 * decides, at the moment the caller's `await` would resume, whether it resumes or throws
 * `CancelledError` (a task cancel that came after the waiter was resolved, asyncio's rule).
 * - A getter is handed its item when it is woken. If its `await` throws instead, the kernel
 *   gives the item back here (`_giveBack`), synchronously; once the item has reached the
 *   awaiting code (`GetWaiter.landed`), it is that code's and is never given back.
 * - A putter is woken with a slot; its item goes in once its `await` was delivered
 *   (`_finishPut`), and only if it did not throw (`dropped`): a cancelled put is not put.
 * Until then each holds a slot (`_reserved`), so a give-back always fits and no newcomer
 * barges in.
 */
export abstract class QueueCore<T> {
  /** @internal */ readonly _maxsize: number;
  /** @internal */ _store: ItemStore<T>;
  /** @internal Consumers waiting on an empty queue; each waiter is resolved with its item. */
  readonly _getters = new WaiterQueue<T>((waiter) => {
    (waiter as GetWaiter<T>).landed = true;
    this._leaveFlight(waiter as GetWaiter<T>);
    this._handedOver();
  });
  /** @internal Getters handed an item whose `await` was not delivered yet, in the order they were woken. */
  readonly _inFlight: GetWaiter<T>[] = [];
  /** @internal The rank of the last item handed to a getter. */
  _lastRank = 0;
  /** @internal The rank of the item `_passAlong` returned. */
  _passedRank = 0;
  /** @internal Producers waiting on a full queue; each waiter is resolved when it is admitted. */
  readonly _putters = new WaiterQueue<void>((waiter) => this._finishPut(waiter as PutWaiter<unknown>));
  /** @internal */ readonly _joiners = new WaiterQueue<void>();
  /**
   * @internal Slots held by hand-overs in progress: items handed to getters whose `await` may
   * still drop them, and slots of admitted putters whose items are not in yet.
   */
  _reserved = 0;
  /** @internal Of the getters' hand-overs in flight (`_getters.handing`), how many came back (a dropped `await`) and already freed their slot. */
  _releasedEarly = 0;
  /** @internal */ _unfinished = 0;
  /** @internal */ _state: QueueState = "open";

  /** Checks `maxsize` (TypeError / RangeError), naming the queue kind. */
  constructor(maxsize: number, store: ItemStore<T>) {
    this._maxsize = checkMaxsize(maxsize, this[Symbol.toStringTag]);
    this._store = store;
  }

  /**
   * Whether the queue has no room: `maxsize` items buffered, counting an item handed to a
   * getter until the microtask its `await` resumes in (asyncio counts it until the woken
   * getter takes it) and a slot made for a waiting putter until its item is in. Never true
   * when unbounded.
   */
  full(): boolean {
    return this._maxsize > 0 && this._store.length + this._reserved >= this._maxsize;
  }

  /** @internal Appends a blocked put of `item` to the putters' line; returns its waiter. */
  _waitToPut(item: T): FutureLike<void> {
    const waiter = this._putters.push(new PutWaiter(item));
    onDropped(waiter, () => {
      // Once the item is in, the put is done: a task that only passed the put's outcome on
      // (`await createTask(() => q.put(x))`) and is cancelled before it resumes does not undo
      // it, as in asyncio, where a task's result is no hand-over.
      if (waiter.finished) return;
      waiter.dropped = true;
      this._reserved--;
      if (this._putters.size > 0) this._admitPutters();
    });
    return waiter;
  }

  /** @internal Appends a blocked get to the getters' line; returns its waiter. */
  _waitToGet(): FutureLike<T> {
    const waiter = this._getters.push(new GetWaiter<T>());
    onDropped(waiter, (item: T) => {
      if (!waiter.landed) this._giveBack(item, waiter);
    });
    return waiter;
  }

  /**
   * @internal Throws, changing nothing, if `item` could not be ordered with an item handed to
   * a getter that has not resumed (it comes back into the buffer if that getter's task is
   * cancelled): a PriorityQueue refuses it at the put, as asyncio's, whose buffer still holds
   * that item, would.
   */
  _checkAgainstInFlight(item: T): void {
    const store = this._store;
    if (store.fifo) return; // (only a PriorityQueue compares: skip the calls for the common kind)
    const line = this._inFlight;
    for (let i = 0; i < line.length; i++) store.checkAgainst(item, line[i]!._result as T);
  }

  /** @internal Puts an admitted item: to the first waiting getter, else into the buffer. */
  _deliver(item: T): void {
    if (this._inFlight.length > 0) this._checkAgainstInFlight(item);
    if (this._getters.size > 0) {
      // A waiting getter means the buffer is empty. Handing it the item, rather than
      // buffering it, means no newcomer can take it before the getter wakes up. The item is
      // checked as if it were buffered (a PriorityQueue refuses what it could never order),
      // so that a getter cancelled after the hand-over can always give it back.
      this._store.check(item);
      this._handOver(item);
    } else {
      this._store.add(item);
    }
    this._unfinished++;
  }

  /**
   * @internal Resolves the first waiting getter with `item`; `_handedOver` runs once the
   * getter's `await` was delivered (the getters' line counts it in `handing` until then).
   */
  _handOver(item: T, rank = ++this._lastRank): void {
    this._reserved++;
    const getter = this._getters.wakeNext(item) as GetWaiter<T>;
    getter.rank = rank;
    this._inFlight.push(getter);
  }

  /**
   * @internal Takes the next item out for a get that does not wait. In a FIFO queue that is
   * the oldest item not yet delivered, as in asyncio, where a woken getter has not taken its
   * item before it resumes: if getters are still in flight, the first of them gives its item
   * to this get and each moves down one (the last takes the buffer's front), so a getter
   * cancelled later gives back an item no one had overtaken.
   */
  _takeOldest(): T {
    const store = this._store;
    const line = this._inFlight;
    if (line.length === 0 || !store.fifo) return store.take();
    const rank = store.frontRank() ?? ++this._lastRank;
    return this._passAlong(store.take(), rank, line.length - 1, -1);
  }

  /**
   * @internal Passes `item` (of `rank`) along the getters in flight from index `from` in
   * direction `step`: each takes the one it is passed and passes its own on. Returns the item
   * left at the end (its rank in `_passedRank`). Only if every one of them can still take
   * another item: one whose item already reached its code (plain code's await, delivered at
   * once) cannot, and passing items past it could give its consumer an older item later, so
   * then nothing is passed and `item` is returned as it is.
   */
  _passAlong(item: T, rank: number, from: number, step: 1 | -1): T {
    const line = this._inFlight;
    this._passedRank = rank;
    for (let i = from; i >= 0 && i < line.length; i += step) if (!line[i]!._replaceable()) return item;
    for (let i = from; i >= 0 && i < line.length; i += step) {
      const getter = line[i]!;
      const theirs = getter._result as T;
      const theirRank = getter.rank;
      getter._result = item;
      getter.rank = rank;
      item = theirs;
      rank = theirRank;
    }
    this._passedRank = rank;
    return item;
  }

  /**
   * @internal `getter` got its item, or gave it back: it is no longer in flight. Returns where
   * it was in the line (-1 if it was not there).
   */
  _leaveFlight(getter: GetWaiter<T>): number {
    const line = this._inFlight;
    if (line[0] === getter) {
      line.shift();
      return 0;
    }
    const at = line.indexOf(getter);
    if (at >= 0) line.splice(at, 1);
    return at;
  }

  /** @internal A getter's `await` was delivered (or dropped): the item's slot is free. */
  readonly _handedOver = (): void => {
    if (this._releasedEarly > 0) this._releasedEarly--;
    else this._reserved--;
    if (this._putters.size > 0) this._admitPutters();
  };

  /**
   * @internal Takes back an item the getter `from` did not take: to the next waiting getter,
   * else the front of the buffer, in the slot the item held. In a FIFO queue the getters
   * handed later items and still in flight first move up one item each (asyncio's woken
   * getters take the oldest item when they resume), so what goes back is the latest of them,
   * and no consumer can get an item after a later one.
   */
  _giveBack(item: T, from: GetWaiter<T>): void {
    if (this._getters.handing > this._releasedEarly) {
      this._reserved--;
      this._releasedEarly++;
    }
    let rank = from.rank;
    const at = this._leaveFlight(from);
    if (at >= 0 && this._store.fifo) {
      item = this._passAlong(item, rank, at, 1);
      rank = this._passedRank;
    }
    if (this._state === "shut down immediately") {
      this._finished(1); // dropped, as shutdown(true) drops what is buffered
    } else if (this._getters.size > 0) {
      this._handOver(item, rank);
    } else {
      try {
        this._store.restore(item, rank);
      } catch (error) {
        // Only a PriorityQueue comparator that cannot compare this item can get here: it
        // went straight to a getter, uncompared.
        this._finished(1);
        this._report("could not take back an item", error);
      }
    }
  }

  /** @internal Room was made: wake waiting putters into it, first come first served. */
  _admitPutters(): void {
    while (this._putters.size > 0 && !this.full()) {
      this._reserved++;
      // `_finishPut` follows the woken putter's delivery.
      this._putters.wakeFirst(undefined);
    }
  }

  /**
   * @internal A putter's `await` was delivered (or dropped) after it was admitted: its
   * item goes in, unless the `await` threw (the slot was freed then).
   */
  readonly _finishPut = (pending: PutWaiter<unknown>): void => {
    if (pending.dropped) return;
    pending.finished = true;
    this._reserved--;
    // Admitted before a shutdown, it was put; shutdown(true) then drops it, as it drops the buffer.
    if (this._state === "shut down immediately") return;
    try {
      this._deliver(pending.item as T);
    } catch (error) {
      // Only a comparator that accepted the item at `put` and now throws can get here.
      if (this._putters.size > 0) this._admitPutters();
      this._report("could not take in an admitted item", error);
    }
  };

  /** @internal `count` items are done with (taskDone, or dropped by `shutdown(true)`). */
  _finished(count: number): void {
    if (count === 0) return;
    this._unfinished = Math.max(0, this._unfinished - count);
    if (this._unfinished === 0) this._joiners.wakeAll(undefined);
  }

  /** @internal Empties the queue for `shutdown(true)` and rejects every waiter. */
  _shutDown(immediate: boolean): void {
    if (immediate) {
      this._state = "shut down immediately";
      const drained = this._store.length;
      this._store.clear();
      this._finished(drained);
    } else if (this._state === "open") {
      this._state = "shut down";
    }
    // Putters can never get in now; getters wait only on an empty queue, which stays empty.
    if (this._putters.size > 0) this._putters.rejectAll(new QueueShutDown());
    if (this._getters.size > 0) this._getters.rejectAll(new QueueShutDown());
  }

  /** @internal An item the queue had to drop, reported to the loop's exception handler. */
  _report(what: string, error: unknown): void {
    getEventLoop().callExceptionHandler({ message: `${this[Symbol.toStringTag]} ${what}`, exception: error });
  }

  abstract get [Symbol.toStringTag](): string;
}
