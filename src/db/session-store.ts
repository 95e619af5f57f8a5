// SessionStore over bun:sqlite: group-committed appends with in-transaction seq assignment, session rows, history.
import { QueuedSessions } from "../sessions/queued-sessions.ts";
import type { Database, Statement } from "bun:sqlite";
import { and, eq, inArray, or, sql, type SQL } from "drizzle-orm";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { SessiondError } from "../protocol/errors.ts";
import type { Message } from "../protocol/types.ts";
import type {
  AppendCallback,
  AppendInput,
  SessionListQuery,
  SessionPatch,
  SessionRecord,
  SessionStore,
} from "../sessions/store.ts";
import { PLAINTEXT, type FieldCipher } from "../privacy/field-cipher.ts";
import { aad } from "../privacy/fields.ts";
import type { CommitHooks } from "./commit-hooks.ts";
import { messageFromRow, type MessageRow } from "./message-codec.ts";
import { GroupCommit, type Done, type GroupCommitOptions } from "./group-commit.ts";
import { isConstraintError, SessionBatchWriter, type Outcome, type Work, type WorkResult } from "./session-batch.ts";
import { INSERT_SESSION_SQL, SELECT_ACTIVE_IN_ROOM_SQL, SELECT_SESSION_SQL, sessionFromRow, sessionParams, type SessionParams, type SessionRow as SessionRowText } from "./session-row.ts";
import { writeMeta } from "./meta-store.ts";
import { asUnavailable, guardRead, guardWrite, IGNORE_FAULTS, isBusyCode, storageFaultCode, unavailableError, type StorageFaultListener } from "./storage-faults.ts";
import { sessions } from "./schema.ts";


export interface StoreStats {
  /** Called after each group commit with the batch size and how long the transaction took. */
  onCommit?: (batchSize: number, seconds: number) => void;
  /** Told inside each transaction of what it changes (webhook outbox, archive jobs); see CommitHooks. */
  hooks?: CommitHooks;
  /** Seals content columns at rest (message content and metadata, session config); plaintext when absent. */
  cipher?: FieldCipher;
  /** Told of every storage fault and of every successful write (logs, metrics, health). */
  faults?: StorageFaultListener;
}

type SessionRow = typeof sessions.$inferSelect;

const FENCE_WORK: Work = { op: "fence" };

/**
 * The hot statements are prepared once on the raw connection (bun:sqlite caches only 20 ad-hoc queries);
 * cold paths (listing, updates) go through drizzle. Appends, session inserts and participants share one group
 * commit (SessionBatchWriter); a queued session is visible to getSession and findActiveSessionByRoom before it
 * commits, and everything queued after it commits in the same or a later transaction.
 */
