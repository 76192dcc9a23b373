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
  _debugRecord: { retrieved: boolean } | undefined;
  _exception: unknown;
  getLoop(): EventLoop;
  toString(): string;
}

export const debugTracker = {
  /** True once any loop turned debug mode on (the cheap first check). */
  get enabled(): boolean {
    return debugSwitch.everOn;
  },

  watchException(future: WatchableFuture): void {
    const exception = future._exception;
    // The report holds the error strongly. An error keeps the frames of its stack until
    // the stack is formatted, and those frames can hold the future itself (a task that
    // failed in its first step has `_step` on the stack), which would keep it from ever
    // being collected and reported: format the stack now to let go of them.
    if (exception instanceof Error) void exception.stack;
    const record = (future._debugRecord ??= { retrieved: false });
    record.retrieved = false;
    registry.register(future, {
      kind: "exception",
      record,
      loop: future.getLoop(),
      what: future.toString().split(" [")[0]!,
      exception,
    });
  },

  /** Watches a pending task; its `_debugRecord.retrieved` is set once it is done. */
  watchPendingTask(task: WatchableFuture & { getName(): string }): void {
    const record = { retrieved: false };
    task._debugRecord = record;
    registry.register(task, { kind: "pending", record, loop: task.getLoop(), what: task.getName() });
  },
};
