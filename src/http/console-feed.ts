// The operator console's live feed: session lifecycle, coalesced session activity and the stats samples, as one
// Server-Sent Events stream per signed-in staff member (GET /api/console/events). Staff may read every session,
// so every stream carries every session; nothing here reaches a user's connection.
import type { SessionInfo } from "../protocol/types.ts";
import type { StatsSample, StatsSampler } from "../observability/stats-ring.ts";
import type { SessionEvents } from "../sessions/events.ts";
import type { SessionService } from "../sessions/session-service.ts";

/** A session as the console lists it: SessionInfo plus the users present right now. */
export type ConsoleSession = SessionInfo & { present: string[] };

export interface ConsoleStats {
  connections: number;
  subscriptions: number;
  /** (session, user) pairs present. */
  presence: number;
  activeSessions: number;
}

export interface ConsoleHealth {
  status: "healthy" | "degraded" | "unhealthy";
  checks: Record<string, boolean>;
}

export interface ConsoleFeedDeps {
  events: SessionEvents;
  /** Reads a session's current state (`peek`: the server's own read, so not an audited staff read) and presence. */
  service: Pick<SessionService, "peek" | "presence">;
  sampler: StatsSampler;
  stats: () => ConsoleStats;
  /** The same report as GET /health; evaluated only while a console is connected. */
  health: () => ConsoleHealth;
  /** Fields added to the snapshot and each sample for admin streams only (e.g. the webhook delivery counts). */
  adminExtras?: () => Record<string, unknown>;
  /** Changed sessions are sent at most this often, in one `activity` event. @default 1000 */
  activityFlushMs?: number;
  /** Streams open at once; more are refused with 503. @default 64 */
  maxStreams?: number;
  /** A stream with more than this many bytes not taken by the peer is closed (the console reconnects). @default 1048576 */
  maxBufferedBytes?: number;
  /** A comment line this often keeps proxies from cutting an idle stream. @default 15000 */
  heartbeatMs?: number;
}

const encoder = new TextEncoder();

interface Stream {
  /** Writes already formatted event-stream text. */
  send(text: string): void;
  end(): void;
  /** Whether the signed-in caller is an admin (moderators do not get adminExtras). */
  admin: boolean;
}

const eventText = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

export class ConsoleFeed {
  private readonly streams = new Set<Stream>();
  private readonly changed = new Set<string>();
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private readonly unsubscribe: Array<() => void> = [];
  private readonly flushMs: number;
  private readonly maxStreams: number;
  private readonly maxBufferedBytes: number;
  private readonly heartbeatMs: number;

  constructor(private readonly deps: ConsoleFeedDeps) {
    this.flushMs = deps.activityFlushMs ?? 1000;
    this.maxStreams = deps.maxStreams ?? 64;
    this.maxBufferedBytes = deps.maxBufferedBytes ?? 1024 * 1024;
    this.heartbeatMs = deps.heartbeatMs ?? 15_000;
  }

  get size(): number {
    return this.streams.size;
  }

  /** Listens to the domain and the sampler; idle (one cheap check per event) while no console is connected. */
  start(): void {
    const { events, sampler } = this.deps;
    this.unsubscribe.push(
      events.on("session.started", ({ session }) => this.lifecycle("started", session)),
      events.on("session.updated", ({ session }) => this.lifecycle("updated", session)),
      events.on("session.ended", ({ session }) => {
        this.changed.delete(session.id);
        this.lifecycle("ended", session);
      }),
      events.on("message.committed", ({ message }) => this.touch(message.session)),
      events.on("presence.changed", ({ sessionId }) => this.touch(sessionId)),
      // Sentiment and risk change when an analysis is stored, after the message's commit.
      events.on("analysis.stored", ({ sessionId }) => this.touch(sessionId)),
      events.on("session.erased", ({ sessionId }) => {
        this.changed.delete(sessionId);
        if (this.streams.size > 0) this.broadcast("erased", { session: sessionId });
      }),
      sampler.onSample((sample) => this.onSample(sample)),
    );
    this.heartbeat = setInterval(() => {
      for (const s of [...this.streams]) s.send(": heartbeat\n\n");
    }, this.heartbeatMs);
  }

