// The assistant subscriber: hears committed messages that asked for a reply, runs replies one per session and at
// most AI_MAX_CONCURRENCY at once, saves their text so far, and commits what a crash or a shutdown cut short.
import { SessiondError } from "../protocol/errors.ts";
import type { AssistantSetting, MessageRole, StreamSnapshot, StreamStatus } from "../protocol/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { ErrorReporter } from "../observability/sentry.ts";
import type { AssistantPort, AssistantRequest } from "../sessions/assistant-port.ts";
import type { SessionEvents } from "../sessions/events.ts";
import type { SessionService } from "../sessions/session-service.ts";
import type { Subscriber } from "../sessions/subscriber.ts";
import { ReplyRunner, type ChatStreamer, type ReplyJob, type ReplyObserver } from "./reply.ts";
import { ReplyScheduler } from "./scheduler.ts";
import type { AssistantStore } from "./store.ts";
import { StreamRegistry } from "./streams.ts";
import { replyRequest } from "./trigger.ts";

export interface AssistantOptions {
  /** The model of sessions whose setting names none: AI_MODEL, or resolved from the model server when unset. */
  defaultModel: string | (() => Promise<string>);
  /** AI_MAX_CONCURRENCY: replies streaming at once over all sessions. @default 4 */
  maxConcurrency?: number;
  /** Replies that may wait in one session behind the one in progress. @default 8 */
  maxWaitingPerSession?: number;
  /** AI_TIMEOUT_SECONDS in ms: no first piece within it fails the reply. @default 60000 */
  firstTokenTimeoutMs?: number;
  /** AI_MAX_DURATION_SECONDS in ms: a reply still streaming then is stopped and fails with what it had. @default 300000 */
  maxDurationMs?: number;
  /** How often the text so far of each reply is saved, in ms (a kill -9 loses at most about this much). @default 200 */
  saveIntervalMs?: number;
  /** Estimated tokens for the context sent to the model. @default DEFAULT_CONTEXT_TOKEN_BUDGET (6000) */
  tokenBudget?: number;
}

export interface AssistantDeps {
  service: SessionService;
  events: SessionEvents;
  store: AssistantStore;
  model: ChatStreamer;
  logger: Logger;
  reporter?: ErrorReporter;
  observer?: ReplyObserver;
  options: AssistantOptions;
  /** @default Date.now */
  now?: () => number;
  /** @default 128 random bits as 32 hex characters */
  newStreamId?: () => string;
}

/**
 * The built-in assistant. As a Subscriber it is started after the server listens and stopped before the sockets
 * close; as the service's AssistantPort it decides, when a message is accepted, whether it gets a reply (and refuses
 * it when the session's line is full), reports replies in progress for joins, and cancels them.
 */
export class AssistantSubscriber implements Subscriber, AssistantPort {
  readonly name = "assistant";
  readonly registry = new StreamRegistry();
  readonly scheduler: ReplyScheduler<ReplyJob>;
  private readonly runner: ReplyRunner;
  private readonly now: () => number;
  private readonly unsubscribe: Array<() => void> = [];
  private saver: ReturnType<typeof setInterval> | null = null;
  private stopped = false;

  constructor(private readonly deps: AssistantDeps) {
    const o = deps.options;
    this.now = deps.now ?? Date.now;
    this.runner = new ReplyRunner({
      service: deps.service,
      events: deps.events,
      store: deps.store,
      registry: this.registry,
      model: deps.model,
      logger: deps.logger,
      reporter: deps.reporter,
      observer: deps.observer,
      defaultModel: typeof o.defaultModel === "function" ? o.defaultModel : constant(o.defaultModel),
      firstTokenTimeoutMs: o.firstTokenTimeoutMs ?? 60_000,
      maxDurationMs: o.maxDurationMs ?? 300_000,
      tokenBudget: o.tokenBudget,
      now: this.now,
      newStreamId: deps.newStreamId ?? randomStreamId,
    });
    this.scheduler = new ReplyScheduler((job) => this.runner.run(job), {
      maxConcurrency: o.maxConcurrency ?? 4,
      maxWaitingPerSession: o.maxWaitingPerSession ?? 8,
      onError: (e) => deps.reporter?.capture(e, { where: "assistant.scheduler", code: "internal" }),
    });
  }

