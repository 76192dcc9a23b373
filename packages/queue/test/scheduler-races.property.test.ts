import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { InvalidStateError, QueueEmpty, QueueFull, QueueShutDown, isCancelledError } from "@aiots/core";
import { createTask, currentTask, isFuture, sleep } from "@aiots/future";
import type { Future, Task } from "@aiots/future";
import { LifoQueue, PriorityQueue, Queue } from "@aiots/queue";
import { onVirtualLoop } from "./helpers.js";

/**
 * Queues under random microtask interleavings picked by fast-check's scheduler.
 *
 * Producers and consumers ("actors") run scripts of queue operations. Before each operation an
 * actor stops at a scheduling point (`s.schedule`, or an aiots `sleep(0)`), and the scheduler
 * picks which stopped actor goes on next, so operations, hand-overs and the woken tasks'
 * resumptions interleave in random orders. Cancels (`task.cancel()`), AbortSignal aborts,
 * `shutdown()`/`shutdown(true)` and `join()`s are fired at moments the scheduler picks
 * (`s.scheduleFunction`), and also in the same synchronous block right after an operation, so
 * that they land between a hand-over and the woken task resuming (asyncio's late cancel).
 *
 * Actors are aiots tasks on a virtual-time loop (`run()`), or plain async code outside any
 * task (the default loop) mixed with tasks. Every invariant is checked from what the code
 * awaiting the queue saw; a few internal counters (`_reserved`, the buffer behind
 * `PriorityQueue`/`LifoQueue`, the give-backs) are read to check the bound and the order.
 */

type Kind = "Queue" | "LifoQueue" | "PriorityQueue";
type Mode = "tasks" | "plain";

/** Something done to the queue or to another actor, at once. */
type Action =
  | { do: "cancel"; t: number }
  | { do: "cancelWaiting"; t: number }
  | { do: "abort"; t: number }
  | { do: "shutdown"; immediate: boolean }
  | { do: "join"; task: boolean; eager: boolean };
/** What an actor does in the same synchronous block right after a step succeeded. */
type Then = Action[];

/**
 * `putTask`/`getTask` run the operation as a child task (`createTask(() => q.put(x))`) that
 * the actor waits for without awaiting it (a cancel of the actor does not reach it);
 * `putAwait`/`getAwait` await that child task, so a cancel of the actor goes on to it, or,
 * once the child is done, makes the actor's await throw while the child keeps its outcome.
 */
type ProducerOp = "put" | "putNowait" | "putSignal" | "putTask" | "putAwait" | "yield";
type ConsumerOp = "get" | "getNowait" | "getSignal" | "getTask" | "getAwait" | "iterate" | "yield";

interface Step {
  op: ProducerOp | ConsumerOp;
  /** The scheduling point before the step: the fast-check scheduler, or an aiots sleep(0). */
  via: "sched" | "sleep";
  prio: number;
  /** Scheduling points a consumer holds an item for before its taskDone(). */
  hold: number;
  /** A child task of the step (`putTask`, `getAwait`...) starts eagerly: its operation runs inside `createTask`. */
  eager: boolean;
  then: Then;
}

interface ActorSpec {
  role: "producer" | "consumer" | "forAwait";
  /** Catches a CancelledError (and uncancels) and goes on with its script. */
  resilient: boolean;
  /** In plain mode: runs as an aiots task rather than plain async code. */
  task: boolean;
  /** Its task starts eagerly (on a running loop): its first step runs inside `createTask`. */
  eager: boolean;
  steps: Step[];
}

interface Chaos {
  /** Scheduling points before it fires. */
  gap: number;
  /** Done in one synchronous block. */
  actions: Action[];
}

interface Scenario {
  maxsize: number;
  actors: ActorSpec[];
  chaos: Chaos[];
}

const target = fc.nat(7);
const action = (shutdownWeight: number): fc.Arbitrary<Action> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.record({ do: fc.constant("cancel" as const), t: target }) },
    // Someone in the middle of a queue operation, maybe already handed its item or slot.
    { weight: 6, arbitrary: fc.record({ do: fc.constant("cancelWaiting" as const), t: target }) },
    { weight: 3, arbitrary: fc.record({ do: fc.constant("abort" as const), t: target }) },
    { weight: 1, arbitrary: fc.record({ do: fc.constant("join" as const), task: fc.boolean(), eager: fc.boolean() }) },
    // Shutting down in the middle of a script is rare, or most runs would stop early.
    { weight: shutdownWeight, arbitrary: fc.record({ do: fc.constant("shutdown" as const), immediate: fc.boolean() }) },
  );
const stepThen: fc.Arbitrary<Then> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Action[]>([]) },
  { weight: 2, arbitrary: fc.array(action(1), { minLength: 1, maxLength: 3 }) },
);

const step = (ops: readonly (ProducerOp | ConsumerOp)[]): fc.Arbitrary<Step> =>
  fc.record({
    op: fc.constantFrom(...ops),
    via: fc.constantFrom("sched", "sched", "sched", "sleep"),
    prio: fc.nat(4),
    hold: fc.nat(2),
    eager: fc.boolean(),
    then: stepThen,
  });
