// The transcript of the Session view: messages in seq order with their analysis badges (sentiment, risk,
// topics), earlier pages loaded on demand, and assistant replies that are still streaming, de-duplicated by offset.
import type { Analysis } from "../../../protocol/analysis.ts";
import type { Message, StreamInfo, StreamSnapshot } from "../../../protocol/types.ts";
import { h, replace } from "../dom.ts";
import { riskBadge, sentimentChip, when } from "../widgets.ts";

interface LiveStream {
  info: StreamInfo;
  text: string;
  reasoning: string;
  el: HTMLLIElement;
  body: HTMLElement;
  thinking: HTMLElement;
  state: HTMLElement;
}

export class Transcript {
  readonly el: HTMLOListElement = h("ol", { class: "transcript", "aria-label": "Transcript" });
  private readonly items = new Map<number, { message: Message; el: HTMLLIElement }>();
  private readonly streams = new Map<string, LiveStream>();
  private readonly streamList: HTMLOListElement = h("ol", { class: "transcript streams", "aria-label": "Replies in progress", "aria-live": "polite" });

  /** The list of replies in progress, rendered after the transcript. */
  get streamsEl(): HTMLOListElement {
    return this.streamList;
  }

  get firstSeq(): number | null {
    let min: number | null = null;
    for (const seq of this.items.keys()) if (min === null || seq < min) min = seq;
    return min;
  }

  get lastSeq(): number {
    let max = 0;
    for (const seq of this.items.keys()) if (seq > max) max = seq;
    return max;
  }

  get size(): number {
    return this.items.size;
  }

  /** Starts over with `messages` (a first join). */
  reset(messages: readonly Message[]): void {
    this.items.clear();
    replace(this.el);
    this.add(messages);
  }

  /** Adds messages not shown yet, each in its seq place (a live message, a recovery, or an earlier page). */
  add(messages: readonly Message[]): void {
    for (const m of messages) {
      if (this.items.has(m.seq)) continue;
      const el = this.render(m);
      const last = this.lastSeq;
      if (m.seq > last) this.el.append(el);
      else {
        // An earlier page: before the first shown message with a higher seq.
        const next = [...this.items.keys()].filter((s) => s > m.seq).sort((a, b) => a - b)[0];
        this.el.insertBefore(el, next === undefined ? null : this.items.get(next)!.el);
      }
      this.items.set(m.seq, { message: m, el });
      // The committed reply replaces its streaming preview.
      const stream = typeof m.metadata?.stream === "string" ? m.metadata.stream : undefined;
      if (stream) this.dropStream(stream);
    }
  }

  /** Attaches an analysis that arrived after its message. */
  analysed(seq: number, analysis: Analysis): void {
    const item = this.items.get(seq);
    if (!item) return;
    item.message = { ...item.message, analysis };
    const fresh = this.render(item.message);
    item.el.replaceWith(fresh);
    item.el = fresh;
  }

  /** The element of a message, if shown. */
  element(seq: number): HTMLLIElement | undefined {
    return this.items.get(seq)?.el;
  }

  /** Replies in progress at join time: shown with the text so far. */
  snapshot(streams: readonly StreamSnapshot[]): void {
    for (const s of streams) {
      this.startStream(s);
      const live = this.streams.get(s.id)!;
      live.text = s.text;
      live.reasoning = s.reasoning ?? "";
      this.paint(live);
    }
  }

  startStream(info: StreamInfo): void {
    if (this.streams.has(info.id)) return;
    const body = h("div", { class: "content" });
    const thinking = h("div", { class: "reasoning", hidden: true });
    const state = h("span", { class: "badge streaming" }, "streaming…");
    const el = h("li", { class: "msg role-assistant stream", "data-stream": info.id }, h("div", { class: "meta" }, h("strong", {}, info.userId), " ", info.userId !== "assistant" ? h("span", { class: "role" }, "assistant") : null, " ", state, " ", h("span", { class: "muted" }, `replying to #${info.replyTo} · ${info.model}`)), thinking, body);
    const live: LiveStream = { info, text: "", reasoning: "", el, body, thinking, state };
    this.streams.set(info.id, live);
    this.streamList.append(el);
  }

  /** A piece at `offset` (the reply's length before it): overlap with what is shown is dropped, a gap waits. */
  delta(streamId: string, offset: number, text: string, part?: "reasoning"): void {
    const live = this.streams.get(streamId);
    if (!live) return;
    const have = part === "reasoning" ? live.reasoning : live.text;
    if (offset > have.length) return;
    const next = have + text.slice(have.length - offset);
    if (part === "reasoning") live.reasoning = next;
    else live.text = next;
    this.paint(live);
  }

  endStream(streamId: string, status: string, seq?: number): void {
    const live = this.streams.get(streamId);
    if (!live) return;
    if (seq !== undefined && this.items.has(seq)) return this.dropStream(streamId);
    live.state.textContent = status;
    live.state.className = `badge stream-${status}`;
    // Without a committed message (nothing was streamed) the preview has nothing left to show.
    if (seq === undefined) setTimeout(() => this.dropStream(streamId), 5000);
  }

  private dropStream(id: string): void {
    this.streams.get(id)?.el.remove();
    this.streams.delete(id);
  }

  private paint(live: LiveStream): void {
    live.body.textContent = live.text;
    live.thinking.hidden = live.reasoning === "";
    live.thinking.textContent = live.reasoning;
  }

  private render(m: Message): HTMLLIElement {
    return h(
      "li",
      { class: `msg role-${m.role}${m.kind === "action" ? " action" : ""}`, id: `msg-${m.seq}`, "data-seq": m.seq, tabindex: -1 },
      h("div", { class: "meta" }, h("a", { class: "seq", href: `#/sessions/${encodeURIComponent(m.session)}?seq=${m.seq}`, "aria-label": `message ${m.seq}` }, `#${m.seq}`), " ", h("strong", {}, m.userId), " ", m.role !== "user" && m.role !== m.userId ? h("span", { class: "role" }, m.role) : null, " ", when(m.createdAt)),
      h("div", { class: "content" }, m.content),
      m.analysis ? analysisBadges(m.analysis) : null,
    );
  }
}

export function analysisBadges(a: Analysis): HTMLElement {
  const topics = a.topics?.topics ?? [];
  return h(
    "div",
    { class: "analysis", "aria-label": "Analysis" },
    sentimentChip(a.sentiment?.score),
    " ",
    riskBadge(a.crisis?.risk_level),
    topics.length > 0 ? [" ", ...topics.slice(0, 5).map((t) => h("span", { class: "badge topic" }, t))] : null,
  );
}
