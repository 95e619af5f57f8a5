// Who is present in each session, counted per user across all of their connections and transports (pure).

export class Presence {
  private readonly sessions = new Map<string, Map<string, number>>();

  /** Counts one more connection of `userId` in the session; true when the user just became present. */
  attach(sessionId: string, userId: string): boolean {
    let users = this.sessions.get(sessionId);
    if (!users) {
      users = new Map();
      this.sessions.set(sessionId, users);
    }
    const n = users.get(userId) ?? 0;
    users.set(userId, n + 1);
    return n === 0;
  }

  /** Counts one connection fewer; true when the user's last connection left. False if it was not attached. */
  detach(sessionId: string, userId: string): boolean {
    const users = this.sessions.get(sessionId);
    const n = users?.get(userId);
    if (!users || n === undefined) return false;
    if (n > 1) {
      users.set(userId, n - 1);
      return false;
    }
    users.delete(userId);
    if (users.size === 0) this.sessions.delete(sessionId);
    return true;
  }

  /** Drops the user from the session whatever their connection count (an erased user); true if they were present. */
  remove(sessionId: string, userId: string): boolean {
    const users = this.sessions.get(sessionId);
    if (!users?.delete(userId)) return false;
    if (users.size === 0) this.sessions.delete(sessionId);
    return true;
  }

  /** The sessions where the user is present. */
  sessionsOf(userId: string): string[] {
    const out: string[] = [];
    for (const [sessionId, users] of this.sessions) if (users.has(userId)) out.push(sessionId);
    return out;
  }

  users(sessionId: string): string[] {
    return [...(this.sessions.get(sessionId)?.keys() ?? [])];
  }

  clear(sessionId: string): void {
    this.sessions.delete(sessionId);
  }

  /** Total (session, user) pairs present; 0 once every client is gone. */
  get size(): number {
    let total = 0;
    for (const users of this.sessions.values()) total += users.size;
    return total;
  }
}
