// Who is present in each session, counted per user across all of their connections and transports (pure).

/**
 * A session's present users: the user id itself when one user has one connection there (most sessions, and the
 * cheapest to hold), otherwise a map of user id to connection count.
 */
type Present = string | Map<string, number>;

export class Presence {
  private readonly sessions = new Map<string, Present>();

  /** Counts one more connection of `userId` in the session; true when the user just became present. */
  attach(sessionId: string, userId: string): boolean {
    const present = this.sessions.get(sessionId);
    if (present === undefined) {
      this.sessions.set(sessionId, userId);
      return true;
    }
    const users = typeof present === "string" ? this.expand(sessionId, present) : present;
    const n = users.get(userId) ?? 0;
    users.set(userId, n + 1);
    return n === 0;
  }

  /** Counts one connection fewer; true when the user's last connection left. False if it was not attached. */
  detach(sessionId: string, userId: string): boolean {
    const present = this.sessions.get(sessionId);
    if (present === undefined) return false;
    if (typeof present === "string") {
      if (present !== userId) return false;
      this.sessions.delete(sessionId);
      return true;
    }
    const n = present.get(userId);
    if (n === undefined) return false;
    if (n > 1) {
      present.set(userId, n - 1);
      return false;
    }
    present.delete(userId);
    this.shrink(sessionId, present);
    return true;
  }

  /** Drops the user from the session whatever their connection count (an erased user); true if they were present. */
  remove(sessionId: string, userId: string): boolean {
    const present = this.sessions.get(sessionId);
    if (present === undefined) return false;
    if (typeof present === "string") {
      if (present !== userId) return false;
      this.sessions.delete(sessionId);
      return true;
    }
    if (!present.delete(userId)) return false;
    this.shrink(sessionId, present);
    return true;
  }

  /** The sessions where the user is present. */
  sessionsOf(userId: string): string[] {
    const out: string[] = [];
    for (const [sessionId, present] of this.sessions) if (typeof present === "string" ? present === userId : present.has(userId)) out.push(sessionId);
    return out;
  }

  users(sessionId: string): string[] {
    const present = this.sessions.get(sessionId);
    if (present === undefined) return [];
    return typeof present === "string" ? [present] : [...present.keys()];
  }

  clear(sessionId: string): void {
    this.sessions.delete(sessionId);
  }

  /** Total (session, user) pairs present; 0 once every client is gone. */
  get size(): number {
    let total = 0;
    for (const present of this.sessions.values()) total += typeof present === "string" ? 1 : present.size;
    return total;
  }

  private expand(sessionId: string, userId: string): Map<string, number> {
    const users = new Map([[userId, 1]]);
    this.sessions.set(sessionId, users);
    return users;
  }

  /** Back to the inline form when one user with one connection is left; gone when nobody is. */
  private shrink(sessionId: string, users: Map<string, number>): void {
    if (users.size === 0) this.sessions.delete(sessionId);
    else if (users.size === 1) {
      const [only, n] = users.entries().next().value as [string, number];
      if (n === 1) this.sessions.set(sessionId, only);
    }
  }
}

/**
 * Presence behind the seam (after centrifuge's PresenceManager): counted per user across connections, and with
 * several nodes across nodes. `Presence` above is the in-process one; redis/presence.ts shares it between nodes.
 * Answers may come later (a shared presence asks its server).
 */
export interface PresenceManager {
  /** One more connection of the user; true when the user just became present (on no node before). */
  attach(sessionId: string, userId: string): boolean | PromiseLike<boolean>;
  /** One connection fewer; true when the user's last connection on any node left. */
  detach(sessionId: string, userId: string): boolean | PromiseLike<boolean>;
  /** Drops the user whatever their connection count (an erased user); true if they were present. */
  remove(sessionId: string, userId: string): boolean | PromiseLike<boolean>;
  users(sessionId: string): string[] | PromiseLike<string[]>;
  sessionsOf(userId: string): string[] | PromiseLike<string[]>;
  clear(sessionId: string): void | PromiseLike<void>;
}
