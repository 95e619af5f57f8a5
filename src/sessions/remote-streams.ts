// Assistant replies streaming on other nodes, as this node hears them through the broker: their text so far, so a
// client that joins here mid-reply gets the same `joined.streams` as on the node that streams it. Pure state.
import type { StreamInfo, StreamSnapshot } from "../protocol/types.ts";

interface Mirror {
  info: StreamInfo;
  /** Who wrote the message being answered, when this node held it (they may stop the reply). */
  author: string | null;
  text: string;
  reasoning: string;
  heardAt: number;
}

export class RemoteStreams {
  private readonly bySession = new Map<string, Map<string, Mirror>>();

  /**
   * @param maxQuietMs a stream not heard of for this long is dropped: its node went away without ending it (the
   *   node that later commits it as interrupted sends only the message, which ends the mirror too).
   */
  constructor(private readonly maxQuietMs: number) {}

  started(sessionId: string, info: StreamInfo, author: string | null, now: number): void {
    let streams = this.bySession.get(sessionId);
    if (!streams) this.bySession.set(sessionId, (streams = new Map()));
    streams.set(info.id, { info, author, text: "", reasoning: "", heardAt: now });
  }

  learnedAuthor(sessionId: string, streamId: string, author: string): void {
    const m = this.bySession.get(sessionId)?.get(streamId);
    if (m) m.author = author;
  }

  /** The stream's author: a string, null when not known here, undefined when no such stream is streaming elsewhere. */
  authorOf(sessionId: string, streamId: string): string | null | undefined {
    return this.bySession.get(sessionId)?.get(streamId)?.author;
  }

  /**
   * A piece at `offset`. One that does not continue the text exactly (a piece lost on the way, or a stream heard
   * from its middle) drops the mirror: a joiner is better shown nothing than a reply with a hole.
   */
  delta(sessionId: string, streamId: string, offset: number, text: string, part: "text" | "reasoning", now: number): void {
    const streams = this.bySession.get(sessionId);
    const m = streams?.get(streamId);
    if (!streams || !m) return;
    if (offset !== m[part].length) return this.ended(sessionId, streamId);
    m[part] += text;
    m.heardAt = now;
  }

  ended(sessionId: string, streamId: string): void {
    const streams = this.bySession.get(sessionId);
    if (!streams?.delete(streamId)) return;
    if (streams.size === 0) this.bySession.delete(sessionId);
  }

  forget(sessionId: string): void {
    this.bySession.delete(sessionId);
  }

  snapshots(sessionId: string, now: number): StreamSnapshot[] {
    const streams = this.bySession.get(sessionId);
    if (!streams) return [];
    const out: StreamSnapshot[] = [];
    for (const [id, m] of streams) {
      if (now - m.heardAt > this.maxQuietMs) {
        this.ended(sessionId, id);
        continue;
      }
      out.push({ ...m.info, text: m.text, ...(m.reasoning !== "" && { reasoning: m.reasoning }) });
    }
    return out;
  }
}
