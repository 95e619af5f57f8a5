// The session service: join, recover, append, configure, end, expire. Every transport goes through it, so there
// is one write path, one access check and one source of domain events. It never touches a socket.
import { higherRisk, type Analysis } from "../protocol/analysis.ts";
import { isSessiondError, SessiondError } from "../protocol/errors.ts";
import { MAX_METADATA_BYTES, utf8Bytes } from "../protocol/frames.ts";
import type {
  AnalysisSetting,
  AssistantSetting,
  EndOnDisconnectSetting,
  Message,
  MessageKind,
  MessageRole,
  SessionAccess,
  SessionInfo,
  SessionMode,
} from "../protocol/types.ts";
import { analysisView, canAccess, canManage, sessionView, type Principal } from "./access.ts";
import type { Clock } from "./clock.ts";
import { DisconnectGrace, systemTimers, type Timers } from "./end-on-disconnect.ts";
import type { SessionEvents } from "./events.ts";
import type { AssistantPort, AssistantRequest } from "./assistant-port.ts";
import { DEFAULT_CONTEXT_MESSAGES, type StreamInfo, type StreamSnapshot } from "../protocol/types.ts";
import { MessageWindow } from "./message-window.ts";
import { isOutsideRead, type ReadVia } from "./outside-read.ts";
import { Presence, SharedPresence, type PresenceManager } from "./presence.ts";
import type { BrokerEvent } from "./broker.ts";
import { DEFAULT_MAX_RECOVERY_BYTES, newestWithin, ReplyBudget } from "./reply-size.ts";
import { RemoteStreams } from "./remote-streams.ts";
import { conflictingFields, forbiddenMessage } from "./rooms.ts";
import { SessionCache } from "./session-cache.ts";
import { newSessionRecord, sessionMetrics, type AppendResult, type SessionListQuery, type SessionPatch, type SessionRecord, type SessionStorage, type SessionStore } from "./store.ts";
import { isPending, then, type Awaitable } from "./awaitable.ts";

export interface SessionRules {
  /** Inactivity after which an active session ends as `expired`. */
  expiryMs: number;
  /** Messages kept per cached session (MAX_MESSAGES_PER_SESSION). */
  windowSize: number;
  /** Sessions held in memory (SESSION_CACHE_MAX_SESSIONS). */
  cacheMaxSessions: number;
  /** Most messages one `since` recovery returns before `truncated` (MAX_RECOVERY_MESSAGES). */
  maxRecoveryMessages: number;
  /**
   * Most bytes of messages (as JSON) one `joined` reply carries, whatever the count: a recovery page past it says
   * `truncated`, a history join keeps the newest that fit. At least one message always goes out
   * (MAX_RECOVERY_BYTES). @default 1 MiB
   */
  maxRecoveryBytes?: number;
  /** Largest message content in UTF-8 bytes (MAX_MESSAGE_BYTES). */
  maxMessageBytes: number;
  /** Whether joining an unknown id or room opens it (SESSION_CREATE=join) or gives not_found (api). */
  createOnJoin: boolean;
  /** Settings of a session that was not given its own. */
  defaults: SessionDefaults;
  /** Whether a model server is configured (AI_BASE_URL); without one the assistant cannot be enabled. */
  assistantAvailable: boolean;
  /** Access of a room session opened by a join (ROOM_ACCESS_DEFAULT). @default "private" */
  roomAccess?: SessionAccess;
  /** The database's epoch (a random id, new after a restore), carried by SessionInfo and `joined`. */
  epoch?: string;
}

export interface SessionDefaults {
  analysis: AnalysisSetting;
  assistant: AssistantSetting;
  endOnDisconnect: EndOnDisconnectSetting;
}

/** What a caller may pass for each setting: a partial value merged into the current one. */
export interface SettingsInput {
  analysis?: Partial<AnalysisSetting>;
  assistant?: Partial<AssistantSetting>;
  endOnDisconnect?: Partial<EndOnDisconnectSetting>;
}

export const DEFAULT_ASSISTANT: AssistantSetting = { enabled: false, name: "assistant", trigger: "every", contextMessages: DEFAULT_CONTEXT_MESSAGES };

/**
 * Per-user message budget: in-process (auth/TokenBucketLimiter, answers at once) or shared by the nodes
 * (redis/RedisTokenBucket, answers later).
 */
export interface MessageRateLimiter {
  /** Takes one token: 0 when allowed, otherwise the milliseconds until one is available. */
  take(key: string, now: number): Awaitable<number>;
  /** Gives back a token taken for a message that was refused or was a replay (nobody waits for it). */
  refund(key: string): void | PromiseLike<void>;
}

export const DEFAULT_HISTORY_LIMIT = 100;
/** Messages read from SQLite at a time while a recovery fills its reply. */
const RECOVERY_PAGE = 500;
/** Idle sessions read at a time by the expiry sweep, and activity times written per transaction. */
const EXPIRY_PAGE = 200;
const ACTIVITY_CHUNK = 1000;
/** Reads an operation may wait for before it is refused as busy (a session evicted again while it was read). */
const MAX_LOAD_ROUNDS = 8;
/** Ended sessions kept in memory with an asynchronous store (they are read-only: history joins, exports). */
const ENDED_CACHE_SIZE = 256;
/** A reply on another node not heard of for this long is taken for gone (past the model's first-token wait). */
const REMOTE_STREAM_QUIET_MS = 90_000;

interface CachedSession {
  record: SessionRecord;
  /** Loaded on the first history read; kept in step with commits from then on. */
  window: MessageWindow<Message> | null;
  /**
   * Users who ever joined or posted (for participantCount); loaded on first need. A session with one participant
   * (most of them) holds the user id itself rather than a set of one.
   */
  participants: string | Set<string> | null;
  activityDirty: boolean;
  /** With an asynchronous store: a recovery read ahead of the join that uses it (see prepareHistory). */
  recovered?: { since: number; messages: Message[] };
}

/**
 * Thrown, with an asynchronous store only, by a step that needs storage read first and has changed nothing yet;
 * `SessionService.run` waits for the read and runs the step again (then from memory).
 */
export class NeedsLoad {
  constructor(readonly loaded: Promise<void>) {}
}

export type JoinTarget = { session: string; room?: undefined } | { room: string; session?: undefined };

export interface JoinOptions {
  /** Every message after this seq (a recovery) instead of the last `limit`. */
  since?: number;
  /** How many of the latest messages (default 100, at most the window). */
  limit?: number;
  /** The epoch `since` was counted in. */
  epoch?: string;
}

export interface JoinResult {
  session: SessionInfo;
  messages: Message[];
  truncated: boolean;
  /** Assistant replies in progress with their text so far, read in the same tick as `messages`. */
  streams: StreamSnapshot[];
  /** The session's last committed seq when the history was read (a subscriber has everything up to it). */
  lastSeq: number;
  /**
   * The `since` (and `epoch`) given do not describe this database's history (another epoch, or a seq above the
   * session's last): `messages` is the current history from the start instead of what follows `since`.
   */
  reset?: true;
}

export interface NewSession extends SettingsInput {
  id?: string;
  room?: string;
  mode?: SessionMode;
  config?: Record<string, unknown>;
  access?: SessionAccess;
  members?: string[];
  /** Erase the session this many days after it ends; null or absent: the server-wide RETENTION_DAYS applies. */
  retentionDays?: number | null;
}

export interface SessionChanges extends SettingsInput {
  config?: Record<string, unknown>;
  access?: SessionAccess;
  members?: string[];
  retentionDays?: number | null;
}

export interface NewMessage {
  content: string;
  kind?: MessageKind;
  role?: MessageRole;
  metadata?: Record<string, unknown>;
  clientMsgId?: string;
  /** Asks the built-in assistant for a reply to this message (only where it is enabled). */
  assistant?: AssistantRequest;
}

export interface SessionServiceDeps {
  /** SQLite's synchronous store (reads in place), or an asynchronous one (reads ahead; see `run`). */
  store: SessionStore | SessionStorage;
  events: SessionEvents;
  clock: Clock;
  limiter: MessageRateLimiter;
  rules: SessionRules;
  newSessionId?: () => string;
  /** Time-ordered unique ids for messages (the server passes UUIDv7). */
  newMessageId: () => string;
  /** Whether a session of this id was erased: it is never opened again under that id (join answers not_found). */
  wasErased?: (id: string) => boolean;
  /** Timers for endOnDisconnect grace periods. @default the global setTimeout */
  timers?: Timers;
  /**
   * Told of a failure that has no caller to reject: inside a timer (an endOnDisconnect end that threw), or of a
   * background write to an asynchronous store.
   */
  onTimerError?: (error: unknown, sessionId: string) => void;
  /**
   * Presence shared by the nodes (redis/presence.ts). Joins and leaves are then told once across the nodes, and
   * `presence.users` reads a mirror of who is present on any node. @default in-process presence
   */
  presence?: PresenceManager;
}

const NOT_FOUND = () => new SessiondError("not_found", "No such session.");
// A private session reveals only that the caller may not see it, and (for a room) which way in they lack.
const FORBIDDEN = (session: { room: string | null }) => new SessiondError("forbidden", forbiddenMessage(session));
const ENDED = () => new SessiondError("session_ended", "The session has ended; it is read-only.");
const MODERATOR_READ_ONLY = () =>
  new SessiondError("forbidden", "A moderator token may read sessions and handle alerts, but not post, open or change sessions.");

