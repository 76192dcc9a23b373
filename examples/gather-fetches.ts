// A gather of fetches: several (simulated) requests run concurrently, and `gather` hands
// back their results in the order they were asked for, whatever order they finish in.
// The whole thing takes as long as the slowest request, not the sum of them all.
import { gather, run, sleep } from "aiots";

interface User {
  id: number;
  name: string;
}

const started = performance.now();
const at = (): string => `${String(Math.round(performance.now() - started)).padStart(4)} ms`;

/** Pretends to fetch `what`: waits `ms` (the network), then returns `value`. */
async function fakeFetch<T>(what: string, ms: number, value: T): Promise<T> {
  console.log(`${at()}  GET ${what} (takes ${ms} ms)`);
  await sleep(ms); // an aiots sleep: cancellable, like any aiots await
  console.log(`${at()}  ... ${what} done`);
  return value;
}

async function main(): Promise<void> {
  // Each item is a function, so gather starts it as a task (and could cancel it).
  // The results form a typed tuple: [User, string[], number].
  const [user, posts, temperature] = await gather([
    () => fakeFetch<User>("/user/42", 300, { id: 42, name: "Ada" }),
    () => fakeFetch("/user/42/posts", 100, ["Hello", "On engines"]),
    () => fakeFetch("/weather", 200, 21.5),
  ]);
  console.log(`${at()}  results, in the order asked:`);
  console.log(`          user:        ${user.name} (#${user.id})`);
  console.log(`          posts:       ${posts.join(", ")}`);
  console.log(`          temperature: ${temperature} °C`);
  console.log(`3 fetches of 300, 100 and 200 ms took ${at().trim()} together (one after the other: 600 ms).\n`);

  // The same with a list of any length: results come back in the list's order.
  const pages = [5, 3, 4, 1, 2];
  const t0 = performance.now();
  const bodies = await gather(pages.map((n) => () => fakeFetch(`/page/${n}`, n * 50, `<page ${n}>`)));
  const took = performance.now() - t0;
  console.log(`${at()}  ${bodies.join(" ")}`);
  const sum = pages.reduce((a, n) => a + n * 50, 0);
  console.log(`${pages.length} fetches took ${Math.round(took)} ms together (one after the other: ${sum} ms).`);
}

await run(main);
