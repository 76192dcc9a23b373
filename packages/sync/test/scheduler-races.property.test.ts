/**
 * Every @aiots/sync primitive under interleavings that fast-check's scheduler picks.
 *
 * Unlike sync.property.test.ts, which randomises virtual-time sleeps, here the actors step
 * forward on plain promises the scheduler releases (`s.schedule`), and hold primitives across
 * scheduled "work" (`s.scheduleFunction`), so the scheduler picks the order in which the
 * awaited plain promises resolve. Cancellations (`task.cancel()`) and `AbortSignal` aborts
 * come at moments it picks as well (after a random number of its steps), or right after a
 * release, `set()` or `notify()`: in the same synchronous block, or a few microtasks later,
 * which is between the hand-over and the woken waiter's code resuming.
 *
 * Actors also let a random number of microtasks pass after their steps, so that their
 * actions land among the microtasks of the next released step (inside hand-overs).
 *
 * Each scenario runs in one of three modes: tasks on a virtual-time loop (the `virtual`
 * helper), tasks on a real loop (`run()`, no timers used), or plain async code outside any
 * task (aborts only, there is no task to cancel). Every scenario must end: a scenario in
 * which nothing happens for many host macrotasks while it has not finished is a hang, and
 * fails. Once a scenario is quiet, the actors still waiting must be ones allowed to wait
 * (an Event nobody set, a Condition with nothing to take, a Barrier round never filled);
 * they are then freed, and everything must end.
 *
 * Besides the black-box checks (holders counted by the actors, who returns and who throws
 * what, FIFO order of the actors never killed, the state at the end), a probe checks the
 * primitive's internal state at every step of every actor: nobody waits behind a free
 * Lock, nor while a Semaphore has a free permit and no hand-over is in flight, a set Event
 * has no waiters, a Barrier's count stays within a round.
 *
 * `SCHEDULER_RACES_RUNS=<factor>` scales the number of runs of every property.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BrokenBarrierError, isCancelledError } from "@aiots/core";
import type { Task } from "@aiots/future";
import { createTask, currentTask, sleep } from "@aiots/future";
import { run } from "@aiots/loop";
import { Barrier, BoundedSemaphore, Condition, Event, Lock, Semaphore } from "@aiots/sync";
import { virtual } from "./helpers.js";

/** Long enough, in virtual ms, for everything that can happen to have happened. */
const HORIZON = 1_000_000;
/** Host macrotasks without any step of any actor after which an unfinished scenario hangs. */
const HANG_MACROTASKS = 2_000;
/** Host macrotasks without any step of any actor after which a scenario is quiet. */
const QUIET_MACROTASKS = 25;

/** Scales every property's number of runs (`SCHEDULER_RACES_RUNS=4` for a longer soak). */
const runs = (n: number) => Math.ceil(n * Number(process.env.SCHEDULER_RACES_RUNS ?? 1));

/** Where the actors run: tasks of a virtual-time loop, tasks of a real loop, or plain async code. */
type Mode = "virtual" | "run" | "plain";
const modeArb = fc.constantFrom<Mode>("virtual", "run", "plain");

/**
 * A mode, and which actors (by index) are created with `eagerStart` in the task modes: their
 * first step runs inside `createTask`, before the next actor is even created (asyncio 3.12+
 * eager tasks). An actor with nothing to wait for before its first action (no scheduler
 * step, no microtask) then takes, sets or notifies right there.
 */
interface Where {
  mode: Mode;
  eager: boolean[];
}
const whereArb: fc.Arbitrary<Where> = fc.record({ mode: modeArb, eager: fc.array(fc.boolean(), { maxLength: 10 }) });

type How = "cancel" | "abort";
const howArb = fc.constantFrom<How>("cancel", "abort");

/**
 * Microtasks an actor lets pass after its scheduler steps before it acts. The scheduler
 * lets 50 microtasks pass between two releases, so around 50 an actor's action lands among
 * the microtasks of the next one: inside hand-overs, between a wake-up and the resumption.
 */
const microArb = fc.oneof(fc.constant(0), fc.nat(60));

/**
 * A kill an actor makes right after it released, set or notified: of the first actor in line
 * (most often the one just woken) or of an actor by index, in the same synchronous block or
 * after `delay` microtasks.
 */
interface Kill {
  victim: "next" | number;
  how: How;
  delay: "sync" | number;
}
const killArb: fc.Arbitrary<Kill> = fc.record({
  victim: fc.oneof({ weight: 3, arbitrary: fc.constant("next" as const) }, { weight: 1, arbitrary: fc.nat(7) }),
  how: howArb,
  delay: fc.oneof(fc.constant("sync" as const), fc.nat(3), fc.integer({ min: 4, max: 12 })),
});

/** A kill of actor `target` (modulo the count) after `steps` scheduler steps and `micro` microtasks. */
interface Controller {
  target: number;
  how: How;
  steps: number;
  micro: number;
}
const controllerArb: fc.Arbitrary<Controller> = fc.record({ target: fc.nat(7), how: howArb, steps: fc.nat(12), micro: microArb });
const controllersArb = fc.array(controllerArb, { maxLength: 4 });

