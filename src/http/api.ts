// The HTTP API under /api/sessions, and /openapi.json generated from the same zod schemas. Every route goes
// through the session service: one write path, one access check, one broadcast.
import { createRoute, OpenAPIHono, type z } from "@hono/zod-openapi";
import type { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Authenticator } from "../auth/authenticator.ts";
import { describeZodError, ID_PATTERN } from "../protocol/frames.ts";
import { SessiondError, isSessiondError } from "../protocol/errors.ts";
import type { Message, SessionInfo as SessionInfoT } from "../protocol/types.ts";
import type { SessionService } from "../sessions/session-service.ts";
import { TRANSCRIPT_EXTENSIONS, TRANSCRIPT_MEDIA_TYPES, transcriptChunks, transcriptChunksLater, type TranscriptFormat, type TranscriptSummary } from "../sessions/transcript.ts";
import { canSeeAnalysis } from "../sessions/access.ts";
import type { AlertService } from "../analysis/alerts.ts";
import { registerAlertRoutes } from "./alerts.ts";
import type { SseGateway } from "../realtime/sse-gateway.ts";
import * as S from "./schemas.ts";
import { registerAdminRoutes, type AdminDeps, type ApiEnv } from "./admin.ts";
import { registerConsoleRoutes, type ConsoleApiDeps } from "./console-api.ts";
import { registerPrivacyRoutes, type PrivacyRouteDeps } from "./privacy.ts";

export interface ApiDeps {
  service: SessionService;
  authenticator: Authenticator;
  sse: SseGateway;
  maxMessageBytes: number;
  onMessageReceived?: () => void;
  /** Told of an event stream refused by authentication, by code (the SSE gateway counts its own refusals). */
  onStreamRefused?: (code: string) => void;
  admin: AdminDeps;
  /** The operator console's data routes (/api/console/*, the admin kick); absent when the console is off. */
  console?: ConsoleApiDeps;
  /** Crisis alerts (/api/alerts, staff only) and the alert count in exports. */
  alerts?: AlertService;
  /** Erasure, export and the audit trail (/api/admin/...), and the audit of admin actions. */
  privacy?: PrivacyRouteDeps;
}

type Env = ApiEnv;

const errors = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [s, { description: ERROR_DESCRIPTIONS[s] ?? "Error", content: { "application/json": { schema: S.ErrorBody } } }]),
  );
const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "bad_request: a field failed validation (the message names it)",
  401: "unauthorized: missing or invalid token",
  403: "forbidden: not allowed for this caller",
  404: "not_found",
  409: "conflict, or session_ended",
  413: "payload_too_large",
  415: "bad_request: the body must be application/json",
  429: "rate_limited (see Retry-After) or limit_exceeded",
  503: "unavailable: the database is busy, locked or full, or the server is restarting; nothing was written (see Retry-After)",
};
const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });
const body = <T extends z.ZodType>(schema: T, required = true) => ({ required, content: { "application/json": { schema } } });

