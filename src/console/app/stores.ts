// The console's shared live state: open alerts (loaded over HTTP, then kept current by the WebSocket's `alert` and
// `alert.updated` frames) and the server's stats (from the feed's snapshot and samples). Views subscribe to them.
import type { Alert } from "../../protocol/analysis.ts";
import { ApiError, type Api } from "./auth.ts";
import type { EventFeed } from "./feed.ts";
import type { LiveSocket } from "./live.ts";

type Listener = () => void;

class Observable {
  private readonly listeners = new Set<Listener>();
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  protected changed(): void {
    for (const l of [...this.listeners]) l();
  }
}

/** How long an alert that arrived live keeps its "new" cue, in ms. */
export const NEW_ALERT_MS = 60_000;

export class AlertStore extends Observable {
  /** False when the server has no alerts API (analysis not available); null until the first load answers. */
  available: boolean | null = null;
  /** Open alerts by id. */
  readonly open = new Map<string, Alert>();
  /** Alerts that arrived while the console was open, with when: they are shown with a visual cue. */
  readonly fresh = new Map<string, number>();
  /** Told of each alert raised while the console is open. */
  onRaised: (alert: Alert) => void = () => {};

  constructor(
    private readonly api: Api,
    live: LiveSocket,
  ) {
    super();
    live.onFrame((frame) => {
      if (frame.type === "alert") {
        this.fresh.set(frame.alert.id, Date.now());
        this.put(frame.alert);
        this.onRaised(frame.alert);
      } else if (frame.type === "alert.updated") {
        this.put(frame.alert);
      }
    });
    // Alerts raised while the socket was down are in the list: reload it on every (re)connection.
    live.onState((state) => {
      if (state === "open") void this.load();
    });
  }

  /** Reloads every open alert (pages of 200). */
  async load(): Promise<void> {
    try {
      const all: Alert[] = [];
      let after: string | number | null = null;
      do {
        const page: { alerts: Alert[]; nextAfter: string | number | null } = await this.api.get(`/api/alerts?status=open&limit=200${after !== null ? `&after=${encodeURIComponent(String(after))}` : ""}`);
        all.push(...page.alerts);
        after = page.nextAfter ?? null;
      } while (after !== null && all.length < 10_000);
      this.open.clear();
      for (const a of all) this.open.set(a.id, a);
      this.available = true;
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 403)) this.available = false;
    }
    this.changed();
  }

  /** Records an alert's new state (an answer to acknowledge/resolve, or a frame). */
  put(alert: Alert): void {
    this.available = true;
    if (alert.status === "open") this.open.set(alert.id, alert);
    else this.open.delete(alert.id);
    this.changed();
  }

  isFresh(id: string, now = Date.now()): boolean {
    const at = this.fresh.get(id);
    return at !== undefined && now - at < NEW_ALERT_MS;
  }

  /** Open alerts, newest first. */
  list(): Alert[] {
    return [...this.open.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }
}

export interface StatsSampleView {
  t: number;
  messagesPerSecond: number;
  acksPerSecond: number;
  connections: number;
  activeSessions: number;
}

export interface ServerStats {
  connections: number;
  subscriptions: number;
  presence: number;
  activeSessions: number;
}

export interface ServerHealth {
  status: "healthy" | "degraded" | "unhealthy";
  checks: Record<string, boolean>;
}

export class StatsStore extends Observable {
  samples: StatsSampleView[] = [];
  stats: ServerStats | null = null;
  health: ServerHealth | null = null;
  intervalMs = 5000;
  windowMs = 15 * 60_000;

  constructor(feed: EventFeed) {
    super();
    feed.on(({ event, data }) => {
      const d = data as Record<string, any>;
      if (event === "snapshot") {
        this.samples = Array.isArray(d.samples) ? d.samples : [];
        this.intervalMs = d.intervalMs ?? this.intervalMs;
        this.windowMs = d.windowMs ?? this.windowMs;
        this.stats = d.stats ?? null;
        this.health = d.health ?? null;
      } else if (event === "sample") {
        this.samples.push(d.sample);
        const oldest = d.sample.t - this.windowMs;
        while (this.samples.length > 0 && this.samples[0]!.t < oldest) this.samples.shift();
        this.stats = d.stats ?? this.stats;
        this.health = d.health ?? this.health;
      } else return;
      this.changed();
    });
    feed.onState(() => this.changed());
  }
}
