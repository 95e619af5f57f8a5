// Webhook event bodies (pure): `{"type","timestamp","data"}` for each lifecycle event, built from the rows the
// stores hand to their commit hooks. Message content, metadata, alert triggers and notes only when asked for.
import { DEFAULT_RECOMMENDED_ACTIONS, type Alert } from "../protocol/analysis.ts";
import type { Message, SessionMetrics } from "../protocol/types.ts";
import { sessionMetrics, type SessionRecord } from "../sessions/store.ts";
import type { WebhookEventType } from "../config/index.ts";

/** The JSON body of every webhook request. `timestamp` is when the change happened (ISO 8601). */
export interface WebhookBody<T extends WebhookEventType = WebhookEventType, D = unknown> {
  type: T;
  timestamp: string;
  data: D;
}

/** A session without its config, members or settings (they may carry prompts or personal data). */
export interface WebhookSession {
  id: string;
  room?: string;
  ownerId: string;
  mode: SessionRecord["mode"];
  status: SessionRecord["status"];
  access: SessionRecord["access"];
  startedAt: string;
  endedAt?: string;
  lastActivityAt: string;
  metrics: SessionMetrics;
}

export interface WebhookMessage {
  id: string;
  seq: number;
  userId: string;
  role: Message["role"];
  kind: Message["kind"];
  createdAt: string;
  /** UTF-8 bytes of the content (always present, so a receiver can count without seeing text). */
  contentBytes: number;
  clientMsgId?: string;
  /** Only with WEBHOOK_INCLUDE_CONTENT=true. */
  content?: string;
  /** Only with WEBHOOK_INCLUDE_CONTENT=true. */
  metadata?: Record<string, unknown>;
}

export interface WebhookAlert {
  id: string;
  session: string;
  seq: number;
  messageId: string;
  userId: string;
  risk_level: Alert["risk_level"];
  /** The detected categories (e.g. "suicidal_ideation"), without the phrase that matched. */
  categories: string[];
  recommended_action: string;
  status: Alert["status"];
  createdAt: string;
  acknowledgedBy?: string;
  acknowledgedAt?: string;
  resolvedBy?: string;
  resolvedAt?: string;
  /** "<category>: <phrase>"; only with WEBHOOK_INCLUDE_CONTENT=true (the phrase quotes the user). */
  triggers?: string[];
  /** Only with WEBHOOK_INCLUDE_CONTENT=true. */
  note?: string;
}

/** One event ready for the outbox: its type, the session it belongs to (its delivery lane) and its body. */
export interface OutboxEvent {
  type: WebhookEventType;
  sessionId: string;
  /** When the change happened, epoch ms. */
  at: number;
  body: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function event<D>(type: WebhookEventType, sessionId: string, at: number, data: D): OutboxEvent {
  const body: WebhookBody<WebhookEventType, D> = { type, timestamp: iso(at), data };
  return { type, sessionId, at, body: JSON.stringify(body) };
}

/** The session as webhooks show it; `now` sets the duration of a session still active. */
export function webhookSession(r: SessionRecord, now: number): WebhookSession {
  const s: WebhookSession = {
    id: r.id,
    ...(r.room !== null && { room: r.room }),
    ownerId: r.ownerId,
    mode: r.mode,
    status: r.status,
    access: r.access,
    startedAt: iso(r.startedAt),
    ...(r.endedAt !== null && { endedAt: iso(r.endedAt) }),
    lastActivityAt: iso(r.lastActivityAt),
    metrics: sessionMetrics(r, now),
  };
  return s;
}

export function sessionStarted(r: SessionRecord): OutboxEvent {
  return event("session.started", r.id, r.startedAt, { session: webhookSession(r, r.startedAt) });
}

/** `status` is completed, cancelled or expired; the metrics are the final ones. */
export function sessionEnded(r: SessionRecord): OutboxEvent {
  const at = r.endedAt ?? r.lastActivityAt;
  return event("session.ended", r.id, at, { session: webhookSession(r, at), status: r.status });
}

export function participantJoined(sessionId: string, userId: string, at: number): OutboxEvent {
  return event("participant.joined", sessionId, at, { session: sessionId, userId });
}

export function participantLeft(sessionId: string, userId: string, at: number): OutboxEvent {
  return event("participant.left", sessionId, at, { session: sessionId, userId });
}

export function messageCreated(m: Message, includeContent: boolean): OutboxEvent {
  const message: WebhookMessage = {
    id: m.id,
    seq: m.seq,
    userId: m.userId,
    role: m.role,
    kind: m.kind,
    createdAt: m.createdAt,
    contentBytes: Buffer.byteLength(m.content, "utf8"),
    ...(m.clientMsgId !== undefined && { clientMsgId: m.clientMsgId }),
    ...(includeContent && { content: m.content }),
    ...(includeContent && m.metadata !== undefined && { metadata: m.metadata }),
  };
  return event("message.created", m.session, Date.parse(m.createdAt), { session: m.session, message });
}

export function webhookAlert(a: Alert, includeContent: boolean): WebhookAlert {
  return {
    id: a.id,
    session: a.session,
    seq: a.seq,
    messageId: a.messageId,
    userId: a.userId,
    risk_level: a.risk_level,
    categories: triggerCategories(a.triggers),
    // A model may write its own sentence, which can quote the person: without content, the level's standard one.
    recommended_action: includeContent ? a.recommended_action : DEFAULT_RECOMMENDED_ACTIONS[a.risk_level],
    status: a.status,
    createdAt: a.createdAt,
    ...(a.acknowledgedBy !== undefined && { acknowledgedBy: a.acknowledgedBy }),
    ...(a.acknowledgedAt !== undefined && { acknowledgedAt: a.acknowledgedAt }),
    ...(a.resolvedBy !== undefined && { resolvedBy: a.resolvedBy }),
    ...(a.resolvedAt !== undefined && { resolvedAt: a.resolvedAt }),
    ...(includeContent && { triggers: a.triggers }),
    ...(includeContent && a.note !== undefined && { note: a.note }),
  };
}

export function alertRaised(a: Alert, includeContent: boolean): OutboxEvent {
  return event("alert.raised", a.session, Date.parse(a.createdAt), { alert: webhookAlert(a, includeContent) });
}

/** `at` is when the status or note changed (epoch ms). */
export function alertUpdated(a: Alert, includeContent: boolean, at: number): OutboxEvent {
  return event("alert.updated", a.session, at, { alert: webhookAlert(a, includeContent) });
}

/**
 * The categories of "<category>: <phrase>" triggers: only code-like names (a model may write a trigger without a
 * category, or put words of the message first); anything else counts as "other".
 */
export function triggerCategories(triggers: readonly string[]): string[] {
  return [...new Set(triggers.map((t) => t.split(":")[0]!.trim()).map((c) => (/^[a-z][a-z_]{0,39}$/.test(c) ? c : "other")))];
}
