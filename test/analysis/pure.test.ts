// The pure parts of analysis wiring: when an alert is raised, the acknowledge/resolve rules, the reader's view of
// history, the pipeline's fallbacks (built-in only, llm, both; a failing worker; a failing model), the time budget.
import { describe, expect, test } from "bun:test";
import { alertFor, applyAlertAction } from "../../src/analysis/alerts.ts";
import { createPipeline, failedAnalysis, type FallbackReason } from "../../src/analysis/pipeline.ts";
import type { AnalysisCore, Analysis, RiskLevel } from "../../src/analysis/types.ts";
import { WorkerAnalysisError } from "../../src/analysis/worker-analyzer.ts";
import { TimeBudget } from "../../src/analysis/budget.ts";
import { analysisView, principal, sessionView } from "../../src/sessions/access.ts";
import type { Message, SessionInfo } from "../../src/protocol/types.ts";

const core = (level: RiskLevel, analyzer = "builtin/1", score = 0): AnalysisCore => ({
  sentiment: { score, labels: ["neutral"], confidence: 0.5 },
  topics: { topics: ["work"], relevance: [0.5], context: "" },
  crisis: { risk_level: level, triggers: level === "none" ? [] : [`suicidal_ideation: ${analyzer}`], recommended_action: `${level} action from ${analyzer}` },
  analyzer,
});
const stored = (level: RiskLevel): Analysis => ({ ...core(level), at: "2026-01-01T00:00:00.000Z" });
const msg = { session: "s", seq: 4, messageId: "m4", userId: "u" };

describe("alertFor", () => {
  test("raises at or above the minimum level, quoting the analysis, open", () => {
    expect(alertFor(msg, stored("low"), "medium", "a1")).toBeNull();
    expect(alertFor(msg, stored("none"), "low", "a1")).toBeNull();
    expect(alertFor(msg, stored("low"), "low", "a1")?.risk_level).toBe("low");
    expect(alertFor(msg, stored("high"), "medium", "a1")).toEqual({
      id: "a1",
      session: "s",
      seq: 4,
      messageId: "m4",
      userId: "u",
      risk_level: "high",
      triggers: ["suicidal_ideation: builtin/1"],
      recommended_action: "high action from builtin/1",
      status: "open",
      createdAt: "2026-01-01T00:00:00.000Z",
    });
    expect(alertFor(msg, stored("medium"), "high", "a1")).toBeNull();
  });
});

describe("acknowledge and resolve", () => {
  const open = alertFor(msg, stored("high"), "medium", "a1")!;
  const at = "2026-01-01T01:00:00.000Z";

  test("acknowledge moves open to acknowledged with who, when and the note", () => {
    expect(applyAlertAction(open, "acknowledge", "mo", at, "calling now")).toEqual({ ...open, status: "acknowledged", acknowledgedBy: "mo", acknowledgedAt: at, note: "calling now" });
  });

  test("repeating an action, or acknowledging a resolved alert, changes nothing", () => {
    const acked = applyAlertAction(open, "acknowledge", "mo", at)!;
    expect(applyAlertAction(acked, "acknowledge", "other", at, "ignored")).toBeNull();
    const resolved = applyAlertAction(acked, "resolve", "mo", at, "safe")!;
    expect(resolved).toMatchObject({ status: "resolved", resolvedBy: "mo", acknowledgedBy: "mo", note: "safe" });
    expect(applyAlertAction(resolved, "resolve", "other", at)).toBeNull();
    expect(applyAlertAction(resolved, "acknowledge", "other", at)).toBeNull();
  });

  test("an open alert can be resolved directly; a note is optional", () => {
    const resolved = applyAlertAction(open, "resolve", "mo", at)!;
    expect(resolved.status).toBe("resolved");
    expect(resolved.acknowledgedBy).toBeUndefined();
    expect("note" in resolved).toBe(false);
  });
});

describe("analysisView", () => {
  const messages: Message[] = [
    { id: "1", seq: 1, session: "s", userId: "u", role: "user", kind: "text", content: "a", createdAt: "x", analysis: stored("low") },
    { id: "2", seq: 2, session: "s", userId: "u", role: "user", kind: "text", content: "b", createdAt: "x" },
  ];
  test("staff see analyses; others only when the share is all; the originals are never changed", () => {
    const user = principal("u");
    const mod = principal("m", { role: "moderator" });
    expect(analysisView(mod, "staff", messages)).toBe(messages);
    expect(analysisView(user, "all", messages)).toBe(messages);
    const view = analysisView(user, "staff", messages);
    expect(view.map((m) => "analysis" in m)).toEqual([false, false]);
    expect(view[1]).toBe(messages[1]);
    expect(messages[0]!.analysis).toBeDefined();
  });
});

describe("sessionView", () => {
  const info = (share: "staff" | "all", sentiment: number | null, riskLevel: RiskLevel | null) =>
    ({ id: "s", analysis: { enabled: true, share }, metrics: { messageCount: 2, participantCount: 1, durationMs: 5, sentiment, riskLevel, responseTime: null, assistantMessages: 0 } }) as unknown as SessionInfo;
  test("sentiment and risk are analysis results: null for readers who may not see analyses, the rest unchanged", () => {
    const user = principal("u");
    const mod = principal("m", { role: "moderator" });
    const staffOnly = info("staff", -0.4, "high");
    expect(sessionView(mod, staffOnly)).toBe(staffOnly);
    expect(sessionView(user, info("all", -0.4, "high")).metrics.riskLevel).toBe("high");
    const masked = sessionView(user, staffOnly);
    expect(masked.metrics).toEqual({ ...staffOnly.metrics, sentiment: null, riskLevel: null });
    expect(staffOnly.metrics.riskLevel).toBe("high");
    const unanalysed = info("staff", null, null);
    expect(sessionView(user, unanalysed)).toBe(unanalysed);
  });
});

