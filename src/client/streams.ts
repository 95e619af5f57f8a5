// The assistant replies in progress of one session handle (pure): text accumulated from deltas by offset, so a
// piece is never shown twice across reconnects, and the snapshots of a (re)join reconciled with what was shown.
import type { Message, ServerFrame, StreamInfo, StreamSnapshot, StreamStatus } from "../protocol/types.ts";
import type { AssistantStream, StreamEvent } from "./types.ts";

type Delta = Extract<ServerFrame, { type: "stream.delta" }>;
type End = Extract<ServerFrame, { type: "stream.end" }>;

export class StreamTracker {
  readonly #streams = new Map<string, AssistantStream>();
  /** Ids of streams that ended, so a late or repeated frame does not bring one back. */
  readonly #ended = new Set<string>();

  /** Replies in progress, oldest first. */
  get list(): AssistantStream[] {
    return [...this.#streams.values()].map((s) => ({ ...s }));
  }

  /** The snapshots of the first join: known from the start, no events (the app reads `handle.streams`). */
  seed(snapshots: readonly StreamSnapshot[]): void {
    for (const s of snapshots) this.#streams.set(s.id, fromSnapshot(s));
  }

  start(info: StreamInfo): StreamEvent[] {
    if (this.#streams.has(info.id) || this.#ended.has(info.id)) return [];
    const stream: AssistantStream = { ...info, text: "", reasoning: "" };
    this.#streams.set(info.id, stream);
    return [{ type: "start", stream: { ...stream } }];
  }

  /**
   * Applies a piece by its offset: what is already shown is dropped, the rest appended. Returns "gap" when the
   * piece starts after the end of what is shown (or its stream is unknown): pieces were missed, and a re-join
   * with `since` (whose snapshot has the whole text) is needed.
   */
  delta(frame: Delta): StreamEvent[] | "gap" {
    if (this.#ended.has(frame.stream)) return [];
    const stream = this.#streams.get(frame.stream);
    if (!stream) return "gap";
    const part = frame.part === "reasoning" ? "reasoning" : "text";
    const have = stream[part].length;
    if (frame.offset > have) return "gap";
    const fresh = frame.text.slice(have - frame.offset);
    if (fresh === "") return [];
    stream[part] += fresh;
    return [{ type: "delta", stream: { ...stream }, part, text: fresh }];
  }

  end(frame: End): StreamEvent[] {
    const stream = this.#streams.get(frame.stream);
    if (!stream) return [];
    return this.#finish(stream, frame.status, frame.seq);
  }

  /** A delivered message: a reply's committed message carries its final text (stream.end follows it). */
  committed(message: Message): void {
    const id = message.metadata?.stream;
    if (typeof id !== "string" || message.role !== "assistant") return;
    const stream = this.#streams.get(id);
    if (!stream) return;
    stream.text = message.content;
    const reasoning = message.metadata?.reasoning;
    if (typeof reasoning === "string") stream.reasoning = reasoning;
    stream.seq = message.seq;
  }

  /**
   * Reconciles the streams of a re-join (or catch-up) reply, whose messages were delivered just before: a new
   * reply starts with its text so far; a known one gets the part it missed as one delta; one that is gone ended
   * while we were away (its status from its committed message, else `interrupted`).
   */
  recover(snapshots: readonly StreamSnapshot[], messages: readonly Message[]): StreamEvent[] {
    const events: StreamEvent[] = [];
    const present = new Set(snapshots.map((s) => s.id));
    for (const stream of [...this.#streams.values()]) {
      if (present.has(stream.id)) continue;
      const outcome = messages.filter((m) => m.metadata?.stream === stream.id);
      const committed = statusOf(outcome.find((m) => m.role === "assistant")?.metadata?.status);
      const status = committed ?? (outcome.some((m) => m.role === "system") ? "failed" : "interrupted");
      events.push(...this.#finish(stream, status, outcome[0]?.seq));
    }
    for (const snapshot of snapshots) {
      if (this.#ended.has(snapshot.id)) continue;
      const known = this.#streams.get(snapshot.id);
      if (!known) {
        const stream = fromSnapshot(snapshot);
        this.#streams.set(snapshot.id, stream);
        events.push({ type: "start", stream: { ...stream } });
        continue;
      }
      for (const part of ["text", "reasoning"] as const) {
        const full = snapshot[part] ?? "";
        if (full.length <= known[part].length) continue;
        const fresh = full.slice(known[part].length);
        known[part] = full;
        events.push({ type: "delta", stream: { ...known }, part, text: fresh });
      }
    }
    return events;
  }

  clear(): void {
    this.#streams.clear();
    this.#ended.clear();
  }

  #finish(stream: AssistantStream, status: StreamStatus, seq?: number): StreamEvent[] {
    this.#streams.delete(stream.id);
    this.#ended.add(stream.id);
    // Bounded: only ids recent enough to meet a straggling frame matter.
    if (this.#ended.size > 256) this.#ended.delete(this.#ended.values().next().value!);
    stream.status = status;
    if (seq !== undefined) stream.seq ??= seq;
    return [{ type: "end", stream: { ...stream } }];
  }
}

const STATUSES: readonly string[] = ["complete", "cancelled", "failed", "interrupted"] satisfies StreamStatus[];
const statusOf = (value: unknown): StreamStatus | undefined => (typeof value === "string" && STATUSES.includes(value) ? (value as StreamStatus) : undefined);

function fromSnapshot(s: StreamSnapshot): AssistantStream {
  return { id: s.id, replyTo: s.replyTo, userId: s.userId, model: s.model, startedAt: s.startedAt, text: s.text, reasoning: s.reasoning ?? "" };
}
