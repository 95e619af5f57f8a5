// SqliteAnalysisStore on a real database file: one analysis and one alert per message however often it is saved,
// the session aggregates, history reads that carry the analysis, the catch-up scan, and alert paging.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { alertFor } from "../../src/analysis/alerts.ts";
import type { Analysis, RiskLevel } from "../../src/analysis/types.ts";
import { SqliteAnalysisStore } from "../../src/db/analysis-store.ts";
import { migrate, openDatabase, SqliteSessionStore } from "../../src/db/index.ts";
import { newSessionRecord } from "../../src/sessions/store.ts";
import { tempDir } from "../helpers.ts";

function fresh() {
  const sqlite = openDatabase(join(tempDir(), "a.db"));
  migrate(sqlite);
  return { sqlite, sessions: new SqliteSessionStore(sqlite), store: new SqliteAnalysisStore(sqlite) };
}

function append(sessions: SqliteSessionStore, sessionId: string, content: string, role: "user" | "assistant" = "user") {
  return new Promise<{ seq: number; id: string }>((resolve, reject) =>
    sessions.append({ id: crypto.randomUUID(), sessionId, userId: role === "user" ? "u" : "bot", role, kind: "text", content, createdAt: Date.now() }, (e, r) =>
      e ? reject(e) : resolve({ seq: r!.message.seq, id: r!.message.id }),
    ),
  );
}

function analysis(score: number, level: RiskLevel, at = new Date().toISOString()): Analysis {
  return {
    sentiment: { score, labels: [score < 0 ? "negative" : "positive"], confidence: 0.8 },
    topics: { topics: ["work"], relevance: [0.7], context: "work" },
    crisis: { risk_level: level, triggers: level === "none" ? [] : ["self_harm: test"], recommended_action: "Check in." },
    analyzer: "builtin/1",
    at,
  };
}

const row = (sessionId: string, m: { seq: number; id: string }, a: Analysis, alertId: string = crypto.randomUUID()) => ({
  session: sessionId,
  seq: m.seq,
  messageId: m.id,
  analysis: a,
  alert: alertFor({ session: sessionId, seq: m.seq, messageId: m.id, userId: "u" }, a, "medium", alertId),
});

describe("saving analyses", () => {
  test("a message saved twice is stored, counted and alerted once", async () => {
    const { sqlite, sessions, store } = fresh();
    sessions.insertSession(newSessionRecord({ id: "s", ownerId: "u", at: Date.now() }));
    const m = await append(sessions, "s", "first");
    const a = analysis(-0.5, "high");
    expect(store.save([row("s", m, a)])).toEqual([{ stored: true, alert: expect.objectContaining({ seq: m.seq, risk_level: "high", status: "open" }) }]);
    // After a crash between commit and storing, the restarted server analyses the message again.
    expect(store.save([row("s", m, analysis(-0.9, "high"))])).toEqual([{ stored: false, alert: null }]);
    expect(sqlite.query("SELECT count(*) AS n FROM message_analyses").get()).toEqual({ n: 1 });
    expect(sqlite.query("SELECT count(*) AS n FROM alerts").get()).toEqual({ n: 1 });
    const s = sessions.getSession("s")!;
    expect([s.analyzedCount, s.sentimentSum, s.riskLevel]).toEqual([1, -0.5, "high"]);
  });

  test("aggregates keep the mean's parts and the highest risk, never lowering it", async () => {
    const { sessions, store } = fresh();
    sessions.insertSession(newSessionRecord({ id: "s", ownerId: "u", at: Date.now() }));
    const levels: RiskLevel[] = ["low", "medium", "none", "low"];
    const msgs = [];
    for (const _ of levels) msgs.push(await append(sessions, "s", "x"));
    const outcomes = store.save(msgs.map((m, i) => row("s", m, analysis(i % 2 === 0 ? 0.5 : -0.25, levels[i]!))));
    expect(outcomes.map((o) => o.alert?.risk_level ?? null)).toEqual([null, "medium", null, null]);
    const s = sessions.getSession("s")!;
    expect([s.analyzedCount, s.sentimentSum, s.riskLevel]).toEqual([4, 0.5, "medium"]);
  });

  test("history reads carry the stored analysis", async () => {
    const { sessions, store } = fresh();
    sessions.insertSession(newSessionRecord({ id: "s", ownerId: "u", at: Date.now() }));
    const m1 = await append(sessions, "s", "one");
    await append(sessions, "s", "two");
    const a = analysis(0.4, "none");
    store.save([row("s", m1, a)]);
    expect(sessions.messagesAfter("s", 0, 10).map((m) => m.analysis ?? null)).toEqual([a, null]);
    expect(sessions.lastMessages("s", 10).map((m) => m.analysis ?? null)).toEqual([a, null]);
  });
});

