import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { api, eventually, startServer, token, WsClient } from "../helpers.ts";

describe("expiry", () => {
  test("after SESSION_EXPIRY_SECONDS idle: subscribers get session.status expired, the row is archived, writes get session_ended, the room opens a fresh session", async () => {
    const server = await startServer({ env: { SESSION_EXPIRY_SECONDS: "1", SESSION_SWEEP_INTERVAL_SECONDS: "1" } });
    try {
      const c = await WsClient.connect(server.ws, { token: await token("erin") });
      const joined = await c.request({ type: "join", room: "standup" });
      const first = joined.session.id;
      expect(joined.session.room).toBe("standup");
      await c.request({ type: "message", session: first, content: "hi" });
      const status = await c.waitFor((f) => f.type === "session.status", 5000);
      expect(status).toEqual({ type: "session.status", session: first, status: "expired" });
      const refused = await c.request({ type: "message", session: first, content: "late" });
      expect(refused).toMatchObject({ type: "error", code: "session_ended" });
      const db = new Database(join(server.dataDir, "sessiond.db"), { readonly: true });
      const row = db.query("SELECT status, ended_at, message_count, duration_ms FROM sessions WHERE id = ?").get(first) as any;
      db.close();
      expect(row.status).toBe("expired");
      expect(row.ended_at).toBeGreaterThan(0);
      expect(row.message_count).toBe(1);
      expect(row.duration_ms).toBeGreaterThanOrEqual(1000);
      const history = await c.request({ type: "join", session: first });
      expect(history.session.status).toBe("expired");
      expect(history.messages.map((m: any) => m.content)).toEqual(["hi"]);
      const fresh = await c.request({ type: "join", room: "standup" });
      expect(fresh.session.id).not.toBe(first);
      expect(fresh.session.status).toBe("active");
      await c.close();
    } finally {
      await server.stop();
    }
  });

  test("a ping naming a joined session keeps it alive; open connections alone do not", async () => {
    const server = await startServer({ env: { SESSION_EXPIRY_SECONDS: "2", SESSION_SWEEP_INTERVAL_SECONDS: "1" } });
    try {
      const c = await WsClient.connect(server.ws, { token: await token("kim") });
      await c.request({ type: "join", session: "kept" });
      await c.request({ type: "join", session: "idle" });
      for (let i = 0; i < 8; i++) {
        await c.request({ type: "ping", session: "kept" });
        await Bun.sleep(500);
      }
      const statuses = c.frames.filter((f) => f.type === "session.status");
      expect(statuses).toEqual([{ type: "session.status", session: "idle", status: "expired" }]);
      await c.close();
    } finally {
      await server.stop();
    }
  });

  test("expiry survives a restart: it is computed from the stored last-activity time", async () => {
    const first = await startServer({ env: { SESSION_EXPIRY_SECONDS: "2" } });
    const c = await WsClient.connect(first.ws, { token: await token("ivy") });
    await c.request({ type: "join", session: "across" });
    await c.close();
    expect(await first.stop()).toBe(0);
    await Bun.sleep(2100);
    const second = await startServer({ dataDir: first.dataDir, env: { SESSION_EXPIRY_SECONDS: "2", SESSION_SWEEP_INTERVAL_SECONDS: "1" } });
    try {
      const t = await token("ivy");
      await eventually(async () => (await api(second.http, "GET", "/api/sessions/across", { token: t })).body.status === "expired", 5000, "expiry after restart");
    } finally {
      await second.stop();
    }
  });
});