/** `arb` two times in three, else undefined. */
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 3 });

/**
 * One property of this file, as a test: `body` gets fast-check's scheduler, a mode (with its
 * eager actors), then a value of each of `arbs`, for `numRuns` runs (scaled by `runs`).
 */
function property<Ts extends unknown[]>(
  name: string,
  numRuns: number,
  arbs: [...{ [K in keyof Ts]: fc.Arbitrary<Ts[K]> }],
  body: (s: fc.Scheduler, where: Where, ...values: Ts) => Promise<void>,
): void {
  it(name, async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), whereArb, fc.tuple<Ts>(...arbs), (s, where, values) => body(s, where, ...values)),
      { numRuns: runs(numRuns) },
    );
  });
}

/** The reason every test abort uses. */
const ABORT = new Error("aborted by the schedule");

const setImmediateP = () => new Promise<void>((resolve) => setImmediate(resolve));

async function microtasks(k: number): Promise<void> {
  for (let j = 0; j < k; j++) await Promise.resolve();
}

/** One scenario: `n` actors, their abort controllers and tasks, and what was seen. */
class Stage {
  /** Bumped at every step of every actor: the watchdog and `quiet` watch it. */
  activity = 0;
  /** Actors that were cancelled or aborted at some point (by a controller or another actor). */
  readonly dirty = new Set<number>();
  /** Actors waiting on the primitive now, in the order they started waiting. */
  line: number[] = [];
  readonly violations: string[] = [];
  readonly unexpected: unknown[] = [];
  readonly finished: boolean[];
  readonly controllers: AbortController[];
  readonly mode: Mode;
  /** Which actors start eagerly (task modes only). */
  readonly eager: boolean[];
  /** Each actor's task, noted by the actor itself as it starts (an eager one, inside `createTask`). */
  readonly tasks: (Task<void> | undefined)[] = [];
  /** An invariant of the primitive's state, checked at every step of every actor. */
  probe: (() => void) | undefined = undefined;
  /** Told of every kill, before it is made. */
  onKill: ((i: number, how: How) => void) | undefined = undefined;

  constructor(
    readonly s: fc.Scheduler,
    where: Where,
    readonly n: number,
  ) {
    this.mode = where.mode;
    this.eager = where.eager;
    this.finished = Array.from({ length: n }, () => false);
    this.controllers = Array.from({ length: n }, () => new AbortController());
  }

  bump(): void {
    this.activity++;
    this.probe?.();
  }

  /**
   * `k` steps, each a plain promise the scheduler releases when it chooses, then `micro`
   * microtasks. (Actors skip the call when both are 0: they then act without awaiting at all,
   * an eager one inside `createTask`.)
   */
  async steps(k: number, label: string, micro = 0): Promise<void> {
    for (let j = 0; j < k; j++) {
      this.bump();
      await this.s.schedule(Promise.resolve(label), label);
      this.bump();
    }
    await microtasks(micro);
  }

  signal(i: number): AbortSignal {
    return this.controllers[i]!.signal;
  }

  /**
   * Cancels actor `i`'s task, or aborts its signal (always the signal in plain mode, and for
   * an actor not created yet: an eager actor may kill one during its first step).
   */
  kill(i: number, how: How): void {
    this.onKill?.(i, how);
    this.dirty.add(i);
    this.bump();
    const task = this.tasks[i];
    if (how === "cancel" && this.mode !== "plain" && task !== undefined) task.cancel();
    else this.controllers[i]!.abort(ABORT);
  }

  /** The first actor in line that was never killed, other than `self`. */
  next(self: number): number | undefined {
    return this.line.find((j) => j !== self && !this.dirty.has(j));
  }

  /** Carries out `kill`, made by actor `self`. */
  killFrom(self: number, kill: Kill | undefined): void {
    if (kill === undefined) return;
    const victim = kill.victim === "next" ? this.next(self) : kill.victim % this.n;
    if (victim === undefined) return;
    if (kill.delay === "sync") this.kill(victim, kill.how);
    else {
      let p = Promise.resolve();
      for (let d = 0; d < kill.delay; d++) p = p.then();
      void p.then(() => this.kill(victim, kill.how));
    }
  }

  enterLine(i: number): void {
    this.line.push(i);
    this.bump();
  }

  leaveLine(i: number): void {
    this.line = this.line.filter((j) => j !== i);
    this.bump();
  }

  check(ok: boolean, message: string): void {
    if (!ok && this.violations.length < 10 && !this.violations.includes(message)) this.violations.push(message);
  }

  isDone(i: number): boolean {
    return this.mode === "plain" ? this.finished[i]! : this.tasks[i]?.done() === true;
  }

  pending(): number[] {
    return Array.from({ length: this.n }, (_, i) => i).filter((i) => !this.isDone(i));
  }

  /** Waits until no actor has moved for `QUIET_MACROTASKS` host macrotasks. */
  async quiet(): Promise<void> {
    let last = -1;
    let same = 0;
    while (same < QUIET_MACROTASKS) {
      await setImmediateP();
      if (this.activity === last) same++;
      else {
        same = 0;
        last = this.activity;
      }
    }
  }