const producerOps: ProducerOp[] = ["put", "put", "putNowait", "putSignal", "putTask", "putAwait", "yield"];
const consumerOps: ConsumerOp[] = ["get", "get", "getNowait", "getSignal", "getTask", "getAwait", "iterate", "yield"];

const actor: fc.Arbitrary<ActorSpec> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ role: fc.constant("producer" as const), resilient: fc.boolean(), task: fc.boolean(), eager: fc.boolean(), steps: fc.array(step(producerOps), { minLength: 1, maxLength: 7 }) }) },
  { weight: 3, arbitrary: fc.record({ role: fc.constant("consumer" as const), resilient: fc.boolean(), task: fc.boolean(), eager: fc.boolean(), steps: fc.array(step(consumerOps), { maxLength: 7 }) }) },
  { weight: 1, arbitrary: fc.record({ role: fc.constant("forAwait" as const), resilient: fc.boolean(), task: fc.boolean(), eager: fc.boolean(), steps: fc.array(step(["get"]), { maxLength: 4 }) }) },
);

const scenario: fc.Arbitrary<Scenario> = fc.record({
  maxsize: fc.constantFrom(0, 1, 1, 2, 3),
  actors: fc
    .array(actor, { minLength: 2, maxLength: 6 })
    .filter((as) => as.some((a) => a.role === "producer") && as.some((a) => a.role !== "producer")),
  chaos: fc.array(fc.record({ gap: fc.nat(4), actions: fc.array(action(4), { minLength: 1, maxLength: 3 }) }), { maxLength: 5 }),
});

const ABORT = new Error("aborted by the scenario");

function make(kind: Kind, maxsize: number): Queue<string> {
  if (kind === "LifoQueue") return new LifoQueue<string>(maxsize);
  if (kind === "PriorityQueue") return new PriorityQueue<string>(maxsize);
  return new Queue<string>(maxsize);
}

/** `prio|producer:seq`: unique, and in priority order as strings. */
const itemName = (prio: number, producer: number, seq: number) => `${prio}|${producer}:${String(seq).padStart(2, "0")}`;
const producerAndSeq = (item: string) => item.split("|")[1]!.split(":").map(Number) as [number, number];

/** A plain promise settled when `task` is done: awaiting it never cancels `task`. */
function settled(task: Task<unknown>): Promise<void> {
  return new Promise((resolve) => task.addDoneCallback(() => resolve()));
}

/**
 * What a step did. `ownCancel`: the actor's await of its child task (`putAwait`/`getAwait`)
 * threw the actor's own CancelledError, whatever the child's outcome.
 */
type Outcome = (
  | { kind: "ok"; item?: string }
  | { kind: "full" | "empty" | "shutdown" | "cancelled" | "aborted" | "ended" | "childCancelled" }
  | { kind: "unexpected"; error: unknown }
) & { ownCancel?: boolean };

function classify(error: unknown): Outcome {
  if (error instanceof QueueShutDown) return { kind: "shutdown" };
  if (error instanceof QueueFull) return { kind: "full" };
  if (error instanceof QueueEmpty) return { kind: "empty" };
  if (isCancelledError(error)) return { kind: "cancelled" };
  if (error === ABORT) return { kind: "aborted" };
  return { kind: "unexpected", error };
}

/** The wait in progress of an actor, while it awaits a queue operation. */
interface Current {
  op: string;
  /** The waiter Future the queue returned, when the operation blocked. */
  fut: Future<unknown> | undefined;
  child: Task<unknown> | undefined;
  controller: AbortController | undefined;
  /**
   * Its waiter was pending when the queue was shut down: it must end with QueueShutDown (or
   * CancelledError, if its task was cancelled before its code resumed).
   */
  mustShutDown: boolean;
}

/** Whether `c` is a get whose waiter was delivered, and whose code has not recorded the item yet. */
function deliveredGet(c: Current | undefined): boolean {
  return c !== undefined && c.op.startsWith("get") && c.fut !== undefined && c.fut.done() && !c.fut.cancelled();
}

interface Actor {
  index: number;
  spec: ActorSpec;
  task: Task<void> | undefined;
  current: Current | undefined;
  /** The step of its script it is at. */
  step: number;
  got: string[];
  /**
   * The actor's get may have taken an item it has not recorded yet: a get that did not wait
   * (it took the item at the call, and its settled promise resumes the code a microtask
   * later), a child task's get, or an iteration step (its item goes through a few more
   * promises before the loop body sees it). A get that waits is recorded in the very step
   * its await resumes in, which is when the queue stops counting its item.
   */
  late: boolean;
}

interface Joiner {
  /** The smallest lower bound of unfinished work seen while it waited. */
  minUnfinished: number;
  resolved: boolean;
  done: Promise<void>;
}

