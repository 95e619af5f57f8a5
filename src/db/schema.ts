// The SQLite schema (drizzle). drizzle-kit generates drizzle/*.sql from this file; times are epoch ms.
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { AnalysisSetting, AssistantSetting, EndOnDisconnectSetting } from "../protocol/types.ts";

export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    room: text("room"),
    ownerId: text("owner_id").notNull(),
    mode: text("mode", { enum: ["chat", "voice", "video"] }).notNull().default("chat"),
    status: text("status", { enum: ["active", "completed", "cancelled", "expired"] }).notNull().default("active"),
    access: text("access", { enum: ["private", "open"] }).notNull().default("private"),
    members: text("members", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    // JSON, sealed when encryption is on: the session store converts it (src/privacy/fields.ts).
    config: text("config").notNull().default(sql`'{}'`),
    startedAt: integer("started_at").notNull(),
    endedAt: integer("ended_at"),
    lastActivityAt: integer("last_activity_at").notNull(),
    lastSeq: integer("last_seq").notNull().default(0),
    messageCount: integer("message_count").notNull().default(0),
    participantCount: integer("participant_count").notNull().default(0),
    durationMs: integer("duration_ms"),
    // Per-session settings; NULL (rows from before they existed) means the server's default.
    analysis: text("analysis", { mode: "json" }).$type<AnalysisSetting>(),
    assistant: text("assistant", { mode: "json" }).$type<AssistantSetting>(),
    endOnDisconnect: text("end_on_disconnect", { mode: "json" }).$type<EndOnDisconnectSetting>(),
    // Running aggregates for SessionInfo.metrics, updated with the rows they summarise.
    analyzedCount: integer("analyzed_count").notNull().default(0),
    sentimentSum: real("sentiment_sum").notNull().default(0),
    riskLevel: text("risk_level", { enum: ["none", "low", "medium", "high"] }),
    assistantMessages: integer("assistant_messages").notNull().default(0),
    responseTimeSumMs: integer("response_time_sum_ms").notNull().default(0),
    responseTimeCount: integer("response_time_count").notNull().default(0),
    /** Erase the session this many days after it ended (overrides RETENTION_DAYS); NULL: the server's rule. */
    retentionDays: integer("retention_days"),
  },
  (t) => [
    index("sessions_status_activity_idx").on(t.status, t.lastActivityAt),
    index("sessions_room_started_idx").on(t.room, t.startedAt),
    // A room has at most one active session; every idle-separated span is its own archived row.
    uniqueIndex("sessions_room_active_uq").on(t.room).where(sql`status = 'active' AND room IS NOT NULL`),
  ],
);

/**
 * Keyed by (session_id, seq) and created WITHOUT ROWID by migration 0004 (drizzle-kit cannot express that; keep the
 * clause when regenerating): the rows are the primary-key b-tree itself, so an insert writes that and the
 * idempotency index, two b-trees instead of four. `id` is the message's public id; nothing looks a row up by it.
 */
export const messages = sqliteTable(
  "messages",
  {
    id: text("id").notNull(),
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    userId: text("user_id").notNull(),
    role: text("role", { enum: ["user", "assistant", "system"] }).notNull(),
    kind: text("kind", { enum: ["text", "action"] }).notNull(),
    content: text("content").notNull(),
    metadata: text("metadata"),
    clientMsgId: text("client_msg_id"),
    createdAt: integer("created_at").notNull(),
    /** Set when the author was erased and the row became a tombstone (same seq, no content). */
    erasedAt: integer("erased_at"),
  },
  (t) => [
    primaryKey({ columns: [t.sessionId, t.seq] }),
    // Only messages that carry a client id are in it (NULLs never collide): one without costs one b-tree write.
    uniqueIndex("messages_session_user_client_uq").on(t.sessionId, t.userId, t.clientMsgId).where(sql`client_msg_id IS NOT NULL`),
  ],
);

export const sessionParticipants = sqliteTable(
  "session_participants",
  {
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull(),
    firstSeenAt: integer("first_seen_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.sessionId, t.userId] })],
);

/** One analysis per analysed message; its presence is what "already analysed" means after a restart. */
export const messageAnalyses = sqliteTable(
  "message_analyses",
  {
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    messageId: text("message_id").notNull(),
    analysis: text("analysis").notNull(),
    riskLevel: text("risk_level", { enum: ["none", "low", "medium", "high"] }).notNull(),
    sentiment: real("sentiment").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.sessionId, t.seq] })],
);

export const alerts = sqliteTable(
  "alerts",
  {
    id: text("id").primaryKey(),
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    messageId: text("message_id").notNull(),
    userId: text("user_id").notNull(),
    riskLevel: text("risk_level", { enum: ["none", "low", "medium", "high"] }).notNull(),
    triggers: text("triggers").notNull(),
    recommendedAction: text("recommended_action").notNull(),
    status: text("status", { enum: ["open", "acknowledged", "resolved"] }).notNull().default("open"),
    createdAt: integer("created_at").notNull(),
    acknowledgedBy: text("acknowledged_by"),
    acknowledgedAt: integer("acknowledged_at"),
    resolvedBy: text("resolved_by"),
    resolvedAt: integer("resolved_at"),
    note: text("note"),
  },
  (t) => [
    // One alert per message, however often the message is analysed (a crash between commit and analysis).
    uniqueIndex("alerts_session_seq_uq").on(t.sessionId, t.seq),
    index("alerts_status_created_idx").on(t.status, t.createdAt),
    index("alerts_created_idx").on(t.createdAt, t.id),
  ],
);

