// The console's live feed (GET /api/console/events) read with fetch, so the token goes in a header rather than
// the URL. Parses Server-Sent Events and reconnects with backoff; each (re)connection starts with a `snapshot`.
import type { Api } from "./auth.ts";

export interface FeedEvent {
  event: string;
  data: unknown;
}

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 15_000;

export class EventFeed {
  /** True while a stream is open. */
  connected = false;
  /** Why the feed stopped for good (403: not staff), or null. */
  refused: string | null = null;
  private readonly listeners = new Set<(e: FeedEvent) => void>();
  private readonly stateListeners = new Set<() => void>();
  private readonly abort = new AbortController();
  private attempt = 0;

  constructor(
    private readonly api: Api,
    private readonly path = "/api/console/events",
  ) {
    void this.run();
  }

  on(listener: (e: FeedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onState(listener: () => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  close(): void {
    this.abort.abort();
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      try {
        const res = await fetch(this.api.url(this.path), { headers: this.api.headers({ Accept: "text/event-stream" }), signal: this.abort.signal, cache: "no-store" });
        if (res.status === 401 || res.status === 403) {
          this.refused = (await res.json().catch(() => null))?.error?.message ?? `refused (${res.status})`;
          this.setConnected(false);
          return;
        }
        if (res.ok && res.body) {
          this.attempt = 0;
          this.setConnected(true);
          await this.read(res.body);
        }
      } catch {
        // network error or aborted: retried below unless closed
      }
      this.setConnected(false);
      if (this.abort.signal.aborted) return;
      this.attempt++;
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(this.attempt, 10))));
    }
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let end: number;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        this.dispatch(block);
      }
    }
  }

  private dispatch(block: string): void {
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (data.length === 0) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(data.join("\n"));
    } catch {
      return;
    }
    for (const listener of [...this.listeners]) listener({ event, data: parsed });
  }

  private setConnected(connected: boolean): void {
    if (this.connected === connected) return;
    this.connected = connected;
    for (const l of [...this.stateListeners]) l();
  }
}