  /**
   * Runs `body(i)` for every actor (as tasks, or plain async functions) with `controllers`
   * killing some at scheduler-picked moments. Once everything is quiet, `finish` gets the
   * actors still waiting (it checks they may wait, and makes them finish); then every actor
   * must end. The whole is driven by the scheduler and bounded by a watchdog.
   */
  async play(body: (i: number) => Promise<void>, controllers: Controller[], finish: (pending: number[]) => void | Promise<void>): Promise<void> {
    const actor = (i: number) => async () => {
      // (Inside an eager task's first step, createTask has not returned yet.)
      if (this.mode !== "plain") this.tasks[i] = currentTask() as Task<void>;
      try {
        await body(i);
      } catch (e) {
        if (!isCancelledError(e) && e !== ABORT) this.unexpected.push(e);
        else if (!this.dirty.has(i)) this.violations.push(`actor ${i} threw ${String(e)} without being cancelled or aborted`);
      } finally {
        this.finished[i] = true;
        this.bump();
      }
    };
    const startControllers = () =>
      controllers.map(async (c) => {
        await this.steps(c.steps, `${c.how} ${c.target % this.n}`, c.micro);
        this.kill(c.target % this.n, c.how);
      });
    const end = async (settle: () => Promise<void>, outside: Promise<void>[]) => {
      await settle();
      await Promise.all(outside);
      await finish(this.pending());
      await settle();
      this.check(this.pending().length === 0, `actors ${String(this.pending())} never finished`);
    };
    const inTasks = async (settle: () => Promise<void>) => {
      for (let i = 0; i < this.n; i++) {
        const task = createTask(actor(i), { eagerStart: this.eager[i] === true });
        // (An eager actor has noted its task already: the same one.)
        this.check(this.tasks[i] === undefined || this.tasks[i] === task, `actor ${i} did not run as its own task`);
        this.tasks[i] = task;
      }
      await end(settle, startControllers());
    };
    let scenario: Promise<void>;
    if (this.mode === "virtual") scenario = virtual(() => inTasks(() => sleep(HORIZON)));
    else if (this.mode === "run") scenario = run(() => inTasks(() => this.quiet()));
    else {
      for (let i = 0; i < this.n; i++) void actor(i)();
      scenario = end(() => this.quiet(), startControllers());
    }
    await this.drive(scenario);
    expect(this.s.count()).toBe(0);
  }

  /** `s.waitFor(scenario)`, failing if nothing moves for `HANG_MACROTASKS` host macrotasks. */
  async drive(scenario: Promise<void>): Promise<void> {
    let over = false;
    const watchdog = new Promise<never>((_, reject) => {
      let last = -1;
      let idle = 0;
      const tick = () => {
        if (over) return;
        if (this.activity === last) idle++;
        else {
          idle = 0;
          last = this.activity;
        }
        if (idle > HANG_MACROTASKS) {
          reject(new Error(`the scenario hangs: nothing moved for ${HANG_MACROTASKS} host macrotasks (actors not finished: [${String(this.pending())}])`));
        } else setImmediate(tick);
      };
      setImmediate(tick);
    });
    try {
      await this.s.waitFor(Promise.race([scenario, watchdog]));
    } finally {
      over = true;
    }
  }

  /** The common end checks. */
  expectClean(): void {
    expect(this.unexpected).toEqual([]);
    expect(this.violations).toEqual([]);
  }
}

// ---------------------------------------------------------------------------------------
// Lock, Semaphore, BoundedSemaphore
// ---------------------------------------------------------------------------------------

const holderArb = fc.record({
  rounds: fc.integer({ min: 1, max: 2 }),
  /** Scheduler steps before each acquire, and the microtasks after them. */
  before: fc.nat(2),
  jitter: microArb,
  holdWith: fc.constantFrom("acquire", "using", "await using"),
  /** Scheduled work while holding, then microtasks. */
  work: fc.nat(2),
  workMicro: microArb,
  /** A `sleep(0)` while holding: an aiots await, so a cancellation point. */
  yieldToLoop: fc.boolean(),
  /** A kill right after releasing. */
  onRelease: maybe(killArb),
});
type Holder = typeof holderArb extends fc.Arbitrary<infer H> ? H : never;
const holdersArb = fc.array(holderArb, { minLength: 1, maxLength: 6 });

type Permits = Lock | Semaphore;

