// What the admin API and the console see of webhooks: deliveries (paged, by status), replay, endpoints with
// their state and counts, and re-enabling an endpoint. Turns rows into JSON views; the HTTP layer validates.
import type { DeliveryRow, DeliveryStatus, EndpointRow, OutboxStore } from "../db/outbox-store.ts";
import { isPending, then, type Awaitable } from "../sessions/awaitable.ts";
import { SessiondError } from "../protocol/errors.ts";
import type { WebhookEndpoint } from "./webhook-endpoints.ts";
import type { WebhookSender } from "./webhook-sender.ts";

export interface DeliveryView {
  id: number;
  /** The `webhook-id` header: the same on every attempt and replay. */
  eventId: string;
  type: string;
  session: string;
  endpoint: string;
  /** Position in WEBHOOK_URLS; null when the URL is no longer configured. */
  endpointIndex: number | null;
  status: DeliveryStatus;
  attempts: number;
  createdAt: string;
  /** Start of the current retry window (creation or the last replay). */
  queuedAt: string;
  /** When the next attempt is due (pending and failed only). */
  nextAttemptAt?: string;
  lastAttemptAt?: string;
  /** The HTTP status of the last attempt (absent for a timeout or a connection failure). */
  lastStatus?: number;
  /** gone | http_error | redirect_not_followed | timeout | connection_failed | endpoint_disabled */
  lastError?: string;
  deliveredAt?: string;
}

export interface EndpointView {
  id: string;
  index: number;
  /** The URL without credentials; query values shown as "…". */
  url: string;
  state: "active" | "disabled";
  disabledAt?: string;
  disabledReason?: string;
  lastSuccessAt?: string;
  lastFailureAt?: string;
  lastStatus?: number;
  lastError?: string;
  deliveries: Record<DeliveryStatus, number>;
}

