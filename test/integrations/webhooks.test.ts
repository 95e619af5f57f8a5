// Lifecycle webhooks against a real server process and a real local receiver: signed bodies that verify with
// the standardwebhooks package, per-session order, retries with a stable id, crash durability, dead letters and
// replay, 410 disabling an endpoint, redirects not followed, and no content unless configured.
import { afterAll, describe, expect, test } from "bun:test";
import { mintToken } from "../../src/auth/tokens.ts";
import { api, eventually, freePort, startServer, tempDir, TEST_SECRET, token, WsClient, type ServerProcess } from "../helpers.ts";
import { startReceiver, WEBHOOK_TEST_SECRET, type Receiver } from "./receiver.ts";

const servers: ServerProcess[] = [];
const receivers: Receiver[] = [];
afterAll(async () => {
  for (const s of servers) if (s.proc.exitCode === null) await s.stop("SIGKILL");
  for (const r of receivers) r.stop();
});

async function serve(urls: string[], env: Record<string, string> = {}, dataDir?: string): Promise<ServerProcess> {
  const s = await startServer({
    dataDir,
    env: { WEBHOOK_URLS: urls.join(","), WEBHOOK_SECRET: WEBHOOK_TEST_SECRET, WEBHOOK_RETRY_BASE_MS: "20", RATE_LIMIT_MESSAGES_PER_MINUTE: "100000", ...env },
  });
  servers.push(s);
  return s;
}
function receiver(opts: Parameters<typeof startReceiver>[0] = {}): Receiver {
  const r = startReceiver(opts);
  receivers.push(r);
  return r;
}
const adminToken = () => token("root", { admin: true });
const ofSession = (id: string) => (r: { body: any }) => (r.body?.data?.session?.id ?? r.body?.data?.session ?? r.body?.data?.alert?.session) === id;

