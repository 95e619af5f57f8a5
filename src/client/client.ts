// The connection: one WebSocket with reconnect and backoff (rotating through the given URLs), heartbeat, token
// refresh, re-join with `since` and an ordered, bounded queue of sends. Standard WebSocket only, so it runs
// unchanged in browsers and Bun.
import { CloseCode, isReconnectable } from "../protocol/errors.ts";
import { ID_PATTERN, type ServerFrame, type SessionInfo } from "../protocol/types.ts";
import { Emitter } from "./emitter.ts";
import { SessiondClientError } from "./errors.ts";
import { Outbox } from "./outbox.ts";
import { SessionHandle, type SessionLink } from "./session-handle.ts";
import { refreshDelayMs, tokenExpiryMs } from "./token.ts";
import { reconnectStep, websocketUrls } from "./urls.ts";
import type { Ack, ClientEvents, ConnectOptions, ConnectionState, JoinOptions, JoinTarget, SendOptions, SessionChanges } from "./types.ts";

const ABNORMAL_CLOSURE = 1006;
const OPEN = 1;
/** Retry delay after a refusal that names no time (an internal error, a token the server had not accepted yet). */
const RETRY_AFTER_MS = 1000;
/** setTimeout's largest delay; longer waits are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

type Frame = ServerFrame;
type Reply = (frame: Frame) => void;

interface PendingSend {
  session: string;
  frame: {
    type: "message";
    session: string;
    content: string;
    clientMsgId: string;
    kind?: string;
    metadata?: Record<string, unknown>;
    assistant?: { json?: boolean; reasoning?: boolean };
  };
  resolve: (ack: Ack) => void;
  reject: (error: SessiondClientError) => void;
  timer: ReturnType<typeof setTimeout>;
  /** The frame id while it is on the wire of the current connection. */
  inFlight: number | null;
  bytes: number;
}

/** A join, configure or end: waits for the connection, is sent again if the connection drops before the reply. */
interface PendingCall {
  frame: { type: "join" | "configure" | "end" | "cancel"; session?: string; [field: string]: unknown };
  onReply: (reply: Frame) => void;
  reject: (error: SessiondClientError) => void;
  timer: ReturnType<typeof setTimeout>;
  inFlight: number | null;
}

/** Opens a client. It connects at once and keeps reconnecting until `close()`; listen to its state events. */
export function connect(options: ConnectOptions): SessiondClient {
  return new SessiondClient(options);
}

