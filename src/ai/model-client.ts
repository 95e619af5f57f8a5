// ModelClient: the one way sessiond talks to an operator's OpenAI-compatible model server (Ollama, llama.cpp,
// vLLM, LM Studio): streaming chat, one-shot completion, and a ping. Owns timeouts, aborts and the retry policy.
import OpenAI from "openai";
import type { ChatCompletionChunk, ChatCompletionCreateParamsBase } from "openai/resources/chat/completions";
import { ModelError, toModelError } from "./errors.ts";
import type { ChatRequest, CompleteOptions, PingResult, StreamEvent, StreamOptions, TokenUsage } from "./types.ts";

export interface ModelClientOptions {
  /** `AI_BASE_URL`: the server's OpenAI-compatible base, e.g. http://localhost:11434/v1 */
  baseURL: string;
  /** `AI_API_KEY`. Unset → the placeholder "not-needed" (the package requires a string; local servers ignore it). */
  apiKey?: string;
  /** `AI_MODEL`: the model of a request that names none. */
  model: string;
  /** Further attempts after a retryable failure (unreachable, 408/409/429/5xx, a stream dropped before its first piece). @default 2 */
  maxRetries?: number;
  /** Base of the full-jitter exponential backoff between attempts, in ms. @default 250 */
  retryBaseDelayMs?: number;
  /** Longest wait between attempts (a Retry-After included), in ms. @default 4000 */
  retryMaxDelayMs?: number;
  /** Random source in [0, 1) for the jitter. @default Math.random */
  random?: () => number;
}

/** Defaults of the per-call limits, in ms. */
export const MODEL_CALL_DEFAULTS = {
  firstTokenTimeoutMs: 30_000,
  maxDurationMs: 300_000,
  completeTimeoutMs: 30_000,
  pingTimeoutMs: 2_000,
} as const;

/**
 * The wait before attempt `attempt + 1` (attempt counts from 0): the server's Retry-After when it sent one,
 * else full jitter over `base * 2^attempt`; both capped at `maxMs`. Pure.
 */
export function retryDelayMs(attempt: number, error: ModelError, opts: { baseMs: number; maxMs: number; random: () => number }): number {
  if (error.retryAfterMs !== undefined) return Math.min(error.retryAfterMs, opts.maxMs);
  return Math.floor(opts.random() * Math.min(opts.maxMs, opts.baseMs * 2 ** attempt));
}

type StopReason = "caller" | "timeout" | "max_duration";

/** One call's abort controller, its timers, and which of them (or the caller) stopped it first. */
class CallControl {
  readonly controller = new AbortController();
  reason: StopReason | undefined;
  timeoutDetail = "";
  #timers = new Map<string, ReturnType<typeof setTimeout>>();
  #callerSignal: AbortSignal | undefined;
  #onCallerAbort = () => this.stop("caller");

  constructor(callerSignal: AbortSignal | undefined) {
    this.#callerSignal = callerSignal;
    if (callerSignal?.aborted) this.stop("caller");
    else callerSignal?.addEventListener("abort", this.#onCallerAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  after(name: string, ms: number, reason: Exclude<StopReason, "caller">, detail = ""): void {
    this.#timers.set(
      name,
      setTimeout(() => {
        if (reason === "timeout") this.timeoutDetail = detail;
        this.stop(reason);
      }, ms),
    );
  }

  clear(name: string): void {
    clearTimeout(this.#timers.get(name));
    this.#timers.delete(name);
  }

  stop(reason: StopReason): void {
    if (this.reason) return;
    this.reason = reason;
    // No timer matters once stopped; clearing them also frees a stream its consumer abandoned without return().
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.controller.abort();
  }

  /** The error to throw for a stop of ours (max_duration is not an error and is handled by the caller). */
  stoppedError(): ModelError | undefined {
    if (this.reason === "caller") return new ModelError("aborted", { retryable: false });
    if (this.reason === "timeout") return new ModelError("timeout", { retryable: true, detail: this.timeoutDetail });
    return undefined;
  }

  /** Waits `ms`, or less if the call is stopped meanwhile. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      const signal = this.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /** Clears the timers, lets go of the caller's signal, and aborts whatever request may still be open. */
  dispose(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#callerSignal?.removeEventListener("abort", this.#onCallerAbort);
    if (!this.controller.signal.aborted) this.controller.abort();
  }
}

/** The reasoning text of a delta: `reasoning_content` (DeepSeek, vLLM, llama.cpp) or `reasoning` (Ollama, OpenRouter). */
function reasoningOf(delta: Record<string, unknown> | undefined): string {
  if (!delta) return "";
  for (const field of ["reasoning_content", "reasoning"]) {
    const value = delta[field];
    if (typeof value === "string" && value !== "") return value;
  }
  return "";
}

function usageOf(chunk: ChatCompletionChunk): TokenUsage | undefined {
  const u = chunk.usage;
  if (!u) return undefined;
  return { promptTokens: u.prompt_tokens ?? 0, completionTokens: u.completion_tokens ?? 0, totalTokens: u.total_tokens ?? 0 };
}

export class ModelClient {
  readonly model: string;
  readonly #openai: OpenAI;
  readonly #maxRetries: number;
  readonly #backoff: { baseMs: number; maxMs: number; random: () => number };

