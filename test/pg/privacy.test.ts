// Erasure, export, the audit trail and retention on a real PostgreSQL server, with several stores standing for
// several nodes sharing one database: rows gone in one transaction, ids remembered as erased, one audit chain.
import { beforeAll, describe, expect, test } from "bun:test";
import type { AuditRecord } from "../../src/privacy/audit-chain.ts";
import { DAY_MS } from "../../src/privacy/erasure.ts";
import type { SessionErasure } from "../../src/privacy/store.ts";
import { PgAuditStore } from "../../src/pg/audit-store.ts";
import { PgPrivacyStore } from "../../src/pg/privacy-store.ts";
import type { PgSessionStore } from "../../src/pg/session-store.ts";
import { newSessionRecord, type AppendInput } from "../../src/sessions/store.ts";
import { freshDatabase, node, pool, server } from "./setup.ts";

// The server starts once for the file, before the first test's clock runs.
beforeAll(async () => void (await server()), 60_000);

const T0 = 1_700_000_000_000;
let n = 0;
const say = (store: PgSessionStore, sessionId: string, userId: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const a: AppendInput = { id: `m-${++n}`, sessionId, userId, role: "user", kind: "text", content: `words ${n}`, createdAt: T0 + n };
    store.append(a, (error) => (error ? reject(error) : resolve()));
  });
const countOf = async (url: string, sql: string, ...params: unknown[]): Promise<number> =>
  Number((await pool(url, 1).unsafe(sql, params))[0].n);
const erasing = (action: "session.erase" | "retention.erase") => (e: SessionErasure): AuditRecord => ({
  at: T0,
  actorId: "admin",
  actorRole: "admin",
  action,
  objectType: "session",
  objectId: e.sessionId,
  address: "local",
  detail: { messages: e.messages, analyses: e.analyses, alerts: e.alerts },
});

async function world() {
  const url = await freshDatabase();
  const sessions = node(url);
  const privacy = new PgPrivacyStore(pool(url));
  const audit = new PgAuditStore(pool(url));
  return { url, sessions, privacy, audit };
}

describe("erasing a session", () => {
  test("deletes its rows, records the id as erased and the audit entry in the same commit; a second erasure finds nothing", async () => {
    const { url, sessions, privacy, audit } = await world();
    await sessions.insertSession(newSessionRecord({ id: "s1", ownerId: "alice", at: T0 }));
    await sessions.addParticipant("s1", "bob", T0);
    for (let i = 0; i < 3; i++) await say(sessions, "s1", i % 2 ? "bob" : "alice");

    const erased = await privacy.eraseSession("s1", T0 + 1, erasing("session.erase"));
    expect(erased).toMatchObject({ sessionId: "s1", ownerId: "alice", messages: 3 });
    expect(await countOf(url, "SELECT count(*) AS n FROM sessions WHERE id = $1", "s1")).toBe(0);
    expect(await countOf(url, "SELECT count(*) AS n FROM messages WHERE session_id = $1", "s1")).toBe(0);
    expect(await countOf(url, "SELECT count(*) AS n FROM session_participants WHERE session_id = $1", "s1")).toBe(0);
    expect(await privacy.wasErased("s1")).toBe(true);
    expect(await privacy.wasErased("s2")).toBe(false);
    expect((await privacy.erasedSince(0)).map((e) => e.id)).toEqual(["s1"]);

    expect(await privacy.eraseSession("s1", T0 + 2, erasing("session.erase"))).toBeNull();
    // No node can open the id again: the database skips the row, and the store answers conflict.
    const another = node(url);
    await expect(another.insertSession(newSessionRecord({ id: "s1", ownerId: "mallory", at: T0 + 3 }))).rejects.toMatchObject({ code: "conflict" });
    expect(await countOf(url, "SELECT count(*) AS n FROM sessions WHERE id = $1", "s1")).toBe(0);
    await another.close();
    const entries = await audit.list({ objectType: "session", objectId: "s1" });
    expect(entries.map((e) => e.action)).toEqual(["session.erase"]);
    expect(await audit.mentions("session", "s1", ["session.erase"])).toBe(true);
    expect(await audit.verify()).toEqual({ ok: true, entries: 1 });
    await sessions.close();
  });
});

