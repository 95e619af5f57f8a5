// AnalysisStorage over PostgreSQL (Bun.SQL): analyses, the session aggregates and alerts in one transaction, safe
// when several nodes save the same messages at once (the unique keys decide, aggregates follow the rows inserted);
// the catch-up scan and alert reads and updates. Sealing is the SQLite store's, column for column.
import type { SQL } from "bun";
import type { AlertQuery, AnalysisStorage, AnalysisWork, CatchUpSession, NewAnalysis, SaveOutcome } from "../analysis/store.ts";
import { riskRank, type Alert, type AlertStatus, type RiskLevel } from "../analysis/types.ts";
import type { TransactionRecorder } from "../db/commit-hooks.ts";
import { PLAINTEXT, type FieldCipher } from "../privacy/field-cipher.ts";
import { aad } from "../privacy/fields.ts";
import { num, numOrNull } from "./rows.ts";
import { guard, isUnavailable, unavailable } from "./faults.ts";

type Row = Record<string, unknown>;
/** A JS value as a jsonb parameter (cast `$n::text::jsonb`: a string cast straight to jsonb is encoded twice). */
const j = (value: unknown): string => JSON.stringify(value);
const keyOf = (session: string, seq: number) => `${session}\0${seq}`;

/** The stored level's rank in SQL (-1 for none stored yet), to keep `risk_level` the highest so far. */
const RANK_SQL = "(CASE s.risk_level WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 WHEN 'none' THEN 0 ELSE -1 END)";

/** What a batch adds to one session's aggregates. */
interface SessionTotals {
  count: number;
  sum: number;
  level: RiskLevel;
}

export class PgAnalysisStore implements AnalysisStorage {
  constructor(
    private readonly sql: SQL,
    /** Seals analyses, alert triggers and notes at rest (and opens message content for the catch-up). */
    private readonly cipher: FieldCipher = PLAINTEXT,
    /** Webhook events of raised and updated alerts, written in the same transactions. */
    private readonly outbox?: TransactionRecorder<SQL>,
  ) {}

