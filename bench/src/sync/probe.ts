/**
 * Counts how many workers are inside a critical section at once, so a contender that
 * does not really serialise (or lets more than its limit in) fails instead of winning.
 */
export class Probe {
  inside = 0;
  maxInside = 0;
  entries = 0;

  enter(): void {
    this.entries++;
    if (++this.inside > this.maxInside) this.maxInside = this.inside;
  }

  exit(): void {
    this.inside--;
  }

  /** Throws unless every entry happened and at most `limit` (and, with enough work, exactly `limit`) were inside at once. */
  check(who: string, expectedEntries: number, limit: number): void {
    if (this.entries !== expectedEntries) throw new Error(`${who}: ${this.entries} entries, expected ${expectedEntries}`);
    if (this.inside !== 0) throw new Error(`${who}: ${this.inside} still inside at the end`);
    if (this.maxInside !== limit) throw new Error(`${who}: up to ${this.maxInside} inside at once, expected exactly ${limit}`);
  }
}

/** The critical section every contender runs: enter, `await null` (a trivial yield), exit. */
export async function section(probe: Probe): Promise<void> {
  probe.enter();
  await null;
  probe.exit();
}

/**
 * The critical section behind a lock-like: `await acquire()`, then enter / `await null` / exit,
 * then `release(what acquire gave)`, also when the section throws.
 */
export function guarded<R>(acquire: () => PromiseLike<R>, release: (held: R) => void): (probe: Probe) => Promise<void> {
  return async (probe) => {
    const held = await acquire();
    try {
      probe.enter();
      await null;
      probe.exit();
    } finally {
      release(held);
    }
  };
}