export class SessionService {
  /** Who is present: this node's connections, or with a shared manager the cluster's as last heard (see deps). */
  readonly presence: Presence | SharedPresence;
  private readonly shared: SharedPresence | null;
  private readonly cache: SessionCache<string, CachedSession>;
  private readonly store: SessionStorage;
  /** Whether the store answers at once (SQLite, memory): then every read is in place, as it always was. */
  private readonly sync: boolean;
  /** Asynchronous store only: ended sessions read lately, reads in flight, and answers kept for the retry. */
  private readonly ended: SessionCache<string, CachedSession>;
  private readonly loads = new Map<string, Promise<void>>();
  private readonly roomsRead = new Map<string, string | null>();
  private readonly absent = new Set<string>();
  private readonly onBackgroundError: (error: unknown, sessionId: string) => void;
  /** Replies streaming on other nodes (joins here show them as the streaming node does). */
  private readonly remoteStreams = new RemoteStreams(REMOTE_STREAM_QUIET_MS);
  private readonly events: SessionEvents;
  private readonly clock: Clock;
  private readonly limiter: MessageRateLimiter;
  private readonly rules: SessionRules;
  private readonly newSessionId: () => string;
  private readonly newMessageId: () => string;
  private readonly wasErased: (id: string) => boolean;
  private assistant: AssistantPort | null = null;
  private readonly grace: DisconnectGrace;
  /**
   * Sessions whose queued insert has not committed yet, with who waits for it (joins answer once it has, so a
   * `joined` reply means its session is stored).
   */
  private readonly creating = new Map<string, Array<(error: SessiondError | null) => void>>();
  /**
   * Appends waiting for a limiter that answers later, by session: the tail of each session's line. An append runs
   * once the one before it in its session was queued or refused, so appends commit in the order they were made.
   */
  private readonly lines = new Map<string, Promise<void>>();
  /** Asynchronous store: sessions another node changed while their row was being read here (read again). */
  private readonly stale = new Set<string>();

  constructor(deps: SessionServiceDeps) {
    this.store = deps.store;
    this.sync = (deps.store as Partial<SessionStore>).synchronous === true;
    this.ended = new SessionCache(ENDED_CACHE_SIZE);
    this.onBackgroundError = deps.onTimerError ?? (() => {});
    this.events = deps.events;
    this.clock = deps.clock;
    this.limiter = deps.limiter;
    this.rules = deps.rules;
    // Shared by every session opened without its own setting (see create): never changed in place.
    for (const setting of Object.values(deps.rules.defaults)) Object.freeze(setting);
    this.newSessionId = deps.newSessionId ?? randomSessionId;
    this.newMessageId = deps.newMessageId;
    this.wasErased = deps.wasErased ?? (() => false);
    this.grace = new DisconnectGrace(deps.timers ?? systemTimers, (id) => this.endIfLeft(id), deps.onTimerError);
    this.shared = deps.presence
      ? new SharedPresence(deps.presence, {
          joined: (sessionId, userId) => this.events.emit("presence.changed", { sessionId, userId, event: "join" }),
          left: (sessionId, userId, detached) => {
            if (detached) this.left(sessionId, userId);
            else this.events.emit("presence.changed", { sessionId, userId, event: "leave" });
          },
          error: (e) => this.onBackgroundError(e, ""),
        })
      : null;
    this.presence = this.shared ?? new Presence();
    // Evicting loses nothing (every message is in SQLite); only a pending activity time must be written first.
    this.cache = new SessionCache(deps.rules.cacheMaxSessions, (_, entry) => {
      if (entry.activityDirty) this.background(entry.record.id, this.store.saveActivity([{ id: entry.record.id, lastActivityAt: entry.record.lastActivityAt }]));
    });
  }

  get cacheStats(): { size: number; hits: number; misses: number; evictions: number; windowMessages: number } {
    let windowMessages = 0;
    for (const e of this.cache.values()) windowMessages += e.window?.size ?? 0;
    return { size: this.cache.size, hits: this.cache.hits, misses: this.cache.misses, evictions: this.cache.evictions, windowMessages };
  }

  /** Connects the built-in assistant (once, at start-up, when a model server is configured). */
  attachAssistant(port: AssistantPort): void {
    this.assistant = port;
  }

  /** Whether the session is currently held in memory. */
  isCached(id: string): boolean {
    return this.cache.peek(id) !== undefined;
  }

  /**
   * Runs a step of the service that may need storage read first: with the synchronous store it simply runs; with
   * an asynchronous one a step that throws NeedsLoad (before changing anything) runs again once the read arrived.
   * Transports call the service through this.
   */
  run<T>(step: () => T, round = 0): T | Promise<T> {
    try {
      return step();
    } catch (e) {
      if (!(e instanceof NeedsLoad)) throw e;
      if (round >= MAX_LOAD_ROUNDS) throw new SessiondError("unavailable", "The server is too busy to read this session now; try again in a moment.");
      return e.loaded.then(() => this.run(step, round + 1));
    }
  }

  /** One read in flight per key; the step that needed it runs again after it (see run). */
  private need(key: string, read: () => Awaitable<void>): NeedsLoad {
    let loading = this.loads.get(key);
    if (!loading) {
      loading = Promise.resolve(read()).finally(() => this.loads.delete(key));
      this.loads.set(key, loading);
    }
    return new NeedsLoad(loading);
  }

  /** A write nobody waits for (activity times, assistant counters): a failure is reported, never unhandled. */
  private background(sessionId: string, write: Awaitable<void>): void {
    if (isPending(write)) write.then(undefined, (e: unknown) => this.onBackgroundError(e, sessionId));
  }

  /**
   * Creates a session, or returns the room's active one (`created: false`) if the caller may see it. Giving
   * members, access or config that differ from that active session's is a `conflict` naming it (never dropped).
   * The new session is usable at once (joins, appends queue behind its insert); `stored` settles once its row has
   * committed (or rejects with the storage error: nothing was stored), for callers that answer only after that.
   */
  open(who: Principal, input: NewSession): { session: SessionInfo; created: boolean; stored: Promise<void> } {
    // A queued insert would hide a stored session of that id until its commit failed (joins look the id up first).
    if (input.id !== undefined && this.entry(input.id)) throw new SessiondError("conflict", "A session with that id already exists; join it, or choose another id.");
    const opened = this.create(who, input);
    let settle!: (error: SessiondError | null) => void;
    const stored = new Promise<void>((resolve, reject) => (settle = (e) => (e ? reject(e) : resolve())));
    // Settled whether or not the caller waits for it: a failure nobody awaited is not an unhandled rejection.
    stored.catch(() => {});
    const waiters = this.creating.get(opened.session.id);
    if (waiters) waiters.push(settle);
    else settle(null);
    return { ...opened, stored };
  }

  private create(who: Principal, input: NewSession): { session: SessionInfo; created: boolean } {
    if (input.room !== undefined) {
      const existingId = this.activeIdInRoom(input.room);
      const existing = existingId === null ? null : this.entry(existingId);
      if (existing) {
        const entry = existing;
        if (!canAccess(who, entry.record)) throw FORBIDDEN(entry.record);
        const differ = conflictingFields(entry.record, input);
        if (differ.length > 0) {
          throw new SessiondError(
            "conflict",
            `Room "${input.room}" already has an active session, "${entry.record.id}", with different ${differ.join(", ")}; ` +
              `change that session (PATCH /api/sessions/${entry.record.id}), end it first, or leave ${differ.length > 1 ? "these fields" : "the field"} out to join it as it is.`,
          );
        }
        return { session: this.infoFor(who, entry.record), created: false };
      }
    }
    if (who.role === "moderator") throw MODERATOR_READ_ONLY();
    if (input.id !== undefined && this.wasErased(input.id)) {
      throw new SessiondError("conflict", "A session with that id was erased; its id is not used again. Choose another id.");
    }
    const d = this.rules.defaults;
    // A setting not given is the default object itself (frozen, shared): a session costs memory only for its own.
    const analysis = input.analysis ? { ...d.analysis, ...input.analysis } : d.analysis;
    const assistant = this.checkAssistant(input.assistant ? { ...d.assistant, ...input.assistant } : d.assistant);
    const endOnDisconnect = input.endOnDisconnect ? { ...d.endOnDisconnect, ...input.endOnDisconnect } : d.endOnDisconnect;
    const now = this.clock.now();
    const record = newSessionRecord({
      id: input.id ?? this.newSessionId(),
      ownerId: who.userId,
      at: now,
      room: input.room ?? null,
      mode: input.mode ?? "chat",
      access: input.access ?? "private",
      members: input.members ?? NO_MEMBERS,
      config: input.config ?? NO_CONFIG,
      analysis,
      assistant,
      endOnDisconnect,
      retentionDays: input.retentionDays ?? null,
    });
    // Throws at once for a conflict with a queued session, or `unavailable` while a storage fault lasts.
    this.store.queueSession(record, (error) => this.inserted(record, error));
    this.creating.set(record.id, []);
    this.absent.delete(record.id);
    if (record.room !== null) this.roomsRead.delete(record.room);
    this.cache.set(record.id, { record, window: EMPTY_WINDOW, participants: null, activityDirty: false });
    return { session: this.info(record), created: true };
  }

  /** A queued session insert committed (then it has started) or failed (then it never existed). */
  private inserted(record: SessionRecord, error: SessiondError | null): void {
    const waiters = this.creating.get(record.id) ?? [];
    this.creating.delete(record.id);
    if (error === null) this.events.emit("session.started", { session: this.info(record) });
    else if (this.cache.peek(record.id)?.record === record) this.cache.delete(record.id);
    for (const w of waiters) w(error);
  }

