// The WebSocket transport: admission and authentication before the upgrade, then protocol v1 frames on Bun's
// native handlers. Every hook is wrapped so nothing throws into Bun; handlers stay synchronous up to the point
// where order is fixed (the append is queued), so frames from one socket are applied in the order they came.
import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import type { Authenticator } from "../auth/authenticator.ts";
import { errorResponse, jsonError } from "../protocol/http-errors.ts";
import type { ErrorReporter } from "../observability/sentry.ts";
import type { Logger } from "../observability/logger.ts";
import { errorFields } from "../observability/logger.ts";
import { CloseCode, SessiondError, isSessiondError } from "../protocol/errors.ts";
import { parseClientFrame, type ClientFrame, type FrameOf } from "../protocol/frames.ts";
import type { Clock } from "../sessions/clock.ts";
import type { JoinResult, SessionService } from "../sessions/session-service.ts";
import type { Admission } from "./admission.ts";
import { SmallSet } from "../sessions/small-set.ts";
import { isPending, type Awaitable } from "../sessions/awaitable.ts";
import { topicOf, type Fanout } from "./fanout.ts";
import { errorFrame, toErrorFrame } from "./frames.ts";
import { DeadlineHeap } from "./deadline-heap.ts";
import { DETACHED_LINK, type Connection, type ConnectionLink, type Hub } from "./hub.ts";
import type { RoomFollowers } from "./room-followers.ts";

export const PROTOCOL_NAME = "sessiond.v1";

export interface GatewayOptions {
  maxSessionsPerConnection: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  slowConsumerBytes: number;
}

export interface GatewayDeps {
  service: SessionService;
  hub: Hub;
  fanout: Fanout;
  authenticator: Authenticator;
  admission: Admission;
  logger: Logger;
  reporter: ErrorReporter;
  clock: Clock;
  options: GatewayOptions;
  /** Rooms that carry on: who follows a room whose session ended. */
  rooms?: RoomFollowers;
  /** Told of each frame received and each error code sent, for metrics. */
  onFrame?: (type: string) => void;
  onErrorSent?: (code: string) => void;
  onRefused?: (code: string) => void;
  /** Told of each connection that was refused (by code), whose upgrade failed, or that a hook closed with 1011. */
  onConnectionError?: (reason: string) => void;
}

interface WsData {
  conn: Connection;
  /** When the token expires (ms; Infinity: never), and this socket's place in the gateway's expiry heap. */
  expiresAt: number;
  expirySlot: number;
  /** Invalid frames in the current 10 s window; past the limit the socket is closed with 1008. */
  invalidCount: number;
  invalidWindowStart: number;
  /** When the server started closing it (0: open). A peer that never completes the close is dropped later. */
  closingAt: number;
  /**
   * Bytes of the server's own replies to joins (history, recovery pages) still counted as queued: they never count
   * toward the slow-consumer limit, so a client that reads is not closed for the size of what it asked for. Shrinks
   * to what is still queued whenever the socket drains.
   */
  replyBytes: number;
}

type Ws = ServerWebSocket<WsData>;

const INVALID_FRAME_LIMIT = 20;
/** What a message refused during the shutdown drain tells the client to wait: about a restart. */
const DRAIN_RETRY_AFTER_MS = 1000;
const INVALID_FRAME_WINDOW_MS = 10_000;
/** setTimeout's largest delay; longer token lifetimes are re-checked when it fires. */
const MAX_TIMER_MS = 2_147_483_647;

export class WebSocketGateway {
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  /** Set at shutdown: messages are refused with `unavailable` instead of queued behind the final flush. */
  private draining = false;
  /** Set at shutdown after the final flush: frames are no longer read, so the sockets' queues can empty. */
  private quiet = false;
  /** Open sockets by token expiry; one timer, armed for the earliest. */
  private readonly expiries = new DeadlineHeap<Ws>({
    at: (ws) => ws.data.expiresAt,
    slot: (ws) => ws.data.expirySlot,
    setSlot: (ws, slot) => {
      ws.data.expirySlot = slot;
    },
  });
  private expiryTimer: ReturnType<typeof setTimeout> | null = null;
  private expiryTimerAt = Infinity;
  /** Frames written from commit callbacks, per socket, until the batch's callbacks have all run (see queue). */
  private outbox = new Map<Ws, string | string[]>();
  private outboxScheduled = false;

  constructor(private readonly deps: GatewayDeps) {}

