// The session service: join, recover, append, configure, end, expire. Every transport goes through it, so there
// is one write path, one access check and one source of domain events. It never touches a socket.
import { SessiondError } from "../protocol/errors.ts";
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
import { canAccess, canManage, type Principal } from "./access.ts";
import type { Clock } from "./clock.ts";
import type { SessionEvents } from "./events.ts";
import { MessageWindow } from "./message-window.ts";
import { Presence } from "./presence.ts";
import { SessionCache } from "./session-cache.ts";
import { newSessionRecord, type AppendResult, type SessionListQuery, type SessionPatch, type SessionRecord, type SessionStore } from "./store.ts";

export interface SessionRules {
  /** Inactivity after which an active session ends as `expired`. */
  expiryMs: number;
  /** Messages kept per cached session (MAX_MESSAGES_PER_SESSION). */
  windowSize: number;
  /** Sessions held in memory (SESSION_CACHE_MAX_SESSIONS). */
  cacheMaxSessions: number;
  /** Most messages one `since` recovery returns before `truncated` (MAX_RECOVERY_MESSAGES). */
  maxRecoveryMessages: number;
  /** Largest message content in UTF-8 bytes (MAX_MESSAGE_BYTES). */
  maxMessageBytes: number;
  /** Whether joining an unknown id or room opens it (SESSION_CREATE=join) or gives not_found (api). */
  createOnJoin: boolean;
  /** Settings of a session that was not given its own. */
  defaults: SessionDefaults;
  /** Whether a model server is configured (AI_BASE_URL); without one the assistant cannot be enabled. */
  assistantAvailable: boolean;
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

export const DEFAULT_ASSISTANT: AssistantSetting = { enabled: false, name: "assistant", trigger: "every" };

/** Per-user message budget; implemented by auth/TokenBucketLimiter. */
export interface MessageRateLimiter {
  /** Takes one token: 0 when allowed, otherwise the milliseconds until one is available. */
  take(key: string, now: number): number;
  /** Gives back a token taken for a message that was refused or was a replay. */
  refund(key: string): void;
}

export const DEFAULT_HISTORY_LIMIT = 100;

interface CachedSession {
  record: SessionRecord;
  /** Loaded on the first history read; kept in step with commits from then on. */
  window: MessageWindow<Message> | null;
  /** Users who ever joined or posted (for participantCount); loaded on first need. */
  participants: Set<string> | null;
  activityDirty: boolean;
}

export type JoinTarget = { session: string; room?: undefined } | { room: string; session?: undefined };

export interface JoinResult {
  session: SessionInfo;
  messages: Message[];
  truncated: boolean;
}

export interface NewSession extends SettingsInput {
  id?: string;
  room?: string;
  mode?: SessionMode;
  config?: Record<string, unknown>;
  access?: SessionAccess;
  members?: string[];
}

export interface SessionChanges extends SettingsInput {
  config?: Record<string, unknown>;
  access?: SessionAccess;
  members?: string[];
}

export interface NewMessage {
  content: string;
  kind?: MessageKind;
  role?: MessageRole;
  metadata?: Record<string, unknown>;
  clientMsgId?: string;
}

export interface SessionServiceDeps {
  store: SessionStore;
  events: SessionEvents;
  clock: Clock;
  limiter: MessageRateLimiter;
  rules: SessionRules;
  newSessionId?: () => string;
  /** Time-ordered unique ids for messages (the server passes UUIDv7). */
  newMessageId: () => string;
}

const NOT_FOUND = () => new SessiondError("not_found", "No such session.");
// Same words whether the session exists or not would leak nothing either; a private session reveals only that
// the caller may not see it.
const FORBIDDEN = () => new SessiondError("forbidden", "You do not have access to this session.");
const ENDED = () => new SessiondError("session_ended", "The session has ended; it is read-only.");
const MODERATOR_READ_ONLY = () =>
  new SessiondError("forbidden", "A moderator token may read sessions and handle alerts, but not post, open or change sessions.");
const round3 = (n: number): number => Math.round(n * 1000) / 1000;

export class SessionService {
  readonly presence = new Presence();
  private readonly cache: SessionCache<string, CachedSession>;
  private readonly store: SessionStore;
  private readonly events: SessionEvents;
  private readonly clock: Clock;
  private readonly limiter: MessageRateLimiter;
  private readonly rules: SessionRules;
  private readonly newSessionId: () => string;
  private readonly newMessageId: () => string;

