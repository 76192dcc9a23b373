/**
 * `uncancel()` and cancel messages under interleavings that fast-check's scheduler picks.
 * Trees of tasks (some eager) guard their aiots awaits (`sleep(0)`, a future the scheduler
 * resolves, a child task) and react to a `CancelledError` there as asyncio code does: not at
 * all, catch and rethrow, catch and return a value, or catch, `uncancel()` (once, or until
 * the count is 0: TaskGroup's and timeout's pattern) and go on with a `sleep(0)` probe; the
 * catch may first clean up over a plain promise, maybe while the task is cancelled again. Tasks
 * and an outside canceller send bursts of `cancel(msg)`, each with a message of its own, at
 * once or when the scheduler releases them, while others wait on plain promises. Every
 * `cancel()` on a task is seen (an own `cancel` wraps the task's, so the cancels a parent
 * passes down to the child it awaits count too). Checked, in terms that hold under the
 * documented rules (a cancel that finds no pending aiots await lands at the next one, with
 * the latest message; one made after a wake-up but before the code resumes may land at the
 * next await rather than the woken one):
 * - `cancelling()` always equals the cancels that returned true minus the `uncancel()` calls
 *   that took one back, and `uncancel()` returns that count, never below 0;
 * - an await of `sleep(0)` or a future that starts with `cancelling()` at 0 and that no
 *   `cancel()` reaches while it waits completes: requests taken back by `uncancel()` down to 0
 *   never interrupt the task again (the probe after the catch is such an await);
 * - the `CancelledError` caught at an await of a future carries the message of the first
 *   cancel that found that future pending (first message wins, as in asyncio), or of the
 *   latest cancel before the await began if one was pending then; a cancel that came after the
 *   future's result carries one sent during the await (asyncio: the latest, as its task's
 *   `_cancel_message` is overwritten once nothing is left to cancel); elsewhere it carries the
 *   message of some cancel of that task (or of the awaited child), never one it threw before;
 * - a task that catches and returns a value ends with that value; one that rethrows (or does
 *   not catch) ends cancelled with that very error;
 * - `signal` is aborted exactly while `cancelling()` > 0 or once the task ended cancelled
 *   (also through its child's error, with no request of its own), and an `uncancel()` to 0
 *   hands out a fresh, unaborted signal;
 * - every started function's `finally` runs once, a task cancelled before its first step
 *   never runs it, and everything ends (a run that takes 2 s of real time fails as a hang).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Future, VirtualTimeLoop, createTask, currentTask, isCancelledError, run, sleep } from "aiots";
import type { Task } from "aiots";

const NUM_RUNS = Number(process.env.UNCANCEL_RUNS ?? process.env.RUNS ?? 1_500);
const HANG_MS = 15_000;
/** What a task returns from a catch: this plus its id (a normal return gives the id). */
const FROM_CATCH = 1_000;

/** What the task does when its guarded await throws `CancelledError`. */
type Reaction = "bare" | "rethrow" | "returns" | "uncancelOnce" | "uncancelAll";

/**
 * Whether the catch first cleans up over a plain promise (where a cancel can only mark the
 * task), maybe while someone cancels the task again, when the scheduler says.
 */
type Tidy = "no" | "hop" | "hopWhileRecancelled";

type Target = { on: "sleep0" } | { on: "future" } | { on: "child"; body: Op[] };

type Op =
  /** Awaits a plain promise the scheduler releases: a cancel cannot interrupt it. */
  | { op: "hop" }
  | { op: "wait"; target: Target; reaction: Reaction; tidy: Tidy }
  /** `burst` cancels in a row of the task picked (modulo), each with a fresh message. */
  | { op: "cancel"; pick: number; burst: number; now: boolean };

const reactionArb = fc.constantFrom<Reaction>("bare", "rethrow", "returns", "uncancelOnce", "uncancelOnce", "uncancelAll", "uncancelAll");
const tidyArb = fc.constantFrom<Tidy>("no", "hop", "hopWhileRecancelled");
const burstArb = fc.integer({ min: 1, max: 3 });

