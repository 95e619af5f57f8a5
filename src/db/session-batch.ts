// What one group-commit transaction of the session store does: session inserts, participant rows and message
// appends, in arrival order, with each touched session's row written once at the end. It keeps every active
// session's head (its last seq) in memory, so a batch reads no session row it has seen before.
import type { Database, Statement } from "bun:sqlite";
import { SessiondError } from "../protocol/errors.ts";
import type { Message } from "../protocol/types.ts";
import type { AppendInput, AppendResult, SessionRecord } from "../sessions/store.ts";
import type { FieldCipher } from "../privacy/field-cipher.ts";
import type { CommitHooks } from "./commit-hooks.ts";
import { messageFromRow, sealMessage, type MessageRow } from "./message-codec.ts";
import { INSERT_SESSION_SQL, sessionParams, type SessionParams } from "./session-row.ts";

/** A session row to insert (a join that opens its session, or `open`). */
export interface SessionWork {
  op: "session";
  record: SessionRecord;
}

/** A user who joined or posted for the first time in a session. */
export interface ParticipantWork {
  op: "participant";
  sessionId: string;
  userId: string;
  at: number;
}

/** Writes nothing: its callback runs after those of everything queued before it. */
export interface FenceWork {
  op: "fence";
}

/** One queued item: an append (an AppendInput as the domain gives it), a session insert, a participant or a fence. */
export type Work = AppendInput | SessionWork | ParticipantWork | FenceWork;

/** Per item: the append's result, the session insert's `true`, or whether the participant was new. */
export type WorkResult = AppendResult | boolean;

export type Outcome = { ok: true; value: WorkResult } | { ok: false; error: SessiondError };

/** What a batch adds to one session's row. */
interface Touch {
  lastSeq: number;
  messages: number;
  participants: number;
  lastAt: number;
}

/** Heads of sessions kept at most; past it the map starts over (a head is one indexed read away). */
const MAX_HEADS = 200_000;

const notFound = () => new SessiondError("not_found", "No such session.");
const FENCE: Outcome = { ok: true, value: true };

export class SessionBatchWriter {
  /** Last seq of each active session this process has written to or created. */
  private readonly heads = new Map<string, number>();
  /** What the batch in progress (or the last one) touched, for rolledBack(). */
  private lastBatch: { items: readonly Work[]; touched: Map<string, Touch> } | null = null;
  private readonly stmt: {
    head: Statement<{ last_seq: number; status: string }, [string]>;
    insertSession: Statement<unknown, SessionParams>;
    insertMessage: Statement<unknown, [string, string, number, string, string, string, string, string | null, string | null, number]>;
    messageByClientId: Statement<MessageRow, [string, string, string]>;
    addParticipant: Statement<unknown, [string, string, number]>;
    bumpSession: Statement<unknown, [number, number, number, number, string]>;
  };
  /** Messages stored by the last batch that committed (idempotent repeats not counted). */
  appended = 0;
  private isoMs = -1;
  private iso = "";

  constructor(
    sqlite: Database,
    private readonly cipher: FieldCipher,
    private readonly hooks: CommitHooks,
  ) {
    this.stmt = {
      head: sqlite.prepare("SELECT last_seq, status FROM sessions WHERE id = ?"),
      insertSession: sqlite.prepare(INSERT_SESSION_SQL),
      insertMessage: sqlite.prepare(
        `INSERT INTO messages (id, session_id, seq, user_id, role, kind, content, metadata, client_msg_id, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, user_id, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING`,
      ),
      messageByClientId: sqlite.prepare("SELECT * FROM messages WHERE session_id = ? AND user_id = ? AND client_msg_id = ?"),
      addParticipant: sqlite.prepare(
        "INSERT INTO session_participants (session_id, user_id, first_seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
      ),
      bumpSession: sqlite.prepare(
        `UPDATE sessions SET last_seq = max(last_seq, ?), message_count = message_count + ?, participant_count = participant_count + ?,
         last_activity_at = max(last_activity_at, ?) WHERE id = ?`,
      ),
    };
  }

  /** The session ended or is gone: its next append reads the row again (and finds it ended). */
  forget(sessionId: string): void {
    this.heads.delete(sessionId);
  }

