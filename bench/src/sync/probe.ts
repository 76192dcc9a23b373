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
