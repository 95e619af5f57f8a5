// Prometheus metrics: a small registry (counters, gauges, histograms) fed by domain events and cheap hooks, and
// the /metrics route. Labels are codes, transports and statuses only: never ids, tokens or content.
import type { Hono } from "hono";
import type { SessionEvents } from "../sessions/events.ts";
import type { SessionService } from "../sessions/session-service.ts";

type Labels = Record<string, string>;

/** What the metrics read of the connection registry (realtime's Hub), so observability imports no transport. */
export interface ConnectionRegistry {
  readonly subscriptions: number;
  subscribers(sessionId: string): { readonly size: number };
  sseSubscribers(sessionId: string): Iterable<{ closing: boolean }>;
  all(): Iterable<{ transport: "ws" | "sse" }>;
}

/** What the metrics read of the per-user rate limiter (auth's TokenBucketLimiter), so observability imports no auth. */
export interface RateLimitCounter {
  readonly refused: number;
}

/** Rendered `name="value"` pairs, kept: a counter is bumped per frame with the same few labels. */
const renderedPairs = new Map<string, string>();
const MAX_RENDERED_PAIRS = 10_000;

const labelKey = (labels?: Labels): string => {
  if (!labels) return "";
  let key = "";
  for (const k in labels) {
    const v = labels[k]!;
    const id = `${k}\0${v}`;
    let pair = renderedPairs.get(id);
    if (pair === undefined) {
      pair = `${k}="${v.replace(/["\\\n]/g, "_")}"`;
      if (renderedPairs.size < MAX_RENDERED_PAIRS) renderedPairs.set(id, pair);
    }
    key = key === "" ? pair : `${key},${pair}`;
  }
  return key;
};

export class Counter {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels?: Labels, by = 1): void {
    const key = labelKey(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }
  get(labels?: Labels): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  /** The counter for one fixed label set, its key rendered once (for the hot paths). */
  labelled(labels: Labels): { inc(by?: number): void } {
    const key = labelKey(labels);
    return { inc: (by = 1) => void this.values.set(key, (this.values.get(key) ?? 0) + by) };
  }
  /** The sum over every label set. */
  total(): number {
    let sum = 0;
    for (const v of this.values.values()) sum += v;
    return sum;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [k, v] of this.values) lines.push(`${this.name}${k ? `{${k}}` : ""} ${v}`);
    return lines.join("\n");
  }
}

