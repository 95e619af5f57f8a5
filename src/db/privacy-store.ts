// Erasure and export in SQLite: a session erased with everything that refers to it, a user's traces removed
// from other people's sessions (tombstones of the same seq), a user's messages for an export, retention's due
// list, and the truncating checkpoint that takes erased pages out of the WAL. Each erasure is one transaction.
import type { Database } from "bun:sqlite";
import type { Message } from "../protocol/types.ts";
import type { FieldCipher } from "../privacy/field-cipher.ts";
import { aad } from "../privacy/fields.ts";
import { DAY_MS, namesUser, TOMBSTONE } from "../privacy/erasure.ts";
import type { PrivacyStorage, SessionErasure, UserTraces } from "../privacy/store.ts";
import { messageFromRow, sealMessage, type MessageRow } from "./message-codec.ts";

const RISK_ORDER = `CASE risk_level WHEN 'none' THEN 0 WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 END`;

export class PrivacyStore implements PrivacyStorage {
  private readonly tables: Set<string>;

  constructor(
    private readonly sqlite: Database,
    private readonly cipher: FieldCipher,
  ) {
    // Features install their tables with migrations; a table that is absent simply has nothing to erase.
    this.tables = new Set(sqlite.query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((r) => r.name));
  }

  private has(table: string): boolean {
    return this.tables.has(table);
  }

  private count(sql: string, ...params: Array<string | number>): number {
    return this.sqlite.query<{ n: number }, Array<string | number>>(sql).get(...params)?.n ?? 0;
  }

  /** Deletes a session and every row that refers to it; null when there is no such session. */
  eraseSession(id: string): SessionErasure | null {
    return this.sqlite.transaction((): SessionErasure | null => {
      const row = this.sqlite.query<{ owner_id: string; started_at: number }, [string]>("SELECT owner_id, started_at FROM sessions WHERE id = ?").get(id);
      if (!row) return null;
      const result: SessionErasure = {
        sessionId: id,
        ownerId: row.owner_id,
        startedAt: row.started_at,
        messages: this.count("SELECT count(*) AS n FROM messages WHERE session_id = ?", id),
        analyses: this.has("message_analyses") ? this.count("SELECT count(*) AS n FROM message_analyses WHERE session_id = ?", id) : 0,
        alerts: this.has("alerts") ? this.count("SELECT count(*) AS n FROM alerts WHERE session_id = ?", id) : 0,
        webhookEvents: 0,
        archivePaths: this.has("archive_jobs")
          ? this.sqlite.query<{ path: string }, [string]>("SELECT path FROM archive_jobs WHERE session_id = ? AND path IS NOT NULL").all(id).map((r) => r.path)
          : [],
      };
      // The outbox has no foreign key to sessions (events outlive rows by design); its deliveries cascade from it.
      if (this.has("webhook_outbox")) result.webhookEvents = this.sqlite.query<unknown, [string]>("DELETE FROM webhook_outbox WHERE session_id = ?").run(id).changes;
      // Messages, participants, analyses, alerts, assistant streams and archive jobs go by ON DELETE CASCADE.
      this.sqlite.query<unknown, [string]>("DELETE FROM sessions WHERE id = ?").run(id);
      return result;
    }).immediate();
  }

  /** The sessions a user owns, and those of others they took part in (joined or posted). */
  sessionsOf(userId: string): { owned: string[]; tookPartIn: string[] } {
    const owned = this.sqlite.query<{ id: string }, [string]>("SELECT id FROM sessions WHERE owner_id = ? ORDER BY started_at, id").all(userId).map((r) => r.id);
    const tookPartIn = this.sqlite
      .query<{ id: string }, [string, string]>(
        `SELECT s.id FROM session_participants p JOIN sessions s ON s.id = p.session_id
         WHERE p.user_id = ? AND s.owner_id <> ? ORDER BY s.started_at, s.id`,
      )
      .all(userId, userId)
      .map((r) => r.id);
    return { owned, tookPartIn };
  }

