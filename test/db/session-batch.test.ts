// Session inserts and participants share the group commit with appends (a connect storm is batched like messages):
// a queued session is readable at once, everything queued after it commits with it or later, never before it.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { migrate, openDatabase, SqliteSessionStore } from "../../src/db/index.ts";
import type { CommitHooks } from "../../src/db/commit-hooks.ts";
import type { SessiondError } from "../../src/protocol/errors.ts";
import { newSessionRecord, type AppendResult } from "../../src/sessions/store.ts";
import { ROOT, tempDir } from "../helpers.ts";

function freshStore(hooks: CommitHooks = {}) {
  const sqlite = openDatabase(join(tempDir(), "b.db"));
  migrate(sqlite);
  const batches: number[] = [];
  const store = new SqliteSessionStore(sqlite, { hooks, onCommit: (size) => batches.push(size) });
  return { sqlite, store, batches };
}

const append = (store: SqliteSessionStore, sessionId: string, content: string, userId = "u") =>
  new Promise<AppendResult>((resolve, reject) =>
    store.append({ id: crypto.randomUUID(), sessionId, userId, role: "user", kind: "text", content, createdAt: Date.now() }, (e, r) => (e ? reject(e) : resolve(r!))),
  );
const queueSession = (store: SqliteSessionStore, record: ReturnType<typeof newSessionRecord>) =>
  new Promise<void>((resolve, reject) => store.queueSession(record, (e) => (e ? reject(e) : resolve())));
const queueParticipant = (store: SqliteSessionStore, sessionId: string, userId: string) =>
  new Promise<boolean>((resolve, reject) => store.queueParticipant(sessionId, userId, Date.now(), (e, added) => (e ? reject(e) : resolve(added))));

