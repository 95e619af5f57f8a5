// The assistant subscriber: hears committed messages that asked for a reply, runs replies one per session and at
// most AI_MAX_CONCURRENCY at once, saves their text so far, and commits what a crash or a shutdown cut short.
import { LogThrottle } from "../observability/log-throttle.ts";
import { SessiondError } from "../protocol/errors.ts";
import type { AssistantSetting, MessageRole, StreamSnapshot, StreamStatus } from "../protocol/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { ErrorReporter } from "../observability/sentry.ts";
import type { AssistantPort, AssistantRequest } from "../sessions/assistant-port.ts";
import { isPending, then, type Awaitable } from "../sessions/awaitable.ts";
import type { SessionEvents } from "../sessions/events.ts";
import type { SessionService } from "../sessions/session-service.ts";
import type { Subscriber } from "../sessions/subscriber.ts";
import { ReplyRunner, type ChatStreamer, type ReplyJob, type ReplyObserver } from "./reply.ts";
import { ReplyScheduler } from "./scheduler.ts";
import type { AssistantStore, StreamRow } from "./store.ts";
import { StreamRegistry, type ActiveStream } from "./streams.ts";
import { replyRequest } from "./trigger.ts";
import { StreamWrites, type StreamWriteOp } from "./writes.ts";

