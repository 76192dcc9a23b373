// A small website to crawl, served by node:http on 127.0.0.1 (a random free port).
//
// It is the crawler's demo and test fixture, so it also keeps an eye on its visitors:
// every request is logged, the number of requests in flight (and its peak) is tracked,
// and a request whose connection closes before the response was sent is recorded in
// `closedEarly`: that is what an aborted `fetch` looks like from the server's side.
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A page of the site: its title and the `href`s it links to (as written in the HTML). */
interface PageSpec {
  readonly title: string;
  readonly links: readonly string[];
  /** The slow page: answers only after `slowMs`. */
  readonly slow?: boolean;
}

// The site. Links are a mix of absolute paths, relative paths, fragments, duplicates,
// cycles and links a crawler must not follow (another origin, mailto:), so that a crawler
// has to normalise URLs and remember what it has seen.
const PAGES: Readonly<Record<string, PageSpec>> = {
  "/": {
    title: "Home",
    links: ["/about", "blog/", "/docs/", "/contact", "#top", "/about", "https://example.com/elsewhere", "mailto:hi@example.com"],
  },
  "/about": { title: "About us", links: ["/", "team"] },
  "/team": { title: "The team", links: ["/about", "./about#history"] },
  "/blog/": { title: "Blog", links: ["first-post", "second-post", "../"] },
  "/blog/first-post": { title: "First post", links: ["/blog/", "/blog/second-post#comments"] },
  "/blog/second-post": { title: "Second post", links: ["/blog/", "/missing"] },
  "/docs/": { title: "Docs", links: ["slow-report", "/"] },
  // Takes `slowMs` to answer; the appendix is reachable only through it.
  "/docs/slow-report": { title: "Slow report", links: ["appendix"], slow: true },
  "/docs/appendix": { title: "Appendix", links: ["/docs/"] },
  "/contact": { title: "Contact", links: ["/"] },
  // Not linked from anywhere: a crawler must never find it.
  "/secret": { title: "Secret", links: [] },
};

/** The paths a crawl from "/" reaches: every page but the unlinked one, plus the broken link. */
export const REACHABLE_PATHS: readonly string[] = [...Object.keys(PAGES).filter((p) => p !== "/secret"), "/missing"].sort();

/** The path of the page that takes `slowMs` to answer. */
export const SLOW_PATH = "/docs/slow-report";

export interface SiteOptions {
  /** How long every page takes to answer, in ms (default 0). Makes requests overlap. */
  delayMs?: number;
  /** How long the slow page takes to answer, in ms (default 1000). */
  slowMs?: number;
}

/** What the server has seen so far. */
export interface SiteStats {
  /** The path of every request, in arrival order. */
  readonly requests: string[];
  /** Requests received and not yet answered (nor closed). */
  inFlight: number;
  /** The highest `inFlight` seen. */
  maxInFlight: number;
  /** Requests whose connection closed before the response was sent (the client gave up). */
  readonly closedEarly: string[];
}

export interface Site {
  /** The site's root URL, like "http://127.0.0.1:54321/". */
  readonly url: string;
  readonly stats: SiteStats;
  /** Stops the server, closing any connection still open. */
  close(): Promise<void>;
}

function render(spec: PageSpec): string {
  const links = spec.links.map((href) => `    <li><a href="${href}">${href}</a></li>`).join("\n");
  return `<!doctype html>
<html>
  <head><title>${spec.title}</title></head>
  <body>
    <h1>${spec.title}</h1>
    <ul>
${links}
    </ul>
  </body>
</html>
`;
}

/** Starts the site on 127.0.0.1, on a port the system picks. */
export async function startSite(options: SiteOptions = {}): Promise<Site> {
  const { delayMs = 0, slowMs = 1000 } = options;
  const stats: SiteStats = { requests: [], inFlight: 0, maxInFlight: 0, closedEarly: [] };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    stats.requests.push(path);
    stats.inFlight += 1;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);

    let answered = false;
    // Counted out *before* the response is written: the client cannot have read the whole
    // response yet, so it can never start more requests than the server has counted out.
    const answer = (status: number, body: string): void => {
      answered = true;
      stats.inFlight -= 1;
      res.writeHead(status, { "content-type": "text/html; charset=utf-8" }).end(body);
    };

    const spec = PAGES[path];
    const respond = (): void => {
      if (spec === undefined) answer(404, "<!doctype html><title>Not found</title><h1>Not found</h1>");
      else answer(200, render(spec));
    };
    const timer = setTimeout(respond, spec?.slow ? slowMs : delayMs);

    // The connection closed before we answered: the client aborted the request.
    res.on("close", () => {
      if (answered) return;
      clearTimeout(timer);
      stats.inFlight -= 1;
      stats.closedEarly.push(path);
    });
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/`,
    stats,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections(); // keep-alive connections would keep close() waiting
      }),
  };
}
