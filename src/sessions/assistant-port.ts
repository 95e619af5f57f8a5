// What the session service asks of the built-in assistant (implemented by assistant/AssistantSubscriber and attached
// at start-up; absent when no model server is configured). Pure types.
import type { AssistantSetting, MessageRole, StreamSnapshot } from "../protocol/types.ts";

/** What a message may ask of the assistant: a reply to it, as JSON and/or with reasoning streamed apart. */
export interface AssistantRequest {
  json?: boolean;
  reasoning?: boolean;
}

export interface AssistantPort {
  /**
   * Called synchronously for each message the service is about to queue for commit. Returns the reply it will get
   * (a place in the session's line is then held until the commit or `release`), or null when it gets none.
   * Throws `limit_exceeded` when the session's line is full: the message is then refused, nothing written.
   */
  admit(
    session: { id: string; assistant: AssistantSetting },
    message: { role: MessageRole; userId: string; content: string },
    request?: AssistantRequest,
  ): AssistantRequest | null;
  /** Gives back the place held by `admit` for a message that was not committed (failed, or a duplicate). */
  release(sessionId: string): void;
  /** The session's replies in progress with their text so far; read in the same tick as the history it joins. */
  snapshots(sessionId: string): StreamSnapshot[];
  /** Whether a reply is streaming or waiting in the session (it must not expire meanwhile). */
  busy(sessionId: string): boolean;
  /** Who wrote the message a reply in progress answers; null when the session has no such reply in progress. */
  streamAuthor(sessionId: string, streamId: string): string | null;
  /** Cancels a reply in progress: aborts the upstream request at once and commits what it had. */
  cancel(sessionId: string, streamId: string): void;
}
