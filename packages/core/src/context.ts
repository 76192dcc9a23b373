/**
 * The running-loop and current-task context.
 *
 * The current task lives in one `AsyncLocalStorage` whose store is the task itself
 * (never a per-await allocation). Async functions called from a task inherit it,
 * which is what lets a Future know which task awaits it. The state is kept on
 * `globalThis` under a registered symbol so that two copies of this package (a
 * duplicated install) still share one context.
 */
import { AsyncLocalStorage, AsyncResource } from "node:async_hooks";
import type { EventLoop, TaskLike } from "./interfaces.js";

interface ContextState {
  readonly tasks: AsyncLocalStorage<TaskLike<unknown>>;
  /** The loop whose callbacks are running right now (synchronously). */
  callbackLoop: EventLoop | undefined;
  defaultLoop: EventLoop | undefined;
  defaultLoopFactory: (() => EventLoop) | undefined;
}

const KEY = Symbol.for("aiots.context.v1");
const STOPPED_KEY = Symbol.for("aiots.stoppedFor.v1");

interface StoppedFor {
  task: unknown;
  goOn: ((now: boolean) => void) | undefined;
  watch: boolean;
  woken: unknown;
}
const holder = globalThis as { [KEY]?: ContextState };
const state: ContextState = (holder[KEY] ??= {
  tasks: new AsyncLocalStorage<TaskLike<unknown>>(),
  callbackLoop: undefined,
  defaultLoop: undefined,
  defaultLoopFactory: undefined,
});

/** The storage whose store is the current task (internal: used by Task to run its function). */
export const taskStorage: AsyncLocalStorage<TaskLike<unknown>> = state.tasks;

/**
 * The async context of the calling code, with `task` as the current task: where a task's
 * function runs (internal). asyncio runs a task in a copy of the context it was created
 * in; here that is every `AsyncLocalStorage` value of the code that called `createTask`,
 * captured now, though the function starts later, from the loop.
 */
export function taskContext(task: TaskLike<unknown>): AsyncResource {
  return state.tasks.run(task, contextHere);
}

/** The current async context, kept to run code in later (`runInAsyncScope`) (internal). */
export function contextHere(): AsyncResource {
  // Node emits its destroy hook when it is collected, and only if destroy hooks are on.
  return new AsyncResource("aiots");
}

/** The task whose code is running, if it is still pending; `undefined` outside tasks. */
export function currentTaskOrUndefined(): TaskLike<unknown> | undefined {
  const task = state.tasks.getStore();
  return task !== undefined && !task.done() ? task : undefined;
}

/**
 * The loop of the running code: the current task's loop, else the loop whose callback is
 * running, else, while it runs, the loop of the callback or the finished task whose code
 * started this code (an async callback after its first await, a promise chain); `undefined`
 * otherwise. A loop sitting in `runForever` elsewhere does not count: unrelated code (a host
 * timer, a test body) interleaves with it in JavaScript, and must not find it (asyncio's
 * running loop belongs to the code the loop runs).
 */
export function runningLoopOrUndefined(): EventLoop | undefined {
  const store = state.tasks.getStore();
  if (store !== undefined && !store.done()) return store.getLoop();
  const callbackLoop = state.callbackLoop;
  if (callbackLoop !== undefined || store === undefined) return callbackLoop;
  const loop = store.getLoop();
  return loop.isRunning() ? loop : undefined;
}

/**
 * What the task storage holds for the code a loop's callbacks run, and for what that code
 * starts: no task (it is never current: `done()`), but the loop. It tracks no await, as code
 * outside tasks does not.
 */
class LoopScope {
  readonly _loop: EventLoop;
  constructor(loop: EventLoop) {
    this._loop = loop;
  }
  done(): boolean {
    return true;
  }
  getLoop(): EventLoop {
    return this._loop;
  }
  _awaitStarted(): undefined {
    return undefined;
  }
  _takeLateCancel(): undefined {
    return undefined;
  }
}

/** Each loop's own context: the module's, with the loop's `LoopScope` in the task storage. */
const loopScopes = new WeakMap<EventLoop, AsyncResource>();