export interface DeliveryPage {
  deliveries: DeliveryView[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

/** A live change for the console: a delivery after an attempt or a replay, or an endpoint disabled or enabled. */
export type WebhookChange = { delivery: DeliveryView } | { endpoint: EndpointView };

const iso = (ms: number | null): string | undefined => (ms === null ? undefined : new Date(ms).toISOString());

export class WebhookAdmin {
  private readonly byId: Map<string, WebhookEndpoint>;
  private readonly listeners = new Set<(change: WebhookChange) => void>();
  /** The last endpoint views (for the console's summary, which is read synchronously; see summary()). */
  private lastEndpoints: EndpointView[] = [];

  constructor(
    private readonly store: OutboxStore,
    private readonly endpointList: readonly WebhookEndpoint[],
    /** Null when webhooks are off (WEBHOOK_URLS unset): the views still show what the database holds. */
    private readonly sender: WebhookSender | null,
  ) {
    this.byId = new Map(endpointList.map((e) => [e.id, e]));
    // Views are built only while someone listens (the console), so a busy sender pays nothing otherwise.
    sender?.onChange((change) => {
      if (this.listeners.size === 0) return;
      void (async () => {
        if ("deliveryId" in change) {
          const row = await this.store.delivery(change.deliveryId);
          if (row) this.emit({ delivery: this.view(row) });
        } else {
          const ep = this.byId.get(change.endpointId);
          if (ep) this.emit({ endpoint: this.endpointView(ep, await this.store.endpoint(ep.id), (await this.store.counts()).get(ep.id)) });
        }
      })().catch(() => {
        // A view that could not be read is skipped: the console reads the lists again on its next load.
      });
    });
  }

  /**
   * Live changes (for the console's Webhooks view): every attempt's outcome, replays, endpoints disabled by a 410 or
   * enabled again. A throwing listener is ignored. Returns the unsubscribe function.
   */
  onChange(listener: (change: WebhookChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: WebhookChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        // A console feed that failed is its own problem; deliveries go on.
      }
    }
  }

  /** Newest first; `cursor` is a previous page's nextCursor. */
  async deliveries(q: { status?: DeliveryStatus; session?: string; endpoint?: string; cursor?: string; limit: number }): Promise<DeliveryPage> {
    let beforeId: number | undefined;
    if (q.cursor !== undefined) {
      if (!/^\d{1,15}$/.test(q.cursor)) throw new SessiondError("bad_request", 'Field "cursor" is invalid: pass the nextCursor of a previous page.');
      beforeId = Number(q.cursor);
    }
    const rows = await this.store.list({ status: q.status, sessionId: q.session, endpointId: q.endpoint, beforeId, limit: q.limit + 1 });
    const more = rows.length > q.limit;
    const page = more ? rows.slice(0, q.limit) : rows;
    return { deliveries: page.map((r) => this.view(r)), nextCursor: more ? String(page.at(-1)!.id) : null };
  }

  /** Re-queues a dead or failed delivery (same webhook-id, a fresh retry window) and wakes the sender. */
  async replay(id: number): Promise<DeliveryView> {
    const row = await this.store.delivery(id);
    if (row && !this.byId.has(row.endpoint_id)) {
      throw new SessiondError("conflict", "The delivery's endpoint is not in WEBHOOK_URLS (now), so it cannot be sent.");
    }
    const result = await this.store.replay(id, Date.now());
    if (!result.ok) {
      if (result.reason === "not_found") throw new SessiondError("not_found", "No such delivery.");
      if (result.reason === "endpoint_disabled") {
        throw new SessiondError("conflict", "The endpoint is disabled (it answered 410); enable it first with POST /api/admin/webhooks/endpoints/{id}/enable.");
      }
      throw new SessiondError("conflict", `Only a dead or failed delivery can be replayed; this one is ${row?.status ?? "unknown"}.`);
    }
    this.sender?.wake();
    const view = this.view(result.row);
    this.emit({ delivery: view });
    return view;
  }

  async endpoints(): Promise<EndpointView[]> {
    return this.readEndpoints();
  }

  /**
   * The endpoint views now where the store answers at once (SQLite); else the last ones read, and a fresh read
   * started for the next call (the console's periodic summary cannot wait for PostgreSQL).
   */
  endpointsNow(): EndpointView[] {
    const read = this.readEndpoints();
    if (!isPending(read)) return read;
    read.then(undefined, () => {});
    return this.lastEndpoints;
  }

  private readEndpoints(): Awaitable<EndpointView[]> {
    return then(this.store.counts(), (counts) => {
      const rows = this.endpointList.map((ep) => this.store.endpoint(ep.id));
      const views = (list: ReadonlyArray<EndpointRow | null>) =>
        (this.lastEndpoints = this.endpointList.map((ep, i) => this.endpointView(ep, list[i] ?? null, counts.get(ep.id))));
      return rows.some(isPending) ? Promise.all(rows).then(views) : views(rows as Array<EndpointRow | null>);
    });
  }

  /** Re-enables an endpoint a 410 disabled; it receives events recorded from now on. */
  async enable(id: string): Promise<EndpointView> {
    const ep = this.byId.get(id);
    if (!ep || !(await this.sender?.enable(id))) throw new SessiondError("not_found", "No such endpoint in WEBHOOK_URLS.");
    return this.endpointView(ep, await this.store.endpoint(id), (await this.store.counts()).get(id));
  }

  private endpointView(ep: WebhookEndpoint, row: EndpointRow | null, counts: Record<DeliveryStatus, number> | undefined): EndpointView {
    const v: EndpointView = {
      id: ep.id,
      index: ep.index,
      url: ep.displayUrl,
      state: row?.state ?? "active",
      deliveries: counts ?? { pending: 0, delivered: 0, failed: 0, dead: 0 },
    };
    if (row) {
      if (row.disabled_at !== null) v.disabledAt = iso(row.disabled_at);
      if (row.disabled_reason !== null) v.disabledReason = row.disabled_reason;
      if (row.last_success_at !== null) v.lastSuccessAt = iso(row.last_success_at);
      if (row.last_failure_at !== null) v.lastFailureAt = iso(row.last_failure_at);
      if (row.last_status !== null) v.lastStatus = row.last_status;
      if (row.last_error !== null) v.lastError = row.last_error;
    }
    return v;
  }

  private view(r: DeliveryRow): DeliveryView {
    const v: DeliveryView = {
      id: r.id,
      eventId: r.event_id,
      type: r.event_type,
      session: r.session_id,
      endpoint: r.endpoint_id,
      endpointIndex: this.byId.get(r.endpoint_id)?.index ?? null,
      status: r.status,
      attempts: r.attempts,
      createdAt: iso(r.created_at)!,
      queuedAt: iso(r.queued_at)!,
    };
    if (r.status === "pending" || r.status === "failed") v.nextAttemptAt = iso(r.next_attempt_at);
    if (r.last_attempt_at !== null) v.lastAttemptAt = iso(r.last_attempt_at);
    if (r.last_status !== null) v.lastStatus = r.last_status;
    if (r.last_error !== null) v.lastError = r.last_error;
    if (r.delivered_at !== null) v.deliveredAt = iso(r.delivered_at);
    return v;
  }
}
