// Domain events: what happened to sessions, for modules that react (fan-out, metrics, later AI analysis).
import type { Alert, Analysis } from "../protocol/analysis.ts";
import type { AnalysisSetting, Message, SessionInfo, SessionStatus, StreamInfo, StreamStatus } from "../protocol/types.ts";
import type { AssistantRequest } from "./assistant-port.ts";
import type { Principal } from "./access.ts";
import type { ReadVia } from "./outside-read.ts";

export interface SessionEventMap {
  "session.started": { session: SessionInfo };
  "session.updated": { session: SessionInfo };
  /** Emitted after the row is archived; subscribers are told, then dropped. */
  "session.ended": { session: SessionInfo; status: Exclude<SessionStatus, "active"> };
  /**
   * Emitted synchronously after commit, in seq order per session. `assistant`: the message was accepted as asking
   * the built-in assistant for a reply (with these options).
   */
  "message.committed": { message: Message; ackLatencyMs?: number; assistant?: AssistantRequest };
  /** Emitted before a session is ended and its pending appends are flushed, so work in progress can still commit. */
  "session.ending": { sessionId: string };
  /** An assistant reply started streaming. */
  "stream.started": { sessionId: string; stream: StreamInfo };
  /** One piece of a reply; `offset` is the length of that part (text or reasoning) before it. */
  "stream.delta": { sessionId: string; streamId: string; offset: number; text: string; part?: "reasoning" };
  /** A reply ended; `seq` is its committed message (or the failure notice), when one was committed. */
  "stream.ended": { sessionId: string; streamId: string; status: StreamStatus; seq?: number };
  /** Someone allowed to stop a reply streaming on another node asked to (that node cancels it). */
  "stream.cancel_requested": { sessionId: string; streamId: string };
  "presence.changed": { sessionId: string; userId: string; event: "join" | "leave" };
  /** Staff read a session they neither own nor belong to (for the audit trail); emitted after the access check. */
  "session.read": { sessionId: string; reader: Principal; via: ReadVia };
  /**
   * A session and everything that refers to it were deleted (an erasure or retention). Subscribers are told with
   * `session.status` "erased" and dropped; features holding state for it in memory must drop it too.
   */
  "session.erased": { sessionId: string };
  /** A user was erased: their sessions are gone (each had `session.erased`) and these sessions hold tombstones. */
  "user.erased": { userId: string; sessions: string[] };
  /** A message's analysis was stored (once per message); `share` is the session's setting at that moment. */
  "analysis.stored": { sessionId: string; seq: number; analysis: Analysis; share: AnalysisSetting["share"] };
  /** A crisis alert was stored; for every connection of a staff user. */
  "alert.raised": { alert: Alert };
  /** An alert was acknowledged or resolved. */
  "alert.updated": { alert: Alert };
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
