// Erasure and export in PostgreSQL, shared by every node: a session erased with everything that refers to it (and
// its id recorded in erased_sessions, and its audit entry, in the same transaction), a user's traces removed from
// other people's sessions (tombstones of the same seq), a user's messages for an export, retention's due list.
// The DELETE of the session row is the claim: when two nodes erase the same session, one finds nothing.
import type { SQL } from "bun";
import type { Message } from "../protocol/types.ts";
import type { AuditRecord } from "../privacy/audit-chain.ts";
import { DAY_MS, namesUser, TOMBSTONE } from "../privacy/erasure.ts";
import { PLAINTEXT, type FieldCipher } from "../privacy/field-cipher.ts";
import { aad } from "../privacy/fields.ts";
import type { SessionErasure, SharedPrivacyStorage, UserTraces } from "../privacy/store.ts";
import { messageFromRow, sealMessage } from "../db/message-codec.ts";
import { appendIn } from "./audit-store.ts";
import { messageRowFromPg } from "./rows.ts";

type Row = Record<string, unknown>;
type Tx = Pick<SQL, "unsafe">;

const RISK_ORDER = `CASE risk_level WHEN 'none' THEN 0 WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 END`;

export class PgPrivacyStore implements SharedPrivacyStorage {
  /** Whether webhook_outbox exists (a later migration installs it); asked once. */
  private outbox: Promise<boolean> | null = null;

  constructor(
    private readonly sql: SQL,
    private readonly cipher: FieldCipher = PLAINTEXT,
  ) {}

  private hasOutbox(): Promise<boolean> {
    this.outbox ??= this.sql.unsafe("SELECT to_regclass('webhook_outbox') IS NOT NULL AS present").then((r: Row[]) => r[0]?.present === true);
    return this.outbox;
  }

  /**
   * Deletes a session and every row that refers to it, records its id as erased and appends `audit(erasure)` to
   * the trail, all in one transaction; null when there is no such session (or another node erased it first).
   */
  async eraseSession(id: string, at: number, audit?: (e: SessionErasure) => AuditRecord): Promise<SessionErasure | null> {
    const outbox = await this.hasOutbox();
    return await this.sql.begin(async (tx) => {
      // Locks the row: a concurrent erasure of the same id waits here, then finds it gone.
      const [row]: Row[] = await tx.unsafe("SELECT owner_id, started_at FROM sessions WHERE id = $1 FOR UPDATE", [id]);
      if (!row) return null;
      const count = async (table: string) => Number(((await tx.unsafe(`SELECT count(*)::int AS n FROM ${table} WHERE session_id = $1`, [id])) as Row[])[0]!.n);
      const result: SessionErasure = {
        sessionId: id,
        ownerId: row.owner_id as string,
        startedAt: Number(row.started_at),
        messages: await count("messages"),
        analyses: await count("message_analyses"),
        alerts: await count("alerts"),
        webhookEvents: 0,
        // Read before the cascade takes the job row; the caller removes the files once this commits.
        archivePaths: ((await tx.unsafe("SELECT path FROM archive_jobs WHERE session_id = $1 AND path IS NOT NULL AND path <> ''", [id])) as Row[]).map(
          (r) => r.path as string,
        ),
      };
      // The outbox has no foreign key to sessions (events outlive rows by design).
      if (outbox) result.webhookEvents = ((await tx.unsafe("DELETE FROM webhook_outbox WHERE session_id = $1 RETURNING 1", [id])) as Row[]).length;
      // Messages, participants, analyses, alerts, assistant streams and archive jobs go by ON DELETE CASCADE.
      await tx.unsafe("DELETE FROM sessions WHERE id = $1", [id]);
      await tx.unsafe("INSERT INTO erased_sessions (id, erased_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", [id, at]);
      if (audit) await appendIn(tx, [audit(result)]);
      return result;
    });
  }

