function kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

function isNumeric(value: unknown): value is number | bigint {
  return typeof value === "number" || typeof value === "bigint";
}

/**
 * The order `PriorityQueue` uses when given no `compare`: Python's `<` on the values a
 * priority queue usually holds. Numbers (and bigints) by value, strings by UTF-16 code units
 * (as `<` does), and arrays element by element, a shorter array first when it is a prefix of
 * the other, so `[priority, data]` entries work as Python's `(priority, data)` tuples.
 * Elements that are the same value (`Object.is`) compare equal without being looked at.
 *
 * @returns a negative number if `a` comes first, a positive one if `b` does, 0 if tied.
 * @throws TypeError when the two values cannot be ordered (an object, a number against a
 *   string, ...): pass your own `compare`, or add a tie-breaking counter as in
 *   `[priority, seq, data]`. RangeError for `NaN`, which has no place in an order.
 * @example
 * ```ts
 * defaultCompare(1, 2); // -1
 * defaultCompare([1, "b"], [1, "a"]); // 1
 * defaultCompare([1], [1, 0]); // -1
 * ```
 */
export function defaultCompare(a: unknown, b: unknown): number {
  if (Object.is(a, b)) return 0;
  if (isNumeric(a) && isNumeric(b)) {
    if (Number.isNaN(a) || Number.isNaN(b)) throw new RangeError("PriorityQueue cannot order NaN");
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : 1;
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      const order = defaultCompare(a[i], b[i]);
      if (order !== 0) return order;
    }
    return a.length - b.length;
  }
  throw new TypeError(
    `PriorityQueue's default order cannot compare ${kind(a)} with ${kind(b)}; pass a compare function`,
  );
}

/**
 * Throws what `defaultCompare` would throw for `value` against any other item: a `TypeError`
 * for a value of a kind it never orders (an object, a boolean, `undefined`...), a
 * `RangeError` for `NaN`. Arrays are let through: their elements are only compared as far as
 * needed, as Python's tuples are. Lets a `PriorityQueue` refuse such an item when nothing is
 * buffered to compare it with, instead of every later put failing on it (internal).
 */
export function checkOrderable(value: unknown): void {
  if (typeof value === "number") {
    if (Number.isNaN(value)) throw new RangeError("PriorityQueue cannot order NaN");
    return;
  }
  if (typeof value === "bigint" || typeof value === "string" || Array.isArray(value)) return;
  throw new TypeError(`PriorityQueue's default order cannot compare ${kind(value)}; pass a compare function`);
}