const bodyArb: fc.Arbitrary<Op[]> = fc.letrec<{ body: Op[]; op: Op; target: Target }>((tie) => ({
  target: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom<Target>({ on: "sleep0" }, { on: "future" }),
    fc.record({ on: fc.constant("child" as const), body: tie("body") }),
  ),
  op: fc.oneof(
    { arbitrary: fc.constant<Op>({ op: "hop" }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant("wait" as const), target: tie("target"), reaction: reactionArb, tidy: tidyArb }), weight: 3 },
    { arbitrary: fc.record({ op: fc.constant("cancel" as const), pick: fc.nat(30), burst: burstArb, now: fc.boolean() }), weight: 2 },
  ),
  body: fc.array(tie("op"), { maxLength: 5 }),
})).body;

const worldArb = fc.record({
  roots: fc.array(bodyArb, { minLength: 1, maxLength: 3 }),
  /** Cancels from outside any tree: after `turns` sleeps of the canceller, when the scheduler says. */
  outside: fc.array(fc.record({ pick: fc.nat(30), burst: burstArb, turns: fc.nat(3) }), { maxLength: 4 }),
  /** Bit `id % 30`: the task starts eagerly. */
  eagerBits: fc.integer({ min: 0, max: 2 ** 30 - 1 }),
  /** Bit `id % 30`: the task's `signal` is read at every check (else only in its catches). */
  signalBits: fc.integer({ min: 0, max: 2 ** 30 - 1 }),
});

/** What the run knows of one task. */
interface Life {
  readonly id: number;
  task: Task<number> | undefined;
  readonly readsSignal: boolean;
  began: boolean;
  finallyRuns: number;
  /** The messages of the `cancel()` calls on it that returned true, in order. */
  requests: string[];
  /** How many `uncancel()` calls took a request back. */
  takebacks: number;
  /** Whether a `cancel()` returned true before its function began. */
  cancelledEarly: boolean;
  /** The messages of the `CancelledError`s its guarded awaits threw. */
  caught: string[];
  /** The future its guarded await waits on now, and the cancel that first found it pending. */
  watched: { future: Future<number>; reachedBy: string | undefined } | undefined;
  /** What it returned from a catch. */
  fromCatch: number | undefined;
  /** What its function threw. */
  escaped: unknown;
}

const pending = (life: Life): number => life.requests.length - life.takebacks;
const bit = (bits: number, id: number): boolean => ((bits >>> id % 30) & 1) === 1;

/** The error `fn` throws, or `undefined`. */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error;
  }
}

