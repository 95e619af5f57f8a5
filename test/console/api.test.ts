// The console's server side against a real server process: the page and its assets under a strict CSP, the
// sign-in check, the staff session list with presence and cursor paging, the live feed, and the admin's kick.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { api, attemptUpgrade, eventually, moderatorToken, SseClient, startServer, token, WsClient, type ServerProcess } from "../helpers.ts";

let server: ServerProcess;
let admin: string;
let moderator: string;
let alice: string;

beforeAll(async () => {
  server = await startServer({ env: { STATS_SAMPLE_SECONDS: "1", RATE_LIMIT_MESSAGES_PER_MINUTE: "10000" } });
  admin = await token("ops", { admin: true });
  moderator = await moderatorToken("mod");
  alice = await token("alice");
});
afterAll(async () => {
  await server?.stop();
});

describe("GET /console", () => {
  test("serves the page with a strict Content-Security-Policy and links hashed assets that are served too", async () => {
    const res = await fetch(`${server.http}/console`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/html");
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("unsafe-eval");
    expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${server.port} wss://127.0.0.1:${server.port}`);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    const html = await res.text();
    expect(html).toContain('<meta name="sessiond-auth-mode" content="jwt">');
    // No inline script or style: everything the page runs comes from a file the CSP allows.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|style="/);
    const assets = [...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBe(2);
    for (const path of assets) {
      const asset = await fetch(`${server.http}${path}`, { headers: { "Accept-Encoding": "gzip" } });
      expect(asset.status).toBe(200);
      expect(asset.headers.get("cache-control")).toContain("immutable");
      expect(asset.headers.get("content-security-policy")).toBe(csp);
      expect((await asset.text()).length).toBeGreaterThan(500);
    }
  });

  test("/console/ serves the same page; an unknown asset is a JSON 404", async () => {
    expect((await fetch(`${server.http}/console/`)).status).toBe(200);
    const missing = await api(server.http, "GET", "/console/assets/nope-123.js");
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("not_found");
  });
});

describe("GET /api/console/me", () => {
  test("names the caller's user id and role and the auth mode; without a token it is 401", async () => {
    expect((await api(server.http, "GET", "/api/console/me", { token: moderator })).body).toEqual({ userId: "mod", role: "moderator", authMode: "jwt" });
    expect((await api(server.http, "GET", "/api/console/me", { token: alice })).body.role).toBe("user");
    expect((await api(server.http, "GET", "/api/console/me")).status).toBe(401);
  });
});

describe("GET /api/console/sessions", () => {
  test("staff see every session with who is present, newest first, page by page; users are refused", async () => {
    const ws = await WsClient.connect(server.ws, { token: alice });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = `list-${i}`;
      await ws.request({ type: "join", session: id });
      ids.push(id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r: { status: number; body: any } = await api(server.http, "GET", `/api/console/sessions?limit=2${cursor ? `&cursor=${cursor}` : ""}`, { token: moderator });
      expect(r.status).toBe(200);
      expect(r.body.sessions.length).toBeLessThanOrEqual(2);
      for (const s of r.body.sessions) {
        seen.push(s.id);
        if (ids.includes(s.id)) expect(s.present).toEqual(["alice"]);
      }
      cursor = r.body.nextCursor;
    } while (cursor);
    // A moderator is staff: the list is every session, not only the ones they own.
    expect(seen.filter((id) => ids.includes(id))).toEqual([...ids].reverse());
    expect(new Set(seen).size).toBe(seen.length);
    const filtered = await api(server.http, "GET", "/api/console/sessions?status=completed", { token: admin });
    expect(filtered.body.sessions.every((s: any) => s.status === "completed")).toBe(true);
    const refused = await api(server.http, "GET", "/api/console/sessions", { token: alice });
    expect(refused.status).toBe(403);
    expect((await api(server.http, "GET", "/api/console/sessions?cursor=bad!", { token: admin })).status).toBe(400);
    await ws.close();
  });
});

describe("GET /api/console/events", () => {
  test("starts with a snapshot, then tells of a session starting, its activity, samples and its end", async () => {
    const feed = await SseClient.open(`${server.http}/api/console/events`, moderator);
    expect(feed.response.status).toBe(200);
    expect(feed.response.headers.get("content-type")).toStartWith("text/event-stream");
    const snapshot = await feed.waitFor("snapshot");
    expect(snapshot.intervalMs).toBe(1000);
    expect(snapshot.windowMs).toBe(15 * 60_000);
    expect(Array.isArray(snapshot.samples)).toBe(true);
    expect(snapshot.health.checks.database).toBe(true);
    expect(snapshot.stats).toEqual(expect.objectContaining({ connections: expect.any(Number), activeSessions: expect.any(Number) }));
    // Moderators are not told what only admins see.
    expect(snapshot.webhooks).toBeUndefined();

    const ws = await WsClient.connect(server.ws, { token: alice });
    await ws.request({ type: "join", session: "feed-1" });
    const started = await feed.waitFor("session", (e) => e.event === "started" && e.session.id === "feed-1");
    expect(started.session.ownerId).toBe("alice");
    for (let i = 0; i < 3; i++) await ws.request({ type: "message", session: "feed-1", content: `m${i}` });
    const activity = await feed.waitFor("activity", (e) => e.sessions.some((s: any) => s.id === "feed-1" && s.metrics.messageCount === 3));
    expect(activity.sessions.find((s: any) => s.id === "feed-1").present).toEqual(["alice"]);
    const sample = await feed.waitFor("sample", (e) => e.sample.acksPerSecond > 0, 5000);
    expect(sample.sample).toEqual(expect.objectContaining({ t: expect.any(Number), messagesPerSecond: expect.any(Number), connections: expect.any(Number) }));
    await ws.request({ type: "end", session: "feed-1" });
    const ended = await feed.waitFor("session", (e) => e.event === "ended" && e.session.id === "feed-1");
    expect(ended.session.status).toBe("completed");
    // Nothing in the feed is a message's content.
    expect(feed.events.map((e) => e.data).join("")).not.toContain('"m1"');
    // The feed's own reads are the server's, not a person's: the audit trail shows only the admin's read below.
    await api(server.http, "GET", "/api/sessions/feed-1", { token: admin });
    let reads: any[] = [];
    await eventually(async () => (reads = (await api(server.http, "GET", "/api/admin/audit?session=feed-1", { token: admin })).body.entries).length > 0, 5000, "the admin's read in the audit trail");
    expect(reads.map((e) => e.actorId)).toEqual(["ops"]);
    feed.close();
    await ws.close();
  });

  test("admins also get the webhook delivery counts; users are refused", async () => {
    const feed = await SseClient.open(`${server.http}/api/console/events`, admin);
    const snapshot = await feed.waitFor("snapshot");
    expect(snapshot.webhooks).toEqual({ endpoints: 0, disabled: 0, pending: 0, delivered: 0, failed: 0, dead: 0 });
    feed.close();
    const refused = await fetch(`${server.http}/api/console/events`, { headers: { Authorization: `Bearer ${alice}` } });
    expect(refused.status).toBe(403);
  });
});

describe("POST /api/admin/sessions/:id/kick", () => {
  test("closes the user's WebSocket subscription with a forbidden error frame; the socket stays open for other sessions", async () => {
    const bob = await WsClient.connect(server.ws, { token: await token("bob") });
    const owner = await WsClient.connect(server.ws, { token: alice });
    await owner.request({ type: "join", session: "kick-1" });
    await owner.request({ type: "configure", session: "kick-1", access: "open" });
    await bob.request({ type: "join", session: "kick-1" });
    await bob.request({ type: "join", session: "kick-other" });
    const r = await api(server.http, "POST", "/api/admin/sessions/kick-1/kick", { token: admin, body: { userId: "bob" } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ session: "kick-1", userId: "bob", connections: 1 });
    const error = await bob.waitFor((f) => f.type === "error" && f.session === "kick-1");
    expect(error).toEqual({ type: "error", code: "forbidden", message: "An administrator removed you from this session.", session: "kick-1" });
    await owner.waitFor((f) => f.type === "presence" && f.userId === "bob" && f.event === "leave");
    const before = bob.frames.length;
    await owner.request({ type: "message", session: "kick-1", content: "after the kick" });
    await bob.request({ type: "ping" });
    expect(bob.messages("kick-1").length).toBe(0);
    expect(bob.frames.slice(before).some((f) => f.type === "message")).toBe(false);
    // Still connected, still in the other session.
    expect(bob.frames.some((f) => f.type === "error" && f.session === "kick-other")).toBe(false);
    expect((await bob.request({ type: "ping" })).type).toBe("pong");
    await bob.close();
    await owner.close();
  });

  test("ends the user's SSE stream with the error event and close code 4501", async () => {
    const owner = await WsClient.connect(server.ws, { token: alice });
    await owner.request({ type: "join", session: "kick-sse" });
    const stream = await SseClient.open(`${server.http}/api/sessions/kick-sse/events`, alice);
    await eventually(async () => (await api(server.http, "GET", "/api/admin/sessions/kick-sse/connections", { token: admin })).body.connections.length === 2, 5000, "both connections");
    const r = await api(server.http, "POST", "/api/admin/sessions/kick-sse/kick", { token: admin, body: { userId: "alice" } });
    // Alice's WebSocket and her SSE stream both followed the session.
    expect(r.body.connections).toBe(2);
    const error = await stream.waitFor("error");
    expect(error.code).toBe("forbidden");
    expect((await stream.waitFor("close")).code).toBe(4501);
    stream.close();
    await owner.close();
  });

  test("admins only; an unknown session is 404; a missing userId is 400", async () => {
    expect((await api(server.http, "POST", "/api/admin/sessions/kick-1/kick", { token: moderator, body: { userId: "bob" } })).status).toBe(403);
    expect((await api(server.http, "POST", "/api/admin/sessions/no-such/kick", { token: admin, body: { userId: "bob" } })).status).toBe(404);
    const bad = await api(server.http, "POST", "/api/admin/sessions/kick-1/kick", { token: admin, body: {} });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain("userId");
  });
});

test("with ALLOWED_ORIGINS set, the console's own origin may still open its WebSocket; other sites may not", async () => {
  const strict = await startServer({ env: { ALLOWED_ORIGINS: "https://app.example.com" } });
  try {
    const own = await attemptUpgrade(strict, { token: admin, headers: { Origin: strict.http } });
    expect(own.status).toBe(101);
    const other = await attemptUpgrade(strict, { token: admin, headers: { Origin: "http://127.0.0.1:1" } });
    expect(other.status).toBe(403);
  } finally {
    await strict.stop();
  }
});

test("CONSOLE_ENABLED=false: no page and no console routes", async () => {
  const off = await startServer({ env: { CONSOLE_ENABLED: "false" } });
  try {
    expect((await fetch(`${off.http}/console`)).status).toBe(404);
    expect((await api(off.http, "GET", "/api/console/me", { token: admin })).status).toBe(404);
    expect((await api(off.http, "POST", "/api/admin/sessions/x/kick", { token: admin, body: { userId: "bob" } })).status).toBe(404);
  } finally {
    await off.stop();
  }
});
