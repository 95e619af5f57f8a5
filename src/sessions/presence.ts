// Who is present in each session, counted per user across all of their connections and transports (pure), and
// with several nodes the same across nodes through a shared PresenceManager (SharedPresence).
import { isPending } from "./awaitable.ts";

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

  /** Whether the user has a connection counted in the session. */
  has(sessionId: string, userId: string): boolean {
    const present = this.sessions.get(sessionId);
    return present === undefined ? false : typeof present === "string" ? present === userId : present.has(userId);
  }

  /** Whether anyone is present in the session. */
  occupied(sessionId: string): boolean {
    return this.sessions.has(sessionId);
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

/** What SharedPresence tells the session service; each join and leave is told on one node only. */
export interface SharedPresenceListener {
  /** The user became present: their first connection on any node is one of this node's. */
  joined(sessionId: string, userId: string): void;
  /**
   * The user is present nowhere any more, and this node is the one told: their last connection (here) went
   * (`detached`), they were removed (an erased user: not `detached`), or their node died (`detached`).
   */
  left(sessionId: string, userId: string, detached: boolean): void;
  /** A call to the manager failed or threw (it answers from its own view meanwhile). */
  error(error: unknown): void;
}

/** How long a mirror read ahead of a join is kept when no connection of this node follows the session. */
const SEED_MS = 30_000;

/**
 * Presence with several nodes. This node's connections are counted here (a `Presence`); the cluster's count is the
 * manager's (redis/presence.ts), and only its answers make a join or a leave, so each is told once across the
 * nodes. Reads stay synchronous: `users` answers from a mirror of who is present on any node, kept for the sessions
 * this node follows (a connection here, or a join about to attach one), seeded by one read of the manager and kept
 * up to date from the other nodes' presence frames (`heard`). The manager is told only when a user's first or
 * last connection on this node comes or goes.
 */
export class SharedPresence {
  private readonly local = new Presence();
  private readonly anywhere = new Map<string, Set<string>>();
  /** Mirrors being filled by their first read, with who left meanwhile (the read may predate their leaving). */
  private readonly reading = new Map<string, { left: Set<string>; done: Promise<void> }>();
  /** Mirrors read ahead of a join and not followed yet, oldest first, with when they were read. */
  private readonly seeded = new Map<string, number>();

  constructor(
    private readonly manager: PresenceManager,
    private readonly listener: SharedPresenceListener,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Whether `users(sessionId)` is the cluster's as last heard (a read ahead is done, or the session is followed). */
  known(sessionId: string): boolean {
    return this.anywhere.has(sessionId) && !this.reading.has(sessionId);
  }

  /** Reads who is present anywhere, ahead of a join on this node (see known); never rejects. */
  follow(sessionId: string): Promise<void> {
    const inFlight = this.reading.get(sessionId);
    if (inFlight) return inFlight.done;
    if (this.anywhere.has(sessionId)) return Promise.resolve();
    this.prune();
    this.seeded.set(sessionId, this.now());
    return this.read(sessionId);
  }

  /** One more connection of this node; false: a join is told later, by the node the manager names (see listener). */
  attach(sessionId: string, userId: string): boolean {
    if (!this.anywhere.has(sessionId)) void this.read(sessionId);
    this.seeded.delete(sessionId);
    const first = this.local.attach(sessionId, userId);
    this.add(sessionId, userId);
    if (first) this.ask(() => this.manager.attach(sessionId, userId), (joined) => joined && this.listener.joined(sessionId, userId));
    return false;
  }

  /** One connection of this node fewer; false: a leave is told later, if it was the user's last anywhere. */
  detach(sessionId: string, userId: string): boolean {
    if (!this.local.detach(sessionId, userId)) return false;
    this.ask(
      () => this.manager.detach(sessionId, userId),
      (left) => {
        if (left) {
          this.drop(sessionId, userId);
          this.listener.left(sessionId, userId, true);
        }
        this.unfollowIfIdle(sessionId);
      },
      () => this.unfollowIfIdle(sessionId),
    );
    return false;
  }

  /** Drops the user's connections of this node (an erased user), and theirs on every node from the manager. */
  remove(sessionId: string, userId: string): boolean {
    if (!this.local.remove(sessionId, userId)) return false;
    this.ask(
      () => this.manager.remove(sessionId, userId),
      (removed) => {
        if (removed) {
          this.drop(sessionId, userId);
          this.listener.left(sessionId, userId, false);
        }
        this.unfollowIfIdle(sessionId);
      },
      () => this.unfollowIfIdle(sessionId),
    );
    return false;
  }

  /** Who is present on any node, as last heard; this node's own connections for a session it does not follow. */
  users(sessionId: string): string[] {
    const users = this.anywhere.get(sessionId);
    return users ? [...users] : this.local.users(sessionId);
  }

  /** Who is present on any node, asked of the manager (before a decision that must not rest on a mirror). */
  usersAnywhere(sessionId: string): string[] | PromiseLike<string[]> {
    return this.manager.users(sessionId);
  }

  /** The sessions where the user has a connection of this node. */
  sessionsOf(userId: string): string[] {
    return this.local.sessionsOf(userId);
  }

  /** (session, user) pairs with a connection of this node. */
  get size(): number {
    return this.local.size;
  }

  /** This node ended or erased the session: nobody is present in it, here or anywhere. */
  clear(sessionId: string): void {
    this.unfollow(sessionId);
    this.ask(() => this.manager.clear(sessionId), () => {});
  }

  /**
   * Another node ended or erased the session (and cleared it in the manager): this node forgets it too. The
   * manager is told again only when this node had connections there (so it drops what it holds for them).
   */
  forget(sessionId: string): void {
    const had = this.local.occupied(sessionId);
    this.unfollow(sessionId);
    if (had) this.ask(() => this.manager.clear(sessionId), () => {});
  }

  /** A presence frame from another node: the mirror follows it (sessions not followed here are not mirrored). */
  heard(sessionId: string, userId: string, event: "join" | "leave"): void {
    if (event === "join") this.add(sessionId, userId);
    else this.drop(sessionId, userId);
  }

  /** The manager found the user's node dead and told this node alone: the leave is told from here. */
  leftWithNode(sessionId: string, userId: string): void {
    this.drop(sessionId, userId);
    this.listener.left(sessionId, userId, true);
  }

  /** The manager put back this node's connections (it had lost them): the user is present again, told from here. */
  rejoined(sessionId: string, userId: string): void {
    this.add(sessionId, userId);
    this.listener.joined(sessionId, userId);
  }

  private read(sessionId: string): Promise<void> {
    const users = new Set<string>();
    const left = new Set<string>();
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const entry = { left, done };
    this.anywhere.set(sessionId, users);
    this.reading.set(sessionId, entry);
    const settle = () => {
      if (this.reading.get(sessionId) === entry) this.reading.delete(sessionId);
      finish();
    };
    this.ask(
      () => this.manager.users(sessionId),
      (present) => {
        // Dropped meanwhile (ended, or nobody here followed it): nothing to fill.
        if (this.anywhere.get(sessionId) === users) for (const u of present) if (!left.has(u)) users.add(u);
        settle();
      },
      settle,
    );
    return done;
  }

  private add(sessionId: string, userId: string): void {
    this.anywhere.get(sessionId)?.add(userId);
    this.reading.get(sessionId)?.left.delete(userId);
  }

  /** Gone from the mirror, unless a connection of this node still holds them (then the news is stale). */
  private drop(sessionId: string, userId: string): void {
    if (this.local.has(sessionId, userId)) return;
    this.anywhere.get(sessionId)?.delete(userId);
    this.reading.get(sessionId)?.left.add(userId);
  }

  private unfollow(sessionId: string): void {
    this.local.clear(sessionId);
    this.anywhere.delete(sessionId);
    this.reading.delete(sessionId);
    this.seeded.delete(sessionId);
  }

  /** No connection of this node follows the session any more: its mirror goes (frames for it are not kept). */
  private unfollowIfIdle(sessionId: string): void {
    if (this.local.occupied(sessionId) || this.seeded.has(sessionId)) return;
    this.anywhere.delete(sessionId);
    this.reading.delete(sessionId);
  }

  /** Mirrors read ahead of joins that never attached (refused, or the connection went) go after SEED_MS. */
  private prune(): void {
    const cutoff = this.now() - SEED_MS;
    for (const [sessionId, at] of this.seeded) {
      if (at > cutoff) break;
      this.seeded.delete(sessionId);
      this.unfollowIfIdle(sessionId);
    }
  }

  /** `next` with the manager's answer, now or once it arrives; a failure goes to `fallback` and the listener. */
  private ask<T>(call: () => T | PromiseLike<T>, next: (answer: T) => unknown, fallback: () => void = () => {}): void {
    const failed = (error: unknown) => {
      this.report(error);
      fallback();
    };
    let answer: T | PromiseLike<T>;
    try {
      answer = call();
    } catch (error) {
      return failed(error);
    }
    const use = (value: T) => {
      try {
        next(value);
      } catch (error) {
        this.report(error);
      }
    };
    if (isPending(answer)) answer.then(use, failed);
    else use(answer);
  }

  private report(error: unknown): void {
    try {
      this.listener.error(error);
    } catch {
      // A reporter that throws must not stop presence.
    }
  }
}
