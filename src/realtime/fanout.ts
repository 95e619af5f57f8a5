// Turns what the broker delivers into frames for every local subscriber of a session: serialized once, published
// once to the session's Bun topic, and written to the session's SSE subscribers. Closes consumers that fall behind.
import { CloseCode } from "../protocol/errors.ts";
import type { SessionInfo } from "../protocol/types.ts";
import { canAccess, withoutAnalysisMetrics } from "../sessions/access.ts";
import type { BrokerEvent, BrokerHandler } from "../sessions/broker.ts";
import type { SessionService } from "../sessions/session-service.ts";
import type { Connection, Hub } from "./hub.ts";
import { errorFrame } from "./frames.ts";
import { SeqGate, type SeqGateOptions } from "./seq-gate.ts";

export const topicOf = (sessionId: string): string => `s:${sessionId}`;

export interface FanoutOptions {
  /** A subscriber with more than this many bytes queued is closed with 4002. */
  slowConsumerBytes: number;
  /** Publishes to a Bun topic; returns Bun's status (bytes, -1 backpressure, 0 dropped). */
  publish: (topic: string, frame: string) => number;
  /** Committed messages after a seq, from storage: how a gap the broker left is filled (see SeqGate). */
  fill: SeqGateOptions["fill"];
  onFillError?: SeqGateOptions["onFillError"];
  onSlowConsumer?: (conn: Connection) => void;
  /** Told of a session that ended and the connections subscribed to it, before they are unsubscribed. */
  onSessionEnded?: (session: SessionInfo, subscribers: readonly Connection[]) => void;
  /**
   * This node's id (the broker's `nodeId`): events of any other origin also bring this node's session service up to
   * date (SessionService.applyRemote). @default "local", InProcessBroker's: one node, nothing else to hear
   */
  nodeId?: string;
}

/**
 * The broker's handler on this node: every event, this node's own included, becomes frames for the local
 * subscribers. Messages pass the SeqGate (in order, once, gaps filled from storage).
 */
export class Fanout implements BrokerHandler {
  private readonly scans = new Set<string>();
  private readonly gate: SeqGate;
  private readonly nodeId: string;

  constructor(
    private readonly hub: Hub,
    private readonly service: SessionService,
    private readonly options: FanoutOptions,
  ) {
    this.nodeId = options.nodeId ?? "local";
    this.gate = new SeqGate({
      fill: options.fill,
      onFillError: options.onFillError,
      deliver: (message) =>
        this.broadcast(message.session, JSON.stringify({ type: "message", session: message.session, message }), "message", message.seq),
    });
  }

  /** Sessions whose message order this node follows now (those with local subscribers). */
  get followed(): number {
    return this.gate.size;
  }

  /**
   * A connection subscribed after reading the session's history up to `lastSeq`: messages at or below it are not
   * delivered again, and one missing above it is read from storage.
   */
  watch(sessionId: string, lastSeq: number): void {
    this.gate.watch(sessionId, lastSeq, this.hub.subscribers(sessionId).size <= 1);
  }

  deliver(event: BrokerEvent, origin: string = this.nodeId): void {
    // Another node's event: the service's copy of the session follows first, then this node's subscribers hear it.
    if (origin !== this.nodeId) this.service.applyRemote(event);
    switch (event.type) {
      case "message": {
        const id = event.message.session;
        // Nobody here follows the session: nothing to send, and no order to keep until someone joins.
        if (this.hub.subscribers(id).size === 0) return this.gate.forget(id);
        return this.gate.offer(event.message);
      }
      case "frame": {
        const { sessionId, frame } = event;
        const type = frame.type as string;
        if (type === "presence") return this.presence(sessionId, frame);
        if (event.audience !== "staff") return this.broadcast(sessionId, JSON.stringify(frame), type);
        // Serialized only when a staff member is watching (usually nobody is).
        const staff = [...this.staffSubscribers(sessionId)];
        if (staff.length > 0) this.sendEach(staff, JSON.stringify(frame), type);
        return;
      }
      case "alert": {
        const type = event.change === "raised" ? "alert" : "alert.updated";
        return this.sendEach(this.hub.staff(), JSON.stringify({ type, alert: event.alert }), type);
      }
      case "session":
        if (event.change === "updated") return this.updated(event.session);
        if (event.change === "ended") return this.ended(event.session, event.status);
        return this.erased(event.sessionId);
      case "user":
        // The erasing node closed the user's connections there; these are the ones here.
        if (origin === this.nodeId) return;
        for (const conn of [...this.hub.all()]) if (conn.principal.userId === event.userId) conn.link.close(CloseCode.forbidden, "user erased");
        return;
    }
  }