/** One world: its tasks run to the end on a fresh loop, then every check is made. */
const uncancelProperty = fc.asyncProperty(fc.scheduler(), worldArb, async (s, world) => {
  let sent = 0;
  const problems: string[] = [];
  const lives: Life[] = [];

  const release = (label: string, then: () => void): void => {
    void s.schedule(Promise.resolve(label), label).then(then);
  };

  /** The count, and the signal where the task reads it, agree with what was seen. */
  const audit = (life: Life, task: Task<number>, where: string): void => {
    const want = pending(life);
    if (task.cancelling() !== want) problems.push(`${where}: task ${life.id} has cancelling() ${task.cancelling()}, expected ${want}`);
    if (!life.readsSignal) return;
    const aborted = task.signal.aborted;
    if (aborted !== (want > 0 || task.cancelled())) problems.push(`${where}: task ${life.id} signal aborted=${aborted} with ${want} requests pending`);
  };

  /** Wraps `task.cancel`, so every cancel of it (a parent's passed down too) is seen. */
  const watch = (life: Life, task: Task<number>): void => {
    const inner = task.cancel.bind(task);
    task.cancel = (msg?: string): boolean => {
      const watched = life.watched;
      const foundPending = watched !== undefined && !watched.future.done();
      const early = !life.began;
      if (!inner(msg)) return false;
      life.requests.push(msg ?? "");
      if (early) life.cancelledEarly = true;
      if (foundPending && watched.future.cancelled()) watched.reachedBy ??= msg;
      audit(life, task, "after cancel()");
      return true;
    };
  };

  const fire = (pick: number, burst: number): void => {
    const life = lives[pick % lives.length];
    // (An eager task's first step runs before `createTask` returns it.)
    if (life?.task === undefined) return;
    for (let n = 0; n < burst; n++) life.task.cancel(`m${++sent}`);
  };

  const spawn = (body: Op[]): Life => {
    const id = lives.length;
    const life: Life = { id, task: undefined, readsSignal: bit(world.signalBits, id), began: false, finallyRuns: 0, requests: [], takebacks: 0, cancelledEarly: false, caught: [], watched: undefined, fromCatch: undefined, escaped: undefined };
    lives.push(life);
    const fn = async (): Promise<number> => {
      life.began = true;
      if (life.cancelledEarly) problems.push(`task ${id} began after a cancel that came before its first step`);
      const me = currentTask() as Task<number>;
      try {
        for (const op of body) {
          audit(life, me, `before ${op.op}`);
          const value = await perform(life, me, op);
          if (value !== undefined) return value;
        }
        return id;
      } catch (error) {
        life.escaped = error;
        throw error;
      } finally {
        life.finallyRuns++;
      }
    };
    life.task = createTask(fn, { eagerStart: bit(world.eagerBits, id) });
    watch(life, life.task);
    return life;
  };

  const perform = async (life: Life, me: Task<number>, op: Op): Promise<number | undefined> => {
    if (op.op === "hop") await s.schedule(Promise.resolve(op.op), "plain hop");
    else if (op.op === "wait") return guarded(life, me, op.target, op.reaction, op.tidy);
    else if (op.now) fire(op.pick, op.burst);
    else release(`cancel #${op.pick} x${op.burst}`, () => fire(op.pick, op.burst));
    return undefined;
  };

  /** Awaits `target`; on `CancelledError`, checks it and reacts as `reaction` says. */
  const guarded = async (life: Life, me: Task<number>, target: Target, reaction: Reaction, tidy: Tidy): Promise<number | undefined> => {
    const quietAtStart = pending(life) === 0;
    const seenAtStart = life.requests.length;
    let future: Future<number> | undefined;
    let child: Life | undefined;
    let failure: unknown;
    let threw = false;
    try {
      if (target.on === "sleep0") await sleep(0);
      else if (target.on === "future") {
        const f = (future = new Future<number>());
        release("resolve future", () => {
          if (!f.done()) f.setResult(7);
        });
        life.watched = { future: f, reachedBy: undefined };
        await f;
      } else {
        child = spawn(target.body);
        await child.task;
      }
    } catch (error) {
      threw = true;
      failure = error;
    }
    const reachedBy = life.watched?.reachedBy;
    life.watched = undefined;
    if (!threw) {
      if (future?.cancelled()) problems.push(`task ${life.id}: await of a cancelled future returned`);
      return undefined;
    }
    if (!isCancelledError(failure)) throw failure;
    const message = failure.message;
    const where = `task ${life.id} at ${target.on} (${reaction})`;

    if (target.on !== "child" && quietAtStart && life.requests.length === seenAtStart) {
      problems.push(`${where}: interrupted though cancelling() was 0 and no cancel came (${JSON.stringify(message)})`);
    }
    if (life.caught.includes(message)) problems.push(`${where}: ${JSON.stringify(message)} thrown a second time`);
    life.caught.push(message);
    if (future !== undefined) {
      if (future.cancelled()) {
        // A pending "cancel at the next await" lands when the await begins, with the latest message.
        const want = reachedBy ?? life.requests[seenAtStart - 1];
        if (message !== want) problems.push(`${where}: threw ${JSON.stringify(message)}, the first cancel that reached it was ${JSON.stringify(want)} (${life.requests.join(",")})`);
      } else if (!life.requests.slice(seenAtStart).includes(message)) {
        problems.push(`${where}: late cancel threw ${JSON.stringify(message)}, not one sent during the await (${life.requests.join(",")})`);
      }
    } else if (child !== undefined && child.task!.cancelled()) {
      if (failure !== thrownBy(() => child.task!.result())) problems.push(`${where}: threw another error than the cancelled child's`);
    } else if (!life.requests.includes(message)) {
      problems.push(`${where}: threw ${JSON.stringify(message)}, not a message of its cancels (${life.requests.join(",")})`);
    }
    audit(life, me, `${where}, caught`);
    if (reaction === "bare") throw failure;
    if (tidy !== "no") {
      if (tidy === "hopWhileRecancelled") release(`cancel #${life.id} again`, () => fire(life.id, 1));
      await s.schedule(Promise.resolve(reaction), "cleanup hop");
      audit(life, me, `${where}, tidied`);
    }

    switch (reaction) {
      case "rethrow":
        throw failure;
      case "returns":
        life.fromCatch = FROM_CATCH + life.id;
        return life.fromCatch;
      case "uncancelOnce":
      case "uncancelAll": {
        const before = me.signal;
        if (before.aborted !== pending(life) > 0) problems.push(`${where}: signal aborted=${before.aborted} with ${pending(life)} requests pending`);
        do {
          const want = Math.max(0, pending(life) - 1);
          if (pending(life) > 0) life.takebacks++;
          const left = me.uncancel();
          if (left !== want) problems.push(`${where}: uncancel() returned ${left}, expected ${want}`);
        } while (reaction === "uncancelAll" && pending(life) > 0);
        audit(life, me, `${where}, uncancelled`);
        const after = me.signal;
        if (pending(life) > 0 && after !== before) problems.push(`${where}: signal replaced while requests are pending`);
        if (pending(life) === 0 && before.aborted && (after === before || after.aborted)) problems.push(`${where}: signal not renewed by uncancel() to 0`);
        // The probe: at 0 nothing taken back may interrupt it, else it may throw again.
        return guarded(life, me, { on: "sleep0" }, pending(life) === 0 ? "bare" : reaction, tidy === "no" ? "no" : "hop");
      }
    }
  };

  const main = run(
    async () => {
      for (const body of world.roots) spawn(body);
      const canceller = (async () => {
        for (const { pick, burst, turns } of world.outside) {
          for (let t = turns; t > 0; t--) await sleep(0);
          release(`outside cancel #${pick} x${burst}`, () => fire(pick, burst));
        }
      })();
      // (The list grows while it is walked: children are awaited too.)
      for (const life of lives) await Promise.allSettled([life.task!]);
      await canceller;
    },
    { loop: new VirtualTimeLoop() },
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: ${lives.map((l) => `${l.id}:${l.task?.toString()}`).join(" ")}`)), HANG_MS);
  });
  try {
    await Promise.race([s.waitFor(main), hang]);
  } finally {
    clearTimeout(timer);
  }

  for (const life of lives) {
    const task = life.task!;
    const name = `task ${life.id}`;
    expect(task.done(), `${name} done`).toBe(true);
    if (life.began) expect(life.finallyRuns, `${name} finally runs`).toBe(1);
    else expect(task.cancelled() && life.requests.length > 0, `${name} never began, so it was cancelled`).toBe(true);
    expect(task.cancelling(), `${name} cancelling() at the end`).toBe(pending(life));
    // (Also a task that ended cancelled through its child's error, with no request of its own.)
    expect(task.signal.aborted, `${name} signal at the end`).toBe(pending(life) > 0 || task.cancelled());
    if (life.fromCatch !== undefined) {
      expect(task.cancelled(), `${name} returned from its catch, so it is not cancelled`).toBe(false);
      expect(task.result(), `${name} result`).toBe(life.fromCatch);
    } else if (isCancelledError(life.escaped)) {
      expect(task.cancelled(), `${name} let CancelledError out`).toBe(true);
      expect(thrownBy(() => task.result()), `${name} ends with the error it let out`).toBe(life.escaped);
    } else if (life.escaped !== undefined) {
      expect.fail(`${name} failed with ${String(life.escaped)}`);
    } else if (task.cancelled()) {
      // Only a cancel before the first step, or one from inside it, ends a task that threw nothing.
      expect(life.requests.length, `${name} cancelled without a cancel`).toBeGreaterThan(0);
    } else {
      expect(task.result(), `${name} result`).toBe(life.id);
    }
  }
  expect(problems).toEqual([]);
});

describe("uncancel() and cancel messages under scheduler-picked interleavings", () => {
  it("keeps asyncio's counting, message and signal rules whatever the order", async () => {
    await fc.assert(uncancelProperty, { numRuns: NUM_RUNS });
  }, 120_000);
});
