// Serves the operator console at /console: the page and its hashed assets, from memory, gzipped when the browser
// accepts it, under a strict Content-Security-Policy (no inline script or style, no eval, connections to this
// origin only). The bundle is loaded once, on the first request.
import type { Hono } from "hono";
import type { AuthMode } from "../auth/authenticator.ts";
import type { ConsoleBundle } from "../console/build.ts";
import type { Logger } from "../observability/logger.ts";
import { errorFields } from "../observability/logger.ts";
import { jsonError } from "../protocol/http-errors.ts";

export interface ConsoleRouteDeps {
  /** Produces the bundle (embedded or freshly built); called once, again only after a failure. */
  load: () => Promise<{ bundle: ConsoleBundle; source: "embedded" | "built" }>;
  authMode: AuthMode;
  logger: Logger;
}

interface Served {
  type: string;
  body: Uint8Array<ArrayBuffer>;
  gzip: Uint8Array<ArrayBuffer>;
  cache: string;
}

/** The slot in index.html that tells the page how to sign in. */
const AUTH_SLOT = "%AUTH_MODE%";
const HOST_PATTERN = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/**
 * The console's Content-Security-Policy. Scripts and styles only from this origin (no inline, no eval); fetch,
 * EventSource and WebSocket only to this origin (`ws:`/`wss:` of the same host named explicitly, for browsers
 * whose `'self'` does not cover them); no frames, plugins, forms or base changes.
 */
export function consoleCsp(host: string | undefined): string {
  const sockets = host && HOST_PATTERN.test(host) ? ` ws://${host} wss://${host}` : "";
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${sockets}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

export function mountConsole(app: Hono, { load, authMode, logger }: ConsoleRouteDeps): void {
  let files: Promise<Map<string, Served>> | null = null;
  const served = (): Promise<Map<string, Served>> => {
    files ??= load().then(
      ({ bundle, source }) => {
        const map = new Map<string, Served>();
        for (const f of bundle.files) {
          const body = f.name === "index.html" ? new TextEncoder().encode(new TextDecoder().decode(f.body).replace(AUTH_SLOT, authMode)) : f.body;
          // Asset names carry a content hash, so they may be cached for good; the page must be revalidated.
          const cache = f.name === "index.html" ? "no-cache" : "public, max-age=31536000, immutable";
          map.set(f.name, { type: f.type, body, gzip: Bun.gzipSync(body), cache });
        }
        logger.info("console.loaded", { source, files: map.size });
        return map;
      },
      (e) => {
        files = null;
        throw e;
      },
    );
    return files;
  };

  const respond = async (req: Request, name: string): Promise<Response> => {
    let map: Map<string, Served>;
    try {
      map = await served();
    } catch (e) {
      logger.error("console.unavailable", errorFields(e));
      return jsonError(503, "internal", `The console is unavailable: ${e instanceof Error ? e.message : "it did not load"}.`);
    }
    const file = map.get(name);
    if (!file) return jsonError(404, "not_found", "No such console file.");
    const gzip = /\bgzip\b/.test(req.headers.get("accept-encoding") ?? "");
    const headers: Record<string, string> = {
      "Content-Type": file.type,
      "Cache-Control": file.cache,
      "Content-Security-Policy": consoleCsp(req.headers.get("host") ?? undefined),
      "X-Content-Type-Options": "nosniff",
      "Referrer-Policy": "no-referrer",
      "X-Frame-Options": "DENY",
      "Cross-Origin-Opener-Policy": "same-origin",
      Vary: "Accept-Encoding",
    };
    if (gzip) headers["Content-Encoding"] = "gzip";
    return new Response(req.method === "HEAD" ? null : gzip ? file.gzip : file.body, { headers });
  };

  app.get("/console", (c) => respond(c.req.raw, "index.html"));
  app.get("/console/", (c) => respond(c.req.raw, "index.html"));
  app.get("/console/assets/:file", (c) => respond(c.req.raw, `assets/${c.req.param("file")}`));
}
