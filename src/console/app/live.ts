// The console's one WebSocket: staff frames (alerts) arrive on it without joining anything, and the Session view
// follows a session through it. Reconnects with full-jitter backoff and re-joins a followed session with `since`,
// so a transcript never misses or repeats a message; a silent link is detected with pings and replaced.
import type { ServerFrame } from "../../protocol/types.ts";
import type { Api } from "./auth.ts";

export type Frame = ServerFrame;
export type LiveState = "connecting" | "open" | "reconnecting" | "closed";
type JoinedFrame = Extract<Frame, { type: "joined" }>;

export interface Follow {
  /** The join reply: the first one has the latest history; after a reconnect it has what was missed (`resumed`). */
  onJoined(frame: JoinedFrame, resumed: boolean): void;
  /** The join was refused (not found, forbidden). */
  onError(code: string, message: string): void;
}

const PING_MS = 20_000;
const PONG_TIMEOUT_MS = 10_000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 15_000;
/** Close codes after which reconnecting cannot help (see docs/protocol.md). */
const TERMINAL = new Set([1000, 1008, 4500, 4501]);
const TOKEN_EXPIRED = 4001;

export class LiveSocket {
  state: LiveState = "connecting";
  /** Told when the server closed because the token expired or was refused. */
  onUnauthorized: () => void = () => {};
  private ws: WebSocket | null = null;
  private attempt = 0;
  private nextId = 1;
  private closed = false;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private deadTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly frameListeners = new Set<(frame: Frame) => void>();
  private readonly stateListeners = new Set<(state: LiveState) => void>();
  private readonly follows = new Map<string, { follow: Follow; lastSeq: number | null; joinId: number | null }>();

  constructor(private readonly api: Api) {
    this.connect();
  }

  /** Every frame received; returns the unsubscribe function. */
  onFrame(listener: (frame: Frame) => void): () => void {
    this.frameListeners.add(listener);
    return () => this.frameListeners.delete(listener);
  }

  onState(listener: (state: LiveState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Joins the session now (or when connected) and again after every reconnect; returns the leave function. */
  follow(sessionId: string, follow: Follow): () => void {
    this.follows.set(sessionId, { follow, lastSeq: null, joinId: null });
    if (this.state === "open") this.join(sessionId);
    return () => {
      this.follows.delete(sessionId);
      this.send({ type: "leave", session: sessionId });
    };
  }

  close(): void {
    this.closed = true;
    this.stopTimers();
    clearTimeout(this.retryTimer);
    this.ws?.close(1000);
    this.setState("closed");
  }

  private connect(): void {
    if (this.closed) return;
    this.setState(this.attempt === 0 ? "connecting" : "reconnecting");
    const ws = new WebSocket(this.api.socketUrl(), "sessiond.v1");
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      this.attempt = 0;
      this.setState("open");
      for (const id of this.follows.keys()) this.join(id);
      this.pingTimer = setInterval(() => this.ping(), PING_MS);
    });
    ws.addEventListener("message", (e) => {
      if (ws !== this.ws) return;
      this.alive();
      let frame: Frame;
      try {
        frame = JSON.parse(String(e.data)) as Frame;
      } catch {
        return;
      }
      this.route(frame);
    });
    ws.addEventListener("close", (e) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.stopTimers();
      if (this.closed) return;
      if (e.code === TOKEN_EXPIRED || e.code === 4500) {
        this.setState("closed");
        return this.onUnauthorized();
      }
      if (TERMINAL.has(e.code)) return this.setState("closed");
      this.attempt++;
      const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(this.attempt, 10));
      this.setState("reconnecting");
      this.retryTimer = setTimeout(() => this.connect(), Math.random() * ceiling);
    });
  }

  private route(frame: Frame): void {
    if (frame.type === "joined" && typeof frame.ref === "number") {
      const entry = this.follows.get(frame.session.id);
      if (entry && entry.joinId === frame.ref) {
        const resumed = entry.lastSeq !== null;
        entry.lastSeq = Math.max(entry.lastSeq ?? 0, frame.messages.at(-1)?.seq ?? 0);
        entry.joinId = null;
        entry.follow.onJoined(frame, resumed);
      }
    } else if (frame.type === "error" && typeof frame.ref === "number") {
      for (const [id, entry] of this.follows) {
        if (entry.joinId !== frame.ref) continue;
        entry.joinId = null;
        this.follows.delete(id);
        entry.follow.onError(frame.code, frame.message);
      }
    } else if (frame.type === "message") {
      const entry = this.follows.get(frame.session);
      if (entry && entry.lastSeq !== null) entry.lastSeq = Math.max(entry.lastSeq, frame.message.seq);
    }
    for (const listener of [...this.frameListeners]) listener(frame);
  }

  private join(sessionId: string): void {
    const entry = this.follows.get(sessionId);
    if (!entry) return;
    const id = this.nextId++;
    entry.joinId = id;
    this.send(entry.lastSeq === null ? { type: "join", id, session: sessionId, limit: 200 } : { type: "join", id, session: sessionId, since: entry.lastSeq });
  }

  private ping(): void {
    // No `session`: a watching console must not keep a session from expiring.
    this.send({ type: "ping" });
    this.deadTimer ??= setTimeout(() => this.ws?.close(4000, "no reply to ping"), PONG_TIMEOUT_MS);
  }

  private alive(): void {
    clearTimeout(this.deadTimer);
    this.deadTimer = undefined;
  }

  private send(frame: Record<string, unknown>): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  private stopTimers(): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.deadTimer);
    this.deadTimer = undefined;
  }

  private setState(state: LiveState): void {
    if (this.state === state) return;
    this.state = state;
    for (const listener of [...this.stateListeners]) listener(state);
  }
}

