import { taskStorage } from "@aiots/core/internal";
import { TURN, enqueueReaction } from "./reaction.js";
import type { AwaitTracker, Fireable } from "./reaction.js";

/*
 * A wake-up held by the task that made it. A task that wakes another one awaiting a future
 * (it hands something over: a release, a put, a get that frees a slot; it sets an event or a
 * result; it cancels or fails the wait: a task cancel, a queue shutdown) goes on running
 * until it really waits, and
 * asyncio runs the woken task's step only after that: the waker's step, up to its next real
 * wait, comes first. A task's code here goes on through microtask hops that asyncio's step
 * runs through in one go (the return of an async function, the exit of an `await using`
 * block, the await of something done already), so the wake-up a task's code makes is held,
 * and delivered when that code next waits on a pending aiots future or its task ends, or
 * after `HOLD_HOPS` microtask turns at most (a waker that waits on a plain promise, or polls
 * with `await null`, must not keep it forever). Until then a cancel of the woken task still
 * makes its await throw `CancelledError` and gives back what was handed over, as asyncio's
 * does.
 *
 * One wake-up is held at a time, and wake-ups keep the order they were made in. Another
 * wake-up the same task's code makes goes after the held one through the loop's ready queue
 * (its woken task goes on in a step of its own, after the held one's). Any other wake-up
 * (another task's code, a callback, plain code) lets the held one go first, from the
 * reaction batch: tasks whose code runs side by side in microtasks, which asyncio's steps
 * never do, do not wait on each other.
 */

/** The most microtask turns a wake-up stays held while its waker goes on without waiting. */
const HOLD_HOPS = 32;

/** The wake-up held now, and the task whose code made it. */
let held: Fireable | undefined;
let holder: AwaitTracker | undefined;
/** Microtask turns left to the wake-up held now, and whether a countdown is running (one at most). */
let hopsLeft = 0;
let counting = false;
/** True while a held wake-up is delivered: wake-ups made meanwhile are not held. */
let delivering = false;

/** Whether a wake-up is held now. */
export function holding(): boolean {
  return held !== undefined;
}

/** Whether `task` holds the wake-up held now. */
export function isHolder(task: AwaitTracker): boolean {
  return holder === task;
}

/**
 * Whether the code running now is that of the task holding the wake-up held now (read only
 * while one is: it costs a read of the task store).
 */
export function holderRunsNow(): boolean {
  return taskStorage.getStore() === holder;
}

/**
 * Holds the wake-up of `waiter` (the task that awaits `future`, a hand-over that just
 * settled) if the code running now is another task's. Nothing is held when it is called
 * (`_queueReactions` lets a held one go first). Returns whether it is held.
 */
export function holdWake(future: Fireable, waiter: AwaitTracker | null | undefined): boolean {
  if (waiter === null || waiter === undefined || delivering) return false;
  // (The store read directly: a task's own wake-up, the common case, skips the done() check.)
  const store = taskStorage.getStore() as AwaitTracker | undefined;
  if (store === undefined || store === waiter || store.done()) return false;
  held = future;
  holder = store;
  hopsLeft = HOLD_HOPS;
  if (!counting) {
    counting = true;
    void TURN.then(countdown);
  }
  return true;
}

/** One microtask turn of the held wake-up's time: delivered when the turns run out. */
function countdown(): void {
  if (held === undefined) counting = false;
  else if (--hopsLeft > 0) void TURN.then(countdown);
  else {
    counting = false;
    deliverFuture(take());
  }
}

/**
 * Delivers the wake-up held now, whose holder's code waits now or has ended (see `isHolder`).
 * Only from where no primitive is in the middle of an operation (the holder's own await, its
 * end): delivering runs the primitives' hand-over code.
 */
export function deliverHeld(): void {
  const future = take();
  // Held ones let go earlier and still waiting in the reaction batch were made first.
  if (inBatch.length > 0) deliverLetGo();
  deliverFuture(future);
}

/**
 * Has the held wake-up, if any, delivered from the reaction batch, ahead of what is queued
 * there next: for a wake-up made now (which goes after it), or for the holder, whose code
 * waits now through `then` (which may be called from inside a primitive's own code).
 */
export function queueHeld(): void {
  if (held === undefined) return;
  const delivery = new HeldDelivery(take());
  inBatch.push(delivery);
  enqueueReaction(delivery, false);
}

/** Held wake-ups let go to the reaction batch and not delivered yet, in order. */
const inBatch: HeldDelivery[] = [];

/** Delivers, in order, the held wake-ups let go to the reaction batch that are still waiting there. */
function deliverLetGo(): void {
  const all = inBatch.splice(0);
  for (const delivery of all) delivery._fire();
}

/** The held wake-up, taken out of its slot. */
function take(): Fireable {
  const future = held!;
  held = holder = undefined;
  return future;
}

/** A held wake-up's delivery from the reaction batch. */
class HeldDelivery implements Fireable {
  _future: Fireable | undefined;
  constructor(future: Fireable) {
    this._future = future;
  }
  _fire(): void {
    const future = this._future;
    if (future === undefined) return;
    this._future = undefined;
    const at = inBatch.indexOf(this);
    if (at >= 0) inBatch.splice(at, 1);
    deliverFuture(future);
  }
}

function deliverFuture(future: Fireable): void {
  const was = delivering;
  delivering = true;
  try {
    future._fire();
  } finally {
    delivering = was;
  }
}
