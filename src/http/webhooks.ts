// Admin webhook routes under /api/admin/webhooks (admin token only; the admin middleware runs first): deliveries
// by status with paging, replay of a dead or failed delivery, endpoints with their state, re-enabling one.
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { WebhookAdmin } from "../integrations/webhook-admin.ts";
import { sessionId } from "../protocol/frames.ts";
import type { ApiEnv } from "./admin.ts";
import { ErrorBody } from "./schemas.ts";

const Status = z.enum(["pending", "delivered", "failed", "dead"]);

const Delivery = z
  .object({
    id: z.number().int(),
    eventId: z.string().openapi({ description: "The webhook-id header: the same on every attempt and replay", example: "msg_0195f3c2a1b27c4e8d1f6a3b9c0d2e4f" }),
    type: z.string().openapi({ example: "session.ended" }),
    session: z.string(),
    endpoint: z.string().openapi({ example: "ep_3f2a9c1d4b5e6f70" }),
    endpointIndex: z.number().int().nullable().openapi({ description: "Position in WEBHOOK_URLS; null when no longer configured" }),
    status: Status,
    attempts: z.number().int(),
    createdAt: z.string().openapi({ format: "date-time" }),
    queuedAt: z.string().openapi({ format: "date-time", description: "Start of the retry window (creation or the last replay)" }),
    nextAttemptAt: z.string().optional().openapi({ format: "date-time" }),
    lastAttemptAt: z.string().optional().openapi({ format: "date-time" }),
    lastStatus: z.number().int().optional().openapi({ description: "HTTP status of the last attempt" }),
    lastError: z.string().optional().openapi({ description: "gone | http_error | redirect_not_followed | timeout | connection_failed | endpoint_disabled" }),
    deliveredAt: z.string().optional().openapi({ format: "date-time" }),
  })
  .openapi("WebhookDelivery");

const Endpoint = z
  .object({
    id: z.string(),
    index: z.number().int(),
    url: z.string().openapi({ description: "The URL without credentials; query values shown as …" }),
    state: z.enum(["active", "disabled"]),
    disabledAt: z.string().optional().openapi({ format: "date-time" }),
    disabledReason: z.string().optional(),
    lastSuccessAt: z.string().optional().openapi({ format: "date-time" }),
    lastFailureAt: z.string().optional().openapi({ format: "date-time" }),
    lastStatus: z.number().int().optional(),
    lastError: z.string().optional(),
    deliveries: z.object({ pending: z.number().int(), delivered: z.number().int(), failed: z.number().int(), dead: z.number().int() }),
  })
  .openapi("WebhookEndpoint");

const DeliveriesQuery = z.object({
  status: Status.optional(),
  session: sessionId.optional(),
  endpoint: z.string().regex(/^ep_[0-9a-f]{16}$/, "an endpoint id (ep_ and 16 hex digits)").optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(20).optional(),
});

const DeliveryIdParam = z.object({
  id: z.coerce.number().int().min(1).openapi({ param: { name: "id", in: "path" }, example: 42 }),
});
const EndpointIdParam = z.object({
  id: z
    .string()
    .regex(/^ep_[0-9a-f]{16}$/, "an endpoint id (ep_ and 16 hex digits)")
    .openapi({ param: { name: "id", in: "path" }, example: "ep_3f2a9c1d4b5e6f70" }),
});

const ok = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });
const refused = {
  400: ok(ErrorBody, "bad_request: a field failed validation"),
  401: ok(ErrorBody, "unauthorized"),
  403: ok(ErrorBody, "forbidden: not an admin"),
};

export function registerWebhookRoutes(api: OpenAPIHono<ApiEnv>, webhooks: WebhookAdmin): void {
  api.openapi(
    createRoute({
      method: "get",
      path: "/api/admin/webhooks/deliveries",
      summary: "Webhook deliveries, newest first, optionally by status (pending, delivered, failed, dead), session or endpoint",
      request: { query: DeliveriesQuery },
      responses: { 200: ok(z.object({ deliveries: z.array(Delivery), nextCursor: z.string().nullable() }).openapi("WebhookDeliveryPage"), "A page"), ...refused },
    }),
    async (c) => {
      const q = c.req.valid("query");
      return c.json(await webhooks.deliveries({ status: q.status, session: q.session, endpoint: q.endpoint, cursor: q.cursor, limit: q.limit }), 200);
    },
  );

  api.openapi(
    createRoute({
      method: "post",
      path: "/api/admin/webhooks/deliveries/{id}/replay",
      summary: "Re-queue a dead or failed delivery now, with the same webhook-id and a fresh retry window",
      request: { params: DeliveryIdParam },
      responses: {
        200: ok(Delivery, "Re-queued (status pending)"),
        404: ok(ErrorBody, "not_found"),
        409: ok(ErrorBody, "conflict: not dead or failed, or its endpoint is disabled or no longer configured"),
        ...refused,
      },
    }),
    async (c) => c.json(await webhooks.replay(c.req.valid("param").id), 200),
  );

  api.openapi(
    createRoute({
      method: "get",
      path: "/api/admin/webhooks/endpoints",
      summary: "The configured webhook endpoints: state (active, or disabled after a 410), last success and failure, delivery counts",
      responses: { 200: ok(z.object({ enabled: z.boolean(), endpoints: z.array(Endpoint) }), "Endpoints"), ...refused },
    }),
    async (c) => {
      const endpoints = await webhooks.endpoints();
      return c.json({ enabled: endpoints.length > 0, endpoints }, 200);
    },
  );

  api.openapi(
    createRoute({
      method: "post",
      path: "/api/admin/webhooks/endpoints/{id}/enable",
      summary: "Re-enable an endpoint that answered 410; it receives events recorded from now on",
      request: { params: EndpointIdParam },
      responses: { 200: ok(Endpoint, "The endpoint"), 404: ok(ErrorBody, "not_found"), ...refused },
    }),
    async (c) => c.json(await webhooks.enable(c.req.valid("param").id), 200),
  );
}