  /**
   * Resolves the target (opening it when allowed), checks access, counts activity and returns history:
   * the last `limit` messages, or with `since` every message after it (from the window when it holds them,
   * from SQLite otherwise) up to maxRecoveryMessages. Synchronous, so a caller that subscribes right after
   * misses nothing and sees nothing twice.
   */
  join(who: Principal, target: JoinTarget, options: JoinOptions = {}): JoinResult {
    const entry = this.admit(who, target, options);
    if (entry.record.status === "active" && who.role !== "moderator") this.addParticipant(entry, who.userId);
    return this.joined(who, entry, options);
  }

  /**
   * `join`, answered once what it writes has committed: the session it opens (or that another join opened and
   * has not committed yet) and the caller's participant row. `done` then gets the result, read in that same
   * synchronous step (a subscription made in `done` misses nothing and sees nothing twice), or the storage error
   * (nothing was stored). With nothing to write, `done` runs before this returns. Refusals (not_found, forbidden,
   * `unavailable` while a storage fault lasts) throw instead.
   */
  joinStored(who: Principal, target: JoinTarget, options: JoinOptions, done: (error: SessiondError | null, result: JoinResult | null) => void, again = false): void {
    if (!this.sync && !again) {
      const answer = done;
      // Another node opened the same session at the same moment (its insert won): join the one it opened.
      done = (error, result) => (error?.code === "conflict" ? this.joinStored(who, target, options, answer, true) : answer(error, result));
    }
    let entry: CachedSession;
    try {
      entry = this.admit(who, target, options);
    } catch (e) {
      if (!(e instanceof NeedsLoad)) throw e;
      // Read first (asynchronous store), then join from memory; a refusal then goes to `done`.
      return void Promise.resolve(this.run(() => this.admit(who, target, options, true))).then(
        () => this.settleJoin(who, target, options, done),
        (error: unknown) => done(asSessiondError(error, "The join could not be completed."), null),
      );
    }
    this.joinAdmitted(who, entry, options, done);
  }

  /** joinStored after a read: admitted again from memory (nothing noted twice), refusals told to `done`. */
  private settleJoin(who: Principal, target: JoinTarget, options: JoinOptions, done: (error: SessiondError | null, result: JoinResult | null) => void): void {
    let entry: CachedSession;
    try {
      entry = this.admit(who, target, options);
    } catch (e) {
      if (e instanceof NeedsLoad) return void e.loaded.then(() => this.settleJoin(who, target, options, done), (error: unknown) => done(asSessiondError(error, "The join could not be completed."), null));
      return done(asSessiondError(e, "The join could not be completed."), null);
    }
    try {
      this.joinAdmitted(who, entry, options, done);
    } catch (e) {
      done(asSessiondError(e, "The join could not be completed."), null);
    }
  }

  private joinAdmitted(who: Principal, entry: CachedSession, options: JoinOptions, done: (error: SessiondError | null, result: JoinResult | null) => void): void {
    let waiting = 1;
    let failure: SessiondError | null = null;
    const settle = (error: SessiondError | null) => {
      failure ??= error;
      if (--waiting > 0) return;
      if (failure) return done(failure, null);
      let result: JoinResult;
      try {
        result = this.joined(who, entry, options);
      } catch (e) {
        // Its history was dropped while the writes committed (asynchronous store): read again, then answer.
        if (e instanceof NeedsLoad) return void e.loaded.then(() => settle(null), (error: unknown) => done(asSessiondError(error, "The join could not be completed."), null));
        return done(asSessiondError(e, "The join could not be completed."), null);
      }
      done(null, result);
    };
    // First, as it may refuse at once: nothing waits on anything yet.
    const wrote = entry.record.status === "active" && who.role !== "moderator" && this.addParticipant(entry, who.userId, settle);
    if (wrote) waiting++;
    const insert = this.creating.get(entry.record.id);
    if (insert) {
      // Another join's insert (or this one's): its outcome decides; and when this join wrote nothing itself, a fence
      // keeps its answer behind the other join's participant too.
      waiting++;
      insert.push(settle);
      if (!wrote) {
        waiting++;
        this.store.afterQueued(settle);
      }
    }
    settle(null);
  }

  /**
   * What every join does first: resolve (opening when allowed), check access, read ahead what the join needs (an
   * asynchronous store), note an outside read, count activity. `probe`: only resolve and read ahead.
   */
  private admit(who: Principal, target: JoinTarget, options: JoinOptions, probe = false): CachedSession {
    const entry = this.resolve(who, target);
    if (!canAccess(who, entry.record)) throw FORBIDDEN(entry.record);
    if (!this.sync) {
      if (entry.record.status === "active" && who.role !== "moderator") this.knownParticipants(entry);
      this.prepareHistory(entry, options);
    }
    // Shared presence: who is present on the other nodes is read before the first join here, for its reply (not
    // for a session this join opens: nobody can be in it yet).
    const shared = this.shared;
    if (shared && entry.record.status === "active" && !shared.known(entry.record.id) && !this.creating.has(entry.record.id)) {
      const id = entry.record.id;
      throw this.need(`pr:${id}`, () => shared.follow(id));
    }
    if (probe) return entry;
    this.noteRead(who, entry.record, "join");
    if (entry.record.status === "active") this.markActive(entry);
    return entry;
  }

  /** The history part of a join: the last `limit` messages, or everything after `since` (see recover). */
  private joined(who: Principal, entry: CachedSession, { since, limit, epoch }: JoinOptions): JoinResult {
    let messages: Message[];
    let truncated = false;
    // A position from another history (a restored database, or a seq this session never reached) is not
    // resumable: the caller gets the current history from the start and is told so, instead of silently nothing.
    const reset = since !== undefined && ((epoch !== undefined && epoch !== this.rules.epoch) || since > entry.record.lastSeq);
    if (since !== undefined) {
      ({ messages, truncated } = this.recover(who, entry, reset ? 0 : since));
    } else {
      const n = Math.min(limit ?? DEFAULT_HISTORY_LIMIT, this.rules.windowSize);
      messages = newestWithin(this.readable(who, entry.record, this.window(entry).last(n)), this.rules.maxRecoveryBytes ?? DEFAULT_MAX_RECOVERY_BYTES);
    }
    const streams = this.streamsOf(entry.record);
    return { session: this.infoFor(who, entry.record), messages, truncated, streams, lastSeq: entry.record.lastSeq, ...(reset && { reset: true as const }) };
  }

  /** Counts one more connection of the user as present; emits `presence.changed` when the user arrives. */
  attach(sessionId: string, userId: string): void {
    // Someone is back within the grace period (the SDK's resume re-joins here): the session carries on.
    this.grace.cancel(sessionId);
    if (this.presence.attach(sessionId, userId)) this.events.emit("presence.changed", { sessionId, userId, event: "join" });
  }

  /**
   * Counts one connection fewer; emits `presence.changed` when the user's last connection left. When it was the
   * session's last connection and endOnDisconnect is on, the grace period starts.
   */
  detach(sessionId: string, userId: string): void {
    if (this.presence.detach(sessionId, userId)) this.left(sessionId, userId);
  }

  /** The user's last connection left (with shared presence: their last on any node, told to this node). */
  private left(sessionId: string, userId: string): void {
    this.events.emit("presence.changed", { sessionId, userId, event: "leave" });
    if (this.presence.users(sessionId).length > 0) return;
    // An asynchronous store: a session someone was present in is in memory.
    const entry = this.cache.peek(sessionId) ?? (this.sync ? this.entry(sessionId) : null);
    if (!entry || entry.record.status !== "active") return;
    const { endOnDisconnect } = this.settings(entry.record);
    if (endOnDisconnect.enabled) this.grace.arm(sessionId, endOnDisconnect.graceSeconds * 1000);
  }

  /**
   * For shutdown, before connections are closed: no session ends because the shutdown disconnected its people,
   * and grace periods already running are dropped (after the restart only a new departure starts one).
   */
  suspendEndOnDisconnect(): void {
    this.grace.suspend();
  }

  /** Whether the session's endOnDisconnect grace period is running. */
  isEndingOnDisconnect(sessionId: string): boolean {
    return this.grace.isArmed(sessionId);
  }

  /** Activity without a message (a ping from a present client): keeps an active session from expiring. */
  touch(sessionId: string): void {
    const entry = this.sync ? this.entry(sessionId) : this.cache.peek(sessionId);
    if (entry && entry.record.status === "active") this.markActive(entry);
  }

  /** The room's active session if it has one the caller may see; opens nothing. */
  activeInRoom(who: Principal, room: string): SessionInfo | null {
    const activeId = this.activeIdInRoom(room);
    const entry = activeId === null ? null : this.entry(activeId);
    return entry && canAccess(who, entry.record) ? this.infoFor(who, entry.record) : null;
  }

  get(who: Principal, id: string): SessionInfo {
    const record = this.accessible(who, id).record;
    this.noteRead(who, record, "get");
    return this.infoFor(who, record);
  }

  /**
   * Validates, authorizes and rate-limits a message, then hands it to group commit. Resolves after the commit
   * with the stored message (`duplicate` when the clientMsgId was already used by this user in this session:
   * the original is returned and nothing is written or broadcast again).
   */
  appendMessage(who: Principal, sessionId: string, input: NewMessage): Promise<AppendResult> {
    let settle!: (error: SessiondError | null, result: AppendResult | null) => void;
    const committed = new Promise<AppendResult>((resolve, reject) => (settle = (e, r) => (e ? reject(e) : resolve(r!))));
    this.append(who, sessionId, input, settle);
    return committed;
  }

