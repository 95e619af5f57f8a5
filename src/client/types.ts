// The client's public option, result and event types.
import type { Message, MessageKind, SessionAccess, SessionInfo, SessionStatus } from "../protocol/types.ts";
import type { SessiondClientError } from "./errors.ts";

export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

export interface ConnectOptions {
  /** The WebSocket endpoint (`wss://host/ws`), or the server's base URL (`https://host`; `/ws` is added). */
  url: string;
  /** A fixed token. Prefer `getToken` for tokens that expire while the app runs. */
  token?: string;
  /** Called before every connection attempt and again before the token expires (the fresh one is sent as `auth`). */
  getToken?: () => string | Promise<string>;
  reconnect?: {
    /** First backoff ceiling (default 500 ms); doubles per attempt up to `capMs`. */
    baseMs?: number;
    /** Largest delay between attempts (default 30 s). */
    capMs?: number;
    /** Attempts before giving up and closing (default unlimited). */
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
}

export type JoinTarget = string | { session: string } | { room: string };

export interface JoinOptions {
  /** How many recent messages to return as `history` (server default 100). */
  limit?: number;
  /** Start after this seq instead (e.g. one the app stored); later messages arrive as `message` events. */
  since?: number;
  timeoutMs?: number;
}

export interface ClientEvents {
  connecting: { attempt: number };
  open: { reconnected: boolean };
  reconnecting: { attempt: number; delayMs: number; code: number; reason: string };
  closed: { code: number; reason: string; error?: SessiondClientError };
  /** An error not tied to a request (e.g. a token refresh that failed). */
  error: SessiondClientError;
}

export interface SessionHandleEvents {
  /** Every message after the join's history, exactly once and in seq order, across reconnects. */
  message: Message;
  presence: { userId: string; event: "join" | "leave" };
  /** The session's configuration, access or members changed. */
  session: SessionInfo;
  /** The session ended; it is read-only now and no more events follow. */
  status: Exclude<SessionStatus, "active">;
  /** The session can no longer be followed (access removed, or it no longer exists). */
  error: SessiondClientError;
}
