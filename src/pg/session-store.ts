// SessionStorage over PostgreSQL (Bun.SQL): group-committed appends, sessions and participants per node, with seq
// assigned inside the transaction under a row lock on each session, so writers on different nodes serialise.
import { QueuedSessions } from "../sessions/queued-sessions.ts";
import type { SQL } from "bun";
import { SessiondError } from "../protocol/errors.ts";
import type { Message } from "../protocol/types.ts";
import type {
  AppendCallback,
  AppendInput,
  SessionListQuery,
  SessionPatch,
  SessionRecord,
  SessionStorage,
} from "../sessions/store.ts";
import type { TransactionRecorder } from "../db/commit-hooks.ts";
import { PLAINTEXT, type FieldCipher } from "../privacy/field-cipher.ts";
import { aad } from "../privacy/fields.ts";
import { messageFromRow } from "../db/message-codec.ts";
import { BatchFailure, PgGroupCommit, type PgGroupCommitOptions } from "./group-commit.ts";
import { commitUnknown, guard, isUnavailable, notSaved, sqlState, unavailable } from "./faults.ts";
import { messageRowFromPg, SESSION_RECORDSET, SESSION_SELECT, sessionFromPgRow, sessionToPgRow } from "./rows.ts";
import { conflictOf, FENCE, j, notFound, opOf, RepeatSeen, writeBatch, type BatchContext, type Outcome, type Work, type WorkResult } from "./session-batch.ts";

export interface PgStoreOptions extends PgGroupCommitOptions {
  /** Seals content columns at rest (message content and metadata, session config); plaintext when absent. */
  cipher?: FieldCipher;
  /** Called after each group commit with the number of messages stored and how long the transaction took. */
  onCommit?: (messages: number, seconds: number) => void;
  /** How long probe() waits for an answer, in ms. @default 1000 */
  probeTimeoutMs?: number;
  /** Archive files are on (ARCHIVE_DIR): each end inserts its archive job in the same statement. */
  archiveJobs?: boolean;
  /** Webhooks are on: lifecycle events are written in the transactions of the changes they report. */
  outbox?: TransactionRecorder<SQL>;
}

/**
 * Several stores (nodes) may share one database: nothing about a session's head is cached between transactions,
 * the row lock is the only arbiter. Queued sessions are visible to this node's getSession and findActiveSessionByRoom
 * before they commit (as in the SQLite store); other nodes see them after the commit.
 */
export class PgSessionStore implements SessionStorage {
  private readonly commits: PgGroupCommit<Work, WorkResult, SessiondError>;
  private readonly queued = new QueuedSessions();
  private readonly cipher: FieldCipher;
  private readonly probeTimeoutMs: number;
  private readonly onCommit?: (messages: number, seconds: number) => void;
  private isoMs = -1;
  private iso = "";
  private readonly archiveJobs: boolean;
  private readonly outbox?: TransactionRecorder<SQL>;
  private readonly batch: BatchContext;

  constructor(
    private readonly sql: SQL,
    options: PgStoreOptions = {},
  ) {
    this.cipher = options.cipher ?? PLAINTEXT;
    this.probeTimeoutMs = options.probeTimeoutMs ?? 1000;
    this.onCommit = options.onCommit;
    this.archiveJobs = options.archiveJobs === true;
    this.outbox = options.outbox;
    this.batch = { cipher: this.cipher, isoOf: (ms) => this.isoOf(ms), outbox: this.outbox };
    this.commits = new PgGroupCommit<Work, WorkResult, SessiondError>(
      (items) => this.commitBatch(items),
      (failure) => {
        const thrown = failure.thrown;
        if (thrown instanceof CommitLost) return commitUnknown(thrown.cause);
        return isUnavailable(thrown) ? unavailable(thrown) : notSaved(thrown);
      },
      options,
    );
  }

  append(input: AppendInput, done: AppendCallback): void {
    // PostgreSQL text and jsonb cannot hold U+0000: refused alone here, it would fail the whole batch it joined.
    if (input.content.includes("\u0000") || (input.metadata !== undefined && JSON.stringify(input.metadata).includes("\\u0000"))) {
      return done(new SessiondError("bad_request", "Message content and metadata may not contain the NUL character (U+0000)."), null);
    }
    this.commits.enqueue(input, done as (e: SessiondError | null, r: WorkResult | null) => void);
  }

  queueSession(record: SessionRecord, done: (error: SessiondError | null) => void): void {
    this.queued.check(record);
    this.queued.add(record);
    this.commits.enqueue({ op: "session", record }, (error) => {
      this.queued.remove(record);
      done(error);
    });
  }