  /**
   * appendMessage with a callback instead of a promise (the WebSocket path: no promise per message). Throws for a
   * message refused before it was queued; otherwise `done` runs once, synchronously after the commit (in commit
   * order), with the result or the error.
   */
  append(who: Principal, sessionId: string, input: NewMessage, done: (error: SessiondError | null, result: AppendResult | null) => void): void {
    try {
      this.appendNow(who, sessionId, input, done);
    } catch (e) {
      if (!(e instanceof NeedsLoad)) throw e;
      // Asynchronous store: read first; appends to the session behind this one wait for the same read, in order.
      const again = () => {
        try {
          this.appendNow(who, sessionId, input, done);
        } catch (error) {
          if (error instanceof NeedsLoad) return void error.loaded.then(again, (err: unknown) => done(asSessiondError(err, "The message was not stored."), null));
          done(asSessiondError(error, "The message was not stored."), null);
        }
      };
      e.loaded.then(again, (err: unknown) => done(asSessiondError(err, "The message was not stored."), null));
    }
  }

  /**
   * One try at an append. `taken`: the limiter already answered (the append waited in its session's line), so the
   * token is not taken again, and a refusal from here on is the line's to give back (see appendInLine).
   */
  private appendNow(
    who: Principal,
    sessionId: string,
    input: NewMessage,
    done: (error: SessiondError | null, result: AppendResult | null) => void,
    taken?: { retryAfterMs: number; received: number },
  ): void {
    const received = taken ? taken.received : this.clock.now();
    if (utf8Bytes(input.content) > this.rules.maxMessageBytes) {
      throw new SessiondError("payload_too_large", `Message content is over the limit of ${this.rules.maxMessageBytes} bytes.`);
    }
    if (input.metadata !== undefined && utf8Bytes(JSON.stringify(input.metadata)) > MAX_METADATA_BYTES) {
      throw new SessiondError("payload_too_large", `Message metadata is over the limit of ${MAX_METADATA_BYTES} bytes of JSON.`);
    }
    const role = input.role ?? "user";
    if (who.role === "moderator") throw MODERATOR_READ_ONLY();
    if (role !== "user" && !who.admin) throw new SessiondError("forbidden", `Only an admin (an app backend) may post as "${role}".`);
    const entry = this.accessible(who, sessionId);
    if (entry.record.status !== "active") throw ENDED();
    if (!this.sync) this.knownParticipants(entry);
    // Read directly, not through settings(): that builds an object per message.
    const assistant = entry.record.assistant ?? this.rules.defaults.assistant;
    if (input.assistant !== undefined) {
      if (!assistant.enabled || !this.assistant) {
        throw new SessiondError("bad_request", "The assistant is not enabled in this session: turn it on first (configure with assistant.enabled: true).");
      }
      if (role !== "user") throw new SessiondError("bad_request", `Only user messages can ask the assistant for a reply, not "${role}" ones.`);
    }
    let retryAfterMs: number;
    if (taken) retryAfterMs = taken.retryAfterMs;
    else {
      const wait = this.limiter.take(who.userId, received);
      // A shared limiter answers later; and appends of this session already waiting for theirs go first.
      if (typeof wait !== "number" || (this.lines.size > 0 && this.lines.has(sessionId))) return this.inLine(who, sessionId, input, done, wait, received);
      retryAfterMs = wait;
    }
    if (retryAfterMs > 0) {
      throw new SessiondError("rate_limited", `Too many messages; try again in ${Math.ceil(retryAfterMs / 1000)} s.`, retryAfterMs);
    }
    // Decided before the commit, so a sender whose message would overflow the assistant's line is refused now.
    let reply: AssistantRequest | null = null;
    try {
      reply = this.assistant?.admit({ id: sessionId, assistant }, { role, userId: who.userId, content: input.content }, input.assistant) ?? null;
    } catch (e) {
      if (!taken) this.refund(who.userId, sessionId);
      throw e;
    }
    this.markActive(entry);
    try {
      this.addParticipant(entry, who.userId);
    } catch (e) {
      // Refused before it was queued (the database is busy or full): nothing was written, the budget is given back.
      if (!taken) this.refund(who.userId, sessionId);
      if (reply) this.assistant?.release(sessionId);
      throw e;
    }
    this.store.append(
      {
        id: this.newMessageId(),
        sessionId,
        userId: who.userId,
        role,
        kind: input.kind ?? "text",
        content: input.content,
        metadata: input.metadata,
        clientMsgId: input.clientMsgId,
        createdAt: received,
      },
      (error, result) => {
        if (error || !result) {
          this.refund(who.userId, sessionId);
          if (reply) this.assistant?.release(sessionId);
          done(error ?? new SessiondError("internal", "The message was not stored."), null);
          return;
        }
        if (result.duplicate) {
          this.refund(who.userId, sessionId);
          if (reply) this.assistant?.release(sessionId);
        } else this.committed(result.message, this.clock.now() - received, reply ?? undefined);
        done(null, result);
      },
    );
  }

  /**
   * An append whose token comes later, or that follows one still waiting in its session: it waits for its answer
   * and for the appends before it, then runs again from the checks (the session may have changed meanwhile) with
   * the answer in hand. Refusals go to `done`.
   */
  private inLine(
    who: Principal,
    sessionId: string,
    input: NewMessage,
    done: (error: SessiondError | null, result: AppendResult | null) => void,
    wait: Awaitable<number>,
    received: number,
  ): void {
    const before = this.lines.get(sessionId);
    const answer = before ? before.then(() => wait) : Promise.resolve(wait);
    const turn: Promise<void> = answer.then(
      (retryAfterMs) => this.appendInLine(who, sessionId, input, done, { retryAfterMs, received }),
      (error: unknown) => done(asSessiondError(error, "The message was not stored."), null),
    );
    this.lines.set(sessionId, turn);
    void turn.then(() => {
      if (this.lines.get(sessionId) === turn) this.lines.delete(sessionId);
    });
  }

  /** The append's turn: settled once it was queued or refused (after any reads it needed), never rejected. */
  private appendInLine(
    who: Principal,
    sessionId: string,
    input: NewMessage,
    done: (error: SessiondError | null, result: AppendResult | null) => void,
    taken: { retryAfterMs: number; received: number },
  ): Promise<void> | void {
    const refused = (error: unknown) => {
      // The token taken for it counts only for a message that was queued.
      if (taken.retryAfterMs === 0) this.refund(who.userId, sessionId);
      done(asSessiondError(error, "The message was not stored."), null);
    };
    try {
      this.appendNow(who, sessionId, input, done, taken);
    } catch (e) {
      if (e instanceof NeedsLoad) return e.loaded.then(() => this.appendInLine(who, sessionId, input, done, taken), refused);
      refused(e);
    }
  }

  /** Gives a token back; a shared limiter's answer is not waited for (and a failure of it is only reported). */
  private refund(userId: string, sessionId: string): void {
    const given = this.limiter.refund(userId);
    if (isPending(given)) given.then(undefined, (e: unknown) => this.onBackgroundError(e, sessionId));
  }

  /**
   * Replaces config, access or members, and merges the given setting fields into the current settings (owner or
   * admin); subscribers are told through `session.updated`.
   */
  configure(who: Principal, id: string, patch: SessionChanges): Awaitable<SessionInfo> {
    const entry = this.accessible(who, id);
    if (!canManage(who, entry.record)) throw new SessiondError("forbidden", "Only the session's owner or an admin may change it.");
    if (entry.record.status !== "active") throw ENDED();
    const changes: SessionPatch = {};
    if (patch.config !== undefined) changes.config = patch.config;
    if (patch.access !== undefined) changes.access = patch.access;
    if (patch.members !== undefined) changes.members = [...new Set(patch.members)];
    const current = this.settings(entry.record);
    if (patch.analysis !== undefined) changes.analysis = { ...current.analysis, ...patch.analysis };
    if (patch.assistant !== undefined) changes.assistant = this.checkAssistant({ ...current.assistant, ...patch.assistant });
    if (patch.endOnDisconnect !== undefined) changes.endOnDisconnect = { ...current.endOnDisconnect, ...patch.endOnDisconnect };
    if (patch.retentionDays !== undefined) changes.retentionDays = patch.retentionDays;
    return then(this.store.updateSession(id, changes), () => this.configured(who, entry, changes));
  }

  private configured(who: Principal, entry: CachedSession, changes: SessionPatch): SessionInfo {
    const id = entry.record.id;
    Object.assign(entry.record, changes);
    if (changes.endOnDisconnect) this.followGrace(id, changes.endOnDisconnect);
    this.markActive(entry);
    const session = this.info(entry.record);
    this.events.emit("session.updated", { session });
    return sessionView(who, session);
  }

  /** A grace period already running follows a new setting: stopped when turned off, restarted with a new length. */
  private followGrace(id: string, setting: EndOnDisconnectSetting): void {
    if (!this.grace.isArmed(id)) return;
    if (setting.enabled) this.grace.arm(id, setting.graceSeconds * 1000);
    else this.grace.cancel(id);
  }

  /** Ends a session by request (owner or admin). */
  end(who: Principal, id: string, status: "completed" | "cancelled" = "completed"): Awaitable<SessionInfo> {
    const entry = this.accessible(who, id);
    if (!canManage(who, entry.record)) throw new SessiondError("forbidden", "Only the session's owner or an admin may end it.");
    if (entry.record.status !== "active") throw ENDED();
    return then(this.archive(id, status), (session) => {
      // Ended meanwhile by another node or the expiry sweep.
      if (!session) throw ENDED();
      return sessionView(who, session);
    });
  }

