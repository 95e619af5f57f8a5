// Who sees analyses, on every transport: staff always; everyone else only when the session's share is "all"; alerts
// only ever staff. WebSocket (joined, since recovery, live frames), HTTP (history, exports), SSE (replay, live).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parse as parseYaml } from "yaml";
import { api, eventually, moderatorToken, SseClient, startServer, token, WsClient, type ServerProcess } from "../helpers.ts";

let server: ServerProcess;
let ownerToken: string;
let modToken: string;
let adminToken: string;
let owner: WsClient;
let moderator: WsClient;
const SESSION = "vis-1";
const CRISIS = "i want to kil myself tonight";

/** Waits until staff can read `count` analysed messages over HTTP. */
async function analysed(session: string, count: number): Promise<void> {
  await eventually(async () => {
    const page = await api(server.http, "GET", `/api/sessions/${session}/messages?limit=500`, { token: adminToken });
    return page.body.messages.filter((m: any) => m.analysis).length >= count;
  }, 10_000, `${count} analysed messages in ${session}`);
}

const keysDeep = (value: unknown): string[] => JSON.stringify(value).match(/"(analysis|crisis|risk_level|sentiment)"/g) ?? [];

beforeAll(async () => {
  server = await startServer();
  ownerToken = await token("olive");
  modToken = await moderatorToken("dr-mo");
  adminToken = await token("ops", { admin: true });
  owner = await WsClient.connect(server.ws, { token: ownerToken });
  moderator = await WsClient.connect(server.ws, { token: modToken });
  await owner.request({ type: "join", session: SESSION });
  await moderator.request({ type: "join", session: SESSION });
  await owner.request({ type: "message", session: SESSION, content: "work was fine today" });
  await owner.request({ type: "message", session: SESSION, content: CRISIS });
  await moderator.waitForCount((f) => f.type === "analysis" && f.session === SESSION, 2);
});
afterAll(async () => {
  await owner.close();
  await moderator.close();
  await server.stop();
});