/** Assistant replies in progress, with the text saved so far; committed as messages when they end. */
export const assistantStreams = sqliteTable(
  "assistant_streams",
  {
    id: text("id").primaryKey(),
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    replyTo: integer("reply_to").notNull(),
    userId: text("user_id").notNull(),
    model: text("model").notNull(),
    startedAt: integer("started_at").notNull(),
    text: text("text").notNull().default(""),
    reasoning: text("reasoning").notNull().default(""),
    savedAt: integer("saved_at").notNull(),
  },
  (t) => [index("assistant_streams_session_idx").on(t.sessionId)],
);

/** Facts about the database itself (its epoch, for example). */
export const meta = sqliteTable("sessiond_meta", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

/**
 * Lifecycle webhook events, written in the same transaction as the change each reports (the outbox). The
 * AUTOINCREMENT seq is the delivery order and is never reused after pruning, so endpoint cursors stay valid.
 */
export const webhookOutbox = sqliteTable("webhook_outbox", {
  seq: integer("seq").primaryKey({ autoIncrement: true }),
  /**
   * The `webhook-id` header: stable across retries and replays, so receivers can de-duplicate. Random (UUIDv7),
   * never looked up, so it has no index: one B-tree less on the message hot path.
   */
  id: text("id").notNull(),
  type: text("type").notNull(),
  sessionId: text("session_id").notNull(),
  /** The exact JSON body that is signed and sent. */
  payload: text("payload").notNull(),
  createdAt: integer("created_at").notNull(),
});

/** One row per configured webhook URL (id: a hash of the URL, so the URL itself is never stored). */
export const webhookEndpoints = sqliteTable("webhook_endpoints", {
  id: text("id").primaryKey(),
  state: text("state", { enum: ["active", "disabled"] }).notNull().default("active"),
  /** The highest outbox seq already turned into deliveries for this endpoint. */
  cursor: integer("cursor").notNull().default(0),
  disabledAt: integer("disabled_at"),
  disabledReason: text("disabled_reason"),
  lastSuccessAt: integer("last_success_at"),
  lastFailureAt: integer("last_failure_at"),
  lastStatus: integer("last_status"),
  lastError: text("last_error"),
  createdAt: integer("created_at").notNull(),
});

/** One event to one endpoint: its attempts, its schedule and where it stands. */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    eventSeq: integer("event_seq")
      .notNull()
      .references(() => webhookOutbox.seq, { onDelete: "cascade" }),
    endpointId: text("endpoint_id")
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: "cascade" }),
    sessionId: text("session_id").notNull(),
    eventType: text("event_type").notNull(),
    status: text("status", { enum: ["pending", "delivered", "failed", "dead"] }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at").notNull(),
    /** Start of the retry window (creation, or the last replay): past WEBHOOK_MAX_AGE_SECONDS it is dead. */
    queuedAt: integer("queued_at").notNull(),
    lastAttemptAt: integer("last_attempt_at"),
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    deliveredAt: integer("delivered_at"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_event_endpoint_uq").on(t.eventSeq, t.endpointId),
    // The head of each (endpoint, session) lane: its oldest undelivered event, delivered before any later one.
    index("webhook_deliveries_lane_idx").on(t.endpointId, t.sessionId, t.eventSeq).where(sql`status IN ('pending', 'failed')`),
    index("webhook_deliveries_due_idx").on(t.nextAttemptAt).where(sql`status IN ('pending', 'failed')`),
    index("webhook_deliveries_status_idx").on(t.status, t.id),
    // Counts per endpoint and status for the endpoints view, read from the index alone.
    index("webhook_deliveries_endpoint_status_idx").on(t.endpointId, t.status),
  ],
);

/** A transcript archive file owed for an ended session, written in the same transaction as the end. */
export const archiveJobs = sqliteTable(
  "archive_jobs",
  {
    sessionId: text("session_id")
      .primaryKey()
      .references(() => sessions.id, { onDelete: "cascade" }),
    status: text("status", { enum: ["pending", "written"] }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at").notNull(),
    lastError: text("last_error"),
    /** The file written, relative to ARCHIVE_DIR. */
    path: text("path"),
    createdAt: integer("created_at").notNull(),
    writtenAt: integer("written_at"),
  },
  (t) => [index("archive_jobs_pending_idx").on(t.nextAttemptAt).where(sql`status = 'pending'`)],
);

/**
 * The audit trail: append-only (triggers refuse UPDATE and DELETE), each entry chained to the one before by its
 * hash (src/privacy/audit-chain.ts). Ids, roles, actions, addresses and counts only: never content.
 */
export const auditLog = sqliteTable(
  "audit_log",
  {
    id: integer("id").primaryKey(),
    at: integer("at").notNull(),
    actorId: text("actor_id").notNull(),
    actorRole: text("actor_role").notNull(),
    action: text("action").notNull(),
    objectType: text("object_type").notNull(),
    objectId: text("object_id").notNull(),
    address: text("address").notNull(),
    /** JSON of counts and short codes, or NULL. */
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