async function mutualExclusion(s: fc.Scheduler, where: Where, prim: Permits, permits: number, holders: Holder[], controllers: Controller[]): Promise<Stage> {
  const st = new Stage(s, where, holders.length);
  const work = s.scheduleFunction(async function work(i: number) {
    return i;
  });
  let inside = 0;
  const calls: string[] = [];
  const got: string[] = [];
  const isLock = prim instanceof Lock;
  st.probe = () => {
    if (prim instanceof Lock) {
      // Nobody waits behind a free lock.
      if (prim._waiters.size > 0) st.check(prim._locked, "a waiter waits while the Lock is free");
    } else {
      // No permit is made, and nobody waits while one is free (once hand-overs have landed).
      st.check(prim._value >= 0 && inside + prim._value <= permits, `${inside} holders and ${prim._value} free permits of ${permits}`);
      if (prim._waiters.handing === 0 && prim._value > 0) st.check(prim._waiters.size === 0, "a waiter waits while a permit is free");
    }
  };
  await st.play(
    async (i) => {
      const h = holders[i]!;
      const signal = st.signal(i);
      for (let r = 0; r < h.rounds; r++) {
        if (h.before > 0 || h.jitter > 0) await st.steps(h.before, `${i} arrives`, h.jitter);
        const key = `${i}.${r}`;
        let held = false;
        const hold = async () => {
          st.leaveLine(i);
          held = true;
          inside++;
          got.push(key);
          st.check(inside <= permits, `${inside} holders of ${permits} permits (${key} got in)`);
          if (isLock) st.check(prim.locked(), `${key} holds the Lock but locked() is false`);
          try {
            for (let k = 0; k < h.work; k++) await work(i);
            await microtasks(h.workMicro);
            if (h.yieldToLoop) await sleep(0);
          } finally {
            inside--;
            st.bump();
          }
        };
        calls.push(key);
        st.enterLine(i);
        try {
          if (h.holdWith === "acquire") {
            st.check((await prim.acquire({ signal })) === true, "acquire() resolved to something else than true");
            try {
              await hold();
            } finally {
              prim.release();
            }
          } else if (h.holdWith === "using") {
            using _ = await prim.guard({ signal });
            await hold();
          } else {
            await using _ = await prim.guard({ signal });
            await hold();
          }
        } catch (e) {
          st.leaveLine(i);
          throw e;
        } finally {
          if (held) st.killFrom(i, h.onRelease);
        }
      }
    },
    controllers,
    (pending) => {
      // Nobody may still wait: the permits always come back.
      st.check(pending.length === 0, `actors ${String(pending)} still wait for a permit`);
      for (const i of pending) st.kill(i, "abort");
    },
  );
  st.expectClean();
  expect(inside).toBe(0);
  // FIFO: the actors never cancelled nor aborted got in in the order they asked.
  const clean = (key: string) => !st.dirty.has(Number(key.split(".")[0]));
  expect(got.filter(clean)).toEqual(calls.filter(clean));
  return st;
}

describe("Lock, Semaphore and BoundedSemaphore under scheduler-picked interleavings", () => {
  property(
    "a Lock never has two holders, serves FIFO, every acquire returns or throws CancelledError/the abort reason, and it ends free",
    350,
    [holdersArb, controllersArb],
    async (s, where, holders, controllers) => {
      const lock = new Lock();
      await mutualExclusion(s, where, lock, 1, holders, controllers);
      expect(lock.locked()).toBe(false);
      expect(lock._waiters.size).toBe(0);
      expect(String(lock)).toBe("Lock [unlocked]");
      // Still usable: taken at once (the fast path locks within the call).
      const taken = lock.acquire();
      expect(lock.locked()).toBe(true);
      expect(await taken).toBe(true);
      lock.release();
    },
  );

  property(
    "a Semaphore or BoundedSemaphore never has more than N holders, serves FIFO, and gets exactly N permits back",
    350,
    [fc.integer({ min: 1, max: 3 }), fc.boolean(), holdersArb, controllersArb],
    async (s, where, permits, bounded, holders, controllers) => {
      const sem = bounded ? new BoundedSemaphore(permits) : new Semaphore(permits);
      await mutualExclusion(s, where, sem, permits, holders, controllers);
      const name = bounded ? "BoundedSemaphore" : "Semaphore";
      expect(String(sem)).toBe(`${name} [unlocked, value: ${permits}]`);
      // No permit lost or made: exactly N can be taken at once, then it is locked.
      for (let k = 0; k < permits; k++) {
        expect(sem.locked()).toBe(false);
        await sem.acquire();
      }
      expect(sem.locked()).toBe(true);
      for (let k = 0; k < permits; k++) sem.release();
      expect(String(sem)).toBe(`${name} [unlocked, value: ${permits}]`);
      // A BoundedSemaphore is never released above N (and the refusal changes nothing).
      if (bounded) {
        expect(() => sem.release()).toThrow(RangeError);
        expect(String(sem)).toBe(`${name} [unlocked, value: ${permits}]`);
      }
    },
  );
});

// ---------------------------------------------------------------------------------------
// Event
// ---------------------------------------------------------------------------------------

const eventArb = fc.record({
  waiters: fc.array(fc.record({ rounds: fc.integer({ min: 1, max: 2 }), before: fc.nat(3), jitter: microArb }), { minLength: 1, maxLength: 6 }),
  ops: fc.array(fc.record({ op: fc.constantFrom("set", "clear"), steps: fc.nat(3), micro: microArb, kill: maybe(killArb) }), { minLength: 1, maxLength: 6 }),
});