/** A failing store logs (and reports) once per this interval and operation, with how many failures it held back. */
const WRITE_FAILURE_LOG_MS = 10_000;

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
  private readonly writes: StreamWrites;
  private readonly writeFailureLogs = new Map<StreamWriteOp, LogThrottle>();
  /** When each reply in progress was last saved (absent: not since its row was inserted at its start). */
  private readonly savedAt = new WeakMap<ActiveStream, number>();
  private saver: ReturnType<typeof setInterval> | null = null;
  private sweeper: ReturnType<typeof setInterval> | null = null;
  /** The orphan claim and commit under way, so that sweeps never overlap and stop() can wait for one. */
  private recovering: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly deps: AssistantDeps) {
    const o = deps.options;
    this.now = deps.now ?? Date.now;
    this.writes = new StreamWrites((op, sessionId, streamId, error) => this.writeFailed(op, sessionId, streamId, error));
    this.runner = new ReplyRunner({
      service: deps.service,
      events: deps.events,
      store: deps.store,
      writes: this.writes,
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

  /**
   * Connects to the service and its events, commits the replies a crash cut short, and starts saving text. With a
   * shared store it also starts looking, periodically, for replies of nodes that are gone.
   */
  start(): void | Promise<void> {
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
    const started = then(this.recover(), () => this.startTimers());
    return isPending(started) ? Promise.resolve(started) : undefined;
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
    if (this.sweeper) clearInterval(this.sweeper);
    const dropped = this.scheduler.stop();
    this.saveAll(true);
    const pending = this.registry.all().map((s) => this.runner.finish(s, "interrupted"));
    this.flushAppends();
    await Promise.all(pending);
    await this.recovering;
    // The rows' last saves and deletes, before the store's connection closes.
    await this.writes.idle();
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

  private startTimers(): void {
    const saveIntervalMs = this.deps.options.saveIntervalMs ?? 200;
    this.saver = setInterval(() => this.saveAll(), saveIntervalMs);
    const orphanAfterMs = this.deps.store.orphanAfterMs;
    if (orphanAfterMs !== undefined) this.sweeper = setInterval(() => this.sweep(), Math.max(saveIntervalMs, orphanAfterMs / 2));
  }

  /**
   * Saves the text so far of every reply that changed since its last save, and, with a shared store, of every
   * reply not saved for a third of the orphan window (a reply waiting for the model must not look abandoned).
   * A reply whose previous write has not answered is skipped until it has (`force`: queued anyway, at shutdown).
   */
  private saveAll(force = false): void {
    const now = this.now();
    const orphanAfterMs = this.deps.store.orphanAfterMs;
    const keepAliveMs = orphanAfterMs === undefined ? Infinity : orphanAfterMs / 3;
    for (const s of this.registry.all()) {
      const id = s.info.id;
      if (!s.dirty && now - (this.savedAt.get(s) ?? s.startedAtMs) < keepAliveMs) continue;
      if (!force && this.writes.pending(id)) continue;
      s.dirty = false;
      this.savedAt.set(s, now);
      const { text, reasoning } = s;
      this.writes.run(s.sessionId, id, "save", () => this.deps.store.save(id, text, reasoning, now), () => {
        if (!s.finished) s.dirty = true;
      });
    }
  }

  /** A periodic look for replies of nodes that are gone (shared store only); failures wait for the next one. */
  private sweep(): void {
    if (this.stopped || this.recovering) return;
    let recovered: Awaitable<void>;
    try {
      recovered = this.recover();
    } catch (e) {
      this.recoveryFailed(e);
      return;
    }
    if (!isPending(recovered)) return;
    const p: Promise<void> = Promise.resolve(recovered).then(
      () => {},
      (e) => this.recoveryFailed(e),
    );
    this.recovering = p;
    void p.then(() => {
      if (this.recovering === p) this.recovering = null;
    });
  }

  private recoveryFailed(e: unknown): void {
    this.deps.logger.warn("assistant.recovery_failed", { error: e instanceof Error ? e.name : typeof e });
    if (!(e instanceof SessiondError && e.code === "unavailable")) this.deps.reporter?.capture(e, { where: "assistant.recover", code: "internal" });
  }

  /**
   * Every reply a crash left in progress, as the store hands them over, is committed as `interrupted` with the text
   * saved for it, exactly once (the stream id is the commit's idempotency key); answers once every commit has.
   */
  private recover(): Awaitable<void> {
    return then(this.deps.store.claimOrphans(this.now()), (rows) => this.commitOrphans(rows));
  }

  private commitOrphans(claimed: StreamRow[]): Awaitable<void> {
    // A reply streaming here whose saves could not keep its row fresh is not an orphan: it goes on.
    const rows = claimed.filter((row) => this.registry.find(row.sessionId, row.id) === undefined);
    if (rows.length === 0) return;
    const { service, logger } = this.deps;
    let committed = 0;
    let left = rows.length;
    let answered!: () => void;
    const done = new Promise<void>((resolve) => (answered = resolve));
    const settle = () => {
      if (--left > 0) return;
      logger.info("assistant.recovered", { rows: rows.length, committed });
      answered();
    };
    const forget = (row: StreamRow) => this.writes.run(row.sessionId, row.id, "delete", () => this.deps.store.delete(row.id));
    for (const row of rows) {
      if (row.text === "" && row.reasoning === "") {
        forget(row);
        settle();
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
          // `internal`: nothing stored; the row stays for the next start (or, shared, the next node's sweep).
          if (!error || error.code !== "internal") forget(row);
          else logger.warn("assistant.commit_failed", { session: row.sessionId, stream: row.id, code: error.code });
          settle();
        },
      );
    }
    this.flushAppends();
    return left === 0 ? undefined : done;
  }

  /**
   * Commits the appends queued now instead of at the next group commit. Each append's outcome comes through its
   * own callback; activity the flush could not write stays pending in the service for its next write.
   */
  private flushAppends(): void {
    const flushed = this.deps.service.flush();
    if (isPending(flushed)) Promise.resolve(flushed).catch(() => {});
  }

  /** A row write that failed: logged (and reported unless the store is merely unreachable), at most once per interval. */
  private writeFailed(op: StreamWriteOp, sessionId: string, streamId: string, e: unknown): void {
    let throttle = this.writeFailureLogs.get(op);
    if (!throttle) this.writeFailureLogs.set(op, (throttle = new LogThrottle(WRITE_FAILURE_LOG_MS)));
    const take = throttle.take(this.now());
    if (!take.log) return;
    this.deps.logger.warn(`assistant.${op}_failed`, { session: sessionId, stream: streamId, error: e instanceof Error ? e.name : typeof e, ...(take.held > 0 && { held: take.held }) });
    if (!(e instanceof SessiondError && e.code === "unavailable")) this.deps.reporter?.capture(e, { where: `assistant.${op}`, sessionId, code: "internal" });
  }
}

/** 128 random bits as hex, like session ids. */
export function randomStreamId(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex");
}

const constant = (name: string) => async () => name;
