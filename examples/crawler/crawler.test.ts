// The crawler against a real node:http server on loopback: the point is to see real
// requests, real concurrency, and real aborts on the wire.
import { CancelledError, TimeoutError, allTasks, createTask, currentTask, run, sleep } from "aiots";
import { afterEach, describe, expect, it } from "vitest";
import { crawl } from "./crawler.js";
import { REACHABLE_PATHS, SLOW_PATH, startSite } from "./server.js";
import type { Site, SiteOptions } from "./server.js";

const sites: Site[] = [];
async function site(options: SiteOptions): Promise<Site> {
  const started = await startSite(options);
  sites.push(started);
  return started;
}
afterEach(async () => {
  await Promise.all(sites.splice(0).map((s) => s.close()));
});

/** Polls `condition` every few ms; fails if it is still false after `withinMs`. */
async function eventually(condition: () => boolean, what: string, withinMs = 2_000): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`still not true after ${withinMs} ms: ${what}`);
    await sleep(5);
  }
}

const pathsOf = (urls: readonly string[]): string[] => urls.map((u) => new URL(u).pathname).sort();
/** The pending tasks other than the one asking. */
const otherPendingTasks = (): string[] => [...allTasks()].filter((t) => t !== currentTask()).map((t) => t.getName());

describe("crawl finds the site", () => {
  it("fetches every reachable page exactly once and nothing else", async () => {
    const s = await site({ slowMs: 20 });
    const result = await run(() => crawl(s.url, { concurrency: 4, timeoutMs: 4_000 }));

    expect(pathsOf(result.pages.map((p) => p.url))).toEqual(REACHABLE_PATHS);
    expect([...s.stats.requests].sort()).toEqual(REACHABLE_PATHS); // each one requested once
    expect(s.stats.requests).not.toContain("/secret");
    expect(result.failures).toEqual([]);
    expect(result.skipped).toEqual([]);
  });

  it("records titles, statuses and same-origin links without fragments", async () => {
    const s = await site({ slowMs: 0 });
    const { pages } = await run(() => crawl(s.url, { concurrency: 2 }));
    const byPath = new Map(pages.map((p) => [new URL(p.url).pathname, p]));

    expect(byPath.get("/")?.title).toBe("Home");
    expect(pathsOf(byPath.get("/")!.links)).toEqual(["/about", "/blog/", "/contact", "/docs/"]);
    expect(pathsOf(byPath.get("/team")!.links)).toEqual(["/about"]); // "./about#history" is /about
    expect(byPath.get("/missing")).toMatchObject({ status: 404, title: undefined, links: [] });
  });

  it("stops at maxPages and reports each skipped page once", async () => {
    const s = await site({ slowMs: 0 });
    const result = await run(() => crawl(s.url, { concurrency: 2, maxPages: 3 }));

    expect(result.pages).toHaveLength(3);
    expect(s.stats.requests).toHaveLength(3);
    expect(result.skipped.length).toBeGreaterThan(0);
    expect(new Set(result.skipped).size).toBe(result.skipped.length);
    for (const url of result.skipped) expect(s.stats.requests).not.toContain(new URL(url).pathname);
  });

  it("rejects a concurrency or maxPages below 1 with a RangeError before any request", async () => {
    const s = await site({});
    await expect(crawl(s.url, { concurrency: 0 })).rejects.toThrow(/concurrency must be an integer >= 1, got 0/);
    await expect(crawl(s.url, { maxPages: 1.5 })).rejects.toBeInstanceOf(RangeError);
    expect(s.stats.requests).toEqual([]);
  });
});

describe("concurrency", () => {
  // Every page takes a while, so requests overlap as much as the limit lets them.
  for (const limit of [1, 3]) {
    it(`never has more than ${limit} request(s) in flight, and runs several at once when allowed`, async () => {
      const s = await site({ delayMs: 25, slowMs: 25 });
      const result = await run(() => crawl(s.url, { concurrency: limit, timeoutMs: 4_000 }));

      expect(result.pages).toHaveLength(REACHABLE_PATHS.length);
      expect(s.stats.maxInFlight).toBeLessThanOrEqual(limit);
      // The home page links to 4 pages at once: with room for them, requests overlapped.
      expect(s.stats.maxInFlight).toBeGreaterThanOrEqual(Math.min(limit, 2));
    });
  }
});

describe("timeout and cancellation abort the requests in flight", () => {
  it("throws TimeoutError promptly, and the server sees the slow request closed unanswered", async () => {
    const s = await site({ slowMs: 30_000 });
    // Starting from /docs/, the slow page is one link away: it is requested well before the
    // deadline, even on a busy machine.
    const timeoutMs = 600;
    const started = performance.now();
    await expect(run(() => crawl(`${s.url}docs/`, { concurrency: 4, timeoutMs }))).rejects.toBeInstanceOf(TimeoutError);
    const elapsed = performance.now() - started;

    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 10);
    expect(elapsed).toBeLessThan(timeoutMs + 1_500); // the slow page would take 30 s
    expect(s.stats.requests).toContain(SLOW_PATH);
    expect(s.stats.requests).not.toContain("/docs/appendix"); // only reachable through the slow page
    await eventually(() => s.stats.closedEarly.includes(SLOW_PATH), "the slow request's connection closed");
    await eventually(() => s.stats.inFlight === 0, "no request left in flight");
  });

  it("a cancel from outside aborts the slow request too, and the crawl ends cancelled", async () => {
    const s = await site({ slowMs: 30_000 });
    await run(async () => {
      const crawling = createTask(() => crawl(s.url, { concurrency: 4 }), { name: "crawl" });
      await eventually(() => s.stats.requests.includes(SLOW_PATH), "the slow page was requested");
      crawling.cancel();

      await expect(crawling).rejects.toBeInstanceOf(CancelledError);
      expect(crawling.cancelled()).toBe(true);
      await eventually(() => s.stats.closedEarly.includes(SLOW_PATH), "the slow request's connection closed");
    });
  });
});

describe("no task is left behind", () => {
  it("leaves no pending task after a finished crawl nor after a timed-out one", async () => {
    const s = await site({ slowMs: 30_000 });
    const left = await run(async () => {
      const after: string[][] = [];
      await crawl(s.url, { concurrency: 2, maxPages: 4 }); // stops before the slow page
      after.push(otherPendingTasks());
      await expect(crawl(s.url, { concurrency: 2, timeoutMs: 100 })).rejects.toBeInstanceOf(TimeoutError);
      after.push(otherPendingTasks());
      return after;
    });
    expect(left).toEqual([[], []]);
  });
});
