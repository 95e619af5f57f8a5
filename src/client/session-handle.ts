// One joined session as the app sees it: its history, its events, exactly-once ordered messages across reconnects.
import type { Message, ServerFrame, SessionInfo, SessionStatus } from "../protocol/types.ts";
import { Emitter } from "./emitter.ts";
import type { SessiondClientError } from "./errors.ts";
import { OrderedDelivery } from "./ordered-delivery.ts";
import type { Ack, SendOptions, SessionChanges, SessionHandleEvents } from "./types.ts";

type Joined = Extract<ServerFrame, { type: "joined" }>;

const MAX_UNHEARD = 1000;

/** What a handle needs from its client. */
export interface SessionLink {
  send(session: string, content: string, options?: SendOptions): Promise<Ack>;
  configure(session: string, changes: SessionChanges): Promise<SessionInfo>;
  end(session: string, status?: "completed" | "cancelled"): Promise<SessionInfo>;
  leave(handle: SessionHandle): Promise<void>;
  catchUp(handle: SessionHandle): void;
}

export class SessionHandle extends Emitter<SessionHandleEvents> {
  readonly id: string;
  /** The messages returned by the join, oldest first. Everything later arrives as `message` events. */
  readonly history: readonly Message[];
  #info: SessionInfo;
  #participants: Set<string>;
  readonly #delivery: OrderedDelivery;
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
  ) {
    super();
    this.id = joined.session.id;
    this.#info = joined.session;
    this.history = joined.messages;
    this.#participants = new Set(joined.participants);
    this.#delivery = new OrderedDelivery(joined.messages.at(-1)?.seq ?? since ?? 0);
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

  /** Stops following the session; the handle emits nothing more. */
  leave(): Promise<void> {
    return this.link.leave(this);
  }

  /** @internal A live `message` frame. */
  _receive(message: Message): void {
    for (const m of this.#delivery.accept(message)) this.#deliver(m);
    if (this.#delivery.hasGap && !this._catchingUp) this.link.catchUp(this);
  }

  /** @internal The reply to a re-join or catch-up join with `since = lastSeq`. True when more remains to fetch. */
  _recover(joined: Joined): boolean {
    this._ready = true;
    this._catchingUp = false;
    const before = this.#info;
    this.#info = joined.session;
    for (const m of this.#delivery.acceptRecovered(joined.messages)) this.#deliver(m);
    if (describes(before) !== describes(joined.session)) this.emit("session", joined.session);
    const now = new Set(joined.participants);
    for (const userId of this.#participants) if (!now.has(userId)) this.emit("presence", { userId, event: "leave" });
    for (const userId of now) if (!this.#participants.has(userId)) this.emit("presence", { userId, event: "join" });
    this.#participants = now;
    if (joined.session.status !== "active") this.emit("status", joined.session.status);
    return this.active && (joined.truncated === true || this.#delivery.hasGap);
  }

  #deliver(message: Message): void {
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

  /** @internal The session can no longer be followed. */
  _lost(error: SessiondClientError): void {
    this.#gone = true;
    this.emit("error", error);
  }

  /** @internal Left or the client closed: drop state and listeners. */
  _dispose(): void {
    this.#gone = true;
    this.#delivery.clear();
    this.#unheard = [];
    this.removeAllListeners();
  }
}

/** The parts of a session description whose change the app is told about after a reconnect. */
const describes = (s: SessionInfo): string => JSON.stringify([s.mode, s.access, s.members, s.config]);