  /** Every message after `after`, ascending, at most `limit`, for HTTP paging; complete across the window edge. */
  history(who: Principal, id: string, after: number, limit: number): Awaitable<{ messages: Message[]; nextAfter: number | null }> {
    const entry = this.accessible(who, id);
    this.noteRead(who, entry.record, "history");
    const fromWindow = entry.window?.after(after, limit + 1);
    return then(fromWindow ?? this.store.messagesAfter(id, after, limit + 1), (page) => {
      const more = page.length > limit;
      const messages = more ? page.slice(0, limit) : page;
      return { messages: this.readable(who, entry.record, messages), nextAfter: more ? messages[messages.length - 1]!.seq : null };
    });
  }

  /** Sessions the caller may see (staff: all, as canAccess lets them read every session), newest first. */
  list(who: Principal, query: Omit<SessionListQuery, "visibleTo">): Awaitable<SessionInfo[]> {
    const visibleTo = who.staff ? null : { userId: who.userId, sessionIds: [...who.grantedSessions], rooms: [...who.grantedRooms] };
    return then(this.store.listSessions({ ...query, visibleTo }), (rows) => rows.map((r) => this.infoFor(who, this.cache.peek(r.id)?.record ?? r)));
  }

  /** Every message of a session for export, in pages straight from SQLite. */
  transcript(who: Principal, id: string): Awaitable<{ session: SessionInfo; pages: Iterable<Message[]> | AsyncIterable<Message[]> }> {
    const record = this.accessible(who, id).record;
    return then(this.store.flush(), () => {
      this.noteRead(who, record, "export");
      const pages = this.store.iterateMessages(id);
      const view = (page: Message[]) => this.readable(who, record, page);
      return { session: this.infoFor(who, record), pages: Symbol.asyncIterator in pages ? readablePagesLater(pages, view) : readablePages(pages as Generator<Message[]>, view) };
    });
  }

  /** Assistant replies in progress in the session (none once it has ended). */
  streams(who: Principal, id: string): StreamSnapshot[] {
    return this.streamsOf(this.accessible(who, id).record);
  }

  /** This node's replies in progress and those heard from other nodes (none once the session has ended). */
  private streamsOf(record: SessionRecord): StreamSnapshot[] {
    if (record.status !== "active") return [];
    const local = this.assistant?.snapshots(record.id) ?? [];
    const remote = this.remoteStreams.snapshots(record.id, this.clock.now());
    return remote.length === 0 ? local : [...local, ...remote];
  }

  /** Stops a reply in progress: allowed for the author of the message it answers, the session's owner and staff. */
  cancelStream(who: Principal, id: string, streamId: string): void {
    const entry = this.accessible(who, id);
    const active = entry.record.status === "active";
    const local = active ? (this.assistant?.streamAuthor(id, streamId) ?? null) : null;
    // A reply streaming on another node: that node stops it when it hears the request (its stream.end follows).
    const remote = active && local === null ? this.remoteStreams.authorOf(id, streamId) : undefined;
    if (local === null && remote === undefined) throw new SessiondError("not_found", "No such reply in progress in this session.");
    const author = local ?? remote;
    if (who.userId !== author && who.userId !== entry.record.ownerId && !who.staff) {
      throw new SessiondError("forbidden", "Only the author of the message being answered, the session's owner or staff may stop this reply.");
    }
    if (local !== null) this.assistant!.cancel(id, streamId);
    else this.events.emit("stream.cancel_requested", { sessionId: id, streamId });
  }

  /** The session's description without an access check, for the server's own work; null when it does not exist. */
  peek(id: string): SessionInfo | null {
    // An asynchronous store: only what is in memory (the server's own work is about sessions it holds).
    const entry = this.sync ? this.entry(id) : (this.cache.peek(id) ?? this.ended.peek(id) ?? null);
    return entry ? this.info(entry.record) : null;
  }

  /**
   * Forgets an erased session: its cached row, window and participants, its presence and any grace period.
   * Appends still queued for it fail with not_found inside their transaction (the row is gone).
   */
  evict(id: string): void {
    this.grace.cancel(id);
    this.cache.delete(id);
    this.ended.delete(id);
    this.presence.clear(id);
  }

  /**
   * After an erased user's traces were removed from `sessionIds` in storage: cached copies take the stored
   * counts, members and aggregates, windows reload (with the tombstones), and the user is no longer present
   * anywhere (`presence.changed` "leave" for each session they were in).
   */
  forgetUser(userId: string, sessionIds: readonly string[]): Awaitable<void> {
    const reads = this.dropCachedUser(userId, sessionIds);
    for (const sessionId of this.presence.sessionsOf(userId)) {
      if (this.presence.remove(sessionId, userId)) this.events.emit("presence.changed", { sessionId, userId, event: "leave" });
    }
    if (reads.length > 0) return Promise.all(reads).then(() => {});
  }

  /** The cache part of forgetUser: windows reload from storage (tombstones), rows take the stored counts. */
  private dropCachedUser(userId: string, sessionIds: readonly string[], onError?: (error: unknown, sessionId: string) => void): PromiseLike<void>[] {
    const reads: PromiseLike<void>[] = [];
    for (const id of sessionIds) {
      this.ended.delete(id);
      const entry = this.cache.peek(id);
      if (!entry) continue;
      entry.window = null;
      if (entry.participants === userId) entry.participants = null;
      else if (typeof entry.participants === "object") entry.participants?.delete(userId);
      const refreshed = then(this.store.getSession(id), (stored) => {
        if (!stored) return;
        const { members, participantCount, analyzedCount, sentimentSum, riskLevel } = stored;
        Object.assign(entry.record, { members, participantCount, analyzedCount, sentimentSum, riskLevel });
      });
      if (!isPending(refreshed)) continue;
      if (onError) refreshed.then(undefined, (e: unknown) => onError(e, id));
      else reads.push(refreshed);
    }
    return reads;
  }

  /**
   * What another node published (Fanout.deliver hands over every event whose origin is not this node): the copy of
   * the session held here follows it, so joins, reads and refusals here answer as on that node. Emits nothing (the
   * other node did). A session not held here needs nothing: it is read from storage when it is needed.
   */
  applyRemote(event: BrokerEvent): void {
    switch (event.type) {
      case "message":
        return this.heardMessage(event.message);
      case "session":
        if (event.change === "updated") return this.heardUpdate(event.session);
        if (event.change === "ended") return this.heardEnd(event.session, event.status);
        return this.heardErasure(event.sessionId);
      case "frame": {
        const { frame, sessionId } = event;
        if (frame.type === "presence") return this.heardPresence(sessionId, frame.userId as string, frame.event as "join" | "leave");
        if (frame.type === "analysis") return this.heardAnalysis(sessionId, frame.seq as number, frame.analysis as Analysis);
        return this.heardStream(sessionId, frame);
      }
      case "alert":
        return;
      case "stream":
        // Stopped here if it streams here; every other node has nothing to do.
        if (this.assistant?.streamAuthor(event.sessionId, event.streamId) != null) this.assistant.cancel(event.sessionId, event.streamId);
        return;
      case "user":
        // Another node erased the user: no copy of their messages is served from here. Their presence here ends
        // as their connections here are closed (Fanout); the erasing node told everyone about the rest.
        this.dropCachedUser(event.userId, event.sessions, this.onBackgroundError);
        return;
    }
  }

  /** RedisPresence's onLeft: a user left with their node (it stopped heartbeating); told from here to every node. */
  presenceLeft(sessionId: string, userId: string): void {
    this.shared?.leftWithNode(sessionId, userId);
  }

  /** RedisPresence's onRejoined: this node put its users back after the manager had lost them. */
  presenceRejoined(sessionId: string, userId: string): void {
    this.shared?.rejoined(sessionId, userId);
  }

  /**
   * The cached copy of a session another node changed (its settings or status); null when none, and then a read of
   * its row in flight (which may predate the change) is read again. Messages need no such care: a row read before
   * one is brought up to date by the next one heard or by its window's read.
   */
  private heldForRemote(id: string): CachedSession | null {
    const entry = this.cache.peek(id);
    if (entry) return entry;
    if (!this.sync && this.loads.has(`s:${id}`)) this.stale.add(id);
    return null;
  }

  private heardStream(sessionId: string, frame: Record<string, unknown>): void {
    const now = this.clock.now();
    if (frame.type === "stream.start") {
      const info = frame.stream as StreamInfo;
      const entry = this.cache.peek(sessionId);
      const answered = entry?.window && entry.window !== EMPTY_WINDOW ? entry.window.last(this.rules.windowSize).find((m) => m.seq === info.replyTo) : undefined;
      this.remoteStreams.started(sessionId, info, answered?.userId ?? null, now);
      // Not held here: read from storage, so the author may stop the reply from this node too.
      if (!answered) {
        const read = then(this.store.messagesAfter(sessionId, info.replyTo - 1, 1), (page) => {
          if (page[0]?.seq === info.replyTo) this.remoteStreams.learnedAuthor(sessionId, info.id, page[0].userId);
        });
        if (isPending(read)) read.then(undefined, (e: unknown) => this.onBackgroundError(e, sessionId));
      }
    }
    else if (frame.type === "stream.delta") {
      const part = frame.part === "reasoning" ? "reasoning" : "text";
      this.remoteStreams.delta(sessionId, frame.stream as string, frame.offset as number, frame.text as string, part, now);
    } else if (frame.type === "stream.end") this.remoteStreams.ended(sessionId, frame.stream as string);
  }

