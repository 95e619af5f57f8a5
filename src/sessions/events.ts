// Domain events: what happened to sessions, for modules that react (fan-out, metrics, later AI analysis).
import type { Message, SessionInfo, SessionStatus } from "../protocol/types.ts";

export interface SessionEventMap {
  "session.started": { session: SessionInfo };
  "session.updated": { session: SessionInfo };
  /** Emitted after the row is archived; subscribers are told, then dropped. */
  "session.ended": { session: SessionInfo; status: Exclude<SessionStatus, "active"> };
  /** Emitted synchronously after commit, in seq order per session. */
  "message.committed": { message: Message; ackLatencyMs?: number };
  "presence.changed": { sessionId: string; userId: string; event: "join" | "leave" };
}

type Listener<T> = (event: T) => void;

/** A synchronous typed emitter; a throwing listener is reported and never stops the others. */
export class SessionEvents {
  private readonly listeners: { [K in keyof SessionEventMap]?: Array<Listener<SessionEventMap[K]>> } = {};

  constructor(private readonly onListenerError: (error: unknown, event: keyof SessionEventMap) => void = console.error) {}

  on<K extends keyof SessionEventMap>(name: K, listener: Listener<SessionEventMap[K]>): () => void {
    const list = (this.listeners[name] ??= []) as Array<Listener<SessionEventMap[K]>>;
    list.push(listener);
    return () => {
      const i = list.indexOf(listener);
      if (i !== -1) list.splice(i, 1);
    };
  }

  emit<K extends keyof SessionEventMap>(name: K, event: SessionEventMap[K]): void {
    const list = this.listeners[name] as Array<Listener<SessionEventMap[K]>> | undefined;
    if (!list) return;
    for (const listener of list) {
      try {
        listener(event);
      } catch (e) {
        this.onListenerError(e, name);
      }
    }
  }
}
