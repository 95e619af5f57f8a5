// The webhook outbox over bun:sqlite: the hot-path event insert (inside the caller's transaction), endpoint
// rows, deliveries per endpoint with their schedule, the per-(endpoint, session) lane heads, replay and pruning.
import type { Database, Statement } from "bun:sqlite";
import type { WebhookEventType } from "../config/index.ts";
import { PLAINTEXT, type FieldCipher } from "../privacy/field-cipher.ts";
import { aad } from "../privacy/fields.ts";
import type { Awaitable } from "../sessions/awaitable.ts";

export type DeliveryStatus = "pending" | "delivered" | "failed" | "dead";
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ["pending", "delivered", "failed", "dead"];

/** A delivery joined with its event: everything one attempt needs and the admin API shows. */
export interface DeliveryRow {
  id: number;
  event_seq: number;
  event_id: string;
  endpoint_id: string;
  session_id: string;
  event_type: WebhookEventType;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: number;
  queued_at: number;
  last_attempt_at: number | null;
  last_status: number | null;
  last_error: string | null;
  delivered_at: number | null;
  created_at: number;
  payload: string;
}

export interface EndpointRow {
  id: string;
  state: "active" | "disabled";
  cursor: number;
  disabled_at: number | null;
  disabled_reason: string | null;
  last_success_at: number | null;
  last_failure_at: number | null;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
}

export interface DeliveryQuery {
  status?: DeliveryStatus;
  sessionId?: string;
  endpointId?: string;
  /** Exclusive: deliveries with a smaller id (the list is newest first). */
  beforeId?: number;
  limit: number;
}

export type ReplayResult = { ok: true; row: DeliveryRow } | { ok: false; reason: "not_found" | "not_replayable" | "endpoint_disabled" };

/**
 * The outbox as the sender and the admin view use it: SqliteOutboxStore answers at once, PgOutboxStore (several
 * nodes on PostgreSQL) with promises. Event rows themselves are written by the stores' commit hooks.
 */
export interface OutboxStore {
  /** An event that reports no stored change (presence), committed on its own. */
  insertEventNow(id: string, type: WebhookEventType, sessionId: string, payload: string, createdAt: number): Awaitable<void>;
  /** Whether the user is a participant of the session (staff who only watched are not). */
  isParticipant(sessionId: string, userId: string): Awaitable<boolean>;
  /** Adds rows for configured endpoints not seen before; a new endpoint starts after the events already recorded. */
  syncEndpoints(ids: readonly string[], now: number): Awaitable<void>;
  endpoint(id: string): Awaitable<EndpointRow | null>;
  /** Turns recorded events into deliveries of the endpoint (where they are not made with the event); returns how many. */
  expand(endpointId: string, now: number, limit?: number): Awaitable<number>;
  /** Lane heads of one endpoint, the soonest due first (in-flight lanes included: the caller skips them). */
  heads(endpointId: string, limit: number): Awaitable<DeliveryRow[]>;
  /** The head of one lane now, or null when the lane is drained. */
  laneHead(endpointId: string, sessionId: string): Awaitable<DeliveryRow | null>;
  delivery(id: number): Awaitable<DeliveryRow | null>;
  markDelivered(row: DeliveryRow, now: number, status: number): Awaitable<void>;
  /** A failed attempt: `nextAt` schedules the retry, null makes the delivery dead. */
  markFailed(row: DeliveryRow, now: number, status: number | null, error: string, nextAt: number | null): Awaitable<void>;
  /** Disables an endpoint (it answered 410): its undelivered deliveries become dead. Returns how many. */
  disableEndpoint(endpointId: string, now: number, reason: string): Awaitable<number>;
  /** Re-enables a disabled endpoint; it resumes with events recorded from now on. False when unknown. */
  enableEndpoint(endpointId: string): Awaitable<boolean>;
  /** Re-queues a dead or failed delivery with a fresh retry window; the event (and its webhook-id) is the same. */
  replay(id: number, now: number): Awaitable<ReplayResult>;
  /** Newest first. */
  list(q: DeliveryQuery): Awaitable<DeliveryRow[]>;
  /** Deliveries per endpoint and status (for the endpoint view). */
  counts(): Awaitable<Map<string, Record<DeliveryStatus, number>>>;
  /** Deliveries of these (configured, enabled) endpoints not yet delivered or dead, and events not yet expanded. */
  queueDepth(activeEndpointIds: readonly string[]): Awaitable<number>;
  /** Deletes delivered and dead deliveries past their keep time, then events nothing needs; returns how many events. */
  prune(now: number, endpointIds: readonly string[], batch?: number): Awaitable<number>;
}