class World {
  readonly q: Queue<string>;
  readonly actors: Actor[] = [];
  readonly violations: string[] = [];
  progress = 0;
  readonly putOk: string[] = [];
  readonly putStartedAt = new Map<string, number>();
  readonly got: string[] = [];
  readonly leftover: string[] = [];
  readonly givenBack = new Set<string>();
  doneCount = 0;
  shutdowns = 0;
  /** Event number of the last shutdown(true), -1 if none. */
  lastImmediateAt = -1;
  events = 0;
  readonly cancelRequested = new WeakSet<Task<unknown>>();
  readonly children = new Set<Task<unknown>>();
  readonly joiners: Joiner[] = [];
  /** Set once the run hangs: scheduling points then pass at once, so that it can end. */
  over = false;

  constructor(
    readonly kind: Kind,
    readonly mode: Mode,
    readonly maxsize: number,
    readonly s: fc.Scheduler,
  ) {
    this.q = make(kind, maxsize);
    this.hook();
  }

  violation(message: string): void {
    this.violations.push(`${message} [${String(this.q)}]`);
  }

  /** Watches give-backs, and the order items leave the buffer of a PriorityQueue/LifoQueue. */
  hook(): void {
    const q = this.q;
    const giveBack = q._giveBack.bind(q);
    q._giveBack = (item, from) => {
      this.givenBack.add(item);
      giveBack(item, from);
    };
    if (this.kind === "PriorityQueue") {
      const store = q._store as unknown as { _items: string[]; take(): string };
      const take = store.take.bind(store);
      store.take = () => {
        const present = [...store._items];
        const item = take();
        const smaller = present.filter((other) => other < item);
        if (smaller.length > 0) this.violation(`PriorityQueue gave out ${item} while ${smaller.join(", ")} was buffered`);
        return item;
      };
    } else if (this.kind === "LifoQueue") {
      const store = q._store as unknown as { add(i: string): void; restore(i: string): void; take(): string; clear(): void };
      const shadow: string[] = [];
      const { add, restore, take, clear } = { add: store.add.bind(store), restore: store.restore.bind(store), take: store.take.bind(store), clear: store.clear.bind(store) };
      store.add = (item) => {
        add(item);
        shadow.push(item);
      };
      store.restore = (item) => {
        restore(item);
        shadow.push(item);
      };
      store.take = () => {
        const item = take();
        const expected = shadow.pop();
        if (item !== expected) this.violation(`LifoQueue gave out ${item}, but the last item in was ${expected}`);
        return item;
      };
      store.clear = () => {
        clear();
        shadow.length = 0;
      };
    }
  }

  /** Called at every event: the bound, and the join lower bound. */
  observe(where: string): void {
    this.progress++;
    this.events++;
    const q = this.q;
    const max = this.maxsize;
    // Once shut down immediately, a queue stays empty: nothing gets in, nothing comes back.
    if (this.lastImmediateAt >= 0 && q.qsize() !== 0) this.violation(`${where}: ${q.qsize()} items buffered after shutdown(true)`);
    if (max > 0) {
      if (q.qsize() > max) this.violation(`${where}: ${q.qsize()} items buffered > maxsize ${max}`);
      if (q.qsize() + q._reserved > max) this.violation(`${where}: ${q.qsize()} buffered + ${q._reserved} in hand-overs > maxsize ${max}`);
      // Seen from outside: items whose put returned and that nobody has got yet are in the
      // queue (buffered or on their way to a getter), at most maxsize of them. A getter that
      // took an item it has not reported yet may hold one more (see Actor.late).
      if (this.lastImmediateAt < 0) {
        // (A get whose waiter was delivered resumes its code a microtask later: until then the
        // queue no longer counts its item, and plain code may fill its slot in between.)
        const late = this.actors.filter((a) => a.late || deliveredGet(a.current)).length;
        const held = this.putOk.length - this.got.length;
        if (held > max + late) this.violation(`${where}: ${held} items put and not got > maxsize ${max} (+${late} not reported yet)`);
      }
    }
    const unfinished = this.putOk.length - this.doneCount;
    for (const j of this.joiners) if (!j.resolved) j.minUnfinished = Math.min(j.minUnfinished, unfinished);
  }

  recordPut(item: string): void {
    this.putOk.push(item);
    this.observe(`put ${item}`);
  }

  recordGot(a: Actor | undefined, item: string): void {
    this.got.push(item);
    if (a !== undefined) {
      a.got.push(item);
      a.late = false;
    }
    this.observe(`got ${item}`);
  }

  taskDone(): void {
    this.q.taskDone();
    this.doneCount++;
    this.observe("taskDone");
  }

