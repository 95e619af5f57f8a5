// The storage contract of erasure, export and retention (types only); implemented by db/PrivacyStore, used by
// privacy-service.ts. Each erasure is one transaction on the storage side.
import type { Message } from "../protocol/types.ts";

/** What one session's erasure removed. */
export interface SessionErasure {
  sessionId: string;
  ownerId: string;
  startedAt: number;
  messages: number;
  analyses: number;
  alerts: number;
  webhookEvents: number;
  /** Archive files recorded for the session, relative to ARCHIVE_DIR (the caller deletes them). */
  archivePaths: string[];
}

/** What removing a user's traces from other people's sessions changed. */
export interface UserTraces {
  /** Sessions touched, i.e. whose in-memory copies must be refreshed. */
  sessions: string[];
  messagesTombstoned: number;
  participantRows: number;
  analyses: number;
  alerts: number;
  webhookEvents: number;
}

export interface PrivacyStorage {
  /** Deletes a session and every row that refers to it; null when there is no such session. */
  eraseSession(id: string): SessionErasure | null;
  /** The sessions a user owns, and those of others they took part in (joined or posted). */
  sessionsOf(userId: string): { owned: string[]; tookPartIn: string[] };
  /** In each of `sessionIds` (other people's sessions): the user's messages become tombstones, their other rows go. */
  eraseUserTraces(userId: string, sessionIds: readonly string[], at: number): UserTraces;
  /** The user's own messages in a session, ascending, at most `limit` after `afterSeq` (for exports). */
  userMessages(sessionId: string, userId: string, afterSeq: number, limit: number): Message[];
  /** Ended sessions whose retention has run out at `now` (their own retention_days, else `serverDays`). Oldest first. */
  retentionDue(now: number, serverDays: number | undefined, limit: number): string[];
  /** Truncating WAL checkpoint, so erased pages survive in neither file. `busy`: a reader prevented it. */
  checkpoint(): { busy: boolean };
}

/**
 * The same contract for a database shared by several nodes (PostgreSQL), asynchronous: each erasure also records
 * the id as erased and appends its audit entries in its own transaction, so that a crash cannot separate them.
 */
export interface SharedPrivacyStorage {
  eraseSession(id: string, at: number, audit?: (e: SessionErasure) => import("./audit-chain.ts").AuditRecord): Promise<SessionErasure | null>;
  eraseUserTraces(userId: string, sessionIds: readonly string[], at: number, audit?: (t: UserTraces) => import("./audit-chain.ts").AuditRecord[]): Promise<UserTraces>;
  sessionsOf(userId: string): Promise<{ owned: string[]; tookPartIn: string[] }>;
  userMessages(sessionId: string, userId: string, afterSeq: number, limit: number): Promise<Message[]>;
  retentionDue(now: number, serverDays: number | undefined, limit: number): Promise<string[]>;
  /** Whether any node erased a session of this id. */
  wasErased(id: string): Promise<boolean>;
  /** Sessions erased by any node after a time (epoch ms). */
  erasedSince(afterMs: number): Promise<Array<{ id: string; erasedAt: number }>>;
}