const SELECT_DELIVERY = `SELECT d.*, o.id AS event_id, o.payload FROM webhook_deliveries d JOIN webhook_outbox o ON o.seq = d.event_seq`;
/** Delivered deliveries are kept this long for the admin API, dead ones longer (they may be replayed). */
export const KEEP_DELIVERED_MS = 24 * 3600 * 1000;
export const KEEP_DEAD_MS = 30 * 24 * 3600 * 1000;

export class SqliteOutboxStore implements OutboxStore {
  private readonly insert: Statement<unknown, [string, string, string, string, number]>;
  private readonly laneHeads: Statement<DeliveryRow, [string, number]>;
  private readonly nextInLane: Statement<DeliveryRow, [string, string]>;

  /** `cipher` seals event bodies at rest (they may carry content); rows handed out hold the opened body. */
  constructor(
    private readonly sqlite: Database,
    private readonly cipher: FieldCipher = PLAINTEXT,
  ) {
    this.insert = sqlite.prepare("INSERT INTO webhook_outbox (id, type, session_id, payload, created_at) VALUES (?, ?, ?, ?, ?)");
    // The head of each lane is its oldest undelivered event; only heads are ever attempted, which keeps order.
    this.laneHeads = sqlite.prepare(
      `SELECT d.*, o.id AS event_id, o.payload FROM (
         SELECT session_id, min(event_seq) AS s FROM webhook_deliveries
         WHERE endpoint_id = ?1 AND status IN ('pending', 'failed') GROUP BY session_id
       ) h
       JOIN webhook_deliveries d ON d.event_seq = h.s AND d.endpoint_id = ?1
       JOIN webhook_outbox o ON o.seq = d.event_seq
       ORDER BY d.next_attempt_at, d.event_seq LIMIT ?2`,
    );
    this.nextInLane = sqlite.prepare(
      `${SELECT_DELIVERY} WHERE d.endpoint_id = ? AND d.session_id = ? AND d.status IN ('pending', 'failed') ORDER BY d.event_seq LIMIT 1`,
    );
  }

  /** The hot-path write: one row, on the caller's connection, inside the caller's transaction. */
  insertEvent(id: string, type: WebhookEventType, sessionId: string, payload: string, createdAt: number): void {
    this.insert.run(id, type, sessionId, this.cipher.seal(payload, aad.webhookPayload(id)), createdAt);
  }

  /** An event that reports no stored change (presence), committed on its own. */
  insertEventNow(id: string, type: WebhookEventType, sessionId: string, payload: string, createdAt: number): void {
    this.sqlite.transaction(() => this.insert.run(id, type, sessionId, this.cipher.seal(payload, aad.webhookPayload(id)), createdAt)).immediate();
  }

  /** Whether the user is a participant of the session (staff who only watched are not). */
  isParticipant(sessionId: string, userId: string): boolean {
    return this.sqlite.query("SELECT 1 FROM session_participants WHERE session_id = ? AND user_id = ?").get(sessionId, userId) !== null;
  }

  /** Adds rows for configured endpoints not seen before; a new endpoint starts after the events already recorded. */
  syncEndpoints(ids: readonly string[], now: number): void {
    const add = this.sqlite.prepare(
      "INSERT INTO webhook_endpoints (id, cursor, created_at) VALUES (?, (SELECT coalesce(max(seq), 0) FROM webhook_outbox), ?) ON CONFLICT (id) DO NOTHING",
    );
    this.sqlite.transaction(() => {
      for (const id of ids) add.run(id, now);
    }).immediate();
  }

  endpoint(id: string): EndpointRow | null {
    return this.sqlite.query<EndpointRow, [string]>("SELECT * FROM webhook_endpoints WHERE id = ?").get(id) ?? null;
  }

  /**
   * Turns events after the endpoint's cursor into pending deliveries (at most `limit`), advancing the cursor in
   * the same transaction so an event becomes one delivery per endpoint, never two. Returns how many.
   */
  expand(endpointId: string, now: number, limit = 1000): number {
    return this.sqlite.transaction(() => {
      const ep = this.sqlite.query<{ cursor: number; state: string }, [string]>("SELECT cursor, state FROM webhook_endpoints WHERE id = ?").get(endpointId);
      if (!ep || ep.state !== "active") return 0;
      const last = this.sqlite
        .query<{ s: number | null; n: number }, [number, number]>(
          "SELECT max(seq) AS s, count(*) AS n FROM (SELECT seq FROM webhook_outbox WHERE seq > ? ORDER BY seq LIMIT ?)",
        )
        .get(ep.cursor, limit)!;
      if (last.s === null) return 0;
      this.sqlite
        .query(
          `INSERT INTO webhook_deliveries (event_seq, endpoint_id, session_id, event_type, next_attempt_at, queued_at, created_at)
           SELECT seq, ?1, session_id, type, ?2, created_at, created_at FROM webhook_outbox WHERE seq > ?3 AND seq <= ?4
           ON CONFLICT (event_seq, endpoint_id) DO NOTHING`,
        )
        .run(endpointId, now, ep.cursor, last.s);
      this.sqlite.query("UPDATE webhook_endpoints SET cursor = ? WHERE id = ?").run(last.s, endpointId);
      return last.n;
    }).immediate();
  }