  constructor(deps: SessionServiceDeps) {
    this.store = deps.store;
    this.events = deps.events;
    this.clock = deps.clock;
    this.limiter = deps.limiter;
    this.rules = deps.rules;
    this.newSessionId = deps.newSessionId ?? randomSessionId;
    this.newMessageId = deps.newMessageId;
    // Evicting loses nothing (every message is in SQLite); only a pending activity time must be written first.
    this.cache = new SessionCache(deps.rules.cacheMaxSessions, (_, entry) => {
      if (entry.activityDirty) this.store.saveActivity([{ id: entry.record.id, lastActivityAt: entry.record.lastActivityAt }]);
    });
  }

  get cacheStats(): { size: number; hits: number; misses: number; evictions: number; windowMessages: number } {
    let windowMessages = 0;
    for (const e of this.cache.values()) windowMessages += e.window?.size ?? 0;
    return { size: this.cache.size, hits: this.cache.hits, misses: this.cache.misses, evictions: this.cache.evictions, windowMessages };
  }

  /** Whether the session is currently held in memory. */
  isCached(id: string): boolean {
    return this.cache.peek(id) !== undefined;
  }

  /** Creates a session, or returns the room's active one (`created: false`) if the caller may see it. */
  open(who: Principal, input: NewSession): { session: SessionInfo; created: boolean } {
    if (input.room !== undefined) {
      const existing = this.store.findActiveSessionByRoom(input.room);
      if (existing) {
        const entry = this.entry(existing.id)!;
        if (!canAccess(who, entry.record)) throw FORBIDDEN();
        return { session: this.info(entry.record), created: false };
      }
    }
    if (who.role === "moderator") throw MODERATOR_READ_ONLY();
    const d = this.rules.defaults;
    const analysis = { ...d.analysis, ...input.analysis };
    const assistant = this.checkAssistant({ ...d.assistant, ...input.assistant });
    const endOnDisconnect = { ...d.endOnDisconnect, ...input.endOnDisconnect };
    const now = this.clock.now();
    const record = newSessionRecord({
      id: input.id ?? this.newSessionId(),
      ownerId: who.userId,
      at: now,
      room: input.room ?? null,
      mode: input.mode ?? "chat",
      access: input.access ?? "private",
      members: input.members ?? [],
      config: input.config ?? {},
      analysis,
      assistant,
      endOnDisconnect,
    });
    this.store.insertSession(record);
    this.cache.set(record.id, { record, window: new MessageWindow(this.rules.windowSize), participants: new Set(), activityDirty: false });
    const session = this.info(record);
    this.events.emit("session.started", { session });
    return { session, created: true };
  }

  /**
   * Resolves the target (opening it when allowed), checks access, counts activity and returns history:
   * the last `limit` messages, or with `since` every message after it (from the window when it holds them,
   * from SQLite otherwise) up to maxRecoveryMessages. Synchronous, so a caller that subscribes right after
   * misses nothing and sees nothing twice.
   */
  join(who: Principal, target: JoinTarget, { since, limit }: { since?: number; limit?: number } = {}): JoinResult {
    const entry = this.resolve(who, target);
    if (!canAccess(who, entry.record)) throw FORBIDDEN();
    if (entry.record.status === "active") {
      this.markActive(entry);
      // Staff who only watch (moderators) are not participants of the conversation.
      if (who.role !== "moderator") this.addParticipant(entry, who.userId);
    }
    let messages: Message[];
    let truncated = false;
    if (since !== undefined) {
      ({ messages, truncated } = this.recover(entry, since));
    } else {
      const n = Math.min(limit ?? DEFAULT_HISTORY_LIMIT, this.rules.windowSize);
      messages = this.window(entry).last(n);
    }
    return { session: this.info(entry.record), messages, truncated };
  }

  /** Counts one more connection of the user as present; emits `presence.changed` when the user arrives. */
  attach(sessionId: string, userId: string): void {
    if (this.presence.attach(sessionId, userId)) this.events.emit("presence.changed", { sessionId, userId, event: "join" });
  }

  /** Counts one connection fewer; emits `presence.changed` when the user's last connection left. */
  detach(sessionId: string, userId: string): void {
    if (this.presence.detach(sessionId, userId)) this.events.emit("presence.changed", { sessionId, userId, event: "leave" });
  }

  /** Activity without a message (a ping from a present client): keeps an active session from expiring. */
  touch(sessionId: string): void {
    const entry = this.entry(sessionId);
    if (entry && entry.record.status === "active") this.markActive(entry);
  }

  get(who: Principal, id: string): SessionInfo {
    return this.info(this.accessible(who, id).record);
  }

