import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Tests run against the packages' sources, never a build: `pnpm test` needs no build step.
const src = (pkg: string, entry = "index") =>
  fileURLToPath(new URL(`./packages/${pkg}/src/${entry}.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@aiots\/core\/internal$/, replacement: src("core", "internal") },
      { find: /^@aiots\/core$/, replacement: src("core") },
      { find: /^@aiots\/future$/, replacement: src("future") },
      { find: /^@aiots\/loop$/, replacement: src("loop") },
      { find: /^@aiots\/sync$/, replacement: src("sync") },
      { find: /^@aiots\/queue$/, replacement: src("queue") },
      { find: /^@aiots\/flow$/, replacement: src("flow") },
      { find: /^aiots$/, replacement: src("aiots") },
    ],
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    // A test that makes no assertion fails: it could not have caught anything.
    expect: { requireAssertions: true },
    reporters: ["default", "json"],
    outputFile: { json: "test-results.json" },
  },
});
