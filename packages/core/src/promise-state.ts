import { inspect } from "node:util";

const PENDING_TEXT = /^[^{]*\{\s*<pending>/;

/**
 * Whether native promise `p` is already settled; false for anything else (internal). JavaScript has no synchronous way
 * to ask, but Node's inspector shows it (about 2 µs, so only for rare paths: a cancel that
 * finds no pending aiots await to interrupt).
 */
export function promiseSettled(p: PromiseLike<unknown>): boolean {
  // A thenable that is not a native promise has no state to read: it counts as pending.
  if (!(p instanceof Promise)) return false;
  return !PENDING_TEXT.test(inspect(p, { depth: 0, colors: false, customInspect: false, showProxy: false, showHidden: false }));
}
