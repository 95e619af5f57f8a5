// The client's public option, result and event types.
import type { AssistantSetting, Message, MessageKind, SessionAccess, SessionInfo, SessionStatus, StreamStatus } from "../protocol/types.ts";
import type { SessiondClientError } from "./errors.ts";

export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

export interface ConnectOptions {
  /**
   * The WebSocket endpoint (`wss://host/ws`), or the server's base URL (`https://host`; `/ws` is added). Or a
   * non-empty list of them, the nodes of one cluster: the first attempt uses the first; each reconnect attempt
   * moves to the next, round robin (see `reconnect.baseMs` for the delays). Once connected the client stays on
   * that URL until the link is lost.
   */
  url: string | readonly string[];
  /** A fixed token. Prefer `getToken` for tokens that expire while the app runs. */
  token?: string;
  /** Called before every connection attempt and again before the token expires (the fresh one is sent as `auth`). */
  getToken?: () => string | Promise<string>;
  reconnect?: {
    /**
     * First backoff ceiling (default 500 ms); doubles per round up to `capMs`. A round tries each URL once: its
     * first attempt waits the jittered backoff, the others go at once (with one URL, every attempt is a round).
     */
    baseMs?: number;
    /** Largest delay between attempts (default 30 s). */
    capMs?: number;
    /** Attempts before giving up and closing, each URL tried counting as one (default unlimited). */
    maxAttempts?: number;
    /** A connection open this long resets the attempt count (default 5 s). */
    stableAfterMs?: number;
  };
  heartbeat?: {
    /** How often to ping, per joined session (default 15 s); the pings also keep the sessions from expiring. */
    intervalMs?: number;
    /** Silence after a ping longer than this means the link is dead: close it and reconnect (default 10 s). */
    timeoutMs?: number;
  };
  /** Give up on an attempt that has not opened within this time (default 10 s). */
  connectTimeoutMs?: number;
  /** How long a `send` or `join` may wait, offline time included, before it rejects with `timeout` (default 30 s). */
  timeoutMs?: number;
  /** Sends waiting for an ack, at most (default 1000); more reject with `queue_full`. */
  maxQueuedSends?: number;
  /** A WebSocket implementation, for runtimes without a global one. */
  WebSocket?: typeof WebSocket;
}

export interface SendOptions {
  kind?: MessageKind;
  metadata?: Record<string, unknown>;
  /** The idempotency key; one is generated when not given. Reuse it only to retry the same message. */
  clientMsgId?: string;
  /**
   * Ask the session's assistant for a reply to this message (it must be enabled there): `json` for a JSON object,
   * `reasoning` to have the model's reasoning streamed apart.
   */
  assistant?: { json?: boolean; reasoning?: boolean };
  timeoutMs?: number;
}

/** The durable acknowledgement of a send: the message is committed to the server's database. */
export interface Ack {
  session: string;
  seq: number;
  messageId: string;
  clientMsgId: string;
  /** Commit time, epoch milliseconds. */
  ts: number;
}

/** Each given field replaces the old value. */
export interface SessionChanges {
  config?: Record<string, unknown>;
  access?: SessionAccess;
  members?: string[];
  /** The given fields are merged into the session's assistant setting (enabling it needs a server with AI_BASE_URL). */
  assistant?: Partial<AssistantSetting>;
}

export type JoinTarget = string | { session: string } | { room: string };

export interface JoinOptions {
  /** How many recent messages to return as `history` (server default 100). */
  limit?: number;
  /** Start after this seq instead (e.g. one the app stored); later messages arrive as `message` events. */
  since?: number;
  /**
   * The epoch `since` was counted in (the handle's `epoch`, stored with it). If the server's database has another
   * one (it was restored), the join answers with the current history from the start and the handle's `reset` is true.
   */
  epoch?: string;
  timeoutMs?: number;
}

export interface ClientEvents {
  /** `url`: the WebSocket URL being tried. */
  connecting: { attempt: number; url: string };
  /** `url`: the WebSocket URL now in use (also `client.url`). */
  open: { reconnected: boolean; url: string };
  /** `url`: the WebSocket URL the next attempt, in `delayMs`, will try. */
  reconnecting: { attempt: number; delayMs: number; code: number; reason: string; url: string };
  closed: { code: number; reason: string; error?: SessiondClientError };
  /** An error not tied to a request (e.g. a token refresh that failed). */
  error: SessiondClientError;
  /**
   * A joined session's history was replaced under it (the server's database was restored): the same as the
   * handle's `reset` event, for an app that listens in one place. The handle delivers the history again.
   */
  reset: { session: string; epoch: string | undefined; previousLastSeq: number };
}

/** An assistant reply as the app shows it: every character once, in order, across reconnects. */
export interface AssistantStream {
  id: string;
  /** The seq of the message it answers. */
  replyTo: number;
  /** The assistant's name (the committed message's userId). */
  userId: string;
  model: string;
  /** ISO 8601 */
  startedAt: string;
  /** The answer so far (all of it once ended). */
  text: string;
  /** The model's reasoning so far, when it was asked for ("" otherwise). */
  reasoning: string;
  /** Set once it ended. */
  status?: StreamStatus;
  /** The committed message's seq (for a failed reply without text, the failure notice's), once committed. */
  seq?: number;
}

/** `delta.text` is only what is new; `stream.text` is everything so far. */
export type StreamEvent =
  | { type: "start"; stream: AssistantStream }
  | { type: "delta"; stream: AssistantStream; part: "text" | "reasoning"; text: string }
  | { type: "end"; stream: AssistantStream };

export interface SessionHandleEvents {
  /** An assistant reply started, grew, or ended (its committed `message` event comes just before its end). */
  stream: StreamEvent;
  /** Every message after the join's history, exactly once and in seq order, across reconnects. */
  message: Message;
  presence: { userId: string; event: "join" | "leave" };
  /** The session's configuration, access or members changed; or a room handle moved to the room's next session (a new `id`). */
  session: SessionInfo;
  /** The session ended; it is read-only now and no more of its events follow (a room handle waits for the next one). "erased": it was deleted (then `error`). */
  status: Exclude<SessionStatus, "active"> | "erased";
  /**
   * The server's history is not the one the handle's seqs counted in (its database was restored from a backup, or
   * the seq is above the session's last): every message of the current history is delivered again from seq 1, as
   * `message` events right after this one. Drop what you showed before.
   */
  reset: { epoch: string | undefined; previousLastSeq: number };
  /** The session can no longer be followed (access removed, or it no longer exists). */
  error: SessiondClientError;
}