describe("Event under scheduler-picked interleavings", () => {
  property(
    "every waiter returns true only after a set(), no set/clear sequence leaves a woken waiter hanging, and only killed waiters throw",
    300,
    [eventArb, controllersArb],
    async (s, where, { waiters, ops }, controllers) => {
      const event = new Event();
      const setter = waiters.length;
      const st = new Stage(s, where, waiters.length + 1);
      /** set() calls that found the flag clear (the ones that wake waiters). */
      let sets = 0;
      /** What each waiter saw when it started its current wait. */
      const atCall: { set: boolean; sets: number }[] = [];
      let returned = 0;
      /** Waiters killed in their current wait before any set() reached it: they must throw. */
      const mustThrow = new Set<number>();
      st.onKill = (i) => {
        const seen = atCall[i];
        if (st.line.includes(i) && seen !== undefined && !seen.set && seen.sets === sets) mustThrow.add(i);
      };
      // A set flag has no waiters.
      st.probe = () => st.check(!event.isSet() || event._waiters.size === 0, "waiters left behind a set()");
      await st.play(
        async (i) => {
          if (i === setter) {
            for (const { op, steps, micro, kill } of ops) {
              if (steps > 0 || micro > 0) await st.steps(steps, op, micro);
              if (op === "set") {
                if (!event.isSet()) sets++;
                event.set();
                st.killFrom(i, kill);
              } else event.clear();
              st.bump();
            }
            return;
          }
          const w = waiters[i]!;
          for (let r = 0; r < w.rounds; r++) {
            if (w.before > 0 || w.jitter > 0) await st.steps(w.before, `${i} waits`, w.jitter);
            const seen = { set: event.isSet(), sets };
            atCall[i] = seen;
            mustThrow.delete(i);
            st.enterLine(i);
            try {
              const value = await event.wait({ signal: st.signal(i) });
              st.check(value === true, `wait() resolved to ${String(value)}`);
              st.check(seen.set || sets > seen.sets, `waiter ${i} returned with no set() since it started waiting`);
              st.check(!mustThrow.has(i), `waiter ${i} returned although it was killed before any set() reached it`);
              returned++;
            } finally {
              st.leaveLine(i);
            }
          }
        },
        controllers,
        (pending) => {
          // Only a waiter that no set() reached may still wait; a final set() frees it.
          for (const i of pending) {
            const seen = atCall[i];
            st.check(i !== setter && seen !== undefined && !seen.set && seen.sets === sets, `waiter ${i} still waits after a set()`);
          }
          if (!event.isSet()) sets++;
          event.set();
        },
      );
      st.expectClean();
      expect(event.isSet()).toBe(true);
      expect(event._waiters.size).toBe(0);
      // Killed waiters may have thrown; the others returned every round.
      const cleanRounds = waiters.reduce((sum, w, i) => sum + (st.dirty.has(i) ? 0 : w.rounds), 0);
      expect(returned).toBeGreaterThanOrEqual(cleanRounds);
    },
  );
});

// ---------------------------------------------------------------------------------------
// Condition
// ---------------------------------------------------------------------------------------

/** Tracks who holds a Condition's lock, from the holders' point of view. */
function ownership(st: Stage, cond: Condition) {
  let owner: number | undefined;
  return {
    /** `i` now holds the lock: it must be locked, and nobody else may think it holds it. */
    enter(i: number, where: string) {
      st.check(cond.locked(), `${i} ${where} without the lock`);
      st.check(owner === undefined, `${i} ${where} while ${String(owner)} holds the lock`);
      owner = i;
      st.bump();
    },
    leave(i: number) {
      st.check(owner === i, `${i} gives up a lock held by ${String(owner)}`);
      owner = undefined;
    },
  };
}

/** Only actors inside wait() are queued on the condition, and nobody waits behind a free lock. */
function conditionProbe(st: Stage, cond: Condition): void {
  st.check(cond._waiters.size <= st.line.length, `${cond._waiters.size} queued on the condition, ${st.line.length} inside wait()`);
  if (cond._lock._waiters.size > 0) st.check(cond._lock._locked, "a waiter waits while the lock is free");
}

const condWorkerArb = fc.record({
  producer: fc.boolean(),
  before: fc.nat(2),
  jitter: microArb,
  /** Scheduled work while holding the lock, after notifying, then microtasks. */
  work: fc.nat(1),
  workMicro: microArb,
  notify: fc.constantFrom(1, 1, 2, Infinity),
  /** A consumer loops on wait() instead of using waitFor(). */
  manual: fc.boolean(),
  onNotify: maybe(killArb),
});