  /** Admits, authenticates and upgrades a request to /ws; returns a refusal response, or undefined on upgrade. */
  async upgrade(req: Request, server: Server<WsData>): Promise<Response | undefined> {
    const { admission, authenticator, hub, clock, logger } = this.deps;
    const url = new URL(req.url);
    const remoteAddress = admission.clientAddress(req, server);
    let reserved: Connection | null = null;
    try {
      if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
        return jsonError(426, "bad_request", "This endpoint speaks WebSocket: send an Upgrade: websocket request.");
      }
      admission.checkRequest(req, remoteAddress, clock.now());
      // Bun echoes the first offered subprotocol unless told otherwise, which would reflect a token sent that way.
      const offered = req.headers.get("sec-websocket-protocol");
      const protocols = offered?.split(",").map((p) => p.trim()) ?? [];
      if (offered !== null && !protocols.includes(PROTOCOL_NAME)) {
        throw new SessiondError("bad_request", `Unsupported WebSocket subprotocol; offer "${PROTOCOL_NAME}" or none.`);
      }
      const verified = await authenticator.fromRequest(req, url, { allowQueryToken: true });
      admission.checkCapacity(verified.principal.userId);
      const now = clock.now();
      const conn: Connection = {
        id: crypto.randomUUID(),
        principal: { ...verified.principal, address: remoteAddress },
        transport: "ws",
        remoteAddress,
        connectedAt: now,
        lastSeen: now,
        tokenExp: verified.exp,
        sessions: new SmallSet(),
        link: DETACHED_LINK,
        closing: false,
      };
      // Counted from here, so concurrent upgrades cannot overshoot the limits while this one completes.
      hub.add(conn);
      reserved = conn;
      const data: WsData = { conn, expiresAt: Infinity, expirySlot: -1, invalidCount: 0, invalidWindowStart: now, closingAt: 0, replyBytes: 0 };
      const headers = protocols.includes(PROTOCOL_NAME) ? { "Sec-WebSocket-Protocol": PROTOCOL_NAME } : undefined;
      if (!server.upgrade(req, { data, headers })) {
        hub.remove(conn);
        this.deps.onConnectionError?.("upgrade_failed");
        return jsonError(400, "bad_request", "Expected a WebSocket upgrade request.");
      }
      return undefined;
    } catch (e) {
      if (reserved) hub.remove(reserved);
      const code = isSessiondError(e) ? e.code : "internal";
      if (!isSessiondError(e)) this.report(e, { where: "ws.upgrade" });
      logger.info("connection.refused", { transport: "ws", remote: remoteAddress, code });
      this.deps.onRefused?.(code);
      this.deps.onConnectionError?.(code);
      return errorResponse(e);
    }
  }

  /** Bun's websocket handler set for Bun.serve. */
  readonly websocket: WebSocketHandler<WsData> = {
    open: (ws) => this.guard(ws, "ws.open", () => this.onOpen(ws)),
    message: (ws, raw) => this.guard(ws, "ws.message", () => this.onMessage(ws, raw)),
    close: (ws, code) => this.guard(ws, "ws.close", () => this.onClose(ws, code)),
    pong: (ws) => {
      ws.data.conn.lastSeen = this.deps.clock.now();
    },
    drain: (ws) => {
      const data = ws.data;
      if (data.replyBytes > 0) data.replyBytes = Math.min(data.replyBytes, ws.getBufferedAmount());
    },
  };

  /**
   * Pings every socket each interval and closes the ones silent for longer than the timeout. Bun's idleTimeout
   * cannot do this: every send to a socket re-arms it, so a dead subscriber of a busy session would never expire.
   */
  startHeartbeats(): void {
    const { heartbeatIntervalMs, heartbeatTimeoutMs } = this.deps.options;
    this.heartbeat = setInterval(() => {
      const now = this.deps.clock.now();
      for (const ws of this.openSockets()) {
        const data = ws.data;
        if (data.closingAt > 0) {
          // Any close the server started (timeout, 4001, 4002, reset) that a dead or stuck peer never completes.
          if (now - data.closingAt >= heartbeatIntervalMs) ws.terminate();
          continue;
        }
        if (now - data.conn.lastSeen > heartbeatTimeoutMs) {
          this.close(ws, CloseCode.heartbeatTimeout, "heartbeat timeout");
        } else {
          ws.ping();
        }
      }
    }, heartbeatIntervalMs);
  }

  /**
   * Starts the shutdown drain: every `message` frame from now on is answered `unavailable` (retryAfterMs), so the
   * final flush commits a closed set of messages whose acks can all be delivered before the 1001 close.
   */
  drain(): void {
    this.draining = true;
  }

  /**
   * The last step before the 1001 close: frames that still arrive are dropped unanswered (nothing of them was
   * stored; a client resends whatever it has no ack for after reconnecting), so replies stop adding to the queues
   * that flushed() waits to empty.
   */
  quiesce(): void {
    this.quiet = true;
  }

  /**
   * Resolves once every socket has handed what is queued for it to the kernel (acks and fan-out sent from the
   * commits' callbacks), or after `timeoutMs`. Polled: Bun has no per-server drain event.
   */
  async flushed(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      let queued = 0;
      for (const ws of this.openSockets()) {
        try {
          queued += ws.getBufferedAmount();
        } catch {
          // closed meanwhile
        }
      }
      if (queued === 0) return;
      await Bun.sleep(5);
    }
  }

  stop(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
  }

  /** Closes every socket with `code` (admin reset: 4003; shutdown: 1001). */
  closeAll(code: number, reason: string): number {
    let n = 0;
    for (const ws of [...this.openSockets()]) {
      this.close(ws, code, reason);
      n++;
    }
    return n;
  }

  private onOpen(ws: Ws): void {
    const conn = ws.data.conn;
    conn.link = new WsLink(ws, this.closeSocket);
    this.scheduleExpiry(ws);
    this.deps.logger.info("connection.open", { conn: conn.id, user: conn.principal.userId, transport: "ws", remote: conn.remoteAddress });
  }

  private onClose(ws: Ws, code: number): void {
    const { conn } = ws.data;
    conn.closing = true;
    this.expiries.delete(ws);
    this.deps.rooms?.forget(conn);
    for (const sessionId of this.deps.hub.remove(conn)) this.deps.service.detach(sessionId, conn.principal.userId);
    this.deps.logger.info("connection.close", {
      conn: conn.id,
      user: conn.principal.userId,
      transport: "ws",
      code,
      durationMs: this.deps.clock.now() - conn.connectedAt,
    });
  }

  private onMessage(ws: Ws, raw: string | Buffer): void {
    const data = ws.data;
    const conn = data.conn;
    conn.lastSeen = this.deps.clock.now();
    if (conn.closing || this.quiet) return;
    if (typeof raw !== "string") {
      this.invalid(ws, undefined, new SessiondError("bad_request", "Binary frames are not supported; send JSON in a text frame."));
      return;
    }
    const parsed = parseClientFrame(raw);
    if (!parsed.ok) {
      this.invalid(ws, parsed.ref, parsed.error);
      return;
    }
    const frame = parsed.frame;
    this.deps.onFrame?.(frame.type);
    try {
      this.dispatch(ws, frame);
    } catch (e) {
      this.replyError(ws, e, frame.id, "session" in frame ? frame.session : undefined);
    }
  }

  private dispatch(ws: Ws, frame: ClientFrame): void {
    switch (frame.type) {
      case "ping":
        return this.onPing(ws, frame);
      case "join":
        return this.onJoin(ws, frame);
      case "leave":
        return this.onLeave(ws, frame);
      case "message":
        return this.onChatMessage(ws, frame);
      case "configure": {
        const { principal } = ws.data.conn;
        return this.answer(ws, frame, () => this.deps.service.configure(principal, frame.session, frame), (session) => ({ type: "configured", ...ref(frame.id), session }));
      }
      case "end": {
        const { principal } = ws.data.conn;
        return this.answer(ws, frame, () => this.deps.service.end(principal, frame.session, frame.status), (session) => ({ type: "ended", ...ref(frame.id), session }));
      }
      case "auth":
        return this.onAuth(ws, frame);
      case "cancel":
        // The upstream request is aborted inside this call; the reply's message and stream.end follow on commit.
        this.deps.service.cancelStream(ws.data.conn.principal, frame.session, frame.stream);
        return this.reply(ws, { type: "cancelled", ...ref(frame.id), session: frame.session, stream: frame.stream });
    }
  }

  private onPing(ws: Ws, frame: FrameOf<"ping">): void {
    if (frame.session !== undefined && ws.data.conn.sessions.has(frame.session)) this.deps.service.touch(frame.session);
    this.reply(ws, { type: "pong", ...ref(frame.id), ts: this.deps.clock.now() });
  }

  private onJoin(ws: Ws, frame: FrameOf<"join">): void {
    const { conn } = ws.data;
    const { service, hub, options } = this.deps;
    const rejoin = frame.session !== undefined && conn.sessions.has(frame.session);
    if (!rejoin && conn.sessions.size >= options.maxSessionsPerConnection) {
      throw new SessiondError("limit_exceeded", `A connection may join at most ${options.maxSessionsPerConnection} sessions; leave one first.`);
    }
    const target = frame.session !== undefined ? { session: frame.session } : { room: frame.room! };
    // Joining the room by itself: the connection does not also need to be told of the session it is opening.
    if (frame.room !== undefined) this.deps.rooms?.unfollow(conn, frame.room);
    // Answered once what the join writes (a new session, a new participant) has committed: right away when it
    // writes nothing, else from the commit's callbacks.
    service.joinStored(conn.principal, target, { since: frame.since, limit: frame.limit, epoch: frame.epoch }, (error, result) => {
      if (error || !result) return this.replyError(ws, error, frame.id, frame.session);
      this.guard(ws, "ws.join", () => this.completeJoin(ws, frame, result));
    });
  }

  /** Subscribes and answers `joined`, in the same synchronous step as the history was read. */
  private completeJoin(ws: Ws, frame: FrameOf<"join">, result: JoinResult): void {
    const { conn } = ws.data;
    if (conn.closing) return;
    const { service, hub } = this.deps;
    const id = result.session.id;
    const room = result.session.room;
    // Subscribed in the same tick the history was read: no commit can fall between the two.
    if (result.session.status === "active" && !conn.sessions.has(id)) {
      hub.subscribe(conn, id);
      this.deps.fanout.watch(id, result.lastSeq);
      service.attach(id, conn.principal.userId);
    }
    const joined = JSON.stringify({
      type: "joined",
      ...ref(frame.id),
      session: result.session,
      messages: result.messages,
      participants: service.presence.users(id),
      ...(result.truncated && { truncated: true }),
      epoch: result.session.epoch,
      ...(result.reset && { reset: true }),
      // Replies in progress, read with the history: the deltas that follow continue exactly from this text.
      streams: result.streams,
    });
    // What the client asked for is not a sign that it is slow (a recovery page can be MAX_RECOVERY_BYTES); the
    // exemption never exceeds what is actually queued, so it lasts only until the reply has gone out.
    const data = ws.data;
    data.replyBytes += Buffer.byteLength(joined);
    this.send(ws, joined);
    if (!conn.closing) data.replyBytes = Math.min(data.replyBytes, ws.getBufferedAmount());
    const rooms = this.deps.rooms;
    if (room !== undefined && rooms) {
      if (result.session.status === "active") rooms.unfollow(conn, room);
      else {
        // An ended session of a room (a re-join after the end happened offline): follow the room, and hear of its
        // active session at once if it already has one.
        const next = service.activeInRoom(conn.principal, room);
        // Already in the room's active session (reading an older one's history): nothing to follow.
        if (next && conn.sessions.has(next.id)) return;
        rooms.follow(conn, room, id);
        if (next) rooms.offer(next, conn);
      }
    }
  }

  private onLeave(ws: Ws, frame: FrameOf<"leave">): void {
    const { conn } = ws.data;
    if (this.deps.hub.unsubscribe(conn, frame.session)) this.deps.service.detach(frame.session, conn.principal.userId);
    this.deps.rooms?.leave(conn, frame.session);
    this.reply(ws, { type: "left", ...ref(frame.id), session: frame.session });
  }

  private onChatMessage(ws: Ws, frame: FrameOf<"message">): void {
    const { conn } = ws.data;
    if (this.draining) {
      // Nothing written: the client sends it again (same clientMsgId) once it has reconnected to a running server.
      throw new SessiondError("unavailable", "The server is restarting; send this message again after reconnecting.", DRAIN_RETRY_AFTER_MS);
    }
    const { id, session, clientMsgId } = frame;
    this.deps.service.append(
      conn.principal,
      session,
      { content: frame.content, kind: frame.kind, metadata: frame.metadata, clientMsgId, assistant: frame.assistant },
      // Runs inside the commit's callbacks: the reply waits in the socket's outbox for the end of the batch.
      (error, result) => {
        if (error || !result) return this.replyError(ws, error, id, session, true);
        const { message } = result;
        this.queue(ws, ackFrame(id, session, clientMsgId, message.seq, message.id, Date.parse(message.createdAt)));
      },
    );
  }

  private onAuth(ws: Ws, frame: FrameOf<"auth">): void {
    const { conn } = ws.data;
    this.deps.authenticator.fromToken(frame.token).then(
      (verified) => {
        if (conn.closing) return;
        if (verified.principal.userId !== conn.principal.userId) {
          throw new SessiondError("unauthorized", "The new token is for a different user; the connection keeps its identity.");
        }
        conn.principal = { ...verified.principal, address: conn.remoteAddress };
        this.deps.hub.refresh(conn);
        conn.tokenExp = verified.exp;
        this.scheduleExpiry(ws);
        this.reply(ws, { type: "authed", ...ref(frame.id), exp: new Date(verified.exp * 1000).toISOString() });
      },
    ).catch((e) => this.replyError(ws, e, frame.id));
  }

  /** Puts the socket in the expiry heap at its token's exp (a refreshed token moves it); one timer serves all. */
  private scheduleExpiry(ws: Ws): void {
    const data = ws.data;
    data.expiresAt = data.conn.tokenExp * 1000;
    if (!Number.isFinite(data.expiresAt)) return this.expiries.delete(ws);
    this.expiries.set(ws);
    this.armExpiry();
  }

  private armExpiry(): void {
    const first = this.expiries.peek();
    const at = first?.data.expiresAt ?? Infinity;
    if (at === this.expiryTimerAt) return;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    this.expiryTimerAt = at;
    if (first === undefined) return;
    this.expiryTimer = setTimeout(this.expireDue, Math.min(Math.max(0, at - this.deps.clock.now()), MAX_TIMER_MS));
  }

  private readonly expireDue = (): void => {
    this.expiryTimer = null;
    this.expiryTimerAt = Infinity;
    const now = this.deps.clock.now();
    for (let ws = this.expiries.popDue(now); ws !== undefined; ws = this.expiries.popDue(now)) {
      if (ws.data.conn.closing) continue;
      this.send(ws, errorFrame("unauthorized", "The token has expired; reconnect with a fresh token."));
      this.close(ws, CloseCode.tokenExpired, "token expired");
    }
    this.armExpiry();
  };

  private invalid(ws: Ws, frameRef: string | number | undefined, error: SessiondError): void {
    const data = ws.data;
    const now = this.deps.clock.now();
    if (now - data.invalidWindowStart > INVALID_FRAME_WINDOW_MS) {
      data.invalidWindowStart = now;
      data.invalidCount = 0;
    }
    this.replyError(ws, error, frameRef);
    if (++data.invalidCount > INVALID_FRAME_LIMIT) this.close(ws, CloseCode.policyViolation, "too many invalid frames");
  }

  private replyError(ws: Ws, e: unknown, frameRef?: string | number, session?: string, queued = false): void {
    if (!isSessiondError(e) || e.code === "internal") {
      this.report(e, { where: "ws.frame", sessionId: session, userId: ws.data.conn.principal.userId });
    }
    this.deps.onErrorSent?.(isSessiondError(e) ? e.code : "internal");
    const frame = toErrorFrame(e, frameRef, session);
    if (queued) this.queue(ws, frame);
    else this.send(ws, frame);
  }

  /**
   * Runs a step of the service (reading ahead first on an asynchronous store) and replies with its result; a
   * result that comes later is replied to then, and its failure becomes the error frame.
   */
  private answer<T>(ws: Ws, frame: ClientFrame & { session: string }, step: () => Awaitable<T>, replyOf: (result: T) => Record<string, unknown>): void {
    const result = this.deps.service.run(step);
    if (!isPending(result)) return this.reply(ws, replyOf(result as T));
    result.then(
      (value) => this.reply(ws, replyOf(value as T)),
      (e: unknown) => this.replyError(ws, e, frame.id, frame.session),
    );
  }

  private reply(ws: Ws, frame: Record<string, unknown>): void {
    this.send(ws, JSON.stringify(frame));
  }

  /**
   * Holds a frame written from a commit's callbacks until they have all run (a microtask), then sends each socket's
   * frames corked into one write: a batch that acks four messages of one client costs one syscall, not four.
   */
  private queue(ws: Ws, frame: string): void {
    const queued = this.outbox.get(ws);
    if (queued === undefined) this.outbox.set(ws, frame);
    else if (typeof queued === "string") this.outbox.set(ws, [queued, frame]);
    else queued.push(frame);
    if (!this.outboxScheduled) {
      this.outboxScheduled = true;
      queueMicrotask(this.sendOutbox);
    }
  }

  private readonly sendOutbox = (): void => {
    this.outboxScheduled = false;
    const outbox = this.outbox;
    this.outbox = new Map();
    for (const [ws, frames] of outbox) {
      if (typeof frames === "string") this.send(ws, frames);
      else if (!ws.data.conn.closing) {
        let dropped = false;
        ws.cork(() => {
          for (const f of frames) if (ws.send(f) === 0) dropped = true;
        });
        this.checkSlow(ws, dropped ? 0 : -1);
      }
    }
  };

  /** Sends one frame (after any still waiting in the outbox for this socket, so their order holds). */
  private send(ws: Ws, frame: string): void {
    const conn = ws.data.conn;
    if (conn.closing) return;
    if (this.outbox.size > 0 && this.outbox.has(ws)) return this.queue(ws, frame);
    this.checkSlow(ws, ws.send(frame));
  }

  /**
   * A peer that cannot keep up is closed with 4002 rather than silently missing frames: a send Bun dropped, or more
   * queued than SLOW_CONSUMER_BYTES beyond the replies to its own joins.
   */
  private checkSlow(ws: Ws, status: number): void {
    if (status > 0) return;
    const data = ws.data;
    const queued = ws.getBufferedAmount();
    if (data.replyBytes > queued) data.replyBytes = queued;
    if (status === 0 || queued - data.replyBytes > this.deps.options.slowConsumerBytes) this.deps.fanout.closeSlow(data.conn);
  }

  private close(ws: Ws, code: number, reason: string): void {
    ws.data.conn.closing = true;
    ws.data.closingAt ||= this.deps.clock.now();
    ws.close(code, reason);
  }

  private readonly closeSocket = (ws: Ws, code: number, reason: string): void => this.close(ws, code, reason);

  /** Every open WebSocket, through the hub (which holds each connection once; no second map of sockets here). */
  private *openSockets(): Generator<Ws> {
    for (const conn of this.deps.hub.all()) if (conn.link instanceof WsLink) yield conn.link.socket;
  }

  private guard(ws: Ws, where: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.report(e, { where, userId: ws.data?.conn?.principal.userId });
      this.deps.onConnectionError?.("internal");
      try {
        ws.close(CloseCode.internal, "internal error");
      } catch {
        // already closed
      }
    }
  }

  private report(e: unknown, context: { where: string; sessionId?: string; userId?: string }): void {
    this.deps.logger.error("internal.error", { ...context, ...errorFields(e) });
    this.deps.reporter.capture(e, { ...context, code: "internal" });
  }
}

