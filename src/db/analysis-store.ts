// AnalysisStore over bun:sqlite: message analyses with the session aggregates and alerts in one transaction, the
// catch-up scan (user messages without an analysis), and alert reads and updates. Statements are prepared once.
import type { Database, Statement } from "bun:sqlite";
import type { AlertQuery, AnalysisStore, AnalysisWork, CatchUpSession, NewAnalysis, SaveOutcome } from "../analysis/store.ts";
import { riskRank, type Alert, type AlertStatus, type RiskLevel } from "../analysis/types.ts";
import type { CommitHooks } from "./commit-hooks.ts";
import { PLAINTEXT, type FieldCipher } from "../privacy/field-cipher.ts";
import { aad } from "../privacy/fields.ts";

interface AlertRow {
  id: string;
  session_id: string;
  seq: number;
  message_id: string;
  user_id: string;
  risk_level: RiskLevel;
  triggers: string;
  recommended_action: string;
  status: AlertStatus;
  created_at: number;
  acknowledged_by: string | null;
  acknowledged_at: number | null;
  resolved_by: string | null;
  resolved_at: number | null;
  note: string | null;
}

interface WorkRow {
  session_id: string;
  seq: number;
  id: string;
  user_id: string;
  content: string;
}

/** What a batch adds to one session's aggregates. */
interface SessionTotals {
  count: number;
  sum: number;
  level: RiskLevel;
}

/** The stored level's rank in SQL (-1 for none stored yet), to keep `risk_level` the highest so far. */
const RANK_SQL = "(CASE risk_level WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 WHEN 'none' THEN 0 ELSE -1 END)";

export class SqliteAnalysisStore implements AnalysisStore {
  private readonly stmt: {
    insertAnalysis: Statement<unknown, [string, number, string, string, string, number, number]>;
    bumpSession: Statement<unknown, [number, number, number, string, string]>;
    insertAlert: Statement<unknown, [string, string, number, string, string, string, string, string, string, number]>;
    getAlert: Statement<AlertRow, [string]>;
    updateAlert: Statement<unknown, [string, string | null, number | null, string | null, number | null, string | null, string]>;
    countAlerts: Statement<{ n: number }, [string]>;
    unanalysed: Statement<WorkRow, [string, number, number, number]>;
    catchUpSessions: Statement<{ id: string; last_seq: number }, [number, number, string, number]>;
    catchUpSession: Statement<{ id: string; last_seq: number }, [string, number]>;
  };
  private readonly saveAll: (items: readonly NewAnalysis[]) => SaveOutcome[];

  constructor(
    private readonly sqlite: Database,
    /** `alertRaised` and `alertUpdated` run inside the transaction that stores the alert or its change. */
    private readonly hooks: Pick<CommitHooks, "alertRaised" | "alertUpdated"> = {},
    /** Seals analyses, alert triggers and notes at rest (and opens message content for the catch-up). */
    private readonly cipher: FieldCipher = PLAINTEXT,
  ) {
    this.stmt = {
      // Only for a message that still exists (it may have been erased while it was analysed), in one statement.
      insertAnalysis: sqlite.prepare(
        `INSERT INTO message_analyses (session_id, seq, message_id, analysis, risk_level, sentiment, created_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
         WHERE EXISTS (SELECT 1 FROM messages WHERE session_id = ?1 AND seq = ?2 AND erased_at IS NULL)
         ON CONFLICT (session_id, seq) DO NOTHING`,
      ),
      bumpSession: sqlite.prepare(
        `UPDATE sessions SET analyzed_count = analyzed_count + ?, sentiment_sum = sentiment_sum + ?,
         risk_level = CASE WHEN ${RANK_SQL} < ? THEN ? ELSE risk_level END WHERE id = ?`,
      ),
      insertAlert: sqlite.prepare(
        `INSERT INTO alerts (id, session_id, seq, message_id, user_id, risk_level, triggers, recommended_action, status, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, seq) DO NOTHING`,
      ),
      getAlert: sqlite.prepare("SELECT * FROM alerts WHERE id = ?"),
      updateAlert: sqlite.prepare(
        `UPDATE alerts SET status = ?, acknowledged_by = ?, acknowledged_at = ?, resolved_by = ?, resolved_at = ?, note = ? WHERE id = ?`,
      ),
      countAlerts: sqlite.prepare("SELECT count(*) AS n FROM alerts WHERE session_id = ?"),
      unanalysed: sqlite.prepare(
        `SELECT m.session_id, m.seq, m.id, m.user_id, m.content FROM messages m
         WHERE m.session_id = ? AND m.seq > ? AND m.seq <= ? AND m.role = 'user'
           AND NOT EXISTS (SELECT 1 FROM message_analyses a WHERE a.session_id = m.session_id AND a.seq = m.seq)
         ORDER BY m.seq LIMIT ?`,
      ),
      catchUpSessions: sqlite.prepare(
        `SELECT id, last_seq FROM sessions
         WHERE (status = 'active' OR ended_at >= ?) AND coalesce(json_extract(analysis, '$.enabled'), ?) = 1 AND id > ?
         ORDER BY id LIMIT ?`,
      ),
      catchUpSession: sqlite.prepare("SELECT id, last_seq FROM sessions WHERE id = ? AND (status = 'active' OR ended_at >= ?)"),
    };
    // IMMEDIATE: take the write lock up front (the one connection writes; a read lock would have to be upgraded).
    const tx = sqlite.transaction((items: readonly NewAnalysis[]) => {
      // One aggregate update per session per batch, not per message.
      const totals = new Map<string, SessionTotals>();
      const outcomes = items.map((item) => this.saveOne(item, totals));
      for (const [id, t] of totals) this.stmt.bumpSession.run(t.count, t.sum, riskRank(t.level), t.level, id);
      return outcomes;
    });
    this.saveAll = (items) => tx.immediate(items) as SaveOutcome[];
  }