  shutdown(immediate: boolean, why: string): void {
    const q = this.q;
    const before = q.qsize();
    // A wait still pending now must be rejected with QueueShutDown.
    for (const a of this.actors) {
      const c = a.current;
      if (c?.fut !== undefined && !c.fut.done()) c.mustShutDown = true;
    }
    q.shutdown(immediate);
    this.shutdowns++;
    if (immediate) this.lastImmediateAt = this.events;
    if (immediate && q.qsize() !== 0) this.violation(`${why}: shutdown(true) left ${q.qsize()} items buffered`);
    if (!immediate && q.qsize() !== before) this.violation(`${why}: shutdown() changed qsize from ${before} to ${q.qsize()}`);
    try {
      q.putNowait("9|never");
      this.violation(`${why}: putNowait after shutdown succeeded`);
    } catch (error) {
      if (!(error instanceof QueueShutDown)) this.violation(`${why}: putNowait after shutdown threw ${String(error)}`);
    }
    for (const a of this.actors) {
      const c = a.current;
      if (c?.fut !== undefined && c.mustShutDown && !c.fut.done()) this.violation(`${why}: ${c.op} of actor ${a.index} still pending after shutdown`);
    }
    this.observe(`shutdown(${immediate}) ${why}`);
  }

  /** Live tasks that a cancel may hit: actor tasks and child tasks. */
  cancelTargets(): Task<unknown>[] {
    const out: Task<unknown>[] = [];
    for (const a of this.actors) if (a.task !== undefined && !a.task.done()) out.push(a.task);
    for (const c of this.children) if (!c.done()) out.push(c);
    return out;
  }

  cancel(task: Task<unknown>): void {
    this.cancelRequested.add(task);
    task.cancel();
  }

  act(actions: Action[], why: string): void {
    for (const t of actions) this.act1(t, why);
  }

  act1(t: Action, why: string): void {
    switch (t.do) {
      case "cancel": {
        const targets = this.cancelTargets();
        if (targets.length > 0) this.cancel(targets[t.t % targets.length]!);
        break;
      }
      case "cancelWaiting": {
        // Someone in the middle of a queue operation: maybe already handed an item or a slot.
        const waiting = this.actors.filter((a) => a.current !== undefined && (a.current.child ?? a.task) !== undefined);
        if (waiting.length === 0) break;
        const a = waiting[t.t % waiting.length]!;
        this.cancel((a.current!.child ?? a.task)!);
        break;
      }
      case "abort": {
        const live = this.actors.filter((a) => a.current?.controller !== undefined);
        if (live.length > 0) live[t.t % live.length]!.current!.controller!.abort(ABORT);
        break;
      }
      case "shutdown":
        this.shutdown(t.immediate, why);
        break;
      case "join":
        this.join(t.task, t.eager);
        break;
    }
    this.observe(`${why}: ${t.do}`);
  }

  join(asTask: boolean, eager: boolean): void {
    const j: Joiner = { minUnfinished: this.putOk.length - this.doneCount, resolved: false, done: Promise.resolve() };
    const onJoined = () => {
      j.resolved = true;
      // Work was certainly unfinished the whole time it waited (unless shutdown(true)
      // dropped items, which the count from outside does not see).
      if (this.lastImmediateAt < 0 && j.minUnfinished > 0) this.violation(`join resolved while at least ${j.minUnfinished} items were unfinished all along`);
      this.observe("joined");
    };
    // A join chained on inside a task is an await of that task (as any aiots Future's
    // `.then` there): cancelling the task withdraws it, and only then may it be cancelled.
    const owner = currentTask();
    const fail = (error: unknown) => {
      j.resolved = true;
      if (isCancelledError(error) && owner !== undefined && this.cancelRequested.has(owner)) return;
      this.violation(`join rejected with ${String(error)}`);
    };
    if (asTask) {
      const joinTask = createTask(() => this.q.join(), { eagerStart: eager });
      j.done = settled(joinTask).then(() => (joinTask.cancelled() ? fail("a cancel") : joinTask.exception() === null ? onJoined() : fail(joinTask.exception())));
    } else {
      j.done = this.q.join().then(onJoined, fail);
    }
    this.joiners.push(j);
  }

  /** The scheduling point before a step. */
  async point(via: Step["via"], label: string): Promise<void> {
    if (via === "sleep") await sleep(0);
    else if (!this.over) await this.s.schedule(Promise.resolve(label), label);
    this.observe(label);
  }

  /** Scheduling points in plain code that no cancel can interrupt (a consumer's hold). */
  async holdFor(n: number, label: string): Promise<void> {
    for (let i = 0; i < n && !this.over; i++) await this.s.schedule(Promise.resolve(label), label);
  }