const routes = {
  create: createRoute({
    method: "post",
    path: "/api/sessions",
    summary: "Create a session (or return the room's active one)",
    request: { body: body(S.CreateSessionBody, false) },
    responses: { 201: json(S.SessionInfo, "Created"), 200: json(S.SessionInfo, "The room's active session"), ...errors(400, 401, 403, 409, 413, 415) },
  }),
  list: createRoute({
    method: "get",
    path: "/api/sessions",
    summary: "List the sessions the caller may see (staff: all), newest first",
    request: { query: S.ListSessionsQuery },
    responses: { 200: json(S.SessionList, "A page of sessions"), ...errors(400, 401) },
  }),
  get: createRoute({
    method: "get",
    path: "/api/sessions/{id}",
    summary: "Get a session",
    request: { params: S.SessionIdParam },
    responses: { 200: json(S.SessionInfo, "The session"), ...errors(400, 401, 403, 404) },
  }),
  patch: createRoute({
    method: "patch",
    path: "/api/sessions/{id}",
    summary: "Replace config, access or members (owner or admin)",
    request: { params: S.SessionIdParam, body: body(S.PatchSessionBody) },
    responses: { 200: json(S.SessionInfo, "The updated session"), ...errors(400, 401, 403, 404, 409, 413, 415) },
  }),
  end: createRoute({
    method: "post",
    path: "/api/sessions/{id}/end",
    summary: "End a session (owner or admin)",
    request: { params: S.SessionIdParam, body: body(S.EndSessionBody, false) },
    responses: { 200: json(S.SessionInfo, "The ended session"), ...errors(400, 401, 403, 404, 409, 415) },
  }),
  messages: createRoute({
    method: "get",
    path: "/api/sessions/{id}/messages",
    summary: "Messages after a seq, ascending; complete across the cache window",
    request: { params: S.SessionIdParam, query: S.MessagesQuery },
    responses: { 200: json(S.MessagePage, "A page of messages"), ...errors(400, 401, 403, 404) },
  }),
  post: createRoute({
    method: "post",
    path: "/api/sessions/{id}/messages",
    summary: "Post a message; answered after it is committed",
    request: { params: S.SessionIdParam, headers: S.IdempotencyHeader, body: body(S.PostMessageBody) },
    responses: {
      201: json(S.Message, "Committed"),
      200: json(S.Message, "An idempotent repeat: the original message"),
      ...errors(400, 401, 403, 404, 409, 413, 415, 429, 503),
    },
  }),
  streams: createRoute({
    method: "get",
    path: "/api/sessions/{id}/streams",
    summary: "The assistant's replies in progress, with their text so far",
    request: { params: S.SessionIdParam },
    responses: { 200: json(S.StreamList, "Replies in progress (none once the session ended)"), ...errors(400, 401, 403, 404) },
  }),
  cancelStream: createRoute({
    method: "post",
    path: "/api/sessions/{id}/streams/{stream}/cancel",
    summary: "Stop a reply in progress (author of the message answered, session owner, or staff)",
    request: { params: S.StreamIdParam },
    responses: { 200: json(S.CancelledStream, "Cancelled: the text so far is committed, then stream.end"), ...errors(400, 401, 403, 404) },
  }),
  events: createRoute({
    method: "get",
    path: "/api/sessions/{id}/events",
    summary: "Server-Sent Events: message, presence, session, session.status, and the assistant's streams, stream.start, stream.delta, stream.end",
    request: { params: S.SessionIdParam, query: S.EventsQuery },
    responses: {
      200: { description: "An event stream; message events carry id = seq", content: { "text/event-stream": { schema: { type: "string" } } } },
      204: { description: "The session has ended and there is nothing to resume" },
      ...errors(400, 401, 403, 404, 429),
    },
  }),
  export: createRoute({
    method: "get",
    path: "/api/sessions/{id}/export",
    summary: "The whole transcript as JSON, Markdown or YAML, streamed",
    request: { params: S.SessionIdParam, query: S.ExportQuery },
    responses: {
      200: {
        description: "The transcript (Content-Disposition names a file)",
        content: { "application/json": { schema: { type: "object" } }, "text/markdown": { schema: { type: "string" } }, "application/yaml": { schema: { type: "string" } } },
      },
      ...errors(400, 401, 403, 404),
    },
  }),
};

