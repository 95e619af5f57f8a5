// The per-session analysis setting: set at creation, by configure and by PATCH (merged into the current value),
// validated, honoured by the subscriber; ANALYSIS_DEFAULT=off; metrics.sentiment and riskLevel live and in lists.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { api, eventually, startServer, token, WsClient, type ServerProcess } from "../helpers.ts";

let server: ServerProcess;
let ownerToken: string;
let adminToken: string;
beforeAll(async () => {
  server = await startServer();
  ownerToken = await token("olga");
  adminToken = await token("ops", { admin: true });
});
afterAll(async () => {
  await server.stop();
});

const post = (base: string, session: string, t: string, content: string) => api(base, "POST", `/api/sessions/${session}/messages`, { token: t, body: { content } });
const staffView = async (base: string, session: string) => (await api(base, "GET", `/api/sessions/${session}/messages`, { token: adminToken })).body.messages as any[];

/**
 * The queue is FIFO: once a message posted later in a session with analysis on has its analysis, every earlier
 * message that was going to be analysed has been.
 */
async function barrier(base: string): Promise<void> {
  const { body: s } = await api(base, "POST", "/api/sessions", { token: adminToken, body: { analysis: { enabled: true } } });
  const { body: m } = await post(base, s.id, adminToken, "a barrier message");
  await eventually(async () => (await staffView(base, s.id)).some((x) => x.seq === m.seq && x.analysis), 10_000, "the barrier's analysis");
}

describe("the analysis setting", () => {
  test("POST /api/sessions takes it; off means no analysis and no alert; PATCH merges it back on", async () => {
    const created = await api(server.http, "POST", "/api/sessions", { token: ownerToken, body: { analysis: { enabled: false } } });
    expect(created.status).toBe(201);
    expect(created.body.analysis).toEqual({ enabled: false, share: "staff" });
    const id = created.body.id;
    await post(server.http, id, ownerToken, "I want to die");
    await barrier(server.http);
    expect((await staffView(server.http, id)).map((m) => m.analysis ?? null)).toEqual([null]);
    expect((await api(server.http, "GET", `/api/alerts?session=${id}`, { token: adminToken })).body.alerts).toEqual([]);

    const patched = await api(server.http, "PATCH", `/api/sessions/${id}`, { token: ownerToken, body: { analysis: { enabled: true } } });
    expect(patched.status).toBe(200);
    expect(patched.body.analysis).toEqual({ enabled: true, share: "staff" });
    const { body: m } = await post(server.http, id, ownerToken, "I want to die");
    await eventually(async () => (await staffView(server.http, id)).some((x) => x.seq === m.seq && x.analysis?.crisis.risk_level !== "none"));
    const shared = await api(server.http, "PATCH", `/api/sessions/${id}`, { token: ownerToken, body: { analysis: { share: "all" } } });
    expect(shared.body.analysis).toEqual({ enabled: true, share: "all" });
    const info = await api(server.http, "GET", `/api/sessions/${id}`, { token: ownerToken });
    expect(info.body.analysis).toEqual({ enabled: true, share: "all" });
  });

  test("configure over WebSocket merges the fields given; the session broadcast carries the new setting", async () => {
    const ws = await WsClient.connect(server.ws, { token: ownerToken });
    await ws.request({ type: "join", session: "cfg-ws" });
    const off = await ws.request({ type: "configure", session: "cfg-ws", analysis: { enabled: false } });
    expect(off.session.analysis).toEqual({ enabled: false, share: "staff" });
    const all = await ws.request({ type: "configure", session: "cfg-ws", analysis: { share: "all" } });
    expect(all.session.analysis).toEqual({ enabled: false, share: "all" });
    await ws.waitFor((f) => f.type === "session" && f.session.analysis.share === "all");
    await ws.request({ type: "message", session: "cfg-ws", content: "not analysed" });
    const on = await ws.request({ type: "configure", session: "cfg-ws", analysis: { enabled: true } });
    expect(on.session.analysis).toEqual({ enabled: true, share: "all" });
    const ack = await ws.request({ type: "message", session: "cfg-ws", content: "analysed, and shared with me" });
    const frame = await ws.waitFor((f) => f.type === "analysis" && f.seq === ack.seq);
    expect(frame.analysis.sentiment.labels[0]).toMatch(/^(positive|neutral|negative)$/);
    expect(ws.frames.filter((f) => f.type === "analysis").map((f) => f.seq)).toEqual([ack.seq]);
    await ws.close();
  });

  test("bad values are refused with a sentence, and nothing changes", async () => {
    const { body: s } = await api(server.http, "POST", "/api/sessions", { token: ownerToken, body: {} });
    const bad = [
      [{ analysis: { share: "everyone" } }, 'Field "analysis.share" is invalid: expected one of "staff", "all".'],
      [{ analysis: { enabled: "yes" } }, 'Field "analysis.enabled" is invalid: expected a boolean.'],
      [{ analysis: { level: 1 } }, 'Unknown field "level".'],
    ] as const;
    for (const [body, message] of bad) {
      const r = await api(server.http, "PATCH", `/api/sessions/${s.id}`, { token: ownerToken, body });
      expect({ status: r.status, message: r.body.error.message }).toEqual({ status: 400, message });
    }
    const ws = await WsClient.connect(server.ws, { token: ownerToken });
    const reply = await ws.request({ type: "configure", session: s.id, analysis: { share: "nobody" } });
    expect(reply).toMatchObject({ type: "error", code: "bad_request" });
    await ws.close();
    expect((await api(server.http, "GET", `/api/sessions/${s.id}`, { token: ownerToken })).body.analysis).toEqual({ enabled: true, share: "staff" });
    const created = await api(server.http, "POST", "/api/sessions", { token: ownerToken, body: { analysis: { share: 3 } } });
    expect(created.status).toBe(400);
  });

  test("only the owner or an admin changes it", async () => {
    const { body: s } = await api(server.http, "POST", "/api/sessions", { token: ownerToken, body: { access: "open" } });
    const other = await api(server.http, "PATCH", `/api/sessions/${s.id}`, { token: await token("stranger"), body: { analysis: { enabled: false } } });
    expect(other.status).toBe(403);
    const admin = await api(server.http, "PATCH", `/api/sessions/${s.id}`, { token: adminToken, body: { analysis: { enabled: false } } });
    expect(admin.body.analysis.enabled).toBe(false);
  });
});

