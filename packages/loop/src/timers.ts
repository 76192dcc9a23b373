import { TimerCallbackHandle } from "./handle.js";
import type { CallbackHandle, HandleOwner } from "./handle.js";
import { TimerHeap } from "./timer-heap.js";

/** Below this many cancelled timers the heap is never compacted (not worth it). */
const COMPACT_MIN = 64;

/**
 * A loop's scheduled timers: the heap, and how many of the handles in it are cancelled.
 * Cancelling a timer is O(1): the handle stays in the heap and is dropped when it reaches
 * the top, or when more than half of the heap is cancelled and it is compacted, so
 * schedule-and-cancel churn cannot make the heap grow without bound.
 */
export class Timers {
  /** @internal */ readonly _heap = new TimerHeap();
  /** @internal How many handles in the heap are cancelled. */
  _cancelled = 0;
  /** @internal Tie-breaker handed to each new timer: equal deadlines run in scheduling order. */
  _seq = 0;

  /** Handles in the heap, cancelled ones included. */
  get size(): number {
    return this._heap.size;
  }

  /** Live timers. */
  get live(): number {
    return this._heap.size - this._cancelled;
  }

  add(when: number, cb: (...args: never[]) => unknown, args: unknown[] | undefined, owner: HandleOwner, arg: unknown): TimerCallbackHandle {
    const handle = new TimerCallbackHandle(when, this._seq++, cb, args, owner, arg);
    this._heap.push(handle);
    return handle;
  }

  /** The earliest live timer, dropping cancelled ones on top. */
  next(): TimerCallbackHandle | undefined {
    const heap = this._heap;
    while (heap.size > 0) {
      const top = heap.peek()!;
      if (!top._cancelled) return top;
      heap.pop();
      this._cancelled--;
    }
    return undefined;
  }

  /** Moves every live timer due at `now` to `ready`, earliest first. */
  collectDue(now: number, ready: CallbackHandle[]): void {
    for (let top = this.next(); top !== undefined && top._when <= now; top = this.next()) {
      this._heap.pop();
      top._owner = undefined;
      ready.push(top);
    }
  }

  /**
   * Counts a handle of the heap as cancelled. Returns true if no live timer is left: the
   * heap is then emptied, so the loop can drop its host timer and let the process exit.
   */
  noteCancelled(): boolean {
    const heap = this._heap;
    const cancelled = ++this._cancelled;
    if (cancelled === heap.size) {
      this.clear();
      return true;
    }
    if (cancelled > COMPACT_MIN && cancelled * 2 > heap.size) {
      heap.compact();
      this._cancelled = 0;
    }
    return false;
  }

  clear(): void {
    this._heap.clear();
    this._cancelled = 0;
  }
}
