// Erasure, export and retention on a database shared by several nodes (PostgreSQL): the same path as
// privacy-service.ts, asynchronous. Each erasure is one transaction that also records the id in erased_sessions and
// appends its audit entry, so that no node ever opens the id again and no crash leaves an erasure unrecorded.
// `wasErased` stays synchronous: it answers from the ids this node knows (its own erasures, those loaded at start
// and those other nodes announce through `noteErased`); `checkErased` asks the database for an id it does not know.
import { existsSync } from "node:fs";
import type { Logger } from "../observability/logger.ts";
import { SessiondError } from "../protocol/errors.ts";
import type { Message, SessionInfo } from "../protocol/types.ts";
import { analysisView, principal } from "../sessions/access.ts";
import type { SessionEvents } from "../sessions/events.ts";
import type { SessionService } from "../sessions/session-service.ts";
import type { AuditRecord } from "./audit-chain.ts";
import type { AuditRecorder } from "./audit-recorder.ts";
import { archivePathsOf, removeArchiveFiles, type ArchiveCandidates } from "./archive-removal.ts";
import { planUserErasure } from "./erasure.ts";
import { actorFields, erasureCounts as counts, SYSTEM_ACTOR, type Actor, type SessionErased, type UserErased } from "./privacy-service.ts";
import type { SessionErasure, SharedPrivacyStorage } from "./store.ts";

export interface SharedPrivacyDeps {
  service: SessionService;
  store: SharedPrivacyStorage;
  events: SessionEvents;
  /** For entries outside an erasure (user.export); erasures append inside their own transaction. */
  audit: AuditRecorder;
  logger: Logger;
  messagesAfter: (sessionId: string, afterSeq: number, limit: number) => Message[] | Promise<Message[]>;
  /** A session's description from the database (the service only holds the sessions in memory). */
  sessionInfo: (id: string) => SessionInfo | null | Promise<SessionInfo | null>;
  disconnectUser?: (userId: string) => number;
  /** ARCHIVE_DIR (shared by the nodes): an erased session's archive file is removed from it. */
  archiveDir?: string;
  /** Relative archive paths a session's transcript may have been written to (every format). */
  archiveCandidates?: ArchiveCandidates;
  retentionDays?: number;
  now?: () => number;
}

const PAGE = 1000;
const RETENTION_BATCH = 200;

export class SharedPrivacyService {
  private readonly now: () => number;
  private readonly erased = new Set<string>();

