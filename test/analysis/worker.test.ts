// The analysis worker: the real one analyses in batches off the main thread and bounds a 64 KiB message; a worker
// that hangs or crashes is restarted, its batch fails (so the pipeline can retry or fall back), and later work goes on.
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { WorkerAnalysisError, WorkerAnalyzer } from "../../src/analysis/worker-analyzer.ts";
import { ROOT } from "../helpers.ts";

const FAKE = join(ROOT, "test", "fixtures", "analysis-worker.ts");
let worker: WorkerAnalyzer | null = null;
afterEach(() => {
  worker?.stop();
  worker = null;
});

describe("the real worker", () => {
  test("analyses messages sent together (one batch), each getting its own result", async () => {
    worker = new WorkerAnalyzer();
    await worker.start();
    const texts = ["I love this team", "I want to kill myself", "the deadline moved to friday"];
    const results = await Promise.all(texts.map((t) => worker!.analyze(t)));
    expect(results.map((r) => r.core.analyzer)).toEqual(["builtin/1", "builtin/1", "builtin/1"]);
    expect(results.map((r) => r.core.crisis.risk_level)).toEqual(["none", "high", "none"]);
    expect(results[0]!.core.sentiment.score).toBeGreaterThan(0);
    expect(results.every((r) => r.ms >= 0 && r.ms < 1000)).toBe(true);
  });

  test("a 64 KiB message is analysed in bounded time", async () => {
    worker = new WorkerAnalyzer();
    await worker.start();
    const line = "I have been feeling low and work is stressful, I can't sleep and my family doesn't understand. ";
    const big = line.repeat(Math.ceil(65_536 / line.length)).slice(0, 65_536) + " and tonight I'll end it";
    const started = performance.now();
    const result = await worker.analyze(big);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(result.ms).toBeLessThan(1000);
  });
});

describe("a worker that stops answering", () => {
  test("hangs: the batch fails with `timeout`, the worker is restarted and the next message is analysed", async () => {
    const restarts: string[] = [];
    worker = new WorkerAnalyzer({ url: FAKE, timeoutMs: 300, onRestart: (r) => restarts.push(r) });
    await worker.start();
    const error = await worker.analyze("hang").catch((e) => e);
    expect(error).toBeInstanceOf(WorkerAnalysisError);
    expect(error.reason).toBe("timeout");
    expect(restarts).toEqual(["timeout"]);
    expect((await worker.analyze("after the restart")).core.topics.context).toBe("after the restart");
  });

  test("crashes: its batch fails with `crashed`, /health sees it, and the restarted worker goes on", async () => {
    const restarts: string[] = [];
    worker = new WorkerAnalyzer({ url: FAKE, onRestart: (r) => restarts.push(r) });
    await worker.start();
    const error = await worker.analyze("crash").catch((e) => e);
    expect(error.reason).toBe("crashed");
    expect(worker.healthy).toBe(false);
    expect((await worker.analyze("next")).core.analyzer).toBe("fake/1");
    expect(worker.healthy).toBe(true);
    expect(restarts).toEqual(["crashed"]);
  });

  test("stop fails what is waiting with `stopped`", async () => {
    worker = new WorkerAnalyzer({ url: FAKE, timeoutMs: 5000 });
    await worker.start();
    const pending = worker.analyze("hang").catch((e) => e.reason);
    await Bun.sleep(50);
    worker.stop();
    expect(await pending).toBe("stopped");
    expect(await worker.analyze("later").catch((e) => e.reason)).toBe("stopped");
  });
});