describe("Condition under scheduler-picked interleavings", () => {
  property(
    "wait() re-acquires the lock before it returns or throws, and no notify is lost when a notified waiter is killed",
    300,
    [fc.array(condWorkerArb, { minLength: 1, maxLength: 7 }), controllersArb],
    async (s, where, workers, controllers) => {
      const cond = new Condition();
      const st = new Stage(s, where, workers.length);
      const own = ownership(st, cond);
      const work = s.scheduleFunction(async function work(i: number) {
        return i;
      });
      let items = 0;
      let produced = 0;
      let consumed = 0;
      st.probe = () => conditionProbe(st, cond);
      await st.play(
        async (i) => {
          const w = workers[i]!;
          const signal = st.signal(i);
          if (w.before > 0 || w.jitter > 0) await st.steps(w.before, `${i} arrives`, w.jitter);
          await using _ = await cond.guard({ signal });
          own.enter(i, "acquired");
          try {
            if (w.producer) {
              items++;
              produced++;
              if (w.notify === Infinity) cond.notifyAll();
              else cond.notify(w.notify);
              st.killFrom(i, w.onNotify);
              for (let k = 0; k < w.work; k++) await work(i);
              await microtasks(w.workMicro);
            } else if (w.manual) {
              while (items === 0) {
                own.leave(i);
                st.enterLine(i);
                try {
                  await cond.wait({ signal });
                } finally {
                  st.leaveLine(i);
                  own.enter(i, "came back from wait()");
                }
              }
              items--;
              consumed++;
            } else {
              own.leave(i);
              st.enterLine(i);
              try {
                await cond.waitFor(() => {
                  st.check(cond.locked(), `${i}'s predicate runs without the lock`);
                  return items > 0;
                }, { signal });
              } finally {
                st.leaveLine(i);
                own.enter(i, "came back from waitFor()");
              }
              items--;
              consumed++;
            }
          } finally {
            own.leave(i);
          }
        },
        controllers,
        (pending) => {
          // No lost notify: a consumer may still wait only if there is nothing to take.
          for (const i of pending) st.check(!workers[i]!.producer, `producer ${i} never got the lock`);
          if (items > 0) st.check(pending.length === 0, `${items} items left while consumers ${String(pending)} wait`);
          for (const i of pending) st.kill(i, "cancel");
        },
      );
      st.expectClean();
      expect(produced - consumed).toBe(items);
      expect(String(cond)).toBe("Condition [unlocked]");
    },
  );

  property(
    "notify(n) wakes at most n waiters, and at least every waiter it found that was never killed, up to n",
    300,
    [
      fc.array(fc.record({ before: fc.nat(3), jitter: microArb }), { minLength: 1, maxLength: 5 }),
      fc.record({
        before: fc.nat(6),
        jitter: microArb,
        n: fc.constantFrom(0, 1, 1, 2, 3, Infinity),
        kill: fc.option(killArb, { nil: undefined, freq: 6 }),
        /** Scheduled work and microtasks with the lock still held after notifying. */
        work: fc.nat(1),
        workMicro: microArb,
      }),
      controllersArb,
    ],
    async (s, where, waiters, notifier, controllers) => {
      const cond = new Condition();
      const k = waiters.length;
      const st = new Stage(s, where, k + 1);
      const own = ownership(st, cond);
      const inWait = new Set<number>();
      let found: number[] | undefined;
      let woken = 0;
      let cleanFound = 0;
      st.probe = () => conditionProbe(st, cond);
      /** Waiters killed inside wait() before the notify: they must throw, not return. */
      const mustThrow = new Set<number>();
      st.onKill = (i) => {
        if (inWait.has(i) && found === undefined) mustThrow.add(i);
      };
      await st.play(
        async (i) => {
          const signal = st.signal(i);
          const { before, jitter } = i === k ? notifier : waiters[i]!;
          if (before > 0 || jitter > 0) await st.steps(before, `${i} arrives`, jitter);
          await using _ = await cond.guard({ signal });
          own.enter(i, "acquired");
          if (i === k) {
            found = [...inWait];
            if (notifier.n === Infinity) cond.notifyAll();
            else cond.notify(notifier.n);
            st.killFrom(i, notifier.kill);
            for (let j = 0; j < notifier.work; j++) await st.steps(1, "work");
            await microtasks(notifier.workMicro);
            own.leave(i);
            return;
          }
          own.leave(i);
          inWait.add(i);
          st.enterLine(i);
          try {
            await cond.wait({ signal });
            st.check(!mustThrow.has(i), `waiter ${i} returned although it was killed before any notify`);
            woken++;
          } finally {
            inWait.delete(i);
            st.leaveLine(i);
            own.enter(i, "came back from wait()");
            own.leave(i);
          }
        },
        controllers,
        (pending) => {
          cleanFound = (found ?? []).filter((i) => !st.dirty.has(i)).length;
          for (const i of pending) st.kill(i, "cancel");
        },
      );
      st.expectClean();
      const n = found === undefined ? 0 : notifier.n;
      expect(woken).toBeLessThanOrEqual(n);
      expect(woken).toBeGreaterThanOrEqual(Math.min(n, cleanFound));
      expect(String(cond)).toBe("Condition [unlocked]");
    },
  );
});

// ---------------------------------------------------------------------------------------
// Barrier
// ---------------------------------------------------------------------------------------

/** The barrier's count stays within a round, and nobody waits behind its free lock. */
function barrierProbe(st: Stage, barrier: Barrier): void {
  st.check(barrier._count >= 0 && barrier._count <= barrier.parties, `count ${barrier._count} of ${barrier.parties}`);
  st.check(barrier.nWaiting < barrier.parties, `nWaiting ${barrier.nWaiting} of ${barrier.parties}`);
  conditionProbe(st, barrier._cond);
}

/** One return from `Barrier.wait`: who, which index, and how many wait() calls came before. */
interface Passage {
  actor: number;
  index: number;
  arrived: number;
}

/**
 * Splits passages into rounds: the party that completes a round (index `parties - 1`) returns
 * at once, before the others of its round, which leave one loop iteration each.
 */