export class SqliteSessionStore implements SessionStore {
  readonly synchronous = true as const;
  private readonly db: BunSQLiteDatabase;
  private readonly commits: GroupCommit<Work, WorkResult, SessiondError>;
  private readonly writer: SessionBatchWriter;
  /** Sessions queued for insertion and not yet committed, by id and by room (the same records). */
  private readonly queued = new QueuedSessions();
  /** From a storage fault until the next successful write. */
  private faulted = false;
  private readonly hooks: CommitHooks;
  private readonly cipher: FieldCipher;
  private readonly faults: StorageFaultListener;
  private readonly stmt: {
    getSession: Statement<SessionRowText, [string]>;
    activeInRoom: Statement<SessionRowText, [string]>;
    insertSession: Statement<unknown, SessionParams>;
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
    this.hooks = options.hooks ?? {};
    this.cipher = options.cipher ?? PLAINTEXT;
    const told = options.faults ?? IGNORE_FAULTS;
    // Followed here too: while a fault lasts, session inserts and participants are written at once (see queueSession).
    const faults = (this.faults = {
      failed: (code, op) => {
        this.faulted = true;
        told.failed(code, op);
      },
      succeeded: () => {
        this.faulted = false;
        told.succeeded();
      },
    });
    this.stmt = {
      getSession: sqlite.prepare(SELECT_SESSION_SQL),
      activeInRoom: sqlite.prepare(SELECT_ACTIVE_IN_ROOM_SQL),
      insertSession: sqlite.prepare(INSERT_SESSION_SQL),
      // History reads carry each message's analysis when it has one (a primary-key lookup per row).
      lastMessages: sqlite.prepare(
        `SELECT m.*, a.analysis FROM (SELECT * FROM messages WHERE session_id = ? ORDER BY seq DESC LIMIT ?) m
         LEFT JOIN message_analyses a ON a.session_id = m.session_id AND a.seq = m.seq ORDER BY m.seq ASC`,
      ),
      messagesAfter: sqlite.prepare(
        `SELECT m.*, a.analysis FROM messages m LEFT JOIN message_analyses a ON a.session_id = m.session_id AND a.seq = m.seq
         WHERE m.session_id = ? AND m.seq > ? ORDER BY m.seq ASC LIMIT ?`,
      ),
      addParticipant: sqlite.prepare(
        "INSERT INTO session_participants (session_id, user_id, first_seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
      ),
      countParticipant: sqlite.prepare("UPDATE sessions SET participant_count = participant_count + 1 WHERE id = ?"),
      saveActivity: sqlite.prepare("UPDATE sessions SET last_activity_at = max(last_activity_at, ?) WHERE id = ?"),
    };
    const onCommit = options.onCommit;
    const writer = (this.writer = new SessionBatchWriter(sqlite, this.cipher, this.hooks));
    const commitBatch = this.sqlite.transaction((items: Work[]) => writer.commit(items));
    this.commits = new GroupCommit<Work, WorkResult, SessiondError>(
      (items) => {
        const started = onCommit ? performance.now() : 0;
        let outcomes: Outcome[];
        try {
          // IMMEDIATE: take the write lock up front instead of failing to upgrade a read lock mid-transaction.
          // With busy_timeout 0 a foreign lock fails at once; the group commit retries on a timer.
          outcomes = commitBatch.immediate(items) as Outcome[];
        } catch (e) {
          writer.rolledBack();
          const code = storageFaultCode(e);
          if (code !== null) faults.failed(code, "append");
          throw e;
        }
        faults.succeeded();
        // Counted in messages (session inserts and participants ride along uncounted).
        if (onCommit && writer.appended > 0) onCommit(writer.appended, (performance.now() - started) / 1000);
        return outcomes;
      },
      (thrown) => {
        const code = storageFaultCode(thrown);
        if (code !== null) return unavailableError(code, thrown);
        return new SessiondError("internal", "The message could not be stored and was not saved; try again.", undefined, undefined, { cause: thrown });
      },
      {
        ...options,
        isRetryable: (thrown) => {
          const code = storageFaultCode(thrown);
          return code !== null && isBusyCode(code);
        },
      },
    );
  }

  append(input: AppendInput, done: AppendCallback): void {
    this.commits.enqueue(input, done as Done<WorkResult, SessiondError>);
  }

  queueSession(record: SessionRecord, done: (error: SessiondError | null) => void): void {
    this.queued.check(record);
    if (this.faulted) {
      // A storage fault is in progress: written now, so a refusal is immediate rather than DB_RETRY_MS later.
      this.insertSession(record);
      return queueMicrotask(() => done(null));
    }
    this.queued.add(record);
    this.commits.enqueue({ op: "session", record }, (error) => {
      this.queued.remove(record);
      done(error);
    });
  }

  afterQueued(done: (error: SessiondError | null) => void): void {
    this.commits.enqueue(FENCE_WORK, (error) => done(error));
  }

  queueParticipant(sessionId: string, userId: string, at: number, done: (error: SessiondError | null, added: boolean) => void): void {
    if (this.faulted && !this.queued.has(sessionId)) {
      const added = this.addParticipant(sessionId, userId, at);
      return queueMicrotask(() => done(null, added));
    }
    this.commits.enqueue({ op: "participant", sessionId, userId, at }, (error, added) => done(error, added === true));
  }

