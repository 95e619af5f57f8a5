// Erasure and export rules (pure): what erasing a user does to each session, the tombstone that replaces their
// messages elsewhere, when retention is due, and what a user's export holds, which webhook bodies name a user. Tested in test/privacy/erasure.test.ts.
import type { Message } from "../protocol/types.ts";

export const DAY_MS = 86_400_000;

/** What replaces an erased user's message in someone else's session: same id and seq, so the log stays gapless. */
export const TOMBSTONE = { content: "", metadata: { erased: true } as Record<string, unknown> };

export interface UserErasurePlan {
  /** Sessions the user owns: erased whole. */
  erase: string[];
  /** Sessions of others the user took part in: their messages become tombstones, their participant row goes. */
  tombstone: string[];
}

/** Splits a user's sessions: every owned one is erased; in the rest only the user's traces are removed. */
export function planUserErasure(owned: readonly string[], tookPartIn: readonly string[]): UserErasurePlan {
  const erase = [...new Set(owned)].sort();
  const own = new Set(erase);
  const tombstone = [...new Set(tookPartIn)].filter((id) => !own.has(id)).sort();
  return { erase, tombstone };
}

export interface RetentionSubject {
  status: string;
  endedAt: number | null;
  /** The session's own retention; null: the server-wide RETENTION_DAYS applies. */
  retentionDays: number | null;
}

/**
 * The time at which an ended session is erased by retention, or null when it is kept: active sessions are never
 * due; a session's own `retentionDays` wins over the server-wide `RETENTION_DAYS`; neither set keeps it forever.
 */
export function retentionDueAt(s: RetentionSubject, serverDays: number | undefined): number | null {
  if (s.status === "active" || s.endedAt === null) return null;
  const days = s.retentionDays ?? serverDays;
  return days === undefined ? null : s.endedAt + days * DAY_MS;
}

export function isRetentionDue(s: RetentionSubject, serverDays: number | undefined, now: number): boolean {
  const at = retentionDueAt(s, serverDays);
  return at !== null && at <= now;
}

/**
 * The messages of one session that belong in a user's export: all of them in a session the user owns, only
 * their own elsewhere.
 */
export function exportedMessages(userId: string, ownerId: string, messages: readonly Message[]): Message[] {
  return ownerId === userId ? [...messages] : messages.filter((m) => m.userId === userId);
}

/** Whether a message is an erasure tombstone. */
export function isTombstone(m: Pick<Message, "content" | "metadata">): boolean {
  return m.content === "" && m.metadata?.erased === true;
}

/** Whether a webhook body names the user: as a message's or an alert's author, or as the subject of the event. */
export function namesUser(payload: string, userId: string): boolean {
  try {
    const data = (JSON.parse(payload) as { data?: Record<string, unknown> }).data;
    if (!data) return false;
    const inner = (k: string) => (data[k] as { userId?: unknown } | undefined)?.userId;
    return data.userId === userId || inner("message") === userId || inner("alert") === userId;
  } catch {
    return false;
  }
}