describe("session metrics", () => {
  test("sentiment (the mean) and riskLevel (the highest) are live in SessionInfo and in the admin session list", async () => {
    const ws = await WsClient.connect(server.ws, { token: ownerToken });
    await ws.request({ type: "join", session: "metrics-1" });
    const first = await api(server.http, "GET", "/api/sessions/metrics-1", { token: adminToken });
    expect([first.body.metrics.sentiment, first.body.metrics.riskLevel]).toEqual([null, null]);
    await ws.request({ type: "message", session: "metrics-1", content: "I love this, what a wonderful happy day!" });
    await ws.request({ type: "message", session: "metrics-1", content: "I took all my pills, I want to die" });
    await ws.request({ type: "message", session: "metrics-1", content: "thanks, that helps" });
    await eventually(async () => (await staffView(server.http, "metrics-1")).filter((m) => m.analysis).length === 3);
    const messages = await staffView(server.http, "metrics-1");
    const mean = messages.reduce((sum, m) => sum + m.analysis.sentiment.score, 0) / 3;
    const info = await api(server.http, "GET", "/api/sessions/metrics-1", { token: adminToken });
    expect(info.body.metrics.sentiment).toBeCloseTo(mean, 3);
    expect(info.body.metrics.riskLevel).toBe("high");
    const list = await api(server.http, "GET", "/api/admin/sessions", { token: adminToken });
    const row = list.body.sessions.find((s: any) => s.id === "metrics-1");
    expect(row).toMatchObject({ riskLevel: "high" });
    expect(row.sentiment).toBeCloseTo(mean, 3);
    const sessions = await api(server.http, "GET", "/api/sessions", { token: adminToken });
    expect(sessions.body.sessions.find((s: any) => s.id === "metrics-1").metrics.riskLevel).toBe("high");
    await ws.close();
  });
});

describe("ANALYSIS_DEFAULT=off", () => {
  test("new sessions start with analysis off and analyse nothing until it is turned on", async () => {
    const off = await startServer({ env: { ANALYSIS_DEFAULT: "off" } });
    try {
      const ws = await WsClient.connect(off.ws, { token: ownerToken });
      const joined = await ws.request({ type: "join", session: "quiet" });
      expect(joined.session.analysis).toEqual({ enabled: false, share: "staff" });
      await ws.request({ type: "message", session: "quiet", content: "I want to kill myself" });
      await barrier(off.http);
      expect((await staffView(off.http, "quiet")).map((m) => m.analysis ?? null)).toEqual([null]);
      await ws.request({ type: "configure", session: "quiet", analysis: { enabled: true } });
      const ack = await ws.request({ type: "message", session: "quiet", content: "I want to kill myself" });
      await eventually(async () => (await staffView(off.http, "quiet")).some((m) => m.seq === ack.seq && m.analysis?.crisis.risk_level === "high"));
      // The message sent while analysis was off stays unanalysed: the setting applies from when it is on.
      expect((await staffView(off.http, "quiet")).map((m) => m.analysis?.crisis.risk_level ?? null)).toEqual([null, "high"]);
      await ws.close();
    } finally {
      await off.stop();
    }
  });
});
