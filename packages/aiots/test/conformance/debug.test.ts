// Debug-mode probes (test_base_events: test_log_slow_callbacks; test_futures: test_tb_logger_*; test_tasks: test_log_destroyed_pending_task)
import { test, expect, vi } from "vitest";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { run, getRunningLoop, createTask, sleep, VirtualTimeLoop } from "aiots";

// gc() without the --expose-gc CLI flag, so the GC tests always run.
v8.setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

test("test_log_slow_callbacks: slow callback reported in debug mode", async () => {
  const spies = (["warn", "error", "log", "info", "debug"] as const).map((m) => vi.spyOn(console, m).mockImplementation(() => {}));
  const got: unknown[] = [];
  try {
    await run(async () => {
      const loop = getRunningLoop();
      loop.setExceptionHandler((...a: unknown[]) => { got.push(a); });
      loop.callSoon(() => { const end = Date.now() + 150; while (Date.now() < end) { /* busy */ } });
      await sleep(0); await sleep(0);
    }, { debug: true });
    const msgs = got.map((a) => ((a as unknown[]).find((x) => x && typeof x === "object" && "message" in (x as object)) as { message: string } | undefined)?.message ?? "");
    const text = JSON.stringify(spies.flatMap((s) => s.mock.calls.map((c) => c.map(String)))) + JSON.stringify(msgs);
    expect(text.toLowerCase()).toMatch(/slow|took|executing/);
  } finally { spies.forEach((s) => s.mockRestore()); }
});

test("test_tb_logger_exception_unretrieved: reported via exception handler (debug, GC)", async () => {
  const got: unknown[] = [];
  await run(async () => {
    const loop = getRunningLoop();
    loop.slowCallbackDuration = Infinity; // only the GC report may count
    loop.setExceptionHandler((...a: unknown[]) => { got.push(a); });
    (() => { const f = loop.createFuture<void>(); f.setException(new Error("never retrieved")); })();
    for (let i = 0; i < 10 && got.length === 0; i++) { gc(); await new Promise((r) => setTimeout(r, 10)); await sleep(0); }
  }, { debug: true });
  expect(got.length).toBeGreaterThan(0);
});

function spawnLate() { createTask(async () => { await sleep(1); throw new Error("lost late"); }); }
function spawnEarly() { createTask(async () => { throw new Error("lost in first step"); }); }
for (const [name, spawn] of [["fails after an await", spawnLate], ["fails in its first step", spawnEarly]] as const) {
  test(`test_log_destroyed / task exception never retrieved is reported (debug, GC): ${name}`, async () => {
    const got: unknown[] = [];
    await run(async () => {
      const loop = getRunningLoop();
      loop.slowCallbackDuration = Infinity; // only the GC report may count
      loop.setExceptionHandler((...a: unknown[]) => { got.push(a); });
      spawn();
      await sleep(20);
      for (let i = 0; i < 30 && got.length === 0; i++) { gc(); await new Promise((r) => setTimeout(r, 20)); await sleep(1); }
    }, { debug: true });
    expect(got.length).toBeGreaterThan(0);
  });
}

test("non-debug: slow callback not reported", async () => {
  const spies = (["warn", "error"] as const).map((m) => vi.spyOn(console, m).mockImplementation(() => {}));
  try {
    await run(async () => {
      getRunningLoop().callSoon(() => { const end = Date.now() + 120; while (Date.now() < end) { /* busy */ } });
      await sleep(0); await sleep(0);
    }, { loop: new VirtualTimeLoop() });
    expect(spies.reduce((n, s) => n + s.mock.calls.length, 0)).toBe(0);
  } finally { spies.forEach((s) => s.mockRestore()); }
});

test("test_log_destroyed_pending_task: pending task garbage-collected is reported (debug, GC)", async () => {
  const got: unknown[] = [];
  await run(async () => {
    const loop = getRunningLoop();
    loop.slowCallbackDuration = Infinity; // only the GC report may count
    loop.setExceptionHandler((...a: unknown[]) => { got.push(a); });
    (() => { const f = loop.createFuture<void>(); createTask(async () => { await f; }); })();
    await sleep(1);
    for (let i = 0; i < 30 && got.length === 0; i++) { gc(); await new Promise((r) => setTimeout(r, 20)); await sleep(1); }
  }, { debug: true });
  expect(got.length).toBeGreaterThan(0);
});
