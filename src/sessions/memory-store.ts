// SessionStore in memory, for fast unit tests of the domain (with a manual clock): the SQLite store's semantics —
// queued writes committed together on flush() or on a microtask, callbacks in enqueue order, queued sessions
// visible at once, gapless seq — with no I/O. It can be told to fail its next commits. Tested by
// test/sessions/memory-store.test.ts through the shared contract suite.
import { QueuedSessions } from "./queued-sessions.ts";
import { SessiondError } from "../protocol/errors.ts";
import type { Message, SessionStatus } from "../protocol/types.ts";
import type { AppendCallback, AppendInput, AppendResult, SessionListQuery, SessionPatch, SessionRecord, SessionStore } from "./store.ts";

export interface MemoryStoreOptions {
  /** Told after each group commit with the number of items it held (appends, sessions, participants, fences). */
  onCommit?: (batchSize: number) => void;
}

/** The code a failing commit reports: `unavailable` (a storage fault; queued writes go direct until a success) or `internal`. */
export type CommitFailure = "unavailable" | "internal";

type Work =
  | { op: "append"; input: AppendInput; done: AppendCallback }
  | { op: "session"; record: SessionRecord; done: (error: SessiondError | null) => void }
  | { op: "participant"; sessionId: string; userId: string; at: number; done: (error: SessiondError | null, added: boolean) => void }
  | { op: "fence"; done: (error: SessiondError | null) => void };

const notFound = () => new SessiondError("not_found", "No such session.");
const ended = () => new SessiondError("session_ended", "The session has ended; it is read-only.");
const conflict = (record: SessionRecord) =>
  new SessiondError("conflict", record.room !== null ? "The room already has an active session." : "A session with that id exists.");
const FAILURE_SENTENCE: Record<CommitFailure, string> = {
  unavailable: "Storage is unavailable for a moment; nothing was saved. Try again.",
  internal: "The message could not be stored and was not saved; try again.",
};

/** Reads and writes exchange copies: nothing a caller holds aliases what is stored (queued sessions aside, as in SQL). */
const copy = <T>(value: T): T => structuredClone(value);

export class MemorySessionStore implements SessionStore {
  readonly synchronous = true as const;
  private readonly sessions = new Map<string, SessionRecord>();
  /** The id of each room's active session. */
  private readonly activeRooms = new Map<string, string>();
  /** Each session's messages, index seq - 1 (seq is gapless). */
  private readonly messages = new Map<string, Message[]>();
  /** By session, user and clientMsgId: the idempotency index. */
  private readonly byClientMsgId = new Map<string, Message>();
  private readonly participantRows = new Map<string, Map<string, number>>();
  /** Sessions queued and not committed yet, by id and by room (the same records, handed back as they are). */
  private readonly queued = new QueuedSessions();
  private queue: Work[] = [];
  private scheduled = false;
  private failures: { count: number; code: CommitFailure } = { count: 0, code: "internal" };
  /** From an `unavailable` failure until the next successful write, as the SQLite store does. */
  private faulted = false;
  private readonly onCommit?: (batchSize: number) => void;
  /** Group commits so far (failed ones included). */
  commits = 0;

  constructor({ onCommit }: MemoryStoreOptions = {}) {
    this.onCommit = onCommit;
  }

  /**
   * Makes the next `count` commits fail with `code`: a group commit (every item of the batch hears the error and
   * nothing of it is stored) or a direct write (it throws). @default code "internal"
   */
  failNextCommits(count: number, code: CommitFailure = "internal"): void {
    this.failures = { count, code };
  }

  append(input: AppendInput, done: AppendCallback): void {
    this.enqueue({ op: "append", input, done });
  }

  queueSession(record: SessionRecord, done: (error: SessiondError | null) => void): void {
    this.queued.check(record);
    if (this.faulted) {
      // While a fault lasts a refusal comes at once, not after the commit.
      this.insertSession(record);
      return queueMicrotask(() => done(null));
    }
    this.queued.add(record);
    this.enqueue({ op: "session", record, done });
  }

  queueParticipant(sessionId: string, userId: string, at: number, done: (error: SessiondError | null, added: boolean) => void): void {
    if (this.faulted && !this.queued.has(sessionId)) {
      const added = this.addParticipant(sessionId, userId, at);
      return queueMicrotask(() => done(null, added));
    }
    this.enqueue({ op: "participant", sessionId, userId, at, done });
  }

  afterQueued(done: (error: SessiondError | null) => void): void {
    this.enqueue({ op: "fence", done });
  }