  async save(items: readonly NewAnalysis[]): Promise<SaveOutcome[]> {
    if (items.length === 0) return [];
    const outcomes: SaveOutcome[] = items.map(() => ({ stored: false, alert: null }));
    // A message listed twice in one batch: only its first item may be stored (as in the SQLite store).
    const firstOf = new Map<string, number>();
    items.forEach((item, i) => {
      const key = keyOf(item.session, item.seq);
      if (!firstOf.has(key)) firstOf.set(key, i);
    });
    const rows = [...firstOf.values()].map((i) => {
      const { session, seq, messageId, analysis } = items[i]!;
      return {
        session_id: session, seq, message_id: messageId, analysis: this.cipher.seal(JSON.stringify(analysis), aad.analysis(session, seq)),
        risk_level: analysis.crisis.risk_level, sentiment: analysis.sentiment.score, created_at: Date.parse(analysis.at),
      };
    });
    const sessionIds = [...new Set(items.map((item) => item.session))].sort();
    try {
      await this.sql.begin(async (tx) => {
        // Lock the sessions first, in id order: the inserts' foreign-key checks and the aggregate update then wait
        // on rows this transaction already holds, so it cannot deadlock with a message batch (which locks them in
        // id order too) or with another node saving analyses of the same sessions.
        await tx.unsafe("SELECT 1 FROM sessions WHERE id IN (SELECT jsonb_array_elements_text($1::text::jsonb)) ORDER BY id FOR NO KEY UPDATE", [j(sessionIds)]);
        // Only for a message that still exists (it may have been erased while it was analysed). A row another node
        // stored first (committed, or committing: the insert waits for it) is skipped, and RETURNING leaves it out.
        const inserted = await tx.unsafe(
          `INSERT INTO message_analyses (session_id, seq, message_id, analysis, risk_level, sentiment, created_at)
           SELECT x.* FROM jsonb_to_recordset($1::text::jsonb)
             AS x(session_id text, seq bigint, message_id text, analysis text, risk_level text, sentiment double precision, created_at bigint)
           WHERE EXISTS (SELECT 1 FROM messages m WHERE m.session_id = x.session_id AND m.seq = x.seq AND m.erased_at IS NULL)
           ON CONFLICT (session_id, seq) DO NOTHING RETURNING session_id, seq`,
          [j(rows)],
        );
        // Aggregates and alerts only for the rows this transaction inserted.
        const totals = new Map<string, SessionTotals>();
        const alertItems: number[] = [];
        for (const r of inserted as Row[]) {
          const i = firstOf.get(keyOf(r.session_id as string, num(r.seq)))!;
          const item = items[i]!;
          outcomes[i] = { stored: true, alert: null };
          const score = item.analysis.sentiment.score;
          const level = item.analysis.crisis.risk_level;
          const t = totals.get(item.session);
          if (t) {
            t.count++;
            t.sum += score;
            if (riskRank(level) > riskRank(t.level)) t.level = level;
          } else totals.set(item.session, { count: 1, sum: score, level });
          if (item.alert) alertItems.push(i);
        }
        if (totals.size > 0) {
          await tx.unsafe(
            `UPDATE sessions s SET analyzed_count = s.analyzed_count + x.count, sentiment_sum = s.sentiment_sum + x.sum,
               risk_level = CASE WHEN ${RANK_SQL} < x.rank THEN x.level ELSE s.risk_level END
             FROM jsonb_to_recordset($1::text::jsonb) AS x(id text, count bigint, sum double precision, rank integer, level text)
             WHERE s.id = x.id`,
            [j([...totals].map(([id, t]) => ({ id, count: t.count, sum: t.sum, rank: riskRank(t.level), level: t.level })))],
          );
        }
        if (alertItems.length > 0) {
          const alertRows = alertItems.map((i) => {
            const a = items[i]!.alert!;
            return {
              id: a.id, session_id: a.session, seq: a.seq, message_id: a.messageId, user_id: a.userId, risk_level: a.risk_level,
              triggers: this.cipher.seal(JSON.stringify(a.triggers), aad.alertTriggers(a.session, a.seq)),
              recommended_action: a.recommended_action, status: a.status, created_at: Date.parse(a.createdAt),
            };
          });
          const raised = await tx.unsafe(
            `INSERT INTO alerts (id, session_id, seq, message_id, user_id, risk_level, triggers, recommended_action, status, created_at)
             SELECT * FROM jsonb_to_recordset($1::text::jsonb) AS x(id text, session_id text, seq bigint, message_id text, user_id text,
               risk_level text, triggers text, recommended_action text, status text, created_at bigint)
             ON CONFLICT (session_id, seq) DO NOTHING RETURNING id`,
            [j(alertRows)],
          );
          const raisedIds = new Set((raised as Row[]).map((r) => r.id as string));
          const recorded = this.outbox?.begin();
          for (const i of alertItems) {
            const a = items[i]!.alert!;
            if (!raisedIds.has(a.id)) continue;
            outcomes[i] = { stored: true, alert: a };
            recorded?.hooks.alertRaised?.(a);
          }
          await recorded?.flush(tx as unknown as SQL);
        }
      });
    } catch (e) {
      if (isUnavailable(e)) throw unavailable(e);
      throw e;
    }
    return outcomes;
  }

  async catchUpSessions(endedSince: number, defaultEnabled: boolean, afterId: string, limit: number): Promise<CatchUpSession[]> {
    // `analysis` is the setting as JSON text; rows without one follow the server's default.
    const rows = await guard(() =>
      this.sql.unsafe(
        `SELECT id, last_seq FROM sessions
         WHERE (status = 'active' OR ended_at >= $1) AND coalesce((analysis::jsonb ->> 'enabled')::boolean, $2::boolean) AND id > $3
         ORDER BY id LIMIT $4`,
        [endedSince, defaultEnabled, afterId, limit],
      ),
    );
    return (rows as Row[]).map((r) => ({ id: r.id as string, lastSeq: num(r.last_seq) }));
  }

  async catchUpSession(session: string, endedSince: number): Promise<CatchUpSession | null> {
    const rows = await guard(() => this.sql.unsafe("SELECT id, last_seq FROM sessions WHERE id = $1 AND (status = 'active' OR ended_at >= $2)", [session, endedSince]));
    const r = (rows as Row[])[0];
    return r ? { id: r.id as string, lastSeq: num(r.last_seq) } : null;
  }

