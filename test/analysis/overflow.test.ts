// A full analysis queue drops (and counts) messages; the catch-up then finds each in storage and analyses it, so
// every user message ends with exactly one analysis, one analysis frame, and its alert.
import { expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { api, eventually, moderatorToken, startServer, token, WsClient } from "../helpers.ts";

const metric = async (base: string, name: string): Promise<number> => {
  const line = ((await api(base, "GET", "/metrics")).body as string).split("\n").find((l) => l.startsWith(`${name} `));
  return Number(line?.split(" ")[1] ?? NaN);
};

test("queue overflow, then catch-up: drops are counted and every message is analysed once", async () => {
  const server = await startServer({ env: { ANALYSIS_QUEUE_MAX: "4", RATE_LIMIT_MESSAGES_PER_MINUTE: "100000" } });
  try {
    const moderator = await WsClient.connect(server.ws, { token: await moderatorToken("dr-mo") });
    const user = await WsClient.connect(server.ws, { token: await token("sam") });
    await user.request({ type: "join", session: "flood" });
    await moderator.request({ type: "join", session: "flood" });
    const texts = Array.from({ length: 300 }, (_, i) => (i % 25 === 0 ? `I cut myself again (${i})` : `status line ${i} all fine`));
    // All at once: far more than 4 wait for the worker, so the queue refuses some.
    const acks = await Promise.all(texts.map((content) => user.request({ type: "message", session: "flood", content })));
    expect(acks.every((a) => a.type === "ack")).toBe(true);

    const dropped = await metric(server.http, "sessiond_analysis_dropped_total");
    expect(dropped).toBeGreaterThan(0);
    await moderator.waitForCount((f) => f.type === "analysis" && f.session === "flood", 300, 30_000);
    await Bun.sleep(300);
    const frames = moderator.frames.filter((f) => f.type === "analysis" && f.session === "flood").map((f) => f.seq).sort((a, b) => a - b);
    expect(frames).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(moderator.frames.filter((f) => f.type === "alert" && f.alert.session === "flood")).toHaveLength(12);

    const db = new Database(join(server.dataDir, "sessiond.db"), { readonly: true });
    expect(db.query("SELECT count(*) AS n, count(DISTINCT seq) AS d FROM message_analyses WHERE session_id = 'flood'").get()).toEqual({ n: 300, d: 300 });
    expect(db.query("SELECT count(*) AS n FROM alerts WHERE session_id = 'flood'").get()).toEqual({ n: 12 });
    expect(db.query("SELECT analyzed_count AS n FROM sessions WHERE id = 'flood'").get()).toEqual({ n: 300 });
    db.close();
    await eventually(() => server.logs.some((l) => l.includes('"analysis.catch_up"') && l.includes('"scope":"dropped"')));
    expect(await metric(server.http, "sessiond_analysis_queue_depth")).toBe(0);
    expect((await api(server.http, "GET", "/health")).body.checks.analysis).toBe(true);
    await moderator.close();
    await user.close();
  } finally {
    await server.stop();
  }
});
