// Turns domain events into frames for every subscriber of a session: serialized once, published once to the
// session's Bun topic, and written to the session's SSE subscribers. Closes consumers that fall behind.
import { CloseCode } from "../protocol/errors.ts";
import type { SessionInfo } from "../protocol/types.ts";
import { canAccess } from "../sessions/access.ts";
import type { SessionEvents } from "../sessions/events.ts";
import type { SessionService } from "../sessions/session-service.ts";
import type { Connection, Hub } from "./hub.ts";
import { errorFrame } from "./frames.ts";

export const topicOf = (sessionId: string): string => `s:${sessionId}`;

export interface FanoutOptions {
  /** A subscriber with more than this many bytes queued is closed with 4002. */
  slowConsumerBytes: number;
  /** Publishes to a Bun topic; returns Bun's status (bytes, -1 backpressure, 0 dropped). */
  publish: (topic: string, frame: string) => number;
  onSlowConsumer?: (conn: Connection) => void;
}

export class Fanout {
  private readonly scans = new Set<string>();

  constructor(
    private readonly hub: Hub,
    private readonly options: FanoutOptions,
  ) {}

  /** Wires the domain events this module reacts to. */
  listen(events: SessionEvents, service: SessionService): void {
    events.on("message.committed", ({ message }) => {
      this.broadcast(message.session, JSON.stringify({ type: "message", session: message.session, message }), "message", message.seq);
    });
    events.on("presence.changed", ({ sessionId, userId, event }) => {
      this.broadcast(sessionId, JSON.stringify({ type: "presence", session: sessionId, userId, event }), "presence");
    });
    events.on("session.updated", ({ session }) => {
      this.broadcast(session.id, JSON.stringify({ type: "session", session }), "session");
      this.dropUnauthorized(session, service);
    });
    events.on("session.ended", ({ session, status }) => {
      this.broadcast(session.id, JSON.stringify({ type: "session.status", session: session.id, status }), "session.status");
      for (const conn of [...this.hub.subscribers(session.id)]) {
        this.hub.unsubscribe(conn, session.id);
        // An SSE stream carries one session: nothing more will come on it.
        if (conn.transport === "sse") conn.link.close(CloseCode.normal, "session ended");
      }
    });
  }

  broadcast(sessionId: string, frame: string, event: string, id?: number): void {
    const status = this.options.publish(topicOf(sessionId), frame);
    // Bun reports the worst status over all subscribers; never re-publish (healthy ones would get duplicates).
    if (status <= 0) this.scheduleScan(sessionId);
    for (const conn of this.hub.sseSubscribers(sessionId)) {
      if (!conn.link.send(frame, event, id)) this.scheduleScan(sessionId);
    }
  }

  /** Closes the session's subscribers that have more queued than allowed; at most once per tick per session. */
  private scheduleScan(sessionId: string): void {
    if (this.scans.has(sessionId)) return;
    this.scans.add(sessionId);
    queueMicrotask(() => {
      this.scans.delete(sessionId);
      for (const conn of this.hub.subscribers(sessionId)) {
        if (!conn.closing && conn.link.bufferedBytes() > this.options.slowConsumerBytes) this.closeSlow(conn);
      }
    });
  }

  closeSlow(conn: Connection): void {
    conn.closing = true;
    this.options.onSlowConsumer?.(conn);
    conn.link.close(CloseCode.slowConsumer, "slow consumer: reconnect and recover with since");
  }

  /** After access or members changed, a subscriber who lost access stops receiving the session. */
  private dropUnauthorized(session: SessionInfo, service: SessionService): void {
    const subject = { id: session.id, room: session.room ?? null, ownerId: session.ownerId, access: session.access, members: session.members };
    for (const conn of [...this.hub.subscribers(session.id)]) {
      if (canAccess(conn.principal, subject)) continue;
      this.hub.unsubscribe(conn, session.id);
      service.detach(session.id, conn.principal.userId);
      conn.link.send(errorFrame("forbidden", "You no longer have access to this session.", undefined, session.id), "error");
    }
  }
}
