// The one mapping from an error value to an HTTP response: `{"error":{"code","message"}}` with its status. Used by
// every edge that answers HTTP (the API, and the WebSocket upgrade refusals).
import { isSessiondError, type ErrorCode } from "./errors.ts";

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  session_ended: 409,
  payload_too_large: 413,
  rate_limited: 429,
  limit_exceeded: 429,
  unavailable: 503,
  internal: 500,
};

export function statusOf(code: ErrorCode): number {
  return STATUS[code];
}

/** Any thrown value as a JSON error response; unknown errors become a 500 with no internals. */
export function errorResponse(e: unknown): Response {
  if (!isSessiondError(e)) return jsonError(500, "internal", "An internal error occurred.");
  const headers: Record<string, string> = {};
  if (e.retryAfterMs !== undefined) headers["Retry-After"] = String(Math.max(1, Math.ceil(e.retryAfterMs / 1000)));
  if (e.code === "unauthorized") headers["WWW-Authenticate"] = 'Bearer realm="sessiond"';
  return jsonError(e.httpStatus ?? STATUS[e.code], e.code, e.message, headers);
}

export function jsonError(status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}): Response {
  return Response.json({ error: { code, message } }, { status, headers });
}
