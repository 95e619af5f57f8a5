// Rooms that carry on: connections (WebSocket, and SSE streams until they are told) that were in a room's session when it ended (or that joined an ended
// session of a room) follow the room, and are told once with `room.session` when it has an active session they
// may see. The one owner of that bookkeeping; emptied as connections close, leave, or move on.
import { CloseCode } from "../protocol/errors.ts";
import type { SessionInfo } from "../protocol/types.ts";
import { canAccess } from "../sessions/access.ts";
import type { SessionEvents } from "../sessions/events.ts";
import type { Connection } from "./hub.ts";

export interface RoomFollowersOptions {
  /** Rooms one connection may follow at once (MAX_SESSIONS_PER_CONNECTION); past it, no more are followed. */
  maxRoomsPerConnection: number;
}

export class RoomFollowers {
  /** room → following connection → the ended session it was in (so a `leave` of that session stops the follow). */
  private readonly byRoom = new Map<string, Map<Connection, string>>();
  private readonly byConnection = new Map<Connection, Set<string>>();

  constructor(private readonly options: RoomFollowersOptions) {}

  /** Told of every session that opens or changes: a room's followers who may see it hear of it now. */
  listen(events: SessionEvents): void {
    events.on("session.started", ({ session }) => this.offer(session));
    events.on("session.updated", ({ session }) => this.offer(session));
  }

  /** The connection follows `room`, having been in its ended session `endedSessionId`. */
  follow(conn: Connection, room: string, endedSessionId: string): void {
    if (conn.closing) return;
    let rooms = this.byConnection.get(conn);
    if (!rooms) {
      rooms = new Set();
      this.byConnection.set(conn, rooms);
    }
    if (!rooms.has(room) && rooms.size >= this.options.maxRoomsPerConnection) return;
    rooms.add(room);
    let followers = this.byRoom.get(room);
    if (!followers) {
      followers = new Map();
      this.byRoom.set(room, followers);
    }
    followers.set(conn, endedSessionId);
  }

  /** Stops following the room (the connection joined it again by itself, or was told of its next session). */
  unfollow(conn: Connection, room: string): void {
    const followers = this.byRoom.get(room);
    if (followers?.delete(conn) && followers.size === 0) this.byRoom.delete(room);
    const rooms = this.byConnection.get(conn);
    if (rooms?.delete(room) && rooms.size === 0) this.byConnection.delete(conn);
  }

  /** The connection left `sessionId`: a room followed because of that ended session is no longer followed. */
  leave(conn: Connection, sessionId: string): void {
    for (const room of [...(this.byConnection.get(conn) ?? [])]) {
      if (this.byRoom.get(room)?.get(conn) === sessionId) this.unfollow(conn, room);
    }
  }

  /** The connection closed. */
  forget(conn: Connection): void {
    for (const room of [...(this.byConnection.get(conn) ?? [])]) this.unfollow(conn, room);
  }

  isFollowing(conn: Connection, room: string): boolean {
    return this.byRoom.get(room)?.has(conn) ?? false;
  }

  /** Connections following some room, for tests and the admin view. */
  get size(): number {
    return this.byConnection.size;
  }

  /**
   * Sends `room.session` for an active room session to each follower of its room who may see it, and ends their
   * follow. Followers who may not see it (yet: a private session the owner then opens) keep following.
   */
  offer(session: SessionInfo, only?: Connection): void {
    if (session.status !== "active" || session.room === undefined) return;
    const followers = this.byRoom.get(session.room);
    if (!followers) return;
    const subject = { id: session.id, room: session.room, ownerId: session.ownerId, access: session.access, members: session.members };
    let frame: string | undefined;
    for (const conn of [...followers.keys()]) {
      if (only !== undefined && conn !== only) continue;
      if (conn.closing || !canAccess(conn.principal, subject)) continue;
      frame ??= JSON.stringify({ type: "room.session", room: session.room, session });
      this.unfollow(conn, session.room);
      conn.link.send(frame, "room.session");
      // An SSE stream carries one session: it ends here, and the client opens the next session's stream.
      if (conn.transport === "sse") conn.link.close(CloseCode.normal, "the room moved on");
    }
  }
}
