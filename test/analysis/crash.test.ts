// Exactly once across a crash: a message committed but not yet analysed when the server is killed -9 is analysed
// by the restarted server (one analysis, one alert); one analysed before the kill is not analysed again.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { api, eventually, moderatorToken, startServer, tempDir, token, WsClient } from "../helpers.ts";

const CRISIS = "I don't want to be here anymore, I've been saving my pills";

function counts(dataDir: string, session: string): { analyses: number; alerts: number; analysedCount: number } {
  const db = new Database(join(dataDir, "sessiond.db"), { readonly: true });
  try {
    const analyses = (db.query("SELECT count(*) AS n FROM message_analyses WHERE session_id = ?").get(session) as { n: number }).n;
    const alerts = (db.query("SELECT count(*) AS n FROM alerts WHERE session_id = ?").get(session) as { n: number }).n;
    const analysedCount = (db.query("SELECT analyzed_count AS n FROM sessions WHERE id = ?").get(session) as { n: number }).n;
    return { analyses, alerts, analysedCount };
  } finally {
    db.close();
  }
}

const metric = async (base: string, name: string): Promise<number> => {
  const text = (await api(base, "GET", "/metrics")).body as string;
  return text
    .split("\n")
    .filter((l) => l.startsWith(name) && !l.startsWith("#"))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
};

describe("a kill -9 between commit and analysis", () => {
  test("the restarted server analyses the message: one analysis, one alert, and a third start adds none", async () => {
    const dataDir = tempDir();
    // The test hook holds each analysis for 3 s before storing it, so the kill lands inside the window for sure.
    const first = await startServer({ dataDir, env: { ANALYSIS_STORE_DELAY_MS: "3000" } });
    const user = await WsClient.connect(first.ws, { token: await token("sam") });
    await user.request({ type: "join", session: "crash-1" });
    const ack = await user.request({ type: "message", session: "crash-1", content: CRISIS });
    expect(ack.type).toBe("ack");
    await Bun.sleep(200);
    expect(counts(dataDir, "crash-1")).toEqual({ analyses: 0, alerts: 0, analysedCount: 0 });
    first.proc.kill("SIGKILL");
    await first.exited;
    expect(counts(dataDir, "crash-1")).toEqual({ analyses: 0, alerts: 0, analysedCount: 0 });

    const second = await startServer({ dataDir });
    try {
      const modToken = await moderatorToken("dr-lee");
      await eventually(() => counts(dataDir, "crash-1").alerts === 1, 10_000, "the alert after the restart");
      expect(counts(dataDir, "crash-1")).toEqual({ analyses: 1, alerts: 1, analysedCount: 1 });
      // A moderator who connects now finds it among the open alerts.
      const open = await api(second.http, "GET", "/api/alerts?status=open&session=crash-1", { token: modToken });
      expect(open.body.alerts).toHaveLength(1);
      expect(open.body.alerts[0]).toMatchObject({ seq: ack.seq, messageId: ack.messageId, risk_level: "high", status: "open" });
      const moderator = await WsClient.connect(second.ws, { token: modToken });
      const joined = await moderator.request({ type: "join", session: "crash-1" });
      expect(joined.messages[0].analysis.crisis.risk_level).toBe("high");
      expect(joined.session.metrics.riskLevel).toBe("high");
      await moderator.close();
    } finally {
      expect(await second.stop()).toBe(0);
    }

    const third = await startServer({ dataDir });
    try {
      await Bun.sleep(500);
      expect(await metric(third.http, "sessiond_alerts_total")).toBe(0);
      expect(counts(dataDir, "crash-1")).toEqual({ analyses: 1, alerts: 1, analysedCount: 1 });
    } finally {
      await third.stop();
    }
  });

  test("a message analysed before the kill is not analysed again", async () => {
    const dataDir = tempDir();
    const first = await startServer({ dataDir });
    const user = await WsClient.connect(first.ws, { token: await token("sam") });
    await user.request({ type: "join", session: "crash-2" });
    await user.request({ type: "message", session: "crash-2", content: CRISIS });
    await eventually(() => counts(dataDir, "crash-2").alerts === 1);
    first.proc.kill("SIGKILL");
    await first.exited;

    const second = await startServer({ dataDir });
    try {
      await eventually(async () => (await metric(second.http, "sessiond_analysis_queue_depth")) === 0);
      await Bun.sleep(300);
      expect(await metric(second.http, "sessiond_alerts_total")).toBe(0);
      expect(await metric(second.http, "sessiond_analysis_seconds_count")).toBe(0);
      expect(counts(dataDir, "crash-2")).toEqual({ analyses: 1, alerts: 1, analysedCount: 1 });
    } finally {
      await second.stop();
    }
  });

  test("killed in the middle of a burst: after the restart every user message has exactly one analysis", async () => {
    const dataDir = tempDir();
    const first = await startServer({ dataDir, env: { RATE_LIMIT_MESSAGES_PER_MINUTE: "100000" } });
    const user = await WsClient.connect(first.ws, { token: await token("sam") });
    await user.request({ type: "join", session: "crash-3" });
    const texts = Array.from({ length: 120 }, (_, i) => (i % 10 === 0 ? `${CRISIS} (${i})` : `an ordinary line number ${i}`));
    await Promise.all(texts.map((content) => user.request({ type: "message", session: "crash-3", content })));
    first.proc.kill("SIGKILL");
    await first.exited;
    const before = counts(dataDir, "crash-3");
    expect(before.analyses).toBeLessThanOrEqual(120);

    const second = await startServer({ dataDir });
    try {
      await eventually(() => counts(dataDir, "crash-3").analyses === 120, 15_000, "every message analysed");
      await Bun.sleep(300);
      expect(counts(dataDir, "crash-3")).toEqual({ analyses: 120, alerts: 12, analysedCount: 120 });
    } finally {
      await second.stop();
    }
  });
});
