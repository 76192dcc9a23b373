import { BrokenBarrierError } from "@aiots/core";
import type { WaitOptions } from "@aiots/core";
import { checkInteger, checkWaitOptions } from "@aiots/core/internal";
import { Condition } from "./condition.js";
import { Turns, aborted } from "./waiting.js";

/**
 * The states of a `Barrier` (asyncio's `_BarrierState`): `filling` while parties arrive,
 * `draining` while the parties of a completed round leave, `resetting` while the parties
 * of a reset round leave, and `broken` after `abort()` until `reset()`.
 *
 * @example
 * ```ts
 * const barrier = new Barrier(2);
 * console.log(barrier.state); // "filling"
 * await barrier.abort();
 * console.log(barrier.state, barrier.broken); // "broken" true
 * ```
 */
export type BarrierState = "filling" | "draining" | "resetting" | "broken";

/**
 * A meeting point for a fixed number of parties (asyncio's `Barrier`, 3.11+). Each
 * `wait()` blocks until `parties` callers are waiting, then all return together, each with
 * its arrival index (`0` to `parties - 1`). The barrier can be used again at once: callers
 * that arrive while a round drains wait for the next round.
 *
 * `reset()` sends the current round's waiters a `BrokenBarrierError` and makes the
 * barrier usable again; `abort()` breaks it: current and later waiters get a
 * `BrokenBarrierError` until `reset()`. A waiter that is cancelled (or whose `signal`
 * aborts) while the barrier fills simply leaves: the barrier does not break, as in
 * asyncio (unlike `threading.Barrier`). One cancelled after its round completed but before
 * it resumed throws `CancelledError` (asyncio too) and leaves; the others still return.
 *
 * Built like asyncio's, on a `Condition`, so every state change is asyncio's. Parties
 * released together go on in the order they were woken, each (and the code it returns to)
 * running until it next waits before the next one leaves the round, as asyncio's task
 * steps do. So a `reset()` or `abort()` by a party that has left breaks the parties not
 * yet out, as in asyncio. asyncio runs those steps in one loop iteration; here each party
 * gets an iteration of its own (woken code resumes as microtasks, which would otherwise
 * interleave), so releasing `n` parties takes `n` iterations.
 *
 * @throws TypeError if `parties` is not a number; RangeError if it is not an integer >= 1.
 * @example
 * ```ts
 * const barrier = new Barrier(3);
 * const results = await Promise.all([0, 1, 2].map(() => barrier.wait()));
 * console.log(results.sort()); // [0, 1, 2]
 * ```
 */
export class Barrier {
  /** @internal Every state change happens holding its lock and is announced with `notifyAll`. */
  readonly _cond = new Condition();
  /** @internal */ readonly _parties: number;
  /** @internal */ _state: BarrierState = "filling";
  /** @internal The parties inside `wait()` (arrived, and not yet left). */
  _count = 0;

  constructor(parties: number) {
    checkInteger(parties, "Barrier parties", 1);
    this._parties = parties;
    this._cond._turns = new Turns();
  }

  /** The number of parties a round needs. */
  get parties(): number {
    return this._parties;
  }

  /** How many parties wait in the current round (0 unless `filling`; asyncio's `n_waiting`). */
  get nWaiting(): number {
    return this._state === "filling" ? this._count : 0;
  }

  /** Whether the barrier is broken (after `abort()`, until `reset()`). */
  get broken(): boolean {
    return this._state === "broken";
  }

  /** The current state (see `BarrierState`). */
  get state(): BarrierState {
    return this._state;
  }

  /**
   * Waits until `parties` callers wait, then resolves to this caller's arrival index
   * (`parties - 1` for the one that completed the round). Interrupted by cancelling the
   * awaiting task (the caller then leaves the round). The index is how many were waiting
   * when the caller arrived, so after a party left a filling round two parties of that round
   * can share an index (asyncio's is the same count).
   *
   * @param options.signal aborting it withdraws this caller from the round, and the call
   *   rejects with the signal's reason; an already aborted signal rejects at once.
   * @throws TypeError (at the call) for bad `options`. Rejects with `BrokenBarrierError`
   *   if the barrier is broken, or is reset or aborted while this caller waits.
   * @example
   * ```ts
   * const index = await barrier.wait();
   * if (index === 0) console.log("first to arrive");
   * ```
   */
  wait(options?: WaitOptions): Promise<number> {
    const signal = checkWaitOptions(options, "Barrier.wait");
    if (signal !== undefined && signal.aborted) return aborted(signal);
    return this._wait(signal);
  }

