// The PostgreSQL schema (drizzle pg-core) of the session store: the same tables, columns and meanings as the SQLite
// schema in src/db/schema.ts. drizzle-kit generates drizzle/pg/*.sql from this file. Times are epoch ms.
import { sql } from "drizzle-orm";
import { bigint, bigserial, doublePrecision, index, integer, jsonb, pgTable, primaryKey, text, uniqueIndex } from "drizzle-orm/pg-core";
import type { AnalysisSetting, AssistantSetting, EndOnDisconnectSetting } from "../protocol/types.ts";

/** Epoch-ms times and counters that can pass 2^31: int8, read back as JS numbers (exact below 2^53). */
const ms = (name: string) => bigint(name, { mode: "number" });

export const sessions = pgTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    room: text("room"),
    ownerId: text("owner_id").notNull(),
    mode: text("mode", { enum: ["chat", "voice", "video"] }).notNull().default("chat"),
    status: text("status", { enum: ["active", "completed", "cancelled", "expired"] }).notNull().default("active"),
    access: text("access", { enum: ["private", "open"] }).notNull().default("private"),
    // jsonb: listings ask "is this user a member" with a containment test (members @> '["alice"]').
    members: jsonb("members").$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    // Text, not jsonb: sealed (an opaque envelope) when encryption is on (src/privacy/fields.ts).
    config: text("config").notNull().default("{}"),
    startedAt: ms("started_at").notNull(),
    endedAt: ms("ended_at"),
    lastActivityAt: ms("last_activity_at").notNull(),
    lastSeq: ms("last_seq").notNull().default(0),
    messageCount: ms("message_count").notNull().default(0),
    participantCount: integer("participant_count").notNull().default(0),
    durationMs: ms("duration_ms"),
    // Per-session settings as JSON text, exactly as the SQLite store keeps them: read whole, never queried.
    analysis: text("analysis").$type<AnalysisSetting>(),
    assistant: text("assistant").$type<AssistantSetting>(),
    endOnDisconnect: text("end_on_disconnect").$type<EndOnDisconnectSetting>(),
    analyzedCount: ms("analyzed_count").notNull().default(0),
    sentimentSum: doublePrecision("sentiment_sum").notNull().default(0),
    riskLevel: text("risk_level", { enum: ["none", "low", "medium", "high"] }),
    assistantMessages: ms("assistant_messages").notNull().default(0),
    responseTimeSumMs: ms("response_time_sum_ms").notNull().default(0),
    responseTimeCount: ms("response_time_count").notNull().default(0),
    /** Erase the session this many days after it ended (overrides RETENTION_DAYS); NULL: the server's rule. */
    retentionDays: integer("retention_days"),
  },
  (t) => [
    index("sessions_status_activity_idx").on(t.status, t.lastActivityAt),
    index("sessions_room_started_idx").on(t.room, t.startedAt),
    index("sessions_started_idx").on(t.startedAt, t.id),
    // A room has at most one active session, across every node.
    uniqueIndex("sessions_room_active_uq").on(t.room).where(sql`status = 'active' AND room IS NOT NULL`),
  ],
);

/** Keyed by (session_id, seq); `id` is the message's public id. Content and metadata may be sealed. */
export const messages = pgTable(
  "messages",
  {
    id: text("id").notNull(),
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    seq: ms("seq").notNull(),
    userId: text("user_id").notNull(),
    role: text("role", { enum: ["user", "assistant", "system"] }).notNull(),
    kind: text("kind", { enum: ["text", "action"] }).notNull(),
    content: text("content").notNull(),
    // JSON text (or an envelope when sealed).
    metadata: text("metadata"),
    clientMsgId: text("client_msg_id"),
    createdAt: ms("created_at").notNull(),
    /** Set when the author was erased and the row became a tombstone (same seq, no content). */
    erasedAt: ms("erased_at"),
  },
  (t) => [
    primaryKey({ columns: [t.sessionId, t.seq] }),
    // Idempotent retries across nodes: one row per (session, user, clientMsgId); rows without a client id are not in it.
    uniqueIndex("messages_session_user_client_uq").on(t.sessionId, t.userId, t.clientMsgId).where(sql`client_msg_id IS NOT NULL`),
  ],
);

