// Turns domain events into frames for every subscriber of a session: serialized once, published once to the
// session's Bun topic, and written to the session's SSE subscribers. Closes consumers that fall behind.
import { CloseCode } from "../protocol/errors.ts";
import type { SessionInfo } from "../protocol/types.ts";
import { canAccess, withoutAnalysisMetrics } from "../sessions/access.ts";
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
  /** Told of a session that ended and the connections subscribed to it, before they are unsubscribed. */
  onSessionEnded?: (session: SessionInfo, subscribers: readonly Connection[]) => void;
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
    // Assistant replies: every frame serialized once, like messages; a client that missed some recovers with since.
    events.on("stream.started", ({ sessionId, stream }) => {
      this.broadcast(sessionId, JSON.stringify({ type: "stream.start", session: sessionId, stream }), "stream.start");
    });
    events.on("stream.delta", ({ sessionId, streamId, offset, text, part }) => {
      const frame = { type: "stream.delta", session: sessionId, stream: streamId, offset, text, ...(part && { part }) };
      this.broadcast(sessionId, JSON.stringify(frame), "stream.delta");
    });
    events.on("stream.ended", ({ sessionId, streamId, status, seq }) => {
      const frame = { type: "stream.end", session: sessionId, stream: streamId, status, ...(seq !== undefined && { seq }) };
      this.broadcast(sessionId, JSON.stringify(frame), "stream.end");
    });
    // Analyses: to the session's subscribers who may see them (canSeeAnalysis); published once when everyone may.
    events.on("analysis.stored", ({ sessionId, seq, analysis, share }) => {
      const frame = () => JSON.stringify({ type: "analysis", session: sessionId, seq, analysis });
      if (share === "all") return this.broadcast(sessionId, frame(), "analysis");
      // Serialized only when a staff member is watching (usually nobody is).
      const staff = [...this.staffSubscribers(sessionId)];
      if (staff.length > 0) this.sendEach(staff, frame(), "analysis");
    });
    // Alerts: every connection of a staff user, whether it joined anything or not.
    events.on("alert.raised", ({ alert }) => this.sendEach(this.hub.staff(), JSON.stringify({ type: "alert", alert }), "alert"));
    events.on("alert.updated", ({ alert }) => this.sendEach(this.hub.staff(), JSON.stringify({ type: "alert.updated", alert }), "alert.updated"));
    events.on("presence.changed", ({ sessionId, userId, event }) => {
      this.broadcast(sessionId, JSON.stringify({ type: "presence", session: sessionId, userId, event }), "presence");
    });
    events.on("session.updated", ({ session }) => {
      const everyone = withoutAnalysisMetrics(session);
      if (everyone === session || session.analysis.share === "all") this.broadcast(session.id, JSON.stringify({ type: "session", session }), "session");
      else {
        // Sentiment and risk are analysis results: staff read them, the others read them as null (see sessionView).
        const full = JSON.stringify({ type: "session", session });
        const masked = JSON.stringify({ type: "session", session: everyone });
        for (const conn of [...this.hub.subscribers(session.id)]) this.sendEach([conn], conn.principal.staff ? full : masked, "session");
      }
      this.dropUnauthorized(session, service);
    });
    events.on("session.ended", ({ session, status }) => {
      this.broadcast(session.id, JSON.stringify({ type: "session.status", session: session.id, status }), "session.status");
      const subscribers = [...this.hub.subscribers(session.id)];
      this.options.onSessionEnded?.(session, subscribers);
      for (const conn of subscribers) {
        this.hub.unsubscribe(conn, session.id);
        // An SSE stream carries one session: nothing more will come on it — except, for a room's session, the
        // `room.session` event naming the room's next one (the stream closes after it; see RoomFollowers.offer).
        if (conn.transport === "sse" && session.room === undefined) conn.link.close(CloseCode.normal, "session ended");
      }
    });
    events.on("session.erased", ({ sessionId }) => {
      this.broadcast(sessionId, JSON.stringify({ type: "session.status", session: sessionId, status: "erased" }), "session.status");
      for (const conn of [...this.hub.subscribers(sessionId)]) {
        this.hub.unsubscribe(conn, sessionId);
        if (conn.transport === "sse") conn.link.close(CloseCode.normal, "session erased");
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

  /** Sends one frame to each connection; one that is not keeping up is closed like any slow consumer. */
  private sendEach(conns: Iterable<Connection>, frame: string, event: string): void {
    for (const conn of conns) {
      if (conn.closing) continue;
      if (!conn.link.send(frame, event) && conn.link.bufferedBytes() > this.options.slowConsumerBytes) this.closeSlow(conn);
    }
  }

  /** The session's subscribers that are staff, walking whichever of the two sets is smaller. */
  private *staffSubscribers(sessionId: string): Generator<Connection> {
    const subscribers = this.hub.subscribers(sessionId);
    const staff = this.hub.staff();
    if (staff.size <= subscribers.size) {
      for (const conn of [...staff]) if (conn.sessions.has(sessionId)) yield conn;
    } else {
      for (const conn of [...subscribers]) if (conn.principal.staff) yield conn;
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