  flush(): void {
    this.commits.flush();
  }

  getSession(id: string): SessionRecord | null {
    const queued = this.queued.get(id);
    if (queued) return queued;
    const row = guardRead(this.faults, "getSession", () => this.stmt.getSession.get(id));
    return row ? sessionFromRow(this.cipher, row) : null;
  }

  findActiveSessionByRoom(room: string): SessionRecord | null {
    const queued = this.queued.inRoom(room);
    if (queued) return queued;
    const row = guardRead(this.faults, "findActiveSessionByRoom", () => this.stmt.activeInRoom.get(room));
    return row ? sessionFromRow(this.cipher, row) : null;
  }

  insertSession(record: SessionRecord): void {
    if (this.queued.blocks(record)) {
      throw new SessiondError("conflict", record.room ? "The room already has an active session." : "A session with that id exists.");
    }
    const onStarted = this.hooks.sessionStarted;
    try {
      if (onStarted) {
        this.sqlite.transaction(() => {
          this.stmt.insertSession.run(...sessionParams(this.cipher, record));
          onStarted(record);
        }).immediate();
      } else {
        this.stmt.insertSession.run(...sessionParams(this.cipher, record));
      }
    } catch (e) {
      if (isConstraintError(e)) {
        throw new SessiondError("conflict", record.room ? "The room already has an active session." : "A session with that id exists.");
      }
      throw asUnavailable(this.faults, e, "insertSession");
    }
    this.faults.succeeded();
  }

  updateSession(id: string, patch: SessionPatch): void {
    if (Object.keys(patch).length === 0) return;
    // Not stored yet: the row is written from this record when its batch commits.
    const queued = this.queued.get(id);
    if (queued) return void Object.assign(queued, patch);
    const { config, ...rest } = patch;
    const set = config === undefined ? rest : { ...rest, config: this.cipher.seal(JSON.stringify(config), aad.sessionConfig(id)) };
    guardWrite(this.faults, "updateSession", () => this.db.update(sessions).set(set).where(eq(sessions.id, id)).run());
  }

  endSession(id: string, status: "completed" | "cancelled" | "expired", endedAt: number): boolean {
    if (this.queued.has(id)) this.commits.flush();
    // Its next append reads the row (and finds it ended), whether or not this end commits.
    this.writer.forget(id);
    const end = () =>
      this.sqlite
        .query<unknown, [string, number, number, string]>(
          "UPDATE sessions SET status = ?, ended_at = ?, duration_ms = ? - started_at WHERE id = ? AND status = 'active'",
        )
        .run(status, endedAt, endedAt, id).changes > 0;
    const onEnded = this.hooks.sessionEnded;
    if (!onEnded) return guardWrite(this.faults, "endSession", end);
    return guardWrite(this.faults, "endSession", () =>
      this.sqlite.transaction(() => {
        if (!end()) return false;
        onEnded(this.getSession(id)!);
        return true;
      }).immediate(),
    );
  }

  saveActivity(updates: ReadonlyArray<{ id: string; lastActivityAt: number }>): void {
    if (updates.length === 0) return;
    for (const u of updates) {
      const queued = this.queued.get(u.id);
      if (queued) queued.lastActivityAt = Math.max(queued.lastActivityAt, u.lastActivityAt);
    }
    guardWrite(this.faults, "saveActivity", () =>
      this.sqlite.transaction(() => {
        for (const u of updates) this.stmt.saveActivity.run(u.lastActivityAt, u.id);
      }).immediate(),
    );
  }

  addParticipant(sessionId: string, userId: string, at: number): boolean {
    return guardWrite(this.faults, "addParticipant", () =>
      this.sqlite.transaction(() => {
        const added = this.stmt.addParticipant.run(sessionId, userId, at).changes > 0;
        if (added) {
          this.stmt.countParticipant.run(sessionId);
          this.hooks.participantAdded?.(sessionId, userId, at);
        }
        return added;
      }).immediate(),
    );
  }

