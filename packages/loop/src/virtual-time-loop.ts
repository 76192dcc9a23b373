import { setImmediate as hostImmediate } from "node:timers";
import { checkObject, checkTime } from "@aiots/core/internal";
import { EventLoop } from "./event-loop.js";

/**
 * Options of `VirtualTimeLoop`.
 *
 * @example
 * ```ts
 * const loop = new VirtualTimeLoop({ start: 1000 });
 * loop.callLater(500, () => console.log("fired at", loop.time()));
 * await loop.advance(500); // "fired at 1500"
 * ```
 */
export interface VirtualTimeLoopOptions {
  /** The clock's starting time in ms (default 0). */
  start?: number;
}

/** How many host macrotasks `advance` lets pass while callbacks keep coming, before it moves on. */
const MAX_SETTLE_ROUNDS = 10_000;

/**
 * An event loop on a virtual clock, for tests. Same API as `EventLoop`; time stands still
 * while anything can run, and while the loop is running (`run`, `runUntilComplete`,
 * `runForever`) it jumps to the next timer as soon as everything waits. So
 * `await sleep(3_600_000)` finishes at once, with `loop.time()` 3,600,000 later, and tests
 * of hour-long timeouts are fast and deterministic.
 *
 * "Everything waits" means: the ready queue is empty after a host macrotask, so every
 * microtask has settled. Work outside the loop (real I/O, a real `setTimeout`) is not
 * waited for: time can jump past it. When the loop is not running, time moves only by
 * `advance(ms)`. It uses no host timer and takes its host macrotasks from `node:timers`,
 * so fake timers that replace the global functions (`vi.useFakeTimers()`) neither drive nor
 * stop it.
 *
 * @example
 * ```ts
 * const loop = new VirtualTimeLoop();
 * const took = await run(async () => {
 *   const start = getRunningLoop().time();
 *   await sleep(3_600_000);
 *   return getRunningLoop().time() - start;
 * }, { loop });
 * console.log(took); // 3600000, at once
 * ```
 */
export class VirtualTimeLoop extends EventLoop {
  /** @internal */ _now: number;
  /** @internal */ _jumpScheduled = false;
  /** @internal */ readonly _jump = (): void => {
    this._jumpScheduled = false;
    this._runScoped(jumpToNextTimer);
  };

  constructor(options: VirtualTimeLoopOptions = {}) {
    checkObject(options, "VirtualTimeLoop options");
    super();
    const start = options.start ?? 0;
    checkTime(start, "VirtualTimeLoop start");
    if (!Number.isFinite(start)) throw new RangeError(`VirtualTimeLoop start must be finite, got ${start}`);
    this._now = start;
  }

  /** The virtual time in ms. */
  override time(): number {
    return this._now;
  }

  /**
   * Moves the clock forward by `ms`, running every timer that falls due on the way, each
   * at its own time, and letting the callbacks and tasks they wake settle before the next.
   * Resolves when the clock reads `time() + ms` and the loop has settled. Await it.
   *
   * @throws (at the call) RangeError if `ms` is negative, `NaN` or not finite; TypeError if
   *   not a number; Error if the loop is closed.
   */
  advance(ms: number): Promise<void> {
    checkTime(ms, "advance");
    if (ms < 0 || !Number.isFinite(ms)) throw new RangeError(`advance needs a finite ms >= 0, got ${ms}`);
    this._checkOpen();
    return this._advanceTo(this._now + ms);
  }

  /** @internal Runs every timer due up to `target`, each at its own time, then sets the clock to `target`. */
  async _advanceTo(target: number): Promise<void> {
    for (;;) {
      await this._settle();
      const next = this._timers.next();
      if (next === undefined || next._when > target) break;
      if (next._when > this._now) this._now = next._when;
      this._iterate();
    }
    this._now = target;
    await this._settle();
  }

  /** @internal Waits host macrotasks until the ready queue stays empty. */
  async _settle(): Promise<void> {
    for (let i = 0; i < MAX_SETTLE_ROUNDS; i++) {
      await new Promise<void>((resolve) => this._hostTurn(resolve));
      if (!this._hasReady() && !this._iterationScheduled) return;
    }
  }

  /** @internal No host timer: while running, jump instead once everything waits. */
  override _armTimer(): void {
    if (!this._running || this._jumpScheduled || this._closed) return;
    const next = this._timers.next();
    // A timer at Infinity never fires: with nothing else to do, the loop simply waits.
    if (next === undefined || next._when === Infinity) return;
    this._jumpScheduled = true;
    this._hostTurn(this._jump);
  }

  /** @internal Its host macrotasks (iterations, jumps, settling) come from `node:timers`, which fake timers do not replace. */
  override _hostTurn(fn: () => void): void {
    hostImmediate(fn);
  }

  /** @internal */
  override _disarmHostTimer(): void {}
}

function jumpToNextTimer(loop: VirtualTimeLoop): void {
  if (loop._closed || !loop._running) return;
  // Something became runnable since the jump was planned: that iteration re-plans it.
  if (loop._hasReady() || loop._iterationScheduled) return;
  const next = loop._timers.next();
  if (next === undefined || next._when === Infinity) return;
  if (next._when > loop._now) loop._now = next._when;
  loop._runOnce();
}
