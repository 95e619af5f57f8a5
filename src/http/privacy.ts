// Privacy routes under /api/admin (admin token only): erase a session, erase a user, export a user's data as
// JSON lines, read the audit trail; and the audit of admin actions that other routes perform (reset, alerts).
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { AUDIT_ACTIONS, type AuditAction, type AuditEntry } from "../privacy/audit-chain.ts";
import type { AuditRecorder } from "../privacy/audit-recorder.ts";
import type { Actor, SessionErased as SessionErasedResult, UserErased as UserErasedResult } from "../privacy/privacy-service.ts";
import { userId as userIdSchema } from "../protocol/frames.ts";
import { SessiondError } from "../protocol/errors.ts";
import type { AuditQuery } from "../db/audit-store.ts";
import type { ApiEnv } from "./admin.ts";
import { ErrorBody, SessionIdParam } from "./schemas.ts";

/** What the routes need of erasure and export: PrivacyService (SQLite) or SharedPrivacyService (PostgreSQL). */
export interface PrivacyOperations {
  eraseSession(actor: Actor, id: string): SessionErasedResult | Promise<SessionErasedResult>;
  eraseUser(actor: Actor, userId: string): UserErasedResult | Promise<UserErasedResult>;
  exportUser(actor: Actor, userId: string): Generator<string> | AsyncGenerator<string>;
}

export interface PrivacyRouteDeps {
  privacy: PrivacyOperations;
  audit: AuditRecorder;
  /** A page of the trail (db/AuditStore.list, or pg/PgAuditStore.list). */
  listAudit: (q: AuditQuery) => AuditEntry[] | Promise<AuditEntry[]>;
}

const ok = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });
const refused = { 401: ok(ErrorBody, "unauthorized"), 403: ok(ErrorBody, "forbidden: not an admin") };

const UserIdParam = z.object({ userId: userIdSchema.openapi({ param: { name: "userId", in: "path" }, example: "alice" }) });

const SessionErased = z
  .object({
    session: z.string(),
    erased: z.literal(true),
    messages: z.number().int(),
    analyses: z.number().int(),
    alerts: z.number().int(),
    webhookEvents: z.number().int(),
    archiveFiles: z.number().int(),
  })
  .openapi("SessionErased");

const UserErased = z
  .object({
    userId: z.string(),
    sessionsErased: z.number().int().openapi({ description: "Sessions the user owned, erased whole" }),
    messagesErased: z.number().int().openapi({ description: "Messages of those sessions" }),
    messagesTombstoned: z.number().int().openapi({ description: "The user's messages in other sessions, now tombstones" }),
    sessionsTouched: z.number().int(),
    participantRows: z.number().int(),
    analyses: z.number().int(),
    alerts: z.number().int(),
    webhookEvents: z.number().int(),
    archiveFiles: z.number().int(),
    connectionsClosed: z.number().int(),
  })
  .openapi("UserErased");

const AuditEntryView = z
  .object({
    id: z.number().int(),
    at: z.string().openapi({ format: "date-time" }),
    actorId: z.string(),
    actorRole: z.string(),
    action: z.enum(AUDIT_ACTIONS),
    objectType: z.enum(["session", "user", "alert", "database"]),
    objectId: z.string(),
    address: z.string(),
    detail: z.record(z.string(), z.union([z.number(), z.boolean(), z.string()])).nullable(),
    prevHash: z.string(),
    hash: z.string(),
  })
  .openapi("AuditEntry");

const AuditQuerySchema = z.object({
  after: z.coerce.number().int().min(0).default(0).openapi({ description: "Entries with an id above this (nextAfter of the previous page)" }),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  actor: z.string().min(1).max(256).optional().openapi({ description: "Only this actor's entries (a user id)" }),
  action: z.enum(AUDIT_ACTIONS).optional(),
  session: z.string().min(1).max(128).optional().openapi({ description: "Only entries about this session (e.g. who read it)" }),
  user: z.string().min(1).max(256).optional().openapi({ description: "Only entries about this user (erasure, export)" }),
});

/** The audit entry as the API shows it (time as ISO 8601). */
export function auditView(e: AuditEntry): z.infer<typeof AuditEntryView> {
  return { ...e, at: new Date(e.at).toISOString() };
}

/** The caller as the audit trail records them. */
export function actorOf(c: Context<ApiEnv>): Actor {
  const who = c.get("principal");
  return { userId: who.userId, role: who.role, address: who.address ?? "unknown" };
}

