// Crawls a small local site twice:
// 1. with a generous deadline: every reachable page is found, the slow one included;
// 2. with a deadline shorter than the slow page: the crawl throws TimeoutError, and the
//    server sees the slow request's connection close before it could answer, because the
//    fetch in flight was aborted.
import { TimeoutError, run, sleep } from "aiots";
import { crawl } from "./crawler.js";
import { SLOW_PATH, startSite } from "./server.js";

const SLOW_MS = 800;

async function main(): Promise<void> {
  const site = await startSite({ delayMs: 30, slowMs: SLOW_MS });
  console.log(`Serving a test site at ${site.url} (${SLOW_PATH} takes ${SLOW_MS} ms)\n`);
  try {
    console.log("1. Crawl with concurrency 3 and a 5 s timeout");
    let started = performance.now();
    const { pages, failures, skipped } = await crawl(site.url, { concurrency: 3, timeoutMs: 5_000, maxPages: 50 });
    const elapsed = performance.now() - started;
    for (const page of [...pages].sort((a, b) => a.url.localeCompare(b.url))) {
      const path = new URL(page.url).pathname;
      console.log(`   ${page.status}  ${path.padEnd(20)} ${page.title ?? "-"}  (links: ${page.links.length})`);
    }
    console.log(`   ${pages.length} pages, ${failures.length} failures, ${skipped.length} skipped, in ${ms(elapsed)}`);
    console.log(`   server: ${site.stats.requests.length} requests, at most ${site.stats.maxInFlight} at once\n`);

    console.log(`2. Crawl again with a 200 ms timeout (shorter than ${SLOW_PATH})`);
    site.stats.requests.length = 0;
    started = performance.now();
    try {
      await crawl(site.url, { concurrency: 3, timeoutMs: 200 });
      console.log("   finished?! (it should have timed out)");
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
      console.log(`   ${error.name} after ${ms(performance.now() - started)}`);
    }
    // The abort travels to the server over the socket: give it a moment to notice.
    const deadline = performance.now() + 1_000;
    while (site.stats.closedEarly.length === 0 && performance.now() < deadline) await sleep(5);
    console.log(`   server: ${site.stats.requests.length} requests; closed before answered: ${site.stats.closedEarly.join(", ") || "none"}`);
  } finally {
    await site.close();
  }
}

function ms(value: number): string {
  return `${Math.round(value)} ms`;
}

await run(main);