/**
 * A fresh context to run `loop`'s code in (internal: an iteration, and its rest if it stops
 * early): as `outsideTasks`, but with the loop's own marker in the task storage, so that code
 * its callbacks start and that goes on after they return still finds the loop while it runs.
 */
export function loopScope(loop: EventLoop): AsyncResource {
  let scope = loopScopes.get(loop);
  if (scope === undefined) {
    const marker = new LoopScope(loop) as unknown as TaskLike<unknown>;
    scope = pristine.runInAsyncScope(() => state.tasks.run(marker, contextHere));
    loopScopes.set(loop, scope);
  }
  return freshCopy(scope);
}

/**
 * The running loop, or the lazily created default loop when none runs (what primitives
 * use so that they work in plain async code).
 */
export function loopForCurrentCode(): EventLoop {
  const loop = runningLoopOrUndefined();
  if (loop !== undefined) return loop;
  const existing = state.defaultLoop;
  if (existing !== undefined && !existing.isClosed()) return existing;
  const factory = state.defaultLoopFactory;
  if (factory === undefined) {
    throw new Error("no event loop: import \"@aiots/loop\" (or \"aiots\"), or run the code inside run()");
  }
  return (state.defaultLoop = factory());
}

/** Registers how the default loop is made (internal: `@aiots/loop` does this on import). */
export function setDefaultLoopFactory(factory: () => EventLoop): void {
  state.defaultLoopFactory = factory;
}

/** Marks `loop` as the loop whose callbacks are running and returns the one marked before (internal). */
export function enterCallbackLoop(loop: EventLoop | undefined): EventLoop | undefined {
  const previous = state.callbackLoop;
  state.callbackLoop = loop;
  return previous;
}


/**
 * Set once any loop turns debug mode on, so that the normal path pays one boolean check
 * before asking a loop for its debug flag (internal).
 */
export const debugSwitch: { everOn: boolean } = ((state as ContextState & { debug?: { everOn: boolean } }).debug ??= {
  everOn: false,
});

/**
 * Runs `fn(arg)` in the context this module was loaded in (internal: the loop's iterations,
 * the batch of future reactions): outside any task, and with none of the `AsyncLocalStorage`
 * values of whatever code happened to wake the loop, which belong to that code only. So a
 * loop callback never sees another caller's context. (A task runs in the context its
 * creator had: see `taskContext`.)
 */
export function outsideTasks<A>(fn: (arg: A) => void, arg: A): void {
  cleanScope().runInAsyncScope(fn, undefined, arg);
}

/**
 * A context to run a loop iteration (or a batch of reactions) in: the loop's own, and
 * nothing code run in it sets (`enterWith`) reaches a later iteration or another loop
 * (internal). Callbacks of one iteration share it.
 */
function cleanScope(): AsyncResource {
  return freshCopy(pristine);
}

/**
 * `scope` itself, or where a value set with `enterWith` sticks to the resource it was set in
 * (async_hooks storage: Node 20 and 22), a fresh copy of it for each run; where `enterWith`
 * only replaces the current frame (AsyncContextFrame: Node 24), leaving the scope undoes it.
 */
function freshCopy(scope: AsyncResource): AsyncResource {
  return storesStick ? scope.runInAsyncScope(contextHere) : scope;
}

/**
 * Futures that stand for code asyncio runs inline, inside the awaiting task's own step (the
 * function or promise given to `waitFor`): once such a future is done, a cancel of the task
 * awaiting it does not throw at that await, as asyncio's step would already have gone past
 * it; it lands at the awaiting task's next await. The value says whether it wraps a plain
 * promise: awaiting that is awaiting the promise inside the task's own step, not a wait of the
 * task on the loop, so a wake-up the task holds is not let go there (it goes when the task
 * really waits, or after the hops a plain promise gets) (internal).
 */
const inlineTasks = new WeakMap<object, boolean>();

/** Marks `future` (a task, or a plain `promise`'s wrapper) as run inline by the task that awaits it (see `inlineTasks`) (internal). */
export function markInline(future: object, promise = false): void {
  inlineTasks.set(future, promise);
}

