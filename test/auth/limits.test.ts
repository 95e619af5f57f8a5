import { describe, expect, test } from "bun:test";
import { api, attemptUpgrade, startServer, token, WsClient } from "../helpers.ts";

describe("message rate limit", () => {
  test("the (N+1)th message in the window is refused with retryAfterMs, nothing is written, and sending works again after the wait", async () => {
    const server = await startServer({ env: { RATE_LIMIT_MESSAGES_PER_MINUTE: "5", RATE_LIMIT_WINDOW_SECONDS: "2" } });
    try {
      const t = await token("rex");
      const c = await WsClient.connect(server.ws, { token: t });
      await c.request({ type: "join", session: "rl" });
      for (let i = 0; i < 5; i++) expect((await c.request({ type: "message", session: "rl", content: `m${i}` })).type).toBe("ack");
      // A replay uses up nothing.
      await c.request({ type: "message", session: "rl", content: "m0", clientMsgId: "k" }).catch(() => {});
      const refused = await c.request({ type: "message", session: "rl", content: "too many" });
      expect(refused).toMatchObject({ type: "error", code: "rate_limited" });
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(400);
      // HTTP shares the bucket and answers 429 with Retry-After.
      const http = await api(server.http, "POST", "/api/sessions/rl/messages", { token: t, body: { content: "via http" } });
      expect(http.status).toBe(429);
      expect(http.headers.get("retry-after")).toBe("1");
      const page = await api(server.http, "GET", "/api/sessions/rl/messages", { token: t });
      expect(page.body.messages.map((m: any) => m.content)).toEqual(["m0", "m1", "m2", "m3", "m4"]);
      await Bun.sleep(refused.retryAfterMs + 50);
      expect((await c.request({ type: "message", session: "rl", content: "again" })).type).toBe("ack");
      await c.close();
    } finally {
      await server.stop();
    }
  });
});

describe("connection limits", () => {
  test("connection attempts per address: past the limit 429 with Retry-After before upgrade", async () => {
    const server = await startServer({ env: { RATE_LIMIT_CONNECTIONS_PER_MINUTE: "3" } });
    try {
      const t = await token("ann");
      const open = await Promise.all([1, 2, 3].map(() => WsClient.connect(server.ws, { token: t })));
      const refused = await attemptUpgrade(server, { token: t });
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe("rate_limited");
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      // Existing connections are unaffected.
      expect((await open[0]!.request({ type: "ping" })).type).toBe("pong");
      await Promise.all(open.map((c) => c.close()));
    } finally {
      await server.stop();
    }
  });

  test("behind a trusted proxy each forwarded client has its own attempt budget; X-Forwarded-For from anyone else is ignored", async () => {
    const behind = await startServer({ env: { RATE_LIMIT_CONNECTIONS_PER_MINUTE: "2", TRUSTED_PROXIES: "127.0.0.0/8, ::1" } });
    const direct = await startServer({ env: { RATE_LIMIT_CONNECTIONS_PER_MINUTE: "2" } });
    try {
      const t = await token("ann");
      const from = (chain: string) => ({ token: t, headers: { "X-Forwarded-For": chain } });
      const open = [await WsClient.connect(behind.ws, from("203.0.113.7")), await WsClient.connect(behind.ws, from("203.0.113.7"))];
      // The client's own claim (left of what the proxy appended) proves nothing: still 203.0.113.7.
      expect((await attemptUpgrade(behind, from("198.51.100.1, 203.0.113.7"))).status).toBe(429);
      open.push(await WsClient.connect(behind.ws, from("198.51.100.9")));
      expect((await open[2]!.request({ type: "join", session: "via-proxy" })).type).toBe("joined");
      // The audit trail names the forwarded client too.
      const admin = await token("dpo", { admin: true });
      expect((await api(behind.http, "DELETE", "/api/admin/sessions/via-proxy", { token: admin, headers: { "X-Forwarded-For": "198.51.100.20" } })).status).toBe(200);
      const { entries } = (await api(behind.http, "GET", "/api/admin/audit?action=session.erase", { token: admin })).body;
      expect(entries.map((e: { address: string }) => e.address)).toEqual(["198.51.100.20"]);
      // Not a trusted proxy: every header names another client, and all of them share the peer's budget.
      open.push(await WsClient.connect(direct.ws, from("192.0.2.1")), await WsClient.connect(direct.ws, from("192.0.2.2")));
      const refused = await attemptUpgrade(direct, from("192.0.2.3"));
      expect(refused.status).toBe(429);
      expect(refused.body.error.message).toBe("Too many connection attempts from this address.");
      await Promise.all(open.map((c) => c.close()));
    } finally {
      await Promise.all([behind.stop(), direct.stop()]);
    }
  });

  test("per-user (429) and server-wide (503) connection limits answer limit_exceeded before upgrade", async () => {
    const server = await startServer({ env: { MAX_CONNECTIONS_PER_USER: "2", MAX_CONNECTIONS: "3" } });
    try {
      const a = await token("amy");
      const mine = await Promise.all([1, 2].map(() => WsClient.connect(server.ws, { token: a })));
      const perUser = await attemptUpgrade(server, { token: a });
      expect(perUser.status).toBe(429);
      expect(perUser.body.error.code).toBe("limit_exceeded");
      const other = await WsClient.connect(server.ws, { token: await token("ben") });
      const full = await attemptUpgrade(server, { token: await token("cat") });
      expect(full.status).toBe(503);
      expect(full.body.error.code).toBe("limit_exceeded");
      expect((await mine[0]!.request({ type: "ping" })).type).toBe("pong");
      await Promise.all([...mine, other].map((c) => c.close()));
    } finally {
      await server.stop();
    }
  });

  test("MAX_SESSIONS_PER_CONNECTION refuses the next join with limit_exceeded", async () => {
    const server = await startServer({ env: { MAX_SESSIONS_PER_CONNECTION: "2" } });
    try {
      const c = await WsClient.connect(server.ws, { token: await token("max") });
      await c.request({ type: "join", session: "j1" });
      await c.request({ type: "join", session: "j2" });
      expect((await c.request({ type: "join", session: "j3" })).code).toBe("limit_exceeded");
      expect((await c.request({ type: "join", session: "j1" })).type).toBe("joined");
      await c.request({ type: "leave", session: "j1" });
      expect((await c.request({ type: "join", session: "j3" })).type).toBe("joined");
      await c.close();
    } finally {
      await server.stop();
    }
  });

  test("ALLOWED_ORIGINS: another Origin gets 403; the allowed one and no Origin connect", async () => {
    const server = await startServer({ env: { ALLOWED_ORIGINS: "https://app.example.com,http://localhost:5173" } });
    try {
      const t = await token("ola");
      const bad = await attemptUpgrade(server, { token: t, headers: { Origin: "https://evil.example.com" } });
      expect(bad.status).toBe(403);
      expect(bad.body.error.code).toBe("forbidden");
      const good = await WsClient.connect(server.ws, { token: t, headers: { Origin: "https://app.example.com" } });
      const none = await WsClient.connect(server.ws, { token: t });
      await Promise.all([good.close(), none.close()]);
    } finally {
      await server.stop();
    }
  });
});