  async unanalysed(session: string, afterSeq: number, throughSeq: number, limit: number): Promise<AnalysisWork[]> {
    const rows = await guard(() =>
      this.sql.unsafe(
        `SELECT m.session_id, m.seq, m.id, m.user_id, m.content FROM messages m
         WHERE m.session_id = $1 AND m.seq > $2 AND m.seq <= $3 AND m.role = 'user'
           AND NOT EXISTS (SELECT 1 FROM message_analyses a WHERE a.session_id = m.session_id AND a.seq = m.seq)
         ORDER BY m.seq LIMIT $4`,
        [session, afterSeq, throughSeq, limit],
      ),
    );
    return (rows as Row[]).map((r) => {
      const seq = num(r.seq);
      const sessionId = r.session_id as string;
      return { session: sessionId, seq, messageId: r.id as string, userId: r.user_id as string, content: this.cipher.open(r.content as string, aad.messageContent(sessionId, seq)) };
    });
  }

  async getAlert(id: string): Promise<Alert | null> {
    const rows = await guard(() => this.sql.unsafe("SELECT * FROM alerts WHERE id = $1", [id]));
    const r = (rows as Row[])[0];
    return r ? alertFromPgRow(r, this.cipher) : null;
  }

  async listAlerts(q: AlertQuery): Promise<Alert[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (value: unknown, cast = "") => {
      params.push(value);
      return `$${params.length}${cast}`;
    };
    if (q.status !== undefined) where.push(`status = ${p(q.status)}`);
    if (q.session !== undefined) where.push(`session_id = ${p(q.session)}`);
    // Newest first: the next page holds alerts that sort before the cursor (ties broken by id).
    if (q.after !== undefined) where.push(`(created_at, id) < (${p(q.after.createdAt, "::bigint")}, ${p(q.after.id, "::text")})`);
    // Only fixed fragments are joined; every value is a bound parameter.
    const sqlText = `SELECT * FROM alerts ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at DESC, id DESC LIMIT ${p(q.limit)}`;
    const rows = await guard(() => this.sql.unsafe(sqlText, params));
    return (rows as Row[]).map((r) => alertFromPgRow(r, this.cipher));
  }

  async updateAlert(alert: Alert): Promise<void> {
    const recorded = this.outbox?.begin();
    recorded?.hooks.alertUpdated?.(alert);
    await guard(() =>
      this.sql.begin(async (tx) => {
        await tx.unsafe(
        "UPDATE alerts SET status = $1, acknowledged_by = $2, acknowledged_at = $3, resolved_by = $4, resolved_at = $5, note = $6 WHERE id = $7",
        [
          alert.status,
          alert.acknowledgedBy ?? null,
          alert.acknowledgedAt ? Date.parse(alert.acknowledgedAt) : null,
          alert.resolvedBy ?? null,
          alert.resolvedAt ? Date.parse(alert.resolvedAt) : null,
          this.cipher.sealNullable(alert.note ?? null, aad.alertNote(alert.session, alert.seq)),
          alert.id,
        ],
        );
        await recorded?.flush(tx as unknown as SQL);
      }),
    );
  }

  async countAlerts(session: string): Promise<number> {
    const rows = await guard(() => this.sql.unsafe("SELECT count(*) AS n FROM alerts WHERE session_id = $1", [session]));
    return num((rows as Row[])[0]?.n ?? 0);
  }
}

/** An alerts row as the domain sees it (triggers and note opened). */
export function alertFromPgRow(r: Row, cipher: FieldCipher): Alert {
  const session = r.session_id as string;
  const seq = num(r.seq);
  const alert: Alert = {
    id: r.id as string,
    session,
    seq,
    messageId: r.message_id as string,
    userId: r.user_id as string,
    risk_level: r.risk_level as RiskLevel,
    triggers: JSON.parse(cipher.open(r.triggers as string, aad.alertTriggers(session, seq))) as string[],
    recommended_action: r.recommended_action as string,
    status: r.status as AlertStatus,
    createdAt: new Date(num(r.created_at)).toISOString(),
  };
  const acknowledgedAt = numOrNull(r.acknowledged_at);
  const resolvedAt = numOrNull(r.resolved_at);
  if (r.acknowledged_by !== null) alert.acknowledgedBy = r.acknowledged_by as string;
  if (acknowledgedAt !== null) alert.acknowledgedAt = new Date(acknowledgedAt).toISOString();
  if (r.resolved_by !== null) alert.resolvedBy = r.resolved_by as string;
  if (resolvedAt !== null) alert.resolvedAt = new Date(resolvedAt).toISOString();
  if (r.note !== null) alert.note = cipher.open(r.note as string, aad.alertNote(session, seq));
  return alert;
}
