import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));
// Resolve `@aiots/*` to the packages' sources, as the tests do, not to a build.
const tsconfig = fileURLToPath(new URL("../tsconfig.test.json", import.meta.url));

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Whether the child had to be killed because it did not exit in time. */
  timedOut: boolean;
}

/**
 * Runs a TypeScript fixture in a child Node.js process. `onStdout` sees each chunk of output
 * and may act on the child (send it a signal). A child still alive after `limitMs` is killed.
 */
function runFixture(
  name: string,
  args: string[] = [],
  onStdout?: (text: string, child: ReturnType<typeof spawn>) => void,
  // Far above the ~1 s a fixture takes, so a busy machine cannot fail the test; a script
  // held open by a timer would wait an hour.
  limitMs = 10_000,
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", fixtures + name, ...args], {
      cwd: fixtures,
      env: { ...process.env, TSX_TSCONFIG_PATH: tsconfig, AIOTS_DEBUG: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, limitMs);
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      onStdout?.(stdout, child);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

describe("Ctrl-C during run()", () => {
  it("cancels main so its finally runs, then exits with code 130 and no stack trace", async () => {
    let sent = false;
    const out = await runFixture("sigint-main.ts", [], (text, child) => {
      if (!sent && text.includes("ready")) {
        sent = true;
        child.kill("SIGINT");
      }
    });
    expect(out.timedOut).toBe(false);
    expect(sent).toBe(true);
    expect(out.code).toBe(130);
    expect(out.stdout.split("\n").filter(Boolean)).toEqual(["ready", "finally ran"]);
    expect(out.stderr).not.toMatch(/\n\s+at /);
    expect(out.stderr).not.toMatch(/CancelledError/);
  });

  it("a second Ctrl-C while main is still cleaning up exits at once with code 130", async () => {
    const sent: string[] = [];
    const out = await runFixture("sigint-main.ts", ["slow-finally"], (text, child) => {
      if (sent.length === 0 && text.includes("ready")) {
        sent.push("first");
        child.kill("SIGINT");
      } else if (sent.length === 1 && text.includes("cleaning up")) {
        sent.push("second");
        child.kill("SIGINT");
      }
    });
    expect(out.timedOut).toBe(false);
    expect(sent).toEqual(["first", "second"]);
    expect(out.code).toBe(130);
    expect(out.stdout.split("\n").filter(Boolean)).toEqual(["ready", "cleaning up"]);
    expect(out.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("a script using the default loop", () => {
  for (const mode of ["plain", "cancelled"]) {
    it(`exits by itself with code 0 once its work is done (${mode})`, async () => {
      const out = await runFixture("default-loop-exits.ts", [mode]);
      expect(out.timedOut).toBe(false);
      expect(out.stderr).toBe("");
      expect(out.stdout).toBe(`callback ran\ndone ${mode}\n`);
      expect(out.code).toBe(0);
    });
  }
});
