// Crisis alert routes under /api/alerts (staff only: admins and moderators): list, acknowledge, resolve, and the
// staff SSE stream of alert events. Registered by mountApi when analysis is wired.
import { createRoute, type OpenAPIHono, type z } from "@hono/zod-openapi";
import type { AlertService } from "../analysis/alerts.ts";
import { SessiondError } from "../protocol/errors.ts";
import type { SseGateway } from "../realtime/sse-gateway.ts";
import type { ApiEnv } from "./admin.ts";
import * as S from "./schemas.ts";

export interface AlertRoutesDeps {
  alerts: AlertService;
  sse: SseGateway;
}

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });
const refused = {
  400: json(S.ErrorBody, "bad_request: a field failed validation"),
  401: json(S.ErrorBody, "unauthorized"),
  403: json(S.ErrorBody, "forbidden: not staff (a token with role admin or moderator)"),
};
const noteBody = { required: false, content: { "application/json": { schema: S.AlertNoteBody } } };

const routes = {
  list: createRoute({
    method: "get",
    path: "/api/alerts",
    summary: "Crisis alerts, newest first (staff only); page with `after` = the previous page's nextAfter",
    request: { query: S.AlertsQuery },
    responses: { 200: json(S.AlertList, "A page of alerts"), ...refused },
  }),
  events: createRoute({
    method: "get",
    path: "/api/alerts/events",
    summary: "Server-Sent Events for staff: alert and alert.updated events of every session, without joining any",
    responses: {
      200: { description: "An event stream (event: alert | alert.updated; data: the frame)", content: { "text/event-stream": { schema: { type: "string" } } } },
      ...refused,
      429: json(S.ErrorBody, "rate_limited or limit_exceeded"),
    },
  }),
  acknowledge: createRoute({
    method: "post",
    path: "/api/alerts/{id}/acknowledge",
    summary: "Acknowledge an alert (idempotent; an acknowledged or resolved alert is returned unchanged)",
    request: { params: S.AlertIdParam, body: noteBody },
    responses: { 200: json(S.Alert, "The alert"), ...refused, 404: json(S.ErrorBody, "not_found: no such alert") },
  }),
  resolve: createRoute({
    method: "post",
    path: "/api/alerts/{id}/resolve",
    summary: "Resolve an alert, open or acknowledged (idempotent; a resolved alert is returned unchanged)",
    request: { params: S.AlertIdParam, body: noteBody },
    responses: { 200: json(S.Alert, "The alert"), ...refused, 404: json(S.ErrorBody, "not_found: no such alert") },
  }),
};

export function registerAlertRoutes(api: OpenAPIHono<ApiEnv>, { alerts, sse }: AlertRoutesDeps): void {
  const staffOnly = async (c: { get(key: "principal"): { staff: boolean } }, next: () => Promise<void>) => {
    if (!c.get("principal").staff) throw new SessiondError("forbidden", 'Alerts are for staff: a token with role "admin" or "moderator".');
    await next();
  };
  api.use("/api/alerts", staffOnly);
  api.use("/api/alerts/*", staffOnly);

  api.openapi(routes.list, async (c) => {
    const q = c.req.valid("query");
    return c.json((await alerts.list({ status: q.status, session: q.session, after: q.after, limit: q.limit })) as z.infer<typeof S.AlertList>, 200);
  });

  // A streamed Response, which the typed c.json() cannot express (hence `as never`).
  api.openapi(routes.events, async (c) => (await sse.openAlerts(c.req.raw, c.env?.server)) as never);

  for (const action of ["acknowledge", "resolve"] as const) {
    api.openapi(routes[action], async (c) => {
      const note = c.req.valid("json")?.note;
      return c.json((await alerts.act(c.req.valid("param").id, action, c.get("principal").userId, note)) as z.infer<typeof S.Alert>, 200);
    });
  }
}
