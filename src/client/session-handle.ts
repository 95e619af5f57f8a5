// One joined session as the app sees it: its history, its events, exactly-once ordered messages across reconnects.
import type { Message, ServerFrame, SessionInfo, SessionStatus } from "../protocol/types.ts";
import { Emitter } from "./emitter.ts";
import type { SessiondClientError } from "./errors.ts";
import { OrderedDelivery } from "./ordered-delivery.ts";
import { StreamTracker } from "./streams.ts";
import type { Ack, AssistantStream, SendOptions, SessionChanges, SessionHandleEvents } from "./types.ts";

type Joined = Extract<ServerFrame, { type: "joined" }>;
type StreamFrame = Extract<ServerFrame, { type: "stream.start" | "stream.delta" | "stream.end" }>;

const MAX_UNHEARD = 1000;

/** What a handle needs from its client. */
export interface SessionLink {
  send(session: string, content: string, options?: SendOptions): Promise<Ack>;
  configure(session: string, changes: SessionChanges): Promise<SessionInfo>;
  end(session: string, status?: "completed" | "cancelled"): Promise<SessionInfo>;
  cancel(session: string, streamId: string): Promise<void>;
  leave(handle: SessionHandle): Promise<void>;
  catchUp(handle: SessionHandle): void;
}

export class SessionHandle extends Emitter<SessionHandleEvents> {
  /**
   * The room this handle follows (joined with `{ room }`): when the room's session ends and a next one opens,
   * the handle moves to it by itself and emits `session` with the new id. Undefined for a handle joined by id.
   */
  readonly room: string | undefined;
  /** @internal The `limit` the handle was joined with, reused when it follows the room to its next session. */
  readonly _limit: number | undefined;
  #id: string;
  #history: readonly Message[];
  #info: SessionInfo;
  #participants: Set<string>;
  #delivery: OrderedDelivery;
  /** Assistant replies in progress, accumulated by offset. */
  readonly #streams = new StreamTracker();
  /** The server database's epoch this handle's seqs count in; sent back with `since` on every re-join. */
  #epoch: string | undefined;
  #gone = false;
  /** Messages that arrived before the app listened for them (e.g. while it awaited something after the join). */
  #unheard: Message[] = [];
  /** @internal Joined on the current connection: false while reconnecting, until the re-join is answered. */
  _ready = true;
  /** @internal A catch-up join is on the wire. */
  _catchingUp = false;

  /** @internal Built by the client from a `joined` reply. */
  constructor(
    private readonly link: SessionLink,
    joined: Joined,
    since: number | undefined,
    follow: { room?: string; limit?: number } = {},
  ) {
    super();
    this.room = follow.room;
    this._limit = follow.limit;
    this.#id = joined.session.id;
    this.#info = joined.session;
    this.#history = joined.messages;
    this.#participants = new Set(joined.participants);
    this.#epoch = joined.epoch ?? joined.session.epoch;
    this.reset = joined.reset === true;
    // After a reset the history starts over: `since` belonged to another history.
    this.#delivery = new OrderedDelivery(joined.messages.at(-1)?.seq ?? (this.reset ? 0 : (since ?? 0)));
    this.#streams.seed(joined.streams ?? []);
  }

  /** Assistant replies in progress with their text so far; changes arrive as `stream` events. */
  get streams(): AssistantStream[] {
    return this.#streams.list;
  }

  /**
   * True when the join's `since` did not describe the server's history (its database was restored, or the seq
   * is above the session's last): `history` is then the current history from the start, not what followed `since`.
   */
  readonly reset: boolean;

  /** The server database's epoch: store it with `lastSeq` and pass both to `join` to resume after a reload. */
  get epoch(): string | undefined {
    return this.#epoch;
  }

  /** The session followed now (a room handle's id changes when it moves to the room's next session). */
  get id(): string {
    return this.#id;
  }

  /** The messages returned by the join (of the current session), oldest first. Everything later arrives as `message`. */
  get history(): readonly Message[] {
    return this.#history;
  }

  /** The latest session description (status, access, members, config, metrics as of the last update). */
  get info(): SessionInfo {
    return this.#info;
  }

