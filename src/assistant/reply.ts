// One assistant reply from start to commit: the stream row, `stream.start`, the model's pieces as `stream.delta`,
// then the committed message (and a failure notice) and `stream.end`. Never logs or reports text.
import { ModelError } from "../ai/errors.ts";
import type { ChatRequest, StreamEvent, StreamOptions, TokenUsage } from "../ai/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { ErrorReporter } from "../observability/sentry.ts";
import type { AssistantSetting, Message, StreamStatus } from "../protocol/types.ts";
import type { AssistantRequest } from "../sessions/assistant-port.ts";
import type { SessionEvents } from "../sessions/events.ts";
import type { SessionService } from "../sessions/session-service.ts";
import { DEFAULT_CONTEXT_MESSAGES } from "../protocol/types.ts";
import { buildAssistantContext } from "./context.ts";
import type { AssistantStore } from "./store.ts";
import type { ActiveStream, StreamRegistry } from "./streams.ts";
import type { StreamWrites } from "./writes.ts";

/** The part of the model client a reply needs (ModelClient implements it). */
export interface ChatStreamer {
  streamChat(request: ChatRequest, opts?: StreamOptions): AsyncIterable<StreamEvent>;
}

/** A committed message that asked for a reply, waiting for its turn. */
export interface ReplyJob {
  sessionId: string;
  message: Message;
  request: AssistantRequest;
  /** When the message committed, epoch ms. */
  committedAt: number;
}

/** What a reply reports, for metrics and /health (counts and codes only). */
export interface ReplyObserver {
  firstPiece(seconds: number): void;
  ended(status: StreamStatus, seconds: number, errorKind?: string): void;
}

export interface ReplyRunnerDeps {
  service: SessionService;
  events: SessionEvents;
  store: AssistantStore;
  /** Orders each stream's row writes; nothing on the streaming path waits for them. */
  writes: StreamWrites;
  registry: StreamRegistry;
  model: ChatStreamer;
  logger: Logger;
  reporter?: ErrorReporter;
  observer?: ReplyObserver;
  /** The model of a session whose setting names none (AI_MODEL, or what the model server lists first). */
  defaultModel: () => Promise<string>;
  firstTokenTimeoutMs: number;
  maxDurationMs: number;
  tokenBudget?: number;
  now: () => number;
  newStreamId: () => string;
}

/** Why a reply failed, as a sentence fragment of our own: never the upstream's words, which may echo the prompt. */
const FAILURE_REASONS: Record<string, string> = {
  unreachable: "the model server could not be reached",
  timeout: "the model server did not start answering in time",
  http: "the model server refused the request",
  broken_stream: "the model server's answer broke off",
  invalid_reply: "the model server's answer was not valid",
  max_duration: "the answer took longer than the time allowed",
  internal: "an internal error occurred",
};

export function failureNotice(kind: string): string {
  return `The assistant could not answer: ${FAILURE_REASONS[kind] ?? FAILURE_REASONS.internal}. Please try again.`;
}

/**
 * Messages read beyond `contextMessages`: the user messages committed after the one being answered (the line's
 * later questions, chatter) are left out, and these keep the context full when there are some.
 */
const LOOKBACK_SLACK = 64;

interface Outcome {
  finishReason?: string;
  usage?: TokenUsage;
  /** For `failed`: a ModelError kind, `max_duration` or `internal`. */
  errorKind?: string;
}

export class ReplyRunner {
  /** Settles when a stream's messages are committed (or it ended with nothing to commit). */
  private readonly settled = new Map<ActiveStream, Promise<void>>();

  constructor(private readonly deps: ReplyRunnerDeps) {}

