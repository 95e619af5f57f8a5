// The storage contract of analysis and alerts (types only); implemented by db/SqliteAnalysisStore (synchronous) and
// pg/PgAnalysisStore (asynchronous). Its "user messages without an analysis" query is the analysis subscriber's
// cursor: nothing in memory has to survive a crash.
import type { Awaitable } from "../sessions/store.ts";
import type { Alert, AlertStatus, Analysis } from "./types.ts";

/** A user message that needs an analysis. */
export interface AnalysisWork {
  session: string;
  seq: number;
  messageId: string;
  userId: string;
  content: string;
}

/** One analysis to store, with the alert it raises (null when its risk is below ALERT_MIN_RISK). */
export interface NewAnalysis {
  session: string;
  seq: number;
  messageId: string;
  analysis: Analysis;
  alert: Alert | null;
}

/**
 * `stored`: the analysis row was new (false: the message already had one, from before a crash; nothing else was
 * written). `alert`: the alert that was newly stored with it, or null.
 */
export interface SaveOutcome {
  stored: boolean;
  alert: Alert | null;
}

export interface AlertQuery {
  status?: AlertStatus;
  session?: string;
  /** Exclusive cursor: alerts that sort after this alert (newest first). Its absence means "from the newest". */
  after?: { createdAt: number; id: string };
  limit: number;
}

/** A session the catch-up scans: its id and last seq (the scan stops there). */
export interface CatchUpSession {
  id: string;
  lastSeq: number;
}

/**
 * The contract with every answer allowed to come later: the one the analysis contract suite checks on every
 * implementation (SQLite, PostgreSQL). Same meaning, method by method, as AnalysisStore below, its synchronous form.
 */
export interface AnalysisStorage {
  save(items: readonly NewAnalysis[]): Awaitable<SaveOutcome[]>;
  catchUpSessions(endedSince: number, defaultEnabled: boolean, afterId: string, limit: number): Awaitable<CatchUpSession[]>;
  unanalysed(session: string, afterSeq: number, throughSeq: number, limit: number): Awaitable<AnalysisWork[]>;
  catchUpSession(session: string, endedSince: number): Awaitable<CatchUpSession | null>;
  getAlert(id: string): Awaitable<Alert | null>;
  listAlerts(query: AlertQuery): Awaitable<Alert[]>;
  updateAlert(alert: Alert): Awaitable<void>;
  countAlerts(session: string): Awaitable<number>;
}

export interface AnalysisStore extends AnalysisStorage {
  /**
   * Stores each analysis, the session's aggregates (analyzed_count, sentiment_sum, risk_level = the highest) and
   * its alert in ONE transaction. A message that already has an analysis is skipped entirely (its outcome is
   * `stored: false`), so a message analysed twice (before and after a crash) counts once and alerts once.
   */
  save(items: readonly NewAnalysis[]): SaveOutcome[];
  /**
   * A page of sessions whose user messages may still need analysis: active ones, and ones that ended at or after
   * `endedSince` (epoch ms), whose analysis is enabled (`defaultEnabled` for rows without a setting); by id,
   * after `afterId`.
   */
  catchUpSessions(endedSince: number, defaultEnabled: boolean, afterId: string, limit: number): CatchUpSession[];
  /** User messages of one session with afterSeq < seq <= throughSeq and no analysis, by seq, at most `limit`. */
  unanalysed(session: string, afterSeq: number, throughSeq: number, limit: number): AnalysisWork[];
  /** The session's last seq and whether it is still eligible (active, or ended at/after `endedSince`); null if unknown. */
  catchUpSession(session: string, endedSince: number): CatchUpSession | null;

  getAlert(id: string): Alert | null;
  /** Newest first (createdAt, then id, descending); at most `limit`. */
  listAlerts(query: AlertQuery): Alert[];
  /** Writes the alert's status fields (status, acknowledged*, resolved*, note). */
  updateAlert(alert: Alert): void;
  countAlerts(session: string): number;
}

/** The alert half of the storage, which is all AlertService needs (answers may come later). */
export type AlertStorage = Pick<AnalysisStorage, "getAlert" | "listAlerts" | "updateAlert" | "countAlerts">;

/** The alert half of the synchronous store. */
export type AlertStore = Pick<AnalysisStore, "getAlert" | "listAlerts" | "updateAlert" | "countAlerts">;