/** The hub's view of one WebSocket: a small object per connection, no closures. */
class WsLink implements ConnectionLink {
  constructor(
    private readonly ws: Ws,
    private readonly closeWith: (ws: Ws, code: number, reason: string) => void,
  ) {}

  get socket(): Ws {
    return this.ws;
  }

  send(frame: string): boolean {
    return this.ws.send(frame) > 0;
  }

  close(code: number, reason: string): void {
    this.closeWith(this.ws, code, reason);
  }

  /** Queued bytes, less the replies to the client's own joins (see WsData.replyBytes). */
  bufferedBytes(): number {
    return Math.max(0, this.ws.getBufferedAmount() - this.ws.data.replyBytes);
  }

  subscribe(sessionId: string): void {
    this.ws.subscribe(topicOf(sessionId));
  }

  unsubscribe(sessionId: string): void {
    this.ws.unsubscribe(topicOf(sessionId));
  }
}

function ref(id: string | number | undefined): { ref?: string | number } {
  return id === undefined ? {} : { ref: id };
}

/** The `ack` frame, written out: it is the one frame every message produces for its sender. */
function ackFrame(id: string | number | undefined, session: string, clientMsgId: string | undefined, seq: number, messageId: string, ts: number): string {
  const refPart = id === undefined ? "" : `"ref":${JSON.stringify(id)},`;
  const client = clientMsgId === undefined ? "" : `"clientMsgId":${JSON.stringify(clientMsgId)},`;
  return `{"type":"ack",${refPart}"session":${JSON.stringify(session)},${client}"seq":${seq},"messageId":${JSON.stringify(messageId)},"ts":${ts}}`;
}
