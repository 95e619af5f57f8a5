// The shapes the model client speaks: chat messages in, streamed pieces and a summary out (pure types).
import type { ModelErrorKind } from "./errors.ts";

/** One OpenAI chat message. `name` must match `^[a-zA-Z0-9_-]{1,64}$` (see `sanitizeName` in assistant/context.ts). */
export type ChatMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string; name?: string }
  | { role: "assistant"; content: string; name?: string };

export interface ChatRequest {
  /** Defaults to the client's model (`AI_MODEL`). */
  model?: string;
  messages: ChatMessage[];
  temperature?: number;
  /** Sent as `max_tokens`. */
  maxTokens?: number;
  /** Ask for a JSON object (`response_format: { type: "json_object" }`). */
  json?: boolean;
  /**
   * Yield the model's reasoning as `part: "reasoning"` pieces. Off by default: reasoning deltas are then dropped
   * (they still count as the first token). Nothing server-specific is sent either way, since servers disagree
   * on the knob and some reject unknown fields.
   */
  reasoning?: boolean;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

/** A non-empty piece of the reply, in arrival order. */
export interface StreamPiece {
  part: "text" | "reasoning";
  text: string;
}

/**
 * The last event of every stream that did not throw.
 * - `stop: "complete"`: the server finished (`finishReason` as sent: "stop", "length", ...).
 * - `stop: "max_duration"`: `maxDurationMs` passed; the upstream request was aborted and the text so far is all
 *   there is. A caller maps this to "interrupted" (the reply is cut but what was streamed is valid).
 * Everything else (timeouts before the first token, HTTP errors, a broken stream, the caller's abort) throws a
 * `ModelError`; a caller maps those to "failed", or to "interrupted" if pieces had already been delivered.
 */
export interface StreamDone {
  part: "done";
  stop: "complete" | "max_duration";
  finishReason?: string;
  usage?: TokenUsage;
}

export type StreamEvent = StreamPiece | StreamDone;

export interface StreamOptions {
  /** Aborting it aborts the upstream HTTP request at once; the stream then throws `ModelError("aborted")`. */
  signal?: AbortSignal;
  /** No piece (text or reasoning) within this many ms of the start → `ModelError("timeout")`. @default 30000 */
  firstTokenTimeoutMs?: number;
  /** The whole stream may last this many ms; then it stops with `stop: "max_duration"`. @default 300000 */
  maxDurationMs?: number;
}

export interface CompleteOptions {
  signal?: AbortSignal;
  /** The whole request, retries included. @default 30000 */
  timeoutMs?: number;
}

export type PingResult = { ok: true; latencyMs: number } | { ok: false; kind: ModelErrorKind; status?: number };