  stop(): void {
    for (const off of this.unsubscribe.splice(0)) off();
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.heartbeat = this.flushTimer = null;
    for (const s of [...this.streams]) s.end();
  }

  /** Whether another stream may open now. */
  hasRoom(): boolean {
    return this.streams.size < this.maxStreams;
  }

  /** Opens one stream: a `snapshot` first, then `session`, `activity` and `sample` events. Ends with `signal`. */
  open(signal: AbortSignal, { admin }: { admin: boolean }): Response {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let closed = false;
    const stream: Stream = {
      admin,
      send: (text) => send(text),
      end: () => {
        if (closed) return;
        closed = true;
        this.streams.delete(stream);
        try {
          controller.close();
        } catch {
          // already closed by the peer
        }
      },
    };
    const send = (text: string) => {
      if (closed) return;
      try {
        controller.enqueue(encoder.encode(text));
      } catch {
        return stream.end();
      }
      // A console that stopped reading is dropped; it reconnects and starts again from a snapshot.
      if ((controller.desiredSize ?? 0) <= 0) stream.end();
    };
    const body = new ReadableStream<Uint8Array>(
      { start: (c) => void (controller = c), cancel: () => stream.end() },
      { highWaterMark: this.maxBufferedBytes, size: (chunk) => chunk?.byteLength ?? 0 },
    );
    signal.addEventListener("abort", () => stream.end(), { once: true });
    this.streams.add(stream);
    send("retry: 2000\n\n");
    send(
      eventText("snapshot", {
        intervalMs: this.deps.sampler.intervalMs,
        windowMs: this.deps.sampler.windowMs,
        samples: this.deps.sampler.samples(),
        stats: this.deps.stats(),
        health: this.deps.health(),
        ...(admin && this.deps.adminExtras?.()),
      }),
    );
    return new Response(body, {
      headers: {
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache, no-transform",
        "X-Accel-Buffering": "no",
      },
    });
  }

  /** SessionInfo plus presence, for the console's list. */
  view(session: SessionInfo): ConsoleSession {
    return { ...session, present: this.deps.service.presence.users(session.id) };
  }

  private lifecycle(event: "started" | "updated" | "ended", session: SessionInfo): void {
    if (this.streams.size === 0) return;
    this.broadcast("session", { event, session: this.view(session) });
  }

  private touch(sessionId: string): void {
    if (this.streams.size === 0) return;
    this.changed.add(sessionId);
    this.flushTimer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  /** One `activity` event with the current state of every session that changed since the last one. */
  private flush(): void {
    this.flushTimer = null;
    const ids = [...this.changed];
    this.changed.clear();
    if (this.streams.size === 0 || ids.length === 0) return;
    const sessions: ConsoleSession[] = [];
    for (const id of ids) {
      // Gone or ended in the meantime: its `ended` or `erased` event already told the console.
      const session = this.deps.service.peek(id);
      if (session?.status === "active") sessions.push(this.view(session));
    }
    if (sessions.length > 0) this.broadcast("activity", { sessions });
  }

  private onSample(sample: StatsSample): void {
    if (this.streams.size === 0) return;
    const data = { sample, stats: this.deps.stats(), health: this.deps.health() };
    const extras = this.deps.adminExtras && [...this.streams].some((s) => s.admin) ? this.deps.adminExtras() : null;
    if (!extras) return this.broadcast("sample", data);
    const staffText = eventText("sample", data);
    const adminText = eventText("sample", { ...data, ...extras });
    for (const s of [...this.streams]) s.send(s.admin ? adminText : staffText);
  }

  /** Serialized once for every stream. */
  private broadcast(event: string, data: unknown): void {
    const text = eventText(event, data);
    for (const s of [...this.streams]) s.send(text);
  }
}