  private heardMessage(message: Message): void {
    // A reply committed by its node (also one a node that took over an orphan committed, with no stream.end).
    const stream = message.metadata?.stream;
    if (typeof stream === "string") this.remoteStreams.ended(message.session, stream);
    const entry = this.cache.peek(message.session);
    // Heard twice, or counted already (a row read after it, or a later seq heard first).
    if (!entry || message.seq <= entry.record.lastSeq) return;
    const r = entry.record;
    // One message per seq: past a gap (a third node's messages still on their way) those are counted too.
    r.messageCount += message.seq - r.lastSeq;
    r.lastSeq = message.seq;
    const at = Date.parse(message.createdAt);
    if (at > r.lastActivityAt) r.lastActivityAt = at;
    let window = entry.window;
    if (window === EMPTY_WINDOW) window = entry.window = new MessageWindow(this.rules.windowSize);
    if (window) {
      // Contiguous or not at all: past a gap the window is read again on its next use.
      if (window.lastSeq === null ? message.seq === 1 : window.lastSeq === message.seq - 1) window.push(message);
      else entry.window = null;
    }
    // A user's message made its sender a participant there; the server's own (an assistant's reply) did not.
    if (message.role === "user") this.heardParticipant(entry, message.userId);
  }

  private heardParticipant(entry: CachedSession, userId: string): void {
    const known = entry.participants;
    // Not read yet here: the read has them, and the count with them (see knownParticipants).
    if (known === null || known === userId || (typeof known === "object" && known.has(userId))) return;
    if (typeof known === "string") entry.participants = new Set([known, userId]);
    else known.add(userId);
    entry.record.participantCount++;
  }

  private heardUpdate(session: SessionInfo): void {
    const entry = this.heldForRemote(session.id);
    if (!entry) return;
    const r = entry.record;
    const current = this.settings(r);
    r.config = session.config;
    r.access = session.access;
    r.members = session.members;
    r.retentionDays = session.retentionDays;
    // SessionInfo carries settings with the defaults filled in: one equal to what applies here stays as it is (a
    // default stays the shared object).
    if (!sameSetting(current.analysis, session.analysis)) r.analysis = session.analysis;
    if (!sameSetting(current.assistant, session.assistant)) r.assistant = session.assistant;
    if (!sameSetting(current.endOnDisconnect, session.endOnDisconnect)) {
      r.endOnDisconnect = session.endOnDisconnect;
      this.followGrace(r.id, session.endOnDisconnect);
    }
    r.participantCount = Math.max(r.participantCount, session.metrics.participantCount);
    r.assistantMessages = Math.max(r.assistantMessages, session.metrics.assistantMessages);
    const at = Date.parse(session.lastActivityAt);
    if (at > r.lastActivityAt) r.lastActivityAt = at;
  }

  private heardEnd(session: SessionInfo, status: Exclude<SessionRecord["status"], "active">): void {
    const id = session.id;
    this.grace.cancel(id);
    this.forgetPresence(id);
    this.remoteStreams.forget(id);
    const entry = this.heldForRemote(id);
    if (!entry) return;
    this.cache.delete(id);
    const r = entry.record;
    r.status = status;
    r.endedAt = session.endedAt === undefined ? this.clock.now() : Date.parse(session.endedAt);
    r.durationMs = session.metrics.durationMs;
    const at = Date.parse(session.lastActivityAt);
    if (at > r.lastActivityAt) r.lastActivityAt = at;
    const missed = session.metrics.messageCount - r.messageCount;
    if (missed > 0) {
      // Messages not heard here yet: the history is read from storage on its next use.
      r.messageCount += missed;
      r.lastSeq += missed;
      entry.window = null;
    }
    r.participantCount = Math.max(r.participantCount, session.metrics.participantCount);
    entry.activityDirty = false;
    entry.recovered = undefined;
    // Read-only from now on (joins read its history, writes are refused as session_ended without a read).
    if (!this.sync) this.ended.set(id, entry);
  }

  /** Forgotten as the local erase path forgets it (see evict), without telling the manager again. */
  private heardErasure(id: string): void {
    this.remoteStreams.forget(id);
    this.heldForRemote(id);
    this.grace.cancel(id);
    this.cache.delete(id);
    this.ended.delete(id);
    this.forgetPresence(id);
  }

  private heardPresence(sessionId: string, userId: string, event: "join" | "leave"): void {
    // Someone is back, through another node: a grace period running here stops.
    if (event === "join") this.grace.cancel(sessionId);
    this.shared?.heard(sessionId, userId, event);
  }

  private heardAnalysis(id: string, seq: number, analysis: Analysis): void {
    const entry = this.cache.peek(id);
    if (!entry) return;
    // Held with its analysis already (read from storage after it was stored): the row read counts it too.
    const held = entry.window?.after(seq - 1, 1)?.[0];
    if (held?.seq === seq && held.analysis) return;
    this.recordAnalysis(id, seq, analysis);
  }

  /** Another node ended or erased the session: nobody is present in it here any more. */
  private forgetPresence(id: string): void {
    if (this.shared) this.shared.forget(id);
    else this.presence.clear(id);
  }

  /** The session's last `limit` messages in seq order, from its window (the assistant's context); no access check. */
  recentMessages(id: string, limit: number): Awaitable<Message[]> {
    return this.run(() => {
      const entry = this.entry(id);
      return entry ? this.window(entry).last(limit) : [];
    });
  }

  /**
   * Commits a message the server writes itself (an assistant reply, a notice that it could not answer): no access
   * check, rate limit or participant. `done` runs synchronously right after the commit and its `message.committed`
   * event, before anything else can observe the session. Errors: `not_found`, `session_ended`, `internal`.
   */
  appendFromServer(
    sessionId: string,
    input: NewMessage & { userId: string; role: MessageRole },
    done: (error: SessiondError | null, result: AppendResult | null) => void,
  ): void {
    this.store.append(
      {
        id: this.newMessageId(),
        sessionId,
        userId: input.userId,
        role: input.role,
        kind: input.kind ?? "text",
        content: input.content,
        metadata: input.metadata,
        clientMsgId: input.clientMsgId,
        createdAt: this.clock.now(),
      },
      (error, result) => {
        if (!error && result && !result.duplicate) this.committed(result.message);
        done(error, result);
      },
    );
  }

  /** The session's analysis setting with the default filled in, or null when it does not exist; no access check. */
  analysisSetting(id: string): AnalysisSetting | null {
    // Called for every committed message: no allocation on the way. An asynchronous store: the sessions in memory
    // (every session committed to here is), others with the server's default.
    const record = this.cache.peek(id)?.record ?? (this.sync ? (this.store.getSession(id) as SessionRecord | null) : this.ended.peek(id)?.record);
    if (record === undefined) return this.rules.defaults.analysis;
    return record ? (record.analysis ?? this.rules.defaults.analysis) : null;
  }

  /**
   * Keeps a cached session in step with an analysis the analysis store just saved with the session's aggregates:
   * metrics.sentiment and riskLevel, and the message in the window (so history reads carry it). A session not in
   * memory needs nothing: it is read back from storage with both.
   */
  recordAnalysis(id: string, seq: number, analysis: Analysis): void {
    const entry = this.cache.peek(id);
    if (!entry) return;
    const r = entry.record;
    const level = analysis.crisis.risk_level;
    r.analyzedCount++;
    r.sentimentSum += analysis.sentiment.score;
    r.riskLevel = r.riskLevel === null ? level : higherRisk(r.riskLevel, level);
    const held = entry.window?.after(seq - 1, 1)?.[0];
    if (held?.seq === seq) held.analysis = analysis;
  }

  /** Adds to a session's assistant aggregates (metrics.assistantMessages, metrics.responseTime), stored and cached. */
  recordAssistantMetrics(id: string, delta: { messages?: number; responseTimeMs?: number }): void {
    const responseTimeMs = delta.responseTimeMs === undefined ? undefined : Math.max(0, Math.round(delta.responseTimeMs));
    this.background(id, this.store.addAssistantMetrics(id, { messages: delta.messages ?? 0, responseTimeMs }));
    const r = this.cache.peek(id)?.record;
    if (!r) return;
    r.assistantMessages += delta.messages ?? 0;
    if (responseTimeMs !== undefined) {
      r.responseTimeSumMs += responseTimeMs;
      r.responseTimeCount++;
    }
  }

  /**
   * Writes pending activity times, then ends every active session idle for longer than expiryMs. Works in small
   * steps and stops after the one where `shouldYield` says so (`done: false`): the caller calls again on a later
   * turn of the event loop, so a sweep over 100,000 sessions never holds the loop for long. @default never yields
   */
  expireIdleSessions(shouldYield: () => boolean = () => false): { expired: string[]; done: boolean } {
    if (!this.sync) throw new Error("expireIdleSessions needs the synchronous store; use sweepIdle");
    const expired: string[] = [];
    if (!this.persistActivity(shouldYield)) return { expired, done: false };
    const cutoff = this.clock.now() - this.rules.expiryMs;
    for (;;) {
      const ids = this.store.idleSessionIds(cutoff, EXPIRY_PAGE) as string[];
      if (ids.length === 0) return { expired, done: true };
      let held = 0;
      let yielded = false;
      for (const id of ids) {
        // A reply streaming or waiting counts as activity: the session does not expire under it.
        if (this.assistant?.busy(id)) {
          this.touch(id);
          held++;
        } else if (this.archive(id, "expired") as SessionInfo | null) expired.push(id);
        if (shouldYield()) {
          yielded = true;
          break;
        }
      }
      // Written before the next page is read, so a held session is not found idle again.
      if (held > 0) this.persistActivity();
      if (yielded) return { expired, done: false };
      if (ids.length < EXPIRY_PAGE) return { expired, done: true };
    }
  }