  /** Whether a session of this id was erased, by any node. */
  async wasErased(id: string): Promise<boolean> {
    return ((await this.sql.unsafe("SELECT 1 FROM erased_sessions WHERE id = $1", [id])) as Row[]).length > 0;
  }

  /** Sessions erased (by any node) after `afterMs`: for a node catching up on erasures it did not hear about. */
  async erasedSince(afterMs: number): Promise<Array<{ id: string; erasedAt: number }>> {
    const rows: Row[] = await this.sql.unsafe("SELECT id, erased_at FROM erased_sessions WHERE erased_at > $1 ORDER BY erased_at", [afterMs]);
    return rows.map((r) => ({ id: r.id as string, erasedAt: Number(r.erased_at) }));
  }

  /** The sessions a user owns, and those of others they took part in (joined or posted). */
  async sessionsOf(userId: string): Promise<{ owned: string[]; tookPartIn: string[] }> {
    const owned: Row[] = await this.sql.unsafe("SELECT id FROM sessions WHERE owner_id = $1 ORDER BY started_at, id", [userId]);
    const others: Row[] = await this.sql.unsafe(
      `SELECT s.id FROM session_participants p JOIN sessions s ON s.id = p.session_id
       WHERE p.user_id = $1 AND s.owner_id <> $1 ORDER BY s.started_at, s.id`,
      [userId],
    );
    return { owned: owned.map((r) => r.id as string), tookPartIn: others.map((r) => r.id as string) };
  }

  /**
   * In each of `sessionIds` (other people's sessions), in one transaction: the user's messages become tombstones
   * (same id and seq, content "", metadata {"erased":true}, no client id), their analyses, alerts, webhook events
   * and participant row go, and they leave the members list; `audit` is appended in the same commit. Idempotent.
   */
  async eraseUserTraces(userId: string, sessionIds: readonly string[], at: number, audit?: (t: UserTraces) => AuditRecord[]): Promise<UserTraces> {
    const outbox = await this.hasOutbox();
    const tombstoneMeta = JSON.stringify(TOMBSTONE.metadata);
    return await this.sql.begin(async (tx) => {
      const out: UserTraces = { sessions: [], messagesTombstoned: 0, participantRows: 0, analyses: 0, alerts: 0, webhookEvents: 0 };
      const touched = new Set<string>();
      const analysesChanged = new Set<string>();
      for (const sessionId of [...sessionIds].sort()) {
        // Same lock order as appends (the session row first), so erasure and a concurrent post do not deadlock.
        const [live]: Row[] = await tx.unsafe("SELECT 1 FROM sessions WHERE id = $1 FOR NO KEY UPDATE", [sessionId]);
        if (!live) continue;
        const own: Row[] = await tx.unsafe("SELECT seq FROM messages WHERE session_id = $1 AND user_id = $2 AND erased_at IS NULL ORDER BY seq", [sessionId, userId]);
        for (const r of own) {
          const seq = Number(r.seq);
          const stored = sealMessage(this.cipher, sessionId, seq, TOMBSTONE.content, tombstoneMeta);
          await tx.unsafe("UPDATE messages SET content = $1, metadata = $2, client_msg_id = NULL, erased_at = $3 WHERE session_id = $4 AND seq = $5", [stored.content, stored.metadata, at, sessionId, seq]);
          out.messagesTombstoned++;
          touched.add(sessionId);
          if (((await tx.unsafe("DELETE FROM message_analyses WHERE session_id = $1 AND seq = $2 RETURNING 1", [sessionId, seq])) as Row[]).length > 0) {
            out.analyses++;
            analysesChanged.add(sessionId);
          }
        }
        if (((await tx.unsafe("DELETE FROM session_participants WHERE session_id = $1 AND user_id = $2 RETURNING 1", [sessionId, userId])) as Row[]).length > 0) {
          out.participantRows++;
          touched.add(sessionId);
          await tx.unsafe("UPDATE sessions SET participant_count = greatest(0, participant_count - 1) WHERE id = $1", [sessionId]);
        }
        const unlisted: Row[] = await tx.unsafe("UPDATE sessions SET members = members - $1::text WHERE id = $2 AND members @> jsonb_build_array($1::text) RETURNING 1", [userId, sessionId]);
        if (unlisted.length > 0) touched.add(sessionId);
      }
      const alerted: Row[] = await tx.unsafe("DELETE FROM alerts WHERE user_id = $1 RETURNING session_id", [userId]);
      out.alerts = alerted.length;
      for (const r of alerted) touched.add(r.session_id as string);
      if (outbox && touched.size > 0) out.webhookEvents = await dropWebhookEventsOf(tx, this.cipher, userId, [...touched]);
      for (const sessionId of analysesChanged) await recomputeAnalysisAggregates(tx, sessionId);
      out.sessions = [...touched].sort();
      if (audit) await appendIn(tx, audit(out));
      return out;
    });
  }