  /** Runs one reply to its end; resolves after its messages are committed, so the next reply sees them. */
  async run(job: ReplyJob): Promise<void> {
    const { service, events, store, writes, registry, model } = this.deps;
    // Resolved before the session is read: nothing may come between that read and the stream's start.
    const defaultModel = await this.deps.defaultModel();
    const session = service.peek(job.sessionId);
    // The session ended, or the assistant was turned off, while this waited: nothing to answer.
    if (!session || session.status !== "active" || !session.assistant.enabled) return;
    const setting = session.assistant;
    const now = this.deps.now();
    const stream: ActiveStream = {
      info: {
        id: this.deps.newStreamId(),
        replyTo: job.message.seq,
        userId: setting.name,
        model: setting.model ?? defaultModel,
        startedAt: new Date(now).toISOString(),
      },
      sessionId: job.sessionId,
      author: job.message.userId,
      text: "",
      reasoning: "",
      controller: new AbortController(),
      finished: false,
      dirty: false,
      triggeredAt: job.committedAt,
      startedAtMs: now,
      firstPieceAt: null,
    };
    const { info } = stream;
    const row = { id: info.id, sessionId: job.sessionId, replyTo: info.replyTo, userId: info.userId, model: info.model, startedAt: now, text: "", reasoning: "", savedAt: now };
    writes.run(job.sessionId, info.id, "insert", () => store.insert(row));
    registry.add(stream);
    events.emit("stream.started", { sessionId: job.sessionId, stream: info });

    try {
      const request: ChatRequest = {
        model: info.model,
        messages: buildAssistantContext({ assistant: setting, session, messages: await this.context(job, setting), tokenBudget: this.deps.tokenBudget }),
        ...(setting.temperature !== undefined && { temperature: setting.temperature }),
        ...(setting.maxTokens !== undefined && { maxTokens: setting.maxTokens }),
        ...(job.request.json && { json: true }),
        ...(job.request.reasoning && { reasoning: true }),
      };
      const pieces = model.streamChat(request, {
        signal: stream.controller.signal,
        firstTokenTimeoutMs: this.deps.firstTokenTimeoutMs,
        maxDurationMs: this.deps.maxDurationMs,
      });
      for await (const event of pieces) {
        if (stream.finished) break;
        if (event.part === "done") {
          const outcome = { finishReason: event.finishReason, usage: event.usage };
          if (event.stop === "complete") this.finish(stream, "complete", outcome);
          else this.finish(stream, "failed", { ...outcome, errorKind: "max_duration" });
          break;
        }
        this.piece(stream, event.part, event.text);
      }
      if (!stream.finished) this.finish(stream, "failed", { errorKind: "broken_stream" });
    } catch (e) {
      if (!stream.finished) {
        const kind = e instanceof ModelError ? e.kind : "internal";
        if (!(e instanceof ModelError)) {
          this.deps.logger.error("internal.error", { where: "assistant.reply", session: job.sessionId, stream: info.id, error: e instanceof Error ? e.name : typeof e });
          this.deps.reporter?.capture(e, { where: "assistant.reply", sessionId: job.sessionId, code: "internal" });
        }
        this.finish(stream, "failed", { errorKind: kind, ...(e instanceof ModelError && e.status !== undefined && { status: e.status }) });
      }
    }
    await this.settled.get(stream);
    this.settled.delete(stream);
  }

