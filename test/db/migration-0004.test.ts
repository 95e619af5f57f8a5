// Migration 0004 rebuilds `messages` as a WITHOUT ROWID table keyed by (session_id, seq): a database written by the
// schema before it (with messages, analyses, alerts and participants) upgrades with every row intact.
import { describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { drizzle } from "drizzle-orm/bun-sqlite";
import type { MigrationMeta } from "drizzle-orm/migrator";
import { join } from "node:path";
import { embeddedMigrations, migrate, openDatabase, SqliteSessionStore } from "../../src/db/index.ts";
import { tempDir } from "../helpers.ts";

/** Applies only the first `n` embedded migrations, as a server of that version did. */
function migrateTo(sqlite: Database, n: number): void {
  const db = drizzle({ client: sqlite }) as unknown as {
    dialect: { migrate(m: MigrationMeta[], session: unknown, config: { migrationsFolder: string }): void };
    session: unknown;
  };
  db.dialect.migrate(embeddedMigrations().slice(0, n), db.session, { migrationsFolder: "(embedded)" });
}

const BEFORE_0004 = embeddedMigrations().findIndex((m) => m.sql.join("").includes("WITHOUT ROWID"));

function seed(sqlite: Database): void {
  const t0 = 1_700_000_000_000;
  const session = sqlite.prepare(
    "INSERT INTO sessions (id, owner_id, started_at, last_activity_at, last_seq, message_count, participant_count, analyzed_count, sentiment_sum, risk_level) VALUES (?, 'owner', ?, ?, ?, ?, 2, ?, ?, ?)",
  );
  const message = sqlite.prepare(
    "INSERT INTO messages (id, session_id, seq, user_id, role, kind, content, metadata, client_msg_id, created_at, erased_at) VALUES (?, ?, ?, ?, 'user', 'text', ?, ?, ?, ?, ?)",
  );
  const participant = sqlite.prepare("INSERT INTO session_participants (session_id, user_id, first_seen_at) VALUES (?, ?, ?)");
  const analysis = sqlite.prepare(
    "INSERT INTO message_analyses (session_id, seq, message_id, analysis, risk_level, sentiment, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
  );
  const alert = sqlite.prepare(
    "INSERT INTO alerts (id, session_id, seq, message_id, user_id, risk_level, triggers, recommended_action, status, created_at) VALUES (?, ?, ?, ?, ?, 'high', '[]', 'call', 'open', ?)",
  );
  sqlite.transaction(() => {
    for (const s of ["s-a", "s-b", "s-c"]) {
      session.run(s, t0, t0 + 50, 50, 50, 10, 1.5, "high");
      participant.run(s, "alice", t0);
      participant.run(s, "bob", t0);
      // Inserted out of seq order, as a table with a rowid would hold them after retries and erasures.
      for (const seq of [...Array.from({ length: 50 }, (_, i) => 50 - i)]) {
        const id = `${s}-m${seq}`;
        message.run(id, s, seq, seq % 2 ? "alice" : "bob", `hello ${seq} ${"é".repeat(seq)}`, seq % 5 ? null : '{"k":1}', seq % 3 ? `c${seq}` : null, t0 + seq, seq === 7 ? t0 + 99 : null);
        if (seq <= 10) analysis.run(s, seq, id, `{"seq":${seq}}`, "low", 0.15, t0 + seq);
      }
      alert.run(`${s}-alert`, s, 3, `${s}-m3`, "alice", t0 + 3);
    }
  }).immediate();
}

const dump = (sqlite: Database, table: string, order: string) => sqlite.query(`SELECT * FROM ${table} ORDER BY ${order}`).all();

describe("migration 0004: messages WITHOUT ROWID", () => {
  test("an existing database with messages, analyses, alerts and participants upgrades with every row intact", async () => {
    expect(BEFORE_0004).toBeGreaterThan(0);
    const path = join(tempDir(), "upgrade.db");
    const old = openDatabase(path);
    migrateTo(old, BEFORE_0004);
    seed(old);
    const before = {
      messages: dump(old, "messages", "session_id, seq"),
      analyses: dump(old, "message_analyses", "session_id, seq"),
      alerts: dump(old, "alerts", "id"),
      participants: dump(old, "session_participants", "session_id, user_id"),
      sessions: dump(old, "sessions", "id"),
    };
    expect(before.messages).toHaveLength(150);
    old.close();

    const sqlite = openDatabase(path);
    expect(migrate(sqlite)).toBe(embeddedMigrations().length - BEFORE_0004);
    expect(dump(sqlite, "messages", "session_id, seq")).toEqual(before.messages);
    expect(dump(sqlite, "message_analyses", "session_id, seq")).toEqual(before.analyses);
    expect(dump(sqlite, "alerts", "id")).toEqual(before.alerts);
    expect(dump(sqlite, "session_participants", "session_id, user_id")).toEqual(before.participants);
    expect(dump(sqlite, "sessions", "id")).toEqual(before.sessions);
    expect(sqlite.query("PRAGMA foreign_key_check").all()).toEqual([]);
    expect(sqlite.query("PRAGMA foreign_keys").get()).toEqual({ foreign_keys: 1 });
    expect(sqlite.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });

    // The table and its one index, as designed: rows keyed by (session_id, seq), no rowid, the idempotency index.
    const ddl = (sqlite.query("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'messages'").get() as { sql: string }).sql;
    expect(ddl).toContain("WITHOUT ROWID");
    expect(ddl).toContain("PRIMARY KEY(`session_id`, `seq`)");
    const indexes = sqlite.query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages' AND sql IS NOT NULL").all();
    expect(indexes).toEqual([{ name: "messages_session_user_client_uq" }]);
    expect(sqlite.query("EXPLAIN QUERY PLAN SELECT * FROM messages WHERE session_id = ? AND user_id = ? AND client_msg_id = ?").all("s-a", "alice", "c1").map((r: any) => r.detail).join()).toContain("messages_session_user_client_uq");
    expect(() => sqlite.query("SELECT rowid FROM messages LIMIT 1").get()).toThrow();

    // The write path carries on from the stored seq, and the idempotency index still answers repeats.
    const store = new SqliteSessionStore(sqlite);
    const append = (clientMsgId?: string) =>
      new Promise<{ seq: number; duplicate: boolean }>((resolve, reject) =>
        store.append({ id: crypto.randomUUID(), sessionId: "s-a", userId: "alice", role: "user", kind: "text", content: "after", clientMsgId, createdAt: Date.now() }, (e, r) =>
          e ? reject(e) : resolve({ seq: r!.message.seq, duplicate: r!.duplicate }),
        ),
      );
    expect(await append("fresh")).toEqual({ seq: 51, duplicate: false });
    expect(await append("c1")).toEqual({ seq: 1, duplicate: true });
    expect(store.messagesAfter("s-a", 48, 10).map((m) => m.seq)).toEqual([49, 50, 51]);
    // Deleting a session still cascades to its messages (the foreign key survived the rebuild).
    sqlite.run("DELETE FROM sessions WHERE id = 's-c'");
    expect(sqlite.query("SELECT count(*) AS n FROM messages WHERE session_id = 's-c'").get()).toEqual({ n: 0 });
    sqlite.close();
  });
});