  save(items: readonly NewAnalysis[]): SaveOutcome[] {
    return items.length === 0 ? [] : this.saveAll(items);
  }

  private saveOne(item: NewAnalysis, totals: Map<string, SessionTotals>): SaveOutcome {
    // A message erased while it was being analysed (its session, or its author) gets nothing stored (the INSERT's
    // EXISTS), and the rest of the batch does not fail on the foreign key.
    const { analysis } = item;
    const level = analysis.crisis.risk_level;
    const at = Date.parse(analysis.at);
    const inserted =
      this.stmt.insertAnalysis.run(item.session, item.seq, item.messageId, this.cipher.seal(JSON.stringify(analysis), aad.analysis(item.session, item.seq)), level, analysis.sentiment.score, at).changes > 0;
    if (!inserted) return { stored: false, alert: null };
    const t = totals.get(item.session);
    if (t) {
      t.count++;
      t.sum += analysis.sentiment.score;
      if (riskRank(level) > riskRank(t.level)) t.level = level;
    } else totals.set(item.session, { count: 1, sum: analysis.sentiment.score, level });
    const a = item.alert;
    if (!a) return { stored: true, alert: null };
    const alertInserted =
      this.stmt.insertAlert.run(
        a.id,
        a.session,
        a.seq,
        a.messageId,
        a.userId,
        a.risk_level,
        this.cipher.seal(JSON.stringify(a.triggers), aad.alertTriggers(a.session, a.seq)),
        a.recommended_action,
        a.status,
        Date.parse(a.createdAt),
      ).changes > 0;
    if (!alertInserted) return { stored: true, alert: null };
    this.hooks.alertRaised?.(a);
    return { stored: true, alert: a };
  }

  catchUpSessions(endedSince: number, defaultEnabled: boolean, afterId: string, limit: number): CatchUpSession[] {
    return this.stmt.catchUpSessions.all(endedSince, defaultEnabled ? 1 : 0, afterId, limit).map((r) => ({ id: r.id, lastSeq: r.last_seq }));
  }

  catchUpSession(session: string, endedSince: number): CatchUpSession | null {
    const r = this.stmt.catchUpSession.get(session, endedSince);
    return r ? { id: r.id, lastSeq: r.last_seq } : null;
  }

  unanalysed(session: string, afterSeq: number, throughSeq: number, limit: number): AnalysisWork[] {
    return this.stmt.unanalysed
      .all(session, afterSeq, throughSeq, limit)
      .map((r) => ({ session: r.session_id, seq: r.seq, messageId: r.id, userId: r.user_id, content: this.cipher.open(r.content, aad.messageContent(r.session_id, r.seq)) }));
  }

  getAlert(id: string): Alert | null {
    const row = this.stmt.getAlert.get(id);
    return row ? toAlert(row, this.cipher) : null;
  }

  listAlerts(q: AlertQuery): Alert[] {
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (q.status !== undefined) {
      where.push("status = ?");
      params.push(q.status);
    }
    if (q.session !== undefined) {
      where.push("session_id = ?");
      params.push(q.session);
    }
    if (q.after !== undefined) {
      where.push("(created_at < ? OR (created_at = ? AND id < ?))");
      params.push(q.after.createdAt, q.after.createdAt, q.after.id);
    }
    params.push(q.limit);
    // Only fixed fragments are joined; every value is a bound parameter.
    const sql = `SELECT * FROM alerts ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at DESC, id DESC LIMIT ?`;
    return this.sqlite.query<AlertRow, Array<string | number>>(sql).all(...params).map((r) => toAlert(r, this.cipher));
  }

  updateAlert(alert: Alert): void {
    this.sqlite
      .transaction(() => {
        this.stmt.updateAlert.run(
          alert.status,
          alert.acknowledgedBy ?? null,
          alert.acknowledgedAt ? Date.parse(alert.acknowledgedAt) : null,
          alert.resolvedBy ?? null,
          alert.resolvedAt ? Date.parse(alert.resolvedAt) : null,
          this.cipher.sealNullable(alert.note ?? null, aad.alertNote(alert.session, alert.seq)),
          alert.id,
        );
        this.hooks.alertUpdated?.(alert);
      })
      .immediate();
  }

  countAlerts(session: string): number {
    return this.stmt.countAlerts.get(session)?.n ?? 0;
  }
}

function toAlert(r: AlertRow, cipher: FieldCipher): Alert {
  const alert: Alert = {
    id: r.id,
    session: r.session_id,
    seq: r.seq,
    messageId: r.message_id,
    userId: r.user_id,
    risk_level: r.risk_level,
    triggers: JSON.parse(cipher.open(r.triggers, aad.alertTriggers(r.session_id, r.seq))) as string[],
    recommended_action: r.recommended_action,
    status: r.status,
    createdAt: new Date(r.created_at).toISOString(),
  };
  if (r.acknowledged_by !== null) alert.acknowledgedBy = r.acknowledged_by;
  if (r.acknowledged_at !== null) alert.acknowledgedAt = new Date(r.acknowledged_at).toISOString();
  if (r.resolved_by !== null) alert.resolvedBy = r.resolved_by;
  if (r.resolved_at !== null) alert.resolvedAt = new Date(r.resolved_at).toISOString();
  if (r.note !== null) alert.note = cipher.open(r.note, aad.alertNote(r.session_id, r.seq));
  return alert;
}
