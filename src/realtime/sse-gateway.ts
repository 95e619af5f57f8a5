// The Server-Sent Events transport: one session's frames as an event stream, resumable with Last-Event-ID.
// SSE connections live in the same hub as WebSockets, count in presence, and are cleaned up when the peer goes.
import type { Server } from "bun";
import type { Authenticator } from "../auth/authenticator.ts";
import type { Logger } from "../observability/logger.ts";
import { CloseCode, SessiondError, isSessiondError } from "../protocol/errors.ts";
import { seqNumber } from "../protocol/frames.ts";
import type { Message } from "../protocol/types.ts";
import { isPending } from "../sessions/awaitable.ts";
import type { Clock } from "../sessions/clock.ts";
import type { SessionService } from "../sessions/session-service.ts";
import { SmallSet } from "../sessions/small-set.ts";
import type { Admission } from "./admission.ts";
import type { Fanout } from "./fanout.ts";
import { DETACHED_LINK, type Connection, type Hub } from "./hub.ts";
import type { RoomFollowers } from "./room-followers.ts";

export interface SseDeps {
  service: SessionService;
  hub: Hub;
  /** Follows the message order of the sessions streams subscribe to (see Fanout.watch). */
  fanout: Pick<Fanout, "watch">;
  authenticator: Authenticator;
  admission: Admission;
  logger: Logger;
  clock: Clock;
  /** A comment line is written this often so proxies and clients see the stream is alive. */
  heartbeatMs: number;
  /** A stream with more than this many bytes not yet taken by the peer is closed. */
  slowConsumerBytes: number;
  /** Told of each refused stream (before it opened), by protocol code, for metrics. */
  onRefused?: (code: string) => void;
  /** Streams of a room's session follow the room once it ends, until told of the next session. */
  rooms?: RoomFollowers;
}

const encoder = new TextEncoder();

export class SseGateway {
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly streams = new Map<string, { conn: Connection; end: () => void; write: (text: string) => boolean }>();

  constructor(private readonly deps: SseDeps) {}

  start(): void {
    this.timer = setInterval(() => {
      for (const s of this.streams.values()) {
        // Someone watching over SSE is present: each heartbeat that goes out counts as activity, like a WebSocket
        // ping naming the session, so a watched session does not expire under its watcher.
        s.write(": heartbeat\n\n");
        if (!s.conn.closing) for (const id of s.conn.sessions) this.deps.service.touch(id);
      }
    }, this.deps.heartbeatMs);
  }

  closeAll(): number {
    if (this.timer) clearInterval(this.timer);
    const n = this.streams.size;
    for (const s of [...this.streams.values()]) s.end();
    return n;
  }

  /** GET /api/sessions/:id/events. Throws SessiondError for refusals (mapped to HTTP by the caller). */
  async open(req: Request, sessionId: string, server: Server<unknown> | undefined): Promise<Response> {
    try {
      return await this.openStream(req, sessionId, server);
    } catch (e) {
      this.deps.onRefused?.(isSessiondError(e) ? e.code : "internal");
      throw e;
    }
  }

