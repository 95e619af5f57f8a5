// Builds the built-in assistant from the config: the model client, the stream store, the subscriber, its metrics
// and its /health check. Called by server/node.ts only when AI_BASE_URL is set, with the node's stream store
// (SqliteAssistantStore in DATA_DIR, or PgAssistantStore shared by every node on DATABASE_URL).
import type { Database } from "bun:sqlite";
import { ModelClient } from "../ai/model-client.ts";
import type { Config } from "../config/index.ts";
import { SqliteAssistantStore } from "../db/assistant-store.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { ErrorReporter } from "../observability/sentry.ts";
import type { SessionEvents } from "../sessions/events.ts";
import type { SessionService } from "../sessions/session-service.ts";
import { AssistantSubscriber } from "../assistant/subscriber.ts";
import type { AssistantStore } from "../assistant/store.ts";
import type { FieldCipher } from "../privacy/field-cipher.ts";

export { AssistantSubscriber, type AssistantDeps, type AssistantOptions } from "../assistant/subscriber.ts";
export { ReplyRunner, failureNotice, type ChatStreamer, type ReplyJob } from "../assistant/reply.ts";
export { ReplyScheduler } from "../assistant/scheduler.ts";
export { StreamRegistry } from "../assistant/streams.ts";
export { mentions, replyRequest } from "../assistant/trigger.ts";

const FIRST_TOKEN_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];
const REPLY_BUCKETS = [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];

export interface AssistantParts {
  subscriber: AssistantSubscriber;
  /** /health `checks.ai`: false after a failed reply, true again after the next complete one. */
  healthy: () => boolean;
}

/**
 * Where replies in progress are saved: the store itself (its own cipher), or the SQLite database to build a
 * SqliteAssistantStore over.
 */
export type AssistantStorage =
  | { store: AssistantStore }
  | {
      sqlite: Database;
      /** Seals the saved partial text of replies at rest (ENCRYPTION_KEY); plaintext when absent. */
      cipher?: FieldCipher;
    };

export type AssistantSetup = AssistantStorage & {
  config: Config;
  /** AI_BASE_URL (the caller builds the assistant only when it is set). */
  baseURL: string;
  service: SessionService;
  events: SessionEvents;
  metrics: Metrics;
  logger: Logger;
  reporter: ErrorReporter;
};

export function createAssistant(deps: AssistantSetup): AssistantParts {
  const { config, metrics } = deps;
  // One retry, and only while nothing has streamed yet (the client never retries after the first piece).
  const model = new ModelClient({ baseURL: deps.baseURL, apiKey: config.AI_API_KEY, model: config.AI_MODEL ?? UNNAMED_MODEL, maxRetries: 1 });
  const defaultModel = config.AI_MODEL ?? firstListedModel(model, deps.logger);
  const firstToken = metrics.histogram("sessiond_ai_first_token_seconds", "Time from an assistant reply's request to the model's first piece.", FIRST_TOKEN_BUCKETS);
  const replySeconds = metrics.histogram("sessiond_ai_reply_seconds", "Time from an assistant reply's start to its end.", REPLY_BUCKETS);
  const replies = metrics.counter("sessiond_ai_replies_total", "Assistant replies ended, by status.");
  const failures = metrics.counter("sessiond_ai_failures_total", "Failed assistant replies, by cause (unreachable, timeout, http, broken_stream, ...).");
  let healthy = true;
  const subscriber = new AssistantSubscriber({
    service: deps.service,
    events: deps.events,
    store: "store" in deps ? deps.store : new SqliteAssistantStore(deps.sqlite, deps.cipher),
    model,
    logger: deps.logger,
    reporter: deps.reporter,
    observer: {
      firstPiece: (seconds) => firstToken.observe(seconds),
      ended: (status, seconds, errorKind) => {
        replies.inc({ status });
        replySeconds.observe(seconds);
        if (status === "failed") {
          failures.inc({ kind: errorKind ?? "internal" });
          healthy = false;
        } else if (status === "complete") healthy = true;
      },
    },
    options: {
      defaultModel,
      maxConcurrency: config.AI_MAX_CONCURRENCY,
      firstTokenTimeoutMs: config.AI_TIMEOUT_SECONDS * 1000,
      maxDurationMs: config.AI_MAX_DURATION_SECONDS * 1000,
    },
  });
  metrics.gauge("sessiond_ai_streams_active", "Assistant replies streaming now.", () => subscriber.registry.size);
  metrics.gauge("sessiond_ai_replies_waiting", "Assistant replies waiting for their turn.", () => subscriber.scheduler.waiting);
  return { subscriber, healthy: () => healthy };
}

/** The model named in requests when neither AI_MODEL nor the model server's list names one (llama.cpp ignores it). */
const UNNAMED_MODEL = "default";

/**
 * Without AI_MODEL: the first model the server lists (`GET /models`), asked when a reply first needs it and kept
 * once known; while the server lists none or cannot be asked, replies name UNNAMED_MODEL and it is asked again.
 */
function firstListedModel(model: ModelClient, logger: Logger): () => Promise<string> {
  let known: string | null = null;
  return async () => {
    if (known !== null) return known;
    const listed = await model.listModels().catch(() => []);
    if (listed[0] === undefined) return UNNAMED_MODEL;
    known = listed[0];
    logger.info("assistant.model_chosen", { model: known, from: "GET /models" });
    return known;
  };
}