  participants(sessionId: string): string[] {
    if (this.queued.has(sessionId)) return [];
    return guardRead(this.faults, "participants", () =>
      this.sqlite.query<{ user_id: string }, [string]>("SELECT user_id FROM session_participants WHERE session_id = ?").all(sessionId),
    ).map((r) => r.user_id);
  }

  lastMessages(sessionId: string, limit: number): Message[] {
    return guardRead(this.faults, "lastMessages", () => this.stmt.lastMessages.all(sessionId, limit)).map((r) => this.toMessage(r));
  }

  messagesAfter(sessionId: string, afterSeq: number, limit: number): Message[] {
    return guardRead(this.faults, "messagesAfter", () => this.stmt.messagesAfter.all(sessionId, afterSeq, limit)).map((r) => this.toMessage(r));
  }

  idleSessionIds(before: number, limit: number): string[] {
    this.commitPendingSessions();
    return this.sqlite
      .query<{ id: string }, [number, number]>(
        "SELECT id FROM sessions WHERE status = 'active' AND last_activity_at < ? ORDER BY last_activity_at LIMIT ?",
      )
      .all(before, limit)
      .map((r) => r.id);
  }

  activeSessionIds(): string[] {
    this.commitPendingSessions();
    return this.sqlite
      .query<{ id: string }, []>("SELECT id FROM sessions WHERE status = 'active'")
      .all()
      .map((r) => r.id);
  }

  listSessions(query: SessionListQuery): SessionRecord[] {
    this.commitPendingSessions();
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
      .all()
      .map((r) => this.toRecord(r));
  }

  addAssistantMetrics(sessionId: string, delta: { messages: number; responseTimeMs?: number }): void {
    if (this.queued.has(sessionId)) this.commits.flush();
    const timed = delta.responseTimeMs === undefined ? 0 : 1;
    guardWrite(this.faults, "addAssistantMetrics", () =>
      this.sqlite
        .query<unknown, [number, number, number, string]>(
          `UPDATE sessions SET assistant_messages = assistant_messages + ?, response_time_sum_ms = response_time_sum_ms + ?,
           response_time_count = response_time_count + ? WHERE id = ?`,
        )
        .run(delta.messages, delta.responseTimeMs ?? 0, timed, sessionId),
    );
  }

  /**
   * A read and a write-lock probe: a closed, unreadable or locked-out database fails. Never waits (busy_timeout is
   * 0), so a foreign lock costs a /health call microseconds, not the event loop's time.
   */
  probe(): boolean {
    try {
      this.sqlite.query("SELECT count(*) FROM sessions WHERE rowid = 1").get();
      this.sqlite.run("BEGIN IMMEDIATE");
      this.sqlite.run("ROLLBACK");
      return true;
    } catch (e) {
      const code = storageFaultCode(e);
      if (code !== null) this.faults.failed(code, "probe");
      return false;
    }
  }

  /**
   * Commits one tiny row (`storage.probe` in sessiond_meta): the proof that writes work again after a fault, when no
   * client write comes along to prove it (a drained node gets none). True when it committed.
   */
  probeWrite(): boolean {
    try {
      guardWrite(this.faults, "probeWrite", () => writeMeta(this.sqlite, "storage.probe", String(Date.now())));
      return true;
    } catch {
      return false;
    }
  }

  /** Resolves once no append is queued or waiting for a retry (for shutdown). */
  idle(): Promise<void> {
    return this.commits.idle();
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

  private toMessage(row: MessageRow): Message {
    return messageFromRow(this.cipher, row);
  }

  /** Reads that go to SQL for many sessions at once see the sessions still queued: they commit first. */
  private commitPendingSessions(): void {
    if (this.queued.size > 0) this.commits.flush();
  }

  /** A session row as the domain sees it (config opened and parsed). */
  private toRecord(row: SessionRow): SessionRecord {
    return { ...row, config: JSON.parse(this.cipher.open(row.config, aad.sessionConfig(row.id))) as Record<string, unknown> } as SessionRecord;
  }

}