  /**
   * GET /api/alerts/events: a staff user's alert stream, `alert` and `alert.updated` events for every session
   * without joining any (the fan-out writes to every staff connection). Non-staff get `forbidden`. Heartbeats,
   * the slow-consumer limit and cleanup are those of session streams.
   */
  async openAlerts(req: Request, server: Server<unknown> | undefined): Promise<Response> {
    const { hub, admission, authenticator, clock, logger } = this.deps;
    try {
      const remoteAddress = admission.clientAddress(req, server);
      admission.checkRequest(req, remoteAddress, clock.now());
      const verified = await authenticator.fromRequest(req, new URL(req.url), { allowQueryToken: true });
      if (!verified.principal.staff) throw new SessiondError("forbidden", 'Alerts are for staff: a token with role "admin" or "moderator".');
      admission.checkCapacity(verified.principal.userId);
      const now = clock.now();
      const conn: Connection = {
        id: crypto.randomUUID(),
        principal: verified.principal,
        transport: "sse",
        remoteAddress,
        connectedAt: now,
        lastSeen: now,
        tokenExp: verified.exp,
        sessions: new SmallSet(),
        link: DETACHED_LINK,
        closing: false,
      };
      let controller!: ReadableStreamDefaultController<Uint8Array>;
      const stream = new ReadableStream<Uint8Array>(
        { start: (c) => void (controller = c), cancel: () => cleanup("client gone") },
        { highWaterMark: this.deps.slowConsumerBytes, size: (chunk) => chunk?.byteLength ?? 0 },
      );
      const write = (text: string): boolean => {
        if (conn.closing) return false;
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          cleanup("write failed");
          return false;
        }
        return (controller.desiredSize ?? 0) > 0;
      };
      const cleanup = (reason: string) => {
        if (!this.streams.has(conn.id)) return;
        this.streams.delete(conn.id);
        conn.closing = true;
        hub.remove(conn);
        try {
          controller.close();
        } catch {
          // already closed by the peer
        }
        logger.info("connection.close", { conn: conn.id, user: conn.principal.userId, transport: "sse", stream: "alerts", reason, durationMs: clock.now() - conn.connectedAt });
      };
      conn.link = {
        send: (frame, event) => write(`${event ? `event: ${event}\n` : ""}data: ${frame}\n\n`),
        close: (code) => {
          write(`event: close\ndata: ${JSON.stringify({ code })}\n\n`);
          cleanup(`closed ${code}`);
        },
        bufferedBytes: () => this.deps.slowConsumerBytes - (controller.desiredSize ?? 0),
      };
      hub.add(conn);
      this.streams.set(conn.id, { conn, end: () => conn.link.close(CloseCode.goingAway, "server closing"), write });
      req.signal.addEventListener("abort", () => cleanup("client gone"), { once: true });
      server?.timeout(req, 0);
      write(`retry: 2000\n\n`);
      logger.info("connection.open", { conn: conn.id, user: conn.principal.userId, transport: "sse", stream: "alerts", remote: remoteAddress });
      return new Response(stream, {
        headers: { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache, no-transform", Connection: "keep-alive", "X-Accel-Buffering": "no" },
      });
    } catch (e) {
      this.deps.onRefused?.(isSessiondError(e) ? e.code : "internal");
      throw e;
    }
  }