  /** Lane heads of one endpoint, the soonest due first (in-flight lanes included: the caller skips them). */
  heads(endpointId: string, limit: number): DeliveryRow[] {
    return this.laneHeads.all(endpointId, limit).map((r) => this.opened(r));
  }

  /** The head of one lane now, or null when the lane is drained. */
  laneHead(endpointId: string, sessionId: string): DeliveryRow | null {
    const row = this.nextInLane.get(endpointId, sessionId);
    return row ? this.opened(row) : null;
  }

  delivery(id: number): DeliveryRow | null {
    const row = this.sqlite.query<DeliveryRow, [number]>(`${SELECT_DELIVERY} WHERE d.id = ?`).get(id);
    return row ? this.opened(row) : null;
  }

  /** A delivery row with its event body opened (the one place outbox payloads are read). */
  private opened(row: DeliveryRow): DeliveryRow {
    return { ...row, payload: this.cipher.open(row.payload, aad.webhookPayload(row.event_id)) };
  }

  markDelivered(row: DeliveryRow, now: number, status: number): void {
    this.sqlite.transaction(() => {
      this.sqlite
        .query("UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, last_attempt_at = ?1, last_status = ?2, last_error = NULL, delivered_at = ?1 WHERE id = ?3")
        .run(now, status, row.id);
      this.sqlite.query("UPDATE webhook_endpoints SET last_success_at = ?1, last_status = ?2 WHERE id = ?3").run(now, status, row.endpoint_id);
    }).immediate();
  }

  /** A failed attempt: `nextAt` schedules the retry, null makes the delivery dead. */
  markFailed(row: DeliveryRow, now: number, status: number | null, error: string, nextAt: number | null): void {
    this.sqlite.transaction(() => {
      this.sqlite
        .query(
          `UPDATE webhook_deliveries SET status = ?1, attempts = attempts + 1, last_attempt_at = ?2, last_status = ?3, last_error = ?4,
           next_attempt_at = coalesce(?5, next_attempt_at) WHERE id = ?6`,
        )
        .run(nextAt === null ? "dead" : "failed", now, status, error, nextAt, row.id);
      this.sqlite
        .query("UPDATE webhook_endpoints SET last_failure_at = ?1, last_status = ?2, last_error = ?3 WHERE id = ?4")
        .run(now, status, error, row.endpoint_id);
    }).immediate();
  }

  /** Disables an endpoint (it answered 410): its undelivered deliveries become dead. Returns how many. */
  disableEndpoint(endpointId: string, now: number, reason: string): number {
    return this.sqlite.transaction(() => {
      this.sqlite
        .query("UPDATE webhook_endpoints SET state = 'disabled', disabled_at = ?1, disabled_reason = ?2 WHERE id = ?3")
        .run(now, reason, endpointId);
      return this.sqlite
        .query("UPDATE webhook_deliveries SET status = 'dead', last_error = coalesce(last_error, 'endpoint_disabled') WHERE endpoint_id = ? AND status IN ('pending', 'failed')")
        .run(endpointId).changes;
    }).immediate();
  }

  /** Re-enables a disabled endpoint; it resumes with events recorded from now on. False when unknown. */
  enableEndpoint(endpointId: string): boolean {
    if (!this.endpoint(endpointId)) return false;
    this.sqlite
      .query(
        `UPDATE webhook_endpoints SET state = 'active', disabled_at = NULL, disabled_reason = NULL,
         cursor = (SELECT coalesce(max(seq), 0) FROM webhook_outbox) WHERE id = ? AND state = 'disabled'`,
      )
      .run(endpointId);
    return true;
  }

  /** Re-queues a dead or failed delivery with a fresh retry window; the event (and its webhook-id) is the same. */
  replay(id: number, now: number): ReplayResult {
    return this.sqlite.transaction((): ReplayResult => {
      const row = this.delivery(id);
      if (!row) return { ok: false, reason: "not_found" };
      if (row.status !== "dead" && row.status !== "failed") return { ok: false, reason: "not_replayable" };
      if (this.endpoint(row.endpoint_id)?.state !== "active") return { ok: false, reason: "endpoint_disabled" };
      this.sqlite.query("UPDATE webhook_deliveries SET status = 'pending', queued_at = ?1, next_attempt_at = ?1 WHERE id = ?2").run(now, id);
      return { ok: true, row: this.delivery(id)! };
    }).immediate();
  }

