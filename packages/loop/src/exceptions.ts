import { inspect } from "node:util";
import type { EventLoop, ExceptionContext, ExceptionHandler } from "@aiots/core";

/**
 * Hands `context` to the loop's handler, else to its `defaultExceptionHandler` (asyncio's
 * `call_exception_handler`). Neither may break the loop: a handler that throws falls back
 * to the default one, and a default one that throws (a subclass may override it) is printed
 * directly, since an error escaping here would leave the iteration half run.
 */
export function dispatchException(loop: EventLoop, handler: ExceptionHandler | null, context: ExceptionContext): void {
  if (handler === null) {
    callDefault(loop, context, false);
    return;
  }
  try {
    handler(loop, context);
  } catch (error) {
    callDefault(loop, { message: "Unhandled error in exception handler", exception: error, context }, true);
  }
}

function callDefault(loop: EventLoop, context: ExceptionContext, afterHandlerFailed: boolean): void {
  try {
    loop.defaultExceptionHandler(context);
  } catch (error) {
    console.error(
      afterHandlerFailed
        ? "Exception in default exception handler while handling an unexpected error in custom exception handler"
        : "Exception in default exception handler",
      error,
    );
  }
}

/** Prints a context with `console.error`: its message, its other fields, then the error. */
export function printException(context: ExceptionContext): void {
  const { message, exception, ...rest } = context;
  const details = Object.entries(rest).map(([k, v]) => `${k}: ${typeof v === "object" && v !== null ? inspect(v, { depth: 2 }) : String(v)}`);
  const text = message || "Unhandled error in event loop";
  if (exception === undefined) console.error(text, ...details);
  else console.error(text, ...details, exception);
}