export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {
    this.counts = new Array(buckets.length).fill(0);
  }
  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) this.counts[i]!++;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket{le="${b}"} ${this.counts[i]}`));
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
    return lines.join("\n");
  }
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];

export class Metrics {
  readonly framesReceived = new Counter("sessiond_frames_received_total", "Client frames received over WebSocket, by frame type.");
  readonly messagesReceived = new Counter("sessiond_messages_received_total", "Valid message frames and requests received, by transport (whether or not then accepted).");
  readonly messagesAcked = new Counter("sessiond_messages_acked_total", "Messages committed and acknowledged.");
  readonly messagesDelivered = new Counter("sessiond_messages_delivered_total", "Message frames handed to subscribers, by transport.");
  readonly errors = new Counter("sessiond_errors_total", "Error replies sent to clients, by protocol code.");
  readonly sessionsEnded = new Counter("sessiond_sessions_ended_total", "Sessions ended, by status.");
  readonly sessionsStarted = new Counter("sessiond_sessions_started_total", "Sessions started.");
  readonly slowConsumers = new Counter("sessiond_slow_consumers_total", "Connections closed for not keeping up (4002).");
  readonly connectionRefusals = new Counter("sessiond_connection_refusals_total", "Connection attempts refused before opening, by code.");
  readonly commitBatch = new Histogram("sessiond_commit_batch_size", "Appends per group-commit transaction.", BATCH_BUCKETS);
  readonly commitLatency = new Histogram("sessiond_commit_duration_seconds", "Time to run one group-commit transaction.", LATENCY_BUCKETS);
  readonly ackLatency = new Histogram("sessiond_ack_latency_seconds", "Time from a message's arrival to its durable commit.", LATENCY_BUCKETS);
  private gauges: () => Array<[name: string, help: string, value: number, labels?: Labels]> = () => [];
  private readonly registered: Array<Counter | Histogram> = [];
  private readonly registeredGauges: Array<() => Array<[name: string, help: string, value: number, labels?: Labels]>> = [];
  private active = 0;

  /** A counter owned by a feature module (analysis, assistant, webhooks), rendered with the rest. */
  counter(name: string, help: string): Counter {
    const c = new Counter(name, help);
    this.registered.push(c);
    return c;
  }

  /** A histogram owned by a feature module; buckets default to the latency buckets (seconds). */
  histogram(name: string, help: string, buckets: readonly number[] = LATENCY_BUCKETS): Histogram {
    const h = new Histogram(name, help, buckets);
    this.registered.push(h);
    return h;
  }

  /** A gauge read when /metrics is scraped. */
  gauge(name: string, help: string, read: () => number, labels?: Labels): void {
    this.registeredGauges.push(() => [[name, help, read(), labels]]);
  }

  observeCommit(size: number, seconds: number): void {
    this.commitBatch.observe(size);
    this.commitLatency.observe(seconds);
  }

  activeSessions(): number {
    return this.active;
  }

  /** @param perMessage count acks, ack latency and deliveries on every commit (off: METRICS_ENABLED=false). */
  listen(events: SessionEvents, service: SessionService, hub: ConnectionRegistry, limiter: RateLimitCounter, { perMessage = true } = {}): void {
    this.active = 0;
    const acked = this.messagesAcked.labelled({});
    const deliveredWs = this.messagesDelivered.labelled({ transport: "ws" });
    const deliveredSse = this.messagesDelivered.labelled({ transport: "sse" });
    if (perMessage) events.on("message.committed", ({ message, ackLatencyMs }) => {
      acked.inc();
      if (ackLatencyMs !== undefined) this.ackLatency.observe(ackLatencyMs / 1000);
      let sse = 0;
      for (const c of hub.sseSubscribers(message.session)) if (!c.closing) sse++;
      const all = hub.subscribers(message.session).size;
      if (all - sse > 0) deliveredWs.inc(all - sse);
      if (sse > 0) deliveredSse.inc(sse);
    });
    events.on("session.started", () => {
      this.sessionsStarted.inc();
      this.active++;
    });
    events.on("session.ended", ({ status }) => {
      this.sessionsEnded.inc({ status });
      this.active = Math.max(0, this.active - 1);
    });
    this.gauges = () => {
      const cache = service.cacheStats;
      const byTransport = { ws: 0, sse: 0 };
      for (const c of hub.all()) byTransport[c.transport]++;
      return [
        ["sessiond_connections", "Open connections, by transport.", byTransport.ws, { transport: "ws" }],
        ["sessiond_connections", "Open connections, by transport.", byTransport.sse, { transport: "sse" }],
        ["sessiond_subscriptions", "Connection-session subscriptions.", hub.subscriptions],
        ["sessiond_presence_users", "Users present, summed over sessions.", service.presence.size],
        ["sessiond_cache_sessions", "Sessions held in the in-memory cache.", cache.size],
        ["sessiond_cache_window_messages", "Messages held in cached windows.", cache.windowMessages],
        ["sessiond_cache_hits_total", "Session cache hits.", cache.hits],
        ["sessiond_cache_misses_total", "Session cache misses.", cache.misses],
        ["sessiond_cache_evictions_total", "Session cache evictions.", cache.evictions],
        ["sessiond_rate_limited_total", "Messages refused by the per-user rate limit.", limiter.refused],
        ["sessiond_process_resident_memory_bytes", "Resident memory of the process.", process.memoryUsage.rss()],
      ];
    };
  }

  /** Seeds the active-session gauge from storage at start-up. */
  setActiveSessions(n: number): void {
    this.active = n;
  }

  render(): string {
    const out: string[] = [];
    const seen = new Set<string>();
    for (const [name, help, value, labels] of [...this.gauges(), ...this.registeredGauges.flatMap((g) => g())]) {
      if (!seen.has(name)) {
        seen.add(name);
        out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${name.endsWith("_total") ? "counter" : "gauge"}`);
      }
      out.push(`${name}${labels ? `{${labelKey(labels)}}` : ""} ${value}`);
    }
    out.push(`# HELP sessiond_sessions_active Active sessions.`, `# TYPE sessiond_sessions_active gauge`, `sessiond_sessions_active ${this.active}`);
    for (const m of [
      this.framesReceived,
      this.messagesReceived,
      this.messagesAcked,
      this.messagesDelivered,
      this.errors,
      this.sessionsStarted,
      this.sessionsEnded,
      this.slowConsumers,
      this.connectionRefusals,
      this.commitBatch,
      this.commitLatency,
      this.ackLatency,
      ...this.registered,
    ]) {
      out.push(m.render());
    }
    return `${out.join("\n")}\n`;
  }
}

/** GET /metrics, behind METRICS_TOKEN (as a Bearer token) when it is set. */
export function mountMetrics(app: Hono, metrics: Metrics, token: string | undefined): void {
  app.get("/metrics", (c) => {
    if (token !== undefined && c.req.header("authorization") !== `Bearer ${token}`) {
      return c.json({ error: { code: "unauthorized", message: "GET /metrics needs \"Authorization: Bearer <METRICS_TOKEN>\"." } }, 401);
    }
    return c.body(metrics.render(), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
  });
}