describe("signed lifecycle events", () => {
  test("a session's life arrives as verified session.started, participant.joined, message.created, participant.left, session.ended", async () => {
    const rx = receiver();
    const s = await serve([rx.url], { WEBHOOK_EVENTS: "session.started,session.ended,participant.joined,participant.left,message.created" });
    const alice = await WsClient.connect(s.ws, { token: await token("alice") });
    await alice.request({ type: "join", session: "life-1" });
    const ack = await alice.request({ type: "message", session: "life-1", content: "top secret words", clientMsgId: "c-1" });
    // A moderator who only watches is no participant: neither joined nor left is sent for them.
    const watcher = await WsClient.connect(s.ws, { token: await mintToken(TEST_SECRET, { userId: "watcher", moderator: true, ttlSeconds: 600 }) });
    await watcher.request({ type: "join", session: "life-1" });
    await watcher.close();
    await alice.close();
    await rx.waitFor((r) => r.body?.type === "participant.left");
    const ended = await api(s.http, "POST", "/api/sessions/life-1/end", { token: await token("alice"), body: {} });
    expect(ended.status).toBe(200);
    const got = await rx.waitFor((r) => r.body?.type === "session.ended");

    const mine = rx.received.filter(ofSession("life-1"));
    expect(mine.some((r) => r.body.data.userId === "watcher")).toBe(false);
    expect(mine.map((r) => r.body.type)).toEqual(["session.started", "participant.joined", "message.created", "participant.left", "session.ended"]);
    expect(mine.every((r) => r.verified)).toBe(true);
    expect(new Set(mine.map((r) => r.id)).size).toBe(5);
    for (const r of mine) {
      expect(r.id).toMatch(/^msg_[0-9a-f]{32}$/);
      expect(r.headers["content-type"]).toBe("application/json");
      expect(Math.abs(r.timestamp - Date.now() / 1000)).toBeLessThan(60);
      expect(r.body.timestamp).toMatch(/^\d{4}-\d\d-\d\dT/);
    }
    const [started, joined, created, left] = mine;
    expect(started!.body.data.session).toMatchObject({ id: "life-1", ownerId: "alice", status: "active", mode: "chat" });
    expect(joined!.body.data).toEqual({ session: "life-1", userId: "alice" });
    expect(left!.body.data).toEqual({ session: "life-1", userId: "alice" });
    expect(created!.body.data).toEqual({
      session: "life-1",
      message: { id: ack.messageId, seq: 1, userId: "alice", role: "user", kind: "text", createdAt: expect.any(String), contentBytes: 16, clientMsgId: "c-1" },
    });
    expect(got[0]!.body.data).toMatchObject({ status: "completed", session: { id: "life-1", status: "completed", metrics: { messageCount: 1, participantCount: 1 } } });
    expect(got[0]!.body.data.session.endedAt).toBeString();

    // No content anywhere: not in a body, not in a log line.
    expect(rx.received.some((r) => r.raw.includes("top secret"))).toBe(false);
    expect(s.logs.some((l) => l.includes("top secret") || l.includes(WEBHOOK_TEST_SECRET))).toBe(false);

    // The receiver has answered; the sender records the outcome a moment later.
    let metrics = "";
    await eventually(async () => {
      metrics = await (await fetch(`${s.http}/metrics`)).text();
      return /sessiond_webhook_deliveries_total\{event="session.ended",outcome="delivered"\} 1/.test(metrics);
    }, 5000, "the delivered counter");
    expect(metrics).toMatch(/sessiond_webhook_queue_depth 0/);
    expect(metrics).toContain("sessiond_webhook_delivery_seconds_count");
  });

  test("each session's events arrive in commit order, even when the receiver answers out of order", async () => {
    const rx = receiver({ respond: async () => (await Bun.sleep(Math.random() * 15), new Response(null, { status: 200 })) });
    const s = await serve([rx.url], { WEBHOOK_EVENTS: "message.created" });
    const c = await WsClient.connect(s.ws, { token: await token("olga") });
    await c.request({ type: "join", session: "order-a" });
    await c.request({ type: "join", session: "order-b" });
    await Promise.all(Array.from({ length: 60 }, (_, i) => c.request({ type: "message", session: i % 2 ? "order-b" : "order-a", content: `m${i}` })));
    await rx.waitFor((r) => r.body?.type === "message.created", 60, 20_000);
    for (const id of ["order-a", "order-b"]) {
      expect(rx.received.filter(ofSession(id)).map((r) => r.body.data.message.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    }
    await c.close();
  });
});

describe("alerts", () => {
  test("a crisis message sends alert.raised (categories, no quoted phrase); acknowledging it sends alert.updated", async () => {
    const rx = receiver();
    const s = await serve([rx.url]);
    const user = await WsClient.connect(s.ws, { token: await token("una") });
    await user.request({ type: "join", session: "alert-1" });
    await user.request({ type: "message", session: "alert-1", content: "I don't want to be here anymore, I've been saving my pills" });
    const [raised] = await rx.waitFor((r) => r.body?.type === "alert.raised", 1, 15_000);
    expect(raised!.verified).toBe(true);
    const alert = raised!.body.data.alert;
    expect(alert).toMatchObject({ session: "alert-1", seq: 1, userId: "una", status: "open" });
    expect(["medium", "high"]).toContain(alert.risk_level);
    expect(alert.categories.length).toBeGreaterThan(0);
    expect(alert.triggers).toBeUndefined();
    expect(raised!.raw).not.toContain("pills");

    const moderator = await mintToken(TEST_SECRET, { userId: "mod", moderator: true, ttlSeconds: 600 });
    const ack = await api(s.http, "POST", `/api/alerts/${alert.id}/acknowledge`, { token: moderator, body: { note: "calling them now" } });
    expect(ack.status).toBe(200);
    const [updated] = await rx.waitFor((r) => r.body?.type === "alert.updated", 1, 10_000);
    expect(updated!.body.data.alert).toMatchObject({ id: alert.id, status: "acknowledged", acknowledgedBy: "mod" });
    expect(updated!.raw).not.toContain("calling them");
    // In the session's lane, after the session's own earlier events.
    const order = rx.received.filter(ofSession("alert-1")).map((r) => r.body.type);
    expect(order.indexOf("session.started")).toBeLessThan(order.indexOf("alert.raised"));
    expect(order.indexOf("alert.raised")).toBeLessThan(order.indexOf("alert.updated"));
    await user.close();
  });
});

describe("message content", () => {
  test("with WEBHOOK_INCLUDE_CONTENT=true message.created carries content and metadata; expiry reports status expired", async () => {
    const rx = receiver();
    const s = await serve([rx.url], { WEBHOOK_EVENTS: "message.created,session.ended", WEBHOOK_INCLUDE_CONTENT: "true", SESSION_EXPIRY_SECONDS: "1" });
    const t = await token("carl");
    await api(s.http, "POST", "/api/sessions", { token: t, body: {} }).then(async (created) => {
      const id = created.body.id as string;
      await api(s.http, "POST", `/api/sessions/${id}/messages`, { token: t, body: { content: "hello there", metadata: { lang: "en" } } });
      const [m] = await rx.waitFor((r) => r.body?.type === "message.created");
      expect(m!.body.data.message).toMatchObject({ content: "hello there", metadata: { lang: "en" }, contentBytes: 11 });
      const [end] = await rx.waitFor((r) => r.body?.type === "session.ended", 1, 15_000);
      expect(end!.body.data.status).toBe("expired");
      expect(end!.body.data.session).toMatchObject({ id, status: "expired" });
    });
    expect(rx.received.some((r) => r.body?.type === "session.started")).toBe(false);
  });
});

describe("retries", () => {
  test("a receiver that fails three times then succeeds gets the event four times with the same id; Retry-After is honoured", async () => {
    const rx = receiver({
      respond: (_r, n) =>
        n === 1 ? new Response("busy", { status: 503, headers: { "Retry-After": "1" } }) : n <= 3 ? new Response("no", { status: 500 }) : new Response(null, { status: 204 }),
    });
    const s = await serve([rx.url], { WEBHOOK_EVENTS: "session.started" });
    await api(s.http, "POST", "/api/sessions", { token: await token("rhea"), body: { room: "retry-room" } });
    const got = await rx.waitFor(() => true, 4, 15_000);
    await Bun.sleep(300);
    expect(rx.received).toHaveLength(4);
    expect(new Set(got.map((r) => r.id)).size).toBe(1);
    expect(got.every((r) => r.verified && r.raw === got[0]!.raw)).toBe(true);
    expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(900);
    const admin = await adminToken();
    let list = await api(s.http, "GET", "/api/admin/webhooks/deliveries?status=delivered", { token: admin });
    await eventually(async () => {
      list = await api(s.http, "GET", "/api/admin/webhooks/deliveries?status=delivered", { token: admin });
      return list.body.deliveries.length === 1;
    }, 5000, "the delivered delivery");
    expect(list.body.deliveries[0]).toMatchObject({ eventId: got[0]!.id, status: "delivered", attempts: 4, lastStatus: 204, type: "session.started" });
    const failures = s.logs.filter((l) => l.includes('"webhook.delivery_failed"')).map((l) => JSON.parse(l));
    expect(failures.map((f) => f.attempt)).toEqual([1, 2, 3]);
    expect(failures[0]).toMatchObject({ endpoint: 0, host: `127.0.0.1:${rx.port}`, eventType: "session.started", status: 503 });
    expect(failures.some((f) => JSON.stringify(f).includes("/hook"))).toBe(false);
  });
});

describe("durability", () => {
  test("kill -9 between the commit and the delivery: the event is delivered after the restart, once", async () => {
    const port = freePort();
    const url = `http://127.0.0.1:${port}/hook`;
    const dataDir = tempDir();
    const first = await serve([url], { WEBHOOK_EVENTS: "session.started" }, dataDir);
    const created = await api(first.http, "POST", "/api/sessions", { token: await token("kim"), body: {} });
    // The receiver is down: the first attempt fails and a retry is scheduled.
    await eventually(() => first.logs.some((l) => l.includes('"webhook.delivery_failed"')), 10_000, "a failed attempt");
    const before = await api(first.http, "GET", "/api/admin/webhooks/deliveries", { token: await adminToken() });
    expect(before.body.deliveries[0]).toMatchObject({ status: "failed", session: created.body.id, lastError: "connection_failed" });
    first.proc.kill("SIGKILL");
    await first.exited;

    const rx = receiver({ port });
    const second = await serve([url], { WEBHOOK_EVENTS: "session.started" }, dataDir);
    const [got] = await rx.waitFor((r) => r.body?.type === "session.started", 1, 15_000);
    expect(got!.id).toBe(before.body.deliveries[0].eventId);
    expect(got!.verified).toBe(true);
    expect(got!.body.data.session.id).toBe(created.body.id);
    await Bun.sleep(300);
    expect(rx.received).toHaveLength(1);
    await second.stop();
  });
});

describe("dead letters and replay", () => {
  test("past WEBHOOK_MAX_AGE_SECONDS a delivery is dead; replay re-sends it with the same webhook-id", async () => {
    let accept = false;
    const rx = receiver({ respond: () => new Response(null, { status: accept ? 200 : 500 }) });
    const s = await serve([rx.url], { WEBHOOK_EVENTS: "session.started", WEBHOOK_MAX_AGE_SECONDS: "1", WEBHOOK_RETRY_BASE_MS: "100" });
    const admin = await adminToken();
    await api(s.http, "POST", "/api/sessions", { token: await token("dora"), body: {} });
    let dead: any;
    await eventually(async () => {
      dead = (await api(s.http, "GET", "/api/admin/webhooks/deliveries?status=dead", { token: admin })).body.deliveries[0];
      return dead !== undefined;
    }, 10_000, "a dead letter");
    expect(dead).toMatchObject({ status: "dead", lastStatus: 500, lastError: "http_error" });
    expect(dead.attempts).toBeGreaterThanOrEqual(2);
    expect(s.logs.some((l) => l.includes('"webhook.delivery_dead"'))).toBe(true);
    const seen = rx.received.length;
    await Bun.sleep(400);
    expect(rx.received).toHaveLength(seen);

    accept = true;
    const replay = await api(s.http, "POST", `/api/admin/webhooks/deliveries/${dead.id}/replay`, { token: admin });
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ id: dead.id, eventId: dead.eventId, status: "pending" });
    await eventually(() => rx.delivered().length === 1, 10_000, "the replayed delivery");
    expect(rx.delivered()[0]!.id).toBe(dead.eventId);
    await eventually(async () => (await api(s.http, "GET", `/api/admin/webhooks/deliveries?status=delivered`, { token: admin })).body.deliveries.length === 1);

    const again = await api(s.http, "POST", `/api/admin/webhooks/deliveries/${dead.id}/replay`, { token: admin });
    expect(again.status).toBe(409);
    expect((await api(s.http, "POST", "/api/admin/webhooks/deliveries/999999/replay", { token: admin })).status).toBe(404);
    expect((await api(s.http, "GET", "/api/admin/webhooks/deliveries?status=lost", { token: admin })).status).toBe(400);
    expect((await api(s.http, "GET", "/api/admin/webhooks/deliveries", { token: await token("dora") })).status).toBe(403);
    expect((await api(s.http, "GET", "/api/admin/webhooks/endpoints", { token: await mintToken(TEST_SECRET, { userId: "mo", moderator: true, ttlSeconds: 600 }) })).status).toBe(403);
  });
});

