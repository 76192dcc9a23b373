import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sleep } from "@aiots/future";
import { TimerCallbackHandle, VirtualTimeLoop, run } from "@aiots/loop";
import type { HandleOwner } from "../src/handle.js";
import { TimerHeap } from "../src/timer-heap.js";

/** One step of a random schedule: add a timer, or cancel one added earlier (by index, modulo). */
type Op =
  | { kind: "schedule"; when: number; child: number | null }
  | { kind: "cancel"; pick: number; inCallback: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("schedule" as const),
      // A small range, so equal deadlines are common.
      when: fc.integer({ min: 0, max: 40 }),
      // A timer may schedule a child from its callback, `child` ms after its own deadline.
      child: fc.option(fc.integer({ min: 0, max: 15 }), { freq: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat(), inCallback: fc.boolean() }),
  },
);

interface Timer {
  id: number;
  when: number;
  seq: number;
  handle: TimerCallbackHandle;
  /** Cancelled before it ran. */
  cancelledEarly: boolean;
  ran: number;
}

interface Entry {
  id: number;
  when: number;
  seq: number;
  time: number;
}

/**
 * Applies `ops` on `loop` and returns the timers and the log of what ran. Cancels marked
 * `inCallback` are made by the first timer to run instead of up front.
 */
function applyOps(loop: VirtualTimeLoop, ops: Op[]) {
  const timers: Timer[] = [];
  const log: Entry[] = [];
  const lateCancels: number[] = [];
  let seq = 0;
  const schedule = (when: number, child: number | null) => {
    const timer: Timer = { id: timers.length, when, seq: seq++, handle: undefined as never, cancelledEarly: false, ran: 0 };
    timers.push(timer);
    timer.handle = loop.callAt(when, () => {
      timer.ran++;
      log.push({ id: timer.id, when: timer.when, seq: timer.seq, time: loop.time() });
      for (const pick of lateCancels.splice(0)) cancel(pick);
      if (child !== null) schedule(loop.time() + child, null);
    });
  };
  const cancel = (pick: number) => {
    if (timers.length === 0) return;
    const timer = timers[pick % timers.length]!;
    if (timer.ran === 0 && !timer.handle.cancelled()) timer.cancelledEarly = true;
    timer.handle.cancel();
  };
  for (const op of ops) {
    if (op.kind === "schedule") schedule(op.when, op.child);
    else if (op.inCallback) lateCancels.push(op.pick);
    else cancel(op.pick);
  }
  return { timers, log };
}

function checkRun(timers: Timer[], log: Entry[]): void {
  // Deadline order, then scheduling order.
  for (let i = 1; i < log.length; i++) {
    const a = log[i - 1]!;
    const b = log[i]!;
    expect(a.when < b.when || (a.when === b.when && a.seq < b.seq)).toBe(true);
  }
  // Each callback runs at its own deadline on the virtual clock.
  for (const e of log) expect(e.time).toBe(e.when);
  for (const t of timers) {
    if (t.cancelledEarly) expect(t.ran).toBe(0);
    else expect(t.ran).toBe(1);
  }
}

describe("timers on a VirtualTimeLoop (random schedules and cancellations)", () => {
  it("run in (deadline, insertion) order at their deadline; cancelled ones never, live ones once", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), async (ops) => {
        const loop = new VirtualTimeLoop();
        let result: ReturnType<typeof applyOps> | undefined;
        await run(async () => {
          result = applyOps(loop, ops);
          await sleep(1000);
        }, { loop });
        checkRun(result!.timers, result!.log);
        expect(loop.time()).toBe(1000);
      }),
      { numRuns: 100 },
    );
  });

  it("the same holds when time is moved by advance() on a loop that is not running", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), fc.constantFrom(1, 2, 4, 5), async (ops, steps) => {
        const loop = new VirtualTimeLoop();
        const { timers, log } = applyOps(loop, ops);
        // Several advances of random-ish sizes reach the same end.
        for (let i = 0; i < steps; i++) await loop.advance(100 / steps);
        checkRun(timers, log);
        expect(loop.time()).toBe(100);
        loop.close();
      }),
      { numRuns: 60 },
    );
  });
});

const owner: HandleOwner = { _timerCancelled() {} };

describe("TimerHeap", () => {
  it("pops live handles in (when, seq) order whatever was pushed, cancelled and compacted", () => {
    const stepArb = fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant("push" as const), when: fc.integer({ min: -5, max: 20 }) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("pop" as const) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("compact" as const) }) },
    );
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 80 }), (steps) => {
        const heap = new TimerHeap();
        const model: TimerCallbackHandle[] = [];
        let seq = 0;
        const order = (a: TimerCallbackHandle, b: TimerCallbackHandle) => a._when - b._when || a._seq - b._seq;
        for (const step of steps) {
          if (step.kind === "push") {
            const h = new TimerCallbackHandle(step.when, seq++, () => {}, undefined, owner);
            heap.push(h);
            model.push(h);
          } else if (step.kind === "cancel") {
            if (model.length > 0) model[step.pick % model.length]!.cancel();
          } else if (step.kind === "pop") {
            // The top is always the smallest handle still in the heap, cancelled or not.
            const expected = [...model].sort(order)[0];
            const top = heap.pop();
            expect(top).toBe(expected);
            if (top !== undefined) model.splice(model.indexOf(top), 1);
          } else {
            heap.compact();
            for (let i = model.length - 1; i >= 0; i--) if (model[i]!.cancelled()) model.splice(i, 1);
            expect(heap.size).toBe(model.length);
          }
          expect(heap.size).toBe(model.length);
        }
        const rest: TimerCallbackHandle[] = [];
        for (let h = heap.pop(); h !== undefined; h = heap.pop()) if (!h.cancelled()) rest.push(h);
        expect(rest).toEqual(model.filter((h) => !h.cancelled()).sort(order));
        expect(heap.size).toBe(0);
        expect(heap.peek()).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  });

  it("clear() empties the heap", () => {
    const heap = new TimerHeap();
    for (let i = 0; i < 10; i++) heap.push(new TimerCallbackHandle(10 - i, i, () => {}, undefined, owner));
    expect(heap.peek()!.when()).toBe(1);
    heap.clear();
    expect(heap.size).toBe(0);
    expect(heap.pop()).toBeUndefined();
  });
});
