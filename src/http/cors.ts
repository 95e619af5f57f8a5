// CORS for browser apps served from another origin, driven by ALLOWED_ORIGINS (the list the WebSocket origin check
// uses). Hono's own middleware; mounted ahead of authentication so a preflight (which carries no token) is answered.
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";

/** Request headers a cross-origin app may send: the token, JSON bodies, idempotent posts, SSE resume. */
export const CORS_ALLOWED_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"] as const;
/** Response headers a cross-origin app may read (a 429 or 503 says when to retry). */
export const CORS_EXPOSED_HEADERS = ["Retry-After"] as const;

/**
 * The CORS middleware for `ALLOWED_ORIGINS`:
 * - a list: each exact origin is allowed (credentials allowed too; sessiond never reads cookies, but an app's
 *   `fetch(…, { credentials: "include" })` must not break); other origins get no `Access-Control-Allow-Origin`;
 * - `"*"`: any origin, without credentials;
 * - undefined: no origin is allowed cross-origin (preflights are still answered, without allow headers).
 * Never put it in front of the WebSocket upgrade: Bun.serve hands `/ws` to the gateway before Hono sees it.
 */
export function corsFor(allowedOrigins: readonly string[] | "*" | undefined): MiddlewareHandler {
  const any = allowedOrigins === "*";
  const list = any || allowedOrigins === undefined ? [] : allowedOrigins;
  return cors({
    origin: any ? "*" : (origin) => (list.includes(origin) ? origin : null),
    credentials: !any && list.length > 0,
    allowMethods: ["GET", "HEAD", "POST", "PATCH", "DELETE"],
    allowHeaders: [...CORS_ALLOWED_HEADERS],
    exposeHeaders: [...CORS_EXPOSED_HEADERS],
    // Browsers cap this (Chromium at 2 h); 10 minutes keeps a changed ALLOWED_ORIGINS from lingering long.
    maxAge: 600,
  });
}
