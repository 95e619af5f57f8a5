// Who may read, write and manage a session: the one access check every transport calls (pure).
import type { Message, SessionInfo } from "../protocol/types.ts";

/** "admin": an app backend or operator; "moderator": a clinician or supervisor (reads all, handles alerts). */
export type Role = "user" | "moderator" | "admin";

/** An authenticated caller, as established by the auth module. */
export interface Principal {
  userId: string;
  role: Role;
  admin: boolean;
  /** Admins and moderators: may read every session, see analyses and receive alerts. */
  staff: boolean;
  /** Sessions granted by the token's `sessions` claim: ids, and room keys (from `room:<key>` entries). */
  grantedSessions: ReadonlySet<string>;
  grantedRooms: ReadonlySet<string>;
  /** The network address the caller came from, set by the transport (for the audit trail). */
  address?: string;
}

export interface AccessSubject {
  id: string;
  room: string | null;
  ownerId: string;
  access: "private" | "open";
  members: readonly string[];
}

/** Read (and, for non-moderators, write): staff, the owner, members, matching grants; anyone if open. */
export function canAccess(who: Principal, session: AccessSubject): boolean {
  return (
    who.staff ||
    session.access === "open" ||
    session.ownerId === who.userId ||
    session.members.includes(who.userId) ||
    who.grantedSessions.has(session.id) ||
    (session.room !== null && who.grantedRooms.has(session.room))
  );
}

/** Configure and end: the owner or an admin (a grant gives read and write only). */
export function canManage(who: Principal, session: AccessSubject): boolean {
  return who.admin || session.ownerId === who.userId;
}

/** Whether the caller may see analyses of a session whose analysis is shared with `share`. */
export function canSeeAnalysis(who: Principal, share: "staff" | "all"): boolean {
  return share === "all" || who.staff;
}

/**
 * Messages as `who` may read them: unchanged when they may see the session's analyses, otherwise with every
 * `analysis` field removed (copies of just those messages). The one projection every history output goes through.
 */
export function analysisView(who: Principal, share: "staff" | "all", messages: Message[]): Message[] {
  if (canSeeAnalysis(who, share) || !messages.some((m) => m.analysis !== undefined)) return messages;
  return messages.map((m) => (m.analysis === undefined ? m : withoutAnalysis(m)));
}

/** A copy of the message without its analysis. */
export function withoutAnalysis(m: Message): Message {
  const { analysis: _, ...rest } = m;
  return rest;
}

/**
 * SessionInfo as `who` may read it: the sentiment and highest risk in its metrics are analysis results, so a reader
 * who may not see the analyses reads them as null (as before the first analysis).
 */
export function sessionView(who: Principal, session: SessionInfo): SessionInfo {
  return canSeeAnalysis(who, session.analysis.share) ? session : withoutAnalysisMetrics(session);
}

/** A copy of the SessionInfo with no analysis results in its metrics (the same object when it has none). */
export function withoutAnalysisMetrics(session: SessionInfo): SessionInfo {
  if (session.metrics.sentiment === null && session.metrics.riskLevel === null) return session;
  return { ...session, metrics: { ...session.metrics, sentiment: null, riskLevel: null } };
}

/** The grants of a token without any: one shared empty set rather than two per connection. */
const NO_GRANTS: ReadonlySet<string> = new Set();

export function principal(userId: string, options: { admin?: boolean; role?: Role; sessions?: readonly string[] } = {}): Principal {
  let grantedSessions = NO_GRANTS;
  let grantedRooms = NO_GRANTS;
  for (const entry of options.sessions ?? []) {
    if (entry.startsWith("room:")) {
      if (grantedRooms === NO_GRANTS) grantedRooms = new Set();
      (grantedRooms as Set<string>).add(entry.slice(5));
    } else {
      if (grantedSessions === NO_GRANTS) grantedSessions = new Set();
      (grantedSessions as Set<string>).add(entry);
    }
  }
  const role: Role = options.role ?? (options.admin ? "admin" : "user");
  return { userId, role, admin: role === "admin", staff: role !== "user", grantedSessions, grantedRooms };
}