describe("cache eviction", () => {
  test("with SESSION_CACHE_MAX_SESSIONS=2 and 5 busy sessions no message is lost and history stays complete", async () => {
    const server = await startServer({ env: { SESSION_CACHE_MAX_SESSIONS: "2", RATE_LIMIT_MESSAGES_PER_MINUTE: "100000" } });
    try {
      const c = await WsClient.connect(server.ws, { token: await token("eve") });
      const ids = ["e1", "e2", "e3", "e4", "e5"];
      for (const id of ids) await c.request({ type: "join", session: id });
      await Promise.all(Array.from({ length: 500 }, (_, i) => c.request({ type: "message", session: ids[i % 5]!, content: `x${i}` })));
      for (const id of ids) {
        const live = c.messages(id).map((m) => m.seq);
        expect(live).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
        const recovered = await c.request({ type: "join", session: id, since: 0 });
        expect(recovered.messages.map((m: any) => m.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      }
      const stats = await api(server.http, "GET", "/api/admin/stats", { token: await token("root", { admin: true }) });
      expect(stats.body.cache.size).toBeLessThanOrEqual(2);
      expect(stats.body.cache.evictions).toBeGreaterThan(0);
      await c.close();
    } finally {
      await server.stop();
    }
  });
});

describe("restarts", () => {
  test("kill -9 right after N acks: after restart all N are there and a client recovers them with since", async () => {
    const server = await startServer({ env: { RATE_LIMIT_MESSAGES_PER_MINUTE: "100000" } });
    const t = await token("kai");
    const c = await WsClient.connect(server.ws, { token: t });
    await c.request({ type: "join", session: "durable" });
    const acks = await Promise.all(Array.from({ length: 300 }, (_, i) => c.request({ type: "message", session: "durable", content: `d${i}` })));
    server.proc.kill("SIGKILL");
    await server.exited;
    const again = await startServer({ dataDir: server.dataDir });
    try {
      const back = await WsClient.connect(again.ws, { token: t });
      const rejoined = await back.request({ type: "join", session: "durable", since: 0 });
      expect(rejoined.messages.map((m: any) => m.seq)).toEqual(acks.map((a) => a.seq).sort((a, b) => a - b));
      expect(rejoined.messages.map((m: any) => m.id).sort()).toEqual(acks.map((a) => a.messageId).sort());
      expect(rejoined.session.status).toBe("active");
      await back.close();
    } finally {
      await again.stop();
    }
  });

  test("SIGTERM closes sockets with 1001, keeps sessions active and exits 0; with ARCHIVE_ON_SHUTDOWN they end as completed first", async () => {
    const plain = await startServer();
    const a = await WsClient.connect(plain.ws, { token: await token("gus") });
    await a.request({ type: "join", session: "keep-me" });
    const [code, closed] = await Promise.all([plain.stop("SIGTERM"), a.closed]);
    expect(code).toBe(0);
    expect(closed.code).toBe(1001);
    expect(a.frames.some((f) => f.type === "session.status")).toBe(false);
    expect(plain.logs.some((l) => l.includes('"server.stopped"'))).toBe(true);

    const archiving = await startServer({ dataDir: plain.dataDir, env: { ARCHIVE_ON_SHUTDOWN: "true" } });
    const b = await WsClient.connect(archiving.ws, { token: await token("gus") });
    const rejoined = await b.request({ type: "join", session: "keep-me" });
    expect(rejoined.session.status).toBe("active");
    const [code2, closed2] = await Promise.all([archiving.stop("SIGTERM"), b.closed]);
    expect(code2).toBe(0);
    expect(closed2.code).toBe(1001);
    expect(b.frames.find((f) => f.type === "session.status")).toEqual({ type: "session.status", session: "keep-me", status: "completed" });
  });
});

describe("cleanup", () => {
  test("after 200 rapid connect/join/disconnect cycles (some abrupt) connection, subscription and presence counts return to 0", async () => {
    const server = await startServer({ env: { RATE_LIMIT_CONNECTIONS_PER_MINUTE: "100000", MAX_CONNECTIONS_PER_USER: "1000" } });
    try {
      const t = await token("cy");
      for (let round = 0; round < 20; round++) {
        await Promise.all(
          Array.from({ length: 10 }, async (_, i) => {
            const c = await WsClient.connect(server.ws, { token: t });
            c.send({ type: "join", session: `cyc-${i}` });
            if (i % 3 === 0) {
              // Abrupt: the TCP connection drops with no close handshake.
              (c.socket as unknown as { terminate(): void }).terminate();
            } else if (i % 3 === 1) {
              c.socket.close();
            } else {
              await c.waitFor((f) => f.type === "joined");
              await c.close();
            }
          }),
        );
      }
      const admin = await token("root", { admin: true });
      await eventually(async () => {
        const s = (await api(server.http, "GET", "/api/admin/stats", { token: admin })).body;
        return s.connections === 0 && s.subscriptions === 0 && s.presence === 0;
      }, 10_000, "counts to return to zero");
    } finally {
      await server.stop();
    }
  });
});
