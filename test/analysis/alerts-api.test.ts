// The alerts API: list with filters and paging, acknowledge and resolve (idempotent), 404 and 403, the staff SSE
// stream and WebSocket `alert.updated` frames, and alerts that survive a restart.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { api, eventually, moderatorToken, SseClient, startServer, token, WsClient, type ServerProcess } from "../helpers.ts";

let server: ServerProcess;
let modToken: string;
let adminToken: string;
let userToken: string;
/** Alert ids in the order they were raised (oldest first). */
const raised: string[] = [];

async function crisis(user: WsClient, watcher: WsClient, session: string, content: string): Promise<any> {
  const ack = await user.request({ type: "message", session, content });
  return (await watcher.waitFor((f) => f.type === "alert" && f.alert.session === session && f.alert.seq === ack.seq)).alert;
}

beforeAll(async () => {
  server = await startServer({ env: { SSE_HEARTBEAT_SECONDS: "1" } });
  modToken = await moderatorToken("dr-mo");
  adminToken = await token("ops", { admin: true });
  userToken = await token("sam");
  const user = await WsClient.connect(server.ws, { token: userToken });
  const watcher = await WsClient.connect(server.ws, { token: modToken });
  await user.request({ type: "join", session: "al-a" });
  await user.request({ type: "join", session: "al-b" });
  for (let i = 0; i < 5; i++) raised.push((await crisis(user, watcher, i % 2 === 0 ? "al-a" : "al-b", `I cut myself again, time ${i}`)).id);
  await user.close();
  await watcher.close();
});
afterAll(async () => {
  await server.stop();
});

describe("GET /api/alerts", () => {
  test("newest first, filtered by status and session, paged with after = nextAfter", async () => {
    const all = await api(server.http, "GET", "/api/alerts", { token: modToken });
    expect(all.status).toBe(200);
    expect(all.body.alerts.map((a: any) => a.id)).toEqual([...raised].reverse());
    expect(all.body.nextAfter).toBeNull();
    expect(all.body.alerts[0]).toMatchObject({ session: "al-a", seq: 3, userId: "sam", risk_level: "high", status: "open" });
    expect(all.body.alerts[0].triggers.length).toBeGreaterThan(0);
    expect(typeof all.body.alerts[0].recommended_action).toBe("string");

    const bySession = await api(server.http, "GET", "/api/alerts?session=al-b", { token: adminToken });
    expect(bySession.body.alerts.map((a: any) => a.id)).toEqual([raised[3], raised[1]]);

    const first = await api(server.http, "GET", "/api/alerts?limit=2", { token: modToken });
    expect(first.body.alerts.map((a: any) => a.id)).toEqual([raised[4], raised[3]]);
    expect(first.body.nextAfter).toBe(raised[3]);
    const second = await api(server.http, "GET", `/api/alerts?limit=2&after=${first.body.nextAfter}`, { token: modToken });
    expect(second.body.alerts.map((a: any) => a.id)).toEqual([raised[2], raised[1]]);
    const last = await api(server.http, "GET", `/api/alerts?limit=2&after=${second.body.nextAfter}`, { token: modToken });
    expect(last.body.alerts.map((a: any) => a.id)).toEqual([raised[0]]);
    expect(last.body.nextAfter).toBeNull();
  });

  test("bad filters are 400 with a sentence; non-staff are 403", async () => {
    const bad = [
      ["/api/alerts?status=closed", 'Field "status" is invalid: expected one of "open", "acknowledged", "resolved".'],
      ["/api/alerts?limit=0", 'Field "limit" is invalid: expected a number >= 1.'],
      ["/api/alerts?after=no-such-alert", 'Field "after" is invalid: expected the nextAfter of a previous page (an alert id).'],
    ];
    for (const [path, message] of bad) {
      const r = await api(server.http, "GET", path!, { token: modToken });
      expect({ status: r.status, message: r.body.error.message }).toEqual({ status: 400, message });
    }
    for (const path of ["/api/alerts", `/api/alerts/${raised[0]}/acknowledge`, `/api/alerts/${raised[0]}/resolve`]) {
      const r = await api(server.http, path === "/api/alerts" ? "GET" : "POST", path, { token: userToken, body: path === "/api/alerts" ? undefined : {} });
      expect({ path, status: r.status }).toEqual({ path, status: 403 });
    }
    expect((await api(server.http, "GET", "/api/alerts")).status).toBe(401);
  });
});