  checkOutcome(a: Actor, c: Current, out: Outcome, startedAfterShutdown: boolean, startedAfterImmediate: boolean, cancelled?: boolean): void {
    const who = `${c.op} of actor ${a.index}`;
    const owner = c.child ?? a.task;
    const cancelRequested = cancelled ?? (owner !== undefined && this.cancelRequested.has(owner));
    if (out.kind === "unexpected") this.violation(`${who} threw ${String(out.error)}: ${(out.error as Error)?.stack ?? ""}`);
    if (out.kind === "cancelled" && !cancelRequested) this.violation(`${who} threw CancelledError, but nobody cancelled it`);
    if (out.kind === "aborted" && c.controller?.signal.aborted !== true) this.violation(`${who} threw the abort reason without an abort`);
    // A wait the shutdown found pending is rejected, whatever comes after (an abort changes
    // nothing then; a task cancel before the code resumes turns it into CancelledError).
    if (c.mustShutDown && out.kind !== "shutdown" && out.kind !== "ended" && !(out.kind === "cancelled" && cancelRequested)) {
      this.violation(`${who} was waiting at shutdown but ended ${out.kind}`);
    }
    const isPut = c.op.startsWith("put");
    if (isPut && startedAfterShutdown && out.kind === "ok") this.violation(`${who} started after shutdown and succeeded`);
    if (!isPut && startedAfterImmediate && out.kind === "ok") this.violation(`${who} started after shutdown(true) and got ${out.kind === "ok" ? out.item : ""}`);
  }

  /**
   * `putAwait`/`getAwait`: the actor awaits a child task that does the operation. The child's
   * outcome says what happened to the item, whatever the actor's await threw: the item a
   * child got is its result (a cancel of the actor that came after does not put it back,
   * as in asyncio), and a put the child finished has happened.
   */
  async viaAwaitedTask(a: Actor, op: "putAwait" | "getAwait", item: string | undefined): Promise<Outcome> {
    const c: Current = { op: item === undefined ? op : `${op}(${item})`, fut: undefined, child: undefined, controller: undefined, mustShutDown: false };
    const afterShutdown = this.shutdowns > 0;
    const afterImmediate = this.lastImmediateAt >= 0;
    if (item !== undefined) this.putStartedAt.set(item, this.events);
    // (Noted first: an eager child gets or puts inside createTask.)
    a.current = c;
    if (item === undefined) a.late = true;
    const eagerStart = a.spec.steps[a.step]?.eager === true;
    const child: Task<unknown> = item === undefined ? createTask(() => this.q.get(), { eagerStart }) : createTask(() => this.q.put(item), { eagerStart });
    this.children.add(child);
    let own: Outcome = { kind: "ok" };
    try {
      await child;
    } catch (error) {
      own = classify(error);
    }
    if (!child.done()) await settled(child);
    this.children.delete(child);
    a.current = undefined;
    let out: Outcome;
    if (child.cancelled()) out = { kind: "cancelled" };
    else if (child.exception() !== null) out = classify(child.exception());
    else if (item === undefined) {
      out = { kind: "ok", item: child.result() as string };
      this.recordGot(a, out.item!);
    } else {
      out = { kind: "ok" };
      this.recordPut(item);
    }
    a.late = false;
    // A cancel of either one reaches the other: the child's CancelledError goes to the
    // actor, and the actor's cancel goes on to the child it awaits.
    const cancelled = (a.task !== undefined && this.cancelRequested.has(a.task)) || this.cancelRequested.has(child);
    if (own.kind === "cancelled" && !cancelled) this.violation(`${c.op} of actor ${a.index}: its await threw CancelledError, but nobody cancelled it`);
    if (own.kind === "ok" && out.kind !== "ok") this.violation(`${c.op} of actor ${a.index}: its await returned, but the task ended ${out.kind}`);
    if (own.kind === "unexpected") this.violation(`${c.op} of actor ${a.index} threw ${String(own.error)}`);
    this.checkOutcome(a, { ...c, child }, out, afterShutdown, afterImmediate, cancelled);
    // What the actor makes of it: the child's outcome (an item it got is the actor's to mark
    // done), and whether its own await threw its own cancel.
    const ownCancel = own.kind === "cancelled" && a.task !== undefined && this.cancelRequested.has(a.task);
    return out.kind === "cancelled" ? { kind: "childCancelled", ownCancel } : { ...out, ownCancel };
  }

  /** Runs one put step; records what it did. */
  async put(a: Actor, op: ProducerOp, item: string): Promise<Outcome> {
    if (op === "putAwait") return this.viaAwaitedTask(a, op, item);
    const q = this.q;
    const c: Current = { op: `${op}(${item})`, fut: undefined, child: undefined, controller: undefined, mustShutDown: false };
    const afterShutdown = this.shutdowns > 0;
    this.putStartedAt.set(item, this.events);
    let out: Outcome;
    a.current = c;
    try {
      if (op === "putNowait") {
        q.putNowait(item);
      } else if (op === "putTask") {
        await this.inChild(a, c, () => q.put(item));
      } else {
        if (op === "putSignal") c.controller = new AbortController();
        const p = q.put(item, c.controller === undefined ? undefined : { signal: c.controller.signal });
        if (isFuture(p)) c.fut = p as unknown as Future<unknown>;
        await p;
      }
      out = { kind: "ok" };
      this.recordPut(item);
    } catch (error) {
      out = classify(error);
    }
    a.current = undefined;
    this.checkOutcome(a, c, out, afterShutdown, this.lastImmediateAt >= 0);
    return c.child !== undefined && out.kind === "cancelled" ? { kind: "childCancelled" } : out;
  }

