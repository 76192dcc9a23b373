import { taskStorage } from "@aiots/core/internal";
import { enqueueReaction } from "./reaction.js";
import type { AwaitTracker, Fireable } from "./reaction.js";

/*
 * Wake-ups held by the task that made them. A task that hands something to another (a
 * release, a put, a get that frees a slot) goes on running until it really waits, and
 * asyncio runs the woken task's step only after that: the waker's step, up to its next real
 * wait, comes first. A task's code here
 * goes on through microtask hops that asyncio's step runs through in one go (the return of
 * an async function, the exit of an `await using` block, the await of something done
 * already), so the wake-up a task's code makes is held, and delivered when that code next
 * waits on a pending aiots future or finishes, or, if it waits on something else (a plain
 * promise, a host callback), once the microtask queue has run dry. Until then a cancel of
 * the woken task still makes its await throw `CancelledError` and gives back what was
 * handed over, as asyncio's does.
 *
 * Held wake-ups are delivered in the order they were made, as asyncio's ready queue runs
 * the woken steps: delivering one delivers every one held before it; a hand-over to a task
 * made by other code while some are held goes in line behind them; any other wake-up
 * (of plain code, or of a future that hands nothing over) first delivers every held one.
 */

/** What `holdWake` did. */
export const NOT_HELD = 0;
export const HELD = 1;
/** The waker holds the wake-up of another task already: this one goes after it, through the loop. */
export const BEHIND = 2;

/**
 * The line of held wake-ups, `[head, size)` not delivered yet: each one's future, who holds
 * it, and its number (counted up for good, so a number names one wake-up). The arrays keep
 * their capacity between uses (the line is usually one long).
 */
const line: (Fireable | undefined)[] = [];
const holders: (AwaitTracker | undefined)[] = [];
const numbers: number[] = [];
let head = 0;
let size = 0;
let made = 0;
let drainScheduled = false;
/** True while held wake-ups are delivered: wake-ups made meanwhile are held by nobody. */
let delivering = false;

/**
 * Holds the wake-up of `waiter` (the task that awaits `future`, a hand-over that just
 * settled) on the task whose code runs now, if that is another task; a wake-up made by
 * other code while some are held goes in line behind them. Returns `NOT_HELD` (deliver as
 * usual), `HELD`, or `BEHIND`.
 */
export function holdWake(future: Fireable, waiter: AwaitTracker | null | undefined): number {
  if (waiter === null || waiter === undefined) return NOT_HELD;
  // (The store read directly: a task's own wake-up, the common case, skips the done() check.)
  const store = delivering ? undefined : (taskStorage.getStore() as AwaitTracker | undefined);
  const waker = store === undefined || store === waiter || store.done() ? null : store;
  if (waker === null) {
    if (head === size) return NOT_HELD;
    // Made after the held ones: it goes after them, with nobody to wait for.
    append(future, undefined);
    return HELD;
  }
  if (waker._heldAt >= 0) return BEHIND;
  waker._heldAt = append(future, waker);
  return HELD;
}

/** Puts `future` at the end of the line; returns its number. */
function append(future: Fireable, holder: AwaitTracker | undefined): number {
  const number = made++;
  if (size < line.length) {
    line[size] = future;
    holders[size] = holder;
    numbers[size] = number;
  } else {
    line.push(future);
    holders.push(holder);
    numbers.push(number);
  }
  size++;
  if (!drainScheduled) {
    drainScheduled = true;
    // A tick queued from a microtask runs once the microtask queue has run dry: every
    // task's code has gone as far as it can without the host, as at the end of a step.
    process.nextTick(deliverAll);
  }
  return number;
}

/**
 * Delivers the wake-up `task` holds, and every one made before it, now. Only from where no
 * primitive is in the middle of an operation (the task's own await, its end): delivering
 * runs the primitives' hand-over code.
 */
export function deliverHeld(task: AwaitTracker): void {
  deliverThrough(task._heldAt);
}

/**
 * Has the wake-ups held now (up to number `last`) delivered from the reaction batch, ahead
 * of what is queued there next: for a wake-up made now and not held, which goes after them,
 * or for a task whose code waits now (`last` is the number of the one it holds).
 */
export function queueHeld(last = made - 1): void {
  if (head < size) enqueueReaction(new HeldUpTo(last), false);
}

/** A place in the reaction batch where the wake-ups held up to a number are delivered. */
class HeldUpTo implements Fireable {
  readonly _last: number;
  constructor(last: number) {
    this._last = last;
  }
  _fire(): void {
    deliverThrough(this._last);
  }
}

function deliverAll(): void {
  drainScheduled = false;
  if (head < size) deliverThrough(Infinity);
}

/**
 * Delivers the held wake-ups up to number `last`, in order, and the ones behind it that
 * nobody holds (made by other code after them).
 */
function deliverThrough(last: number): void {
  const was = delivering;
  delivering = true;
  try {
    while (head < size && (numbers[head]! <= last || holders[head] === undefined)) {
      const future = line[head]!;
      const holder = holders[head];
      if (holder !== undefined) holder._heldAt = -1;
      line[head] = holders[head] = undefined;
      head++;
      future._fire();
    }
  } finally {
    delivering = was;
    if (head >= size) head = size = 0;
    else if (!drainScheduled) {
      // (Only if a delivery threw: what is left goes once the microtasks have run dry.)
      drainScheduled = true;
      process.nextTick(deliverAll);
    }
  }
}