  constructor(opts: ModelClientOptions) {
    this.model = opts.model;
    this.#maxRetries = opts.maxRetries ?? 2;
    this.#backoff = { baseMs: opts.retryBaseDelayMs ?? 250, maxMs: opts.retryMaxDelayMs ?? 4000, random: opts.random ?? Math.random };
    this.#openai = new OpenAI({
      baseURL: opts.baseURL,
      apiKey: opts.apiKey ?? "not-needed",
      // Our own policy retries (only before the first piece, within the caller's deadlines); the package's would
      // retry behind our timers' backs.
      maxRetries: 0,
      // Only bounds the wait for response headers; our timers are shorter and decide first.
      timeout: 10 * 60_000,
      // Never pick up OpenAI account settings from the environment, and never log: at debug level the package
      // logs request bodies, which hold prompts.
      organization: null,
      project: null,
      webhookSecret: null,
      logLevel: "off",
    });
  }

  /**
   * Streams a chat reply. Yields non-empty pieces in arrival order and, last, one `StreamDone` (see its doc for
   * `stop`). Throws `ModelError`: `timeout` (no piece within `firstTokenTimeoutMs`), `aborted` (the caller's
   * signal), `http`, `unreachable`, `broken_stream` (ended without a finish reason), `invalid_reply` (a chunk
   * that is not JSON). Retries happen only before the first piece. Nothing is sent before the first `next()`;
   * the timers start then. Leaving the loop early aborts the request. A stream that loses only its tail after the
   * finish reason (usage, `[DONE]`) still ends with `stop: "complete"`.
   */
  async *streamChat(request: ChatRequest, opts: StreamOptions = {}): AsyncGenerator<StreamEvent, void, undefined> {
    const firstTokenTimeoutMs = opts.firstTokenTimeoutMs ?? MODEL_CALL_DEFAULTS.firstTokenTimeoutMs;
    const maxDurationMs = opts.maxDurationMs ?? MODEL_CALL_DEFAULTS.maxDurationMs;
    const call = new CallControl(opts.signal);
    call.after("first", firstTokenTimeoutMs, "timeout", `no first token within ${firstTokenTimeoutMs} ms`);
    call.after("max", maxDurationMs, "max_duration");
    let started = false;
    try {
      for (let attempt = 0; ; attempt++) {
        let phase: "request" | "stream" = "request";
        let finishReason: string | undefined;
        let usage: TokenUsage | undefined;
        try {
          const stopped = call.stoppedError();
          if (stopped) throw stopped;
          const stream = await this.#openai.chat.completions.create(
            { ...this.#body(request), stream: true, stream_options: { include_usage: true } },
            { signal: call.signal },
          );
          phase = "stream";
          for await (const chunk of stream) {
            usage = usageOf(chunk) ?? usage;
            const choice = chunk.choices?.[0];
            if (!choice) continue;
            if (choice.finish_reason) finishReason = choice.finish_reason;
            const delta = choice.delta as Record<string, unknown> | undefined;
            const reasoning = reasoningOf(delta);
            const text = typeof delta?.content === "string" ? delta.content : "";
            if (!started && (reasoning || text)) {
              started = true;
              call.clear("first");
            }
            if (reasoning && request.reasoning) yield { part: "reasoning", text: reasoning };
            if (text) yield { part: "text", text };
          }
          // The package ends an aborted stream quietly, so ask which stop (if any) ended it.
          if (call.reason === "max_duration") {
            yield { part: "done", stop: "max_duration", ...(finishReason && { finishReason }), ...(usage && { usage }) };
            return;
          }
          const stopped2 = call.stoppedError();
          if (stopped2) throw stopped2;
          if (finishReason === undefined) throw new ModelError("broken_stream", { detail: "no finish reason before the end" });
          yield { part: "done", stop: "complete", finishReason, ...(usage && { usage }) };
          return;
        } catch (e) {
          if (call.reason === "max_duration") {
            yield { part: "done", stop: "max_duration", ...(finishReason && { finishReason }), ...(usage && { usage }) };
            return;
          }
          const error = call.stoppedError() ?? toModelError(e, phase);
          // The finish arrived and only the tail (usage, [DONE]) was lost: the reply itself is whole.
          if (phase === "stream" && finishReason !== undefined && !call.reason && error.kind === "broken_stream") {
            yield { part: "done", stop: "complete", finishReason, ...(usage && { usage }) };
            return;
          }
          if (started || !error.retryable || attempt >= this.#maxRetries || call.reason) throw error;
          await call.sleep(retryDelayMs(attempt, error, this.#backoff));
        }
      }
    } finally {
      call.dispose();
    }
  }

  /**
   * One non-streaming completion; resolves with `choices[0].message.content`. Throws `ModelError`: `timeout`
   * (`timeoutMs` passed, retries included), `aborted`, `http`, `unreachable`, `invalid_reply` (no text content).
   */
  async complete(request: ChatRequest, opts: CompleteOptions = {}): Promise<string> {
    const timeoutMs = opts.timeoutMs ?? MODEL_CALL_DEFAULTS.completeTimeoutMs;
    const call = new CallControl(opts.signal);
    call.after("timeout", timeoutMs, "timeout", `no reply within ${timeoutMs} ms`);
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          const stopped = call.stoppedError();
          if (stopped) throw stopped;
          const completion = await this.#openai.chat.completions.create({ ...this.#body(request), stream: false }, { signal: call.signal });
          const content: unknown = completion.choices?.[0]?.message?.content;
          if (typeof content !== "string") throw new ModelError("invalid_reply", { retryable: false, detail: "no text content" });
          return content;
        } catch (e) {
          const error = call.stoppedError() ?? toModelError(e, "request");
          if (!error.retryable || attempt >= this.#maxRetries || call.reason) throw error;
          await call.sleep(retryDelayMs(attempt, error, this.#backoff));
        }
      }
    } finally {
      call.dispose();
    }
  }

  /** The ids `GET {base}/models` lists, in its order; throws a ModelError when the server does not answer. */
  async listModels(opts: { timeoutMs?: number } = {}): Promise<string[]> {
    const timeoutMs = opts.timeoutMs ?? MODEL_CALL_DEFAULTS.pingTimeoutMs;
    const call = new CallControl(undefined);
    call.after("timeout", timeoutMs, "timeout", `no answer within ${timeoutMs} ms`);
    try {
      const page = await this.#openai.models.list({ signal: call.signal });
      return page.data.map((m) => m.id).filter((id): id is string => typeof id === "string" && id.length > 0);
    } catch (e) {
      throw call.stoppedError() ?? toModelError(e, "request");
    } finally {
      call.dispose();
    }
  }

  /** Whether the endpoint answers `GET {base}/models` with a 2xx within `timeoutMs` (default 2000). One attempt. */
  async ping(opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<PingResult> {
    const timeoutMs = opts.timeoutMs ?? MODEL_CALL_DEFAULTS.pingTimeoutMs;
    const call = new CallControl(opts.signal);
    call.after("timeout", timeoutMs, "timeout", `no answer within ${timeoutMs} ms`);
    const startedAt = performance.now();
    try {
      await this.#openai.models.list({ signal: call.signal });
      return { ok: true, latencyMs: Math.round(performance.now() - startedAt) };
    } catch (e) {
      const error = call.stoppedError() ?? toModelError(e, "request");
      return { ok: false, kind: error.kind, ...(error.status !== undefined && { status: error.status }) };
    } finally {
      call.dispose();
    }
  }

  #body(request: ChatRequest): ChatCompletionCreateParamsBase {
    return {
      model: request.model ?? this.model,
      messages: request.messages,
      ...(request.temperature !== undefined && { temperature: request.temperature }),
      ...(request.maxTokens !== undefined && { max_tokens: request.maxTokens }),
      ...(request.json && { response_format: { type: "json_object" as const } }),
    };
  }
}