function rounds(passages: Passage[], parties: number): Passage[][] {
  const out: Passage[][] = [];
  for (const p of passages) {
    if (p.index === parties - 1 || out.length === 0) out.push([p]);
    else out[out.length - 1]!.push(p);
  }
  return out;
}

/**
 * Each round: led by the completing party, indices in range, no party twice, at most
 * `parties` passages. Indices are distinct only in rounds nobody left while they filled:
 * as asyncio's, the index is the count of parties in the round when one arrives, and a
 * party that leaves (cancelled, aborted) lowers that count, so the next arrival gets the
 * same index as a party still waiting (CPython 3.11 does the same).
 */
function checkRounds(passages: Passage[], parties: number, distinct: boolean): Passage[][] {
  const all = rounds(passages, parties);
  for (const round of all) {
    expect(round[0]!.index).toBe(parties - 1);
    expect(round.length).toBeLessThanOrEqual(parties);
    if (distinct) expect(new Set(round.map((p) => p.index)).size).toBe(round.length);
    expect(new Set(round.map((p) => p.actor)).size).toBe(round.length);
    for (const p of round) expect(Number.isInteger(p.index) && p.index >= 0 && p.index < parties).toBe(true);
  }
  return all;
}

/** The barrier once every party has left: in `state`, nobody counted or waiting, its lock free. */
function expectBarrierAtRest(barrier: Barrier, state: "filling" | "broken"): void {
  expect(barrier.state).toBe(state);
  expect(barrier.broken).toBe(state === "broken");
  expect(barrier._count).toBe(0);
  expect(barrier.nWaiting).toBe(0);
  expect(barrier._cond.locked()).toBe(false);
}

/**
 * A Barrier scenario: a barrier of `parties`, a stage of `actors` actors that probes it at
 * every step, and the passages of the parties through it.
 */
class BarrierScene {
  readonly barrier: Barrier;
  readonly st: Stage;
  readonly passages: Passage[] = [];
  /** wait() calls made so far. */
  arrived = 0;

  constructor(
    s: fc.Scheduler,
    where: Where,
    readonly parties: number,
    actors: number,
  ) {
    this.barrier = new Barrier(parties);
    this.st = new Stage(s, where, actors);
    this.st.probe = () => barrierProbe(this.st, this.barrier);
  }

  /**
   * Party `i` arrives after `before` scheduler steps and `jitter` microtasks and waits at the
   * barrier (with `signal`, if any), in line meanwhile. A return is recorded as a passage (with
   * the wait() calls made by then) and followed by `then`; a throw goes to `caught`, which
   * rethrows it or returns to let the party go on (without `caught`, it goes on to the caller).
   * Both run as the wait() ends, in the same synchronous block.
   */
  async pass(
    i: number,
    before: number,
    jitter: number,
    { signal, then, caught }: { signal?: AbortSignal; then?: () => void | Promise<void>; caught?: (e: unknown) => void } = {},
  ): Promise<void> {
    const { st } = this;
    if (before > 0 || jitter > 0) await st.steps(before, `${i} arrives`, jitter);
    this.arrived++;
    st.enterLine(i);
    let index: number;
    try {
      index = await this.barrier.wait(signal === undefined ? undefined : { signal });
    } catch (e) {
      if (caught === undefined) throw e;
      caught(e);
      return;
    } finally {
      st.leaveLine(i);
    }
    this.passages.push({ actor: i, index, arrived: this.arrived });
    await then?.();
  }

  /**
   * `Stage.play`, then the end checks every Barrier property makes: nothing unexpected, the
   * rounds well formed (`checkRounds`, indices `distinct` or not), and the barrier at rest in
   * state `end`. Returns the rounds.
   */
  async play(
    body: (i: number) => Promise<void>,
    controllers: Controller[],
    finish: (pending: number[]) => void | Promise<void>,
    { distinct, end }: { distinct: boolean; end: "filling" | "broken" },
  ): Promise<Passage[][]> {
    await this.st.play(body, controllers, finish);
    this.st.expectClean();
    const all = checkRounds(this.passages, this.parties, distinct);
    expectBarrierAtRest(this.barrier, end);
    return all;
  }
}