export const sessionParticipants = pgTable(
  "session_participants",
  {
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull(),
    firstSeenAt: ms("first_seen_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.sessionId, t.userId] })],
);

/** One analysis per analysed message; its presence is what "already analysed" means, on every node. */
export const messageAnalyses = pgTable(
  "message_analyses",
  {
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    seq: ms("seq").notNull(),
    messageId: text("message_id").notNull(),
    // JSON text (or an envelope when sealed), read whole with the message.
    analysis: text("analysis").notNull(),
    riskLevel: text("risk_level", { enum: ["none", "low", "medium", "high"] }).notNull(),
    sentiment: doublePrecision("sentiment").notNull(),
    createdAt: ms("created_at").notNull(),
  },
  // The key two nodes saving the same message at once collide on (ON CONFLICT DO NOTHING: one row, counted once).
  (t) => [primaryKey({ columns: [t.sessionId, t.seq] })],
);

export const alerts = pgTable(
  "alerts",
  {
    id: text("id").primaryKey(),
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    seq: ms("seq").notNull(),
    messageId: text("message_id").notNull(),
    userId: text("user_id").notNull(),
    riskLevel: text("risk_level", { enum: ["none", "low", "medium", "high"] }).notNull(),
    // JSON text (or an envelope when sealed).
    triggers: text("triggers").notNull(),
    recommendedAction: text("recommended_action").notNull(),
    status: text("status", { enum: ["open", "acknowledged", "resolved"] }).notNull().default("open"),
    createdAt: ms("created_at").notNull(),
    acknowledgedBy: text("acknowledged_by"),
    acknowledgedAt: ms("acknowledged_at"),
    resolvedBy: text("resolved_by"),
    resolvedAt: ms("resolved_at"),
    // Sealed when encryption is on.
    note: text("note"),
  },
  (t) => [
    // One alert per message, however often and on however many nodes it is analysed; also the per-session count.
    uniqueIndex("alerts_session_seq_uq").on(t.sessionId, t.seq),
    // Listings are newest first with an (created_at, id) cursor, filtered by status or by session.
    index("alerts_status_created_idx").on(t.status, t.createdAt, t.id),
    index("alerts_session_created_idx").on(t.sessionId, t.createdAt, t.id),
    index("alerts_created_idx").on(t.createdAt, t.id),
  ],
);

/**
 * Assistant replies in progress, with the text saved so far; committed as messages when they end. Every node's
 * replies share the table: `saved_at` (refreshed by the live node at least every few seconds) tells a reply still
 * streaming somewhere from one a crashed node left behind.
 */
export const assistantStreams = pgTable(
  "assistant_streams",
  {
    id: text("id").primaryKey(),
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    replyTo: ms("reply_to").notNull(),
    userId: text("user_id").notNull(),
    model: text("model").notNull(),
    startedAt: ms("started_at").notNull(),
    // Sealed when encryption is on; text has no practical size limit.
    text: text("text").notNull().default(""),
    reasoning: text("reasoning").notNull().default(""),
    savedAt: ms("saved_at").notNull(),
  },
  (t) => [index("assistant_streams_session_idx").on(t.sessionId)],
);

/** Facts about the database itself (its epoch, for example), as `sessiond_meta` is for SQLite. */
export const meta = pgTable("sessiond_meta", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

/**
 * The audit trail, as `audit_log` is for SQLite: append-only (triggers refuse UPDATE and DELETE), one hash chain for
 * every node (appends are serialized by an advisory transaction lock, src/pg/audit-store.ts).
 */
export const auditLog = pgTable(
  "audit_log",
  {
    id: ms("id").primaryKey(),
    at: ms("at").notNull(),
    actorId: text("actor_id").notNull(),
    actorRole: text("actor_role").notNull(),
    action: text("action").notNull(),
    objectType: text("object_type").notNull(),
    objectId: text("object_id").notNull(),
    address: text("address").notNull(),
    // JSON text exactly as hashed: never content (the recorder refuses it).
    detail: text("detail"),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [
    index("audit_log_object_idx").on(t.objectType, t.objectId, t.id),
    index("audit_log_actor_idx").on(t.actorId, t.id),
    index("audit_log_action_idx").on(t.action, t.id),
  ],
);

/** Ids of erased sessions, written in the erasure's transaction: no node may open one again. Holds no content. */
export const erasedSessions = pgTable("erased_sessions", {
  id: text("id").primaryKey(),
  erasedAt: ms("erased_at").notNull(),
});

/**
 * Archive jobs, as `archive_jobs` is for SQLite: one row per ended session owed a transcript file, inserted by the
 * statement that ends the session. Every node's archiver claims due rows with a lease (`claimed_by`,
 * `lease_until`): one node writes each file, and a node that dies mid-write has its job taken over once it lapses.
 */
export const archiveJobs = pgTable(
  "archive_jobs",
  {
    sessionId: text("session_id")
      .primaryKey()
      .references(() => sessions.id, { onDelete: "cascade" }),
    status: text("status", { enum: ["pending", "written"] }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: ms("next_attempt_at").notNull(),
    lastError: text("last_error"),
    path: text("path"),
    createdAt: ms("created_at").notNull(),
    writtenAt: ms("written_at"),
    claimedBy: text("claimed_by"),
    leaseUntil: ms("lease_until"),
  },
  (t) => [index("archive_jobs_pending_idx").on(t.nextAttemptAt).where(sql`status = 'pending'`)],
);

/**
 * Lifecycle webhook events, as `webhook_outbox` is for SQLite, written in the transaction of the change each
 * reports. `seq` orders events within a session (they are recorded under the session's row lock) but, with several
 * nodes committing at once, not across sessions: deliveries are therefore made with the event, never by a cursor.
 */
export const webhookOutbox = pgTable(
  "webhook_outbox",
  {
    seq: bigserial("seq", { mode: "number" }).primaryKey(),
    /** The `webhook-id` header: stable across retries and replays, so receivers can de-duplicate. */
    id: text("id").notNull().unique(),
    type: text("type").notNull(),
    sessionId: text("session_id").notNull(),
    /** The exact JSON body that is signed and sent (sealed when encryption is on). */
    payload: text("payload").notNull(),
    createdAt: ms("created_at").notNull(),
  },
  // Erasure deletes a session's events by session id.
  (t) => [index("webhook_outbox_session_idx").on(t.sessionId)],
);

/** One row per configured webhook URL (id: a hash of the URL). No cursor: deliveries are made with each event. */
export const webhookEndpoints = pgTable("webhook_endpoints", {
  id: text("id").primaryKey(),
  state: text("state", { enum: ["active", "disabled"] }).notNull().default("active"),
  disabledAt: ms("disabled_at"),
  disabledReason: text("disabled_reason"),
  lastSuccessAt: ms("last_success_at"),
  lastFailureAt: ms("last_failure_at"),
  lastStatus: integer("last_status"),
  lastError: text("last_error"),
  createdAt: ms("created_at").notNull(),
});

/** One event to one endpoint: its attempts, its schedule and where it stands. */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    eventSeq: ms("event_seq")
      .notNull()
      .references(() => webhookOutbox.seq, { onDelete: "cascade" }),
    endpointId: text("endpoint_id")
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: "cascade" }),
    sessionId: text("session_id").notNull(),
    eventType: text("event_type").notNull(),
    status: text("status", { enum: ["pending", "delivered", "failed", "dead"] }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: ms("next_attempt_at").notNull(),
    /** Start of the retry window (creation, or the last replay). */
    queuedAt: ms("queued_at").notNull(),
    lastAttemptAt: ms("last_attempt_at"),
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    deliveredAt: ms("delivered_at"),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_event_endpoint_uq").on(t.eventSeq, t.endpointId),
    // The head of each (endpoint, session) lane: its oldest undelivered event, delivered before any later one.
    index("webhook_deliveries_lane_idx").on(t.endpointId, t.sessionId, t.eventSeq).where(sql`status IN ('pending', 'failed')`),
    index("webhook_deliveries_due_idx").on(t.nextAttemptAt).where(sql`status IN ('pending', 'failed')`),
    index("webhook_deliveries_status_idx").on(t.status, t.id),
    index("webhook_deliveries_endpoint_status_idx").on(t.endpointId, t.status),
  ],
);
