// SessionStore over bun:sqlite: group-committed appends with in-transaction seq assignment, session rows, history.
import type { Database, Statement } from "bun:sqlite";
import { and, eq, inArray, or, sql, type SQL } from "drizzle-orm";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { SessiondError } from "../protocol/errors.ts";
import type { Message } from "../protocol/types.ts";
import type {
  AppendCallback,
  AppendInput,
  AppendResult,
  SessionListQuery,
  SessionPatch,
  SessionRecord,
  SessionStore,
} from "../sessions/store.ts";
import { GroupCommit, type GroupCommitOptions } from "./group-commit.ts";
import { sessions } from "./schema.ts";

interface MessageRow {
  id: string;
  session_id: string;
  seq: number;
  user_id: string;
  role: Message["role"];
  kind: Message["kind"];
  content: string;
  metadata: string | null;
  client_msg_id: string | null;
  created_at: number;
}

type Outcome = { ok: true; value: AppendResult } | { ok: false; error: SessiondError };

export interface StoreStats {
  /** Called after each group commit with the batch size and how long the transaction took. */
  onCommit?: (batchSize: number, seconds: number) => void;
}

/**
 * The hot statements are prepared once on the raw connection (bun:sqlite caches only 20 ad-hoc queries);
 * cold paths (session rows, listing) go through drizzle.
 */
export class SqliteSessionStore implements SessionStore {
  private readonly db: BunSQLiteDatabase;
  private readonly commits: GroupCommit<AppendInput, AppendResult, SessiondError>;
  private readonly stmt: {
    sessionHead: Statement<{ last_seq: number; status: string }, [string]>;
    insertMessage: Statement<unknown, [string, string, number, string, string, string, string, string | null, string | null, number]>;
    messageByClientId: Statement<MessageRow, [string, string, string]>;
    bumpSession: Statement<unknown, [number, number, number, string]>;
    lastMessages: Statement<MessageRow, [string, number]>;
    messagesAfter: Statement<MessageRow, [string, number, number]>;
    addParticipant: Statement<unknown, [string, string, number]>;
    countParticipant: Statement<unknown, [string]>;
    saveActivity: Statement<unknown, [number, string]>;
  };

  constructor(
    private readonly sqlite: Database,
    options: GroupCommitOptions & StoreStats = {},
  ) {
    this.db = drizzle({ client: sqlite });
    this.stmt = {
      sessionHead: sqlite.prepare("SELECT last_seq, status FROM sessions WHERE id = ?"),
      insertMessage: sqlite.prepare(
        `INSERT INTO messages (id, session_id, seq, user_id, role, kind, content, metadata, client_msg_id, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, user_id, client_msg_id) DO NOTHING`,
      ),
      messageByClientId: sqlite.prepare("SELECT * FROM messages WHERE session_id = ? AND user_id = ? AND client_msg_id = ?"),
      bumpSession: sqlite.prepare(
        "UPDATE sessions SET last_seq = ?, message_count = message_count + ?, last_activity_at = max(last_activity_at, ?) WHERE id = ?",
      ),
      lastMessages: sqlite.prepare(
        "SELECT * FROM (SELECT * FROM messages WHERE session_id = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq ASC",
      ),
      messagesAfter: sqlite.prepare("SELECT * FROM messages WHERE session_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?"),
      addParticipant: sqlite.prepare(
        "INSERT INTO session_participants (session_id, user_id, first_seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
      ),
      countParticipant: sqlite.prepare("UPDATE sessions SET participant_count = participant_count + 1 WHERE id = ?"),
      saveActivity: sqlite.prepare("UPDATE sessions SET last_activity_at = max(last_activity_at, ?) WHERE id = ?"),
    };
    const onCommit = options.onCommit;
    const commitBatch = this.sqlite.transaction((items: AppendInput[]) => this.commitBatch(items));
    this.commits = new GroupCommit<AppendInput, AppendResult, SessiondError>(
      (items) => {
        const started = onCommit ? performance.now() : 0;
        // IMMEDIATE: take the write lock up front instead of failing to upgrade a read lock mid-transaction.
        const outcomes = commitBatch.immediate(items) as Outcome[];
        onCommit?.(items.length, (performance.now() - started) / 1000);
        return outcomes;
      },
      (thrown) => new SessiondError("internal", "The message could not be stored and was not saved; try again.", undefined, undefined, { cause: thrown }),
      options,
    );
  }