  /** Runs inside one transaction: seq comes from the head, so a rolled-back batch leaves no gap (see rollback). */
  commit(items: readonly Work[]): Outcome[] {
    const touched = new Map<string, Touch>();
    this.lastBatch = { items, touched };
    const outcomes: Outcome[] = new Array(items.length);
    this.appended = 0;
    try {
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        const op = (item as { op?: string }).op;
        outcomes[i] =
          op === undefined ? this.append(item as AppendInput, touched)
          : op === "session" ? this.insertSession((item as SessionWork).record)
          : op === "participant" ? this.addParticipant(item as ParticipantWork, touched)
          : FENCE;
      }
      for (const [id, t] of touched) if (t.messages > 0 || t.participants > 0) this.stmt.bumpSession.run(t.lastSeq, t.messages, t.participants, t.lastAt, id);
    } catch (e) {
      this.rolledBack();
      throw e;
    }
    return outcomes;
  }

  /**
   * The last batch's transaction rolled back — a statement failed, or the COMMIT itself (SQLITE_FULL surfaces
   * there): the heads it advanced are not what is stored, so they are read from the rows again.
   */
  rolledBack(): void {
    if (this.lastBatch === null) return;
    const { items, touched } = this.lastBatch;
    this.lastBatch = null;
    for (const id of touched.keys()) this.heads.delete(id);
    for (const item of items) if ((item as { op?: string }).op === "session") this.heads.delete((item as SessionWork).record.id);
  }

  private insertSession(record: SessionRecord): Outcome {
    try {
      this.stmt.insertSession.run(...sessionParams(this.cipher, record));
    } catch (e) {
      if (!isKeyConflict(e)) throw e;
      // Only this statement was undone; the rest of the batch goes on.
      return { ok: false, error: new SessiondError("conflict", record.room ? "The room already has an active session." : "A session with that id exists.") };
    }
    this.hooks.sessionStarted?.(record);
    if (this.heads.size >= MAX_HEADS) this.heads.clear();
    this.heads.set(record.id, record.lastSeq);
    return { ok: true, value: true };
  }

  private addParticipant(p: ParticipantWork, touched: Map<string, Touch>): Outcome {
    let changes: number;
    try {
      changes = this.stmt.addParticipant.run(p.sessionId, p.userId, p.at).changes;
    } catch (e) {
      if (!isMissingParent(e)) throw e;
      this.heads.delete(p.sessionId);
      return { ok: false, error: notFound() };
    }
    if (changes === 0) return { ok: true, value: false };
    const t = this.touch(p.sessionId, touched);
    if (t === null) return { ok: true, value: true };
    t.participants++;
    this.hooks.participantAdded?.(p.sessionId, p.userId, p.at);
    return { ok: true, value: true };
  }

  private append(item: AppendInput, touched: Map<string, Touch>): Outcome {
    const t = this.touch(item.sessionId, touched);
    if (t === null) return { ok: false, error: notFound() };
    if (t.lastSeq < 0) return { ok: false, error: new SessiondError("session_ended", "The session has ended; it is read-only.") };
    const seq = t.lastSeq + 1;
    const stored = sealMessage(this.cipher, item.sessionId, seq, item.content, item.metadata === undefined ? null : JSON.stringify(item.metadata));
    let changes: number;
    try {
      changes = this.stmt.insertMessage.run(item.id, item.sessionId, seq, item.userId, item.role, item.kind, stored.content, stored.metadata, item.clientMsgId ?? null, item.createdAt).changes;
    } catch (e) {
      if (!isMissingParent(e)) throw e;
      // The row went away under a head this process still held (an erasure on the same connection).
      this.heads.delete(item.sessionId);
      touched.delete(item.sessionId);
      return { ok: false, error: notFound() };
    }
    if (changes === 0) {
      const original = this.stmt.messageByClientId.get(item.sessionId, item.userId, item.clientMsgId!)!;
      return { ok: true, value: { message: messageFromRow(this.cipher, original), duplicate: true } };
    }
    t.lastSeq = seq;
    t.messages++;
    this.appended++;
    if (item.createdAt > t.lastAt) t.lastAt = item.createdAt;
    this.heads.set(item.sessionId, seq);
    const message: Message = {
      id: item.id,
      seq,
      session: item.sessionId,
      userId: item.userId,
      role: item.role,
      kind: item.kind,
      content: item.content,
      createdAt: this.isoOf(item.createdAt),
    };
    if (item.metadata !== undefined) message.metadata = item.metadata;
    if (item.clientMsgId !== undefined) message.clientMsgId = item.clientMsgId;
    // Inside the batch transaction: the outbox row commits (or rolls back) with the message.
    this.hooks.messageCommitted?.(message);
    return { ok: true, value: { message, duplicate: false } };
  }

  /**
   * The batch's entry for a session, reading its head from the row the first time this process meets it; null
   * when there is no such session. An ended session's entry has lastSeq -1 (its head is not kept).
   */
  private touch(id: string, touched: Map<string, Touch>): Touch | null {
    let t = touched.get(id);
    if (t !== undefined) return t;
    let lastSeq = this.heads.get(id);
    if (lastSeq === undefined) {
      const row = this.stmt.head.get(id);
      if (!row) return null;
      if (row.status === "active") {
        lastSeq = row.last_seq;
        if (this.heads.size >= MAX_HEADS) this.heads.clear();
        this.heads.set(id, lastSeq);
      } else lastSeq = -1;
    }
    t = { lastSeq, messages: 0, participants: 0, lastAt: 0 };
    touched.set(id, t);
    return t;
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

const codeOf = (e: unknown): string => (typeof e === "object" && e !== null ? String((e as { code?: unknown }).code ?? "") : "");

export function isConstraintError(e: unknown): boolean {
  return codeOf(e).startsWith("SQLITE_CONSTRAINT");
}

/** The session row's id or its room's one active session already exists. */
const isKeyConflict = (e: unknown): boolean => codeOf(e) === "SQLITE_CONSTRAINT_PRIMARYKEY" || codeOf(e) === "SQLITE_CONSTRAINT_UNIQUE";

/** The row refers to a session that is not there (any other constraint, a trigger's for one, fails the batch). */
const isMissingParent = (e: unknown): boolean => codeOf(e) === "SQLITE_CONSTRAINT_FOREIGNKEY";
