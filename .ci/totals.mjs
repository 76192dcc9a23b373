// Sums the vitest JSON reports of every package (and of the examples) and prints
// "N passed, N failed". A package whose report is missing counts as one failure, so a
// run that tested nothing cannot pass silently.
import { existsSync, readdirSync, readFileSync } from "node:fs";

let passed = 0;
let failed = 0;
const missing = [];
const dirs = [...readdirSync("packages").map((dir) => `packages/${dir}`), "examples"];
for (const dir of dirs) {
  const file = `${dir}/test-results.json`;
  if (!existsSync(file)) {
    missing.push(dir);
    continue;
  }
  const report = JSON.parse(readFileSync(file, "utf8"));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
}
if (missing.length > 0) {
  console.log(`no test report for: ${missing.join(", ")}`);
  failed += missing.length;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