  queueParticipant(sessionId: string, userId: string, at: number, done: (error: SessiondError | null, added: boolean) => void): void {
    this.commits.enqueue({ op: "participant", sessionId, userId, at }, (error, added) => done(error, added === true));
  }

  afterQueued(done: (error: SessiondError | null) => void): void {
    this.commits.enqueue(FENCE, (error) => done(error));
  }

  flush(): Promise<void> {
    return this.commits.flush();
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const queued = this.queued.get(id);
    if (queued) return queued;
    const rows = await guard(() => this.sql.unsafe(`SELECT ${SESSION_SELECT} FROM sessions WHERE id = $1`, [id]));
    return rows.length > 0 ? sessionFromPgRow(this.cipher, rows[0]) : null;
  }

  async findActiveSessionByRoom(room: string): Promise<SessionRecord | null> {
    const queued = this.queued.inRoom(room);
    if (queued) return queued;
    const rows = await guard(() => this.sql.unsafe(`SELECT ${SESSION_SELECT} FROM sessions WHERE room = $1 AND status = 'active'`, [room]));
    return rows.length > 0 ? sessionFromPgRow(this.cipher, rows[0]) : null;
  }

  async insertSession(record: SessionRecord): Promise<void> {
    if (this.queued.blocks(record)) throw conflictOf(record);
    const insert = (tx: SQL) =>
      tx.unsafe(
        `INSERT INTO sessions SELECT * FROM jsonb_to_recordset($1::text::jsonb) AS ${SESSION_RECORDSET} ON CONFLICT DO NOTHING RETURNING id`,
        [j([sessionToPgRow(this.cipher, record)])],
      );
    const outbox = this.outbox;
    const inserted = await guard(() =>
      outbox
        ? this.sql.begin(async (tx) => {
            const rows = await insert(tx as unknown as SQL);
            if (rows.length === 0) return rows;
            const recorded = outbox.begin();
            recorded.hooks.sessionStarted?.(record);
            await recorded.flush(tx as unknown as SQL);
            return rows;
          })
        : insert(this.sql),
    );
    if (inserted.length === 0) throw conflictOf(record);
  }

  async updateSession(id: string, patch: SessionPatch): Promise<void> {
    if (Object.keys(patch).length === 0) return;
    const queued = this.queued.get(id);
    if (queued) return void Object.assign(queued, patch);
    const sets: string[] = [];
    const params: unknown[] = [id];
    const set = (column: string, value: unknown, cast = "") => {
      params.push(value);
      sets.push(`${column} = $${params.length}${cast}`);
    };
    if (patch.config !== undefined) set("config", this.cipher.seal(JSON.stringify(patch.config), aad.sessionConfig(id)));
    if (patch.access !== undefined) set("access", patch.access);
    if (patch.members !== undefined) set("members", j(patch.members), "::text::jsonb");
    if (patch.analysis !== undefined) set("analysis", patch.analysis === null ? null : j(patch.analysis));
    if (patch.assistant !== undefined) set("assistant", patch.assistant === null ? null : j(patch.assistant));
    if (patch.endOnDisconnect !== undefined) set("end_on_disconnect", patch.endOnDisconnect === null ? null : j(patch.endOnDisconnect));
    if (patch.retentionDays !== undefined) set("retention_days", patch.retentionDays);
    if (sets.length === 0) return;
    await guard(() => this.sql.unsafe(`UPDATE sessions SET ${sets.join(", ")} WHERE id = $1`, params));
  }

  async endSession(id: string, status: "completed" | "cancelled" | "expired", endedAt: number): Promise<boolean> {
    if (this.queued.has(id)) await this.commits.flush();
    // One statement: of several nodes ending the same session at once, exactly one sees a row come back. With
    // archives on, the job is inserted by that same statement: it commits exactly when the end does.
    const end = "UPDATE sessions SET status = $2, ended_at = $3, duration_ms = $3 - started_at WHERE id = $1 AND status = 'active' RETURNING *";
    const statement = this.archiveJobs
      ? `WITH ended AS (${end}), job AS (INSERT INTO archive_jobs (session_id, next_attempt_at, created_at) SELECT id, $3, $3 FROM ended
           ON CONFLICT (session_id) DO NOTHING) SELECT * FROM ended`
      : end;
    const outbox = this.outbox;
    const rows = await guard(() =>
      outbox
        ? this.sql.begin(async (tx) => {
            const ended = await tx.unsafe(statement, [id, status, endedAt]);
            if (ended.length === 0) return ended;
            // session.ended carries the row after the end, as SQLite's hook does.
            const recorded = outbox.begin();
            recorded.hooks.sessionEnded?.(sessionFromPgRow(this.cipher, ended[0]));
            await recorded.flush(tx as unknown as SQL);
            return ended;
          })
        : this.sql.unsafe(statement, [id, status, endedAt]),
    );
    return rows.length > 0;
  }

