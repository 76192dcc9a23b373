// Error handling with aiots, in three steps:
// 1. an error raised in an async function, caught with try/catch in the task that called it;
// 2. `gather` with `returnExceptions: true`: every child runs to the end, errors come back
//    in their slots next to the results;
// 3. a `taskGroup` where one child fails: its siblings are cancelled (their `finally` blocks
//    run), and every failure arrives together in one `ExceptionGroup`.
import { ExceptionGroup, gather, isCancelledError, run, sleep, taskGroup } from "aiots";

class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly status: number,
    readonly url: string,
  ) {
    super(`${status} for ${url}`);
  }
}

const started = performance.now();
const log = (message: string): void => console.log(`${String(Math.round(performance.now() - started)).padStart(4)} ms  ${message}`);

/** A simulated request: waits `ms`, then answers or fails with `status`. */
async function request(url: string, ms: number, status = 200): Promise<string> {
  log(`GET ${url}`);
  try {
    await sleep(ms);
  } catch (error) {
    if (isCancelledError(error)) log(`    ${url} cancelled while waiting`);
    throw error; // a cancellation must be let through
  } finally {
    log(`    ${url} cleaned up`); // runs on success, failure and cancellation
  }
  if (status !== 200) throw new HttpError(status, url);
  log(`    ${url} -> 200`);
  return `body of ${url}`;
}

async function step1(): Promise<void> {
  console.log("\n1. try/catch around an await, inside a task");
  try {
    await request("/broken", 50, 500);
    log("not reached");
  } catch (error) {
    // The rejection is thrown at the await, with its own type and fields.
    if (!(error instanceof HttpError)) throw error;
    log(`caught ${error.name}: status ${error.status} for ${error.url}; carrying on`);
  }
  const fallback = await request("/fallback", 50);
  log(`got "${fallback}" instead`);
}

async function step2(): Promise<void> {
  console.log("\n2. gather(..., { returnExceptions: true }): errors come back in place");
  const results = await gather(
    [() => request("/a", 100), () => request("/b", 50, 404), () => request("/c", 150), () => request("/d", 75, 503)],
    { returnExceptions: true },
  );
  // Each slot holds a string (a result) or an Error; nothing else was cancelled.
  results.forEach((r, i) => log(`slot ${i}: ${r instanceof Error ? `error ${r.name}: ${r.message}` : `"${r}"`}`));
}

async function step3(): Promise<void> {
  console.log("\n3. taskGroup: one failure cancels the siblings; failures come as an ExceptionGroup");
  try {
    await taskGroup((tg) => {
      tg.createTask(() => request("/slow-1", 1_000), { name: "slow-1" });
      tg.createTask(() => request("/slow-2", 2_000), { name: "slow-2" });
      tg.createTask(() => request("/fails", 100, 502), { name: "fails" });
      log("body: 3 tasks started; the group now waits for all of them");
    });
    log("not reached");
  } catch (error) {
    if (!(error instanceof ExceptionGroup)) throw error;
    // Every child that failed before the others were stopped (or while they cleaned up)
    // is in `errors`; here that is the one.
    log(`caught ${error.name} "${error.message}" with ${error.errors.length} error(s):`);
    for (const e of error.errors) log(`    ${String(e)}`);
    // Like Python's `except*`: take out the errors you handle, rethrow the rest.
    const [http, rest] = error.split((e) => e instanceof HttpError);
    log(`HttpErrors handled: ${http?.errors.length ?? 0}; left to rethrow: ${rest === undefined ? "none" : rest.errors.length}`);
    if (rest !== undefined) throw rest;
  }
  log("the slow requests were cancelled: nothing is left running");
}

async function main(): Promise<void> {
  await step1();
  await step2();
  await step3();
  // One rule to take away: a CancelledError is not an error to swallow. Code that catches
  // everything must rethrow it (as `request` does), or its task cannot be stopped.
  console.log("\nDone.");
}

await run(main);