  /**
   * Presence goes to everyone but the user it is about: on one node the joiner subscribes after its own arrival
   * was told, and with shared presence (told later, through the broker) it must not hear of itself either.
   */
  private presence(sessionId: string, frame: Record<string, unknown>): void {
    const subscribers = this.hub.subscribers(sessionId);
    let own = false;
    for (const conn of subscribers) if (conn.principal.userId === frame.userId) own = true;
    if (!own) return this.broadcast(sessionId, JSON.stringify(frame), "presence");
    const others = [...subscribers].filter((conn) => conn.principal.userId !== frame.userId);
    if (others.length > 0) this.sendEach(others, JSON.stringify(frame), "presence");
  }

  /** The broker's link was back after an outage: every followed session is checked against storage. */
  resubscribed(): void {
    this.gate.recheckAll();
  }

  private updated(session: SessionInfo): void {
    const everyone = withoutAnalysisMetrics(session);
    if (everyone === session || session.analysis.share === "all") this.broadcast(session.id, JSON.stringify({ type: "session", session }), "session");
    else {
      // Sentiment and risk are analysis results: staff read them, the others read them as null (see sessionView).
      const full = JSON.stringify({ type: "session", session });
      const masked = JSON.stringify({ type: "session", session: everyone });
      for (const conn of [...this.hub.subscribers(session.id)]) this.sendEach([conn], conn.principal.staff ? full : masked, "session");
    }
    this.dropUnauthorized(session);
  }

  private ended(session: SessionInfo, status: string): void {
    this.gate.forget(session.id);
    this.broadcast(session.id, JSON.stringify({ type: "session.status", session: session.id, status }), "session.status");
    const subscribers = [...this.hub.subscribers(session.id)];
    this.options.onSessionEnded?.(session, subscribers);
    for (const conn of subscribers) {
      this.hub.unsubscribe(conn, session.id);
      // An SSE stream carries one session: nothing more will come on it — except, for a room's session, the
      // `room.session` event naming the room's next one (the stream closes after it; see RoomFollowers.offer).
      if (conn.transport === "sse" && session.room === undefined) conn.link.close(CloseCode.normal, "session ended");
    }
  }

  private erased(sessionId: string): void {
    this.gate.forget(sessionId);
    this.broadcast(sessionId, JSON.stringify({ type: "session.status", session: sessionId, status: "erased" }), "session.status");
    for (const conn of [...this.hub.subscribers(sessionId)]) {
      this.hub.unsubscribe(conn, sessionId);
      if (conn.transport === "sse") conn.link.close(CloseCode.normal, "session erased");
    }
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
  private dropUnauthorized(session: SessionInfo): void {
    const subject = { id: session.id, room: session.room ?? null, ownerId: session.ownerId, access: session.access, members: session.members };
    for (const conn of [...this.hub.subscribers(session.id)]) {
      if (canAccess(conn.principal, subject)) continue;
      this.hub.unsubscribe(conn, session.id);
      this.service.detach(session.id, conn.principal.userId);
      conn.link.send(errorFrame("forbidden", "You no longer have access to this session.", undefined, session.id), "error");
    }
  }
}