  private async openStream(req: Request, sessionId: string, server: Server<unknown> | undefined): Promise<Response> {
    const { service, hub, admission, authenticator, clock, logger } = this.deps;
    const url = new URL(req.url);
    const remoteAddress = admission.clientAddress(req, server);
    admission.checkRequest(req, remoteAddress, clock.now());
    const resumeText = req.headers.get("last-event-id") ?? url.searchParams.get("lastEventId") ?? url.searchParams.get("since");
    let since: number | undefined;
    if (resumeText !== null && resumeText !== "") {
      const n = Number(resumeText);
      if (!seqNumber.safeParse(n).success) throw new SessiondError("bad_request", "Last-Event-ID (or lastEventId/since) must be a non-negative whole number.");
      since = n;
    }
    const verified = await authenticator.fromRequest(req, url, { allowQueryToken: true });
    admission.checkCapacity(verified.principal.userId);
    const who = { ...verified.principal, address: remoteAddress };

    const epochText = url.searchParams.get("epoch");
    const epoch = epochText === null || epochText === "" ? undefined : epochText.slice(0, 64);
    // History and subscription happen in one synchronous step, so nothing committed in between is missed (with an
    // asynchronous store the history is read first, and what commits meanwhile is caught up below).
    const joining = service.run(() => service.join(who, { session: sessionId }, { since, epoch }));
    const later = isPending(joining);
    const joined = later ? await joining : joining;
    // An ended session has nothing live to stream: 204 tells EventSource not to reconnect.
    if (joined.session.status !== "active" && since === undefined) return new Response(null, { status: 204 });

    const now = clock.now();
    const conn: Connection = {
      id: crypto.randomUUID(),
      principal: who,
      transport: "sse",
      remoteAddress,
      connectedAt: now,
      lastSeen: now,
      tokenExp: verified.exp,
      sessions: new SmallSet(),
      link: DETACHED_LINK,
      closing: false,
    };
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>(
      { start: (c) => void (controller = c), cancel: () => cleanup("client gone") },
      { highWaterMark: this.deps.slowConsumerBytes, size: (chunk) => chunk?.byteLength ?? 0 },
    );
    const write = (text: string): boolean => {
      if (conn.closing) return false;
      try {
        controller.enqueue(encoder.encode(text));
      } catch {
        cleanup("write failed");
        return false;
      }
      return (controller.desiredSize ?? 0) > 0;
    };
    const cleanup = (reason: string) => {
      if (!this.streams.has(conn.id)) return;
      this.streams.delete(conn.id);
      conn.closing = true;
      for (const id of hub.remove(conn)) service.detach(id, who.userId);
      this.deps.rooms?.forget(conn);
      try {
        controller.close();
      } catch {
        // already closed by the peer
      }
      logger.info("connection.close", { conn: conn.id, user: who.userId, transport: "sse", reason, durationMs: clock.now() - conn.connectedAt });
    };
    // Live messages held while a catch-up read runs (asynchronous store), then sent after it without repeats.
    let held: Array<{ frame: string; id: number }> | null = null;
    let lastSent = 0;
    const sendEvent = (frame: string, event?: string, id?: number): boolean => {
      if (event === "message" && id !== undefined) {
        if (held) {
          held.push({ frame, id });
          return true;
        }
        if (id <= lastSent) return true;
        lastSent = id;
      }
      return write(`${event ? `event: ${event}\n` : ""}${id !== undefined ? `id: ${id}\n` : ""}data: ${frame}\n\n`);
    };
    conn.link = {
      send: sendEvent,
      close: (code) => {
        write(`event: close\ndata: ${JSON.stringify({ code })}\n\n`);
        cleanup(`closed ${code}`);
      },
      bufferedBytes: () => this.deps.slowConsumerBytes - (controller.desiredSize ?? 0),
    };

    hub.add(conn);
    this.streams.set(conn.id, { conn, end: () => conn.link.close(CloseCode.goingAway, "server closing"), write });
    req.signal.addEventListener("abort", () => cleanup("client gone"), { once: true });
    // Long-lived by design: the server's idle timeout must not cut the stream between heartbeats.
    server?.timeout(req, 0);
    write(`retry: 2000\n\n`);
    if (since !== undefined) {
      const replay = (messages: Message[]) => {
        for (const m of messages) conn.link.send(JSON.stringify({ type: "message", session: sessionId, message: m }), "message", m.seq);
      };
      // Another history than the one `since` counted in: say so, then replay the current one from the start.
      if (joined.reset) conn.link.send(JSON.stringify({ type: "reset", session: sessionId, epoch: joined.session.epoch }), "reset");
      replay(joined.messages);
      let last = joined.messages.at(-1)?.seq ?? (joined.reset ? 0 : since);
      let truncated = joined.truncated;
      if (later && joined.session.status === "active") {
        // Subscribed first, then read: nothing committed after the join's read is missed, nothing is sent twice.
        held = [];
        hub.subscribe(conn, sessionId);
        truncated = true;
      }
      while (truncated) {
        const reading = service.history(who, sessionId, last, 1000);
        const page = isPending(reading) ? await reading : reading;
        replay(page.messages);
        last = page.messages.at(-1)?.seq ?? last;
        truncated = page.nextAfter !== null;
      }
      if (held) {
        const waiting = held;
        held = null;
        for (const h of waiting) sendEvent(h.frame, "message", h.id);
      }
    }
    if (joined.session.status === "active") {
      if (!conn.sessions.has(sessionId)) hub.subscribe(conn, sessionId);
      this.deps.fanout.watch(sessionId, joined.lastSeq);
      service.attach(sessionId, who.userId);
      // Assistant replies in progress, taken with the history: the stream.delta events that follow continue from here.
      if (joined.streams.length > 0) {
        conn.link.send(JSON.stringify({ type: "streams", session: sessionId, streams: joined.streams }), "streams");
      }
    } else {
      conn.link.send(JSON.stringify({ type: "session.status", session: sessionId, status: joined.session.status }), "session.status");
      // The same `close` event as a stream whose session ends while it is open, so clients handle one ending.
      queueMicrotask(() => conn.link.close(CloseCode.normal, "session ended"));
    }
    logger.info("connection.open", { conn: conn.id, user: who.userId, transport: "sse", remote: remoteAddress });
    return new Response(stream, {
      headers: {
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache, no-transform",
        Connection: "keep-alive",
        "X-Accel-Buffering": "no",
      },
    });
  }
}
