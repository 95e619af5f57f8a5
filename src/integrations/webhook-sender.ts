// The webhook sender (a Subscriber): turns outbox events into deliveries per endpoint and sends them, one lane
// per (endpoint, session) so each session's events arrive in order; retries, dead letters, 410 disables.
import type { DeliveryRow, OutboxStore } from "../db/outbox-store.ts";
import type { Logger } from "../observability/logger.ts";
import type { Counter, Histogram } from "../observability/metrics.ts";
import type { Subscriber } from "../sessions/subscriber.ts";
import type { WebhookEndpoint } from "./webhook-endpoints.ts";
import { classifyStatus, nextAttempt, parseRetryAfter, type RetryPolicy } from "./webhook-retry.ts";
import { webhookHeaders } from "./webhook-signing.ts";

/** Which node sends, when several share one outbox: only the holder delivers (PgSenderLease). */
export interface SenderLease {
  /** True while this node holds it (taken now if free); never throws. */
  acquire(): Promise<boolean>;
  release(): Promise<void>;
}

export interface WebhookSenderOptions {
  store: OutboxStore;
  /** Several nodes on one outbox: one sends at a time, the others take over when it goes. */
  lease?: SenderLease;
  /** With a shared outbox, look this often for events other nodes recorded (they cannot wake this one). @default 1000 */
  pollMs?: number;
  endpoints: readonly WebhookEndpoint[];
  /** The HMAC key (webhookKey(WEBHOOK_SECRET)). */
  key: Uint8Array;
  retry: RetryPolicy;
  /** One attempt's limit, connection to last byte of the status line. (WEBHOOK_TIMEOUT_SECONDS × 1000) */
  timeoutMs: number;
  logger: Logger;
  metrics: { deliveries: Counter; latency: Histogram };
  userAgent: string;
  /** Lanes of one endpoint sending at once. @default 4 */
  concurrency?: number;
  /** How often delivered and dead deliveries past their keep time are pruned. @default 10 minutes */
  pruneIntervalMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
  random?: () => number;
}

type Outcome = "delivered" | "failed" | "dead" | "interrupted";

/** What changed: a delivery after an attempt, or an endpoint's state (disabled by a 410, enabled again). */
export type SenderChange = { deliveryId: number } | { endpointId: string };

export class WebhookSender implements Subscriber {
  readonly name = "webhooks";
  private readonly endpoints = new Map<string, { ep: WebhookEndpoint; active: boolean; lanes: Set<string> }>();
  private readonly controllers = new Set<AbortController>();
  private readonly running = new Set<Promise<void>>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Infinity;
  private stopped = true;
  private lastPrune = 0;
  private passing = false;
  private passAgain = false;
  /** False while another node holds the lease: lanes stop after their attempt in flight. */
  private holding = true;
  private readonly listeners = new Set<(change: SenderChange) => void>();
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  private readonly concurrency: number;
  private readonly pruneIntervalMs: number;

  constructor(private readonly o: WebhookSenderOptions) {
    this.fetch = o.fetch ?? fetch;
    this.now = o.now ?? Date.now;
    this.concurrency = o.concurrency ?? 4;
    this.pruneIntervalMs = o.pruneIntervalMs ?? 10 * 60_000;
  }

  /** Registers the configured endpoints and catches up on everything the outbox holds. */
  async start(): Promise<void> {
    this.stopped = false;
    this.holding = this.o.lease === undefined;
    await this.o.store.syncEndpoints(this.o.endpoints.map((e) => e.id), this.now());
    for (const ep of this.o.endpoints) {
      const row = await this.o.store.endpoint(ep.id);
      this.endpoints.set(ep.id, { ep, active: row?.state === "active", lanes: new Set() });
    }
    this.wake();
  }

  /** Stops scheduling and aborts attempts in flight; an aborted attempt is left due and is sent after the restart. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    for (const c of this.controllers) c.abort();
    await Promise.allSettled([...this.running]);
    await this.o.lease?.release();
  }

  /** Runs a pass on the next turn (after the transaction that recorded an event has committed). */
  wake(): void {
    this.schedule(this.now());
  }

