// Admin routes under /api/admin (admin token only): live connections, active sessions, end one, reset all.
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import { SessiondError } from "../protocol/errors.ts";
import type { Connection, Hub } from "../realtime/hub.ts";
import type { SessionService } from "../sessions/session-service.ts";
import type { Principal } from "../sessions/access.ts";
import type { WebhookAdmin } from "../integrations/webhook-admin.ts";
import { registerWebhookRoutes } from "./webhooks.ts";
import { SessionIdParam, SessionInfo, EndSessionBody, ErrorBody } from "./schemas.ts";

export interface AdminDeps {
  hub: Hub;
  /** Ends every active session as cancelled and closes every connection with 4003. */
  reset: () => Promise<{ endedSessions: number; closedConnections: number }>;
  /** Webhook deliveries, replay and endpoints (/api/admin/webhooks/*). */
  webhooks?: WebhookAdmin;
}

export type ApiEnv = { Variables: { principal: Principal }; Bindings: { server?: import("bun").Server<unknown> } };

const ConnectionView = z
  .object({
    id: z.string(),
    userId: z.string(),
    transport: z.enum(["ws", "sse"]),
    remoteAddress: z.string(),
    sessions: z.array(z.string()),
    connectedAt: z.string(),
    lastSeenAt: z.string(),
  })
  .openapi("AdminConnection");

const AdminSession = z
  .object({
    id: z.string(),
    room: z.string().optional(),
    status: z.string(),
    subscribers: z.number().int(),
    present: z.array(z.string()),
    presentCount: z.number().int().openapi({ description: "How many users are present (the length of present)" }),
    cached: z.boolean(),
    messageCount: z.number().int(),
    sentiment: z.number().nullable().openapi({ description: "Mean sentiment of the analysed messages (null before the first)" }),
    riskLevel: z.enum(["none", "low", "medium", "high"]).nullable().openapi({ description: "Highest crisis risk so far (null before the first analysis)" }),
    lastActivityAt: z.string(),
  })
  .openapi("AdminSession");

const Stats = z
  .object({
    connections: z.number().int(),
    subscriptions: z.number().int(),
    presence: z.number().int(),
    cache: z.object({ size: z.number().int(), hits: z.number().int(), misses: z.number().int(), evictions: z.number().int(), windowMessages: z.number().int() }),
  })
  .openapi("AdminStats");

const ok = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });
const refused = {
  401: ok(ErrorBody, "unauthorized"),
  403: ok(ErrorBody, "forbidden: not an admin"),
};

const view = (c: Connection) => ({
  id: c.id,
  userId: c.principal.userId,
  transport: c.transport,
  remoteAddress: c.remoteAddress,
  sessions: [...c.sessions],
  connectedAt: new Date(c.connectedAt).toISOString(),
  lastSeenAt: new Date(c.lastSeen).toISOString(),
});

export function registerAdminRoutes(api: OpenAPIHono<ApiEnv>, service: SessionService, { hub, reset, webhooks }: AdminDeps): void {
  api.use("/api/admin/*", async (c, next) => {
    if (!c.get("principal").admin) throw new SessiondError("forbidden", "Admin routes need a token with role \"admin\".");
    await next();
  });
  if (webhooks) registerWebhookRoutes(api, webhooks);

  api.openapi(
    createRoute({ method: "get", path: "/api/admin/connections", summary: "Every live connection", responses: { 200: ok(z.object({ connections: z.array(ConnectionView) }), "Connections"), ...refused } }),
    (c) => c.json({ connections: [...hub.all()].map(view) }, 200),
  );

  api.openapi(
    createRoute({ method: "get", path: "/api/admin/stats", summary: "Counts of connections, subscriptions, presence and the session cache", responses: { 200: ok(Stats, "Counts"), ...refused } }),
    (c) => c.json({ connections: hub.size, subscriptions: hub.subscriptions, presence: service.presence.size, cache: service.cacheStats }, 200),
  );

  api.openapi(
    createRoute({ method: "get", path: "/api/admin/sessions", summary: "Active sessions with subscriber and presence counts", responses: { 200: ok(z.object({ sessions: z.array(AdminSession) }), "Sessions"), ...refused } }),
    async (c) => {
      const who = c.get("principal");
      const sessions = (await service.list(who, { status: "active", limit: 10_000 })).map((s) => ({
        id: s.id,
        ...(s.room !== undefined && { room: s.room }),
        status: s.status,
        subscribers: hub.subscribers(s.id).size,
        present: service.presence.users(s.id),
        presentCount: service.presence.users(s.id).length,
        cached: service.isCached(s.id),
        messageCount: s.metrics.messageCount,
        sentiment: s.metrics.sentiment,
        riskLevel: s.metrics.riskLevel,
        lastActivityAt: s.lastActivityAt,
      }));
      return c.json({ sessions }, 200);
    },
  );

  api.openapi(
    createRoute({
      method: "get",
      path: "/api/admin/sessions/{id}/connections",
      summary: "The connections subscribed to one session",
      request: { params: SessionIdParam },
      responses: { 200: ok(z.object({ connections: z.array(ConnectionView) }), "Connections"), ...refused },
    }),
    (c) => c.json({ connections: [...hub.subscribers(c.req.valid("param").id)].map(view) }, 200),
  );

  api.openapi(
    createRoute({
      method: "post",
      path: "/api/admin/sessions/{id}/end",
      summary: "End any session",
      request: { params: SessionIdParam, body: { required: false, content: { "application/json": { schema: EndSessionBody } } } },
      responses: { 200: ok(SessionInfo, "The ended session"), 404: ok(ErrorBody, "not_found"), 409: ok(ErrorBody, "session_ended"), ...refused },
    }),
    async (c) => c.json(await service.run(() => service.end(c.get("principal"), c.req.valid("param").id, c.req.valid("json")?.status ?? "cancelled")), 200),
  );

  api.openapi(
    createRoute({
      method: "post",
      path: "/api/admin/reset",
      summary: "Emergency clean slate: end every active session as cancelled, close every connection with 4003",
      responses: { 200: ok(z.object({ endedSessions: z.number().int(), closedConnections: z.number().int() }), "What was reset"), ...refused },
    }),
    async (c) => c.json(await reset(), 200),
  );
}