  async saveActivity(updates: ReadonlyArray<{ id: string; lastActivityAt: number }>): Promise<void> {
    if (updates.length === 0) return;
    for (const u of updates) {
      const queued = this.queued.get(u.id);
      if (queued) queued.lastActivityAt = Math.max(queued.lastActivityAt, u.lastActivityAt);
    }
    await guard(() =>
      this.sql.unsafe(
        `UPDATE sessions s SET last_activity_at = greatest(s.last_activity_at, x.at) FROM jsonb_to_recordset($1::text::jsonb) AS x(id text, at bigint) WHERE s.id = x.id`,
        [j(updates.map((u) => ({ id: u.id, at: u.lastActivityAt })))],
      ),
    );
  }

  async addParticipant(sessionId: string, userId: string, at: number): Promise<boolean> {
    try {
      return await this.sql.begin(async (tx) => {
        const added = await tx.unsafe(
          "INSERT INTO session_participants (session_id, user_id, first_seen_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING user_id",
          [sessionId, userId, at],
        );
        if (added.length === 0) return false;
        await tx.unsafe("UPDATE sessions SET participant_count = participant_count + 1 WHERE id = $1", [sessionId]);
        if (this.outbox) {
          const recorded = this.outbox.begin();
          recorded.hooks.participantAdded?.(sessionId, userId, at);
          await recorded.flush(tx as unknown as SQL);
        }
        return true;
      });
    } catch (e) {
      if (sqlState(e) === "23503") throw notFound();
      if (isUnavailable(e)) throw unavailable(e);
      throw e;
    }
  }

  async participants(sessionId: string): Promise<string[]> {
    if (this.queued.has(sessionId)) return [];
    const rows = await guard(() => this.sql.unsafe("SELECT user_id FROM session_participants WHERE session_id = $1", [sessionId]));
    return rows.map((r: { user_id: string }) => r.user_id);
  }

  // History reads carry each message's analysis when it has one (a primary-key lookup per row), as in SQLite.
  async lastMessages(sessionId: string, limit: number): Promise<Message[]> {
    const rows = await guard(() =>
      this.sql.unsafe(
        `SELECT m.*, a.analysis FROM (SELECT * FROM messages WHERE session_id = $1 ORDER BY seq DESC LIMIT $2) m
         LEFT JOIN message_analyses a ON a.session_id = m.session_id AND a.seq = m.seq ORDER BY m.seq ASC`,
        [sessionId, limit],
      ),
    );
    return rows.map((r: Record<string, unknown>) => messageFromRow(this.cipher, messageRowFromPg(r)));
  }

  async messagesAfter(sessionId: string, afterSeq: number, limit: number): Promise<Message[]> {
    const rows = await guard(() =>
      this.sql.unsafe(
        `SELECT m.*, a.analysis FROM messages m LEFT JOIN message_analyses a ON a.session_id = m.session_id AND a.seq = m.seq
         WHERE m.session_id = $1 AND m.seq > $2 ORDER BY m.seq ASC LIMIT $3`,
        [sessionId, afterSeq, limit],
      ),
    );
    return rows.map((r: Record<string, unknown>) => messageFromRow(this.cipher, messageRowFromPg(r)));
  }

  async idleSessionIds(before: number, limit: number): Promise<string[]> {
    await this.commitPendingSessions();
    const rows = await guard(() =>
      this.sql.unsafe("SELECT id FROM sessions WHERE status = 'active' AND last_activity_at < $1 ORDER BY last_activity_at LIMIT $2", [before, limit]),
    );
    return rows.map((r: { id: string }) => r.id);
  }

  async activeSessionIds(): Promise<string[]> {
    await this.commitPendingSessions();
    const rows = await guard(() => this.sql.unsafe("SELECT id FROM sessions WHERE status = 'active'"));
    return rows.map((r: { id: string }) => r.id);
  }