describe("acknowledge and resolve", () => {
  test("change the status once, broadcast alert.updated to staff on WebSocket and SSE, and repeat idempotently", async () => {
    const staffWs = await WsClient.connect(server.ws, { token: adminToken });
    const userWs = await WsClient.connect(server.ws, { token: userToken });
    const stream = await SseClient.open(`${server.http}/api/alerts/events`, modToken);
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get("content-type")).toContain("text/event-stream");
    await staffWs.request({ type: "ping" });
    const id = raised[1]!;

    const acked = await api(server.http, "POST", `/api/alerts/${id}/acknowledge`, { token: modToken, body: { note: "on it" } });
    expect(acked.status).toBe(200);
    expect(acked.body).toMatchObject({ id, status: "acknowledged", acknowledgedBy: "dr-mo", note: "on it" });
    expect(Date.parse(acked.body.acknowledgedAt)).toBeGreaterThan(0);
    const again = await api(server.http, "POST", `/api/alerts/${id}/acknowledge`, { token: adminToken });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(acked.body);

    const resolved = await api(server.http, "POST", `/api/alerts/${id}/resolve`, { token: adminToken, body: { note: "safe at home" } });
    expect(resolved.body).toMatchObject({ status: "resolved", resolvedBy: "ops", acknowledgedBy: "dr-mo", note: "safe at home" });
    expect((await api(server.http, "POST", `/api/alerts/${id}/resolve`, { token: modToken, body: {} })).body).toEqual(resolved.body);
    // Acknowledging a resolved alert changes nothing and answers with it as it is.
    expect((await api(server.http, "POST", `/api/alerts/${id}/acknowledge`, { token: modToken })).body).toEqual(resolved.body);

    const updates = await staffWs.waitForCount((f) => f.type === "alert.updated" && f.alert.id === id, 2);
    expect(updates.map((f) => f.alert.status)).toEqual(["acknowledged", "resolved"]);
    await stream.waitFor("alert.updated", (f) => f.alert.status === "resolved");
    await Bun.sleep(100);
    // One broadcast per change; the repeats sent nothing.
    expect(staffWs.frames.filter((f) => f.type === "alert.updated")).toHaveLength(2);
    expect(stream.frames("alert.updated").map((f) => f.alert.status)).toEqual(["acknowledged", "resolved"]);
    await userWs.request({ type: "ping" });
    expect(userWs.frames.filter((f) => f.type === "alert.updated" || f.type === "alert")).toEqual([]);

    const resolvedList = await api(server.http, "GET", "/api/alerts?status=resolved", { token: modToken });
    expect(resolvedList.body.alerts.map((a: any) => a.id)).toEqual([id]);
    expect((await api(server.http, "GET", "/api/alerts?status=open", { token: modToken })).body.alerts).toHaveLength(4);
    stream.close();
    await staffWs.close();
    await userWs.close();
  });

  test("an unknown alert is 404", async () => {
    for (const action of ["acknowledge", "resolve"]) {
      const r = await api(server.http, "POST", `/api/alerts/nope/${action}`, { token: modToken, body: {} });
      expect({ status: r.status, code: r.body.error.code }).toEqual({ status: 404, code: "not_found" });
    }
  });
});

describe("GET /api/alerts/events", () => {
  test("streams new alerts to staff without a join, with heartbeats; the connection is cleaned up on close", async () => {
    const stream = await SseClient.open(`${server.http}/api/alerts/events?token=${modToken}`);
    expect(stream.response.status).toBe(200);
    const user = await WsClient.connect(server.ws, { token: userToken });
    await user.request({ type: "join", session: "al-c" });
    const ack = await user.request({ type: "message", session: "al-c", content: "I took all my pills" });
    const frame = await stream.waitFor("alert", (f) => f.alert.session === "al-c");
    expect(frame).toMatchObject({ type: "alert", alert: { session: "al-c", seq: ack.seq, messageId: ack.messageId, status: "open" } });
    const raw = await fetch(`${server.http}/api/alerts/events`, { headers: { Authorization: `Bearer ${modToken}` } });
    const reader = raw.body!.getReader();
    let text = "";
    const deadline = Date.now() + 3000;
    while (!text.includes(": heartbeat") && Date.now() < deadline) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toContain(": heartbeat");
    await reader.cancel();
    const connections = async () => (await api(server.http, "GET", "/api/admin/connections", { token: adminToken })).body.connections.filter((c: any) => c.userId === "dr-mo").length;
    expect(await connections()).toBe(1);
    stream.close();
    await eventually(async () => (await connections()) === 0, 5000, "the alert streams to close");
    await user.close();
  });
});

describe("after a restart", () => {
  test("open alerts are still listed, with their status changes", async () => {
    expect(await server.stop()).toBe(0);
    server = await startServer({ dataDir: server.dataDir });
    const open = await api(server.http, "GET", "/api/alerts?status=open", { token: modToken });
    expect(open.body.alerts.map((a: any) => a.id)).toEqual(expect.arrayContaining([raised[0], raised[2], raised[3], raised[4]]));
    const resolved = await api(server.http, "GET", "/api/alerts?status=resolved", { token: modToken });
    expect(resolved.body.alerts).toEqual([expect.objectContaining({ id: raised[1], note: "safe at home", resolvedBy: "ops" })]);
  });
});