  append(input: AppendInput, done: AppendCallback): void {
    this.commits.enqueue(input, done);
  }

  flush(): void {
    this.commits.flush();
  }

  /** Runs inside one transaction: seq comes from the session row, so a rolled-back batch leaves no gap. */
  private commitBatch(items: AppendInput[]): Outcome[] {
    const heads = new Map<string, { lastSeq: number; added: number; lastAt: number; active: boolean } | null>();
    const outcomes: Outcome[] = [];
    for (const item of items) {
      let head = heads.get(item.sessionId);
      if (head === undefined) {
        const row = this.stmt.sessionHead.get(item.sessionId);
        head = row ? { lastSeq: row.last_seq, added: 0, lastAt: 0, active: row.status === "active" } : null;
        heads.set(item.sessionId, head);
      }
      if (head === null) {
        outcomes.push({ ok: false, error: new SessiondError("not_found", "No such session.") });
        continue;
      }
      if (!head.active) {
        outcomes.push({ ok: false, error: new SessiondError("session_ended", "The session has ended; it is read-only.") });
        continue;
      }
      const seq = head.lastSeq + 1;
      const metadata = item.metadata === undefined ? null : JSON.stringify(item.metadata);
      const changed = this.stmt.insertMessage.run(
        item.id,
        item.sessionId,
        seq,
        item.userId,
        item.role,
        item.kind,
        item.content,
        metadata,
        item.clientMsgId ?? null,
        item.createdAt,
      ).changes;
      if (changed === 0) {
        const original = this.stmt.messageByClientId.get(item.sessionId, item.userId, item.clientMsgId!);
        outcomes.push({ ok: true, value: { message: toMessage(original!), duplicate: true } });
        continue;
      }
      head.lastSeq = seq;
      head.added++;
      head.lastAt = Math.max(head.lastAt, item.createdAt);
      outcomes.push({
        ok: true,
        value: {
          message: {
            id: item.id,
            seq,
            session: item.sessionId,
            userId: item.userId,
            role: item.role,
            kind: item.kind,
            content: item.content,
            ...(item.metadata !== undefined && { metadata: item.metadata }),
            ...(item.clientMsgId !== undefined && { clientMsgId: item.clientMsgId }),
            createdAt: new Date(item.createdAt).toISOString(),
          },
          duplicate: false,
        },
      });
    }
    for (const [id, head] of heads) {
      if (head && head.added > 0) this.stmt.bumpSession.run(head.lastSeq, head.added, head.lastAt, id);
    }
    return outcomes;
  }

  getSession(id: string): SessionRecord | null {
    return (this.db.select().from(sessions).where(eq(sessions.id, id)).get() as SessionRecord | undefined) ?? null;
  }

  findActiveSessionByRoom(room: string): SessionRecord | null {
    const row = this.db
      .select()
      .from(sessions)
      .where(and(eq(sessions.room, room), eq(sessions.status, "active")))
      .get();
    return (row as SessionRecord | undefined) ?? null;
  }

  insertSession(record: SessionRecord): void {
    try {
      this.db.insert(sessions).values(record).run();
    } catch (e) {
      if (isConstraintError(e)) {
        throw new SessiondError("conflict", record.room ? "The room already has an active session." : "A session with that id exists.");
      }
      throw e;
    }
  }

  updateSession(id: string, patch: SessionPatch): void {
    if (Object.keys(patch).length === 0) return;
    this.db.update(sessions).set(patch).where(eq(sessions.id, id)).run();
  }

  endSession(id: string, status: "completed" | "cancelled" | "expired", endedAt: number): boolean {
    return (
      this.sqlite
        .query<unknown, [string, number, number, string]>(
          "UPDATE sessions SET status = ?, ended_at = ?, duration_ms = ? - started_at WHERE id = ? AND status = 'active'",
        )
        .run(status, endedAt, endedAt, id).changes > 0
    );
  }

  saveActivity(updates: ReadonlyArray<{ id: string; lastActivityAt: number }>): void {
    if (updates.length === 0) return;
    this.sqlite.transaction(() => {
      for (const u of updates) this.stmt.saveActivity.run(u.lastActivityAt, u.id);
    }).immediate();
  }

