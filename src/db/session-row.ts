// The sessions table's row codec for the prepared statements of the hot paths (a join storm reads and inserts one
// row per join; drizzle builds and prepares its SQL on every call). Pure apart from the cipher it is given.
import type { SessionRecord } from "../sessions/store.ts";
import type { FieldCipher } from "../privacy/field-cipher.ts";
import { aad } from "../privacy/fields.ts";

/** A sessions row as SQLite returns it (snake_case; JSON columns as text). */
export interface SessionRow {
  id: string;
  room: string | null;
  owner_id: string;
  mode: SessionRecord["mode"];
  status: SessionRecord["status"];
  access: SessionRecord["access"];
  members: string;
  config: string;
  started_at: number;
  ended_at: number | null;
  last_activity_at: number;
  last_seq: number;
  message_count: number;
  participant_count: number;
  duration_ms: number | null;
  analysis: string | null;
  assistant: string | null;
  end_on_disconnect: string | null;
  analyzed_count: number;
  sentiment_sum: number;
  risk_level: SessionRecord["riskLevel"];
  assistant_messages: number;
  response_time_sum_ms: number;
  response_time_count: number;
  retention_days: number | null;
}

/** Every column, in the order INSERT_SESSION_SQL binds them. */
const COLUMNS = [
  "id", "room", "owner_id", "mode", "status", "access", "members", "config", "started_at", "ended_at", "last_activity_at",
  "last_seq", "message_count", "participant_count", "duration_ms", "analysis", "assistant", "end_on_disconnect",
  "analyzed_count", "sentiment_sum", "risk_level", "assistant_messages", "response_time_sum_ms", "response_time_count",
  "retention_days",
] as const satisfies ReadonlyArray<keyof SessionRow>;

export const SELECT_SESSION_SQL = `SELECT ${COLUMNS.join(", ")} FROM sessions WHERE id = ?`;
export const SELECT_ACTIVE_IN_ROOM_SQL = `SELECT ${COLUMNS.join(", ")} FROM sessions WHERE room = ? AND status = 'active'`;
export const INSERT_SESSION_SQL = `INSERT INTO sessions (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map(() => "?").join(", ")})`;

export type SessionParams = [
  string, string | null, string, string, string, string, string, string, number, number | null, number,
  number, number, number, number | null, string | null, string | null, string | null,
  number, number, string | null, number, number, number,
  number | null,
];

const json = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));
const text = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));

/** A row as the domain sees it (config opened and parsed, JSON columns parsed). */
export function sessionFromRow(cipher: FieldCipher, r: SessionRow): SessionRecord {
  return {
    id: r.id,
    room: r.room,
    ownerId: r.owner_id,
    mode: r.mode,
    status: r.status,
    access: r.access,
    members: JSON.parse(r.members) as string[],
    config: JSON.parse(cipher.open(r.config, aad.sessionConfig(r.id))) as Record<string, unknown>,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    lastActivityAt: r.last_activity_at,
    lastSeq: r.last_seq,
    messageCount: r.message_count,
    participantCount: r.participant_count,
    durationMs: r.duration_ms,
    analysis: json(r.analysis),
    assistant: json(r.assistant),
    endOnDisconnect: json(r.end_on_disconnect),
    analyzedCount: r.analyzed_count,
    sentimentSum: r.sentiment_sum,
    riskLevel: r.risk_level,
    assistantMessages: r.assistant_messages,
    responseTimeSumMs: r.response_time_sum_ms,
    responseTimeCount: r.response_time_count,
    retentionDays: r.retention_days,
  };
}

/** The INSERT_SESSION_SQL parameters of a record (config sealed). */
export function sessionParams(cipher: FieldCipher, r: SessionRecord): SessionParams {
  return [
    r.id, r.room, r.ownerId, r.mode, r.status, r.access, JSON.stringify(r.members), cipher.seal(JSON.stringify(r.config), aad.sessionConfig(r.id)),
    r.startedAt, r.endedAt, r.lastActivityAt, r.lastSeq, r.messageCount, r.participantCount, r.durationMs,
    text(r.analysis), text(r.assistant), text(r.endOnDisconnect), r.analyzedCount, r.sentimentSum, r.riskLevel,
    r.assistantMessages, r.responseTimeSumMs, r.responseTimeCount, r.retentionDays,
  ];
}
