// The storage contract the domain relies on; implemented by db/SqliteSessionStore.
import type { SessiondError } from "../protocol/errors.ts";
import type { RiskLevel } from "../protocol/analysis.ts";
import type {
  AnalysisSetting,
  AssistantSetting,
  EndOnDisconnectSetting,
  Message,
  MessageKind,
  MessageRole,
  SessionAccess,
  SessionMetrics,
  SessionMode,
  SessionStatus,
} from "../protocol/types.ts";

/** A stored session. Times are epoch ms. */
export interface SessionRecord {
  id: string;
  room: string | null;
  ownerId: string;
  mode: SessionMode;
  status: SessionStatus;
  access: SessionAccess;
  members: string[];
  config: Record<string, unknown>;
  startedAt: number;
  endedAt: number | null;
  lastActivityAt: number;
  lastSeq: number;
  messageCount: number;
  participantCount: number;
  durationMs: number | null;
  /** Settings; null means the server's default (rows from before the setting existed). */
  analysis: AnalysisSetting | null;
  assistant: AssistantSetting | null;
  endOnDisconnect: EndOnDisconnectSetting | null;
  /** Running aggregates behind SessionInfo.metrics. */
  analyzedCount: number;
  sentimentSum: number;
  riskLevel: RiskLevel | null;
  assistantMessages: number;
  responseTimeSumMs: number;
  responseTimeCount: number;
  /** Erase the session this many days after it ended; null: the server-wide RETENTION_DAYS applies. */
  retentionDays: number | null;
}

/** The fields `configure` may replace. */
export type SessionPatch = Partial<Pick<SessionRecord, "config" | "access" | "members" | "analysis" | "assistant" | "endOnDisconnect" | "retentionDays">>;

export interface AppendInput {
  id: string;
  sessionId: string;
  userId: string;
  role: MessageRole;
  kind: MessageKind;
  content: string;
  metadata?: Record<string, unknown>;
  clientMsgId?: string;
  createdAt: number;
}

/** `duplicate`: the (session, user, clientMsgId) was already stored; `message` is the original. */
export interface AppendResult {
  message: Message;
  duplicate: boolean;
}

/**
 * Called once per append, synchronously right after its transaction committed (or failed), in enqueue order.
 * Errors: `not_found` (no such session), `session_ended`, or `internal` (the transaction failed; nothing stored).
 */
export type AppendCallback = (error: SessiondError | null, result: AppendResult | null) => void;

export interface SessionListQuery {
  status?: SessionStatus;
  room?: string;
  /** Only sessions this user owns, is a member of, or that are open (null: no restriction). */
  visibleTo?: { userId: string; sessionIds: string[]; rooms: string[] } | null;
  limit: number;
  /** Exclusive: sessions that sort after this (startedAt, id) position. */
  after?: { startedAt: number; id: string };
}

export interface SessionStore extends SessionStorage {
  /** Marks the synchronous form: every answer is a value, never a promise (the service then reads in place). */
  readonly synchronous: true;
  /** Queues an append; `seq` is assigned inside the committing transaction, gapless per session. */
  append(input: AppendInput, done: AppendCallback): void;
  /** Commits every queued append now (before a session is ended, and at shutdown). */
  flush(): void;
  getSession(id: string): SessionRecord | null;
  findActiveSessionByRoom(room: string): SessionRecord | null;
  /** Throws `conflict` if the id exists or the room already has an active session. */
  insertSession(record: SessionRecord): void;
  /**
   * Queues the insert of a new session into the group commit (a connect storm is batched like messages). From now
   * on getSession and findActiveSessionByRoom return `record` itself, and updates to it are written with it;
   * appends and participants queued after it commit in its transaction or a later one, never before it. `done`
   * runs after the commit: null, `conflict` (the id or the room's active session already existed), or the
   * transaction's error (`unavailable`, `internal`: nothing was stored). Throws `conflict` at once when a session
   * with that id or room is already queued. While a storage fault lasts it writes at once instead (and throws
   * `unavailable` if that fails), so a refusal is not delayed by the commit's retries.
   */
  queueSession(record: SessionRecord, done: (error: SessiondError | null) => void): void;
  /**
   * Queues a participant row (group-committed); `added` is true when the user was new to the session, whose
   * participant count then grew by one. Errors: `not_found` (no such session), or the transaction's. Like
   * queueSession it writes at once (throwing `unavailable`) while a storage fault lasts.
   */
  queueParticipant(sessionId: string, userId: string, at: number, done: (error: SessiondError | null, added: boolean) => void): void;
  /** Runs `done` after the callbacks of everything queued before it (its error: its own batch's, if that failed). */
  afterQueued(done: (error: SessiondError | null) => void): void;
  updateSession(id: string, patch: SessionPatch): void;
  /** Ends an active session; false when it was not active. */
  endSession(id: string, status: Exclude<SessionStatus, "active">, endedAt: number): boolean;
  saveActivity(updates: ReadonlyArray<{ id: string; lastActivityAt: number }>): void;
  /** Records a participant; true when the user is new to the session. */
  addParticipant(sessionId: string, userId: string, at: number): boolean;
  participants(sessionId: string): string[];
  /** The last `limit` messages, ascending by seq. */
  lastMessages(sessionId: string, limit: number): Message[];
  /** Messages with seq > afterSeq, ascending, at most `limit`. */
  messagesAfter(sessionId: string, afterSeq: number, limit: number): Message[];
  /** Ids of active sessions whose last activity is before `before`, oldest first. */
  idleSessionIds(before: number, limit: number): string[];
  activeSessionIds(): string[];
  listSessions(query: SessionListQuery): SessionRecord[];
  /** Every message of a session in seq order, in pages, without loading them all at once. */
  iterateMessages(sessionId: string, pageSize?: number): Generator<Message[]>;
  /** Whether storage answers a read and could take the write lock now (for /health). */
  probe(): boolean;
  /** Adds assistant replies to `assistant_messages` and, when given, one response time (ms) to its sum and count. */
  addAssistantMetrics(sessionId: string, delta: { messages: number; responseTimeMs?: number }): void;
}

