// The webhook outbox writer: commit hooks that add one outbox row per enabled event inside the store's own
// transaction, and the presence listener for participant.left (its own small transaction: nothing is stored).
import type { WebhookEventType } from "../config/index.ts";
import type { CommitHooks } from "../db/commit-hooks.ts";
import type { OutboxStore, SqliteOutboxStore } from "../db/outbox-store.ts";
import { isPending, then, type Awaitable } from "../sessions/awaitable.ts";
import type { SessionEvents } from "../sessions/events.ts";
import * as E from "./webhook-events.ts";

/** An event with its `webhook-id` and time, as a store that records events inside its own transaction takes them. */
export interface RecordedEvent extends E.OutboxEvent {
  id: string;
  createdAt: number;
}

export interface OutboxWriterOptions {
  /** SQLite: `record` writes through it inside the caller's transaction. PostgreSQL: `hooksInto` collects instead. */
  store: OutboxStore & Partial<Pick<SqliteOutboxStore, "insertEvent">>;
  /** The events to record (WEBHOOK_EVENTS); any other is never written. */
  events: ReadonlySet<WebhookEventType>;
  /** Message content, metadata, alert triggers and notes in bodies (WEBHOOK_INCLUDE_CONTENT). @default false */
  includeContent?: boolean;
  /** Told after a row was written (the sender wakes on the next turn, after the commit). */
  onRecorded?: () => void;
  /** @default Date.now */
  now?: () => number;
  /** The `webhook-id` of a new event. @default "msg_" + a UUIDv7 without dashes */
  newId?: () => string;
}

const defaultId = (): string => `msg_${Bun.randomUUIDv7().replaceAll("-", "")}`;

export class OutboxWriter {
  private readonly now: () => number;
  private readonly newId: () => string;

  constructor(private readonly options: OutboxWriterOptions) {
    this.now = options.now ?? Date.now;
    this.newId = options.newId ?? defaultId;
  }

  enabled(type: WebhookEventType): boolean {
    return this.options.events.has(type);
  }

  /** Adds the event inside the caller's open transaction (SQLite's store, on the caller's connection). */
  record(event: E.OutboxEvent): void {
    this.options.store.insertEvent!(this.newId(), event.type, event.sessionId, event.body, this.now());
    this.options.onRecorded?.();
  }

  /** Adds the event in its own transaction (for what is not a stored change). */
  recordNow(event: E.OutboxEvent): Awaitable<void> {
    return then(this.options.store.insertEventNow(this.newId(), event.type, event.sessionId, event.body, this.now()), () => this.options.onRecorded?.());
  }

  /**
   * The hooks for the enabled events only: a store checks a hook's presence once, so an event that is not
   * enabled (message.created by default) costs nothing on its write path.
   */
  hooks(): CommitHooks {
    return this.hooksInto((event) => this.record(event));
  }

  /** The same hooks handing each event, with its id and time, to `take` (a store that writes them itself later). */
  hooksInto(take: (event: E.OutboxEvent) => void): CommitHooks {
    const content = this.options.includeContent ?? false;
    const hooks: CommitHooks = {};
    if (this.enabled("session.started")) hooks.sessionStarted = (r) => take(E.sessionStarted(r));
    if (this.enabled("session.ended")) hooks.sessionEnded = (r) => take(E.sessionEnded(r));
    if (this.enabled("participant.joined")) hooks.participantAdded = (s, u, at) => take(E.participantJoined(s, u, at));
    if (this.enabled("message.created")) hooks.messageCommitted = (m) => take(E.messageCreated(m, content));
    if (this.enabled("alert.raised")) hooks.alertRaised = (a) => take(E.alertRaised(a, content));
    if (this.enabled("alert.updated")) hooks.alertUpdated = (a) => take(E.alertUpdated(a, content, this.now()));
    return hooks;
  }

  /** Gives an event collected by `hooksInto` its `webhook-id` and time. */
  stamp(event: E.OutboxEvent): RecordedEvent {
    return { ...event, id: this.newId(), createdAt: this.now() };
  }

  /**
   * participant.left follows presence (a participant's last connection leaving), which is not stored: it is
   * recorded at that moment in its own transaction. Staff who only watched never joined as participants, so they
   * do not leave either. Returns the unsubscribe function.
   */
  listen(events: SessionEvents, onError: (e: unknown) => void): () => void {
    if (!this.enabled("participant.left")) return () => {};
    return events.on("presence.changed", ({ sessionId, userId, event }) => {
      if (event !== "leave") return;
      const at = this.now();
      try {
        const done = then(this.options.store.isParticipant(sessionId, userId), (yes) => (yes ? this.recordNow(E.participantLeft(sessionId, userId, at)) : undefined));
        if (isPending(done)) done.then(undefined, onError);
      } catch (e) {
        onError(e);
      }
    });
  }
}