describe("the pipeline", () => {
  const builtin = (level: RiskLevel) => ({ analyze: async () => ({ core: core(level), ms: 2 }) });
  const llm = (outcome: { ok: true; analysis: AnalysisCore } | { ok: false; reason: "timeout" | "http" | "invalid_reply" }) => ({
    analyzeOrReason: async () => outcome,
  });

  test("built-in only: its result and compute time", async () => {
    const result = await createPipeline({ builtin: builtin("low") })("text");
    expect(result).toEqual({ core: core("low"), seconds: 0.002 });
  });

  test("both: a model may raise the risk, never lower it", async () => {
    const raised = await createPipeline({ builtin: builtin("low"), llm: { analyzer: llm({ ok: true, analysis: core("high", "llm/m") }), mode: "both" } })("t");
    expect(raised.core.crisis.risk_level).toBe("high");
    expect(raised.core.analyzer).toBe("builtin/1+llm/m");
    const lowered = await createPipeline({ builtin: builtin("high"), llm: { analyzer: llm({ ok: true, analysis: core("none", "llm/m") }), mode: "both" } })("t");
    expect(lowered.core.crisis.risk_level).toBe("high");
  });

  test("a failing model falls back to the built-in result and is counted by reason", async () => {
    const reasons: FallbackReason[] = [];
    const outcomes: boolean[] = [];
    const run = createPipeline({
      builtin: builtin("medium"),
      llm: { analyzer: llm({ ok: false, reason: "invalid_reply" }), mode: "llm" },
      onFallback: (r) => reasons.push(r),
      onModelOutcome: (ok) => outcomes.push(ok),
    });
    expect((await run("t")).core).toEqual(core("medium"));
    expect(reasons).toEqual(["invalid_reply"]);
    expect(outcomes).toEqual([false]);
  });

  test("a worker that fails is retried once; failing again stores a medium `analysis_failed` for a person to read", async () => {
    let calls = 0;
    const flaky = {
      analyze: async () => {
        calls++;
        if (calls === 1) throw new WorkerAnalysisError("timeout");
        return { core: core("none"), ms: 1 };
      },
    };
    const reasons: FallbackReason[] = [];
    expect((await createPipeline({ builtin: flaky, onFallback: (r) => reasons.push(r) })("t")).core).toEqual(core("none"));
    expect(reasons).toEqual([]);
    const broken = { analyze: async () => Promise.reject(new WorkerAnalysisError("crashed")) };
    const result = await createPipeline({ builtin: broken, onFallback: (r) => reasons.push(r) })("t");
    expect(result.core).toEqual(failedAnalysis());
    expect(result.core.crisis.risk_level).toBe("medium");
    expect(reasons).toEqual(["worker_failed"]);
  });

  test("a stopped worker rejects (the message stays unanalysed for the catch-up after the restart)", async () => {
    const stopped = { analyze: async () => Promise.reject(new WorkerAnalysisError("stopped")) };
    await expect(createPipeline({ builtin: stopped })("t")).rejects.toThrow(WorkerAnalysisError);
  });
});

describe("TimeBudget", () => {
  test("allows its share of each window, makes an overspend wait, and pays a burst back over later windows", () => {
    let now = 0;
    const budget = new TimeBudget({ fraction: 0.05, windowMs: 1000, now: () => now });
    expect(budget.waitMs()).toBe(0);
    budget.spend(30);
    expect(budget.waitMs()).toBe(0);
    budget.spend(25);
    now = 400;
    expect(budget.waitMs()).toBe(600);
    now = 1000;
    expect(budget.waitMs()).toBe(0);
    // A 120 ms burst: two more windows of allowance (50 ms each) before it may go on.
    budget.spend(115);
    now = 2100;
    expect(budget.waitMs()).toBe(900);
    now = 3000;
    expect(budget.waitMs()).toBe(0);
  });

  test("with busyShare, a main thread busier than that share gets one batch per window", () => {
    let now = 0;
    let cpu = 0;
    const budget = new TimeBudget({ fraction: 0.5, windowMs: 100, busyShare: 0.5, now: () => now, cpuNow: () => cpu });
    budget.noteBatch();
    budget.noteBatch();
    expect(budget.waitMs()).toBe(0);
    // The write path kept the main thread 80 % busy over the window.
    cpu += 80;
    now = 100;
    expect(budget.mainBusy).toBeCloseTo(0.8);
    expect(budget.waitMs()).toBe(0);
    budget.noteBatch();
    now = 130;
    expect(budget.waitMs()).toBe(70);
    // A quiet window: batches flow again.
    cpu += 10;
    now = 200;
    budget.noteBatch();
    budget.noteBatch();
    expect(budget.waitMs()).toBe(0);
  });

  test("measure records the CPU the function used (not wall time), even when it throws", () => {
    let now = 0;
    let cpu = 0;
    const budget = new TimeBudget({ fraction: 0.01, windowMs: 1000, now: () => now, cpuNow: () => cpu });
    expect(() =>
      budget.measure(() => {
        now += 50;
        cpu += 20;
        throw new Error("x");
      }),
    ).toThrow("x");
    expect(budget.waitMs()).toBe(950);
    // Preempted, not running: wall time passes, no CPU is spent.
    budget.measure(() => void (now += 100));
    now = 1000;
    expect(budget.waitMs()).toBe(1000);
  });
});
