// The operator console's data routes: who is signed in, the session list with presence, the live feed (SSE), and
// the admin's kick. Registered on the API app, so authentication, validation and errors work as everywhere else.
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AuthMode } from "../auth/authenticator.ts";
import { CloseCode, SessiondError } from "../protocol/errors.ts";
import { userId as userIdSchema } from "../protocol/frames.ts";
import { errorFrame } from "../realtime/frames.ts";
import type { Logger } from "../observability/logger.ts";
import type { Hub } from "../realtime/hub.ts";
import type { Principal } from "../sessions/access.ts";
import type { SessionService } from "../sessions/session-service.ts";
import type { ApiEnv } from "./admin.ts";
import { decodeCursor, encodeCursor } from "./api.ts";
import type { ConsoleFeed } from "./console-feed.ts";
import * as S from "./schemas.ts";

export interface ConsoleApiDeps {
  feed: ConsoleFeed;
  hub: Hub;
  authMode: AuthMode;
  /** For the `admin.kick` line (ids and a count only). */
  logger: Logger;
}

/** What a kicked WebSocket connection is told before it stops receiving the session. */
export const KICKED_MESSAGE = "An administrator removed you from this session.";

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });
const refused = (...statuses: Array<400 | 401 | 403 | 404 | 503>) =>
  Object.fromEntries(statuses.map((s) => [s, json(S.ErrorBody, { 400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 503: "too many console streams" }[s])]));

const Me = z
  .object({ userId: z.string(), role: z.enum(["user", "moderator", "admin"]), authMode: z.enum(["jwt", "none"]) })
  .openapi("ConsoleMe");
const ConsoleSession = S.SessionInfo.extend({ present: z.array(z.string()) }).openapi("ConsoleSession");
const KickBody = z.strictObject({ userId: userIdSchema }).openapi("KickUser");
const KickResult = z
  .object({ session: z.string(), userId: z.string(), connections: z.number().int().openapi({ description: "Subscriptions closed" }) })
  .openapi("KickResult");

const routes = {
  me: createRoute({
    method: "get",
    path: "/api/console/me",
    summary: "Who the caller is: user id, role, and the server's auth mode (the console's sign-in check)",
    responses: { 200: json(Me, "The caller"), ...refused(401) },
  }),
  sessions: createRoute({
    method: "get",
    path: "/api/console/sessions",
    summary: "Staff: a page of sessions, newest first, each with the users present now (cursor paging as GET /api/sessions)",
    request: { query: S.ListSessionsQuery },
    responses: { 200: json(z.object({ sessions: z.array(ConsoleSession), nextCursor: z.string().nullable() }), "A page of sessions"), ...refused(400, 401, 403) },
  }),
  events: createRoute({
    method: "get",
    path: "/api/console/events",
    summary: "Staff: Server-Sent Events of session lifecycle, session activity and stats samples (docs/console.md)",
    responses: {
      200: { description: "An event stream: snapshot, then session, activity and sample events", content: { "text/event-stream": { schema: { type: "string" } } } },
      ...refused(401, 403, 503),
    },
  }),
  kick: createRoute({
    method: "post",
    path: "/api/admin/sessions/{id}/kick",
    summary: "Admin: close one user's subscriptions to a session (WebSocket: an error frame, code forbidden; SSE: the stream closes with 4501)",
    request: { params: S.SessionIdParam, body: { required: true, content: { "application/json": { schema: KickBody } } } },
    responses: { 200: json(KickResult, "What was closed"), ...refused(400, 401, 403, 404) },
  }),
};

function requireStaff(who: Principal): void {
  if (!who.staff) throw new SessiondError("forbidden", "The console's routes need a token with role \"admin\" or \"moderator\".");
}

export function registerConsoleRoutes(api: OpenAPIHono<ApiEnv>, service: SessionService, { feed, hub, authMode, logger }: ConsoleApiDeps): void {
  api.openapi(routes.me, (c) => {
    const who = c.get("principal");
    return c.json({ userId: who.userId, role: who.role, authMode }, 200);
  });

  api.openapi(routes.sessions, async (c) => {
    const who = c.get("principal");
    requireStaff(who);
    const q = c.req.valid("query");
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    const page = await service.list(who, { status: q.status, room: q.room, limit: q.limit + 1, after });
    const more = page.length > q.limit;
    const sessions = more ? page.slice(0, q.limit) : page;
    const last = sessions.at(-1);
    return c.json({ sessions: sessions.map((s) => feed.view(s)) as z.infer<typeof ConsoleSession>[], nextCursor: more && last ? encodeCursor(last) : null }, 200);
  });

  api.openapi(routes.events, (c) => {
    const who = c.get("principal");
    requireStaff(who);
    if (!feed.hasRoom()) throw new SessiondError("limit_exceeded", "Too many console streams are open; close one and retry.", 5000, 503);
    // Long-lived by design: the server's idle timeout must not cut the stream between heartbeats.
    c.env?.server?.timeout(c.req.raw, 0);
    return feed.open(c.req.raw.signal, { admin: who.admin }) as never;
  });

  api.openapi(routes.kick, async (c) => {
    const id = c.req.valid("param").id;
    const { userId } = c.req.valid("json");
    const who = c.get("principal");
    await service.run(() => service.get(who, id));
    const connections = kick(hub, service, id, userId);
    logger.info("admin.kick", { session: id, user: userId, by: who.userId, connections });
    return c.json({ session: id, userId, connections }, 200);
  });
}

/**
 * Closes every subscription of `userId` to the session. A WebSocket stays open (it may follow other sessions) and
 * gets `{"type":"error","code":"forbidden","session"}`, which the SDK treats as the session lost; an SSE stream
 * carries one session, so it gets that error event and closes with 4501 (do not reconnect). Presence follows.
 * The user may join again while they have access: remove them from `members` (or make the session private) too.
 */
export function kick(hub: Hub, service: SessionService, sessionId: string, userId: string): number {
  let n = 0;
  for (const conn of [...hub.subscribers(sessionId)]) {
    if (conn.principal.userId !== userId || conn.closing) continue;
    n++;
    const frame = errorFrame("forbidden", KICKED_MESSAGE, undefined, sessionId);
    if (conn.transport === "sse") {
      conn.link.send(frame, "error");
      // The SSE link's close removes the connection from the hub and presence.
      conn.link.close(CloseCode.forbidden, "removed by an administrator");
      continue;
    }
    hub.unsubscribe(conn, sessionId);
    service.detach(sessionId, userId);
    conn.link.send(frame, "error");
  }
  return n;
}
