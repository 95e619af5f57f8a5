// Erasure, export and retention as one path: storage first (one transaction each), then the in-memory copies
// (the session cache, presence), then everyone listening (`session.erased`, `user.erased`), then a truncating
// checkpoint so the erased bytes leave the WAL, and an audit entry. Retention erases through the same path.
import type { Logger } from "../observability/logger.ts";
import { SessiondError } from "../protocol/errors.ts";
import type { Message } from "../protocol/types.ts";
import { analysisView, principal } from "../sessions/access.ts";
import type { SessionEvents } from "../sessions/events.ts";
import type { SessionService } from "../sessions/session-service.ts";
import type { PrivacyStorage, SessionErasure } from "./store.ts";
import type { AuditRecorder } from "./audit-recorder.ts";
import { archivePathsOf, removeArchiveFiles, type ArchiveCandidates } from "./archive-removal.ts";
import { planUserErasure } from "./erasure.ts";

/** Who asked, for the audit trail. */
export interface Actor {
  userId: string;
  role: string;
  address: string;
}

export const SYSTEM_ACTOR: Actor = { userId: "sessiond", role: "system", address: "local" };

export interface PrivacyDeps {
  service: SessionService;
  store: PrivacyStorage;
  events: SessionEvents;
  audit: AuditRecorder;
  logger: Logger;
  /** Every message of a session after a seq, ascending (the session store's history read). */
  messagesAfter: (sessionId: string, afterSeq: number, limit: number) => Message[];
  /** Relative archive paths of a session that may exist even without a recorded job (all formats). */
  archiveCandidates?: ArchiveCandidates;
  archiveDir?: string;
  /** Closes every connection of an erased user; returns how many. */
  disconnectUser?: (userId: string) => number;
  /** Server-wide retention in days (RETENTION_DAYS). */
  retentionDays?: number;
  /** Whether the audit trail records the erasure of this session (erased ids stay unused across restarts). */
  erasedBefore?: (sessionId: string) => boolean;
  now?: () => number;
}

export interface SessionErased {
  session: string;
  erased: true;
  messages: number;
  analyses: number;
  alerts: number;
  webhookEvents: number;
  archiveFiles: number;
}

export interface UserErased {
  userId: string;
  sessionsErased: number;
  messagesErased: number;
  messagesTombstoned: number;
  sessionsTouched: number;
  participantRows: number;
  analyses: number;
  alerts: number;
  webhookEvents: number;
  archiveFiles: number;
  connectionsClosed: number;
}

const PAGE = 1000;

export class PrivacyService {
  private readonly now: () => number;
  private checkpointRetry: ReturnType<typeof setTimeout> | null = null;
  /** Ids erased since start (the audit trail remembers the earlier ones). */
  private readonly erased = new Set<string>();