  /** Connects to the service and its events, commits the replies a crash cut short, and starts saving text. */
  start(): void {
    const { service, events } = this.deps;
    service.attachAssistant(this);
    this.unsubscribe.push(
      events.on("message.committed", ({ message, assistant }) => {
        if (!assistant) return;
        const job: ReplyJob = { sessionId: message.session, message, request: assistant, committedAt: this.now() };
        // On the next turn: the sender's ack (sent once this commit's callbacks return) comes before stream.start.
        setImmediate(() => this.scheduler.enqueue(job.sessionId, job));
      }),
      events.on("session.ending", ({ sessionId }) => this.endSession(sessionId)),
    );
    this.recover();
    this.saver = setInterval(() => this.saveAll(), this.deps.options.saveIntervalMs ?? 200);
  }

  /**
   * Shutdown: nothing new starts, the text of every reply in progress is saved, then committed as `interrupted`
   * and `stream.end` goes out before the sockets close. Replies still waiting for their turn are dropped (they
   * never started, so no client saw anything of them).
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.saver) clearInterval(this.saver);
    const dropped = this.scheduler.stop();
    this.saveAll();
    const pending = this.registry.all().map((s) => this.runner.finish(s, "interrupted"));
    this.deps.service.flush();
    await Promise.all(pending);
    for (const off of this.unsubscribe.splice(0)) off();
    this.deps.logger.info("assistant.stopped", { interrupted: pending.length, dropped });
  }

  // --- AssistantPort ----------------------------------------------------------------------------------------------

  admit(
    session: { id: string; assistant: AssistantSetting },
    message: { role: MessageRole; userId: string; content: string },
    request?: AssistantRequest,
  ): AssistantRequest | null {
    if (this.stopped) return null;
    const reply = replyRequest(session.assistant, message, request);
    if (!reply) return null;
    if (!this.scheduler.reserve(session.id)) {
      const max = this.scheduler.maxWaitingPerSession;
      throw new SessiondError("limit_exceeded", `The assistant already has ${max} replies waiting in this session; wait for it to catch up, then send again.`);
    }
    return reply;
  }

  release(sessionId: string): void {
    this.scheduler.release(sessionId);
  }

  snapshots(sessionId: string): StreamSnapshot[] {
    return this.registry.snapshots(sessionId);
  }

  busy(sessionId: string): boolean {
    return this.scheduler.busy(sessionId) || this.registry.inSession(sessionId).length > 0;
  }

  streamAuthor(sessionId: string, streamId: string): string | null {
    return this.registry.find(sessionId, streamId)?.author ?? null;
  }

  cancel(sessionId: string, streamId: string): void {
    const stream = this.registry.find(sessionId, streamId);
    if (stream) void this.runner.finish(stream, "cancelled");
  }

  // --- internals --------------------------------------------------------------------------------------------------

  /** The session is about to end: its line is dropped and its reply cancelled, committed before the end. */
  private endSession(sessionId: string): void {
    this.scheduler.dropSession(sessionId);
    for (const stream of this.registry.inSession(sessionId)) void this.runner.finish(stream, "cancelled");
  }

  /** Saves the text so far of every reply that changed since its last save. */
  private saveAll(): void {
    const now = this.now();
    for (const s of this.registry.all()) {
      if (!s.dirty) continue;
      s.dirty = false;
      try {
        this.deps.store.save(s.info.id, s.text, s.reasoning, now);
      } catch (e) {
        s.dirty = true;
        this.deps.logger.warn("assistant.save_failed", { session: s.sessionId, stream: s.info.id, error: e instanceof Error ? e.name : typeof e });
      }
    }
  }

  /** Every reply a crash left in progress is committed as `interrupted` with the text saved for it, exactly once. */
  private recover(): void {
    const rows = this.deps.store.all();
    if (rows.length === 0) return;
    const { service, store, logger } = this.deps;
    let committed = 0;
    for (const row of rows) {
      if (row.text === "" && row.reasoning === "") {
        store.delete(row.id);
        continue;
      }
      const status: StreamStatus = "interrupted";
      service.appendFromServer(
        row.sessionId,
        {
          role: "assistant",
          userId: row.userId,
          content: row.text,
          clientMsgId: row.id,
          metadata: { stream: row.id, replyTo: row.replyTo, model: row.model, status, ...(row.reasoning !== "" && { reasoning: row.reasoning }) },
        },
        (error, result) => {
          if (result && !result.duplicate) {
            committed++;
            service.recordAssistantMetrics(row.sessionId, { messages: 1 });
            this.deps.observer?.ended(status, (row.savedAt - row.startedAt) / 1000);
          }
          if (!error || error.code !== "internal") store.delete(row.id);
          else logger.warn("assistant.commit_failed", { session: row.sessionId, stream: row.id, code: error.code });
        },
      );
    }
    service.flush();
    logger.info("assistant.recovered", { rows: rows.length, committed });
  }
}

/** 128 random bits as hex, like session ids. */
export function randomStreamId(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex");
}

const constant = (name: string) => async () => name;
