// The Hono application: every HTTP route, with the one error-to-status mapping. WebSocket upgrades never reach
// it (Bun.serve hands /ws to the realtime gateway first).
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Logger } from "../observability/logger.ts";
import { errorFields } from "../observability/logger.ts";
import type { ErrorReporter } from "../observability/sentry.ts";
import { isSessiondError, type ErrorCode } from "../protocol/errors.ts";
import { errorResponse, jsonError } from "../protocol/http-errors.ts";
import { healthReport, type HealthProbe } from "./health.ts";

export interface AppDeps {
  health: HealthProbe;
  logger: Logger;
  reporter: ErrorReporter;
  /** Further routes, mounted by main (the API, SSE, admin, metrics). */
  mount?: (app: Hono) => void;
  /** Told of every error response, by protocol code (for metrics). */
  onErrorSent?: (code: string) => void;
}

export function createApp({ health, logger, reporter, mount, onErrorSent }: AppDeps): Hono {
  const app = new Hono();

  app.get("/health", (c) => {
    const { status, checks } = healthReport(health);
    const database = checks.database;
    return c.json(
      {
        status,
        checks,
        timestamp: new Date().toISOString(),
        uptimeSeconds: Math.floor((Date.now() - health.startedAt) / 1000),
        activeSessions: health.activeSessions(),
        connections: health.connections(),
        ...health.details?.(),
      },
      database ? 200 : 503,
    );
  });
  app.get("/health/live", (c) => c.json({ status: "live" }));
  app.get("/health/ready", (c) => {
    const ready = health.ready() && health.database();
    return c.json({ ready }, ready ? 200 : 503);
  });

  mount?.(app);

  app.notFound(() => jsonError(404, "not_found", "No such route."));
  app.onError((e) => {
    let code: ErrorCode;
    let response: Response;
    if (isSessiondError(e)) {
      code = e.code;
      response = errorResponse(e);
    } else if (e instanceof HTTPException) {
      // Hono's own refusals, e.g. a body that is not valid JSON.
      code = e.status === 413 ? "payload_too_large" : e.status === 401 ? "unauthorized" : "bad_request";
      response = jsonError(e.status, code, e.status === 413 ? "The request body is too large." : e.message || "The request is invalid.");
    } else {
      code = "internal";
      logger.error("internal.error", { where: "http", ...errorFields(e) });
      reporter.capture(e, { where: "http", code });
      response = errorResponse(e);
    }
    onErrorSent?.(code);
    return response;
  });
  return app;
}