export function mountApi(app: Hono, deps: ApiDeps): void {
  const { service, authenticator, sse } = deps;
  const api = new OpenAPIHono<Env>({
    // Thrown, not returned, so validation failures reach the app's one error handler like every other error.
    defaultHook: (result) => {
      if (!result.success) throw new SessiondError("bad_request", describeZodError(result.error));
    },
  });

  api.use("/api/*", async (c, next) => {
    const url = new URL(c.req.url);
    const allowQueryToken = url.pathname.endsWith("/events");
    const address = (c.env as { requestIP?: { address?: string } } | undefined)?.requestIP?.address ?? "unknown";
    let verified;
    try {
      verified = await authenticator.fromRequest(c.req.raw, url, { allowQueryToken });
    } catch (e) {
      // A refused SSE stream is a refused connection too (sessiond_connection_errors_total).
      if (allowQueryToken) deps.onStreamRefused?.(isSessiondError(e) ? e.code : "internal");
      throw e;
    }
    c.set("principal", { ...verified.principal, address });
    const method = c.req.method;
    if (method === "POST" || method === "PATCH" || method === "PUT") {
      const type = c.req.header("content-type");
      const hasBody = c.req.header("content-length") !== undefined ? c.req.header("content-length") !== "0" : c.req.header("transfer-encoding") !== undefined;
      if (hasBody && !/^application\/json\s*(;|$)/i.test(type ?? "")) {
        throw new SessiondError("bad_request", "The request body must be JSON (Content-Type: application/json).", undefined, 415);
      }
    }
    await next();
  });
  api.use(
    "/api/*",
    bodyLimit({
      maxSize: deps.maxMessageBytes + 32 * 1024,
      onError: () => {
        throw new SessiondError("payload_too_large", `The request body is over the limit of ${deps.maxMessageBytes + 32 * 1024} bytes.`);
      },
    }),
  );

  // Before the admin and alert routes: it records their actions in the audit trail once they succeeded.
  if (deps.privacy) registerPrivacyRoutes(api, deps.privacy);
  registerAdminRoutes(api, service, deps.admin);
  if (deps.console) registerConsoleRoutes(api, service, deps.console);
  if (deps.alerts) registerAlertRoutes(api, { alerts: deps.alerts, sse });

  api.openapi(routes.create, async (c) => {
    const input = emptyBody(c.req.valid("json"));
    const { session, created, stored } = await service.run(() => service.open(c.get("principal"), input));
    // Answered once the row has committed (group-committed with whatever else arrived meanwhile).
    await stored;
    return c.json(session as z.infer<typeof S.SessionInfo>, created ? 201 : 200);
  });

  api.openapi(routes.list, async (c) => {
    const q = c.req.valid("query");
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    const page = await service.list(c.get("principal"), { status: q.status, room: q.room, limit: q.limit + 1, after });
    const more = page.length > q.limit;
    const sessions = more ? page.slice(0, q.limit) : page;
    const last = sessions.at(-1);
    return c.json({ sessions, nextCursor: more && last ? encodeCursor(last) : null }, 200);
  });

  // Through service.run: with an asynchronous store a session not in memory is read first.
  api.openapi(routes.get, async (c) => c.json(await service.run(() => service.get(c.get("principal"), c.req.valid("param").id)), 200));

  api.openapi(routes.patch, async (c) => {
    const patch = c.req.valid("json");
    return c.json(await service.run(() => service.configure(c.get("principal"), c.req.valid("param").id, patch)), 200);
  });

  api.openapi(routes.end, async (c) => {
    const { status } = emptyBody(c.req.valid("json"));
    return c.json(await service.run(() => service.end(c.get("principal"), c.req.valid("param").id, status)), 200);
  });

  api.openapi(routes.messages, async (c) => {
    const { after, limit } = c.req.valid("query");
    return c.json(await service.run(() => service.history(c.get("principal"), c.req.valid("param").id, after, limit)), 200);
  });

  api.openapi(routes.post, async (c) => {
    const input = c.req.valid("json");
    const key = c.req.valid("header")["idempotency-key"];
    deps.onMessageReceived?.();
    const { message, duplicate } = await service.appendMessage(c.get("principal"), c.req.valid("param").id, { ...input, clientMsgId: key });
    return c.json(message, duplicate ? 200 : 201);
  });

  // Streamed responses (SSE, export) are plain Responses; the typed c.json() cannot express them, hence `as never`.
  api.openapi(routes.streams, async (c) => c.json({ streams: await service.run(() => service.streams(c.get("principal"), c.req.valid("param").id)) }, 200));

  api.openapi(routes.cancelStream, async (c) => {
    const { id, stream } = c.req.valid("param");
    await service.run(() => service.cancelStream(c.get("principal"), id, stream));
    return c.json({ type: "cancelled" as const, session: id, stream }, 200);
  });

  api.openapi(routes.events, async (c) => (await sse.open(c.req.raw, c.req.valid("param").id, c.env?.server)) as never);

  api.openapi(routes.export, async (c) => {
    const id = c.req.valid("param").id;
    const { format } = c.req.valid("query");
    const who = c.get("principal");
    const { session, pages } = await service.run(() => service.transcript(who, id));
    const ext = TRANSCRIPT_EXTENSIONS[format];
    const type = TRANSCRIPT_MEDIA_TYPES[format];
    // Readers who may see the analyses get the summary at the top; the alert count is for staff only.
    const summary = canSeeAnalysis(who, session.analysis.share) ? { ...(who.staff && deps.alerts && { alerts: await deps.alerts.count(id) }) } : undefined;
    return new Response(transcriptStream(format, session, pages, summary), {
      headers: {
        "Content-Type": `${type}; charset=utf-8`,
        "Content-Disposition": `attachment; filename="session-${id}.${ext}"`,
        "Cache-Control": "no-store",
      },
    }) as never;
  });

  api.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: "sessiond HTTP API", version: "1", description: "Sessions, messages, SSE and transcripts. The WebSocket protocol is described in docs/protocol.md." },
    security: [{ bearer: [] }],
  });
  api.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer", bearerFormat: "JWT" });
  // Routes served outside this sub-app, listed so the document covers every HTTP route.
  const plain = (path: string, summary: string, responses: Record<number, string>) =>
    api.openAPIRegistry.registerPath({
      method: "get",
      path,
      summary,
      security: [],
      responses: Object.fromEntries(Object.entries(responses).map(([s, d]) => [s, { description: d }])),
    });
  plain("/health", "Health: status healthy|degraded|unhealthy with checks", { 200: "healthy or degraded", 503: "unhealthy (database unusable)" });
  plain("/health/live", "Liveness", { 200: "The process is up" });
  plain("/health/ready", "Readiness: false while starting and while draining", { 200: "ready", 503: "not ready" });
  plain("/metrics", "Prometheus metrics (Bearer METRICS_TOKEN when set)", { 200: "Text exposition format", 401: "METRICS_TOKEN required" });
  plain("/ws", "WebSocket endpoint, protocol v1 (docs/protocol.md); token as Bearer header or ?token=", {
    101: "Upgraded",
    401: "Missing or invalid token",
    403: "Origin not allowed",
    429: "Too many attempts or connections for this user",
    503: "Server at its connection limit",
  });
  if (deps.console) plain("/console", "The operator console (HTML; its scripts and styles are under /console/assets/), see docs/console.md", { 200: "The page" });

  app.route("/", api as unknown as Hono);
}

