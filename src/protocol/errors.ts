// The protocol's error codes and close codes, and the one error type that carries a code (pure).

export const ERROR_CODES = [
  "bad_request",
  "unauthorized",
  "forbidden",
  "not_found",
  "conflict",
  "rate_limited",
  "limit_exceeded",
  "payload_too_large",
  "session_ended",
  /** A storage fault a retry may cure (busy, locked or full database, an I/O error), or a server shutting down. */
  "unavailable",
  "internal",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * A failure with a protocol code and a sentence a person can read. Thrown or returned by the domain,
 * translated once into an `error` frame (realtime) and once into an HTTP status (http).
 * `message` never contains message content, a token or session config.
 */
export class SessiondError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryAfterMs?: number,
    /** Overrides the code's usual HTTP status (a full server answers `limit_exceeded` with 503, not 429). */
    readonly httpStatus?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "SessiondError";
  }
}

export const isSessiondError = (e: unknown): e is SessiondError => e instanceof SessiondError;

/**
 * WebSocket close codes. 4000–4499: the client may reconnect; 4500–4999: terminal, do not reconnect.
 */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  policyViolation: 1008,
  tooBig: 1009,
  internal: 1011,
  heartbeatTimeout: 4000,
  tokenExpired: 4001,
  slowConsumer: 4002,
  adminReset: 4003,
  unauthorized: 4500,
  forbidden: 4501,
} as const;

/** Whether a client should reconnect after the server closed with `code` (see the close-code table). */
export function isReconnectable(code: number): boolean {
  if (code >= 4500 && code <= 4999) return false;
  return code !== CloseCode.normal && code !== CloseCode.policyViolation;
}
