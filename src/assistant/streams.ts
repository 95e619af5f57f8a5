// The stream registry: the assistant's replies in progress, their text so far and their offsets (pure state; the
// subscriber drives it). Snapshots of it go into `joined.streams`, SSE on connect and GET .../streams.
import type { StreamInfo, StreamSnapshot } from "../protocol/types.ts";

/** One reply being streamed. Text and reasoning grow by appending only, so an offset names a position for good. */
export interface ActiveStream {
  readonly info: StreamInfo;
  readonly sessionId: string;
  /** The author of the message being answered (who may cancel besides the owner and staff). */
  readonly author: string;
  text: string;
  reasoning: string;
  /** Aborts the upstream request. */
  readonly controller: AbortController;
  /** Set once the reply has an outcome; nothing more is appended or sent for it. */
  finished: boolean;
  /** Text or reasoning changed since the last save to storage. */
  dirty: boolean;
  /** When the triggering message committed, epoch ms (responseTime counts from here). */
  readonly triggeredAt: number;
  /** When the stream started, epoch ms. */
  readonly startedAtMs: number;
  /** When the first piece arrived, epoch ms (null before). */
  firstPieceAt: number | null;
}

export class StreamRegistry {
  private readonly byId = new Map<string, ActiveStream>();
  private readonly bySession = new Map<string, Set<ActiveStream>>();

  get size(): number {
    return this.byId.size;
  }

  add(stream: ActiveStream): void {
    this.byId.set(stream.info.id, stream);
    let set = this.bySession.get(stream.sessionId);
    if (!set) this.bySession.set(stream.sessionId, (set = new Set()));
    set.add(stream);
  }

  remove(stream: ActiveStream): void {
    if (this.byId.get(stream.info.id) !== stream) return;
    this.byId.delete(stream.info.id);
    const set = this.bySession.get(stream.sessionId);
    set?.delete(stream);
    if (set?.size === 0) this.bySession.delete(stream.sessionId);
  }

  /** The stream with this id in this session, or undefined (another session's id is not found either). */
  find(sessionId: string, streamId: string): ActiveStream | undefined {
    const stream = this.byId.get(streamId);
    return stream?.sessionId === sessionId ? stream : undefined;
  }

  inSession(sessionId: string): ActiveStream[] {
    return [...(this.bySession.get(sessionId) ?? [])];
  }

  all(): ActiveStream[] {
    return [...this.byId.values()];
  }

  /** Appends a piece and returns its offset: the length of that part before it (JavaScript string length). */
  append(stream: ActiveStream, part: "text" | "reasoning", piece: string): number {
    const offset = part === "text" ? stream.text.length : stream.reasoning.length;
    if (part === "text") stream.text += piece;
    else stream.reasoning += piece;
    stream.dirty = true;
    return offset;
  }

  /** Everything streamed so far in the session, for a client that joins mid-reply. */
  snapshots(sessionId: string): StreamSnapshot[] {
    return this.inSession(sessionId).map((s) => snapshotOf(s));
  }
}

export function snapshotOf(s: ActiveStream): StreamSnapshot {
  return { ...s.info, text: s.text, ...(s.reasoning !== "" && { reasoning: s.reasoning }) };
}
