// One group-commit batch of PgSessionStore inside its transaction: queued sessions, the session rows locked in id
// order, seqs assigned from the locked heads, messages and participants inserted, each session row bumped once,
// and (webhooks on) the batch's lifecycle events written under those locks.
import type { SQL } from "bun";
import type { TransactionRecorder } from "../db/commit-hooks.ts";
import { messageFromRow, sealMessage } from "../db/message-codec.ts";
import type { FieldCipher } from "../privacy/field-cipher.ts";
import { SessiondError } from "../protocol/errors.ts";
import type { Message } from "../protocol/types.ts";
import type { AppendInput, AppendResult, SessionRecord } from "../sessions/store.ts";
import type { PgOutcome } from "./group-commit.ts";
import { messageRowFromPg, SESSION_RECORDSET, sessionToPgRow } from "./rows.ts";

export interface SessionWork {
  op: "session";
  record: SessionRecord;
}
export interface ParticipantWork {
  op: "participant";
  sessionId: string;
  userId: string;
  at: number;
}
export interface FenceWork {
  op: "fence";
}
export type Work = AppendInput | SessionWork | ParticipantWork | FenceWork;
export type WorkResult = AppendResult | boolean;
export type Outcome = PgOutcome<WorkResult, SessiondError>;

export const FENCE: FenceWork = { op: "fence" };
export const opOf = (w: Work): string | undefined => (w as { op?: string }).op;
export const notFound = () => new SessiondError("not_found", "No such session.");
const ended = () => new SessiondError("session_ended", "The session has ended; it is read-only.");
export const conflictOf = (r: SessionRecord) => new SessiondError("conflict", r.room ? "The room already has an active session." : "A session with that id exists.");
/** A JS value as a jsonb parameter (a string cast straight to jsonb would be JSON-encoded once more). */
export const j = (value: unknown): string => JSON.stringify(value);

const MESSAGE_RECORDSET = `x(id text, session_id text, seq bigint, user_id text, role text, kind text, content text, metadata text,
  client_msg_id text, created_at bigint)`;

/** What a batch needs of its store. */
export interface BatchContext {
  cipher: FieldCipher;
  /** The ISO time of an epoch ms (the store keeps the last one: a batch mostly shares its millisecond). */
  isoOf(ms: number): string;
  outbox?: TransactionRecorder<SQL>;
}

/** The optimistic pass met a stored client id (a retry): roll back and look them up. */
export class RepeatSeen extends Error {}

/**
 * `checkRepeats` false is the optimistic pass: client ids are not looked up, the insert skips a repeat instead, and
 * a skipped row (its seq would be a gap) throws RepeatSeen to roll back for a second pass that looks them up.
 */
export async function writeBatch(tx: SQL, items: Work[], checkRepeats: boolean, ctx: BatchContext): Promise<{ outcomes: Outcome[]; stored: number }> {
  const outcomes: Outcome[] = new Array(items.length);
  // 1. Queued sessions. ON CONFLICT DO NOTHING covers the id and the room's one active session (also when another
  // node inserts it concurrently: this statement waits for that transaction and then skips the row).
  const insertedAt = new Map<string, number>();
  const sessionItems: number[] = [];
  for (let i = 0; i < items.length; i++) if (opOf(items[i]!) === "session") sessionItems.push(i);
  if (sessionItems.length > 0) {
    const rows = sessionItems.map((i) => sessionToPgRow(ctx.cipher, (items[i] as SessionWork).record));
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
        outcomes[i] = { ok: true, value: { message: messageFromRow(ctx.cipher, messageRowFromPg(stored)), duplicate: true } };
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
    const sealed = sealMessage(ctx.cipher, a.sessionId, seq, a.content, a.metadata === undefined ? null : JSON.stringify(a.metadata));
    newRows.push({
      id: a.id, session_id: a.sessionId, seq, user_id: a.userId, role: a.role, kind: a.kind, content: sealed.content,
      metadata: sealed.metadata, client_msg_id: a.clientMsgId ?? null, created_at: a.createdAt,
    });
    const message: Message = { id: a.id, seq, session: a.sessionId, userId: a.userId, role: a.role, kind: a.kind, content: a.content, createdAt: ctx.isoOf(a.createdAt) };
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
  if (ctx.outbox) await recordBatch(tx, items, outcomes, ctx.outbox);
  return { outcomes, stored: newRows.length };
}

/**
 * Webhook events of the batch, in the order its items were queued (a session before what joins and posts to it),
 * written after the session rows were locked and bumped: within a session, event order is commit order.
 */
async function recordBatch(tx: SQL, items: Work[], outcomes: Outcome[], outbox: TransactionRecorder<SQL>): Promise<void> {
  const recorded = outbox.begin();
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
