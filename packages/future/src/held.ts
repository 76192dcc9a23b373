import { taskStorage } from "@aiots/core/internal";
import { TURN, enqueueReaction, resumptions } from "./reaction.js";
import type { AwaitTracker, Fireable } from "./reaction.js";

/*
 * A wake-up held by the task that made it. A task that hands something to another (a
 * release, a put, a get that frees a slot) goes on running until it really waits, and
 * asyncio runs the woken task's step only after that: the waker's step, up to its next real
 * wait, comes first. A task's code here goes on through microtask hops that asyncio's step
 * runs through in one go (the return of an async function, the exit of an `await using`
 * block, the await of something done already), so the wake-up a task's code makes is held,
 * and delivered when that code next waits on a pending aiots future or its task ends, or
 * after `HOLD_HOPS` microtask turns at most (a waker that waits on a plain promise, or
 * polls with `await null`, must not keep it forever). Until then a cancel of the woken task
 * still makes its await throw `CancelledError` and gives back what was handed over, as
 * asyncio's does.
 *
 * One wake-up is held at a time. While it is, the wake-up of any other task goes through the
 * loop's ready queue, as when a woken task is already on its way (see `wakesAnother`): each
 * woken task goes on in a step of its own, in the order they were woken.
 */

/** What `holdWake` did. */
export const NOT_HELD = 0;
export const HELD = 1;
/** A wake-up is held already: this one goes after it, through the loop. */
export const BEHIND = 2;

/** The most microtask turns a wake-up stays held while its waker goes on without waiting. */
const HOLD_HOPS = 32;

/** The wake-up held now, its holder, and a number naming it (so a stale countdown stops). */
let held: Fireable | undefined;
let holder: AwaitTracker | undefined;
let heldNumber = 0;
let hopsLeft = 0;
/** True while the held wake-up is delivered: wake-ups made meanwhile are not held. */
let delivering = false;

/**
 * Holds the wake-up of `waiter` (the task that awaits `future`, a hand-over that just
 * settled) on the task whose code runs now, if that is another task. Returns `NOT_HELD`
 * (deliver as usual), `HELD`, or `BEHIND`.
 */
export function holdWake(future: Fireable, waiter: AwaitTracker | null | undefined): number {
  if (waiter === null || waiter === undefined || delivering) return NOT_HELD;
  if (held !== undefined) return BEHIND;
  // (The store read directly: a task's own wake-up, the common case, skips the done() check.)
  const store = taskStorage.getStore() as AwaitTracker | undefined;
  if (store === undefined || store === waiter || store.done()) return NOT_HELD;
  held = future;
  holder = store;
  store._heldAt = ++heldNumber;
  resumptions.held = waiter;
  hopsLeft = HOLD_HOPS;
  void TURN.then(countdown);
  return HELD;
}

/** One microtask turn of the held wake-up's time: delivered when the turns run out. */
function countdown(): void {
  if (held === undefined) return;
  if (--hopsLeft > 0) void TURN.then(countdown);
  else deliver();
}

/**
 * Delivers the wake-up `task` holds, now. Only from where no primitive is in the middle of
 * an operation (the task's own await, its end): delivering runs the primitives' hand-over code.
 */
export function deliverHeld(task: AwaitTracker): void {
  if (holder === task) deliver();
  else task._heldAt = -1;
}

/**
 * Has the held wake-up delivered from the reaction batch, ahead of what is queued there next:
 * for a wake-up made now that is not a task's (so it goes after it), or for the holder, whose
 * code waits now through `then` (which may be called from inside a primitive's own code).
 */
export function queueHeld(): void {
  if (held !== undefined) enqueueReaction(new HeldDelivery(heldNumber), false);
}

/** The held wake-up's delivery from the reaction batch, unless it went already. */
class HeldDelivery implements Fireable {
  readonly _number: number;
  constructor(number: number) {
    this._number = number;
  }
  _fire(): void {
    if (held !== undefined && heldNumber === this._number) deliver();
  }
}

function deliver(): void {
  const future = held!;
  holder!._heldAt = -1;
  held = holder = undefined;
  resumptions.held = undefined;
  delivering = true;
  try {
    future._fire();
  } finally {
    delivering = false;
  }
}