  /**
   * Runs `op` as the function of a child task (eager if the step says so), recorded in `c`
   * while it runs; its result, or its error (its `CancelledError` if it ended cancelled).
   */
  async inChild<T>(a: Actor, c: Current, op: () => Promise<T>): Promise<T> {
    const child = createTask(op, { eagerStart: a.spec.steps[a.step]?.eager === true });
    c.child = child;
    this.children.add(child);
    await settled(child);
    this.children.delete(child);
    if (child.cancelled()) throw getCancelled(child);
    if (child.exception() !== null) throw child.exception();
    return child.result();
  }

  /** Runs one get step; records the item it got. */
  async get(a: Actor, op: ConsumerOp, iterator: AsyncIterator<string, undefined>): Promise<Outcome> {
    if (op === "getAwait") return this.viaAwaitedTask(a, op, undefined);
    const q = this.q;
    const c: Current = { op, fut: undefined, child: undefined, controller: undefined, mustShutDown: false };
    const afterShutdown = this.shutdowns > 0;
    const afterImmediate = this.lastImmediateAt >= 0;
    let out: Outcome;
    a.current = c;
    try {
      let item: string;
      if (op === "getNowait") {
        item = q.getNowait();
      } else if (op === "getTask") {
        // Its function returns the get itself: the task's result is the item, or the item is back.
        a.late = true;
        item = await this.inChild(a, c, () => q.get());
      } else if (op === "iterate") {
        a.late = true;
        const next = await iterator.next();
        if (next.done === true) {
          out = { kind: "ended" };
          a.current = undefined;
          a.late = false;
          if (this.shutdowns === 0) this.violation(`iteration of actor ${a.index} ended before any shutdown`);
          this.checkOutcome(a, c, out, afterShutdown, afterImmediate);
          return out;
        }
        item = next.value;
      } else {
        if (op === "getSignal") c.controller = new AbortController();
        const p = q.get(c.controller === undefined ? undefined : { signal: c.controller.signal });
        if (isFuture(p)) c.fut = p as unknown as Future<unknown>;
        else a.late = true;
        item = await p;
      }
      out = { kind: "ok", item };
      this.recordGot(a, item);
    } catch (error) {
      out = classify(error);
    }
    a.current = undefined;
    a.late = false;
    this.checkOutcome(a, c, out, afterShutdown, afterImmediate);
    return c.child !== undefined && out.kind === "cancelled" ? { kind: "childCancelled" } : out;
  }
}

function getCancelled(task: Task<unknown>): unknown {
  try {
    task.result();
  } catch (error) {
    return error;
  }
  return new Error("a cancelled task gave a result");
}

/** What an actor does when its step threw: a CancelledError ends it unless it is resilient. */
function goesOn(a: Actor, out: Outcome): boolean {
  if (out.kind === "unexpected") return false;
  // (A cancelled child task is the child's business: the actor goes on.)
  if (out.kind !== "cancelled") return true;
  if (!a.spec.resilient) return false;
  // Swallowing it, as asyncio code may: take the request back, so later awaits run.
  if (a.task !== undefined && currentTask() === a.task) a.task.uncancel();
  return true;
}

/**
 * Whether an actor goes on after a step that ended with `out`: by `goesOn`, and, when its await
 * of a child task threw its own CancelledError (`ownCancel`), by `goesOn` for that too.
 */
function goesOnAfter(a: Actor, out: Outcome): boolean {
  return goesOn(a, out) && (out.ownCancel !== true || goesOn(a, { kind: "cancelled" }));
}

/**
 * The step loop of a producer or a consumer: each step waits at its scheduling point (one
 * that throws ends the actor unless it goes on, and then skips the step), a `yield` step does
 * nothing more, any other is run by `run`, which says whether the actor goes on.
 */
async function runSteps(w: World, a: Actor, run: (st: Step, i: number) => Promise<boolean>): Promise<void> {
  for (let i = 0; i < a.spec.steps.length; i++) {
    const st = a.spec.steps[i]!;
    a.step = i;
    try {
      await w.point(st.via, `actor ${a.index} step ${i}`);
    } catch (error) {
      if (!goesOn(a, classify(error))) return;
      continue;
    }
    if (st.op === "yield") continue;
    if (!(await run(st, i))) return;
  }
}

async function runProducer(w: World, a: Actor): Promise<void> {
  await runSteps(w, a, async (st, i) => {
    const out = await w.put(a, st.op as ProducerOp, itemName(st.prio, a.index, i));
    if (out.kind === "ok") w.act(st.then, `after ${st.op} of actor ${a.index}`);
    if (out.kind === "shutdown" && !a.spec.resilient) return false;
    return goesOnAfter(a, out);
  });
}

