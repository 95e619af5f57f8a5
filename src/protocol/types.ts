// The wire shapes of a message and a session, as clients see them (pure types).

export type SessionMode = "chat" | "voice" | "video";
export type SessionStatus = "active" | "completed" | "cancelled" | "expired";
export type SessionAccess = "private" | "open";
export type MessageRole = "user" | "assistant" | "system";
export type MessageKind = "text" | "action";

export interface Message {
  id: string;
  seq: number;
  session: string;
  userId: string;
  role: MessageRole;
  kind: MessageKind;
  content: string;
  metadata?: Record<string, unknown>;
  clientMsgId?: string;
  /** ISO 8601 */
  createdAt: string;
}

export interface SessionInfo {
  id: string;
  room?: string;
  ownerId: string;
  mode: SessionMode;
  status: SessionStatus;
  access: SessionAccess;
  members: string[];
  config: Record<string, unknown>;
  startedAt: string;
  endedAt?: string;
  lastActivityAt: string;
  metrics: { messageCount: number; participantCount: number; durationMs: number };
}