  /**
   * Puts the barrier back to `filling`. Parties waiting in the current round reject with
   * `BrokenBarrierError`; the barrier is usable again once they have left (asyncio's
   * `reset`). Resolves once done; it briefly takes the barrier's internal lock.
   *
   * @param options.signal aborting it (before the lock is taken) withdraws the reset.
   * @throws TypeError (at the call) for bad `options`.
   * @example
   * ```ts
   * await barrier.reset();
   * ```
   */
  reset(options?: WaitOptions): Promise<void> {
    const signal = checkWaitOptions(options, "Barrier.reset");
    if (signal !== undefined && signal.aborted) return aborted(signal);
    return this._locked(signal, resetState);
  }

  /**
   * Breaks the barrier: every current and later `wait()` rejects with
   * `BrokenBarrierError` until `reset()` (asyncio's `abort`). Resolves once done.
   *
   * @param options.signal aborting it (before the lock is taken) withdraws the abort.
   * @throws TypeError (at the call) for bad `options`.
   * @example
   * ```ts
   * try { await work() } catch (e) { await barrier.abort(); throw e }
   * ```
   */
  abort(options?: WaitOptions): Promise<void> {
    const signal = checkWaitOptions(options, "Barrier.abort");
    if (signal !== undefined && signal.aborted) return aborted(signal);
    return this._locked(signal, breakState);
  }

  /** @internal */
  async _wait(signal: AbortSignal | undefined): Promise<number> {
    const cond = this._cond;
    // Nothing here waits unless it has to: asyncio's `wait` runs to its first real wait in
    // one step, so a barrier of one lets a task through in that step, and the parties that
    // arrive in one step are all counted in it. (Awaiting a settled promise would let other
    // code in at each await, with the lock held.)
    const entering = this._enter(signal);
    if (entering !== undefined) await entering;
    try {
      // Wait while the previous round drains or resets, then refuse if broken.
      const open = () => this._state !== "draining" && this._state !== "resetting";
      if (!open()) await cond.waitFor(open, { signal });
      if (this._state === "broken") throw new BrokenBarrierError("Barrier aborted");
      const index = this._count++;
      try {
        if (index + 1 === this._parties) {
          // The round is complete: let everyone in it go.
          this._state = "draining";
          cond.notifyAll();
        } else {
          const released = () => this._state !== "filling";
          if (!released()) await cond.waitFor(released, { signal });
          const state = this.state; // re-read: it changed while we waited
          if (state === "broken" || state === "resetting") {
            throw new BrokenBarrierError("Barrier aborted or reset while waiting");
          }
        }
        return index;
      } finally {
        this._count--;
        this._leave();
      }
    } finally {
      cond.release();
    }
  }

  /** @internal The last party out of a draining or resetting round refills the barrier. */
  _leave(): void {
    if (this._count === 0) {
      if (this._state === "resetting" || this._state === "draining") this._state = "filling";
      this._cond.notifyAll();
    }
  }

  /**
   * @internal Takes the condition's lock: at once if it is free (undefined: nothing to
   * await, so no other code runs in between), else the acquire to await.
   */
  _enter(signal: AbortSignal | undefined): Promise<true> | undefined {
    if ((signal === undefined || !signal.aborted) && this._cond._lock._tryAcquire()) return undefined;
    return this._cond.acquire(signal === undefined ? undefined : { signal });
  }

  /** @internal Runs `change` holding the condition's lock, then wakes every waiter. */
  async _locked(signal: AbortSignal | undefined, change: (barrier: Barrier) => void): Promise<void> {
    const cond = this._cond;
    const entering = this._enter(signal);
    if (entering !== undefined) await entering;
    try {
      change(this);
      cond.notifyAll();
    } finally {
      cond.release();
    }
  }

  get [Symbol.toStringTag](): string {
    return "Barrier";
  }

  /** `Barrier [filling, waiters: 2/5]` or `Barrier [broken]`. */
  toString(): string {
    const waiters = this._state === "broken" ? "" : `, waiters: ${this.nWaiting}/${this._parties}`;
    return `Barrier [${this._state}${waiters}]`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

function resetState(barrier: Barrier): void {
  if (barrier._count > 0) {
    // Waiters of the current round are woken and throw; the last one out refills.
    barrier._state = "resetting";
  } else {
    barrier._state = "filling";
  }
}

function breakState(barrier: Barrier): void {
  barrier._state = "broken";
}