async function runConsumer(w: World, a: Actor): Promise<void> {
  const iterator = w.q[Symbol.asyncIterator]();
  await runSteps(w, a, async (st) => {
    const out = await w.get(a, st.op as ConsumerOp, iterator);
    if (out.kind === "ok") {
      w.act(st.then, `after ${st.op} of actor ${a.index}`);
      await w.holdFor(st.hold, `actor ${a.index} holds ${out.item}`);
      w.taskDone();
    }
    if (out.kind === "ended" || (out.kind === "shutdown" && !a.spec.resilient)) return false;
    return goesOnAfter(a, out);
  });
}

async function runForAwait(w: World, a: Actor): Promise<void> {
  const steps = a.spec.steps;
  let n = 0;
  for (;;) {
    const c: Current = { op: "for await", fut: undefined, child: undefined, controller: undefined, mustShutDown: false };
    try {
      a.current = c;
      a.late = true;
      for await (const item of w.q) {
        a.current = undefined;
        w.recordGot(a, item);
        const st = steps.length === 0 ? undefined : steps[n++ % steps.length]!;
        try {
          if (st !== undefined) {
            w.act(st.then, `in for await of actor ${a.index}`);
            if (st.via === "sleep") await sleep(0);
            await w.holdFor(st.hold, `actor ${a.index} holds ${item}`);
          }
        } finally {
          w.taskDone();
        }
        a.current = c;
        a.late = true;
      }
      a.current = undefined;
      a.late = false;
      // The loop ends only once the queue is shut down and empty.
      if (w.shutdowns === 0) w.violation(`for await of actor ${a.index} ended before any shutdown`);
      return;
    } catch (error) {
      a.current = undefined;
      a.late = false;
      const out = classify(error);
      if (out.kind === "unexpected") w.violation(`for await of actor ${a.index} threw ${String(error)}`);
      if (out.kind === "cancelled" && (a.task === undefined || !w.cancelRequested.has(a.task))) w.violation(`for await of actor ${a.index} threw CancelledError, but nobody cancelled it`);
      if (!goesOn(a, out)) return;
    }
  }
}

async function runActor(w: World, a: Actor): Promise<void> {
  try {
    if (a.spec.role === "producer") await runProducer(w, a);
    else if (a.spec.role === "consumer") await runConsumer(w, a);
    else await runForAwait(w, a);
  } catch (error) {
    // Only a CancelledError may end an actor (one that was not resilient).
    if (!isCancelledError(error)) w.violation(`actor ${a.index} failed: ${String(error)} ${(error as Error)?.stack ?? ""}`);
    else if (a.task === undefined || !w.cancelRequested.has(a.task)) w.violation(`actor ${a.index} cancelled, but nobody cancelled it`);
  }
}

/** The chaos chain: actions fired at moments the scheduler picks. */
async function runChaos(w: World, chaos: Chaos[]): Promise<void> {
  const fire = w.s.scheduleFunction(async function chaos(i: number) {
    return i;
  });
  for (let i = 0; i < chaos.length; i++) {
    const c = chaos[i]!;
    await w.holdFor(c.gap, `chaos ${i} gap`);
    if (!w.over) await fire(i);
    w.act(c.actions, `chaos ${i}`);
  }
}

/**
 * Settles once nothing happens any more: no event, nothing scheduled, over many idle rounds
 * (virtual time jumps only when the loop has nothing to run; on the host loop, host turns).
 */
function quiet(w: World): { done: Promise<"quiet">; stop(): void } {
  let stopped = false;
  if (w.mode === "tasks") {
    const watch = createTask(async () => {
      let last = -1;
      for (;;) {
        await sleep(1000);
        if (w.progress === last && w.s.count() === 0) return "quiet" as const;
        last = w.progress;
      }
    });
    return { done: new Promise((resolve) => watch.addDoneCallback(() => resolve("quiet"))), stop: () => watch.cancel() };
  }
  const done = (async () => {
    let last = -1;
    for (let idle = 0; idle < 40 && !stopped; ) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (w.progress !== last || w.s.count() > 0) {
        last = w.progress;
        idle = 0;
      } else idle++;
    }
    return "quiet" as const;
  })();
  return { done, stop: () => (stopped = true) };
}

async function until(w: World, what: Promise<unknown>, hangs = true): Promise<boolean> {
  const watch = quiet(w);
  const winner = await w.s.waitFor(Promise.race([what.then(() => "done" as const), watch.done]));
  watch.stop();
  if (winner === "done" || !hangs) return winner === "done";
  // It hangs: let whatever still waits on the scheduler go, so that the run can end (the
  // runner cancels the tasks left, which then wait on the queue only).
  w.over = true;
  await w.s.waitAll();
  return false;
}

