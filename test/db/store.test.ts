import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { embeddedMigrations, migrate, openDatabase, SqliteSessionStore } from "../../src/db/index.ts";
import { newSessionRecord, type AppendResult, type SessionRecord } from "../../src/sessions/store.ts";
import { ROOT, tempDir } from "../helpers.ts";

const session = (id: string, now = Date.now()): SessionRecord => newSessionRecord({ id, ownerId: "u", at: now });

function freshStore() {
  const path = join(tempDir(), "s.db");
  const sqlite = openDatabase(path);
  migrate(sqlite);
  return { path, sqlite, store: new SqliteSessionStore(sqlite) };
}

function append(store: SqliteSessionStore, sessionId: string, content: string, clientMsgId?: string, userId = "u"): Promise<AppendResult> {
  return new Promise((resolve, reject) =>
    store.append({ id: crypto.randomUUID(), sessionId, userId, role: "user", kind: "text", content, clientMsgId, createdAt: Date.now() }, (e, r) =>
      e ? reject(e) : resolve(r!),
    ),
  );
}

describe("migrations", () => {
  test("apply on an empty file, are idempotent on restart, and leave the file in WAL mode", () => {
    const path = join(tempDir(), "m.db");
    const first = openDatabase(path);
    expect(migrate(first)).toBe(embeddedMigrations().length);
    first.close();
    const again = openDatabase(path);
    expect(migrate(again)).toBe(0);
    expect(again.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    expect(again.query("PRAGMA foreign_keys").get()).toEqual({ foreign_keys: 1 });
    const tables = again.query("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").all().map((r: any) => r.name);
    expect(tables).toEqual(expect.arrayContaining(["sessions", "messages", "session_participants"]));
    again.close();
    // A separate reader sees WAL as the file's persistent mode.
    const reader = new Database(path, { readonly: true });
    expect(reader.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    reader.close();
  });

  test("every SQL file drizzle-kit generated is embedded in the build", () => {
    const files = readdirSync(join(ROOT, "drizzle")).filter((f) => f.endsWith(".sql"));
    expect(embeddedMigrations()).toHaveLength(files.length);
  });
});

describe("the write path", () => {
  test("seq is gapless and ordered under 1,000 concurrent appends across 10 sessions, sharing transactions", async () => {
    const path = join(tempDir(), "c.db");
    const sqlite = openDatabase(path);
    migrate(sqlite);
    const batches: number[] = [];
    const store = new SqliteSessionStore(sqlite, { onCommit: (size) => batches.push(size) });
    const ids = Array.from({ length: 10 }, (_, i) => `s${i}`);
    for (const id of ids) store.insertSession(session(id));
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => append(store, ids[i % 10]!, `m${i}`)));
    for (const id of ids) {
      const seqs = results.filter((r) => r.message.session === id).map((r) => r.message.seq);
      expect(seqs).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      const rows = sqlite.query("SELECT seq FROM messages WHERE session_id = ? ORDER BY seq").all(id).map((r: any) => r.seq);
      expect(rows).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(store.getSession(id)!.lastSeq).toBe(100);
      expect(store.getSession(id)!.messageCount).toBe(100);
    }
    expect(batches.length).toBeLessThan(50);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(1000);
  });

  test("a repeated (session, user, clientMsgId) returns the original row instead of inserting", async () => {
    const { sqlite, store } = freshStore();
    store.insertSession(session("idem"));
    const [a, b] = await Promise.all([append(store, "idem", "first", "k1"), append(store, "idem", "second", "k1")]);
    const c = await append(store, "idem", "third", "k1");
    const otherUser = await append(store, "idem", "fourth", "k1", "someone-else");
    expect(a.duplicate).toBe(false);
    expect(b.duplicate).toBe(true);
    expect(c.duplicate).toBe(true);
    expect(b.message).toEqual(a.message);
    expect(c.message).toEqual(a.message);
    expect(otherUser.message.seq).toBe(2);
    expect(sqlite.query("SELECT count(*) AS n FROM messages").get()).toEqual({ n: 2 });
    expect(store.getSession("idem")!.lastSeq).toBe(2);
  });

  test("appends to a missing or ended session fail and write nothing", async () => {
    const { sqlite, store } = freshStore();
    store.insertSession(session("done"));
    expect(store.endSession("done", "completed", Date.now())).toBe(true);
    await expect(append(store, "done", "late")).rejects.toMatchObject({ code: "session_ended" });
    await expect(append(store, "nope", "x")).rejects.toMatchObject({ code: "not_found" });
    expect(sqlite.query("SELECT count(*) AS n FROM messages").get()).toEqual({ n: 0 });
  });
});

describe("crash durability", () => {
  for (const synchronous of ["normal", "full"] as const) {
    test(`every append reported committed survives kill -9 (synchronous=${synchronous})`, async () => {
      const path = join(tempDir(), "crash.db");
      const child = Bun.spawn([process.execPath, join(ROOT, "test", "fixtures", "append-child.ts"), path, synchronous], { stdout: "pipe", stderr: "pipe" });
      const reported: Array<[string, number, string]> = [];
      const decoder = new TextDecoder();
      let buffer = "";
      for await (const chunk of child.stdout) {
        buffer += decoder.decode(chunk, { stream: true });
        const lines = buffer.split("\n");
        buffer = lines.pop()!;
        for (const line of lines) {
          const [s, seq, id] = line.split(" ");
          reported.push([s!, Number(seq), id!]);
        }
        if (reported.length >= 2000) {
          child.kill("SIGKILL");
          break;
        }
      }
      await child.exited;
      expect(child.signalCode).toBe("SIGKILL");
      const db = new Database(path, { readonly: false });
      const find = db.query("SELECT session_id, seq FROM messages WHERE id = ?");
      for (const [s, seq, id] of reported) expect(find.get(id)).toEqual({ session_id: s, seq });
      // And nothing has a gap.
      for (const s of ["crash-a", "crash-b"]) {
        const { n, max } = db.query("SELECT count(*) AS n, max(seq) AS max FROM messages WHERE session_id = ?").get(s) as any;
        expect(n).toBe(max);
      }
      db.close();
    });
  }
});
