// The HTTP API's request and response shapes as zod schemas; the OpenAPI document is generated from these.
import { z } from "@hono/zod-openapi";
import { access, clientMsgId, members, metadata, roomKey, sessionConfig, sessionId } from "../protocol/frames.ts";

export const ErrorBody = z
  .object({ error: z.object({ code: z.string().openapi({ example: "forbidden" }), message: z.string() }) })
  .openapi("Error");

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
    metrics: z.object({ messageCount: z.number().int(), participantCount: z.number().int(), durationMs: z.number().int() }),
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
  })
  .openapi("CreateSession");

export const PatchSessionBody = z
  .strictObject({ config: sessionConfig.optional(), access: access.optional(), members: members.optional() })
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
  })
  .openapi("PostMessage");

export const IdempotencyHeader = z.object({
  "idempotency-key": clientMsgId.optional().openapi({ param: { name: "idempotency-key", in: "header" }, description: "Idempotency-Key: the same key space as the WebSocket clientMsgId" }),
});

export const ExportQuery = z.object({ format: z.enum(["json", "markdown", "yaml"]).default("json") });

export const EventsQuery = z.object({
  token: z.string().optional().openapi({ description: "The token, for EventSource (which cannot set headers)." }),
  lastEventId: z.string().optional().openapi({ description: "Resume after this seq (same as the Last-Event-ID header)." }),
  since: z.string().optional().openapi({ description: "Start after this seq instead of live only." }),
});
