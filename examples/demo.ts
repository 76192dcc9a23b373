// The seed example: five fetches that each take 2 s, run concurrently with gather.
// They overlap, so the whole demo takes about 2 s, not 10.
import { gather, run, sleep } from "aiots";

async function fetchData(url: string): Promise<string> {
  console.log(`Fetching data from ${url}...`);
  await sleep(2000); // simulate an I/O operation
  return `Data from ${url}`;
}

async function main(): Promise<void> {
  const started = performance.now();
  const urls = Array.from({ length: 5 }, (_, i) => `url${i}`);
  // Each function is started as a task; gather waits for all of them, keeping their order.
  const results = await gather(urls.map((url) => () => fetchData(url)));
  for (const r of results) console.log(r);
  const seconds = (performance.now() - started) / 1000;
  console.log(`${results.length} fetches of 2 s each took ${seconds.toFixed(2)} s in all: they ran concurrently.`);
}

await run(main);
