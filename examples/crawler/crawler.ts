// A small, well-behaved web crawler built on aiots.
//
//   const { pages } = await crawl("http://127.0.0.1:8080/", { concurrency: 4, timeoutMs: 5_000 });
//
// The shape of it:
// - a `Semaphore` caps how many requests are in flight at once;
// - a `taskGroup` owns every fetch: each page is a child task, and the links found on a page
//   become new children of the same group, so the group ends exactly when the crawl does;
// - a `timeout` bounds the whole crawl;
// - every `fetch` is given its task's `signal`, so when the crawl is cancelled (timeout, or a
//   cancel from outside) the requests in flight are really aborted, not left running.
import { Semaphore, currentTask, taskGroup, timeout } from "aiots";

export interface CrawlOptions {
  /** How many requests may be in flight at once (default 4). */
  concurrency?: number;
  /** A deadline for the whole crawl in ms; `null` for none (the default). */
  timeoutMs?: number | null;
  /** The most pages to fetch (default 100); links beyond it are reported as `skipped`. */
  maxPages?: number;
}

/** A page that answered. */
export interface CrawledPage {
  readonly url: string;
  /** The HTTP status. Only 2xx HTML pages are searched for links. */
  readonly status: number;
  /** The page's `<title>`, if it has one. */
  readonly title: string | undefined;
  /** The same-origin pages it links to (absolute URLs, without `#fragment`), deduplicated. */
  readonly links: readonly string[];
}

/** A page that could not be fetched (network error, reset connection, ...). */
export interface CrawlFailure {
  readonly url: string;
  readonly error: unknown;
}

export interface CrawlResult {
  /** Every page fetched, in the order the responses arrived. */
  readonly pages: CrawledPage[];
  readonly failures: CrawlFailure[];
  /** Pages linked to but not fetched because `maxPages` was reached (each once). */
  readonly skipped: string[];
}

/**
 * Crawls the site at `startUrl`: fetches it, then every same-origin page it links to,
 * and so on, each page once.
 *
 * A page that fails (a network error) is recorded in `failures` and does not stop the crawl.
 * An error in the crawler's own code does: the group cancels the other fetches and the
 * error comes out in an `ExceptionGroup`.
 *
 * @throws TimeoutError when `timeoutMs` passes first: the fetches still running are
 *   aborted, and the crawl throws only once they have all finished.
 * @throws CancelledError when the task running the crawl is cancelled (same clean-up).
 * @throws RangeError for a `concurrency` or `maxPages` that is not an integer >= 1.
 */
export async function crawl(startUrl: string | URL, options: CrawlOptions = {}): Promise<CrawlResult> {
  const { concurrency = 4, timeoutMs = null, maxPages = 100 } = options;
  checkCount(concurrency, "crawl concurrency");
  checkCount(maxPages, "crawl maxPages");
  const start = normalise(new URL(startUrl));

  const slots = new Semaphore(concurrency);
  const seen = new Set<string>(); // every URL handed to a task: each page is fetched once
  const result: CrawlResult = { pages: [], failures: [], skipped: [] };

  // `timeout` runs its body in the current task and cancels that task at the deadline;
  // the task group then cancels all its children and waits for them before the
  // `TimeoutError` comes out. Nothing outlives the crawl.
  await timeout(timeoutMs, () =>
    taskGroup((tg) => {
      // Schedules a page, unless it was seen already or the budget is spent. Called by the
      // body for the start page, then by the children for the links they find: a child may
      // add tasks to its own group while the group waits for them.
      const visit = (url: string): void => {
        if (seen.has(url)) return;
        if (seen.size >= maxPages) {
          if (!result.skipped.includes(url)) result.skipped.push(url);
          return;
        }
        seen.add(url);
        tg.createTask(() => fetchPage(url), { name: `fetch ${url}` });
      };

      const fetchPage = async (url: string): Promise<void> => {
        // Aborted when this task is cancelled: by the timeout, or because the crawl was.
        const signal = currentTask()!.signal;
        let page: CrawledPage;
        try {
          // The permit is held for the request and the body, and given back however the
          // block ends (`await using`). Waiting for it is a cancellation point too.
          await using _slot = await slots.guard();
          const response = await fetch(url, { signal });
          let html = "";
          if (isHtml(response)) html = await response.text();
          else await response.body?.cancel(); // not a page: free the connection unread
          // Links and titles only come from pages that answered with success.
          page = {
            url,
            status: response.status,
            title: response.ok ? titleOf(html) : undefined,
            links: response.ok ? linksOf(html, response.url || url, start.origin) : [],
          };
        } catch (error) {
          // Cancelled (fetch rejects with the signal's reason, the task's CancelledError): not
          // a failure of this page. Rethrow it so that this child ends cancelled and the
          // group and the timeout unwind. `throwIfAborted` throws the reason itself, so the
          // task ends cancelled even if some API rejected with an error of its own.
          signal.throwIfAborted();
          result.failures.push({ url, error });
          return;
        }
        result.pages.push(page);
        for (const link of page.links) visit(link);
      };

      visit(start.href);
    }),
  );
  return result;
}

function checkCount(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${what} must be an integer >= 1, got ${String(value)}`);
}

/** The URL without its `#fragment`: "/a#x" and "/a" are the same page. */
function normalise(url: URL): URL {
  url.hash = "";
  return url;
}

function isHtml(response: Response): boolean {
  return (response.headers.get("content-type") ?? "").includes("text/html");
}

function titleOf(html: string): string | undefined {
  const match = /<title[^>]*>([^<]*)<\/title>/i.exec(html);
  return match?.[1]?.trim();
}

/**
 * The same-origin http(s) pages linked from `html`, resolved against `base`. A regular
 * expression is enough for a demo; use a real HTML parser for the open web.
 */
function linksOf(html: string, base: string, origin: string): string[] {
  const links = new Set<string>();
  for (const [, href] of html.matchAll(/<a\s[^>]*href\s*=\s*["']([^"']*)["']/gi)) {
    let url: URL;
    try {
      url = normalise(new URL(href!, base));
    } catch {
      continue; // not a URL
    }
    if (url.origin === origin && (url.protocol === "http:" || url.protocol === "https:")) links.add(url.href);
  }
  links.delete(normalise(new URL(base)).href); // a page's links to itself ("#top")
  return [...links];
}
