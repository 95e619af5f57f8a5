// Erasure and export against a real server process and its real files: a session erased, a user erased (tombstones
// in other people's sessions), the bytes gone from the database file and its WAL, and a user's export as JSON lines.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openDatabase } from "../../src/db/open.ts";
import { api, startServer, tempDir, token, WsClient, type ServerProcess } from "../helpers.ts";
import { onDisk } from "./disk.ts";

const unique = (label: string) => `${label}-${crypto.randomUUID().slice(0, 8)}`;

let server: ServerProcess;
let admin: string;
beforeAll(async () => {
  server = await startServer({ env: { RATE_LIMIT_MESSAGES_PER_MINUTE: "100000" } });
  admin = await token("root", { admin: true });
});
afterAll(async () => {
  await server.stop();
});

describe("DELETE /api/admin/sessions/:id", () => {
  test("the session is gone with its messages; subscribers hear session.status erased and are unsubscribed; later reads are not_found; no byte of it remains", async () => {
    const marker = unique("SESSION-ERASE-MARKER");
    const alice = await WsClient.connect(server.ws, { token: await token("alice") });
    const bob = await WsClient.connect(server.ws, { token: await token("bob") });
    await alice.request({ type: "join", session: "erase-me" });
    await alice.request({ type: "configure", session: "erase-me", members: ["bob"], config: { note: `${marker}-config` } });
    await bob.request({ type: "join", session: "erase-me" });
    for (let i = 0; i < 30; i++) await alice.request({ type: "message", session: "erase-me", content: `${marker} ${i}`, metadata: { m: `${marker}-meta` } });
    await bob.waitForCount((f) => f.type === "message", 30);
    // The test can fail: the marker is on disk before the erasure.
    expect(onDisk(server.dataDir, marker)).toBe(true);

    const erased = await api(server.http, "DELETE", "/api/admin/sessions/erase-me", { token: admin });
    expect(erased.status).toBe(200);
    expect(erased.body).toMatchObject({ session: "erase-me", erased: true, messages: 30 });
    for (const c of [alice, bob]) {
      const status = await c.waitFor((f) => f.type === "session.status" && f.session === "erase-me");
      expect(status).toEqual({ type: "session.status", session: "erase-me", status: "erased" });
    }
    const conns = await api(server.http, "GET", "/api/admin/sessions/erase-me/connections", { token: admin });
    expect(conns.body.connections).toEqual([]);
    expect((await api(server.http, "GET", "/api/admin/stats", { token: admin })).body.subscriptions).toBe(0);

    // Gone for every reader and every way in, the owner's join included (it would otherwise open a new one).
    expect((await api(server.http, "GET", "/api/sessions/erase-me", { token: await token("alice") })).status).toBe(404);
    expect((await api(server.http, "GET", "/api/sessions/erase-me/messages", { token: admin })).status).toBe(404);
    expect(await alice.request({ type: "join", session: "erase-me" })).toMatchObject({ type: "error", code: "not_found" });
    expect(await bob.request({ type: "message", session: "erase-me", content: "late" })).toMatchObject({ type: "error", code: "not_found" });
    expect((await api(server.http, "DELETE", "/api/admin/sessions/erase-me", { token: admin })).status).toBe(404);

    // secure_delete zeroed the freed space and the truncating checkpoint emptied the WAL.
    expect(onDisk(server.dataDir, marker)).toBe(false);
    await alice.close();
    await bob.close();
  });

  test("only admins may erase, export or read the audit trail", async () => {
    const t = await token("nobody");
    for (const [method, path] of [
      ["DELETE", "/api/admin/sessions/x"],
      ["DELETE", "/api/admin/users/x"],
      ["GET", "/api/admin/users/x/export"],
      ["GET", "/api/admin/audit"],
    ] as const) {
      expect({ path, status: (await api(server.http, method, path, { token: t })).status }).toEqual({ path, status: 403 });
    }
  });
});