describe("with share staff (the default)", () => {
  test("WebSocket: the owner's joined and since recovery carry no analysis; the moderator's do", async () => {
    const plain = await owner.request({ type: "join", session: SESSION });
    const recovered = await owner.request({ type: "join", session: SESSION, since: 0 });
    for (const reply of [plain, recovered]) {
      expect(reply.messages.map((m: any) => m.content)).toEqual(["work was fine today", CRISIS]);
      expect(keysDeep(reply.messages)).toEqual([]);
    }
    const staffJoin = await moderator.request({ type: "join", session: SESSION, since: 0 });
    expect(staffJoin.messages.map((m: any) => m.analysis?.crisis.risk_level)).toEqual(["none", "high"]);
  });

  test("WebSocket live: the owner gets the message but no analysis and no alert frame", async () => {
    const before = owner.frames.length;
    const ack = await owner.request({ type: "message", session: SESSION, content: "everyone would be better off without me" });
    await moderator.waitFor((f) => f.type === "alert" && f.alert.seq === ack.seq);
    await moderator.waitFor((f) => f.type === "analysis" && f.seq === ack.seq);
    await owner.request({ type: "ping" });
    const after = owner.frames.slice(before);
    expect(after.some((f) => f.type === "message" && f.message.seq === ack.seq)).toBe(true);
    expect(after.filter((f) => f.type === "analysis" || f.type === "alert" || f.type === "alert.updated")).toEqual([]);
    expect(owner.frames.filter((f) => f.type === "analysis" || f.type === "alert")).toEqual([]);
  });

  test("HTTP history and every export format: analysis for staff readers only", async () => {
    await analysed(SESSION, 3);
    const mine = await api(server.http, "GET", `/api/sessions/${SESSION}/messages`, { token: ownerToken });
    expect(mine.body.messages).toHaveLength(3);
    expect(keysDeep(mine.body)).toEqual([]);
    const staff = await api(server.http, "GET", `/api/sessions/${SESSION}/messages`, { token: modToken });
    expect(staff.body.messages.every((m: any) => m.analysis?.analyzer === "builtin/1")).toBe(true);

    for (const [who, t, sees] of [["owner", ownerToken, false], ["moderator", modToken, true]] as const) {
      const json = await (await fetch(`${server.http}/api/sessions/${SESSION}/export`, { headers: { Authorization: `Bearer ${t}` } })).json();
      expect({ who, analysed: json.messages.filter((m: any) => m.analysis).length }).toEqual({ who, analysed: sees ? 3 : 0 });
      const yaml = parseYaml(await (await fetch(`${server.http}/api/sessions/${SESSION}/export?format=yaml`, { headers: { Authorization: `Bearer ${t}` } })).text());
      expect({ who, analysed: yaml.messages.filter((m: any) => m.analysis).length }).toEqual({ who, analysed: sees ? 3 : 0 });
      const md = await (await fetch(`${server.http}/api/sessions/${SESSION}/export?format=markdown`, { headers: { Authorization: `Bearer ${t}` } })).text();
      expect({ who, perMessage: (md.match(/risk (none|low|medium|high)/g) ?? []).length }).toEqual({ who, perMessage: sees ? 3 : 0 });
      expect({ who, summary: md.includes("- Highest risk: high") }).toEqual({ who, summary: sees });
      expect({ who, alerts: md.includes("- Alerts: 2") }).toEqual({ who, alerts: sees });
      if (!sees) expect(md).not.toMatch(/sentiment|suicidal|Analysis/i);
    }
  });

  test("SSE: replay and live events carry analysis for staff only", async () => {
    const userStream = await SseClient.open(`${server.http}/api/sessions/${SESSION}/events?lastEventId=0`, ownerToken);
    const staffStream = await SseClient.open(`${server.http}/api/sessions/${SESSION}/events?lastEventId=0`, modToken);
    await userStream.waitFor("message", (f) => f.message.seq === 3);
    const replayed = await staffStream.waitFor("message", (f) => f.message.seq === 3);
    expect(replayed.message.analysis.crisis.risk_level).not.toBe("none");
    expect(keysDeep(userStream.frames("message"))).toEqual([]);

    const ack = await owner.request({ type: "message", session: SESSION, content: "my sister says she wants to die" });
    const live = await staffStream.waitFor("analysis", (f) => f.seq === ack.seq);
    expect(live).toMatchObject({ type: "analysis", session: SESSION, seq: ack.seq });
    await userStream.waitFor("message", (f) => f.message.seq === ack.seq);
    await Bun.sleep(100);
    expect(userStream.events.filter((e) => e.event === "analysis" || e.event === "alert")).toEqual([]);
    expect(keysDeep(userStream.events)).toEqual([]);
    userStream.close();
    staffStream.close();
  });

  test("SessionInfo's sentiment and riskLevel are analysis results: staff only, on join, GET, list and session frames", async () => {
    await analysed(SESSION, 3);
    const hidden = { sentiment: null, riskLevel: null };
    expect((await owner.request({ type: "join", session: SESSION })).session.metrics).toMatchObject(hidden);
    expect((await moderator.request({ type: "join", session: SESSION })).session.metrics.riskLevel).toBe("high");
    const mine = await api(server.http, "GET", `/api/sessions/${SESSION}`, { token: ownerToken });
    expect(mine.body.metrics).toMatchObject(hidden);
    expect(mine.body.metrics.messageCount).toBeGreaterThanOrEqual(3);
    const listed = await api(server.http, "GET", "/api/sessions", { token: ownerToken });
    expect(listed.body.sessions.find((s: any) => s.id === SESSION).metrics).toMatchObject(hidden);
    const staffListed = await api(server.http, "GET", "/api/sessions", { token: modToken });
    expect(staffListed.body.sessions.find((s: any) => s.id === SESSION).metrics.riskLevel).toBe("high");

    const configured = await owner.request({ type: "configure", session: SESSION, config: { scenario: "visibility" } });
    expect(configured.session.metrics).toMatchObject(hidden);
    const ownerFrame = await owner.waitFor((f) => f.type === "session" && f.session.config.scenario === "visibility");
    const staffFrame = await moderator.waitFor((f) => f.type === "session" && f.session.config.scenario === "visibility");
    expect(ownerFrame.session.metrics).toMatchObject(hidden);
    expect(staffFrame.session.metrics.riskLevel).toBe("high");
    expect(staffFrame.session.metrics.sentiment).toBeLessThan(0);
  });

  test("alert routes and the alert stream refuse a user with 403", async () => {
    expect((await api(server.http, "GET", "/api/alerts", { token: ownerToken })).status).toBe(403);
    expect((await api(server.http, "GET", "/api/alerts/events", { token: ownerToken })).status).toBe(403);
    const list = await api(server.http, "GET", `/api/alerts?session=${SESSION}`, { token: modToken });
    expect(list.status).toBe(200);
    expect(list.body.alerts.length).toBeGreaterThanOrEqual(3);
  });
});