export function registerPrivacyRoutes(api: OpenAPIHono<ApiEnv>, { privacy, audit, listAudit }: PrivacyRouteDeps): void {
  // These routes come before the admin routes (and their check), so they carry the same check themselves.
  api.use("/api/admin/*", async (c, next) => {
    if (!c.get("principal").admin) throw new SessiondError("forbidden", 'Admin routes need a token with role "admin".');
    await next();
  });
  // Admin actions of other routes, recorded once they succeeded. Registered before those routes so it wraps them.
  const recordAfter = (action: AuditAction, objectType: "alert" | "database", idOf: (c: Context<ApiEnv>) => string) =>
    async (c: Context<ApiEnv>, next: () => Promise<void>) => {
      await next();
      if (c.res.status < 300) audit.record({ ...actorFields(actorOf(c)), action, objectType, objectId: idOf(c) });
    };
  api.post("/api/admin/reset", recordAfter("admin.reset", "database", () => "all"));
  api.post("/api/alerts/:id/acknowledge", recordAfter("alert.acknowledge", "alert", (c) => c.req.param("id") ?? ""));
  api.post("/api/alerts/:id/resolve", recordAfter("alert.resolve", "alert", (c) => c.req.param("id") ?? ""));

  api.openapi(
    createRoute({
      method: "delete",
      path: "/api/admin/sessions/{id}",
      summary: "Erase a session: its messages, analyses, alerts, pending webhook events and archive files; subscribers get session.status erased",
      request: { params: SessionIdParam },
      responses: { 200: ok(SessionErased, "What was erased"), 404: ok(ErrorBody, "not_found"), ...refused },
    }),
    async (c) => c.json(await privacy.eraseSession(actorOf(c), c.req.valid("param").id), 200),
  );

  api.openapi(
    createRoute({
      method: "delete",
      path: "/api/admin/users/{userId}",
      summary: "Erase a user: every session they own; in others their messages become tombstones (same seq). Idempotent",
      request: { params: UserIdParam },
      responses: { 200: ok(UserErased, "Counts of what changed (zeros when already erased)"), ...refused },
    }),
    async (c) => c.json(await privacy.eraseUser(actorOf(c), c.req.valid("param").userId), 200),
  );

  api.openapi(
    createRoute({
      method: "get",
      path: "/api/admin/users/{userId}/export",
      summary: "A user's data as JSON lines: one {session, messages} per session they own or took part in",
      request: { params: UserIdParam },
      responses: {
        200: { description: "application/x-ndjson, streamed", content: { "application/x-ndjson": { schema: { type: "string" } } } },
        ...refused,
      },
    }),
    (c) => {
      const userId = c.req.valid("param").userId;
      const lines = privacy.exportUser(actorOf(c), userId);
      const encoder = new TextEncoder();
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const next = await lines.next();
          if (next.done) controller.close();
          else controller.enqueue(encoder.encode(next.value));
        },
        async cancel() {
          await lines.return(undefined);
        },
      });
      return new Response(body, {
        headers: {
          "Content-Type": "application/x-ndjson; charset=utf-8",
          "Content-Disposition": `attachment; filename="user-export.ndjson"`,
          "Cache-Control": "no-store",
        },
      }) as never;
    },
  );

  api.openapi(
    createRoute({
      method: "get",
      path: "/api/admin/audit",
      summary: "The audit trail, oldest first: who read or changed what, when, from where (never content)",
      request: { query: AuditQuerySchema },
      responses: { 200: ok(z.object({ entries: z.array(AuditEntryView), nextAfter: z.number().int().nullable() }).openapi("AuditPage"), "A page of entries"), ...refused },
    }),
    async (c) => {
      const q = c.req.valid("query");
      if (q.session !== undefined && q.user !== undefined) throw new SessiondError("bad_request", 'Give at most one of "session" or "user".');
      // Entries still queued in memory are written first, so a read sees everything recorded before it.
      audit.flush();
      await audit.settled();
      const object = q.session !== undefined ? { objectType: "session" as const, objectId: q.session } : q.user !== undefined ? { objectType: "user" as const, objectId: q.user } : {};
      const page = await listAudit({ after: q.after, limit: q.limit + 1, actor: q.actor, action: q.action, ...object });
      const more = page.length > q.limit;
      const entries = (more ? page.slice(0, q.limit) : page).map(auditView);
      return c.json({ entries, nextAfter: more ? entries[entries.length - 1]!.id : null }, 200);
    },
  );
}

function actorFields(a: Actor): { actorId: string; actorRole: string; address: string } {
  return { actorId: a.userId, actorRole: a.role, address: a.address };
}
