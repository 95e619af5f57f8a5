// The subscriber seam: reactions to domain events that run off the hot path (analysis, the assistant, webhooks,
// archive files), each with a start that catches up from storage and a stop that finishes or saves its work.

/**
 * A subscriber hears domain events (SessionEvents) and does slow work through its own bounded queue, never on
 * the write path. Its cursor is in storage (e.g. "messages without an analysis"), so work missed during a
 * crash, or dropped from a full queue, is found again by `start` or a later catch-up.
 */
export interface Subscriber {
  readonly name: string;
  /** Subscribes to events, then catches up on what was committed while it was not listening. */
  start(): void | Promise<void>;
  /** Stops taking new work; finishes or saves what is in flight. Called in reverse start order at shutdown. */
  stop(): Promise<void>;
}