  /** Users present now, over any transport. */
  get participants(): string[] {
    return [...this.#participants];
  }

  /** The highest seq delivered to the app: store it to resume with `join(id, { since })` after a page reload. */
  get lastSeq(): number {
    return this.#delivery.lastSeq;
  }

  /** Still followed: the session is active, and it was neither left nor lost. */
  get active(): boolean {
    return !this.#gone && this.#info.status === "active";
  }

  /** @internal A room handle whose session ended: it waits for the room's next session. */
  get _waiting(): boolean {
    return !this.#gone && this.room !== undefined && this.#info.status !== "active";
  }

  /** A `message` listener added after messages arrived gets those first, in order, on the next microtask. */
  override on<K extends keyof SessionHandleEvents>(name: K, listener: (value: SessionHandleEvents[K]) => void): () => void {
    const off = super.on(name, listener);
    if (name === "message" && this.#unheard.length > 0) queueMicrotask(() => this.#flushUnheard());
    return off;
  }

  send(content: string, options?: SendOptions): Promise<Ack> {
    return this.link.send(this.id, content, options);
  }

  /** Changes the session's configuration, access or members (owner or admin). */
  configure(changes: SessionChanges): Promise<SessionInfo> {
    return this.link.configure(this.id, changes);
  }

  /** Ends the session for everyone (owner or admin). */
  end(status: "completed" | "cancelled" = "completed"): Promise<SessionInfo> {
    return this.link.end(this.id, status);
  }

  /**
   * Stops an assistant reply in progress (allowed for the author of the message it answers, the session's owner
   * and staff). Resolves once the server cancelled it; its text so far is committed and a `stream` end follows.
   */
  cancel(streamId: string): Promise<void> {
    return this.link.cancel(this.id, streamId);
  }

  /** Stops following the session; the handle emits nothing more. */
  leave(): Promise<void> {
    return this.link.leave(this);
  }

  /** @internal A live `message` frame. */
  _receive(message: Message): void {
    for (const m of this.#delivery.accept(message)) this.#deliver(m);
    if (this.#delivery.hasGap && !this._catchingUp) this.link.catchUp(this);
  }

  /** @internal A live stream frame. A piece that cannot be placed asks for a catch-up, whose snapshot holds it. */
  _stream(frame: StreamFrame): void {
    const t = this.#streams;
    const events = frame.type === "stream.start" ? t.start(frame.stream) : frame.type === "stream.delta" ? t.delta(frame) : t.end(frame);
    if (events === "gap") {
      if (!this._catchingUp) this.link.catchUp(this);
      return;
    }
    for (const e of events) this.emit("stream", e);
  }

  /** @internal The reply to a re-join or catch-up join with `since = lastSeq`. True when more remains to fetch. */
  _recover(joined: Joined): boolean {
    this._ready = true;
    this._catchingUp = false;
    const before = this.#info;
    this.#info = joined.session;
    if (joined.reset) {
      // The server's history is not the one our seqs counted in (a restore): say so, then deliver it all again.
      const previousLastSeq = this.#delivery.lastSeq;
      this.#delivery.clear();
      this.#delivery = new OrderedDelivery(0);
      this.#unheard = [];
      this.emit("reset", { epoch: joined.epoch ?? joined.session.epoch, previousLastSeq });
    }
    this.#epoch = joined.epoch ?? joined.session.epoch ?? this.#epoch;
    for (const m of this.#delivery.acceptRecovered(joined.messages)) this.#deliver(m);
    // After the messages, so a reply that ended meanwhile ends after its committed message, as it does live.
    for (const e of this.#streams.recover(joined.streams ?? [], joined.messages)) this.emit("stream", e);
    if (describes(before) !== describes(joined.session)) this.emit("session", joined.session);
    const now = new Set(joined.participants);
    for (const userId of this.#participants) if (!now.has(userId)) this.emit("presence", { userId, event: "leave" });
    for (const userId of now) if (!this.#participants.has(userId)) this.emit("presence", { userId, event: "join" });
    this.#participants = now;
    // Said once: a room handle waiting for the next session re-joins its ended one after each reconnect.
    if (joined.session.status !== "active" && before.status === "active") this.emit("status", joined.session.status);
    return this.active && (joined.truncated === true || this.#delivery.hasGap);
  }

  #deliver(message: Message): void {
    this.#streams.committed(message);
    if (this.#unheard.length === 0 && this.listenerCount("message") > 0) return this.emit("message", message);
    this.#unheard.push(message);
    // A handle used only to send never listens; keep the newest few for a listener that comes late.
    if (this.#unheard.length > MAX_UNHEARD) this.#unheard.shift();
  }

  #flushUnheard(): void {
    if (this.listenerCount("message") === 0) return;
    for (const m of this.#unheard.splice(0)) this.emit("message", m);
  }

  /** @internal */
  _presence(userId: string, event: "join" | "leave"): void {
    if (event === "join") this.#participants.add(userId);
    else this.#participants.delete(userId);
    this.emit("presence", { userId, event });
  }

  /** @internal */
  _updated(info: SessionInfo): void {
    this.#info = info;
    this.emit("session", info);
  }

  /** @internal The session ended; the server unsubscribed this connection. */
  _ended(status: Exclude<SessionStatus, "active">): void {
    this.#info = { ...this.#info, status };
    this.emit("status", status);
  }

  /**
   * @internal The room's next session, joined: the handle now follows it. History, lastSeq and participants start
   * over from that join; `session` tells the app (its `id` differs from the one before).
   */
  _moveTo(joined: Joined): void {
    this.#id = joined.session.id;
    this.#info = joined.session;
    this.#history = joined.messages;
    this.#participants = new Set(joined.participants);
    this.#delivery = new OrderedDelivery(joined.messages.at(-1)?.seq ?? 0);
    this.#epoch = joined.epoch ?? joined.session.epoch ?? this.#epoch;
    this.#unheard = [];
    this.#streams.clear();
    this.#streams.seed(joined.streams ?? []);
    this._ready = true;
    this._catchingUp = false;
    this.emit("session", joined.session);
  }

  /** @internal The session was erased by an administrator: it no longer exists (the caller then drops the handle). */
  _erased(): void {
    this.emit("status", "erased");
  }

  /** @internal The session can no longer be followed. */
  _lost(error: SessiondClientError): void {
    this.#gone = true;
    this.emit("error", error);
  }

  /** @internal Left or the client closed: drop state and listeners. */
  _dispose(): void {
    this.#gone = true;
    this.#delivery.clear();
    this.#streams.clear();
    this.#unheard = [];
    this.removeAllListeners();
  }
}

/** The parts of a session description whose change the app is told about after a reconnect. */
const describes = (s: SessionInfo): string => JSON.stringify([s.mode, s.access, s.members, s.config]);