/** A new active session row with empty history and default settings (null), for `open` and for tests. */
export function newSessionRecord(init: { id: string; ownerId: string; at: number } & Partial<SessionRecord>): SessionRecord {
  const { id, ownerId, at, ...rest } = init;
  return {
    id,
    room: null,
    ownerId,
    mode: "chat",
    status: "active",
    access: "private",
    members: [],
    config: {},
    startedAt: at,
    endedAt: null,
    lastActivityAt: at,
    lastSeq: 0,
    messageCount: 0,
    participantCount: 0,
    durationMs: null,
    analysis: null,
    assistant: null,
    endOnDisconnect: null,
    analyzedCount: 0,
    sentimentSum: 0,
    riskLevel: null,
    assistantMessages: 0,
    responseTimeSumMs: 0,
    responseTimeCount: 0,
    retentionDays: null,
    ...rest,
  };
}

/** SessionInfo.metrics from a record's counters and aggregates; `now` sets the duration of an active session. */
export function sessionMetrics(r: SessionRecord, now: number): SessionMetrics {
  return {
    messageCount: r.messageCount,
    participantCount: r.participantCount,
    durationMs: r.durationMs ?? Math.max(0, now - r.startedAt),
    sentiment: r.analyzedCount > 0 ? Math.round((r.sentimentSum / r.analyzedCount) * 1000) / 1000 : null,
    riskLevel: r.riskLevel,
    responseTime: r.responseTimeCount > 0 ? Math.round(r.responseTimeSumMs / r.responseTimeCount) : null,
    assistantMessages: r.assistantMessages,
  };
}

/** A value now, or later: a store that talks to a database server answers with promises; SQLite answers at once. */
export type { Awaitable } from "./awaitable.ts";
import type { Awaitable } from "./awaitable.ts";

/**
 * The storage contract with every answer allowed to come later: the one the contract test suite checks on every
 * implementation (SQLite, PostgreSQL, in memory). Same meaning, method by method, as SessionStore below, which is
 * its synchronous form (what bun:sqlite can give, and what the single-node service relies on today).
 * Queued writes (append, queueSession, queueParticipant, afterQueued) report through their callbacks as before;
 * a synchronous throw means refused before anything was queued.
 */
export interface SessionStorage {
  append(input: AppendInput, done: AppendCallback): void;
  flush(): Awaitable<void>;
  getSession(id: string): Awaitable<SessionRecord | null>;
  findActiveSessionByRoom(room: string): Awaitable<SessionRecord | null>;
  insertSession(record: SessionRecord): Awaitable<void>;
  queueSession(record: SessionRecord, done: (error: SessiondError | null) => void): void;
  queueParticipant(sessionId: string, userId: string, at: number, done: (error: SessiondError | null, added: boolean) => void): void;
  afterQueued(done: (error: SessiondError | null) => void): void;
  updateSession(id: string, patch: SessionPatch): Awaitable<void>;
  /** Ends an active session; false when it was not active (on every node: exactly one caller gets true). */
  endSession(id: string, status: Exclude<SessionStatus, "active">, endedAt: number): Awaitable<boolean>;
  saveActivity(updates: ReadonlyArray<{ id: string; lastActivityAt: number }>): Awaitable<void>;
  addParticipant(sessionId: string, userId: string, at: number): Awaitable<boolean>;
  participants(sessionId: string): Awaitable<string[]>;
  lastMessages(sessionId: string, limit: number): Awaitable<Message[]>;
  messagesAfter(sessionId: string, afterSeq: number, limit: number): Awaitable<Message[]>;
  idleSessionIds(before: number, limit: number): Awaitable<string[]>;
  activeSessionIds(): Awaitable<string[]>;
  listSessions(query: SessionListQuery): Awaitable<SessionRecord[]>;
  iterateMessages(sessionId: string, pageSize?: number): Iterable<Message[]> | AsyncIterable<Message[]>;
  probe(): Awaitable<boolean>;
  addAssistantMetrics(sessionId: string, delta: { messages: number; responseTimeMs?: number }): Awaitable<void>;
  /** Releases connections and timers (after a final flush). */
  close?(): Awaitable<void>;
}
