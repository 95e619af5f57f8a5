// Row codecs of the PostgreSQL store (pure apart from the cipher): Bun.SQL returns int8 as strings and jsonb as
// parsed values, so rows are normalised here before the shared message codec (src/db/message-codec.ts) opens them.
import type { SessionRecord } from "../sessions/store.ts";
import type { FieldCipher } from "../privacy/field-cipher.ts";
import { aad } from "../privacy/fields.ts";
import type { MessageRow } from "../db/message-codec.ts";

/** The sessions columns in the order SESSION_RECORDSET declares them. */
export const SESSION_COLUMNS = [
  "id", "room", "owner_id", "mode", "status", "access", "members", "config", "started_at", "ended_at", "last_activity_at",
  "last_seq", "message_count", "participant_count", "duration_ms", "analysis", "assistant", "end_on_disconnect",
  "analyzed_count", "sentiment_sum", "risk_level", "assistant_messages", "response_time_sum_ms", "response_time_count",
  "retention_days",
] as const;

/** The column list of jsonb_to_recordset for session rows (types as in the table). */
export const SESSION_RECORDSET = `x(id text, room text, owner_id text, mode text, status text, access text, members jsonb, config text,
  started_at bigint, ended_at bigint, last_activity_at bigint, last_seq bigint, message_count bigint, participant_count integer,
  duration_ms bigint, analysis text, assistant text, end_on_disconnect text, analyzed_count bigint, sentiment_sum double precision,
  risk_level text, assistant_messages bigint, response_time_sum_ms bigint, response_time_count bigint, retention_days integer)`;

export const SESSION_SELECT = SESSION_COLUMNS.join(", ");

type Row = Record<string, unknown>;
/** bigint columns come back as strings or numbers: as numbers. */
export const num = (v: unknown): number => (typeof v === "number" ? v : Number(v));
export const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));
const json = <T>(text: unknown): T | null => (text === null || text === undefined ? null : (JSON.parse(text as string) as T));
const jsonText = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));

/** A sessions row as the domain sees it (config opened and parsed). */
export function sessionFromPgRow(cipher: FieldCipher, r: Row): SessionRecord {
  const id = r.id as string;
  return {
    id,
    room: (r.room as string | null) ?? null,
    ownerId: r.owner_id as string,
    mode: r.mode as SessionRecord["mode"],
    status: r.status as SessionRecord["status"],
    access: r.access as SessionRecord["access"],
    members: (typeof r.members === "string" ? JSON.parse(r.members) : r.members) as string[],
    config: JSON.parse(cipher.open(r.config as string, aad.sessionConfig(id))) as Record<string, unknown>,
    startedAt: num(r.started_at),
    endedAt: numOrNull(r.ended_at),
    lastActivityAt: num(r.last_activity_at),
    lastSeq: num(r.last_seq),
    messageCount: num(r.message_count),
    participantCount: num(r.participant_count),
    durationMs: numOrNull(r.duration_ms),
    analysis: json(r.analysis),
    assistant: json(r.assistant),
    endOnDisconnect: json(r.end_on_disconnect),
    analyzedCount: num(r.analyzed_count),
    sentimentSum: num(r.sentiment_sum),
    riskLevel: (r.risk_level as SessionRecord["riskLevel"]) ?? null,
    assistantMessages: num(r.assistant_messages),
    responseTimeSumMs: num(r.response_time_sum_ms),
    responseTimeCount: num(r.response_time_count),
    retentionDays: numOrNull(r.retention_days),
  };
}

/** A record as one jsonb_to_recordset element (config sealed, settings as JSON text). */
export function sessionToPgRow(cipher: FieldCipher, r: SessionRecord): Row {
  return {
    id: r.id, room: r.room, owner_id: r.ownerId, mode: r.mode, status: r.status, access: r.access, members: r.members,
    config: cipher.seal(JSON.stringify(r.config), aad.sessionConfig(r.id)), started_at: r.startedAt, ended_at: r.endedAt,
    last_activity_at: r.lastActivityAt, last_seq: r.lastSeq, message_count: r.messageCount, participant_count: r.participantCount,
    duration_ms: r.durationMs, analysis: jsonText(r.analysis), assistant: jsonText(r.assistant), end_on_disconnect: jsonText(r.endOnDisconnect),
    analyzed_count: r.analyzedCount, sentiment_sum: r.sentimentSum, risk_level: r.riskLevel, assistant_messages: r.assistantMessages,
    response_time_sum_ms: r.responseTimeSumMs, response_time_count: r.responseTimeCount, retention_days: r.retentionDays,
  };
}

/** A messages row in the shape the shared message codec reads (numbers as numbers). */
export function messageRowFromPg(r: Row): MessageRow {
  return {
    id: r.id as string,
    session_id: r.session_id as string,
    seq: num(r.seq),
    user_id: r.user_id as string,
    role: r.role as MessageRow["role"],
    kind: r.kind as MessageRow["kind"],
    content: r.content as string,
    metadata: (r.metadata as string | null) ?? null,
    client_msg_id: (r.client_msg_id as string | null) ?? null,
    created_at: num(r.created_at),
    // Present on history reads (joined from message_analyses); the codec opens it.
    analysis: (r.analysis as string | null | undefined) ?? null,
  };
}
