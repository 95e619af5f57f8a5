// The client's one error type: the protocol's error codes plus the ways a request can fail on the client side.
import type { ErrorCode } from "../protocol/errors.ts";

export type ClientErrorCode =
  | ErrorCode
  /** No reply (ack, joined) within the request's timeout. A send may still have been committed. */
  | "timeout"
  /** The client was closed by the app, or for good by the server (see `closeCode`). */
  | "closed"
  /** Too many sends are waiting for the connection (`maxQueuedSends`). */
  | "queue_full";

export class SessiondClientError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    readonly details: { session?: string; retryAfterMs?: number; clientMsgId?: string; closeCode?: number } = {},
  ) {
    super(message);
    this.name = "SessiondClientError";
  }
}
