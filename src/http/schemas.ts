// The HTTP API's request and response shapes as zod schemas; the OpenAPI document is generated from these.
import { z } from "@hono/zod-openapi";
import { access, analysisSettingInput, assistantRequest, assistantSettingInput, clientMsgId, endOnDisconnectInput, members, metadata, retentionDays, roomKey, sessionConfig, sessionId } from "../protocol/frames.ts";

export const ErrorBody = z
  .object({ error: z.object({ code: z.string().openapi({ example: "forbidden" }), message: z.string() }) })
  .openapi("Error");

const RiskLevel = z.enum(["none", "low", "medium", "high"]);

export const Analysis = z
  .object({
    sentiment: z.object({ score: z.number().min(-1).max(1), labels: z.array(z.string()), confidence: z.number().min(0).max(1) }),
    topics: z.object({ topics: z.array(z.string()), relevance: z.array(z.number()), context: z.string() }),
    crisis: z.object({ risk_level: RiskLevel, triggers: z.array(z.string()), recommended_action: z.string() }),
    analyzer: z.string().openapi({ example: "builtin/1" }),
    at: z.string().openapi({ format: "date-time" }),
  })
  .openapi("Analysis");

export const Alert = z
  .object({
    id: z.string(),
    session: z.string(),
    seq: z.number().int(),
    messageId: z.string(),
    userId: z.string(),
    risk_level: RiskLevel,
    triggers: z.array(z.string()),
    recommended_action: z.string(),
    status: z.enum(["open", "acknowledged", "resolved"]),
    createdAt: z.string().openapi({ format: "date-time" }),
    acknowledgedBy: z.string().optional(),
    acknowledgedAt: z.string().optional().openapi({ format: "date-time" }),
    resolvedBy: z.string().optional(),
    resolvedAt: z.string().optional().openapi({ format: "date-time" }),
    note: z.string().optional(),
  })
  .openapi("Alert");

export const AlertList = z
  .object({
    alerts: z.array(Alert),
    nextAfter: z.string().nullable().openapi({ description: "Pass as `after` for the next (older) page; null on the last page" }),
  })
  .openapi("AlertList");