describe("erasing a user", () => {
  test("their own sessions go; in others' their messages become tombstones of the same seq and they leave members", async () => {
    const { url, sessions, privacy, audit } = await world();
    await sessions.insertSession(newSessionRecord({ id: "mine", ownerId: "alice", at: T0 }));
    await sessions.insertSession(newSessionRecord({ id: "bobs", ownerId: "bob", at: T0 + 1, members: ["alice", "carol"] }));
    await sessions.addParticipant("bobs", "alice", T0);
    await say(sessions, "mine", "alice");
    await say(sessions, "bobs", "bob");
    await say(sessions, "bobs", "alice");
    await say(sessions, "bobs", "bob");

    const { owned, tookPartIn } = await privacy.sessionsOf("alice");
    expect({ owned, tookPartIn }).toEqual({ owned: ["mine"], tookPartIn: ["bobs"] });
    for (const id of owned) await privacy.eraseSession(id, T0 + 5, erasing("session.erase"));
    const traces = await privacy.eraseUserTraces("alice", tookPartIn, T0 + 5, (t) => [
      { at: T0 + 5, actorId: "admin", actorRole: "admin", action: "user.erase", objectType: "user", objectId: "alice", address: "local", detail: { messagesTombstoned: t.messagesTombstoned } },
    ]);
    expect(traces).toMatchObject({ sessions: ["bobs"], messagesTombstoned: 1, participantRows: 1 });

    const history = await sessions.messagesAfter("bobs", 0, 10);
    expect(history.map((m) => [m.seq, m.userId, m.content])).toEqual([
      [1, "bob", expect.stringContaining("words")],
      [2, "alice", ""],
      [3, "bob", expect.stringContaining("words")],
    ]);
    expect(history[1]!.metadata).toEqual({ erased: true });
    expect((await sessions.getSession("bobs"))!.members).toEqual(["carol"]);
    expect(await countOf(url, "SELECT count(*) AS n FROM session_participants WHERE user_id = $1", "alice")).toBe(0);
    expect(await privacy.wasErased("mine")).toBe(true);

    // Idempotent: nothing is left to change.
    const again = await privacy.eraseUserTraces("alice", ["bobs"], T0 + 6);
    expect(again).toMatchObject({ sessions: [], messagesTombstoned: 0, participantRows: 0 });
    expect((await audit.list()).map((e) => e.action)).toEqual(["session.erase", "user.erase"]);
    expect(await audit.verify()).toEqual({ ok: true, entries: 2 });
    await sessions.close();
  });
});

describe("export", () => {
  test("reads a user's sessions and, in the sessions of others, only their own messages", async () => {
    const { sessions, privacy } = await world();
    await sessions.insertSession(newSessionRecord({ id: "own", ownerId: "dana", at: T0 }));
    await sessions.insertSession(newSessionRecord({ id: "other", ownerId: "eve", at: T0 + 1 }));
    await sessions.addParticipant("other", "dana", T0);
    await say(sessions, "own", "dana");
    await say(sessions, "other", "eve");
    await say(sessions, "other", "dana");
    expect(await privacy.sessionsOf("dana")).toEqual({ owned: ["own"], tookPartIn: ["other"] });
    const mine = await privacy.userMessages("other", "dana", 0, 100);
    expect(mine.map((m) => [m.seq, m.userId])).toEqual([[2, "dana"]]);
    await sessions.close();
  });
});

describe("the audit trail", () => {
  test("two nodes appending at the same time keep one chain that verifies", async () => {
    const { url, audit } = await world();
    const other = new PgAuditStore(pool(url));
    const rec = (i: number, who: string): AuditRecord => ({
      at: T0 + i, actorId: who, actorRole: "admin", action: "session.read", objectType: "session", objectId: `s${i}`, address: "local", detail: { via: "ws" },
    });
    await Promise.all([
      ...Array.from({ length: 40 }, (_, i) => audit.append([rec(i, "a"), rec(i, "a")])),
      ...Array.from({ length: 40 }, (_, i) => other.append([rec(i, "b")])),
    ]);
    const all = await audit.list({ limit: 1000 });
    expect(all.map((e) => e.id)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    expect(await other.verify()).toEqual({ ok: true, entries: 120 });
  });

  test("is append-only, and an edit is caught where it happened", async () => {
    const { url, audit } = await world();
    await audit.append([{ at: T0, actorId: "a", actorRole: "admin", action: "admin.reset", objectType: "database", objectId: "db", address: "local", detail: null }]);
    const sql = pool(url, 1);
    await expect(sql.unsafe("UPDATE audit_log SET actor_id = 'x'")).rejects.toThrow(/append-only/);
    await expect(sql.unsafe("DELETE FROM audit_log")).rejects.toThrow(/append-only/);
    // Even with the trigger out of the way, the chain shows the edit.
    await sql.unsafe("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update");
    await sql.unsafe("UPDATE audit_log SET actor_id = 'x'");
    expect(await audit.verify()).toMatchObject({ ok: false, break: { id: 1 } });
  });
});

describe("retention", () => {
  test("an expired ended session is erased once when two nodes run retention at the same time", async () => {
    const { url, sessions, audit } = await world();
    const nodes = [new PgPrivacyStore(pool(url)), new PgPrivacyStore(pool(url))];
    await sessions.insertSession(newSessionRecord({ id: "old", ownerId: "fay", at: T0 }));
    await sessions.insertSession(newSessionRecord({ id: "kept", ownerId: "fay", at: T0, retentionDays: 365 }));
    await sessions.insertSession(newSessionRecord({ id: "live", ownerId: "fay", at: T0 }));
    await say(sessions, "old", "fay");
    await sessions.endSession("old", "completed", T0 + 1);
    await sessions.endSession("kept", "completed", T0 + 1);
    const now = T0 + 31 * DAY_MS;

    const runs = await Promise.all(
      nodes.map(async (p) => {
        const due = await p.retentionDue(now, 30, 200);
        const erased = [];
        for (const id of due) if (await p.eraseSession(id, now, erasing("retention.erase"))) erased.push(id);
        return { due, erased };
      }),
    );
    expect(runs.map((r) => r.due)).toEqual([["old"], ["old"]]);
    expect(runs.flatMap((r) => r.erased)).toEqual(["old"]);
    expect((await audit.list({ action: "retention.erase" })).map((e) => e.objectId)).toEqual(["old"]);
    expect(await countOf(url, "SELECT count(*) AS n FROM sessions")).toBe(2);
    expect(await audit.verify()).toEqual({ ok: true, entries: 1 });
    await sessions.close();
  });
});