  /**
   * Writes the last-activity time of every session touched since the last write, in transactions of at most
   * ACTIVITY_CHUNK rows; true once none is left, false when `shouldYield` stopped it after a chunk.
   */
  /**
   * expireIdleSessions for any store, one step after another (an asynchronous store's sweep waits for each read and
   * end). With several nodes each idle session ends on exactly one: endSession answers true to one caller only.
   */
  async sweepIdle(): Promise<string[]> {
    const expired: string[] = [];
    await this.writeActivity();
    const cutoff = this.clock.now() - this.rules.expiryMs;
    for (;;) {
      const ids = await this.store.idleSessionIds(cutoff, EXPIRY_PAGE);
      let held = 0;
      for (const id of ids) {
        if (this.assistant?.busy(id)) {
          this.touch(id);
          held++;
        } else if (await this.archive(id, "expired")) expired.push(id);
      }
      if (held > 0) await this.writeActivity();
      if (ids.length < EXPIRY_PAGE) return expired;
    }
  }

  /** persistActivity for any store: every pending activity time written (in chunks). */
  async writeActivity(): Promise<void> {
    for (;;) {
      const updates = this.takeActivity();
      if (updates.length === 0) return;
      try {
        await this.store.saveActivity(updates);
      } catch (e) {
        this.markActivityPending(updates);
        throw e;
      }
      if (updates.length < ACTIVITY_CHUNK) return;
    }
  }

  private takeActivity(): Array<{ id: string; lastActivityAt: number }> {
    const updates: Array<{ id: string; lastActivityAt: number }> = [];
    for (const entry of this.cache.values()) {
      if (!entry.activityDirty) continue;
      updates.push({ id: entry.record.id, lastActivityAt: entry.record.lastActivityAt });
      entry.activityDirty = false;
      if (updates.length >= ACTIVITY_CHUNK) break;
    }
    return updates;
  }

  /** Not written (a storage fault): still pending, so the next sweep or the shutdown writes them. */
  private markActivityPending(updates: ReadonlyArray<{ id: string }>): void {
    for (const u of updates) {
      const entry = this.cache.peek(u.id);
      if (entry) entry.activityDirty = true;
    }
  }

  persistActivity(shouldYield: () => boolean = () => false): boolean {
    for (;;) {
      const updates = this.takeActivity();
      if (updates.length === 0) return true;
      try {
        this.store.saveActivity(updates);
      } catch (e) {
        this.markActivityPending(updates);
        throw e;
      }
      if (updates.length < ACTIVITY_CHUNK) return true;
      if (shouldYield()) return false;
    }
  }

  /** Ends every active session with `status` (shutdown with ARCHIVE_ON_SHUTDOWN, or an admin reset). */
  endAll(status: "completed" | "cancelled"): Awaitable<number> {
    if (this.sync) {
      let n = 0;
      for (const id of this.store.activeSessionIds() as string[]) if (this.archive(id, status)) n++;
      return n;
    }
    return (async () => {
      let n = 0;
      for (const id of await this.store.activeSessionIds()) if (await this.archive(id, status)) n++;
      return n;
    })();
  }

  /** Commits pending appends and activity; for shutdown. */
  flush(): Awaitable<void> {
    if (this.sync) {
      this.store.flush();
      this.persistActivity();
      return;
    }
    return then(this.store.flush(), () => this.writeActivity());
  }

  private archive(id: string, status: "completed" | "cancelled" | "expired"): Awaitable<SessionInfo | null> {
    // Work in progress (an assistant reply) may queue its last appends now, so they commit before the end.
    this.events.emit("session.ending", { sessionId: id });
    // Appends queued before the end commit first; later ones find the session ended inside their transaction.
    return then(this.store.flush(), () =>
      then(this.store.endSession(id, status, this.clock.now()), (ended) => {
        // Not active (any more): another caller, or another node, ended it.
        if (!ended) return null;
        this.grace.cancel(id);
        this.cache.delete(id);
        this.presence.clear(id);
        return then(this.store.getSession(id), (record) => {
          const session = this.info(record!);
          this.events.emit("session.ended", { session, status });
          return session;
        });
      }),
    );
  }

  /** A grace period ran out: ends the session as completed if it is still active, still wanted, and still empty. */
  private endIfLeft(id: string): void {
    if (this.presence.users(id).length > 0) return;
    // The mirror may lag behind another node's join: the manager has the last word before a session ends.
    if (this.shared) {
      const users = then(this.shared.usersAnywhere(id), (present) => {
        if (present.length === 0) this.endIfStillLeft(id);
      });
      if (isPending(users)) users.then(undefined, (e: unknown) => this.onBackgroundError(e, id));
      return;
    }
    this.endIfStillLeft(id);
  }

  private endIfStillLeft(id: string): void {
    const entry = this.sync ? this.entry(id) : (this.cache.peek(id) ?? null);
    if (!entry || entry.record.status !== "active" || !this.settings(entry.record).endOnDisconnect.enabled) return;
    const ended = this.archive(id, "completed");
    if (isPending(ended)) ended.then(undefined, (e: unknown) => this.onBackgroundError(e, id));
  }

  private committed(message: Message, ackLatencyMs?: number, assistant?: AssistantRequest): void {
    const entry = this.cache.peek(message.session);
    // Already counted: another node's later message was heard first (see heardMessage), the window reloads.
    if (entry && message.seq > entry.record.lastSeq) {
      const r = entry.record;
      // One message per seq: more than one when another node's were committed in between and not heard yet.
      r.messageCount += message.seq - r.lastSeq;
      r.lastSeq = message.seq;
      let window = entry.window;
      // A new session's first message: its own window replaces the shared empty one.
      if (window === EMPTY_WINDOW) window = entry.window = new MessageWindow(this.rules.windowSize);
      if (window) {
        // The window must stay contiguous; if it somehow is not, drop it and reload on the next read.
        if (window.lastSeq === null ? message.seq === 1 : window.lastSeq === message.seq - 1) window.push(message);
        else entry.window = null;
      }
    }
    this.events.emit("message.committed", assistant ? { message, ackLatencyMs, assistant } : { message, ackLatencyMs });
  }

  /** Tells the audit trail of a read by staff from outside the session (see outside-read.ts). */
  private noteRead(who: Principal, r: SessionRecord, via: ReadVia): void {
    if (isOutsideRead(who, r)) this.events.emit("session.read", { sessionId: r.id, reader: who, via });
  }

  /**
   * What follows `since`, as `who` may read it, up to maxRecoveryMessages and maxRecoveryBytes: from the window when
   * it holds them, else from SQLite in pages (a page of large messages is not read whole to send a few of them).
   */
  private recover(who: Principal, entry: CachedSession, since: number): { messages: Message[]; truncated: boolean } {
    const max = this.rules.maxRecoveryMessages;
    const lastSeq = entry.record.lastSeq;
    if (since >= lastSeq) return { messages: [], truncated: false };
    const budget = new ReplyBudget(this.rules.maxRecoveryBytes ?? DEFAULT_MAX_RECOVERY_BYTES, max);
    const fromWindow = this.window(entry).after(since, max);
    if (fromWindow) budget.add(this.readable(who, entry.record, fromWindow));
    else if (!this.sync) {
      // Read ahead by prepareHistory; a later `since` than that read is read now (the step runs again after it).
      const read = entry.recovered;
      if (read?.since !== since) throw this.need(`h:${entry.record.id}:${since}`, () => this.readRecovery(entry, since));
      entry.recovered = undefined;
      budget.add(this.readable(who, entry.record, read.messages));
    } else {
      for (let after = since; ; ) {
        const page = this.store.messagesAfter(entry.record.id, after, Math.min(RECOVERY_PAGE, max - budget.messages.length)) as Message[];
        if (page.length === 0 || !budget.add(this.readable(who, entry.record, page))) break;
        after = page[page.length - 1]!.seq;
      }
    }
    const messages = budget.messages;
    const lastGiven = messages.length > 0 ? messages[messages.length - 1]!.seq : since;
    return { messages, truncated: lastGiven < lastSeq };
  }

  private resolve(who: Principal, target: JoinTarget): CachedSession {
    if (target.session !== undefined) {
      const entry = this.entry(target.session);
      if (entry) return entry;
      if (!this.rules.createOnJoin || who.role === "moderator" || this.wasErased(target.session)) throw NOT_FOUND();
      this.create(who, { id: target.session });
      return this.entry(target.session)!;
    }
    const activeId = this.activeIdInRoom(target.room);
    const active = activeId === null ? null : this.entry(activeId);
    if (active) return active;
    if (!this.rules.createOnJoin || who.role === "moderator") throw new SessiondError("not_found", "The room has no active session.");
    const { session } = this.create(who, { room: target.room, access: this.rules.roomAccess ?? "private" });
    return this.entry(session.id)!;
  }

  /** The one access check every read and write path goes through: not_found, then forbidden. */
  private accessible(who: Principal, id: string): CachedSession {
    const entry = this.entry(id);
    if (!entry) throw NOT_FOUND();
    if (!canAccess(who, entry.record)) throw FORBIDDEN(entry.record);
    return entry;
  }

  /** The cached session, loading its row on a miss (not its messages: the window loads on first read). */
  private entry(id: string): CachedSession | null {
    const cached = this.cache.get(id);
    if (cached) return cached;
    if (!this.sync) return this.readEntry(id);
    const record = this.store.getSession(id) as SessionRecord | null;
    if (!record) return null;
    const entry: CachedSession = { record, window: null, participants: null, activityDirty: false };
    // Ended sessions are read-only history: keep them out of the cache so they cannot crowd out live ones.
    if (record.status === "active") this.cache.set(id, entry);
    return entry;
  }