  /** Told after every attempt's outcome and endpoint state change (for the console). Returns the unsubscribe. */
  onChange(listener: (change: SenderChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(change: SenderChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (e) {
        this.o.logger.error("webhook.listener_failed", { error: e instanceof Error ? e.name : typeof e });
      }
    }
  }

  /** Whether the endpoint is configured and enabled. */
  isActive(endpointId: string): boolean {
    return this.endpoints.get(endpointId)?.active ?? false;
  }

  /** The ids of configured, enabled endpoints. */
  activeEndpointIds(): string[] {
    return [...this.endpoints.values()].filter((e) => e.active).map((e) => e.ep.id);
  }

  /** Re-enables an endpoint a 410 disabled (from events recorded from now on). False when not configured. */
  async enable(endpointId: string): Promise<boolean> {
    const entry = this.endpoints.get(endpointId);
    if (!entry || !(await this.o.store.enableEndpoint(endpointId))) return false;
    entry.active = true;
    this.o.logger.info("webhook.endpoint_enabled", { endpoint: entry.ep.index, host: entry.ep.host });
    this.changed({ endpointId });
    this.wake();
    return true;
  }

  private schedule(at: number): void {
    if (this.stopped || at >= this.timerAt) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    // setTimeout takes at most 2^31-1 ms; a pass is cheap, so waking early is harmless.
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.pass();
    }, Math.min(Math.max(0, at - this.now()), 60_000));
  }

  /** One pass at a time; a wake during one asks for another right after it. */
  private pass(): void {
    if (this.stopped) return;
    if (this.passing) {
      this.passAgain = true;
      return;
    }
    this.passing = true;
    void this.runPass().finally(() => {
      this.passing = false;
      if (this.passAgain) {
        this.passAgain = false;
        this.schedule(this.now());
      }
    });
  }

  /** Expands new events into deliveries and starts a lane for each due head, up to the concurrency per endpoint. */
  private async runPass(): Promise<void> {
    const now = this.now();
    const shared = this.o.lease !== undefined;
    const pollMs = this.o.pollMs ?? 1000;
    let next = now + (shared ? pollMs : this.pruneIntervalMs);
    try {
      if (shared) {
        this.holding = await this.o.lease!.acquire();
        if (!this.holding) return this.schedule(now + pollMs);
      }
      if (now - this.lastPrune >= this.pruneIntervalMs) {
        this.lastPrune = now;
        await this.o.store.prune(now, [...this.endpoints.keys()]);
      }
      for (const entry of this.endpoints.values()) {
        // Another node may have disabled or re-enabled it meanwhile: the shared row says.
        if (shared) entry.active = (await this.o.store.endpoint(entry.ep.id))?.state === "active";
        if (!entry.active) continue;
        // One batch per pass; a full batch asks for another pass right away, after other work had its turn.
        if ((await this.o.store.expand(entry.ep.id, now)) >= 1000) next = now;
        const free = this.concurrency - entry.lanes.size;
        if (free <= 0) continue;
        let started = 0;
        for (const head of await this.o.store.heads(entry.ep.id, this.concurrency + entry.lanes.size)) {
          if (entry.lanes.has(head.session_id)) continue;
          if (head.next_attempt_at > now) {
            next = Math.min(next, head.next_attempt_at);
            break;
          }
          if (started >= free) break;
          started++;
          this.runLane(entry, head);
        }
      }
    } catch (e) {
      this.o.logger.error("webhook.pass_failed", { error: e instanceof Error ? e.name : typeof e, code: String((e as { code?: unknown }).code ?? "") });
      next = now + 1000;
    }
    this.schedule(next);
  }

  /** Sends a lane's due events one after another until it is drained, waits for a retry, or stops. */
  private runLane(entry: { ep: WebhookEndpoint; active: boolean; lanes: Set<string> }, first: DeliveryRow): void {
    entry.lanes.add(first.session_id);
    const run = (async () => {
      let row: DeliveryRow | null = first;
      while (row && !this.stopped && entry.active && this.holding) {
        const outcome = await this.attempt(entry, row);
        if (outcome === "failed" || outcome === "interrupted") break;
        row = await this.o.store.laneHead(entry.ep.id, first.session_id);
        if (row && row.next_attempt_at > this.now()) break;
      }
    })()
      .catch((e) => this.o.logger.error("webhook.lane_failed", { endpoint: entry.ep.index, error: e instanceof Error ? e.name : typeof e }))
      .finally(() => {
        entry.lanes.delete(first.session_id);
        this.running.delete(run);
        this.wake();
      });
    this.running.add(run);
  }

  private async attempt(entry: { ep: WebhookEndpoint; active: boolean }, row: DeliveryRow): Promise<Outcome> {
    const { ep } = entry;
    const started = this.now();
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": this.o.userAgent,
      ...webhookHeaders(this.o.key, row.event_id, started, row.payload),
    };
    if (ep.authorization) headers.authorization = ep.authorization;
    const controller = new AbortController();
    this.controllers.add(controller);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.o.timeoutMs);
    let status: number | null = null;
    let retryAfter: string | null = null;
    let error = "";
    try {
      // Redirects are not followed: a 3xx is a failed attempt (the receiver must be configured at its real URL).
      const res = await this.fetch(ep.requestUrl, { method: "POST", headers, body: row.payload, redirect: "manual", signal: controller.signal });
      status = res.status;
      retryAfter = res.headers.get("retry-after");
      await res.body?.cancel().catch(() => {});
    } catch {
      error = timedOut ? "timeout" : "connection_failed";
    } finally {
      clearTimeout(timer);
      this.controllers.delete(controller);
    }
    const now = this.now();
    this.o.metrics.latency.observe((now - started) / 1000);
    if (status === null && !timedOut && this.stopped) return "interrupted";
    const attempt = row.attempts + 1;
    const log = { endpoint: ep.index, host: ep.host, eventType: row.event_type, delivery: row.id, attempt };
    const kind = status === null ? "failed" : classifyStatus(status);
    if (kind === "delivered") {
      await this.o.store.markDelivered(row, now, status!);
      this.o.metrics.deliveries.inc({ event: row.event_type, outcome: "delivered" });
      this.o.logger.debug("webhook.delivered", { ...log, status });
      this.changed({ deliveryId: row.id });
      return "delivered";
    }
    if (kind === "gone") {
      await this.o.store.markFailed(row, now, status, "gone", null);
      const dropped = await this.o.store.disableEndpoint(ep.id, now, "the receiver answered 410 Gone");
      entry.active = false;
      this.o.metrics.deliveries.inc({ event: row.event_type, outcome: "dead" });
      this.o.logger.error("webhook.endpoint_disabled", { ...log, status, deadLettered: dropped + 1 });
      this.changed({ deliveryId: row.id });
      this.changed({ endpointId: ep.id });
      return "dead";
    }
    if (status !== null) error = status >= 300 && status < 400 ? "redirect_not_followed" : "http_error";
    const decision = entry.active
      ? nextAttempt({ attempts: attempt, queuedAt: row.queued_at, now, retryAfterMs: parseRetryAfter(retryAfter, now) }, this.o.retry, this.o.random)
      : ({ kind: "dead" } as const);
    if (decision.kind === "dead") {
      await this.o.store.markFailed(row, now, status, error, null);
      this.o.metrics.deliveries.inc({ event: row.event_type, outcome: "dead" });
      this.o.logger.error("webhook.delivery_dead", { ...log, status, error });
      this.changed({ deliveryId: row.id });
      return "dead";
    }
    await this.o.store.markFailed(row, now, status, error, decision.at);
    this.o.metrics.deliveries.inc({ event: row.event_type, outcome: "failed" });
    this.o.logger.warn("webhook.delivery_failed", { ...log, status, error, retryInMs: decision.at - now });
    this.changed({ deliveryId: row.id });
    this.schedule(decision.at);
    return "failed";
  }
}