  /** Commits everything queued now; the callbacks run before this returns. */
  flush(): void {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      this.commitBatch(batch);
    }
  }

  getSession(id: string): SessionRecord | null {
    const queued = this.queued.get(id);
    if (queued) return queued;
    const stored = this.sessions.get(id);
    return stored ? copy(stored) : null;
  }

  findActiveSessionByRoom(room: string): SessionRecord | null {
    const queued = this.queued.inRoom(room);
    if (queued) return queued;
    const id = this.activeRooms.get(room);
    return id === undefined ? null : copy(this.sessions.get(id)!);
  }

  insertSession(record: SessionRecord): void {
    if (this.queued.blocks(record) || this.conflicts(record)) throw conflict(record);
    this.write(() => this.storeSession(record));
  }

  updateSession(id: string, patch: SessionPatch): void {
    if (Object.keys(patch).length === 0) return;
    const queued = this.queued.get(id);
    if (queued) return void Object.assign(queued, patch);
    const stored = this.sessions.get(id);
    this.write(() => stored && Object.assign(stored, copy(patch)));
  }

  endSession(id: string, status: Exclude<SessionStatus, "active">, endedAt: number): boolean {
    if (this.queued.has(id)) this.flush();
    const stored = this.sessions.get(id);
    return this.write(() => {
      if (!stored || stored.status !== "active") return false;
      Object.assign(stored, { status, endedAt, durationMs: endedAt - stored.startedAt });
      if (stored.room !== null) this.activeRooms.delete(stored.room);
      return true;
    });
  }

  saveActivity(updates: ReadonlyArray<{ id: string; lastActivityAt: number }>): void {
    if (updates.length === 0) return;
    for (const u of updates) {
      const queued = this.queued.get(u.id);
      if (queued) queued.lastActivityAt = Math.max(queued.lastActivityAt, u.lastActivityAt);
    }
    this.write(() => {
      for (const u of updates) {
        const stored = this.sessions.get(u.id);
        if (stored) stored.lastActivityAt = Math.max(stored.lastActivityAt, u.lastActivityAt);
      }
    });
  }

  addParticipant(sessionId: string, userId: string, at: number): boolean {
    if (this.queued.has(sessionId)) this.flush();
    return this.write(() => {
      const added = this.storeParticipant(sessionId, userId, at);
      if (added === null) throw notFound();
      return added;
    });
  }

  participants(sessionId: string): string[] {
    return [...(this.participantRows.get(sessionId)?.keys() ?? [])];
  }

  lastMessages(sessionId: string, limit: number): Message[] {
    const all = this.messages.get(sessionId) ?? [];
    return limit <= 0 ? [] : all.slice(-limit).map(copy);
  }

  messagesAfter(sessionId: string, afterSeq: number, limit: number): Message[] {
    const all = this.messages.get(sessionId) ?? [];
    const from = Math.max(0, afterSeq);
    return limit <= 0 ? [] : all.slice(from, from + limit).map(copy);
  }

  idleSessionIds(before: number, limit: number): string[] {
    this.commitPendingSessions();
    return [...this.sessions.values()]
      .filter((s) => s.status === "active" && s.lastActivityAt < before)
      .sort((a, b) => a.lastActivityAt - b.lastActivityAt)
      .slice(0, Math.max(0, limit))
      .map((s) => s.id);
  }

  activeSessionIds(): string[] {
    this.commitPendingSessions();
    return [...this.sessions.values()].filter((s) => s.status === "active").map((s) => s.id);
  }

  listSessions(query: SessionListQuery): SessionRecord[] {
    this.commitPendingSessions();
    const { status, room, visibleTo, after } = query;
    return [...this.sessions.values()]
      .filter(
        (s) =>
          (status === undefined || s.status === status) &&
          (!room || s.room === room) &&
          (!visibleTo ||
            s.access === "open" ||
            s.ownerId === visibleTo.userId ||
            s.members.includes(visibleTo.userId) ||
            visibleTo.sessionIds.includes(s.id) ||
            (s.room !== null && visibleTo.rooms.includes(s.room))) &&
          // Newest first: a page goes on with sessions that started earlier (ties broken by id).
          (!after || s.startedAt < after.startedAt || (s.startedAt === after.startedAt && s.id < after.id)),
      )
      .sort((a, b) => b.startedAt - a.startedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
      .slice(0, Math.max(0, query.limit))
      .map(copy);
  }

  *iterateMessages(sessionId: string, pageSize = 1000): Generator<Message[]> {
    let after = 0;
    for (;;) {
      const page = this.messagesAfter(sessionId, after, pageSize);
      if (page.length === 0) return;
      yield page;
      after = page[page.length - 1]!.seq;
      if (page.length < pageSize) return;
    }
  }

  /** False while a storage fault lasts (an `unavailable` failure until the next successful write). */
  probe(): boolean {
    return !this.faulted;
  }

  addAssistantMetrics(sessionId: string, delta: { messages: number; responseTimeMs?: number }): void {
    if (this.queued.has(sessionId)) this.flush();
    const stored = this.sessions.get(sessionId);
    this.write(() => {
      if (!stored) return;
      stored.assistantMessages += delta.messages;
      if (delta.responseTimeMs !== undefined) {
        stored.responseTimeSumMs += delta.responseTimeMs;
        stored.responseTimeCount++;
      }
    });
  }

  close(): void {
    this.flush();
  }

  private enqueue(work: Work): void {
    this.queue.push(work);
    if (this.scheduled) return;
    this.scheduled = true;
    // A microtask, never the caller's own stack: like a group commit, only sooner.
    queueMicrotask(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** One transaction: all of the batch or, when told to fail, none of it. */
  private commitBatch(batch: Work[]): void {
    this.commits++;
    const failure = this.takeFailure();
    const outcomes: Array<() => void> = [];
    if (failure) {
      for (const w of batch) {
        if (w.op === "session") this.unqueue(w.record);
        outcomes.push(w.op === "participant" ? () => w.done(failure, false) : w.op === "append" ? () => w.done(failure, null) : () => w.done(failure));
      }
    } else {
      for (const w of batch) outcomes.push(this.apply(w));
    }
    this.onCommit?.(batch.length);
    for (const settle of outcomes) {
      try {
        settle();
      } catch (e) {
        // A faulty callback must not keep the rest of its batch from hearing back.
        console.error(e);
      }
    }
  }

  /** Applies one item and returns how its callback is told. */
  private apply(w: Work): () => void {
    switch (w.op) {
      case "session": {
        this.unqueue(w.record);
        if (this.conflicts(w.record)) return () => w.done(conflict(w.record));
        this.storeSession(w.record);
        return () => w.done(null);
      }
      case "participant": {
        const added = this.storeParticipant(w.sessionId, w.userId, w.at);
        return added === null ? () => w.done(notFound(), false) : () => w.done(null, added);
      }
      case "append": {
        const outcome = this.storeMessage(w.input);
        return outcome instanceof SessiondError ? () => w.done(outcome, null) : () => w.done(null, outcome);
      }
      case "fence":
        return () => w.done(null);
    }
  }

  private storeMessage(input: AppendInput): AppendResult | SessiondError {
    const session = this.sessions.get(input.sessionId);
    if (!session) return notFound();
    if (session.status !== "active") return ended();
    const key = input.clientMsgId === undefined ? null : `${input.sessionId}\u0000${input.userId}\u0000${input.clientMsgId}`;
    const original = key === null ? undefined : this.byClientMsgId.get(key);
    if (original) return { message: copy(original), duplicate: true };
    const message: Message = {
      id: input.id,
      seq: session.lastSeq + 1,
      session: input.sessionId,
      userId: input.userId,
      role: input.role,
      kind: input.kind,
      content: input.content,
      createdAt: new Date(input.createdAt).toISOString(),
    };
    if (input.metadata !== undefined) message.metadata = copy(input.metadata);
    if (input.clientMsgId !== undefined) message.clientMsgId = input.clientMsgId;
    const stored = copy(message);
    let list = this.messages.get(input.sessionId);
    if (!list) this.messages.set(input.sessionId, (list = []));
    list.push(stored);
    if (key !== null) this.byClientMsgId.set(key, stored);
    session.lastSeq = message.seq;
    session.messageCount++;
    session.lastActivityAt = Math.max(session.lastActivityAt, input.createdAt);
    return { message, duplicate: false };
  }

  /** True when the user is new to the session, false when known, null when there is no such session. */
  private storeParticipant(sessionId: string, userId: string, at: number): boolean | null {
    const session = this.sessions.get(sessionId);
    if (!session) return null;
    let rows = this.participantRows.get(sessionId);
    if (!rows) this.participantRows.set(sessionId, (rows = new Map()));
    if (rows.has(userId)) return false;
    rows.set(userId, at);
    session.participantCount++;
    return true;
  }

  private storeSession(record: SessionRecord): void {
    this.sessions.set(record.id, copy(record));
    if (record.room !== null && record.status === "active") this.activeRooms.set(record.room, record.id);
  }

  /** The id is taken, or the room already has an active session (among stored rows). */
  private conflicts(record: SessionRecord): boolean {
    return this.sessions.has(record.id) || (record.room !== null && record.status === "active" && this.activeRooms.has(record.room));
  }

  private unqueue(record: SessionRecord): void {
    this.queued.remove(record);
  }

  /** A direct write: fails (throws) when told to, and a success ends a fault in progress. */
  private write<T>(change: () => T): T {
    const failure = this.takeFailure();
    if (failure) throw failure;
    const result = change();
    this.faulted = false;
    return result;
  }

  /** The error of the next commit when it is to fail, or null; an `unavailable` one starts a fault. */
  private takeFailure(): SessiondError | null {
    if (this.failures.count <= 0) {
      this.faulted = false;
      return null;
    }
    this.failures.count--;
    const { code } = this.failures;
    if (code === "unavailable") this.faulted = true;
    return new SessiondError(code, FAILURE_SENTENCE[code]);
  }

  /** Reads over many sessions see the queued ones: they commit first. */
  private commitPendingSessions(): void {
    if (this.queued.size > 0) this.flush();
  }
}