  /**
   * Ends a reply with `status` (idempotent): aborts the upstream request at once, takes the stream out of the
   * registry (a client joining now sees neither a stream nor a message, then the message live), and commits what it
   * had. Cancelled and interrupted replies commit their text if any; failed ones also commit a `system` notice.
   * `stream.end` is emitted synchronously right after the last commit, before anything can end the session.
   */
  finish(stream: ActiveStream, status: StreamStatus, outcome: Outcome & { status?: number } = {}): Promise<void> {
    if (stream.finished) return this.settled.get(stream) ?? Promise.resolve();
    stream.finished = true;
    stream.controller.abort();
    const { service, events, registry, logger } = this.deps;
    registry.remove(stream);
    const { info, sessionId } = stream;
    const seconds = (this.deps.now() - stream.startedAtMs) / 1000;
    this.deps.observer?.ended(status, seconds, outcome.errorKind);
    const logFields = { session: sessionId, stream: info.id, status, seconds: Math.round(seconds * 1000) / 1000, chars: stream.text.length };
    if (status === "failed") logger.warn("assistant.reply_failed", { ...logFields, kind: outcome.errorKind, ...(outcome.status !== undefined && { httpStatus: outcome.status }) });
    else logger.info("assistant.reply", logFields);

    const appends: Array<Parameters<SessionService["appendFromServer"]>[1]> = [];
    if (stream.text !== "" || stream.reasoning !== "") {
      appends.push({
        role: "assistant",
        userId: info.userId,
        content: stream.text,
        // The stream id as idempotency key: a repeat after a crash between commit and row delete is a duplicate.
        clientMsgId: info.id,
        metadata: {
          stream: info.id,
          replyTo: info.replyTo,
          model: info.model,
          status,
          ...(outcome.usage && { usage: outcome.usage }),
          ...(outcome.finishReason && { finishReason: outcome.finishReason }),
          ...(stream.reasoning !== "" && { reasoning: stream.reasoning }),
        },
      });
    }
    if (status === "failed") {
      appends.push({
        role: "system",
        userId: info.userId,
        content: failureNotice(outcome.errorKind ?? "internal"),
        clientMsgId: `${info.id}:failed`,
        metadata: { stream: info.id, replyTo: info.replyTo, status, error: outcome.errorKind ?? "internal" },
      });
    }
    const end = (seq?: number) => events.emit("stream.ended", { sessionId, streamId: info.id, status, ...(seq !== undefined && { seq }) });
    if (appends.length === 0) {
      this.forget(stream);
      end();
      return Promise.resolve();
    }
    const done = new Promise<void>((resolve) => {
      let seq: number | undefined;
      let left = appends.length;
      for (const input of appends) {
        service.appendFromServer(sessionId, input, (error, result) => {
          if (result) {
            seq ??= result.message.seq;
            if (input.role === "assistant") {
              this.forget(stream);
              if (!result.duplicate) service.recordAssistantMetrics(sessionId, { messages: 1 });
            }
          } else if (error) {
            // `internal`: nothing stored; the row stays and the next start (or, shared, a node's sweep once the
            // orphan window has passed) commits it as interrupted.
            if (input.role === "assistant" && error.code !== "internal") this.forget(stream);
            logger.warn("assistant.commit_failed", { session: sessionId, stream: info.id, code: error.code });
          }
          if (--left === 0) {
            end(seq);
            resolve();
          }
        });
      }
    });
    this.settled.set(stream, done);
    return done;
  }

  /** Deletes the stream's row, after its earlier writes. */
  private forget(stream: ActiveStream): void {
    const id = stream.info.id;
    this.deps.writes.run(stream.sessionId, id, "delete", () => this.deps.store.delete(id));
  }

  /** One piece from the model: responseTime on the first, then the delta to every subscriber. */
  private piece(stream: ActiveStream, part: "text" | "reasoning", text: string): void {
    const now = this.deps.now();
    if (stream.firstPieceAt === null) {
      stream.firstPieceAt = now;
      this.deps.service.recordAssistantMetrics(stream.sessionId, { responseTimeMs: now - stream.triggeredAt });
      this.deps.observer?.firstPiece((now - stream.startedAtMs) / 1000);
    }
    const offset = this.deps.registry.append(stream, part, text);
    this.deps.events.emit("stream.delta", {
      sessionId: stream.sessionId,
      streamId: stream.info.id,
      offset,
      text,
      ...(part === "reasoning" && { part: "reasoning" as const }),
    });
  }

  /**
   * The conversation up to the message being answered, plus the assistant's own replies committed since (answers to
   * earlier messages in its line). Each of its replies is placed right after the message it answered, wherever the
   * line put its commit: a queued question is answered as it was asked, the model sees what it already said, and
   * the question is always last.
   */
  private async context(job: ReplyJob, setting: AssistantSetting): Promise<Message[]> {
    const want = Math.max(1, setting.contextMessages ?? DEFAULT_CONTEXT_MESSAGES);
    const recent = await this.deps.service.recentMessages(job.sessionId, want + LOOKBACK_SLACK);
    const upTo = job.message.seq;
    const kept = recent.filter((m) => m.seq <= upTo || (m.role === "assistant" && m.userId === setting.name));
    // The window may have started after the trigger was committed (a long line of replies): keep the trigger.
    if (!kept.some((m) => m.seq === upTo)) kept.push(job.message);
    const position = (m: Message): number => {
      const replyTo = m.role === "assistant" && m.userId === setting.name ? m.metadata?.replyTo : undefined;
      return typeof replyTo === "number" && replyTo < m.seq ? replyTo + 0.5 : m.seq;
    };
    // buildAssistantContext orders by seq, so the copies carry their place in this order as their seq.
    return kept
      .sort((a, b) => position(a) - position(b))
      .slice(-want)
      .map((m, i) => ({ ...m, seq: i + 1 }));
  }
}
