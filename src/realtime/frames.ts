// Server-to-client frames that carry errors: the one mapping from an error value to an `error` frame.
import { isSessiondError, type ErrorCode } from "../protocol/errors.ts";

export function errorFrame(code: ErrorCode, message: string, ref?: string | number, session?: string, retryAfterMs?: number): string {
  return JSON.stringify({
    type: "error",
    ...(ref !== undefined && { ref }),
    code,
    message,
    ...(session !== undefined && { session }),
    ...(retryAfterMs !== undefined && { retryAfterMs }),
  });
}

/** Any thrown value as an `error` frame; unknown errors become `internal` with no detail. */
export function toErrorFrame(e: unknown, ref?: string | number, session?: string): string {
  if (isSessiondError(e)) return errorFrame(e.code, e.message, ref, session, e.retryAfterMs);
  return errorFrame("internal", "An internal error occurred; the request was not completed.", ref, session);
}
