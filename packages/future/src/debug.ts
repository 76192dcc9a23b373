import type { EventLoop } from "@aiots/core";
import { debugSwitch } from "@aiots/core/internal";

/**
 * Debug-mode reports that need the garbage collector: a future whose exception nobody
 * looked at, and a task collected while still pending. Each watched object gets a small
 * record it shares with a `FinalizationRegistry`; the record, not the object, says at
 * collection time whether there is anything to report. Nothing is registered unless a
 * loop is in debug mode, so the normal path pays one boolean check.
 */
interface Watched {
  readonly kind: "exception" | "pending";
  readonly record: { retrieved: boolean };
  readonly loop: EventLoop;
  readonly what: string;
  readonly exception?: unknown;
}

const registry = new FinalizationRegistry<Watched>((watched) => {
  if (watched.record.retrieved) return;
  const loop = watched.loop;
  if (watched.kind === "exception") {
    loop.callExceptionHandler({ message: `${watched.what} exception was never retrieved`, exception: watched.exception });
  } else {
    loop.callExceptionHandler({ message: `Task was destroyed but it is pending: ${watched.what}` });
  }
});

interface WatchableFuture {
  _result: unknown;
  getLoop(): EventLoop;
  toString(): string;
}

const records = new WeakMap<object, { retrieved: boolean }>();

export const debugTracker = {
  /** True once any loop turned debug mode on (the cheap first check). */
  get enabled(): boolean {
    return debugSwitch.everOn;
  },

  watchException(future: WatchableFuture): void {
    const exception = future._result;
    // The report holds the error strongly. An error keeps the frames of its stack until
    // the stack is formatted, and those frames can hold the future itself (a task that
    // failed in its first step has `_step` on the stack), which would keep it from ever
    // being collected and reported: format the stack now to let go of them.
    if (exception instanceof Error) void exception.stack;
    let record = records.get(future);
    if (record === undefined) records.set(future, (record = { retrieved: false }));
    record.retrieved = false;
    registry.register(future, {
      kind: "exception",
      record,
      loop: future.getLoop(),
      what: future.toString().split(" [")[0]!,
      exception,
    });
  },

  /** Marks what was watched as seen to (the exception retrieved, the task done). */
  markRetrieved(future: object): void {
    const record = records.get(future);
    if (record !== undefined) record.retrieved = true;
  },

  /** A watched task is done: nothing to report for it as pending, and a later watch starts afresh. */
  taskDone(task: object): void {
    const record = records.get(task);
    if (record !== undefined) {
      record.retrieved = true;
      records.delete(task);
    }
  },

  /** Watches a pending task; its record is marked once it is done. */
  watchPendingTask(task: WatchableFuture & { getName(): string }): void {
    const record = { retrieved: false };
    records.set(task, record);
    registry.register(task, { kind: "pending", record, loop: task.getLoop(), what: task.getName() });
  },
};
