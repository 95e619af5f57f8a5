// The registry of live connections (WebSocket and SSE) and which sessions each has joined. The one owner of
// subscription bookkeeping: counts here must return to zero when clients go away.
import type { Principal } from "../sessions/access.ts";
import { SmallSet, type Members } from "../sessions/small-set.ts";

export type Transport = "ws" | "sse";

/** What a transport must offer the hub: deliver one serialized frame, and close. */
export interface ConnectionLink {
  /**
   * Sends an already serialized frame; returns false when the peer is not keeping up.
   * `event` is the frame's type and `id` a message's seq, for transports that label frames (SSE).
   */
  send(frame: string, event?: string, id?: number): boolean;
  close(code: number, reason: string): void;
  /** Bytes queued for the peer and not yet written. */
  bufferedBytes(): number;
  /** Joins the transport's own fan-out for the session, where it has one (Bun topics for WebSocket). */
  subscribe?(sessionId: string): void;
  unsubscribe?(sessionId: string): void;
}

/** The link of a connection whose transport is not attached yet (between upgrade and open). */
export const DETACHED_LINK: ConnectionLink = { send: () => false, close: () => {}, bufferedBytes: () => 0 };

export interface Connection {
  id: string;
  principal: Principal;
  transport: Transport;
  remoteAddress: string;
  connectedAt: number;
  lastSeen: number;
  /** Token expiry, epoch seconds (Infinity when authentication is off). */
  tokenExp: number;
  /** The sessions it joined (most connections join one: a SmallSet keeps that one inline). */
  sessions: SmallSet<string>;
  link: ConnectionLink;
  /** Set once the server decided to close it; nothing more is sent. */
  closing: boolean;
}

export class Hub {
  private readonly connections = new Map<string, Connection>();
  private readonly bySession = new Map<string, SmallSet<Connection>>();
  /** The SSE subset, so fan-out reaches SSE subscribers without walking the WebSocket ones. */
  private readonly sseBySession = new Map<string, SmallSet<Connection>>();
  private readonly byUser = new Map<string, number>();
  /** Connections of staff users (admins, moderators): alerts go to every one of them without a join. */
  private readonly staffConnections = new Set<Connection>();

  get size(): number {
    return this.connections.size;
  }

  /** Total (connection, session) subscriptions. */
  get subscriptions(): number {
    let n = 0;
    for (const set of this.bySession.values()) n += set.size;
    return n;
  }

  connectionsOf(userId: string): number {
    return this.byUser.get(userId) ?? 0;
  }

  add(conn: Connection): void {
    this.connections.set(conn.id, conn);
    this.byUser.set(conn.principal.userId, this.connectionsOf(conn.principal.userId) + 1);
    if (conn.principal.staff) this.staffConnections.add(conn);
  }

  /** After a connection's principal changed (a refreshed token may carry another role): its staff membership. */
  refresh(conn: Connection): void {
    if (!this.connections.has(conn.id)) return;
    if (conn.principal.staff) this.staffConnections.add(conn);
    else this.staffConnections.delete(conn);
  }

  /** Every open connection of a staff user. */
  staff(): ReadonlySet<Connection> {
    return this.staffConnections;
  }

  /** Forgets the connection; returns the sessions it had joined (for presence). */
  remove(conn: Connection): string[] {
    if (!this.connections.delete(conn.id)) return [];
    this.staffConnections.delete(conn);
    const n = this.connectionsOf(conn.principal.userId) - 1;
    if (n > 0) this.byUser.set(conn.principal.userId, n);
    else this.byUser.delete(conn.principal.userId);
    const joined = [...conn.sessions];
    for (const id of joined) this.unsubscribe(conn, id);
    return joined;
  }

  subscribe(conn: Connection, sessionId: string): void {
    conn.sessions.add(sessionId);
    conn.link.subscribe?.(sessionId);
    addTo(this.bySession, sessionId, conn);
    if (conn.transport === "sse") addTo(this.sseBySession, sessionId, conn);
  }

  unsubscribe(conn: Connection, sessionId: string): boolean {
    const had = conn.sessions.delete(sessionId);
    if (had && !conn.closing) conn.link.unsubscribe?.(sessionId);
    removeFrom(this.bySession, sessionId, conn);
    if (conn.transport === "sse") removeFrom(this.sseBySession, sessionId, conn);
    return had;
  }

  subscribers(sessionId: string): Members<Connection> {
    return this.bySession.get(sessionId) ?? EMPTY;
  }

  sseSubscribers(sessionId: string): Members<Connection> {
    return this.sseBySession.get(sessionId) ?? EMPTY;
  }

  all(): IterableIterator<Connection> {
    return this.connections.values();
  }
}

const EMPTY: Members<Connection> = new SmallSet<Connection>();

function addTo(map: Map<string, SmallSet<Connection>>, key: string, conn: Connection): void {
  let set = map.get(key);
  if (!set) {
    set = new SmallSet();
    map.set(key, set);
  }
  set.add(conn);
}

function removeFrom(map: Map<string, SmallSet<Connection>>, key: string, conn: Connection): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(conn);
  if (set.size === 0) map.delete(key);
}