describe("sessions through the group commit", () => {
  test("a queued session is readable at once, and appends queued behind it commit in the same transaction", async () => {
    const { sqlite, store, batches } = freshStore();
    const record = newSessionRecord({ id: "fresh", ownerId: "alice", at: Date.now(), room: "lobby" });
    const stored = queueSession(store, record);
    expect(store.getSession("fresh")).toBe(record);
    expect(store.findActiveSessionByRoom("lobby")).toBe(record);
    expect(sqlite.query("SELECT count(*) AS n FROM sessions").get()).toEqual({ n: 0 });
    const joined = [queueParticipant(store, "fresh", "alice"), queueParticipant(store, "fresh", "bob"), queueParticipant(store, "fresh", "alice")];
    const sent = [append(store, "fresh", "one", "alice"), append(store, "fresh", "two", "bob")];
    await stored;
    expect(await Promise.all(joined)).toEqual([true, true, false]);
    expect((await Promise.all(sent)).map((r) => r.message.seq)).toEqual([1, 2]);
    // One transaction (onCommit counts its messages).
    expect(batches).toEqual([2]);
    expect(sqlite.query("SELECT last_seq, message_count, participant_count, room FROM sessions WHERE id = 'fresh'").get()).toEqual({
      last_seq: 2,
      message_count: 2,
      participant_count: 2,
      room: "lobby",
    });
    // Committed: read from the row again, not from the queued record.
    expect(store.getSession("fresh")).not.toBe(record);
    expect(store.getSession("fresh")).toMatchObject({ id: "fresh", lastSeq: 2, messageCount: 2, participantCount: 2 });
  });

  test("a storm of 2,000 new sessions, each with its participant and first message, shares a handful of transactions", async () => {
    const { sqlite, store, batches } = freshStore();
    const all: Array<Promise<unknown>> = [];
    for (let i = 0; i < 2000; i++) {
      all.push(
        queueSession(store, newSessionRecord({ id: `s${i}`, ownerId: `u${i}`, at: Date.now() })),
        queueParticipant(store, `s${i}`, `u${i}`),
        append(store, `s${i}`, "hello", `u${i}`),
      );
    }
    await Promise.all(all);
    // 6,000 items in batches of at most 1,024 (GROUP_COMMIT_MAX_BATCH): six transactions, each with messages in it.
    expect(batches.reduce((a, b) => a + b, 0)).toBe(2000);
    expect(batches.length).toBeLessThanOrEqual(6);
    expect(sqlite.query("SELECT count(*) AS n, sum(participant_count) AS p, sum(last_seq) AS m FROM sessions").get()).toEqual({ n: 2000, p: 2000, m: 2000 });
  });

  test("a second session under a queued id or room is a conflict, queued or not", () => {
    const { store } = freshStore();
    store.queueSession(newSessionRecord({ id: "x", ownerId: "a", at: Date.now(), room: "r" }), () => {});
    expect(() => store.queueSession(newSessionRecord({ id: "x", ownerId: "b", at: Date.now() }), () => {})).toThrow(expect.objectContaining({ code: "conflict" }));
    expect(() => store.insertSession(newSessionRecord({ id: "y", ownerId: "b", at: Date.now(), room: "r" }))).toThrow(expect.objectContaining({ code: "conflict" }));
    store.flush();
  });

  test("a conflict found in the transaction fails that insert alone; the rest of the batch commits", async () => {
    const { sqlite, store } = freshStore();
    store.insertSession(newSessionRecord({ id: "taken", ownerId: "a", at: Date.now() }));
    // Not queued, so the store cannot see it coming: the unique key refuses it inside the batch.
    const dup = queueSession(store, { ...newSessionRecord({ id: "taken2", ownerId: "b", at: Date.now() }), id: "taken" });
    const other = queueSession(store, newSessionRecord({ id: "other", ownerId: "b", at: Date.now() }));
    await expect(dup).rejects.toMatchObject({ code: "conflict" });
    await other;
    expect(sqlite.query("SELECT id, owner_id FROM sessions ORDER BY id").all()).toEqual([
      { id: "other", owner_id: "b" },
      { id: "taken", owner_id: "a" },
    ]);
  });

  test("changes to a queued session are written with its row", async () => {
    const { store } = freshStore();
    const record = newSessionRecord({ id: "cfg", ownerId: "a", at: 1000 });
    const stored = queueSession(store, record);
    store.updateSession("cfg", { config: { topic: "intake" }, access: "open" });
    store.saveActivity([{ id: "cfg", lastActivityAt: 5000 }]);
    await stored;
    expect(store.getSession("cfg")).toMatchObject({ config: { topic: "intake" }, access: "open", lastActivityAt: 5000 });
  });

  test("listing and ending see a queued session (it commits first)", () => {
    const { store } = freshStore();
    store.queueSession(newSessionRecord({ id: "q", ownerId: "a", at: Date.now() }), () => {});
    expect(store.listSessions({ limit: 10 }).map((s) => s.id)).toEqual(["q"]);
    store.queueSession(newSessionRecord({ id: "q2", ownerId: "a", at: Date.now() }), () => {});
    expect(store.endSession("q2", "completed", Date.now())).toBe(true);
    expect(store.getSession("q2")!.status).toBe("completed");
  });

  test("a batch that fails stores nothing of it: no session, no participant, no message", async () => {
    const { sqlite, store } = freshStore({
      sessionStarted: (r) => {
        if (r.id === "doomed") throw new Error("hook refused");
      },
    });
    const outcomes = await Promise.allSettled([
      queueSession(store, newSessionRecord({ id: "doomed", ownerId: "a", at: Date.now() })),
      queueParticipant(store, "doomed", "a"),
      append(store, "doomed", "never"),
    ]);
    expect(outcomes.map((o) => (o.status === "rejected" ? (o.reason as SessiondError).code : "stored"))).toEqual(["internal", "internal", "internal"]);
    for (const table of ["sessions", "session_participants", "messages"]) expect(sqlite.query(`SELECT count(*) AS n FROM ${table}`).get()).toEqual({ n: 0 });
    expect(store.getSession("doomed")).toBeNull();
    // The head it had for the session went with the rollback: a later session under that id starts at seq 1.
    await queueSession(store, newSessionRecord({ id: "later", ownerId: "a", at: Date.now() }));
    expect((await append(store, "later", "first")).message.seq).toBe(1);
  });

  test("a session deleted under a kept head (an erasure) fails its appends with not_found, not the whole batch", async () => {
    const { sqlite, store } = freshStore();
    for (const id of ["gone", "kept"]) await queueSession(store, newSessionRecord({ id, ownerId: "a", at: Date.now() }));
    await append(store, "gone", "before");
    sqlite.run("DELETE FROM sessions WHERE id = 'gone'");
    const results = await Promise.allSettled([append(store, "gone", "after"), append(store, "kept", "fine")]);
    expect(results[0]).toMatchObject({ status: "rejected", reason: { code: "not_found" } });
    expect(results[1]).toMatchObject({ status: "fulfilled", value: { message: { seq: 1 } } });
  });

  test("an ended session refuses later appends though its head was kept", async () => {
    const { store } = freshStore();
    await queueSession(store, newSessionRecord({ id: "e", ownerId: "a", at: Date.now() }));
    await append(store, "e", "one");
    expect(store.endSession("e", "completed", Date.now())).toBe(true);
    await expect(append(store, "e", "two")).rejects.toMatchObject({ code: "session_ended" } satisfies Partial<SessiondError>);
  });

  test("kill -9 in a storm never leaves a message whose session did not commit, nor loses an acked one", async () => {
    const path = join(tempDir(), "storm.db");
    const child = Bun.spawn([process.execPath, join(ROOT, "test", "fixtures", "storm-child.ts"), path], { stdout: "pipe", stderr: "pipe" });
    const reported: string[][] = [];
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of child.stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      const lines = buffer.split("\n");
      buffer = lines.pop()!;
      for (const line of lines) reported.push(line.split(" "));
      if (reported.length >= 3000) {
        child.kill("SIGKILL");
        break;
      }
    }
    await child.exited;
    const db = new Database(path);
    expect(db.query("PRAGMA foreign_key_check").all()).toEqual([]);
    expect(db.query("SELECT count(*) AS n FROM messages m WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = m.session_id)").get()).toEqual({ n: 0 });
    const find = db.query("SELECT seq FROM messages WHERE session_id = ? AND id = ?");
    for (const [session, seq, id] of reported) expect(find.get(session!, id!)).toEqual({ seq: Number(seq) });
    // Every stored session's counters match its rows.
    const drift = db.query(
      `SELECT count(*) AS n FROM sessions s WHERE s.last_seq <> (SELECT count(*) FROM messages m WHERE m.session_id = s.id)
         OR s.participant_count <> (SELECT count(*) FROM session_participants p WHERE p.session_id = s.id)`,
    );
    expect(drift.get()).toEqual({ n: 0 });
    db.close();
  });
});