describe("DELETE /api/admin/users/:userId", () => {
  test("their own sessions are erased; elsewhere their messages become tombstones of the same seq; participant rows and presence go; idempotent", async () => {
    const marker = unique("USER-ERASE-MARKER");
    const dora = await WsClient.connect(server.ws, { token: await token("dora") });
    const eli = await WsClient.connect(server.ws, { token: await token("eli") });
    // dora owns one session (eli writes in it) and writes in eli's.
    await dora.request({ type: "join", session: "dora-own" });
    await dora.request({ type: "configure", session: "dora-own", members: ["eli"] });
    await eli.request({ type: "join", session: "dora-own" });
    await eli.request({ type: "message", session: "dora-own", content: "eli in dora's" });
    await eli.request({ type: "join", session: "eli-own" });
    await eli.request({ type: "configure", session: "eli-own", members: ["dora"] });
    await dora.request({ type: "join", session: "eli-own" });
    await eli.request({ type: "message", session: "eli-own", content: "eli first" });
    await dora.request({ type: "message", session: "eli-own", content: `${marker} one`, metadata: { mood: `${marker}-meta` } });
    await eli.request({ type: "message", session: "eli-own", content: "eli third" });
    await dora.request({ type: "message", session: "eli-own", content: `${marker} two` });
    await eli.waitForCount((f) => f.type === "message" && f.session === "eli-own", 4);
    expect(onDisk(server.dataDir, marker)).toBe(true);

    const r = await api(server.http, "DELETE", "/api/admin/users/dora", { token: admin });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ userId: "dora", sessionsErased: 1, messagesErased: 1, messagesTombstoned: 2, participantRows: 1, connectionsClosed: 1 });
    // Her connection is closed with a code that tells the SDK not to reconnect; eli hears she left.
    expect((await dora.closed).code).toBe(4501);
    await eli.waitFor((f) => f.type === "presence" && f.session === "eli-own" && f.userId === "dora" && f.event === "leave");
    await eli.waitFor((f) => f.type === "session.status" && f.session === "dora-own" && f.status === "erased");

    const t = await token("eli");
    expect((await api(server.http, "GET", "/api/sessions/dora-own", { token: t })).status).toBe(404);
    const page = await api(server.http, "GET", "/api/sessions/eli-own/messages", { token: t });
    expect(page.body.messages.map((m: any) => [m.seq, m.userId, m.content, m.metadata ?? null])).toEqual([
      [1, "eli", "eli first", null],
      [2, "dora", "", { erased: true }],
      [3, "eli", "eli third", null],
      [4, "dora", "", { erased: true }],
    ]);
    const info = await api(server.http, "GET", "/api/sessions/eli-own", { token: t });
    expect(info.body.members).toEqual([]);
    expect(info.body.metrics.participantCount).toBe(1);
    // A fresh join (from the window, reloaded) shows the tombstones too.
    const later = await WsClient.connect(server.ws, { token: t });
    const joined = await later.request({ type: "join", session: "eli-own" });
    expect(joined.messages.map((m: any) => m.content)).toEqual(["eli first", "", "eli third", ""]);
    expect(joined.participants).not.toContain("dora");
    expect(onDisk(server.dataDir, marker)).toBe(false);

    const again = await api(server.http, "DELETE", "/api/admin/users/dora", { token: admin });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ sessionsErased: 0, messagesErased: 0, messagesTombstoned: 0, participantRows: 0, analyses: 0, alerts: 0 });
    await later.close();
    await eli.close();
  });
});