  /** Newest first. */
  list(q: DeliveryQuery): DeliveryRow[] {
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (q.status) (where.push("d.status = ?"), params.push(q.status));
    if (q.sessionId) (where.push("d.session_id = ?"), params.push(q.sessionId));
    if (q.endpointId) (where.push("d.endpoint_id = ?"), params.push(q.endpointId));
    if (q.beforeId !== undefined) (where.push("d.id < ?"), params.push(q.beforeId));
    params.push(q.limit);
    const sql = `${SELECT_DELIVERY} ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY d.id DESC LIMIT ?`;
    return this.sqlite.query<DeliveryRow, Array<string | number>>(sql).all(...params).map((r) => this.opened(r));
  }

  /** Deliveries per endpoint and status (for the endpoint view). */
  counts(): Map<string, Record<DeliveryStatus, number>> {
    const out = new Map<string, Record<DeliveryStatus, number>>();
    for (const r of this.sqlite
      .query<{ endpoint_id: string; status: DeliveryStatus; n: number }, []>("SELECT endpoint_id, status, count(*) AS n FROM webhook_deliveries GROUP BY endpoint_id, status")
      .all()) {
      const c = out.get(r.endpoint_id) ?? { pending: 0, delivered: 0, failed: 0, dead: 0 };
      c[r.status] = r.n;
      out.set(r.endpoint_id, c);
    }
    return out;
  }

  /**
   * For the given (configured, enabled) endpoints: deliveries not yet delivered or dead, plus events not yet turned
   * into deliveries. A removed endpoint's waiting deliveries are not counted (nothing will send them).
   */
  queueDepth(activeEndpointIds: readonly string[]): number {
    const waiting = this.sqlite.query<{ n: number }, [string]>(
      "SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = ? AND status IN ('pending', 'failed')",
    );
    const behind = this.sqlite.query<{ n: number }, [string]>(
      "SELECT count(*) AS n FROM webhook_outbox WHERE seq > (SELECT cursor FROM webhook_endpoints WHERE id = ? AND state = 'active')",
    );
    let n = 0;
    for (const id of activeEndpointIds) n += waiting.get(id)!.n + behind.get(id)!.n;
    return n;
  }

  /**
   * Deletes delivered deliveries older than KEEP_DELIVERED_MS and dead ones older than KEEP_DEAD_MS, then the
   * events no delivery needs any more and that every configured endpoint has passed. Bounded work per call
   * (`batch` rows per step); returns how many events went.
   */
  prune(now: number, endpointIds: readonly string[], batch = 5000): number {
    return this.sqlite.transaction(() => {
      const freed = this.sqlite
        .query<{ event_seq: number }, [number, number, number]>(
          `DELETE FROM webhook_deliveries WHERE id IN (
             SELECT id FROM webhook_deliveries
             WHERE (status = 'delivered' AND delivered_at < ?1) OR (status = 'dead' AND coalesce(last_attempt_at, created_at) < ?2)
             LIMIT ?3
           ) RETURNING event_seq`,
        )
        .all(now - KEEP_DELIVERED_MS, now - KEEP_DEAD_MS, batch)
        .map((r) => r.event_seq);
      if (endpointIds.length === 0) return 0;
      const marks = endpointIds.map(() => "?").join(", ");
      const floor = this.sqlite
        .query<{ c: number | null }, string[]>(`SELECT min(cursor) AS c FROM webhook_endpoints WHERE id IN (${marks})`)
        .get(...endpointIds)!.c;
      if (floor === null) return 0;
      const unneeded = this.sqlite.prepare<unknown, [number, number]>(
        "DELETE FROM webhook_outbox WHERE seq = ? AND seq <= ? AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_seq = webhook_outbox.seq)",
      );
      let removed = 0;
      // Events whose deliveries just went, and the oldest events (those that never had a delivery, e.g. recorded
      // while an endpoint was disabled): both bounded, so one call never scans the whole table.
      const oldest = this.sqlite
        .query<{ seq: number }, [number, number]>("SELECT seq FROM webhook_outbox WHERE seq <= ? ORDER BY seq LIMIT ?")
        .all(floor, batch)
        .map((r) => r.seq);
      for (const seq of new Set([...freed, ...oldest])) removed += unneeded.run(seq, floor).changes;
      return removed;
    }).immediate();
  }
}
