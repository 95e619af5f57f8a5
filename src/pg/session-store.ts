// SessionStorage over PostgreSQL (Bun.SQL): group-committed appends, sessions and participants per node, with seq
// assigned inside the transaction under a row lock on each session, so writers on different nodes serialise.
import { QueuedSessions } from "../sessions/queued-sessions.ts";
import type { SQL } from "bun";
import { SessiondError } from "../protocol/errors.ts";
import type { Message } from "../protocol/types.ts";
import type {
  AppendCallback,
  AppendInput,
  AppendResult,
  SessionListQuery,
  SessionPatch,
  SessionRecord,
  SessionStorage,
} from "../sessions/store.ts";
import type { TransactionRecorder } from "../db/commit-hooks.ts";
import { PLAINTEXT, type FieldCipher } from "../privacy/field-cipher.ts";
import { aad } from "../privacy/fields.ts";
import { messageFromRow, sealMessage } from "../db/message-codec.ts";
import { BatchFailure, PgGroupCommit, type PgGroupCommitOptions, type PgOutcome } from "./group-commit.ts";
import { commitUnknown, guard, isUnavailable, notSaved, sqlState, unavailable } from "./faults.ts";
import { messageRowFromPg, SESSION_RECORDSET, SESSION_SELECT, sessionFromPgRow, sessionToPgRow } from "./rows.ts";

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

interface SessionWork {
  op: "session";
  record: SessionRecord;
}
interface ParticipantWork {
  op: "participant";
  sessionId: string;
  userId: string;
  at: number;
}
interface FenceWork {
  op: "fence";
}
type Work = AppendInput | SessionWork | ParticipantWork | FenceWork;
type WorkResult = AppendResult | boolean;
type Outcome = PgOutcome<WorkResult, SessiondError>;

const FENCE: FenceWork = { op: "fence" };
const opOf = (w: Work): string | undefined => (w as { op?: string }).op;
const notFound = () => new SessiondError("not_found", "No such session.");
const ended = () => new SessiondError("session_ended", "The session has ended; it is read-only.");
const conflictOf = (r: SessionRecord) => new SessiondError("conflict", r.room ? "The room already has an active session." : "A session with that id exists.");
/** A JS value as a jsonb parameter (a string cast straight to jsonb would be JSON-encoded once more). */
const j = (value: unknown): string => JSON.stringify(value);