export class SessiondClient extends Emitter<ClientEvents> implements SessionLink {
  readonly #options: Required<Pick<ConnectOptions, "connectTimeoutMs" | "timeoutMs">> & {
    backoff: { baseMs: number; capMs: number };
    maxAttempts: number;
    stableAfterMs: number;
    heartbeatMs: number;
    heartbeatTimeoutMs: number;
  };
  /** The WebSocket endpoints, normalised; `#urlIndex` is the one in use or tried next. */
  readonly #urls: string[];
  #urlIndex = 0;
  readonly #WebSocket: typeof WebSocket;
  readonly #getToken: (() => string | Promise<string>) | undefined;
  readonly #fixedToken: string | undefined;

  #state: ConnectionState = "connecting";
  #ws: WebSocket | null = null;
  #closedByApp = false;
  /** Why the client stopped for good (a terminal close, an expired fixed token, maxAttempts); null while running. */
  #terminal: SessiondClientError | null = null;
  #opening = false;
  #everOpened = false;
  #attempt = 0;
  #nextId = 1;
  #pausedUntil = 0;
  readonly #replies = new Map<number, Reply>();
  readonly #handles = new Map<string, SessionHandle>();
  readonly #calls: PendingCall[] = [];
  readonly #outbox: Outbox<PendingSend>;
  readonly #timers = {
    reconnect: undefined as ReturnType<typeof setTimeout> | undefined,
    connect: undefined as ReturnType<typeof setTimeout> | undefined,
    stable: undefined as ReturnType<typeof setTimeout> | undefined,
    heartbeat: undefined as ReturnType<typeof setInterval> | undefined,
    dead: undefined as ReturnType<typeof setTimeout> | undefined,
    refresh: undefined as ReturnType<typeof setTimeout> | undefined,
    paused: undefined as ReturnType<typeof setTimeout> | undefined,
  };
  readonly #rejoinRetries = new Set<ReturnType<typeof setTimeout>>();
  #closed: Promise<void> = Promise.resolve();

  constructor(options: ConnectOptions) {
    super();
    const WebSocketImpl = options.WebSocket ?? globalThis.WebSocket;
    if (!WebSocketImpl) throw new TypeError("sessiond: no WebSocket implementation; pass one as options.WebSocket.");
    this.#WebSocket = WebSocketImpl;
    this.#urls = websocketUrls(options.url);
    this.#getToken = options.getToken;
    this.#fixedToken = options.token;
    this.#options = {
      backoff: { baseMs: options.reconnect?.baseMs ?? 500, capMs: options.reconnect?.capMs ?? 30_000 },
      maxAttempts: options.reconnect?.maxAttempts ?? Infinity,
      stableAfterMs: options.reconnect?.stableAfterMs ?? 5000,
      heartbeatMs: options.heartbeat?.intervalMs ?? 15_000,
      heartbeatTimeoutMs: options.heartbeat?.timeoutMs ?? 10_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      timeoutMs: options.timeoutMs ?? 30_000,
    };
    this.#outbox = new Outbox(options.maxQueuedSends ?? 1000);
    globalThis.addEventListener?.("online", this.#onOnline);
    // Started on the next microtask so listeners added right after connect() see `connecting`.
    queueMicrotask(() => void this.#open());
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The WebSocket URL in use while open; otherwise the one being tried, or the one the next attempt will try. */
  get url(): string {
    return this.#urls[this.#urlIndex]!;
  }

  /**
   * Joins a session by id (or a room by key) and resolves with its handle once the server answered. A handle joined
   * with `{ room }` follows the room: it moves to the room's next session by itself (see SessionHandle.room).
   * Joining what is already followed returns the same handle; with `since` it rejects with `bad_request` instead
   * (its messages were delivered once already: leave it first to read them again).
   */
  join(target: JoinTarget, options: JoinOptions = {}): Promise<SessionHandle> {
    if (this.#closedByApp || this.#state === "closed") return Promise.reject(this.#closedError());
    const normalized = typeof target === "string" ? { session: target } : target;
    const room = "room" in normalized ? normalized.room : undefined;
    const existing = room === undefined ? this.#handles.get((normalized as { session: string }).session) : this.#roomHandle(room);
    if (existing && (existing.active || existing._waiting) && options.since !== undefined) {
      return Promise.reject(
        new SessiondClientError("bad_request", `Already joined ${room === undefined ? `session "${existing.id}"` : `room "${room}"`}; leave it first to join again with since.`, {
          session: existing.id,
        }),
      );
    }
    if (existing?.active) return Promise.resolve(existing);
    const frame: PendingCall["frame"] = { type: "join", ...normalized };
    if (options.limit !== undefined) frame.limit = options.limit;
    if (options.since !== undefined) frame.since = options.since;
    if (options.since !== undefined && options.epoch !== undefined) frame.epoch = options.epoch;
    return this.#call(frame, options.timeoutMs, room ?? (normalized as { session: string }).session, (reply) => {
      if (reply.type !== "joined") return undefined;
      // A room handle waiting for the room's next session: this join opened (or found) it, so the handle moves.
      const waiting = room !== undefined ? this.#roomHandle(room) : undefined;
      if (waiting?._waiting) {
        this.#move(waiting, reply);
        return waiting;
      }
      const current = this.#handles.get(reply.session.id);
      if (current?.active) return current;
      const handle = new SessionHandle(this, reply, options.since, { room, limit: options.limit });
      this.#handles.set(handle.id, handle);
      queueMicrotask(() => {
        if (reply.truncated) this.catchUp(handle);
        this.#pump(handle.id);
      });
      return handle;
    });
  }

  /** Changes a session's configuration, access or members (owner or admin); resolves with its new description. */
  configure(session: string | SessionHandle, changes: SessionChanges, options: { timeoutMs?: number } = {}): Promise<SessionInfo> {
    const id = typeof session === "string" ? session : session.id;
    return this.#call({ type: "configure", session: id, ...changes }, options.timeoutMs, id, (reply) => (reply.type === "configured" ? reply.session : undefined));
  }

  /** Ends a session for everyone (owner or admin); resolves with its final description. */
  end(session: string | SessionHandle, status: "completed" | "cancelled" = "completed", options: { timeoutMs?: number } = {}): Promise<SessionInfo> {
    const id = typeof session === "string" ? session : session.id;
    return this.#call({ type: "end", session: id, status }, options.timeoutMs, id, (reply) => (reply.type === "ended" ? reply.session : undefined));
  }

  /** Stops an assistant reply in progress in a session (see SessionHandle.cancel). */
  cancel(session: string | SessionHandle, streamId: string, options: { timeoutMs?: number } = {}): Promise<void> {
    const id = typeof session === "string" ? session : session.id;
    const pick = (reply: Frame) => (reply.type === "cancelled" ? true : undefined);
    return this.#call({ type: "cancel", session: id, stream: streamId }, options.timeoutMs, id, pick).then(() => undefined);
  }

  /**
   * Sends a message; resolves with the durable ack. Queued while offline and sent in call order per session once
   * joined again; resent after a reconnect with the same `clientMsgId`, so it is committed at most once.
   */
  send(session: string | SessionHandle, content: string, options: SendOptions = {}): Promise<Ack> {
    const id = typeof session === "string" ? session : session.id;
    const clientMsgId = options.clientMsgId ?? newClientMsgId();
    return new Promise((resolve, reject) => {
      if (this.#closedByApp || this.#state === "closed") return reject(this.#closedError());
      if (!ID_PATTERN.test(id)) return reject(new SessiondClientError("bad_request", `"${id.slice(0, 40)}" is not a valid session id.`));
      const frame: PendingSend["frame"] = { type: "message", session: id, content, clientMsgId };
      if (options.kind !== undefined) frame.kind = options.kind;
      if (options.metadata !== undefined) frame.metadata = options.metadata;
      if (options.assistant !== undefined) frame.assistant = options.assistant;
      const entry: PendingSend = {
        session: id,
        frame,
        resolve,
        reject,
        inFlight: null,
        bytes: 0,
        timer: setTimeout(
          () => this.#settleSend(entry, new SessiondClientError("timeout", "The message was not acknowledged in time; it may still have been committed.", { session: id, clientMsgId })),
          options.timeoutMs ?? this.#options.timeoutMs,
        ),
      };
      if (!this.#outbox.add(entry)) {
        clearTimeout(entry.timer);
        return reject(new SessiondClientError("queue_full", `${this.#outbox.capacity} messages are already waiting to be sent.`, { session: id, clientMsgId }));
      }
      this.#pump(id);
    });
  }

  /** Stops following a session. Queued sends to it still go out. */
  async leave(session: string | SessionHandle): Promise<void> {
    const handle = typeof session === "string" ? this.#handles.get(session) : session;
    if (!handle || this.#handles.get(handle.id) !== handle) return;
    this.#handles.delete(handle.id);
    handle._dispose();
    // Sent even while a re-join is in flight: the server answers both in order and ends unsubscribed.
    if (this.#state !== "open") return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.#options.timeoutMs);
      this.#request({ type: "leave", session: handle.id }, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** @internal Asks for what a handle is missing: a join with `since = lastSeq` on the same connection. */
  catchUp(handle: SessionHandle): void {
    if (this.#state !== "open" || !handle._ready || handle._catchingUp) return;
    handle._catchingUp = true;
    this.#rejoin(handle);
  }

  /** Reconnects now: after a terminal close, after giving up, or to skip the current backoff delay. */
  reconnect(): void {
    if (this.#closedByApp) throw this.#closedError();
    this.#terminal = null;
    this.#attempt = 0;
    clearTimeout(this.#timers.reconnect);
    this.#timers.reconnect = undefined;
    const ws = this.#ws;
    if (ws) {
      this.#detach(ws);
      closeSocket(ws, CloseCode.normal, "reconnecting");
      this.#release();
    }
    this.#setState("connecting");
    void this.#open();
  }

  /**
   * Closes for good: no timers, listeners or socket remain. Pending joins and sends reject with `closed`.
   * Resolves when the socket has closed.
   */
  close(): Promise<void> {
    if (this.#closedByApp) return this.#closed;
    this.#closedByApp = true;
    this.#setState("closed");
    const ws = this.#ws;
    this.#release();
    if (ws) {
      this.#closed = new Promise<void>((resolve) => {
        // A dead peer never answers the close handshake; do not wait on it longer than a heartbeat timeout.
        const timer = setTimeout(() => {
          closeSocket(ws, CloseCode.normal, "client closed", true);
          resolve();
        }, this.#options.heartbeatTimeoutMs);
        ws.onclose = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      closeSocket(ws, CloseCode.normal, "client closed");
    }
    clearTimeout(this.#timers.reconnect);
    clearTimeout(this.#timers.paused);
    globalThis.removeEventListener?.("online", this.#onOnline);
    this.#failPending(this.#closedError());
    for (const handle of this.#handles.values()) handle._dispose();
    this.#handles.clear();
    this.emit("closed", { code: CloseCode.normal, reason: "closed by the app" });
    this.removeAllListeners();
    return this.#closed;
  }

  // --- connection lifecycle -------------------------------------------------------------------------------------

  async #open(): Promise<void> {
    if (this.#closedByApp || this.#ws || this.#opening) return;
    this.#opening = true;
    if (this.#state !== "reconnecting") {
      this.#setState("connecting");
      this.emit("connecting", { attempt: this.#attempt, url: this.url });
    }
    let token: string | undefined;
    try {
      token = await this.#currentToken();
    } catch (e) {
      this.#opening = false;
      if (this.#closedByApp) return;
      if (e instanceof SessiondClientError) return this.#terminate(CloseCode.tokenExpired, e.message, e);
      this.emit("error", new SessiondClientError("unauthorized", `getToken failed: ${e instanceof Error ? e.message : String(e)}`));
      return this.#retry(ABNORMAL_CLOSURE, "getToken failed");
    }
    this.#opening = false;
    if (this.#closedByApp || this.#ws) return;
    const url = new URL(this.url);
    if (token !== undefined) url.searchParams.set("token", token);
    let ws: WebSocket;
    try {
      ws = new this.#WebSocket(url.toString(), "sessiond.v1");
    } catch (e) {
      return this.#terminate(ABNORMAL_CLOSURE, "invalid url", new SessiondClientError("bad_request", `Cannot open ${this.url}: ${e instanceof Error ? e.message : String(e)}`));
    }
    this.#ws = ws;
    this.#timers.connect = setTimeout(() => this.#drop(CloseCode.heartbeatTimeout, "connect timeout"), this.#options.connectTimeoutMs);
    ws.onopen = () => this.#onOpen(token);
    ws.onmessage = (event) => this.#onFrame(event.data);
    ws.onclose = (event) => this.#lost(event.code, event.reason);
    ws.onerror = () => {
      // A close event always follows; that is where the connection is handled.
    };
  }

  #onOpen(token: string | undefined): void {
    clearTimeout(this.#timers.connect);
    const reconnected = this.#everOpened;
    this.#everOpened = true;
    this.#timers.stable = setTimeout(() => (this.#attempt = 0), this.#options.stableAfterMs);
    this.#timers.heartbeat = setInterval(() => this.#heartbeat(), this.#options.heartbeatMs);
    if (token !== undefined) this.#scheduleRefresh(token);
    this.#setState("open");
    this.emit("open", { reconnected, url: this.url });
    if (this.#state !== "open") return; // a listener closed the client
    // A room handle waiting for the next session re-joins its ended one: the server then follows the room again.
    for (const handle of this.#handles.values()) if (handle.active || handle._waiting) this.#rejoin(handle);
    for (const call of this.#calls) this.#sendCall(call);
    this.#pumpAll();
  }

  /** The socket closed (or was given up on): keep every request for the next connection, then retry or stop. */
  #lost(code: number, reason: string): void {
    const largestInFlight = this.#release();
    // 1009: one frame was too big for the server; resending it would close every new connection the same way.
    if (code === CloseCode.tooBig && largestInFlight) {
      const { session, frame } = largestInFlight;
      this.#settleSend(largestInFlight, new SessiondClientError("payload_too_large", "The message is too large for the server.", { session, clientMsgId: frame.clientMsgId }));
    }
    if (this.#closedByApp) return;
    if (!isReconnectable(code)) {
      const error = new SessiondClientError(code === CloseCode.forbidden ? "forbidden" : code >= 4500 ? "unauthorized" : "closed", `The server closed the connection (${code}${reason ? `: ${reason}` : ""}).`, { closeCode: code });
      return this.#terminate(code, reason, error);
    }
    if (code === CloseCode.tokenExpired && !this.#getToken) {
      return this.#terminate(code, reason, new SessiondClientError("unauthorized", "The token expired and no getToken was given to fetch a fresh one.", { closeCode: code }));
    }
    this.#retry(code, reason);
  }

  /**
   * Forgets the current socket and marks everything on its wire as not sent, so the next connection sends it
   * again. Returns the largest send that was on the wire.
   */
  #release(): PendingSend | undefined {
    const ws = this.#ws;
    if (ws) this.#detach(ws);
    this.#ws = null;
    this.#stopConnectionTimers();
    this.#replies.clear();
    let largest: PendingSend | undefined;
    for (const entry of this.#outbox.entries()) {
      if (entry.inFlight !== null && (!largest || entry.bytes > largest.bytes)) largest = entry;
      entry.inFlight = null;
    }
    for (const call of this.#calls) call.inFlight = null;
    for (const handle of this.#handles.values()) {
      handle._ready = false;
      handle._catchingUp = false;
    }
    return largest;
  }

  #retry(code: number, reason: string): void {
    this.#attempt++;
    // The next URL in the list (the same one when there is only one); after giving up, reconnect() starts there.
    const { index, delayMs } = reconnectStep(this.#attempt, this.#urlIndex, this.#urls.length, this.#options.backoff);
    this.#urlIndex = index;
    if (this.#attempt > this.#options.maxAttempts) {
      return this.#terminate(code, reason, new SessiondClientError("closed", `Gave up after ${this.#options.maxAttempts} reconnect attempts.`, { closeCode: code }));
    }
    this.#setState("reconnecting");
    this.emit("reconnecting", { attempt: this.#attempt, delayMs, code, reason, url: this.url });
    if (this.#state !== "reconnecting") return;
    this.#timers.reconnect = setTimeout(() => {
      this.#timers.reconnect = undefined;
      void this.#open();
    }, delayMs);
  }

  /** Closed for good by the server (or by giving up); `reconnect()` may start again. Pending requests reject. */
  #terminate(code: number, reason: string, error: SessiondClientError): void {
    this.#terminal = error;
    this.#setState("closed");
    this.#failPending(error);
    this.emit("closed", { code, reason, error });
  }

  /** Gives up on the current socket without waiting for its close handshake (a dead link never completes it). */
  #drop(code: number, reason: string): void {
    const ws = this.#ws;
    if (!ws) return;
    this.#detach(ws);
    closeSocket(ws, code, reason, true);
    this.#lost(code, reason);
  }

  #detach(ws: WebSocket): void {
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
  }

  #stopConnectionTimers(): void {
    for (const name of ["connect", "stable", "dead", "refresh"] as const) {
      clearTimeout(this.#timers[name]);
      this.#timers[name] = undefined;
    }
    clearInterval(this.#timers.heartbeat);
    this.#timers.heartbeat = undefined;
    for (const timer of this.#rejoinRetries) clearTimeout(timer);
    this.#rejoinRetries.clear();
  }

  /** A browser that comes back online retries at once instead of sitting out the backoff delay. */
  readonly #onOnline = (): void => {
    if (this.#state === "reconnecting" && this.#timers.reconnect !== undefined) this.reconnect();
  };

  #setState(state: ConnectionState): void {
    this.#state = state;
  }

  // --- tokens ---------------------------------------------------------------------------------------------------

  async #currentToken(): Promise<string | undefined> {
    if (this.#getToken) return this.#getToken();
    if (this.#fixedToken === undefined) return undefined;
    const exp = tokenExpiryMs(this.#fixedToken);
    if (exp !== null && exp <= Date.now()) throw new SessiondClientError("unauthorized", "The token has expired; give connect() a getToken to fetch fresh ones.");
    return this.#fixedToken;
  }

  #scheduleRefresh(token: string): void {
    clearTimeout(this.#timers.refresh);
    const exp = this.#getToken ? tokenExpiryMs(token) : null;
    if (exp === null) return;
    this.#timers.refresh = setTimeout(() => void this.#refresh(token), Math.min(refreshDelayMs(exp, Date.now()), MAX_TIMER_MS));
  }

  /** Fetches a fresh token and sends it as `auth` on the open connection. */
  async #refresh(previous: string): Promise<void> {
    const ws = this.#ws;
    let token: string;
    try {
      token = await this.#getToken!();
    } catch (e) {
      if (this.#ws !== ws || this.#closedByApp) return;
      this.emit("error", new SessiondClientError("unauthorized", `getToken failed: ${e instanceof Error ? e.message : String(e)}`));
      // Try again soon; if the token runs out first, the server closes with 4001 and the reconnect fetches one.
      const exp = tokenExpiryMs(previous) ?? 0;
      this.#timers.refresh = setTimeout(() => void this.#refresh(previous), Math.max(RETRY_AFTER_MS, (exp - Date.now()) / 4));
      return;
    }
    if (this.#ws !== ws || this.#state !== "open") return;
    this.#request({ type: "auth", token }, (reply) => {
      if (reply.type === "authed") this.#scheduleRefresh(token);
      else if (reply.type === "error") this.emit("error", new SessiondClientError(reply.code, reply.message));
    });
  }

  // --- frames ---------------------------------------------------------------------------------------------------

  #transmit(frame: Record<string, unknown>): number {
    const text = JSON.stringify(frame);
    if (this.#ws?.readyState === OPEN) this.#ws.send(text);
    return text.length;
  }

  /** Sends a frame with a fresh id; `onReply` gets the direct reply on this connection (never, if it drops). */
  #request(frame: Record<string, unknown>, onReply: Reply): number {
    const id = this.#nextId++;
    this.#replies.set(id, onReply);
    return this.#transmit({ ...frame, id });
  }

  #onFrame(data: unknown): void {
    // Any frame is a sign of life.
    clearTimeout(this.#timers.dead);
    this.#timers.dead = undefined;
    let frame: Frame;
    try {
      frame = JSON.parse(String(data)) as Frame;
    } catch {
      return this.emit("error", new SessiondClientError("internal", "The server sent a frame that is not JSON."));
    }
    if ("ref" in frame && typeof frame.ref === "number") {
      const reply = this.#replies.get(frame.ref);
      if (reply) {
        this.#replies.delete(frame.ref);
        return reply(frame);
      }
    }
    switch (frame.type) {
      case "message":
        return this.#handles.get(frame.session)?._receive(frame.message);
      case "presence":
        return this.#handles.get(frame.session)?._presence(frame.userId, frame.event);
      case "session":
        return this.#handles.get(frame.session.id)?._updated(frame.session);
      case "session.status": {
        const handle = this.#handles.get(frame.session);
        if (!handle) return;
        if (frame.status !== "erased") return handle._ended(frame.status);
        handle._erased();
        return this.#loseHandle(handle, new SessiondClientError("not_found", "The session was erased by an administrator.", { session: frame.session }));
      }
      case "stream.start":
      case "stream.delta":
      case "stream.end":
        return this.#handles.get(frame.session)?._stream(frame);
      case "room.session":
        return this.#followRoom(frame.room, frame.session.id);
      case "error": {
        const error = new SessiondClientError(frame.code, frame.message, { session: frame.session, retryAfterMs: frame.retryAfterMs });
        const handle = frame.session !== undefined ? this.#handles.get(frame.session) : undefined;
        // An unsolicited error naming a session: the connection lost access to it.
        if (handle && frame.code === "forbidden") return this.#loseHandle(handle, error);
        return this.emit("error", error);
      }
    }
  }

  #heartbeat(): void {
    let pinged = false;
    for (const handle of this.#handles.values()) {
      if (!handle.active || !handle._ready) continue;
      this.#transmit({ type: "ping", session: handle.id });
      pinged = true;
    }
    if (!pinged) this.#transmit({ type: "ping" });
    this.#timers.dead ??= setTimeout(() => this.#drop(CloseCode.heartbeatTimeout, "no reply to ping"), this.#options.heartbeatTimeoutMs);
  }

  // --- joins ----------------------------------------------------------------------------------------------------

  /** Sends `frame` once the connection is open and resolves with what `pick` makes of the reply. */
  #call<T>(frame: PendingCall["frame"], timeoutMs: number | undefined, key: string, pick: (reply: Frame) => T | undefined): Promise<T> {
    return new Promise((resolve, reject) => {
      if (this.#closedByApp || this.#state === "closed") return reject(this.#closedError());
      if (!ID_PATTERN.test(key)) return reject(new SessiondClientError("bad_request", `"${key.slice(0, 40)}" is not a valid session id or room key.`));
      const session = frame.session;
      const call: PendingCall = {
        frame,
        reject,
        inFlight: null,
        onReply: (reply) => {
          if (reply.type === "error") reject(new SessiondClientError(reply.code, reply.message, { session, retryAfterMs: reply.retryAfterMs }));
          else {
            const value = pick(reply);
            if (value !== undefined) resolve(value);
          }
          if (session !== undefined) this.#pump(session);
        },
        timer: setTimeout(() => {
          this.#removeCall(call);
          reject(new SessiondClientError("timeout", `The ${frame.type} was not answered in time.`, { session }));
        }, timeoutMs ?? this.#options.timeoutMs),
      };
      this.#calls.push(call);
      if (this.#state === "open") this.#sendCall(call);
    });
  }

  #sendCall(call: PendingCall): void {
    if (call.inFlight !== null) return;
    call.inFlight = this.#nextId;
    this.#request(call.frame, (reply) => {
      this.#removeCall(call);
      call.onReply(reply);
    });
  }

  #removeCall(call: PendingCall): void {
    clearTimeout(call.timer);
    const i = this.#calls.indexOf(call);
    if (i !== -1) this.#calls.splice(i, 1);
  }

  /** Re-joins with `since = lastSeq`: after a reconnect, or to fill a gap on the same connection. */
  #rejoin(handle: SessionHandle): void {
    const id = handle.id;
    const epoch = handle.epoch;
    this.#request({ type: "join", session: id, since: handle.lastSeq, ...(epoch !== undefined && { epoch }) }, (reply) => {
      // Left, lost, or moved on to the room's next session while this was on the wire.
      if (handle.id !== id || this.#handles.get(id) !== handle) return;
      if (reply.type === "joined") {
        const previousLastSeq = handle.lastSeq;
        const more = handle._recover(reply);
        if (reply.reset) this.emit("reset", { session: handle.id, epoch: handle.epoch, previousLastSeq });
        if (more) {
          handle._catchingUp = true;
          this.#rejoin(handle);
        }
        return this.#pump(handle.id);
      }
      if (reply.type !== "error") return;
      const error = new SessiondClientError(reply.code, reply.message, { session: handle.id, retryAfterMs: reply.retryAfterMs });
      if (reply.code === "internal" || reply.code === "rate_limited" || reply.code === "unavailable") {
        // Transient: try again on this connection (a reconnect re-joins anyway and clears this timer).
        const timer = setTimeout(() => {
          this.#rejoinRetries.delete(timer);
          if (this.#handles.get(handle.id) === handle) this.#rejoin(handle);
        }, reply.retryAfterMs ?? RETRY_AFTER_MS);
        this.#rejoinRetries.add(timer);
        return;
      }
      this.#loseHandle(handle, error);
    });
  }

  /** The room handle of `room`, if one is kept. */
  #roomHandle(room: string): SessionHandle | undefined {
    for (const handle of this.#handles.values()) if (handle.room === room) return handle;
    return undefined;
  }

  /** `room.session`: the room has an active session again; a room handle waiting for it joins it and moves. */
  #followRoom(room: string, next: string): void {
    const handle = this.#roomHandle(room);
    if (!handle?._waiting || this.#handles.has(next)) return;
    const frame: Record<string, unknown> = { type: "join", session: next };
    if (handle._limit !== undefined) frame.limit = handle._limit;
    this.#request(frame, (reply) => {
      if (!handle._waiting || this.#handles.get(handle.id) !== handle) return;
      if (reply.type === "joined") return this.#move(handle, reply);
      if (reply.type !== "error") return;
      if (reply.code === "internal" || reply.code === "rate_limited" || reply.code === "unavailable") {
        // Transient: try again on this connection (a reconnect re-joins the ended session and hears of it anew).
        const timer = setTimeout(() => {
          this.#rejoinRetries.delete(timer);
          this.#followRoom(room, next);
        }, reply.retryAfterMs ?? RETRY_AFTER_MS);
        this.#rejoinRetries.add(timer);
        return;
      }
      this.#loseHandle(handle, new SessiondClientError(reply.code, reply.message, { session: next }));
    });
  }

  #move(handle: SessionHandle, joined: Extract<Frame, { type: "joined" }>): void {
    if (handle.id === joined.session.id) return;
    this.#handles.delete(handle.id);
    this.#handles.set(joined.session.id, handle);
    handle._moveTo(joined);
    queueMicrotask(() => {
      if (joined.truncated) this.catchUp(handle);
      this.#pump(handle.id);
    });
  }

  #loseHandle(handle: SessionHandle, error: SessiondClientError): void {
    this.#handles.delete(handle.id);
    handle._lost(error);
    handle._dispose();
  }

  // --- sends ----------------------------------------------------------------------------------------------------

  #pumpAll(): void {
    for (const session of this.#outbox.sessions()) this.#pump(session);
  }

  /** Puts the head of a session's queue on the wire when the connection and the session are ready for it. */
  #pump(session: string): void {
    if (this.#state !== "open" || this.#ws?.readyState !== OPEN || Date.now() < this.#pausedUntil) return;
    const handle = this.#handles.get(session);
    if (handle && handle.active && !handle._ready) return;
    if (this.#calls.some((c) => c.frame.type === "join" && c.frame.session === session)) return;
    const entry = this.#outbox.head(session);
    if (!entry || entry.inFlight !== null) return;
    entry.inFlight = this.#nextId;
    entry.bytes = this.#request(entry.frame, (reply) => this.#onSendReply(entry, reply));
  }

  #onSendReply(entry: PendingSend, reply: Frame): void {
    entry.inFlight = null;
    if (reply.type === "ack") {
      return this.#settleSend(entry, { session: reply.session, seq: reply.seq, messageId: reply.messageId, clientMsgId: entry.frame.clientMsgId, ts: reply.ts });
    }
    if (reply.type !== "error") return;
    if (reply.code === "rate_limited" || reply.code === "unavailable" || reply.code === "internal") {
      // Nothing was written (a rate limit, a busy or full database, a server restarting): the same message (same
      // clientMsgId) goes again after retryAfterMs, still first in line, so call order is kept.
      return this.#pauseSends(reply.retryAfterMs ?? RETRY_AFTER_MS);
    }
    this.#settleSend(entry, new SessiondClientError(reply.code, reply.message, { session: entry.session, clientMsgId: entry.frame.clientMsgId }));
  }

  #settleSend(entry: PendingSend, result: Ack | SessiondClientError): void {
    if (!this.#outbox.remove(entry)) return;
    clearTimeout(entry.timer);
    if (entry.inFlight !== null) this.#replies.delete(entry.inFlight);
    if (result instanceof SessiondClientError) entry.reject(result);
    else entry.resolve(result);
    this.#pump(entry.session);
  }

  #pauseSends(ms: number): void {
    this.#pausedUntil = Math.max(this.#pausedUntil, Date.now() + ms);
    clearTimeout(this.#timers.paused);
    this.#timers.paused = setTimeout(() => this.#pumpAll(), this.#pausedUntil - Date.now());
  }

  #failPending(error: SessiondClientError): void {
    for (const call of this.#calls.splice(0)) {
      clearTimeout(call.timer);
      call.reject(error);
    }
    for (const entry of this.#outbox.entries()) this.#settleSend(entry, new SessiondClientError(error.code, error.message, { ...error.details, session: entry.session, clientMsgId: entry.frame.clientMsgId }));
  }

  /** For a call made after the client stopped: `closed`, saying why (and `reconnect()` when that can help). */
  #closedError(): SessiondClientError {
    const t = this.#terminal;
    if (this.#closedByApp || !t) return new SessiondClientError("closed", "The client was closed.");
    return new SessiondClientError("closed", `The client stopped (${t.message}); call reconnect() to start again.`, { closeCode: t.details.closeCode });
  }
}

/** `abandon`: the peer is not expected to answer, so where the runtime can (Bun), free the socket at once. */
function closeSocket(ws: WebSocket, code: number, reason: string, abandon = false): void {
  try {
    const terminate = (ws as WebSocket & { terminate?: () => void }).terminate;
    if (abandon && typeof terminate === "function") terminate.call(ws);
    else ws.close(code, reason);
  } catch {
    // Already closing.
  }
}

/** 128 random bits; getRandomValues works in insecure browser contexts too, unlike randomUUID. */
function newClientMsgId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return hex;
}
