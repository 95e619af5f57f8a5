// The one error type of the model client, and the mapping from the openai package's errors to it. Messages are
// written here from the kind and status only: an upstream body can echo the prompt, so none is ever copied.
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";

export const MODEL_ERROR_KINDS = ["unreachable", "timeout", "http", "broken_stream", "aborted", "invalid_reply"] as const;
/**
 * - `unreachable`: no HTTP response (refused, DNS, reset before headers).
 * - `timeout`: no reply / no first token in time.
 * - `http`: the server answered with a non-2xx status (`status` is set).
 * - `broken_stream`: the stream ended without a finish (connection dropped, an error event mid-stream).
 * - `aborted`: the caller's `AbortSignal` fired.
 * - `invalid_reply`: the reply arrived but is not what was asked for (malformed JSON chunk, no content, bad shape).
 */
export type ModelErrorKind = (typeof MODEL_ERROR_KINDS)[number];

const DESCRIPTIONS: Record<ModelErrorKind, string> = {
  unreachable: "the model server could not be reached",
  timeout: "the model server did not answer in time",
  http: "the model server refused the request",
  broken_stream: "the model server's stream ended before it finished",
  aborted: "the model request was aborted",
  invalid_reply: "the model server's reply was not valid",
};

/** Statuses worth another attempt: request timeout, conflict, rate limit, and server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

export class ModelError extends Error {
  override readonly name = "ModelError";
  readonly kind: ModelErrorKind;
  /** The HTTP status, for kind `http`. */
  readonly status?: number;
  /** Whether a fresh attempt could succeed (connection trouble, 408/409/429/5xx, a dropped stream). */
  readonly retryable: boolean;
  /** The server's Retry-After, in ms, when it sent one. */
  readonly retryAfterMs?: number;

  /** `detail` must be our own words (a limit, a field name), never anything the server or the user wrote. */
  constructor(kind: ModelErrorKind, opts: { status?: number; retryable?: boolean; retryAfterMs?: number; detail?: string } = {}) {
    const status = opts.status !== undefined ? ` (HTTP ${opts.status})` : "";
    const detail = opts.detail ? `: ${opts.detail}` : "";
    super(`${DESCRIPTIONS[kind]}${status}${detail}`);
    this.kind = kind;
    if (opts.status !== undefined) this.status = opts.status;
    this.retryable = opts.retryable ?? (kind === "unreachable" || kind === "broken_stream" || (kind === "http" && opts.status !== undefined && isRetryableStatus(opts.status)));
    if (opts.retryAfterMs !== undefined) this.retryAfterMs = opts.retryAfterMs;
  }
}

/** Reads `retry-after-ms` or `retry-after` (seconds or an HTTP date); undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers | undefined, nowMs = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = Number(headers.get("retry-after-ms"));
  if (headers.has("retry-after-ms") && Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get("retry-after");
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - nowMs) : undefined;
}

/**
 * Maps whatever the openai package (or fetch under it) threw to a ModelError.
 * `phase` says whether the response had started: a transport error before it is `unreachable`, after it
 * `broken_stream`. Timeouts and aborts of our own are decided by the caller, which knows which timer fired.
 */
export function toModelError(error: unknown, phase: "request" | "stream"): ModelError {
  if (error instanceof ModelError) return error;
  if (error instanceof APIUserAbortError) return new ModelError("aborted", { retryable: false });
  if (error instanceof APIConnectionTimeoutError) return new ModelError("timeout", { retryable: true });
  if (error instanceof APIConnectionError) return new ModelError("unreachable");
  if (error instanceof APIError) {
    if (typeof error.status === "number") {
      const after = retryAfterMs(error.headers);
      return new ModelError("http", { status: error.status, ...(after !== undefined && { retryAfterMs: after }) });
    }
    // An APIError without a status is an `error` event inside a stream that had started well.
    return new ModelError("broken_stream", { detail: "an error event arrived mid-stream" });
  }
  if (error instanceof SyntaxError) return new ModelError("invalid_reply", { retryable: false, detail: "a stream chunk was not JSON" });
  if (error instanceof Error && error.name === "AbortError") return new ModelError("aborted", { retryable: false });
  return new ModelError(phase === "request" ? "unreachable" : "broken_stream");
}