describe("GET /api/admin/users/:userId/export", () => {
  test("one JSON line per session owned or taken part in: every message of their own, only theirs elsewhere", async () => {
    const fay = await WsClient.connect(server.ws, { token: await token("fay") });
    const gus = await WsClient.connect(server.ws, { token: await token("gus") });
    await fay.request({ type: "join", session: "fay-own" });
    await fay.request({ type: "configure", session: "fay-own", members: ["gus"] });
    await gus.request({ type: "join", session: "fay-own" });
    await fay.request({ type: "message", session: "fay-own", content: "fay 1" });
    await gus.request({ type: "message", session: "fay-own", content: "gus in fay's" });
    await gus.request({ type: "join", session: "gus-own" });
    await gus.request({ type: "configure", session: "gus-own", access: "open" });
    await fay.request({ type: "join", session: "gus-own" });
    await gus.request({ type: "message", session: "gus-own", content: "gus 1" });
    await fay.request({ type: "message", session: "gus-own", content: "fay in gus's" });
    await gus.request({ type: "join", session: "gus-alone" });
    await gus.request({ type: "message", session: "gus-alone", content: "not fay's" });

    const res = await fetch(`${server.http}/api/admin/users/fay/export`, { headers: { Authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("application/x-ndjson");
    const text = await res.text();
    expect(text.endsWith("\n")).toBe(true);
    const lines = text.trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.session.id)).toEqual(["fay-own", "gus-own"]);
    expect(lines[0].session).toMatchObject({ id: "fay-own", ownerId: "fay", status: "active" });
    expect(lines[0].messages.map((m: any) => m.content)).toEqual(["fay 1", "gus in fay's"]);
    expect(lines[1].messages.map((m: any) => [m.seq, m.content])).toEqual([[2, "fay in gus's"]]);
    // Nothing for a user with no data.
    const none = await fetch(`${server.http}/api/admin/users/nobody-at-all/export`, { headers: { Authorization: `Bearer ${admin}` } });
    expect(await none.text()).toBe("");
    await fay.close();
    await gus.close();
  });
});

describe("secure delete", () => {
  test("every connection that writes has secure_delete on, so deleted rows are overwritten with zeros", () => {
    const db = openDatabase(join(tempDir(), "x.db"));
    expect(db.query<{ secure_delete: number }, []>("PRAGMA secure_delete").get()!.secure_delete).toBe(1);
    db.close();
  });
});

describe("retention", () => {
  test("a session's own retentionDays (create, PATCH, configure) wins over RETENTION_DAYS; the maintenance job erases through the same path", async () => {
    const s = await startServer({ env: { RETENTION_DAYS: "30", SESSION_SWEEP_INTERVAL_SECONDS: "1" } });
    try {
      const t = await token("rita");
      const root = await token("root", { admin: true });
      const create = async (body: Record<string, unknown>) => (await api(s.http, "POST", "/api/sessions", { token: t, body })).body;
      const short = await create({ room: "r-short", retentionDays: 2 });
      expect(short.retentionDays).toBe(2);
      const long = await create({ room: "r-long" });
      expect(long.retentionDays).toBeNull();
      expect((await api(s.http, "PATCH", `/api/sessions/${long.id}`, { token: t, body: { retentionDays: 90 } })).body.retentionDays).toBe(90);
      const plain = await create({ room: "r-default" });
      const active = await create({ room: "r-active", retentionDays: 1 });
      expect((await api(s.http, "POST", "/api/sessions", { token: t, body: { retentionDays: 0 } })).status).toBe(400);
      const ws = await WsClient.connect(s.ws, { token: t });
      const configured = await ws.request({ type: "configure", session: plain.id, retentionDays: 5 });
      expect(configured.session.retentionDays).toBe(5);
      expect((await ws.request({ type: "configure", session: plain.id, retentionDays: null })).session.retentionDays).toBeNull();
      for (const x of [short, long, plain]) {
        await api(s.http, "POST", `/api/sessions/${x.id}/messages`, { token: t, body: { content: `kept until retention ${x.id}` } });
        expect((await api(s.http, "POST", `/api/sessions/${x.id}/end`, { token: t })).status).toBe(200);
      }
      // Move the end times back in the real file: 3 days (own 2 → due), 40 days (own 90 → kept), 31 days (server 30 → due).
      const { Database } = await import("bun:sqlite");
      const db = new Database(join(s.dataDir, "sessiond.db"));
      db.run("PRAGMA busy_timeout = 2000");
      const day = 86_400_000;
      const back = (id: string, days: number) => db.query("UPDATE sessions SET ended_at = ? WHERE id = ?").run(Date.now() - days * day, id);
      back(short.id, 3);
      back(long.id, 40);
      back(plain.id, 31);
      db.query("UPDATE sessions SET last_activity_at = ? WHERE id = ?").run(Date.now() - 400 * day, active.id);
      db.close();
      const status = async (id: string) => (await api(s.http, "GET", `/api/sessions/${id}`, { token: root })).status;
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && ((await status(short.id)) !== 404 || (await status(plain.id)) !== 404)) await Bun.sleep(100);
      expect(await status(short.id)).toBe(404);
      expect(await status(plain.id)).toBe(404);
      expect(await status(long.id)).toBe(200);
      const audit = await api(s.http, "GET", "/api/admin/audit?action=retention.erase", { token: root });
      expect(audit.body.entries.map((e: any) => e.objectId).sort()).toEqual([short.id, plain.id].sort());
      expect(audit.body.entries[0]).toMatchObject({ actorId: "sessiond", actorRole: "system", detail: { messages: 1 } });
      const runs = s.logs.filter((l) => l.includes('"maintenance.run"')).map((l) => JSON.parse(l).erasedSessions as number);
      expect(runs.reduce((a, b) => a + b, 0)).toBe(2);
      expect(onDisk(s.dataDir, `kept until retention ${short.id}`)).toBe(false);
      await ws.close();
    } finally {
      await s.stop();
    }
  }, 90_000);
});