describe("with share all", () => {
  test("every reader sees analyses, live and in history; alerts stay with staff", async () => {
    const configured = await owner.request({ type: "configure", session: SESSION, analysis: { share: "all" } });
    expect(configured.session.analysis).toEqual({ enabled: true, share: "all" });
    const userStream = await SseClient.open(`${server.http}/api/sessions/${SESSION}/events`, ownerToken);
    await Bun.sleep(50);
    const ack = await owner.request({ type: "message", session: SESSION, content: "I cut myself again" });
    const frame = await owner.waitFor((f) => f.type === "analysis" && f.seq === ack.seq);
    expect(frame.analysis.crisis.risk_level).toBe("high");
    expect((await userStream.waitFor("analysis", (f) => f.seq === ack.seq)).analysis.crisis.risk_level).toBe("high");
    await moderator.waitFor((f) => f.type === "alert" && f.alert.seq === ack.seq);
    await owner.request({ type: "ping" });
    expect(owner.frames.filter((f) => f.type === "alert" || f.type === "alert.updated")).toEqual([]);
    expect(userStream.events.filter((e) => e.event === "alert")).toEqual([]);
    userStream.close();

    const joined = await owner.request({ type: "join", session: SESSION, since: 0 });
    expect(joined.messages.every((m: any) => m.analysis !== undefined)).toBe(true);
    const page = await api(server.http, "GET", `/api/sessions/${SESSION}/messages`, { token: ownerToken });
    expect(page.body.messages.every((m: any) => m.analysis !== undefined)).toBe(true);
    const md = await (await fetch(`${server.http}/api/sessions/${SESSION}/export?format=markdown`, { headers: { Authorization: `Bearer ${ownerToken}` } })).text();
    // The summary, without the staff-only alert count.
    expect(md).toContain("- Highest risk: high");
    expect(md).not.toContain("- Alerts:");
    await owner.request({ type: "configure", session: SESSION, analysis: { share: "staff" } });
    expect(keysDeep((await owner.request({ type: "join", session: SESSION, since: 0 })).messages)).toEqual([]);
  });
});

describe("after a restart (history read from SQLite)", () => {
  test("staff still see every analysis; the owner none", async () => {
    await owner.close();
    await moderator.close();
    expect(await server.stop()).toBe(0);
    server = await startServer({ dataDir: server.dataDir });
    owner = await WsClient.connect(server.ws, { token: ownerToken });
    moderator = await WsClient.connect(server.ws, { token: modToken });
    const staff = await moderator.request({ type: "join", session: SESSION });
    expect(staff.messages.length).toBe(5);
    expect(staff.messages.every((m: any) => m.analysis !== undefined)).toBe(true);
    const mine = await owner.request({ type: "join", session: SESSION, since: 2 });
    expect(mine.messages.length).toBe(3);
    expect(keysDeep(mine.messages)).toEqual([]);
    const info = await api(server.http, "GET", `/api/sessions/${SESSION}`, { token: modToken });
    expect(info.body.metrics.riskLevel).toBe("high");
    expect(info.body.metrics.sentiment).toBeLessThan(0);
  });
});
