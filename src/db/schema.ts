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
    config: text("config", { mode: "json" }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
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
  },
  (t) => [
    index("sessions_status_activity_idx").on(t.status, t.lastActivityAt),
    index("sessions_room_started_idx").on(t.room, t.startedAt),
    // A room has at most one active session; every idle-separated span is its own archived row.
    uniqueIndex("sessions_room_active_uq").on(t.room).where(sql`status = 'active' AND room IS NOT NULL`),
  ],
);

export const messages = sqliteTable(
  "messages",
  {
    id: text("id").primaryKey(),
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
  },
  (t) => [
    uniqueIndex("messages_session_seq_uq").on(t.sessionId, t.seq),
    // NULL client ids never collide in SQLite, so messages without one are unaffected.
    uniqueIndex("messages_session_user_client_uq").on(t.sessionId, t.userId, t.clientMsgId),
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