describe("Barrier under scheduler-picked interleavings", () => {
  property(
    "without kills, each round lets its parties go together with indices 0..n-1, and the barrier ends filling",
    200,
    [fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.array(fc.tuple(fc.nat(3), microArb), { minLength: 12, maxLength: 12 })],
    async (s, where, parties, nRounds, befores) => {
      const scene = new BarrierScene(s, where, parties, parties);
      await scene.play(
        async (i) => {
          for (let r = 0; r < nRounds; r++) {
            const [before, jitter] = befores[(i * nRounds + r) % befores.length]!;
            await scene.pass(i, before, jitter);
          }
        },
        [],
        (pending) => scene.st.check(pending.length === 0, `parties ${String(pending)} never left`),
        { distinct: true, end: "filling" },
      );
      // Exactly nRounds full rounds, each released only once all its parties had arrived.
      const { passages } = scene;
      expect(passages).toHaveLength(parties * nRounds);
      for (let r = 0; r < nRounds; r++) {
        const round = passages.slice(r * parties, (r + 1) * parties);
        expect(round.map((p) => p.index).sort()).toEqual(Array.from({ length: parties }, (_, j) => j));
        expect(new Set(round.map((p) => p.actor)).size).toBe(parties);
        for (const p of round) expect(p.arrived).toBeGreaterThanOrEqual((r + 1) * parties);
      }
    },
  );

  property(
    "a killed party just leaves (asyncio 3.11+): nobody breaks, a round goes only once it is full, and the barrier ends filling",
    300,
    [
      fc.integer({ min: 1, max: 4 }),
      fc.array(fc.record({ before: fc.nat(3), jitter: microArb, again: fc.boolean(), onReturn: maybe(killArb) }), { minLength: 1, maxLength: 8 }),
      controllersArb,
    ],
    async (s, where, parties, workers, controllers) => {
      const scene = new BarrierScene(s, where, parties, workers.length);
      const { st, barrier } = scene;
      // A BrokenBarrierError would be unexpected.
      const all = await scene.play(
        async (i) => {
          const w = workers[i]!;
          for (let r = 0; r < (w.again ? 2 : 1); r++) {
            await scene.pass(i, w.before, w.jitter, { signal: st.signal(i), then: () => st.killFrom(i, w.onReturn) });
          }
        },
        controllers,
        (pending) => {
          // Whoever still waits waits for parties that never come: fewer than a round.
          st.check(barrier.state === "filling", `state ${barrier.state} once quiet`);
          st.check(barrier.nWaiting === pending.length, `nWaiting ${barrier.nWaiting}, ${pending.length} parties wait`);
          st.check(pending.length < parties, `${pending.length} parties wait for a round of ${parties}`);
          for (const i of pending) st.kill(i, "cancel");
        },
        { distinct: false, end: "filling" },
      );
      // A round misses only parties that were killed.
      const returned = all.reduce((sum, r) => sum + r.length, 0);
      expect(returned).toBeGreaterThanOrEqual(all.length * parties - st.dirty.size);
    },
  );

  property(
    "with resets and aborts at scheduler-picked moments: BrokenBarrierError only after one, broken until reset, and a final abort frees everyone",
    300,
    [
      fc.integer({ min: 1, max: 4 }),
      fc.array(
        fc.record({
          before: fc.nat(3),
          jitter: microArb,
          rounds: fc.integer({ min: 1, max: 3 }),
          /** What the party does right after it leaves a round. */
          then: fc.constantFrom("none", "none", "reset", "abort"),
          onReturn: maybe(killArb),
        }),
        { minLength: 1, maxLength: 7 },
      ),
      fc.array(fc.record({ what: fc.constantFrom("reset", "abort"), steps: fc.nat(12), micro: microArb }), { maxLength: 3 }),
      controllersArb,
    ],
    async (s, where, parties, workers, breakers, controllers) => {
      // Actors 0..w-1 are parties; the others reset or abort after some scheduler steps.
      const scene = new BarrierScene(s, where, parties, workers.length + breakers.length);
      const { st, barrier } = scene;
      let resetCalls = 0;
      let breakCalls = 0;
      let brokenSeen = 0;
      let killErrors = 0;
      /**
       * Parties a reset or abort found waiting in a filling round: each of them must
       * throw (BrokenBarrierError, or its kill's error), never return an index.
       */
      let mustBreak = 0;
      const breakIt = async (what: "reset" | "abort") => {
        breakCalls++;
        // With the barrier's lock free, the change is made within the call, on this round.
        if (barrier.state === "filling" && !barrier._cond._lock._locked) mustBreak += barrier.nWaiting;
        if (what === "reset") {
          resetCalls++;
          await barrier.reset();
          return;
        }
        const resetsBefore = resetCalls;
        await barrier.abort();
        // Broken from then on, unless someone reset it since.
        if (resetCalls === resetsBefore) st.check(barrier.broken, "not broken right after abort()");
      };
      await scene.play(
        async (i) => {
          const b = breakers[i - workers.length];
          if (b !== undefined) {
            if (b.steps > 0 || b.micro > 0) await st.steps(b.steps, b.what, b.micro);
            await breakIt(b.what);
            return;
          }
          const w = workers[i]!;
          for (let r = 0; r < w.rounds; r++) {
            await scene.pass(i, w.before, w.jitter, {
              signal: st.signal(i),
              then: async () => {
                st.killFrom(i, w.onReturn);
                if (w.then !== "none") await breakIt(w.then);
              },
              caught: (e) => {
                if (!(e instanceof BrokenBarrierError)) {
                  killErrors++;
                  throw e;
                }
                brokenSeen++;
                st.check(breakCalls > 0, `party ${i} got BrokenBarrierError before any reset() or abort()`);
              },
            });
          }
        },
        controllers,
        // Whoever still waits waits for parties that never come: an abort frees them.
        () => breakIt("abort"),
        { distinct: false, end: "broken" },
      );
      // Every wait ended, and every party found waiting by a reset or abort was broken.
      expect(scene.passages.length + brokenSeen + killErrors).toBe(scene.arrived);
      expect(brokenSeen + killErrors).toBeGreaterThanOrEqual(mustBreak);
      await expect(barrier.wait()).rejects.toBeInstanceOf(BrokenBarrierError);
    },
  );
});
