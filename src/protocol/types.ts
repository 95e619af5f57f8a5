// The wire shapes the server sends: a message, a session, and every server-to-client frame (pure types).
import type { Alert, Analysis, RiskLevel } from "./analysis.ts";
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
  /** Present once analysed, and only for readers who may see it (staff, or everyone when share is "all"). */
  analysis?: Analysis;
}

/** Per-session analysis setting: whether user messages are analysed and who sees the results. */
export interface AnalysisSetting {
  enabled: boolean;
  share: "staff" | "all";
}

/** Per-session AI assistant setting. */
/** Messages given to the model when the assistant setting names no `contextMessages` (SessionInfo shows it). */
export const DEFAULT_CONTEXT_MESSAGES = 50;

export interface AssistantSetting {
  enabled: boolean;
  /** The assistant's user id in the session and its @mention. */
  name: string;
  model?: string;
  systemPrompt?: string;
  temperature?: number;
  maxTokens?: number;
  /** "every": reply to every user message; "mention": only to messages containing @<name>. */
  trigger: "every" | "mention";
  /** How many recent messages are given to the model. @default 50 */
  contextMessages?: number;
}

/** End the session as completed when its last participant's last connection went and nobody came back in time. */
export interface EndOnDisconnectSetting {
  enabled: boolean;
  graceSeconds: number;
}

/** A reply of the assistant that is still streaming. */
export interface StreamInfo {
  id: string;
  /** The seq of the message being answered. */
  replyTo: number;
  userId: string;
  model: string;
  /** ISO 8601 */
  startedAt: string;
}

/** A stream in progress with everything streamed so far (in `joined`, and GET .../streams). */
export interface StreamSnapshot extends StreamInfo {
  text: string;
  reasoning?: string;
}

export type StreamStatus = "complete" | "cancelled" | "failed" | "interrupted";

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
  analysis: AnalysisSetting;
  assistant: AssistantSetting;
  endOnDisconnect: EndOnDisconnectSetting;
  metrics: SessionMetrics;
  /** Days after the end at which the session is erased; null: the server-wide RETENTION_DAYS applies. */
  retentionDays: number | null;
  /** The database's epoch: a random id, new after a restore. A `since` from another epoch is not resumable. */
  epoch: string;
}

export interface SessionMetrics {
  messageCount: number;
  participantCount: number;
  durationMs: number;
  /** Mean sentiment score of the analysed messages (null before the first analysis). */
  sentiment: number | null;
  /** Highest crisis risk level so far (null before the first analysis). */
  riskLevel: RiskLevel | null;
  /** Mean ms from a triggering message's commit to the assistant's first delta (null before the first reply). */
  responseTime: number | null;
  assistantMessages: number;
}

/** A client frame's `id`, echoed as `ref` in the direct reply. */
export type FrameRef = string | number;

export type ServerFrame =
  | { type: "pong"; ref?: FrameRef; ts: number }
  | {
      type: "joined";
      ref?: FrameRef;
      session: SessionInfo;
      messages: Message[];
      participants: string[];
      truncated?: true;
      streams?: StreamSnapshot[];
      /** The database's epoch (also in `session.epoch`); send it back with `since` when recovering. */
      epoch: string;
      /** The `since`/`epoch` given did not describe this history: `messages` is the current history from the start. */
      reset?: true;
    }
  | { type: "left"; ref?: FrameRef; session: string }
  | { type: "ack"; ref?: FrameRef; session: string; clientMsgId?: string; seq: number; messageId: string; ts: number }
  | { type: "configured"; ref?: FrameRef; session: SessionInfo }
  | { type: "ended"; ref?: FrameRef; session: SessionInfo }
  | { type: "authed"; ref?: FrameRef; exp: string }
  | { type: "error"; ref?: FrameRef; code: ErrorCode; message: string; retryAfterMs?: number; session?: string }
  | { type: "message"; session: string; message: Message }
  | { type: "session"; session: SessionInfo }
  | { type: "presence"; session: string; userId: string; event: "join" | "leave" }
  | { type: "session.status"; session: string; status: Exclude<SessionStatus, "active"> | "erased" }
  /** The room of a session this connection was in has an active session again (sent once; join it to follow). */
  | { type: "room.session"; room: string; session: SessionInfo }
  | { type: "analysis"; session: string; seq: number; analysis: Analysis }
  | { type: "alert"; alert: Alert }
  | { type: "alert.updated"; alert: Alert }
  | { type: "stream.start"; session: string; stream: StreamInfo }
  | { type: "stream.delta"; session: string; stream: string; offset: number; text: string; part?: "reasoning" }
  | { type: "stream.end"; session: string; stream: string; status: StreamStatus; seq?: number }
  | { type: "cancelled"; ref?: FrameRef; session: string; stream: string }
  /** SSE only, on connect: the replies in progress (WebSocket clients get them in `joined.streams`). */
  | { type: "streams"; session: string; streams: StreamSnapshot[] };
