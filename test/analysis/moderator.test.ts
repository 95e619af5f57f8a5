// What a moderator token may do: read every session, receive and handle alerts; and what it may not: post (as any
// role), open, configure or end sessions, or reach /api/admin/* — on WebSocket and HTTP.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { api, moderatorToken, SseClient, startServer, token, WsClient, type ServerProcess } from "../helpers.ts";

let server: ServerProcess;
let modToken: string;
let ownerToken: string;
let alertId: string;
beforeAll(async () => {
  server = await startServer();
  modToken = await moderatorToken("dr-mo");
  ownerToken = await token("pat");
  const owner = await WsClient.connect(server.ws, { token: ownerToken });
  const moderator = await WsClient.connect(server.ws, { token: modToken });
  await owner.request({ type: "join", session: "pat-private" });
  const ack = await owner.request({ type: "message", session: "pat-private", content: "I want to end my life" });
  alertId = (await moderator.waitFor((f) => f.type === "alert" && f.alert.seq === ack.seq)).alert.id;
  await owner.close();
  await moderator.close();
});
afterAll(async () => {
  await server.stop();
});

describe("over WebSocket", () => {
  test("reads any session (history and recovery) without becoming a participant", async () => {
    const ws = await WsClient.connect(server.ws, { token: modToken });
    const joined = await ws.request({ type: "join", session: "pat-private" });
    expect(joined.type).toBe("joined");
    expect(joined.messages[0].content).toBe("I want to end my life");
    expect(joined.messages[0].analysis.crisis.risk_level).toBe("high");
    expect(joined.session.metrics.participantCount).toBe(1);
    expect((await ws.request({ type: "join", session: "pat-private", since: 0 })).messages).toHaveLength(1);
    await ws.close();
  });

  test("cannot post, configure, end, or open a session by joining it", async () => {
    const ws = await WsClient.connect(server.ws, { token: modToken });
    await ws.request({ type: "join", session: "pat-private" });
    const refused = [
      { type: "message", session: "pat-private", content: "hello from the moderator" },
      { type: "configure", session: "pat-private", analysis: { enabled: false } },
      { type: "configure", session: "pat-private", access: "open" },
      { type: "end", session: "pat-private" },
    ];
    for (const frame of refused) expect({ frame: frame.type, reply: (await ws.request(frame)).code }).toEqual({ frame: frame.type, reply: "forbidden" });
    expect((await ws.request({ type: "join", session: "not-yet-open" })).code).toBe("not_found");
    expect((await ws.request({ type: "join", room: "lobby" })).code).toBe("not_found");
    await ws.close();
    const check = await api(server.http, "GET", "/api/sessions/pat-private", { token: modToken });
    expect(check.body).toMatchObject({ status: "active", access: "private", analysis: { enabled: true }, metrics: { messageCount: 1 } });
  });
});

describe("over HTTP", () => {
  test("reads: the session list shows everyone's sessions; get, messages, export and SSE are allowed", async () => {
    const list = await api(server.http, "GET", "/api/sessions", { token: modToken });
    expect(list.body.sessions.map((s: any) => s.id)).toContain("pat-private");
    for (const path of ["/api/sessions/pat-private", "/api/sessions/pat-private/messages", "/api/sessions/pat-private/export?format=markdown"]) {
      expect({ path, status: (await api(server.http, "GET", path, { token: modToken })).status }).toEqual({ path, status: 200 });
    }
    const events = await SseClient.open(`${server.http}/api/sessions/pat-private/events?lastEventId=0`, modToken);
    expect(events.response.status).toBe(200);
    await events.waitFor("message");
    events.close();
  });

  test("writes and admin routes are refused with 403", async () => {
    const refused: Array<[string, string, unknown?]> = [
      ["POST", "/api/sessions", { room: "mod-room" }],
      ["POST", "/api/sessions/pat-private/messages", { content: "x" }],
      ["POST", "/api/sessions/pat-private/messages", { content: "x", role: "assistant" }],
      ["POST", "/api/sessions/pat-private/messages", { content: "x", role: "system" }],
      ["PATCH", "/api/sessions/pat-private", { analysis: { share: "all" } }],
      ["POST", "/api/sessions/pat-private/end", {}],
      ["GET", "/api/admin/connections"],
      ["GET", "/api/admin/stats"],
      ["GET", "/api/admin/sessions"],
      ["GET", "/api/admin/sessions/pat-private/connections"],
      ["POST", "/api/admin/sessions/pat-private/end", {}],
      ["POST", "/api/admin/reset", {}],
    ];
    for (const [method, path, body] of refused) {
      const r = await api(server.http, method, path, { token: modToken, body });
      expect({ route: `${method} ${path}`, status: r.status, code: r.body?.error?.code }).toEqual({ route: `${method} ${path}`, status: 403, code: "forbidden" });
    }
    const after = await api(server.http, "GET", "/api/sessions/pat-private/messages", { token: modToken });
    expect(after.body.messages).toHaveLength(1);
  });

  test("handles alerts: list, acknowledge, resolve", async () => {
    const list = await api(server.http, "GET", "/api/alerts?status=open", { token: modToken });
    expect(list.body.alerts.map((a: any) => a.id)).toContain(alertId);
    const acked = await api(server.http, "POST", `/api/alerts/${alertId}/acknowledge`, { token: modToken, body: {} });
    expect(acked.body).toMatchObject({ status: "acknowledged", acknowledgedBy: "dr-mo" });
    const resolved = await api(server.http, "POST", `/api/alerts/${alertId}/resolve`, { token: modToken, body: { note: "spoke with pat" } });
    expect(resolved.body).toMatchObject({ status: "resolved", resolvedBy: "dr-mo", note: "spoke with pat" });
  });
});
