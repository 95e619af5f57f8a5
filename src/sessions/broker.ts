// The broker seam (after centrifuge's Broker): what one node publishes for the subscribers of every node. Each
// node, the publishing one included, hears every event through the same handler that drives its fan-out, so one
// node and many behave alike. In-process (one node): InProcessBroker below. Several nodes: redis/broker.ts.
import type { Alert } from "../protocol/analysis.ts";
import type { Message, SessionInfo, SessionStatus } from "../protocol/types.ts";
import type { SessionEvents } from "./events.ts";

/**
 * What crosses nodes. `message` carries a committed message: per session in seq order without gaps, which the
 * receiving side checks (a gap is filled from storage before anything after it is delivered). `frame` events are
 * session-scoped and best-effort like the WebSocket frames they become (stream pieces, presence, analyses); a
 * client that misses one recovers from storage or the next snapshot. `session` changes also refresh every node's
 * cache. `alert` goes to every staff connection on every node. `user` erased: every node drops its cached copies of
 * the user's messages and closes the user's connections. `stream` cancel: the node streaming that reply stops it.
 */
export type BrokerEvent =
  | { type: "message"; message: Message }
  | { type: "session"; change: "updated"; session: SessionInfo }
  | { type: "session"; change: "ended"; session: SessionInfo; status: Exclude<SessionStatus, "active"> }
  | { type: "session"; change: "erased"; sessionId: string }
  | { type: "user"; change: "erased"; userId: string; sessions: string[] }
  | { type: "stream"; change: "cancel"; sessionId: string; streamId: string }
  | { type: "frame"; sessionId: string; frame: Record<string, unknown>; audience?: "all" | "staff" }
  | { type: "alert"; change: "raised" | "updated"; alert: Alert };

export interface BrokerHandler {
  /** Every event, from this node and every other, in the order this node received them. */
  deliver(event: BrokerEvent, origin: string): void;
  /**
   * The link to the other nodes was lost and is back: events may have been missed meanwhile, so every session's
   * next message must be checked against storage (what a gap fill does).
   */
  resubscribed?(): void;
}

export interface Broker {
  /** This node's id (unique per process), carried as `origin` with what it publishes. */
  readonly nodeId: string;
  /** Subscribes; resolves once events published from now on will be delivered to `handler`. */
  start(handler: BrokerHandler): Promise<void>;
  /**
   * Publishes to every node, this one included. Never throws: an event the link could not carry is counted and
   * logged by the implementation; receivers fill message gaps from storage.
   */
  publish(event: BrokerEvent): void;
  /** Unsubscribes and closes the link; publish after stop does nothing. */
  stop(): Promise<void>;
  /** Whether the link to the other nodes is up now (for /health); always true in-process. */
  healthy(): boolean;
}

/** One node: publishing is a direct call of the handler, in the same tick (today's single-node figures). */
export class InProcessBroker implements Broker {
  private handler: BrokerHandler | null = null;

  constructor(readonly nodeId: string = "local") {}

  async start(handler: BrokerHandler): Promise<void> {
    this.handler = handler;
  }

  publish(event: BrokerEvent): void {
    this.handler?.deliver(event, this.nodeId);
  }

  async stop(): Promise<void> {
    this.handler = null;
  }

  healthy(): boolean {
    return true;
  }
}

/**
 * Publishes the domain events every node's subscribers must hear. Frames are built here once, as plain objects
 * (serialized by the receiving fan-out), so every broker carries the same events.
 */
export function relayToBroker(events: SessionEvents, broker: Broker): void {
  events.on("message.committed", ({ message }) => broker.publish({ type: "message", message }));
  events.on("stream.started", ({ sessionId, stream }) => {
    broker.publish({ type: "frame", sessionId, frame: { type: "stream.start", session: sessionId, stream } });
  });
  events.on("stream.delta", ({ sessionId, streamId, offset, text, part }) => {
    const frame = { type: "stream.delta", session: sessionId, stream: streamId, offset, text, ...(part && { part }) };
    broker.publish({ type: "frame", sessionId, frame });
  });
  events.on("stream.ended", ({ sessionId, streamId, status, seq }) => {
    const frame = { type: "stream.end", session: sessionId, stream: streamId, status, ...(seq !== undefined && { seq }) };
    broker.publish({ type: "frame", sessionId, frame });
  });
  // Analyses go to the subscribers who may see them: everyone with share "all", else staff only (canSeeAnalysis).
  events.on("analysis.stored", ({ sessionId, seq, analysis, share }) => {
    broker.publish({ type: "frame", sessionId, frame: { type: "analysis", session: sessionId, seq, analysis }, audience: share === "all" ? "all" : "staff" });
  });
  events.on("alert.raised", ({ alert }) => broker.publish({ type: "alert", change: "raised", alert }));
  events.on("alert.updated", ({ alert }) => broker.publish({ type: "alert", change: "updated", alert }));
  events.on("presence.changed", ({ sessionId, userId, event }) => {
    broker.publish({ type: "frame", sessionId, frame: { type: "presence", session: sessionId, userId, event } });
  });
  events.on("session.updated", ({ session }) => broker.publish({ type: "session", change: "updated", session }));
  events.on("session.ended", ({ session, status }) => broker.publish({ type: "session", change: "ended", session, status }));
  events.on("session.erased", ({ sessionId }) => broker.publish({ type: "session", change: "erased", sessionId }));
  events.on("user.erased", ({ userId, sessions }) => broker.publish({ type: "user", change: "erased", userId, sessions }));
  events.on("stream.cancel_requested", ({ sessionId, streamId }) => broker.publish({ type: "stream", change: "cancel", sessionId, streamId }));
}
