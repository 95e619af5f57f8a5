// The SQLite schema (drizzle). drizzle-kit generates drizzle/*.sql from this file; times are epoch ms.
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

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