  addParticipant(sessionId: string, userId: string, at: number): boolean {
    return this.sqlite.transaction(() => {
      const added = this.stmt.addParticipant.run(sessionId, userId, at).changes > 0;
      if (added) this.stmt.countParticipant.run(sessionId);
      return added;
    }).immediate();
  }

  participants(sessionId: string): string[] {
    return this.sqlite
      .query<{ user_id: string }, [string]>("SELECT user_id FROM session_participants WHERE session_id = ?")
      .all(sessionId)
      .map((r) => r.user_id);
  }

  lastMessages(sessionId: string, limit: number): Message[] {
    return this.stmt.lastMessages.all(sessionId, limit).map(toMessage);
  }

  messagesAfter(sessionId: string, afterSeq: number, limit: number): Message[] {
    return this.stmt.messagesAfter.all(sessionId, afterSeq, limit).map(toMessage);
  }

  idleSessionIds(before: number, limit: number): string[] {
    return this.sqlite
      .query<{ id: string }, [number, number]>(
        "SELECT id FROM sessions WHERE status = 'active' AND last_activity_at < ? ORDER BY last_activity_at LIMIT ?",
      )
      .all(before, limit)
      .map((r) => r.id);
  }

  activeSessionIds(): string[] {
    return this.sqlite
      .query<{ id: string }, []>("SELECT id FROM sessions WHERE status = 'active'")
      .all()
      .map((r) => r.id);
  }

  listSessions(query: SessionListQuery): SessionRecord[] {
    const where: SQL[] = [];
    if (query.status) where.push(eq(sessions.status, query.status));
    if (query.room) where.push(eq(sessions.room, query.room));
    if (query.visibleTo) {
      const v = query.visibleTo;
      const visible = [
        eq(sessions.access, "open"),
        eq(sessions.ownerId, v.userId),
        sql`EXISTS (SELECT 1 FROM json_each(${sessions.members}) WHERE json_each.value = ${v.userId})`,
      ];
      if (v.sessionIds.length > 0) visible.push(inArray(sessions.id, v.sessionIds));
      if (v.rooms.length > 0) visible.push(inArray(sessions.room, v.rooms));
      where.push(or(...visible)!);
    }
    if (query.after) {
      const { startedAt, id } = query.after;
      // Newest first: the next page holds sessions that started earlier (ties broken by id).
      where.push(or(sql`${sessions.startedAt} < ${startedAt}`, and(eq(sessions.startedAt, startedAt), sql`${sessions.id} < ${id}`))!);
    }
    return this.db
      .select()
      .from(sessions)
      .where(where.length > 0 ? and(...where) : undefined)
      .orderBy(sql`${sessions.startedAt} DESC`, sql`${sessions.id} DESC`)
      .limit(query.limit)
      .all() as SessionRecord[];
  }

  /** A read and a write-lock probe: a closed, unreadable or locked-out database fails. */
  probe(): boolean {
    try {
      this.sqlite.query("SELECT count(*) FROM sessions WHERE rowid = 1").get();
      this.sqlite.run("BEGIN IMMEDIATE");
      this.sqlite.run("ROLLBACK");
      return true;
    } catch {
      return false;
    }
  }

  *iterateMessages(sessionId: string, pageSize = 1000): Generator<Message[]> {
    let after = 0;
    for (;;) {
      const page = this.messagesAfter(sessionId, after, pageSize);
      if (page.length === 0) return;
      yield page;
      after = page[page.length - 1]!.seq;
      if (page.length < pageSize) return;
    }
  }
}

function toMessage(row: MessageRow): Message {
  const message: Message = {
    id: row.id,
    seq: row.seq,
    session: row.session_id,
    userId: row.user_id,
    role: row.role,
    kind: row.kind,
    content: row.content,
    createdAt: new Date(row.created_at).toISOString(),
  };
  if (row.metadata !== null) message.metadata = JSON.parse(row.metadata) as Record<string, unknown>;
  if (row.client_msg_id !== null) message.clientMsgId = row.client_msg_id;
  return message;
}

function isConstraintError(e: unknown): boolean {
  return typeof e === "object" && e !== null && String((e as { code?: unknown }).code ?? "").startsWith("SQLITE_CONSTRAINT");
}