  /**
   * Validates, authorizes and rate-limits a message, then hands it to group commit. Resolves after the commit
   * with the stored message (`duplicate` when the clientMsgId was already used by this user in this session:
   * the original is returned and nothing is written or broadcast again).
   */
  appendMessage(who: Principal, sessionId: string, input: NewMessage): Promise<AppendResult> {
    const received = this.clock.now();
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
    const retryAfterMs = this.limiter.take(who.userId, received);
    if (retryAfterMs > 0) {
      throw new SessiondError("rate_limited", `Too many messages; try again in ${Math.ceil(retryAfterMs / 1000)} s.`, retryAfterMs);
    }
    this.markActive(entry);
    this.addParticipant(entry, who.userId);
    return new Promise<AppendResult>((resolve, reject) => {
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
            this.limiter.refund(who.userId);
            reject(error ?? new SessiondError("internal", "The message was not stored."));
            return;
          }
          if (result.duplicate) this.limiter.refund(who.userId);
          else this.committed(result.message, this.clock.now() - received);
          resolve(result);
        },
      );
    });
  }

  /**
   * Replaces config, access or members, and merges the given setting fields into the current settings (owner or
   * admin); subscribers are told through `session.updated`.
   */
  configure(who: Principal, id: string, patch: SessionChanges): SessionInfo {
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
    this.store.updateSession(id, changes);
    Object.assign(entry.record, changes);
    this.markActive(entry);
    const session = this.info(entry.record);
    this.events.emit("session.updated", { session });
    return session;
  }

  /** Ends a session by request (owner or admin). */
  end(who: Principal, id: string, status: "completed" | "cancelled" = "completed"): SessionInfo {
    const entry = this.accessible(who, id);
    if (!canManage(who, entry.record)) throw new SessiondError("forbidden", "Only the session's owner or an admin may end it.");
    if (entry.record.status !== "active") throw ENDED();
    return this.archive(id, status)!;
  }

  /** Every message after `after`, ascending, at most `limit`, for HTTP paging; complete across the window edge. */
  history(who: Principal, id: string, after: number, limit: number): { messages: Message[]; nextAfter: number | null } {
    const entry = this.accessible(who, id);
    const fromWindow = entry.window?.after(after, limit + 1);
    const page = fromWindow ?? this.store.messagesAfter(id, after, limit + 1);
    const more = page.length > limit;
    const messages = more ? page.slice(0, limit) : page;
    return { messages, nextAfter: more ? messages[messages.length - 1]!.seq : null };
  }

  /** Sessions the caller may see (admins: all), newest first. */
  list(who: Principal, query: Omit<SessionListQuery, "visibleTo">): SessionInfo[] {
    const visibleTo = who.admin ? null : { userId: who.userId, sessionIds: [...who.grantedSessions], rooms: [...who.grantedRooms] };
    return this.store.listSessions({ ...query, visibleTo }).map((r) => this.info(this.cache.peek(r.id)?.record ?? r));
  }

  /** Every message of a session for export, in pages straight from SQLite. */
  transcript(who: Principal, id: string): { session: SessionInfo; pages: Generator<Message[]> } {
    this.store.flush();
    return { session: this.info(this.accessible(who, id).record), pages: this.store.iterateMessages(id) };
  }

  /** Writes pending activity times, then ends every active session idle for longer than expiryMs. */
  expireIdleSessions(): string[] {
    this.persistActivity();
    const cutoff = this.clock.now() - this.rules.expiryMs;
    const expired: string[] = [];
    for (;;) {
      const ids = this.store.idleSessionIds(cutoff, 500);
      if (ids.length === 0) break;
      for (const id of ids) if (this.archive(id, "expired")) expired.push(id);
      if (ids.length < 500) break;
    }
    return expired;
  }

  /** Writes the last-activity time of every session touched since the last write. */
  persistActivity(): void {
    const updates: Array<{ id: string; lastActivityAt: number }> = [];
    for (const entry of this.cache.values()) {
      if (entry.activityDirty) {
        updates.push({ id: entry.record.id, lastActivityAt: entry.record.lastActivityAt });
        entry.activityDirty = false;
      }
    }
    this.store.saveActivity(updates);
  }

  /** Ends every active session with `status` (shutdown with ARCHIVE_ON_SHUTDOWN, or an admin reset). */
  endAll(status: "completed" | "cancelled"): number {
    let n = 0;
    for (const id of this.store.activeSessionIds()) if (this.archive(id, status)) n++;
    return n;
  }

  /** Commits pending appends and activity; for shutdown. */
  flush(): void {
    this.store.flush();
    this.persistActivity();
  }

  private archive(id: string, status: "completed" | "cancelled" | "expired"): SessionInfo | null {
    // Appends queued before the end commit first; later ones find the session ended inside their transaction.
    this.store.flush();
    const now = this.clock.now();
    if (!this.store.endSession(id, status, now)) return null;
    this.cache.delete(id);
    this.presence.clear(id);
    const record = this.store.getSession(id)!;
    const session = this.info(record);
    this.events.emit("session.ended", { session, status });
    return session;
  }

  private committed(message: Message, ackLatencyMs: number): void {
    const entry = this.cache.peek(message.session);
    if (entry) {
      const r = entry.record;
      r.lastSeq = message.seq;
      r.messageCount++;
      const window = entry.window;
      if (window) {
        // The window must stay contiguous; if it somehow is not, drop it and reload on the next read.
        if (window.lastSeq === null ? message.seq === 1 : window.lastSeq === message.seq - 1) window.push(message);
        else entry.window = null;
      }
    }
    this.events.emit("message.committed", { message, ackLatencyMs });
  }

  private recover(entry: CachedSession, since: number): { messages: Message[]; truncated: boolean } {
    const max = this.rules.maxRecoveryMessages;
    const lastSeq = entry.record.lastSeq;
    if (since >= lastSeq) return { messages: [], truncated: false };
    const fromWindow = this.window(entry).after(since, max);
    const messages = fromWindow ?? this.store.messagesAfter(entry.record.id, since, max);
    const lastGiven = messages.length > 0 ? messages[messages.length - 1]!.seq : since;
    return { messages, truncated: lastGiven < lastSeq };
  }

  private resolve(who: Principal, target: JoinTarget): CachedSession {
    if (target.session !== undefined) {
      const entry = this.entry(target.session);
      if (entry) return entry;
      if (!this.rules.createOnJoin || who.role === "moderator") throw NOT_FOUND();
      this.open(who, { id: target.session });
      return this.entry(target.session)!;
    }
    const active = this.store.findActiveSessionByRoom(target.room);
    if (active) return this.entry(active.id)!;
    if (!this.rules.createOnJoin || who.role === "moderator") throw new SessiondError("not_found", "The room has no active session.");
    const { session } = this.open(who, { room: target.room });
    return this.entry(session.id)!;
  }

  /** The one access check every read and write path goes through: not_found, then forbidden. */
  private accessible(who: Principal, id: string): CachedSession {
    const entry = this.entry(id);
    if (!entry) throw NOT_FOUND();
    if (!canAccess(who, entry.record)) throw FORBIDDEN();
    return entry;
  }

  /** The cached session, loading its row on a miss (not its messages: the window loads on first read). */
  private entry(id: string): CachedSession | null {
    const cached = this.cache.get(id);
    if (cached) return cached;
    const record = this.store.getSession(id);
    if (!record) return null;
    const entry: CachedSession = { record, window: null, participants: null, activityDirty: false };
    // Ended sessions are read-only history: keep them out of the cache so they cannot crowd out live ones.
    if (record.status === "active") this.cache.set(id, entry);
    return entry;
  }

  private window(entry: CachedSession): MessageWindow<Message> {
    entry.window ??= MessageWindow.from(this.rules.windowSize, this.store.lastMessages(entry.record.id, this.rules.windowSize));
    return entry.window;
  }

  private markActive(entry: CachedSession): void {
    entry.record.lastActivityAt = Math.max(entry.record.lastActivityAt, this.clock.now());
    entry.activityDirty = true;
  }

  private addParticipant(entry: CachedSession, userId: string): void {
    entry.participants ??= new Set(this.store.participants(entry.record.id));
    if (entry.participants.has(userId)) return;
    entry.participants.add(userId);
    if (this.store.addParticipant(entry.record.id, userId, this.clock.now())) entry.record.participantCount++;
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
        "The assistant needs a model server: set AI_BASE_URL (for example http://127.0.0.1:11434/v1) and AI_MODEL, then restart sessiond.",
      );
    }
    return setting;
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
      metrics: {
        messageCount: r.messageCount,
        participantCount: r.participantCount,
        durationMs: r.durationMs ?? Math.max(0, this.clock.now() - r.startedAt),
        sentiment: r.analyzedCount > 0 ? round3(r.sentimentSum / r.analyzedCount) : null,
        riskLevel: r.riskLevel,
        responseTime: r.responseTimeCount > 0 ? Math.round(r.responseTimeSumMs / r.responseTimeCount) : null,
        assistantMessages: r.assistantMessages,
      },
    };
    if (r.room !== null) info.room = r.room;
    if (r.endedAt !== null) info.endedAt = new Date(r.endedAt).toISOString();
    return info;
  }
}

/** 128 random bits as hex: unguessable and inside the id pattern. */
export function randomSessionId(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex");
}