async function drive(w: World, sc: Scenario): Promise<void> {
  const q = w.q;
  sc.actors.forEach((spec, index) => {
    w.actors.push({ index, spec, task: undefined, current: undefined, step: 0, got: [], late: false });
  });
  const running: Promise<void>[] = [];
  for (const a of w.actors) {
    if (w.mode === "tasks" || a.spec.task) {
      const task = createTask(
        () => {
          // (Inside an eager task's first step, createTask has not returned yet.)
          a.task = currentTask() as Task<void>;
          return runActor(w, a);
        },
        { eagerStart: a.spec.eager },
      );
      a.task = task;
      running.push(settled(task));
    } else {
      running.push(runActor(w, a));
    }
  }
  const chaos = runChaos(w, sc.chaos);
  const everything = Promise.all([...running, chaos]);

  // Let it play out until nothing moves any more: actors still blocked wait on a full or
  // empty queue.
  await until(w, everything, false);
  // The end: shut down, which must release every blocked putter, getter and iteration.
  w.shutdown(false, "the end");
  if (!(await until(w, everything))) {
    const stuck = w.actors.filter((a) => a.task === undefined || !a.task.done()).map((a) => `${a.index}: ${a.current?.op ?? "?"}`);
    w.violation(`hangs after the final shutdown; still going: ${stuck.join("; ")}`);
    return;
  }
  // What is still buffered.
  for (;;) {
    let item: string;
    try {
      item = q.getNowait();
    } catch (error) {
      if (!(error instanceof QueueShutDown)) w.violation(`draining threw ${String(error)}`);
      break;
    }
    w.leftover.push(item);
    w.recordGot(undefined, item);
    w.taskDone();
  }
  // Every join resolves once every item got was marked done.
  if (!(await until(w, Promise.all(w.joiners.map((j) => j.done))))) {
    w.violation(`a join hangs although every item was marked done (${w.joiners.filter((j) => !j.resolved).length} of ${w.joiners.length})`);
    return;
  }
  if (!(await until(w, q.join()))) w.violation("join() at the end hangs");
  try {
    q.taskDone();
    w.violation("taskDone() at the end, with nothing unfinished, did not throw");
  } catch (error) {
    if (!(error instanceof InvalidStateError)) w.violation(`taskDone() at the end threw ${String(error)}`);
  }
  if (q._getters.size !== 0 || q._putters.size !== 0 || q._reserved !== 0) w.violation("waiters or reserved slots left at the end");
}

async function play(kind: Kind, mode: Mode, s: fc.Scheduler, sc: Scenario): Promise<World> {
  const w = new World(kind, mode, sc.maxsize, s);
  if (mode === "tasks") await onVirtualLoop(() => drive(w, sc));
  else await drive(w, sc);
  return w;
}

function verify(w: World): void {
  expect(w.violations).toEqual([]);
  // Never duplicated: each item is got at most once (by a consumer or from what was left).
  const got = [...w.got].sort();
  expect(new Set(got).size).toBe(got.length);
  // Never made up: only items whose put returned are got.
  const putOk = new Set(w.putOk);
  expect(got.filter((item) => !putOk.has(item))).toEqual([]);
  // Never lost: every item put is got, or was dropped by a shutdown(true) that came after its put began.
  const gotSet = new Set(got);
  const missing = w.putOk.filter((item) => !gotSet.has(item));
  if (w.lastImmediateAt < 0) expect(missing).toEqual([]);
  else expect(missing.filter((item) => w.putStartedAt.get(item)! > w.lastImmediateAt)).toEqual([]);
  if (w.kind !== "Queue") return;
  // FIFO per producer, as each consumer saw it and as it was left (an item a cancelled getter
  // gave back goes to the front, so it may come after later ones).
  for (const seen of [...w.actors.map((a) => a.got), w.leftover]) {
    const last = new Map<number, number>();
    for (const item of seen) {
      if (w.givenBack.has(item)) continue;
      const [producer, seq] = producerAndSeq(item);
      if (seq <= (last.get(producer) ?? -1)) expect.fail(`FIFO broken: ${item} came after item ${last.get(producer)} of producer ${producer} in ${seen.join(", ")}`);
      last.set(producer, seq);
    }
  }
}

/** Runs per kind, scaled by `SCHEDULER_RACES_RUNS=<factor>` (`4` for a longer soak). */
const RUNS: Record<Kind, number> = { Queue: 600, PriorityQueue: 400, LifoQueue: 300 };
const runs = (n: number) => Math.ceil(n * Number(process.env.SCHEDULER_RACES_RUNS ?? 1));

describe("queues under scheduler-driven interleavings, cancels, aborts and shutdowns", () => {
  for (const kind of ["Queue", "PriorityQueue", "LifoQueue"] as const) {
    for (const mode of ["tasks", "plain"] as const) {
      const where = mode === "tasks" ? "aiots tasks on a virtual-time loop" : "plain async code and tasks on the default loop";
      it(`${kind}, ${where}: nothing lost or duplicated, order, bound, join and shutdown hold, nothing hangs`, async () => {
        await fc.assert(
          fc.asyncProperty(fc.scheduler(), scenario, async (s, sc) => {
            verify(await play(kind, mode, s, sc));
          }),
          { numRuns: runs(RUNS[kind]), ...(process.env.FCSEED ? { seed: Number(process.env.FCSEED), path: process.env.FCPATH, endOnFailure: true } : {}) },
        );
      });
    }
  }
});