  private window(entry: CachedSession): MessageWindow<Message> {
    if (entry.window) return entry.window;
    const id = entry.record.id;
    if (this.sync) return (entry.window = MessageWindow.from(this.rules.windowSize, this.store.lastMessages(id, this.rules.windowSize) as Message[]));
    throw this.need(`w:${id}`, () =>
      then(this.store.lastMessages(id, this.rules.windowSize), (messages) => {
        // Kept only when nothing committed here since the read began (else read again): the window stays whole.
        const last = messages.at(-1)?.seq ?? 0;
        if (last < entry.record.lastSeq) return;
        // Storage is ahead of the row read earlier (another node committed since): one message per seq.
        entry.record.messageCount += last - entry.record.lastSeq;
        entry.record.lastSeq = last;
        entry.window ??= MessageWindow.from(this.rules.windowSize, messages);
      }),
    );
  }

  /** Asynchronous store: the session's row from memory, or a read (ended sessions are kept apart, read-only). */
  private readEntry(id: string): CachedSession | null {
    const ended = this.ended.get(id);
    if (ended) return ended;
    if (this.absent.has(id)) return null;
    throw this.need(`s:${id}`, async () => {
      try {
        const record = await this.store.getSession(id);
        // Another node changed the session while it was read (see applyRemote): the step reads it again.
        if (!this.stale.has(id)) this.keep(id, record);
      } finally {
        this.stale.delete(id);
      }
    });
  }

  private keep(id: string, record: SessionRecord | null): void {
    if (this.cache.peek(id)) return;
    if (!record) {
      // Remembered until the step that asked runs again (the next macrotask at the latest).
      this.absent.add(id);
      setTimeout(() => this.absent.delete(id), 0);
      return;
    }
    const entry: CachedSession = { record, window: null, participants: null, activityDirty: false };
    if (record.status === "active") this.cache.set(id, entry);
    else this.ended.set(id, entry);
  }

  /** The id of the room's active session, or null; an asynchronous store answers through a read ahead. */
  private activeIdInRoom(room: string): string | null {
    if (this.sync) return (this.store.findActiveSessionByRoom(room) as SessionRecord | null)?.id ?? null;
    if (this.roomsRead.has(room)) return this.roomsRead.get(room)!;
    throw this.need(`r:${room}`, () =>
      then(this.store.findActiveSessionByRoom(room), (record) => {
        if (record) this.keep(record.id, record);
        this.roomsRead.set(room, record?.id ?? null);
        setTimeout(() => this.roomsRead.delete(room), 0);
      }),
    );
  }

  /** Asynchronous store: the participants are known before a step records one (see addParticipant). */
  private knownParticipants(entry: CachedSession): void {
    if (entry.participants !== null || this.creating.has(entry.record.id)) return;
    const id = entry.record.id;
    throw this.need(`p:${id}`, () =>
      then(this.store.participants(id), (stored) => {
        // Joins on other nodes are not heard of (only their messages are): the stored rows are the count.
        if (entry.participants === null) entry.record.participantCount = Math.max(entry.record.participantCount, stored.length);
        entry.participants ??= stored.length === 1 ? stored[0]! : stored.length === 0 ? null : new Set(stored);
        // None stored: known to be none (a set, so the next read is not needed).
        if (entry.participants === null) entry.participants = new Set();
      }),
    );
  }

  /** Asynchronous store: what a join will read (the window, or the pages after `since`) is in memory first. */
  private prepareHistory(entry: CachedSession, { since, epoch }: JoinOptions): void {
    const window = this.window(entry);
    if (since === undefined) return;
    const reset = (epoch !== undefined && epoch !== this.rules.epoch) || since > entry.record.lastSeq;
    const from = reset ? 0 : since;
    if (from >= entry.record.lastSeq || window.after(from, this.rules.maxRecoveryMessages)) return;
    if (entry.recovered?.since !== from) throw this.need(`h:${entry.record.id}:${from}`, () => this.readRecovery(entry, from));
  }

  /** Reads what follows `since` in pages, up to maxRecoveryMessages and (as stored JSON) about maxRecoveryBytes. */
  private async readRecovery(entry: CachedSession, since: number): Promise<void> {
    const max = this.rules.maxRecoveryMessages;
    const maxBytes = this.rules.maxRecoveryBytes ?? DEFAULT_MAX_RECOVERY_BYTES;
    const messages: Message[] = [];
    let bytes = 0;
    for (let after = since; messages.length < max && bytes <= maxBytes; ) {
      const page = await this.store.messagesAfter(entry.record.id, after, Math.min(RECOVERY_PAGE, max - messages.length));
      if (page.length === 0) break;
      for (const m of page) bytes += m.content.length;
      messages.push(...page);
      after = page[page.length - 1]!.seq;
    }
    entry.recovered = { since, messages };
  }

  private markActive(entry: CachedSession): void {
    entry.record.lastActivityAt = Math.max(entry.record.lastActivityAt, this.clock.now());
    entry.activityDirty = true;
  }

  /**
   * Records the user as a participant unless already known; true when a write was queued (`then` hears how it
   * went). Throws `unavailable` at once while a storage fault lasts.
   */
  private addParticipant(entry: CachedSession, userId: string, then?: (error: SessiondError | null) => void): boolean {
    // A session created here has no stored participants: a fresh one (null) with no rows to read.
    if (entry.participants === null && !this.creating.has(entry.record.id)) {
      if (!this.sync) this.knownParticipants(entry);
      const stored = this.store.participants(entry.record.id) as string[];
      entry.participants = stored.length === 1 ? stored[0]! : stored.length === 0 ? null : new Set(stored);
    }
    const known = entry.participants;
    if (known === userId || (typeof known === "object" && known?.has(userId))) return false;
    // Group-committed with the join's or the post's other writes; one refused by a storage fault is forgotten, so
    // the user's next join or post tries again.
    this.store.queueParticipant(entry.record.id, userId, this.clock.now(), (error, added) => {
      if (error) {
        if (entry.participants === userId) entry.participants = null;
        else if (typeof entry.participants === "object") entry.participants?.delete(userId);
      } else if (added) entry.record.participantCount++;
      then?.(error);
    });
    if (known === null) entry.participants = userId;
    else if (typeof known === "string") entry.participants = new Set([known, userId]);
    else known.add(userId);
    return true;
  }

  /** History as `who` may read it: analyses only for readers who may see them (see analysisView). */
  private readable(who: Principal, r: SessionRecord, messages: Message[]): Message[] {
    return analysisView(who, this.settings(r).analysis.share, messages);
  }

  /** The session's settings with the server's defaults filled in. */
  settings(r: SessionRecord): SessionDefaults {
    const d = this.rules.defaults;
    return {
      analysis: r.analysis ?? d.analysis,
      assistant: r.assistant ?? d.assistant,
      endOnDisconnect: r.endOnDisconnect ?? d.endOnDisconnect,
    };
  }

  private checkAssistant(setting: AssistantSetting): AssistantSetting {
    if (setting.enabled && !this.rules.assistantAvailable) {
      throw new SessiondError(
        "bad_request",
        "The assistant needs a model server: set AI_BASE_URL (for example http://127.0.0.1:11434/v1) and, to choose its model, AI_MODEL, then restart sessiond.",
      );
    }
    return setting;
  }

  /** SessionInfo as a caller may read it (see sessionView). */
  private infoFor(who: Principal, r: SessionRecord): SessionInfo {
    return sessionView(who, this.info(r));
  }

  private info(r: SessionRecord): SessionInfo {
    const settings = this.settings(r);
    const info: SessionInfo = {
      id: r.id,
      ownerId: r.ownerId,
      mode: r.mode,
      status: r.status,
      access: r.access,
      members: r.members,
      config: r.config,
      startedAt: new Date(r.startedAt).toISOString(),
      lastActivityAt: new Date(r.lastActivityAt).toISOString(),
      analysis: settings.analysis,
      assistant: settings.assistant,
      endOnDisconnect: settings.endOnDisconnect,
      metrics: sessionMetrics(r, this.clock.now()),
      retentionDays: r.retentionDays ?? null,
      epoch: this.rules.epoch ?? "",
    };
    if (r.room !== null) info.room = r.room;
    if (r.endedAt !== null) info.endedAt = new Date(r.endedAt).toISOString();
    return info;
  }
}

/** The window of a session created here until its first message: shared, never written to. */
const EMPTY_WINDOW = new MessageWindow<Message>(1);
const NO_MEMBERS: string[] = Object.freeze([]) as unknown as string[];
const NO_CONFIG: Record<string, unknown> = Object.freeze({});

/** Whether two settings objects hold the same fields (flat: booleans, numbers and strings). */
function sameSetting(a: object, b: object): boolean {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x);
  if (keys.length !== Object.keys(y).length) return false;
  for (const key of keys) if (x[key] !== y[key]) return false;
  return true;
}

/** 128 random bits as hex: unguessable and inside the id pattern. */
export function randomSessionId(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex");
}


/** Each page of `pages` through `view`; closing the result closes `pages` (an export cancelled midway). */
function* readablePages(pages: Generator<Message[]>, view: (page: Message[]) => Message[]): Generator<Message[]> {
  for (const page of pages) yield view(page);
}

/** readablePages over pages that come later (an asynchronous store's export). */
async function* readablePagesLater(pages: AsyncIterable<Message[]>, view: (page: Message[]) => Message[]): AsyncGenerator<Message[]> {
  for await (const page of pages) yield view(page);
}

function asSessiondError(error: unknown, message: string): SessiondError {
  return isSessiondError(error) ? error : new SessiondError("internal", message, undefined, undefined, { cause: error });
}