  constructor(private readonly deps: PrivacyDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Whether a session of this id was erased (it must never be opened again under that id). */
  wasErased(id: string): boolean {
    return this.erased.has(id) || (this.deps.erasedBefore?.(id) ?? false);
  }

  /** Erases one session; `not_found` when there is none. */
  eraseSession(actor: Actor, id: string): SessionErased {
    this.deps.service.flush();
    const erased = this.eraseOne(id);
    if (!erased) throw new SessiondError("not_found", "No such session.");
    this.checkpoint();
    this.deps.audit.record({ ...actorFields(actor), action: "session.erase", objectType: "session", objectId: id, detail: erasureCounts(erased) });
    this.deps.audit.flush();
    this.deps.logger.info("privacy.session_erased", { session: id, ...erasureCounts(erased) });
    return { session: id, erased: true, ...erasureCounts(erased) };
  }

  /**
   * Erases a user: every session they own, and their traces in everyone else's (tombstones, participant rows,
   * presence, analyses, alerts, webhook events). Idempotent: a second call finds nothing and returns zeros.
   */
  eraseUser(actor: Actor, userId: string): UserErased {
    const { service, store, events } = this.deps;
    service.flush();
    const mine = store.sessionsOf(userId);
    const plan = planUserErasure(mine.owned, mine.tookPartIn);
    const result: UserErased = {
      userId,
      sessionsErased: 0,
      messagesErased: 0,
      messagesTombstoned: 0,
      sessionsTouched: 0,
      participantRows: 0,
      analyses: 0,
      alerts: 0,
      webhookEvents: 0,
      archiveFiles: 0,
      connectionsClosed: 0,
    };
    for (const id of plan.erase) {
      const e = this.eraseOne(id);
      if (!e) continue;
      this.deps.audit.record({ ...actorFields(actor), action: "session.erase", objectType: "session", objectId: id, detail: { ...erasureCounts(e), userErasure: true } });
      result.sessionsErased++;
      result.messagesErased += e.messages;
      result.analyses += e.analyses;
      result.alerts += e.alerts;
      result.webhookEvents += e.webhookEvents;
      result.archiveFiles += e.archiveFiles;
    }
    const traces = store.eraseUserTraces(userId, plan.tombstone, this.now());
    service.forgetUser(userId, traces.sessions);
    result.messagesTombstoned = traces.messagesTombstoned;
    result.sessionsTouched = traces.sessions.length;
    result.participantRows = traces.participantRows;
    result.analyses += traces.analyses;
    result.alerts += traces.alerts;
    result.webhookEvents += traces.webhookEvents;
    result.connectionsClosed = this.deps.disconnectUser?.(userId) ?? 0;
    events.emit("user.erased", { userId, sessions: traces.sessions });
    this.checkpoint();
    const { userId: _, ...detail } = result;
    this.deps.audit.record({ ...actorFields(actor), action: "user.erase", objectType: "user", objectId: userId, detail });
    this.deps.audit.flush();
    this.deps.logger.info("privacy.user_erased", { user: userId, ...detail });
    return result;
  }

  /**
   * A user's data as JSON lines, one per session they own or took part in: `{"session":SessionInfo,"messages":[...]}`
   * with every message of their own sessions and only their own elsewhere. Read lazily, session by session.
   */
  exportUser(actor: Actor, userId: string): Generator<string> {
    const { service, store } = this.deps;
    service.flush();
    const { owned, tookPartIn } = store.sessionsOf(userId);
    this.deps.audit.record({
      ...actorFields(actor),
      action: "user.export",
      objectType: "user",
      objectId: userId,
      detail: { ownedSessions: owned.length, otherSessions: tookPartIn.length },
    });
    const self = principal(userId);
    const messagesAfter = this.deps.messagesAfter;
    return (function* () {
      for (const [ids, own] of [[owned, true], [tookPartIn, false]] as const) {
        for (const id of ids) {
          const session = service.peek(id);
          if (!session) continue;
          const messages: Message[] = [];
          for (let after = 0; ; ) {
            const page = own ? messagesAfter(id, after, PAGE) : store.userMessages(id, userId, after, PAGE);
            // What the person could read themselves: analyses only where the session shares them with everyone.
            messages.push(...analysisView(self, session.analysis.share, page));
            if (page.length < PAGE) break;
            after = page[page.length - 1]!.seq;
          }
          yield `${JSON.stringify({ session, messages })}\n`;
        }
      }
    })();
  }

  /** Erases every ended session whose retention ran out (its own retentionDays, else RETENTION_DAYS). */
  applyRetention(): { sessions: number; messages: number } {
    const now = this.now();
    let sessions = 0;
    let messages = 0;
    for (;;) {
      const due = this.deps.store.retentionDue(now, this.deps.retentionDays, 200);
      for (const id of due) {
        const e = this.eraseOne(id);
        if (!e) continue;
        sessions++;
        messages += e.messages;
        this.deps.audit.record({ ...actorFields(SYSTEM_ACTOR), action: "retention.erase", objectType: "session", objectId: id, detail: erasureCounts(e) });
      }
      if (due.length < 200) break;
    }
    if (sessions > 0) {
      this.deps.audit.flush();
      this.checkpoint();
    }
    return { sessions, messages };
  }

  /** Stops a pending checkpoint retry (shutdown closes the database with its own truncating checkpoint). */
  stop(): void {
    if (this.checkpointRetry) clearTimeout(this.checkpointRetry);
    this.checkpointRetry = null;
  }

  private eraseOne(id: string): (SessionErasure & { archiveFiles: number }) | null {
    // Work in progress for the session (an assistant reply, queued replies) stops now, as before an end; what it
    // commits on the way out is erased with the rest.
    this.deps.events.emit("session.ending", { sessionId: id });
    this.deps.service.flush();
    const erased = this.deps.store.eraseSession(id);
    if (!erased) return null;
    this.erased.add(id);
    this.deps.service.evict(id);
    const archiveFiles = removeArchiveFiles(id, archivePathsOf(erased, this.deps.archiveDir, this.deps.archiveCandidates), this.deps.logger);
    this.deps.events.emit("session.erased", { sessionId: id });
    return { ...erased, archiveFiles };
  }

  /** Truncates the WAL; a reader in the way (busy) gets a few more tries a second apart. */
  private checkpoint(attempt = 0): void {
    if (this.checkpointRetry) clearTimeout(this.checkpointRetry);
    this.checkpointRetry = null;
    if (!this.deps.store.checkpoint().busy || attempt >= 10) return;
    this.checkpointRetry = setTimeout(() => this.checkpoint(attempt + 1), 1000);
  }
}

export function actorFields(a: Actor): { actorId: string; actorRole: string; address: string } {
  return { actorId: a.userId, actorRole: a.role, address: a.address };
}

export function erasureCounts(e: SessionErasure & { archiveFiles: number }): { messages: number; analyses: number; alerts: number; webhookEvents: number; archiveFiles: number } {
  return { messages: e.messages, analyses: e.analyses, alerts: e.alerts, webhookEvents: e.webhookEvents, archiveFiles: e.archiveFiles };
}
