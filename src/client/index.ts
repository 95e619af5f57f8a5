// sessiond/client: the SDK's public surface. No dependencies; standard WebSocket only (browsers and Bun).
export { connect, SessiondClient } from "./client.ts";
export { SessionHandle } from "./session-handle.ts";
export { SessiondClientError, type ClientErrorCode } from "./errors.ts";
export { backoffDelay } from "./backoff.ts";
export type { Ack, AssistantStream, ClientEvents, ConnectOptions, ConnectionState, JoinOptions, JoinTarget, SendOptions, SessionChanges, SessionHandleEvents, StreamEvent } from "./types.ts";
export type { Message, MessageKind, MessageRole, SessionAccess, SessionInfo, SessionMode, SessionStatus, StreamStatus } from "../protocol/types.ts";
export { CloseCode, isReconnectable, type ErrorCode } from "../protocol/errors.ts";
