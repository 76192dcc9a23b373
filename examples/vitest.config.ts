import { defineConfig } from "vitest/config";

// The examples are tested against the built packages ("aiots" resolves to packages/aiots/dist),
// as a user would run them: build first (turbo's `test` task depends on `^build`).
export default defineConfig({
  test: {
    include: ["**/*.test.ts"],
    exclude: ["**/node_modules/**"],
    testTimeout: 5_000,
    // A test that makes no assertion fails: it could not have caught anything.
    expect: { requireAssertions: true },
    reporters: ["default", "json"],
    outputFile: { json: "test-results.json" },
  },
});
