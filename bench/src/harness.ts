/**
 * A small benchmark harness: every contender runs in this one process, first for a few
 * warm-up rounds, then for several measured rounds taken in turn (A B C, A B C, ...) so
 * that drift in the machine hits all of them alike. The table shows each contender's
 * median time and its ratio to the baseline (the first contender unless one is named).
 */

export interface Contender {
  /** Label shown in the table. */
  name: string;
  /**
   * One complete run of the workload, given the row's name (for its checks' messages);
   * resolves when the work is done. A run that times a section of itself returns
   * `{ elapsedMs }`, which is reported instead of its total.
   */
  run: (name: string) => Promise<unknown> | unknown;
}

export interface CaseOptions {
  warmup?: number;
  rounds?: number;
  /** Name of the contender the ratios are against (default: the first). */
  baseline?: string;
  /** A sentence printed under the table. */
  goal?: string;
}

export interface CaseResult {
  title: string;
  rows: { name: string; median: number; min: number; max: number; ratio: number }[];
  goal?: string;
}

/** `gc()` when node runs with `--expose-gc`. */
export const gc = (globalThis as { gc?: () => void }).gc;

async function once(c: Contender): Promise<number> {
  gc?.();
  const start = performance.now();
  const own = await c.run(c.name);
  const total = performance.now() - start;
  return isTimed(own) ? own.elapsedMs : total;
}

/** What a contender that times its own section returns. */
export interface Timed {
  elapsedMs: number;
}

function isTimed(value: unknown): value is Timed {
  return typeof value === "object" && value !== null && typeof (value as Timed).elapsedMs === "number";
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function benchCase(title: string, contenders: Contender[], options: CaseOptions = {}): Promise<CaseResult> {
  const warmup = options.warmup ?? 1;
  const rounds = options.rounds ?? 5;
  for (let w = 0; w < warmup; w++) for (const c of contenders) await once(c);
  const times = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    // Rotate the order each round so no contender always runs right after the same one.
    for (let k = 0; k < contenders.length; k++) {
      const c = contenders[(k + r) % contenders.length]!;
      times.get(c.name)!.push(await once(c));
    }
  }
  const baseName = options.baseline ?? contenders[0]!.name;
  const base = median(times.get(baseName)!);
  const rows = contenders.map((c) => {
    const t = times.get(c.name)!;
    const m = median(t);
    return { name: c.name, median: m, min: Math.min(...t), max: Math.max(...t), ratio: m / base };
  });
  const result: CaseResult = { title, rows, goal: options.goal };
  printCase(result, baseName);
  return result;
}

export function printCase(result: CaseResult, baseName: string): void {
  const nameWidth = Math.max(10, ...result.rows.map((r) => r.name.length + (r.name === baseName ? 11 : 0)));
  const line = (cells: string[]) => `| ${cells[0]!.padEnd(nameWidth)} | ${cells.slice(1).map((c) => c.padStart(9)).join(" | ")} |`;
  const out: string[] = [];
  out.push("", `### ${result.title}`, "");
  out.push(line(["contender", "median ms", "min ms", "max ms", "ratio"]));
  out.push(`|${"-".repeat(nameWidth + 2)}|${Array(4).fill("-".repeat(10) + ":").join("|")}|`);
  for (const r of result.rows) {
    const label = r.name === baseName ? `${r.name} (baseline)` : r.name;
    out.push(line([label.padEnd(nameWidth), r.median.toFixed(1), r.min.toFixed(1), r.max.toFixed(1), `${r.ratio.toFixed(2)}x`]));
  }
  if (result.goal !== undefined) out.push("", `Goal: ${result.goal}`);
  console.log(out.join("\n"));
}