/** Whether `future` was marked with `markInline` (internal). */
export function runsInline(future: object): boolean {
  return inlineTasks.has(future);
}

/** Whether `future` is a plain promise's wrapper marked with `markInline` (internal). */
export function isPromiseWait(future: object): boolean {
  return inlineTasks.get(future) === true;
}

/** A mark put on loop callbacks of one kind, and the test for it. */
function callbackMark(key: symbol): {
  mark: <F extends (...args: never[]) => unknown>(fn: F) => F;
  has: (fn: unknown) => boolean;
} {
  return {
    mark: (fn) => {
      (fn as unknown as Record<symbol, true>)[key] = true;
      return fn;
    },
    has: (fn) => (fn as Record<symbol, unknown> | undefined)?.[key] === true,
  };
}

const taskStep = callbackMark(Symbol.for("aiots.taskStep"));

/** Marks a loop callback whose one argument is the task whose step it runs, named in the loop's reports (internal). */
export const markTaskStep = taskStep.mark;

/** Whether `fn` was marked with `markTaskStep` (internal). */
export const isTaskStep = taskStep.has;

const resumption = callbackMark(Symbol.for("aiots.resumption"));

/**
 * Marks a loop callback that wakes a task (it delivers a settled future to its awaiters):
 * the loop lets the woken code run until it really waits before its next callback, as
 * asyncio runs the task's step in that callback's place (internal).
 */
export const markResumption = resumption.mark;

/** Whether `fn` was marked with `markResumption` (internal). */
export const isResumption = resumption.has;

/**
 * Set while a loop callback that stands for the woken task's own step (the wake-up of
 * `sleep(0)`, a Barrier party's turn) settles the future that task awaits: its awaiters
 * resume at once, in that callback's place, not behind the rest of the iteration (internal).
 */
export const stepInPlace = { on: false };

/**
 * A loop's batch that stopped early for a task's step (see `pausesAfter` in @aiots/loop):
 * `task` is that task, and calling `goOn(now)` lets the rest of the batch run, at once or in
 * the next microtask. The task's code calls it once it really waits (an await of a pending
 * aiots future: in a microtask) or ends (at once), so the rest goes on right after the step,
 * as in asyncio, rather than a host turn later. While a loop runs a callback (`watch`),
 * `woken` records the task the callback's delivery woke. Kept on `globalThis`, as the state
 * above, so that two copies of this package share it (internal).
 */
export const stoppedFor: StoppedFor = ((globalThis as { [STOPPED_KEY]?: StoppedFor })[STOPPED_KEY] ??= {
  task: undefined,
  goOn: undefined,
  watch: false,
  woken: undefined,
});

/** Calls `settle(a, b)` as the woken task's own step (see `stepInPlace`) (internal). */
export function settleInPlace<A, B>(settle: (a: A, b: B) => void, a: A, b: B): void {
  stepInPlace.on = true;
  try {
    settle(a, b);
  } finally {
    stepInPlace.on = false;
  }
}

const delivery = callbackMark(Symbol.for("aiots.delivery"));

/**
 * Marks a loop callback that delivers a future that has settled already: a loop that is
 * closed runs it still, rather than drop it with the rest, so the future's awaiters are not
 * left waiting for an outcome it has (internal).
 */
export const markDelivery = delivery.mark;

/** Whether `fn` was marked with `markDelivery` (internal). */
export const isDelivery = delivery.has;

// The loop's own context, that no code runs in directly (only copies of it, or scopes that
// restore it), made with no current task even if this module is first loaded from inside one.
const pristine = state.tasks.run(undefined as unknown as TaskLike<unknown>, contextHere);

/** Whether `enterWith` inside a resource's scope changes that resource for good (see `cleanScope`). */
const storesStick = ((): boolean => {
  const probe = new AsyncLocalStorage<number>();
  try {
    const resource = new AsyncResource("aiots.probe", { requireManualDestroy: true });
    resource.runInAsyncScope(() => probe.enterWith(1));
    return resource.runInAsyncScope(() => probe.getStore()) === 1;
  } finally {
    probe.disable();
  }
})();