describe("the catch-up scan", () => {
  test("finds user messages without an analysis, in seq order, within the seq range, not assistant ones", async () => {
    const { sessions, store } = fresh();
    sessions.insertSession(newSessionRecord({ id: "s", ownerId: "u", at: Date.now() }));
    const m = [];
    for (let i = 0; i < 6; i++) m.push(await append(sessions, "s", `m${i}`, i === 3 ? "assistant" : "user"));
    store.save([row("s", m[1]!, analysis(0, "none"))]);
    expect(store.unanalysed("s", 0, 6, 100).map((w) => w.seq)).toEqual([1, 3, 5, 6]);
    expect(store.unanalysed("s", 0, 6, 2).map((w) => w.seq)).toEqual([1, 3]);
    expect(store.unanalysed("s", 3, 5, 100).map((w) => [w.seq, w.content, w.userId])).toEqual([[5, "m4", "u"]]);
  });

  test("covers active sessions and ones ended within the horizon whose analysis is on", () => {
    const { sessions, store } = fresh();
    const now = Date.now();
    sessions.insertSession(newSessionRecord({ id: "active", ownerId: "u", at: now }));
    sessions.insertSession(newSessionRecord({ id: "off", ownerId: "u", at: now, analysis: { enabled: false, share: "staff" } }));
    sessions.insertSession(newSessionRecord({ id: "recent", ownerId: "u", at: now }));
    sessions.insertSession(newSessionRecord({ id: "old", ownerId: "u", at: now - 3 * 86_400_000 }));
    sessions.endSession("recent", "completed", now - 3_600_000);
    sessions.endSession("old", "completed", now - 2 * 86_400_000);
    const since = now - 86_400_000;
    expect(store.catchUpSessions(since, true, "", 100).map((s) => s.id)).toEqual(["active", "recent"]);
    // Rows without a setting follow ANALYSIS_DEFAULT.
    expect(store.catchUpSessions(since, false, "", 100).map((s) => s.id)).toEqual([]);
    expect(store.catchUpSessions(since, true, "active", 100).map((s) => s.id)).toEqual(["recent"]);
    expect(store.catchUpSession("old", since)).toBeNull();
    expect(store.catchUpSession("recent", since)).toEqual({ id: "recent", lastSeq: 0 });
  });
});

describe("alerts", () => {
  test("list newest first, filter by status and session, page with a cursor; updates persist", async () => {
    const { sessions, store } = fresh();
    for (const id of ["a", "b"]) sessions.insertSession(newSessionRecord({ id, ownerId: "u", at: Date.now() }));
    const base = Date.parse("2026-01-01T00:00:00Z");
    for (let i = 0; i < 5; i++) {
      const sid = i % 2 === 0 ? "a" : "b";
      const m = await append(sessions, sid, `m${i}`);
      store.save([row(sid, m, analysis(-0.5, "high", new Date(base + i * 1000).toISOString()), `alert-${i}`)]);
    }
    expect(store.listAlerts({ limit: 10 }).map((a) => a.id)).toEqual(["alert-4", "alert-3", "alert-2", "alert-1", "alert-0"]);
    expect(store.listAlerts({ session: "a", limit: 10 }).map((a) => a.id)).toEqual(["alert-4", "alert-2", "alert-0"]);
    const third = store.getAlert("alert-2")!;
    expect(store.listAlerts({ limit: 2, after: { createdAt: Date.parse(third.createdAt), id: third.id } }).map((a) => a.id)).toEqual(["alert-1", "alert-0"]);
    store.updateAlert({ ...third, status: "resolved", resolvedBy: "mo", resolvedAt: new Date(base + 9000).toISOString(), note: "called" });
    expect(store.listAlerts({ status: "resolved", limit: 10 }).map((a) => [a.id, a.resolvedBy, a.note])).toEqual([["alert-2", "mo", "called"]]);
    expect(store.listAlerts({ status: "open", limit: 10 })).toHaveLength(4);
    expect(store.countAlerts("a")).toBe(3);
  });
});