  /** The user's own messages in a session, ascending, at most `limit` after `afterSeq` (for exports). */
  async userMessages(sessionId: string, userId: string, afterSeq: number, limit: number): Promise<Message[]> {
    const rows: Row[] = await this.sql.unsafe(
      "SELECT * FROM messages WHERE session_id = $1 AND user_id = $2 AND seq > $3 ORDER BY seq LIMIT $4",
      [sessionId, userId, afterSeq, limit],
    );
    return rows.map((r) => messageFromRow(this.cipher, messageRowFromPg(r)));
  }

  /** Ended sessions whose retention has run out at `now` (their own retention_days, else `serverDays`). Oldest first. */
  async retentionDue(now: number, serverDays: number | undefined, limit: number): Promise<string[]> {
    const rows: Row[] = await this.sql.unsafe(
      `SELECT id FROM sessions WHERE status <> 'active' AND ended_at IS NOT NULL
         AND coalesce(retention_days, $2::int) IS NOT NULL AND ended_at + coalesce(retention_days, $2::int)::bigint * ${DAY_MS} <= $1::bigint
       ORDER BY ended_at LIMIT $3`,
      [now, serverDays ?? null, limit],
    );
    return rows.map((r) => r.id as string);
  }
}

/** Outbox events of these sessions that name the user (their messages, alerts, joins). */
async function dropWebhookEventsOf(tx: Tx, cipher: FieldCipher, userId: string, sessionIds: string[]): Promise<number> {
  const rows: Row[] = await tx.unsafe("SELECT seq, id, payload FROM webhook_outbox WHERE session_id = ANY($1::text[])", [`{${sessionIds.map((s) => JSON.stringify(s)).join(",")}}`]);
  let n = 0;
  for (const r of rows) {
    if (!namesUser(cipher.open(r.payload as string, aad.webhookPayload(r.id as string)), userId)) continue;
    n += ((await tx.unsafe("DELETE FROM webhook_outbox WHERE seq = $1 RETURNING 1", [r.seq])) as Row[]).length;
  }
  return n;
}

/** SessionInfo.metrics' sentiment and risk after analyses were removed: recomputed from those that remain. */
async function recomputeAnalysisAggregates(tx: Tx, sessionId: string): Promise<void> {
  await tx.unsafe(
    `UPDATE sessions SET
       analyzed_count = (SELECT count(*) FROM message_analyses a WHERE a.session_id = sessions.id),
       sentiment_sum = coalesce((SELECT sum(sentiment) FROM message_analyses a WHERE a.session_id = sessions.id), 0),
       risk_level = (SELECT CASE max(${RISK_ORDER}) WHEN 0 THEN 'none' WHEN 1 THEN 'low' WHEN 2 THEN 'medium' WHEN 3 THEN 'high' END
                     FROM message_analyses a WHERE a.session_id = sessions.id)
     WHERE id = $1`,
    [sessionId],
  );
}
