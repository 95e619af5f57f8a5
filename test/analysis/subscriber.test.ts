// AnalysisSubscriber in-process, with a real SQLite store and a scripted analyzer: which messages it takes, the
// one-transaction store and single announcement, and the health check that notices a stuck queue.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { AnalysisSubscriber } from "../../src/analysis/subscriber.ts";
import type { PipelineResult } from "../../src/analysis/pipeline.ts";
import type { AnalysisCore } from "../../src/analysis/types.ts";
import { SqliteAnalysisStore } from "../../src/db/analysis-store.ts";
import { migrate, openDatabase } from "../../src/db/index.ts";
import { SessionEvents, type SessionEventMap } from "../../src/sessions/events.ts";
import type { SessionService } from "../../src/sessions/session-service.ts";
import type { Message } from "../../src/protocol/types.ts";
import { tempDir } from "../helpers.ts";

const core = (level: "none" | "high"): AnalysisCore => ({
  sentiment: { score: level === "high" ? -0.8 : 0.2, labels: [level === "high" ? "negative" : "positive"], confidence: 0.9 },
  topics: { topics: [], relevance: [], context: "" },
  crisis: { risk_level: level, triggers: level === "high" ? ["self_harm: x"] : [], recommended_action: "a" },
  analyzer: "test/1",
});

function setup(analyze: (text: string) => Promise<PipelineResult>, clock = { now: 1_000_000 }, catchUpIntervalMs = 5000) {
  const sqlite = openDatabase(join(tempDir(), "s.db"));
  migrate(sqlite);
  sqlite.run("INSERT INTO sessions (id, owner_id, started_at, last_activity_at, last_seq) VALUES ('s', 'u', 0, 0, 10), ('off', 'u', 0, 0, 10)");
  const insert = sqlite.prepare("INSERT INTO messages (id, session_id, seq, user_id, role, kind, content, created_at) VALUES (?, ?, ?, 'u', ?, 'text', ?, 0)");
  const recorded: Array<[string, number]> = [];
  const service = {
    analysisSetting: (id: string) => ({ enabled: id !== "off", share: "staff" as const }),
    recordAnalysis: (id: string, seq: number) => recorded.push([id, seq]),
  } as unknown as SessionService;
  const events = new SessionEvents((e) => {
    throw e;
  });
  const announced: Array<SessionEventMap["analysis.stored"]> = [];
  const alerts: Array<SessionEventMap["alert.raised"]> = [];
  events.on("analysis.stored", (e) => announced.push(e));
  events.on("alert.raised", (e) => alerts.push(e));
  const store = new SqliteAnalysisStore(sqlite);
  const subscriber = new AnalysisSubscriber(
    { events, service, store, analyze, newAlertId: () => crypto.randomUUID(), now: () => clock.now },
    { queueMax: 100, alertMinRisk: "medium", defaultEnabled: true, catchUpIntervalMs },
  );
  const commit = (session: string, seq: number, content: string, role: Message["role"] = "user") => {
    insert.run(`${session}-${seq}`, session, seq, role, content);
    const message: Message = { id: `${session}-${seq}`, seq, session, userId: "u", role, kind: "text", content, createdAt: new Date(0).toISOString() };
    events.emit("message.committed", { message });
  };
  return { sqlite, store, subscriber, commit, announced, alerts, recorded, clock };
}

describe("AnalysisSubscriber", () => {
  test("analyses user messages of sessions with analysis on, stores and announces each once", async () => {
    const seen: string[] = [];
    const t = setup(async (text) => {
      seen.push(text);
      return { core: core(text.includes("hurt") ? "high" : "none"), seconds: 0.001 };
    });
    await t.subscriber.start();
    t.commit("s", 1, "hello");
    t.commit("s", 2, "a reply", "assistant");
    t.commit("off", 1, "not analysed");
    t.commit("s", 3, "I hurt myself");
    await t.subscriber.idle();
    expect(seen).toEqual(["hello", "I hurt myself"]);
    expect(t.announced.map((a) => [a.sessionId, a.seq, a.analysis.crisis.risk_level, a.share])).toEqual([
      ["s", 1, "none", "staff"],
      ["s", 3, "high", "staff"],
    ]);
    expect(t.alerts.map((a) => a.alert.seq)).toEqual([3]);
    expect(t.recorded).toEqual([["s", 1], ["s", 3]]);
    expect(t.sqlite.query("SELECT analyzed_count AS n, risk_level AS r FROM sessions WHERE id = 's'").get()).toEqual({ n: 2, r: "high" });
    await t.subscriber.stop();
  });

  test("at start, the catch-up finds committed messages without an analysis (a crash) and analyses each once", async () => {
    const t = setup(async () => ({ core: core("none"), seconds: 0 }));
    const insert = t.sqlite.prepare("INSERT INTO messages (id, session_id, seq, user_id, role, kind, content, created_at) VALUES (?, 's', ?, 'u', 'user', 'text', ?, 0)");
    for (let seq = 1; seq <= 5; seq++) insert.run(`m${seq}`, seq, `before the crash ${seq}`);
    await t.subscriber.start();
    await t.subscriber.idle();
    expect(t.announced.map((a) => a.seq)).toEqual([1, 2, 3, 4, 5]);
    await t.subscriber.stop();
  });

  test("a batch that fails to store (a busy or full database) is analysed again by the next catch-up and stored once", async () => {
    const t = setup(async (text) => ({ core: core(text.includes("cut") ? "high" : "none"), seconds: 0 }), undefined, 50);
    const save = t.store.save.bind(t.store);
    let failures = 1;
    t.store.save = (items) => {
      if (failures-- > 0) throw Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" });
      return save(items);
    };
    await t.subscriber.start();
    await t.subscriber.idle();
    t.commit("s", 1, "I cut myself again");
    await t.subscriber.idle();
    expect(t.announced).toEqual([]);
    await Bun.sleep(200);
    await t.subscriber.idle();
    expect(t.announced.map((a) => [a.seq, a.analysis.crisis.risk_level])).toEqual([[1, "high"]]);
    expect(t.alerts.map((a) => a.alert.seq)).toEqual([1]);
    await t.subscriber.stop();
  });

  test("a queue whose oldest message has waited over the limit while nothing was stored is not healthy", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const clock = { now: 1_000_000 };
    const t = setup(async () => {
      await gate;
      return { core: core("none"), seconds: 0 };
    }, clock);
    await t.subscriber.start();
    await t.subscriber.idle();
    // 64 in flight (stuck), then one more that has to wait in the queue.
    for (let seq = 1; seq <= 65; seq++) t.commit("s", seq, `m${seq}`);
    expect(t.subscriber.depth).toBe(1);
    clock.now += 30_000;
    expect(t.subscriber.healthy(60_000)).toBe(true);
    clock.now += 31_000;
    expect(t.subscriber.healthy(60_000)).toBe(false);
    release();
    await t.subscriber.idle();
    expect(t.subscriber.healthy(60_000)).toBe(true);
    expect(t.announced).toHaveLength(65);
    await t.subscriber.stop();
  });
});