/** An optional body that was absent parses as undefined; treat it as empty. */
function emptyBody<T extends object>(value: T | undefined): Partial<T> {
  return value ?? {};
}

/** The list cursor: the last session's start time and id, opaque to callers. */
export function encodeCursor(s: SessionInfoT): string {
  return Buffer.from(`${Date.parse(s.startedAt)}:${s.id}`).toString("base64url");
}

export function decodeCursor(cursor: string): { startedAt: number; id: string } {
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  const m = /^(\d{1,16}):(.+)$/.exec(text);
  if (!m || !ID_PATTERN.test(m[2]!)) throw new SessiondError("bad_request", "Field \"cursor\" is invalid: pass the nextCursor of a previous page.");
  return { startedAt: Number(m[1]), id: m[2]! };
}

const encoder = new TextEncoder();

/** Streams the transcript page by page, so a 100,000-message session never sits in one string. */
function transcriptStream(format: TranscriptFormat, session: SessionInfoT, pages: Iterable<Message[]> | AsyncIterable<Message[]>, summary?: TranscriptSummary): ReadableStream<Uint8Array> {
  // Pages from an asynchronous store come later; SQLite's are read as the client takes them.
  const chunks: Iterator<string> | AsyncIterator<string> =
    Symbol.asyncIterator in pages ? transcriptChunksLater(format, session, pages, summary) : transcriptChunks(format, session, pages, summary);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      // A pull must enqueue or close, or the stream waits forever: empty pieces are skipped here.
      for (;;) {
        const next = await chunks.next();
        if (next.done) return controller.close();
        if (next.value !== "") return controller.enqueue(encoder.encode(next.value));
      }
    },
    async cancel() {
      await chunks.return?.(undefined);
      const source = pages as Partial<Generator<Message[]>> & Partial<AsyncGenerator<Message[]>>;
      await source.return?.(undefined);
    },
  });
}