  async listSessions(query: SessionListQuery): Promise<SessionRecord[]> {
    await this.commitPendingSessions();
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (value: unknown, cast = "") => {
      params.push(value);
      return `$${params.length}${cast}`;
    };
    if (query.status) where.push(`status = ${p(query.status)}`);
    if (query.room) where.push(`room = ${p(query.room)}`);
    if (query.visibleTo) {
      const v = query.visibleTo;
      const visible = ["access = 'open'", `owner_id = ${p(v.userId)}`, `members @> ${p(j([v.userId]), "::text::jsonb")}`];
      if (v.sessionIds.length > 0) visible.push(`id IN (SELECT jsonb_array_elements_text(${p(j(v.sessionIds), "::text::jsonb")}))`);
      if (v.rooms.length > 0) visible.push(`room IN (SELECT jsonb_array_elements_text(${p(j(v.rooms), "::text::jsonb")}))`);
      where.push(`(${visible.join(" OR ")})`);
    }
    if (query.after) {
      // Newest first: the next page holds sessions that started earlier (ties broken by id).
      where.push(`(started_at, id) < (${p(query.after.startedAt)}::bigint, ${p(query.after.id)}::text)`);
    }
    const sqlText = `SELECT ${SESSION_SELECT} FROM sessions ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY started_at DESC, id DESC LIMIT ${p(query.limit)}`;
    const rows = await guard(() => this.sql.unsafe(sqlText, params));
    return rows.map((r: Record<string, unknown>) => sessionFromPgRow(this.cipher, r));
  }

  async *iterateMessages(sessionId: string, pageSize = 1000): AsyncGenerator<Message[]> {
    let after = 0;
    for (;;) {
      const page = await this.messagesAfter(sessionId, after, pageSize);
      if (page.length === 0) return;
      yield page;
      after = page[page.length - 1]!.seq;
      if (page.length < pageSize) return;
    }
  }

  /** Whether the server answers and accepts writes (not a read-only standby), within probeTimeoutMs. */
  async probe(): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const answer = this.sql.unsafe("SELECT NOT pg_is_in_recovery() AS writable");
      const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), this.probeTimeoutMs)));
      const rows = await Promise.race([answer, late]);
      answer.catch(() => {});
      return rows !== null && rows[0]?.writable === true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async addAssistantMetrics(sessionId: string, delta: { messages: number; responseTimeMs?: number }): Promise<void> {
    if (this.queued.has(sessionId)) await this.commits.flush();
    const timed = delta.responseTimeMs === undefined ? 0 : 1;
    await guard(() =>
      this.sql.unsafe(
        `UPDATE sessions SET assistant_messages = assistant_messages + $2, response_time_sum_ms = response_time_sum_ms + $3,
         response_time_count = response_time_count + $4 WHERE id = $1`,
        [sessionId, delta.messages, delta.responseTimeMs ?? 0, timed],
      ),
    );
  }

  /** Commits what is queued, then closes the pool. */
  async close(): Promise<void> {
    await this.commits.flush();
    await this.sql.close();
  }

  private async commitPendingSessions(): Promise<void> {
    if (this.queued.size > 0) await this.commits.flush();
  }

  /**
   * One transaction for the batch: insert queued sessions, lock every touched session row in id order (so two
   * nodes never deadlock), find repeated client ids, assign seqs from the locked heads, insert messages and
   * participants, bump the session rows. Rolled back as a whole when any statement fails: no seq is used up.
   */
  private async commitBatch(items: Work[]): Promise<Outcome[]> {
    const started = performance.now();
    let stage = "before-commit" as "before-commit" | "commit";
    let stored = 0;
    try {
      const attempt = (checkRepeats: boolean) =>
        this.sql.begin(async (tx) => {
          const result = await writeBatch(tx as unknown as SQL, items, checkRepeats, this.batch);
          stored = result.stored;
          stage = "commit";
          return result.outcomes;
        });
      let outcomes: Outcome[];
      try {
        outcomes = await attempt(false);
      } catch (e) {
        if (!(e instanceof RepeatSeen)) throw e;
        // Rolled back, seqs unused: again, this time looking the repeated client ids up first.
        outcomes = await attempt(true);
      }
      if (this.onCommit && stored > 0) this.onCommit(stored, (performance.now() - started) / 1000);
      return outcomes;
    } catch (e) {
      // A lost connection once COMMIT was sent leaves the outcome unknown: never retried, never reported as "not saved".
      if (stage === "commit" && isUnavailable(e)) throw new BatchFailure(false, new CommitLost(e));
      throw new BatchFailure(stage === "before-commit" && isUnavailable(e), e);
    }
  }

  /** Messages of one batch mostly share their millisecond: one ISO string for each run of equal times. */
  private isoOf(ms: number): string {
    if (ms !== this.isoMs) {
      this.isoMs = ms;
      this.iso = new Date(ms).toISOString();
    }
    return this.iso;
  }
}


/** The connection broke after COMMIT was sent. */
class CommitLost extends Error {
  constructor(cause: unknown) {
    super("connection lost during COMMIT", { cause });
  }
}