describe("endpoint refusals", () => {
  test("a 410 disables that endpoint only; a redirect is not followed; the endpoints view shows both", async () => {
    const gone = receiver({ respond: () => new Response("gone", { status: 410 }) });
    const moved = receiver({ respond: (r) => (r.path === "/hook" ? new Response(null, { status: 302, headers: { Location: "/elsewhere" } }) : new Response(null, { status: 200 })) });
    const s = await serve([gone.url, moved.url.replace("127.0.0.1", "user:pw@127.0.0.1")], { WEBHOOK_EVENTS: "session.started" });
    const admin = await adminToken();
    const t = await token("gil");
    await api(s.http, "POST", "/api/sessions", { token: t, body: {} });
    await gone.waitFor(() => true);
    await moved.waitFor(() => true, 2);
    await eventually(() => s.logs.some((l) => l.includes('"webhook.endpoint_disabled"')), 5000, "the disable log line");

    const view = await api(s.http, "GET", "/api/admin/webhooks/endpoints", { token: admin });
    expect(view.status).toBe(200);
    expect(view.body.enabled).toBe(true);
    const [g, m] = view.body.endpoints;
    expect(g).toMatchObject({ index: 0, state: "disabled", url: gone.url, lastStatus: 410, deliveries: { dead: 1 } });
    expect(g.disabledReason).toContain("410");
    expect(m).toMatchObject({ index: 1, state: "active", url: moved.url, lastStatus: 302, lastError: "redirect_not_followed" });
    expect(JSON.stringify(view.body)).not.toContain("pw@");
    expect(moved.received.every((r) => r.path === "/hook")).toBe(true);
    expect(moved.received[0]!.headers.authorization).toBe(`Basic ${btoa("user:pw")}`);

    // A disabled endpoint gets nothing more; the other one still does (its own lane for the new session).
    const second = (await api(s.http, "POST", "/api/sessions", { token: t, body: {} })).body.id;
    await moved.waitFor(ofSession(second));
    await Bun.sleep(200);
    expect(gone.received).toHaveLength(1);

    const enabled = await api(s.http, "POST", `/api/admin/webhooks/endpoints/${g.id}/enable`, { token: admin });
    expect(enabled.body).toMatchObject({ state: "active" });
    const third = (await api(s.http, "POST", "/api/sessions", { token: t, body: {} })).body.id;
    const [back] = await gone.waitFor(ofSession(third));
    expect(back!.verified).toBe(true);
    const doc = await (await fetch(`${s.http}/openapi.json`)).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/api/admin/webhooks/deliveries", "/api/admin/webhooks/deliveries/{id}/replay", "/api/admin/webhooks/endpoints"]),
    );
  });
});