export const AlertsQuery = z.object({
  status: z.enum(["open", "acknowledged", "resolved"]).optional(),
  session: sessionId.optional(),
  after: z.string().min(1).max(128).optional().openapi({ description: "The nextAfter of the previous page (an alert id): alerts older than it" }),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export const AlertIdParam = z.object({ id: z.string().min(1).max(128).openapi({ param: { name: "id", in: "path" } }) });

export const AlertNoteBody = z.strictObject({ note: z.string().max(2000).optional() }).openapi("AlertNote");

export const SessionInfo = z
  .object({
    id: z.string(),
    room: z.string().optional(),
    ownerId: z.string(),
    mode: z.enum(["chat", "voice", "video"]),
    status: z.enum(["active", "completed", "cancelled", "expired"]),
    access: z.enum(["private", "open"]),
    members: z.array(z.string()),
    config: z.record(z.string(), z.unknown()),
    startedAt: z.string().openapi({ format: "date-time" }),
    endedAt: z.string().optional().openapi({ format: "date-time" }),
    lastActivityAt: z.string().openapi({ format: "date-time" }),
    endOnDisconnect: z.object({ enabled: z.boolean(), graceSeconds: z.number().int() }),
    analysis: z.object({ enabled: z.boolean(), share: z.enum(["staff", "all"]) }).openapi({ description: "Whether user messages are analysed, and who sees the analyses (staff, or everyone)" }),
    assistant: z.object({
      enabled: z.boolean(),
      name: z.string(),
      model: z.string().optional(),
      systemPrompt: z.string().optional(),
      temperature: z.number().optional(),
      maxTokens: z.number().int().optional(),
      trigger: z.enum(["every", "mention"]),
      contextMessages: z.number().int().optional(),
    }),
    metrics: z.object({
      messageCount: z.number().int(),
      participantCount: z.number().int(),
      durationMs: z.number().int(),
      sentiment: z.number().nullable().openapi({ description: "Mean sentiment score of the analysed messages, in [-1, 1]; null before the first" }),
      riskLevel: RiskLevel.nullable().openapi({ description: "Highest crisis risk level so far; null before the first analysis" }),
      responseTime: z.number().int().nullable(),
      assistantMessages: z.number().int(),
    }),
    retentionDays: z.number().int().nullable().openapi({ description: "Erased this many days after it ended; null: the server-wide RETENTION_DAYS applies" }),
    epoch: z.string().openapi({ description: "The database's epoch, new after a restore; send it back with since when recovering" }),
  })
  .openapi("SessionInfo");

export const Message = z
  .object({
    id: z.string(),
    seq: z.number().int(),
    session: z.string(),
    userId: z.string(),
    role: z.enum(["user", "assistant", "system"]),
    kind: z.enum(["text", "action"]),
    content: z.string(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    clientMsgId: z.string().optional(),
    createdAt: z.string().openapi({ format: "date-time" }),
    analysis: Analysis.optional().openapi({ description: "Present once analysed, and only for readers who may see it (staff, or everyone when the session's analysis share is \"all\")" }),
  })
  .openapi("Message");

export const SessionIdParam = z.object({ id: sessionId.openapi({ param: { name: "id", in: "path" }, example: "standup-2026-11-21" }) });

/** Page sizes: default 50, at most 500 (more is a 400, not a silent clamp). */
const pageLimit = z.coerce.number().int().min(1).max(500).default(50);

export const CreateSessionBody = z
  .strictObject({
    room: roomKey.optional(),
    mode: z.enum(["chat", "voice", "video"]).optional(),
    config: sessionConfig.optional(),
    access: access.optional(),
    members: members.optional(),
    endOnDisconnect: endOnDisconnectInput.optional(),
    assistant: assistantSettingInput.optional(),
    analysis: analysisSettingInput.optional(),
    retentionDays: retentionDays.optional(),
  })
  .openapi("CreateSession");

export const PatchSessionBody = z
  .strictObject({ config: sessionConfig.optional(), access: access.optional(), members: members.optional(), endOnDisconnect: endOnDisconnectInput.optional(), assistant: assistantSettingInput.optional(), analysis: analysisSettingInput.optional(), retentionDays: retentionDays.optional() })
  .openapi("PatchSession");

export const EndSessionBody = z.strictObject({ status: z.enum(["completed", "cancelled"]).optional() }).openapi("EndSession");

export const ListSessionsQuery = z.object({
  status: z.enum(["active", "completed", "cancelled", "expired"]).optional(),
  room: roomKey.optional(),
  limit: pageLimit,
  cursor: z.string().max(300).optional(),
});

export const SessionList = z
  .object({ sessions: z.array(SessionInfo), nextCursor: z.string().nullable() })
  .openapi("SessionList");

export const MessagesQuery = z.object({
  after: z.coerce.number().int().min(0).default(0),
  limit: pageLimit,
});

export const MessagePage = z.object({ messages: z.array(Message), nextAfter: z.number().int().nullable() }).openapi("MessagePage");

export const PostMessageBody = z
  .strictObject({
    content: z.string(),
    kind: z.enum(["text", "action"]).optional(),
    role: z.enum(["user", "assistant", "system"]).optional(),
    metadata: metadata.optional(),
    assistant: assistantRequest.optional().openapi({ description: "Ask the session's assistant for a reply to this message (as JSON, and/or with its reasoning streamed apart)." }),
  })
  .openapi("PostMessage");

export const StreamIdParam = z.object({
  id: sessionId.openapi({ param: { name: "id", in: "path" } }),
  stream: z.string().min(1).max(128).openapi({ param: { name: "stream", in: "path" } }),
});

export const StreamSnapshot = z
  .object({
    id: z.string(),
    replyTo: z.number().int(),
    userId: z.string(),
    model: z.string(),
    startedAt: z.string().openapi({ format: "date-time" }),
    text: z.string(),
    reasoning: z.string().optional(),
  })
  .openapi("StreamSnapshot");

export const StreamList = z.object({ streams: z.array(StreamSnapshot) }).openapi("StreamList");

export const CancelledStream = z.object({ type: z.literal("cancelled"), session: z.string(), stream: z.string() }).openapi("CancelledStream");

export const IdempotencyHeader = z.object({
  "idempotency-key": clientMsgId.optional().openapi({ param: { name: "idempotency-key", in: "header" }, description: "Idempotency-Key: the same key space as the WebSocket clientMsgId" }),
});

export const ExportQuery = z.object({ format: z.enum(["json", "markdown", "yaml"]).default("json") });

export const EventsQuery = z.object({
  token: z.string().optional().openapi({ description: "The token, for EventSource (which cannot set headers)." }),
  lastEventId: z.string().optional().openapi({ description: "Resume after this seq (same as the Last-Event-ID header)." }),
  since: z.string().optional().openapi({ description: "Start after this seq instead of live only." }),
});
