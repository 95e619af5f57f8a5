// The wire shapes the server sends: a message, a session, and every server-to-client frame (pure types).
import type { ErrorCode } from "./errors.ts";

/** Session ids and room keys. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

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

/** A client frame's `id`, echoed as `ref` in the direct reply. */
export type FrameRef = string | number;

export type ServerFrame =
  | { type: "pong"; ref?: FrameRef; ts: number }
  | { type: "joined"; ref?: FrameRef; session: SessionInfo; messages: Message[]; participants: string[]; truncated?: true }
  | { type: "left"; ref?: FrameRef; session: string }
  | { type: "ack"; ref?: FrameRef; session: string; clientMsgId?: string; seq: number; messageId: string; ts: number }
  | { type: "configured"; ref?: FrameRef; session: SessionInfo }
  | { type: "ended"; ref?: FrameRef; session: SessionInfo }
  | { type: "authed"; ref?: FrameRef; exp: string }
  | { type: "error"; ref?: FrameRef; code: ErrorCode; message: string; retryAfterMs?: number; session?: string }
  | { type: "message"; session: string; message: Message }
  | { type: "session"; session: SessionInfo }
  | { type: "presence"; session: string; userId: string; event: "join" | "leave" }
  | { type: "session.status"; session: string; status: Exclude<SessionStatus, "active"> };