const MESSAGE_RECORDSET = `x(id text, session_id text, seq bigint, user_id text, role text, kind text, content text, metadata text,
  client_msg_id text, created_at bigint)`;

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

  constructor(
    private readonly sql: SQL,
    options: PgStoreOptions = {},
  ) {
    this.cipher = options.cipher ?? PLAINTEXT;
    this.probeTimeoutMs = options.probeTimeoutMs ?? 1000;
    this.onCommit = options.onCommit;
    this.archiveJobs = options.archiveJobs === true;
    this.outbox = options.outbox;
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
          const result = await this.writeBatch(tx as unknown as SQL, items, checkRepeats);
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

  /**
   * `checkRepeats` false is the optimistic pass: client ids are not looked up, the insert skips a repeat instead, and
   * a skipped row (its seq would be a gap) throws RepeatSeen to roll back for a second pass that looks them up.
   */
  private async writeBatch(tx: SQL, items: Work[], checkRepeats: boolean): Promise<{ outcomes: Outcome[]; stored: number }> {
    const outcomes: Outcome[] = new Array(items.length);
    // 1. Queued sessions. ON CONFLICT DO NOTHING covers the id and the room's one active session (also when another
    // node inserts it concurrently: this statement waits for that transaction and then skips the row).
    const insertedAt = new Map<string, number>();
    const sessionItems: number[] = [];
    for (let i = 0; i < items.length; i++) if (opOf(items[i]!) === "session") sessionItems.push(i);
    if (sessionItems.length > 0) {
      const rows = sessionItems.map((i) => sessionToPgRow(this.cipher, (items[i] as SessionWork).record));
      const inserted = await tx.unsafe(
        `INSERT INTO sessions SELECT * FROM jsonb_to_recordset($1::text::jsonb) AS ${SESSION_RECORDSET} ON CONFLICT DO NOTHING RETURNING id`,
        [j(rows)],
      );
      const ok = new Set(inserted.map((r: { id: string }) => r.id));
      for (const i of sessionItems) {
        const record = (items[i] as SessionWork).record;
        if (ok.has(record.id)) {
          insertedAt.set(record.id, i);
          outcomes[i] = { ok: true, value: true };
        } else outcomes[i] = { ok: false, error: conflictOf(record) };
      }
    }
    // 2. Lock the sessions that appends and participants touch; their heads come from the locked rows.
    const touchedIds = new Set<string>();
    const keys: Array<{ session_id: string; user_id: string; client_msg_id: string }> = [];
    for (const item of items) {
      const op = opOf(item);
      if (op === undefined) {
        const a = item as AppendInput;
        touchedIds.add(a.sessionId);
        if (a.clientMsgId !== undefined) keys.push({ session_id: a.sessionId, user_id: a.userId, client_msg_id: a.clientMsgId });
      } else if (op === "participant") touchedIds.add((item as ParticipantWork).sessionId);
    }
    const heads = new Map<string, { lastSeq: number; active: boolean; messages: number; participants: number; lastAt: number }>();
    if (touchedIds.size > 0) {
      const locked = await tx.unsafe(
        "SELECT id, last_seq, status FROM sessions WHERE id IN (SELECT jsonb_array_elements_text($1::text::jsonb)) ORDER BY id FOR UPDATE",
        [j([...touchedIds])],
      );
      for (const r of locked) heads.set(r.id, { lastSeq: Number(r.last_seq), active: r.status === "active", messages: 0, participants: 0, lastAt: 0 });
    }
    // 3. Client ids already stored (by this node or another): read after the lock, so every earlier writer committed.
    // Only on the second pass: a repeat is rare, and the optimistic insert notices it (see writeBatch's comment).
    const existing = new Map<string, Record<string, unknown>>();
    if (checkRepeats && keys.length > 0) {
      const rows = await tx.unsafe(
        `SELECT m.* FROM messages m JOIN jsonb_to_recordset($1::text::jsonb) AS k(session_id text, user_id text, client_msg_id text)
         ON m.session_id = k.session_id AND m.user_id = k.user_id AND m.client_msg_id = k.client_msg_id`,
        [j(keys)],
      );
      for (const r of rows) existing.set(`${r.session_id}\0${r.user_id}\0${r.client_msg_id}`, r);
    }
    // 4. Seqs, in arrival order. A session queued in this batch exists only for items queued after it.
    const exists = (id: string, at: number) => heads.has(id) && (!insertedAt.has(id) || insertedAt.get(id)! < at);
    const newRows: Array<Record<string, unknown>> = [];
    const fresh = new Map<string, Message>();
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (opOf(item) !== undefined) continue;
      const a = item as AppendInput;
      const head = heads.get(a.sessionId);
      if (head === undefined || !exists(a.sessionId, i)) {
        outcomes[i] = { ok: false, error: notFound() };
        continue;
      }
      if (!head.active) {
        outcomes[i] = { ok: false, error: ended() };
        continue;
      }
      if (a.clientMsgId !== undefined) {
        const key = `${a.sessionId}\0${a.userId}\0${a.clientMsgId}`;
        const stored = existing.get(key);
        if (stored !== undefined) {
          outcomes[i] = { ok: true, value: { message: messageFromRow(this.cipher, messageRowFromPg(stored)), duplicate: true } };
          continue;
        }
        const earlier = fresh.get(key);
        if (earlier !== undefined) {
          outcomes[i] = { ok: true, value: { message: earlier, duplicate: true } };
          continue;
        }
      }
      const seq = head.lastSeq + 1;
      head.lastSeq = seq;
      head.messages++;
      if (a.createdAt > head.lastAt) head.lastAt = a.createdAt;
      const sealed = sealMessage(this.cipher, a.sessionId, seq, a.content, a.metadata === undefined ? null : JSON.stringify(a.metadata));
      newRows.push({
        id: a.id, session_id: a.sessionId, seq, user_id: a.userId, role: a.role, kind: a.kind, content: sealed.content,
        metadata: sealed.metadata, client_msg_id: a.clientMsgId ?? null, created_at: a.createdAt,
      });
      const message: Message = { id: a.id, seq, session: a.sessionId, userId: a.userId, role: a.role, kind: a.kind, content: a.content, createdAt: this.isoOf(a.createdAt) };
      if (a.metadata !== undefined) message.metadata = a.metadata;
      if (a.clientMsgId !== undefined) {
        message.clientMsgId = a.clientMsgId;
        fresh.set(`${a.sessionId}\0${a.userId}\0${a.clientMsgId}`, message);
      }
      outcomes[i] = { ok: true, value: { message, duplicate: false } };
    }
    if (newRows.length > 0) {
      const inserted = await tx.unsafe(
        `INSERT INTO messages (id, session_id, seq, user_id, role, kind, content, metadata, client_msg_id, created_at)
         SELECT * FROM jsonb_to_recordset($1::text::jsonb) AS ${MESSAGE_RECORDSET}
         ON CONFLICT (session_id, user_id, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING`,
        [j(newRows)],
      );
      if (inserted.count !== newRows.length) {
        if (checkRepeats) throw new Error("a client id repeated under the session lock");
        throw new RepeatSeen();
      }
    }
    // 5. Participants: the first of a (session, user) in the batch is the one that may be new.
    const participantRows: Array<{ session_id: string; user_id: string; first_seen_at: number }> = [];
    const firstOf = new Map<string, number>();
    for (let i = 0; i < items.length; i++) {
      if (opOf(items[i]!) !== "participant") continue;
      const p = items[i] as ParticipantWork;
      if (!exists(p.sessionId, i)) {
        outcomes[i] = { ok: false, error: notFound() };
        continue;
      }
      const key = `${p.sessionId}\0${p.userId}`;
      if (firstOf.has(key)) {
        outcomes[i] = { ok: true, value: false };
        continue;
      }
      firstOf.set(key, i);
      participantRows.push({ session_id: p.sessionId, user_id: p.userId, first_seen_at: p.at });
    }
    if (participantRows.length > 0) {
      const added = await tx.unsafe(
        `INSERT INTO session_participants (session_id, user_id, first_seen_at)
         SELECT * FROM jsonb_to_recordset($1::text::jsonb) AS x(session_id text, user_id text, first_seen_at bigint)
         ON CONFLICT DO NOTHING RETURNING session_id, user_id`,
        [j(participantRows)],
      );
      const addedKeys = new Set(added.map((r: { session_id: string; user_id: string }) => `${r.session_id}\0${r.user_id}`));
      for (const [key, i] of firstOf) {
        const isNew = addedKeys.has(key);
        outcomes[i] = { ok: true, value: isNew };
        if (isNew) heads.get((items[i] as ParticipantWork).sessionId)!.participants++;
      }
    }
    // 6. Each touched session's row once.
    const bumps: Array<{ id: string; last_seq: number; messages: number; participants: number; last_at: number }> = [];
    for (const [id, h] of heads) if (h.messages > 0 || h.participants > 0) bumps.push({ id, last_seq: h.lastSeq, messages: h.messages, participants: h.participants, last_at: h.lastAt });
    if (bumps.length > 0) {
      await tx.unsafe(
        `UPDATE sessions s SET last_seq = x.last_seq, message_count = s.message_count + x.messages,
           participant_count = s.participant_count + x.participants, last_activity_at = greatest(s.last_activity_at, x.last_at)
         FROM jsonb_to_recordset($1::text::jsonb) AS x(id text, last_seq bigint, messages bigint, participants integer, last_at bigint)
         WHERE s.id = x.id`,
        [j(bumps)],
      );
    }
    for (let i = 0; i < items.length; i++) if (outcomes[i] === undefined) outcomes[i] = { ok: true, value: true };
    if (this.outbox) await this.recordBatch(tx, items, outcomes);
    return { outcomes, stored: newRows.length };
  }

  /**
   * Webhook events of the batch, in the order its items were queued (a session before what joins and posts to it),
   * written after the session rows were locked and bumped: within a session, event order is commit order.
   */
  private async recordBatch(tx: SQL, items: Work[], outcomes: Outcome[]): Promise<void> {
    const recorded = this.outbox!.begin();
    const { hooks } = recorded;
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      const outcome = outcomes[i]!;
      if (!outcome.ok) continue;
      const op = opOf(item);
      if (op === "session") hooks.sessionStarted?.((item as SessionWork).record);
      else if (op === "participant") {
        const p = item as ParticipantWork;
        if (outcome.value === true) hooks.participantAdded?.(p.sessionId, p.userId, p.at);
      } else if (op === undefined) {
        const appended = outcome.value as AppendResult;
        if (!appended.duplicate) hooks.messageCommitted?.(appended.message);
      }
    }
    await recorded.flush(tx);
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

/** The optimistic pass met a stored client id (a retry): roll back and look them up. */
class RepeatSeen extends Error {}

/** The connection broke after COMMIT was sent. */
class CommitLost extends Error {
  constructor(cause: unknown) {
    super("connection lost during COMMIT", { cause });
  }
}