  /**
   * In each of `sessionIds` (other people's sessions): the user's messages become tombstones (same id and seq,
   * content "", metadata {"erased":true}, no client id), their analyses, alerts, webhook events and participant
   * row go, and they leave the members list. Running it again changes nothing.
   */
  eraseUserTraces(userId: string, sessionIds: readonly string[], at: number): UserTraces {
    const out: UserTraces = { sessions: [], messagesTombstoned: 0, participantRows: 0, analyses: 0, alerts: 0, webhookEvents: 0 };
    const tombstoneMeta = JSON.stringify(TOMBSTONE.metadata);
    const own = this.sqlite.prepare<{ seq: number }, [string, string]>("SELECT seq FROM messages WHERE session_id = ? AND user_id = ? AND erased_at IS NULL");
    const rewrite = this.sqlite.prepare<unknown, [string, string | null, number, string, number]>(
      "UPDATE messages SET content = ?, metadata = ?, client_msg_id = NULL, erased_at = ? WHERE session_id = ? AND seq = ?",
    );
    const dropAnalysis = this.has("message_analyses") ? this.sqlite.prepare<unknown, [string, number]>("DELETE FROM message_analyses WHERE session_id = ? AND seq = ?") : null;
    this.sqlite.transaction(() => {
      const touched = new Set<string>();
      const analysesChanged = new Set<string>();
      for (const sessionId of sessionIds) {
        for (const { seq } of own.all(sessionId, userId)) {
          const stored = sealMessage(this.cipher, sessionId, seq, TOMBSTONE.content, tombstoneMeta);
          rewrite.run(stored.content, stored.metadata, at, sessionId, seq);
          out.messagesTombstoned++;
          touched.add(sessionId);
          if (dropAnalysis && dropAnalysis.run(sessionId, seq).changes > 0) {
            out.analyses++;
            analysesChanged.add(sessionId);
          }
        }
        if (this.sqlite.query<unknown, [string, string]>("DELETE FROM session_participants WHERE session_id = ? AND user_id = ?").run(sessionId, userId).changes > 0) {
          out.participantRows++;
          touched.add(sessionId);
          this.sqlite.query<unknown, [string]>("UPDATE sessions SET participant_count = max(0, participant_count - 1) WHERE id = ?").run(sessionId);
        }
        const unlisted = this.sqlite
          .query<unknown, [string, string]>(
            `UPDATE sessions SET members = (SELECT coalesce(json_group_array(value), '[]') FROM json_each(sessions.members) WHERE value <> ?1)
             WHERE id = ?2 AND EXISTS (SELECT 1 FROM json_each(sessions.members) WHERE value = ?1)`,
          )
          .run(userId, sessionId).changes;
        if (unlisted > 0) touched.add(sessionId);
      }
      if (this.has("alerts")) {
        const alerted = this.sqlite.query<{ session_id: string }, [string]>("SELECT DISTINCT session_id FROM alerts WHERE user_id = ?").all(userId);
        out.alerts = this.sqlite.query<unknown, [string]>("DELETE FROM alerts WHERE user_id = ?").run(userId).changes;
        for (const r of alerted) touched.add(r.session_id);
      }
      if (this.has("webhook_outbox") && touched.size > 0) out.webhookEvents = this.dropWebhookEventsOf(userId, [...touched]);
      for (const sessionId of analysesChanged) this.recomputeAnalysisAggregates(sessionId);
      out.sessions = [...touched].sort();
    }).immediate();
    return out;
  }

  /** Outbox events of these sessions that name the user (their messages, alerts, joins). */
  private dropWebhookEventsOf(userId: string, sessionIds: string[]): number {
    const rows = this.sqlite
      .query<{ seq: number; id: string; payload: string }, string[]>(
        `SELECT seq, id, payload FROM webhook_outbox WHERE session_id IN (${sessionIds.map(() => "?").join(",")})`,
      )
      .all(...sessionIds);
    const drop = this.sqlite.prepare<unknown, [number]>("DELETE FROM webhook_outbox WHERE seq = ?");
    let n = 0;
    for (const r of rows) {
      if (namesUser(this.cipher.open(r.payload, aad.webhookPayload(r.id)), userId)) n += drop.run(r.seq).changes;
    }
    return n;
  }

  /** SessionInfo.metrics' sentiment and risk after analyses were removed: recomputed from those that remain. */
  private recomputeAnalysisAggregates(sessionId: string): void {
    this.sqlite
      .query<unknown, [string]>(
        `UPDATE sessions SET
           analyzed_count = (SELECT count(*) FROM message_analyses a WHERE a.session_id = sessions.id),
           sentiment_sum = coalesce((SELECT sum(sentiment) FROM message_analyses a WHERE a.session_id = sessions.id), 0),
           risk_level = (SELECT CASE max(${RISK_ORDER}) WHEN 0 THEN 'none' WHEN 1 THEN 'low' WHEN 2 THEN 'medium' WHEN 3 THEN 'high' END
                         FROM message_analyses a WHERE a.session_id = sessions.id)
         WHERE id = ?`,
      )
      .run(sessionId);
  }

  /** The user's own messages in a session, ascending, at most `limit` after `afterSeq` (for exports). */
  userMessages(sessionId: string, userId: string, afterSeq: number, limit: number): Message[] {
    return this.sqlite
      .query<MessageRow, [string, string, number, number]>("SELECT * FROM messages WHERE session_id = ? AND user_id = ? AND seq > ? ORDER BY seq LIMIT ?")
      .all(sessionId, userId, afterSeq, limit)
      .map((row) => messageFromRow(this.cipher, row));
  }

  /**
   * Ended sessions whose retention has run out at `now`: their own retention_days, or `serverDays` for those
   * without one. Oldest first.
   */
  retentionDue(now: number, serverDays: number | undefined, limit: number): string[] {
    return this.sqlite
      .query<{ id: string }, [number, number | null, number]>(
        `SELECT id FROM sessions WHERE status <> 'active' AND ended_at IS NOT NULL
           AND coalesce(retention_days, ?2) IS NOT NULL AND ended_at + coalesce(retention_days, ?2) * ${DAY_MS} <= ?1
         ORDER BY ended_at LIMIT ?3`,
      )
      .all(now, serverDays ?? null, limit)
      .map((r) => r.id);
  }

  /**
   * Copies the WAL into the database file and truncates it to zero bytes, so erased pages survive in neither.
   * With secure_delete on, the freed space in the file was already overwritten. `busy`: a reader prevented it.
   */
  checkpoint(): { busy: boolean } {
    // The server's connection never waits for locks; this rare step may wait a moment for the checkpoint worker.
    const before = this.sqlite.query<{ timeout: number }, []>("PRAGMA busy_timeout").get()?.timeout ?? 0;
    this.sqlite.run("PRAGMA busy_timeout = 1000");
    try {
      const r = this.sqlite.query<{ busy: number }, []>("PRAGMA wal_checkpoint(TRUNCATE)").get();
      return { busy: (r?.busy ?? 0) !== 0 };
    } catch {
      return { busy: true };
    } finally {
      this.sqlite.run(`PRAGMA busy_timeout = ${before}`);
    }
  }
}
