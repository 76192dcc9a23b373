import { createTask } from "aiots";

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

/**
 * How a contender starts a worker: a plain async call, or an aiots task. The task starts
 * eagerly, at the call, as the plain call does: started from the loop instead, the first
 * worker's step would go on through every uncontended acquire before the next worker starts
 * (as asyncio's would), and there would be no contention to measure.
 */
export const direct = (worker: () => Promise<void>): Promise<void> => worker();
export const asTask = (worker: () => Promise<void>): PromiseLike<void> => createTask(worker, { eagerStart: true });

/**
 * Starts `count` workers with `start`, each running `body` on one shared probe, waits for
 * all, and checks that `expectedEntries` sections ran with at most (exactly) `limit` inside.
 */
export async function contend(
  name: string,
  count: number,
  start: (worker: () => Promise<void>) => PromiseLike<void>,
  body: (probe: Probe) => Promise<void>,
  expectedEntries: number,
  limit: number,
): Promise<void> {
  const probe = new Probe();
  const all: PromiseLike<void>[] = new Array(count);
  const worker = () => body(probe);
  for (let i = 0; i < count; i++) all[i] = start(worker);
  await Promise.all(all);
  probe.check(name, expectedEntries, limit);
}
