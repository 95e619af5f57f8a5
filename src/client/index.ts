// sessiond/client: the SDK's public surface. No dependencies; standard WebSocket only (browsers and Bun).
export { connect, SessiondClient } from "./client.ts";
export { SessionHandle } from "./session-handle.ts";
export { SessiondClientError, type ClientErrorCode } from "./errors.ts";
export { backoffDelay } from "./backoff.ts";
export type { Ack, ClientEvents, ConnectOptions, ConnectionState, JoinOptions, JoinTarget, SendOptions, SessionChanges, SessionHandleEvents } from "./types.ts";
export type { Message, MessageKind, MessageRole, SessionAccess, SessionInfo, SessionMode, SessionStatus } from "../protocol/types.ts";
export { CloseCode, isReconnectable, type ErrorCode } from "../protocol/errors.ts";