  constructor(private readonly deps: SharedPrivacyDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Learns every id erased so far (call once at start, before serving). */
  async load(): Promise<void> {
    for (const { id } of await this.deps.store.erasedSince(-1)) this.erased.add(id);
  }

  /** Whether this node knows the id as erased (synchronous, for SessionService's join and create checks). */
  wasErased(id: string): boolean {
    return this.erased.has(id);
  }

  /** Another node erased this session (its `session.erased` reached this node): forget it and never reopen it. */
  noteErased(id: string): void {
    if (this.erased.has(id)) return;
    this.erased.add(id);
    this.deps.service.evict(id);
  }

  /** Asks the database whether an id this node does not know was erased by any node (remembering a yes). */
  async checkErased(id: string): Promise<boolean> {
    if (this.erased.has(id)) return true;
    if (!(await this.deps.store.wasErased(id))) return false;
    this.erased.add(id);
    return true;
  }

  async eraseSession(actor: Actor, id: string): Promise<SessionErased> {
    const e = await this.eraseOne(id, (x) => ({ ...record(actor, "session.erase", id), detail: counts(x) }));
    if (!e) throw new SessiondError("not_found", "No such session.");
    this.deps.logger.info("privacy.session_erased", { session: id, ...counts(e) });
    return { session: id, erased: true, ...counts(e) };
  }

  async eraseUser(actor: Actor, userId: string): Promise<UserErased> {
    const { service, store, events } = this.deps;
    await service.flush();
    const mine = await store.sessionsOf(userId);
    const plan = planUserErasure(mine.owned, mine.tookPartIn);
    const result: UserErased = {
      userId, sessionsErased: 0, messagesErased: 0, messagesTombstoned: 0, sessionsTouched: 0, participantRows: 0,
      analyses: 0, alerts: 0, webhookEvents: 0, archiveFiles: 0, connectionsClosed: 0,
    };
    for (const id of plan.erase) {
      const e = await this.eraseOne(id, (x) => ({ ...record(actor, "session.erase", id), detail: { ...counts(x), userErasure: true } }));
      if (!e) continue;
      result.sessionsErased++;
      result.messagesErased += e.messages;
      result.analyses += e.analyses;
      result.alerts += e.alerts;
      result.webhookEvents += e.webhookEvents;
      result.archiveFiles += e.archiveFiles;
    }
    result.connectionsClosed = this.deps.disconnectUser?.(userId) ?? 0;
    // The user.erase entry is written in the transaction that removes the last traces, with the final counts.
    const traces = await store.eraseUserTraces(userId, plan.tombstone, this.now(), (t) => {
      result.messagesTombstoned = t.messagesTombstoned;
      result.sessionsTouched = t.sessions.length;
      result.participantRows = t.participantRows;
      result.analyses += t.analyses;
      result.alerts += t.alerts;
      result.webhookEvents += t.webhookEvents;
      const { userId: _, ...detail } = result;
      return [{ ...record(actor, "user.erase", userId, "user"), detail }];
    });
    await service.forgetUser(userId, traces.sessions);
    events.emit("user.erased", { userId, sessions: traces.sessions });
    const { userId: _, ...detail } = result;
    this.deps.logger.info("privacy.user_erased", { user: userId, ...detail });
    return result;
  }

  /** A user's data as JSON lines, read from the database session by session (see PrivacyService.exportUser). */
  async *exportUser(actor: Actor, userId: string): AsyncGenerator<string> {
    const { service, store } = this.deps;
    await service.flush();
    const { owned, tookPartIn } = await store.sessionsOf(userId);
    this.deps.audit.record({ ...actorFields(actor), action: "user.export", objectType: "user", objectId: userId, detail: { ownedSessions: owned.length, otherSessions: tookPartIn.length } });
    const self = principal(userId);
    for (const [ids, own] of [[owned, true], [tookPartIn, false]] as const) {
      for (const id of ids) {
        const session = service.peek(id) ?? (await this.deps.sessionInfo(id));
        if (!session) continue;
        const messages: Message[] = [];
        for (let after = 0; ; ) {
          const page = own ? await this.deps.messagesAfter(id, after, PAGE) : await store.userMessages(id, userId, after, PAGE);
          messages.push(...analysisView(self, session.analysis.share, page));
          if (page.length < PAGE) break;
          after = page[page.length - 1]!.seq;
        }
        yield `${JSON.stringify({ session, messages })}\n`;
      }
    }
  }

  /**
   * Erases every ended session whose retention ran out. Every node may run it at once: each erasure claims its row,
   * so a session is erased, and recorded as `retention.erase`, by exactly one of them.
   */
  async applyRetention(): Promise<{ sessions: number; messages: number }> {
    const now = this.now();
    let sessions = 0;
    let messages = 0;
    const tried = new Set<string>();
    for (;;) {
      const due = (await this.deps.store.retentionDue(now, this.deps.retentionDays, RETENTION_BATCH)).filter((id) => !tried.has(id));
      for (const id of due) {
        tried.add(id);
        const e = await this.eraseOne(id, (x) => ({ ...record(SYSTEM_ACTOR, "retention.erase", id), detail: counts(x) }));
        if (!e) continue;
        sessions++;
        messages += e.messages;
      }
      if (due.length < RETENTION_BATCH) break;
    }
    return { sessions, messages };
  }

  private async eraseOne(id: string, audit: (e: SessionErasure & { archiveFiles: number }) => AuditRecord): Promise<(SessionErasure & { archiveFiles: number }) | null> {
    this.deps.events.emit("session.ending", { sessionId: id });
    await this.deps.service.flush();
    // The audit entry commits with the erasure, before the files go (a rolled-back erasure must keep them): it
    // counts the files there are at that moment.
    const erased = await this.deps.store.eraseSession(id, this.now(), (e) => audit({ ...e, archiveFiles: this.archivePaths(e).filter((f) => existsSync(f)).length }));
    if (!erased) return null;
    this.erased.add(id);
    this.deps.service.evict(id);
    const archiveFiles = removeArchiveFiles(id, this.archivePaths(erased), this.deps.logger);
    // Published through the session events (and the broker between nodes): every node evicts it and notes the id.
    this.deps.events.emit("session.erased", { sessionId: id });
    return { ...erased, archiveFiles };
  }

  private archivePaths(e: SessionErasure): string[] {
    return archivePathsOf(e, this.deps.archiveDir, this.deps.archiveCandidates);
  }
}

function record(actor: Actor, action: AuditRecord["action"], objectId: string, objectType: AuditRecord["objectType"] = "session"): AuditRecord {
  return { at: Date.now(), ...actorFields(actor), action, objectType, objectId, detail: null };
}
