// The webhook outbox in PostgreSQL, shared by every node: events are inserted inside the transaction of the change
// they report, together with one pending delivery per active endpoint (with several nodes committing at once,
// bigserial order is not commit order, so a cursor over `seq` could skip an event another node commits late).
// Per session, events are recorded under the session's row lock, so within a lane (endpoint, session) seq order is
// commit order, and lane heads keep each session's events in order. PgSenderLease lets one node's sender deliver.
import type { SQL } from "bun";
import type { WebhookEventType } from "../config/index.ts";
import {
  KEEP_DEAD_MS,
  KEEP_DELIVERED_MS,
  type DeliveryQuery,
  type DeliveryRow,
  type DeliveryStatus,
  type EndpointRow,
  type OutboxStore,
  type ReplayResult,
} from "../db/outbox-store.ts";
import { PLAINTEXT, type FieldCipher } from "../privacy/field-cipher.ts";
import { aad } from "../privacy/fields.ts";
import { num, numOrNull } from "./rows.ts";
import { guard } from "./faults.ts";

type Row = Record<string, unknown>;
/** What insertEvents needs of a transaction (Bun's TransactionSQL, or any client). */
type Tx = Pick<SQL, "unsafe">;

/** A JS value as a jsonb parameter (cast `$n::text::jsonb`: a string cast straight to jsonb is encoded twice). */
const j = (value: unknown): string => JSON.stringify(value);

export interface PgOutboxEvent {
  id: string;
  type: WebhookEventType;
  sessionId: string;
  payload: string;
  createdAt: number;
}

const SELECT_DELIVERY = "SELECT d.*, o.id AS event_id, o.payload FROM webhook_deliveries d JOIN webhook_outbox o ON o.seq = d.event_seq";

/**
 * Events and their deliveries in one statement. The endpoint rows are read FOR KEY SHARE: disableEndpoint locks
 * its row FOR UPDATE, so an insert either commits before the disable (whose dead-lettering then sees its rows) or
 * waits and re-reads the row as disabled (and makes no delivery for it). Markers (NO KEY UPDATE) do not conflict.
 * `ORDER BY ord` numbers the events in the order given (a session's events in the order they happened).
 */
const INSERT_EVENTS = `WITH ev AS (
    INSERT INTO webhook_outbox (id, type, session_id, payload, created_at)
    SELECT e.v ->> 'id', e.v ->> 'type', e.v ->> 'session_id', e.v ->> 'payload', (e.v ->> 'created_at')::bigint
    FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS e(v, ord) ORDER BY e.ord
    RETURNING seq, type, session_id, created_at
  ), ep AS (
    SELECT id FROM webhook_endpoints WHERE id IN (SELECT jsonb_array_elements_text($2::text::jsonb)) AND state = 'active' FOR KEY SHARE
  )
  INSERT INTO webhook_deliveries (event_seq, endpoint_id, session_id, event_type, next_attempt_at, queued_at, created_at)
  SELECT ev.seq, ep.id, ev.session_id, ev.type, ev.created_at, ev.created_at, ev.created_at FROM ev CROSS JOIN ep`;

function deliveryFromRow(r: Row): DeliveryRow {
  return {
    id: num(r.id),
    event_seq: num(r.event_seq),
    event_id: r.event_id as string,
    endpoint_id: r.endpoint_id as string,
    session_id: r.session_id as string,
    event_type: r.event_type as WebhookEventType,
    status: r.status as DeliveryStatus,
    attempts: num(r.attempts),
    next_attempt_at: num(r.next_attempt_at),
    queued_at: num(r.queued_at),
    last_attempt_at: numOrNull(r.last_attempt_at),
    last_status: numOrNull(r.last_status),
    last_error: (r.last_error as string | null) ?? null,
    delivered_at: numOrNull(r.delivered_at),
    created_at: num(r.created_at),
    payload: r.payload as string,
  };
}

function endpointFromRow(r: Row): EndpointRow {
  return {
    id: r.id as string,
    state: r.state as EndpointRow["state"],
    // No cursor here (deliveries are made with each event); 0 keeps the row's shape.
    cursor: 0,
    disabled_at: numOrNull(r.disabled_at),
    disabled_reason: (r.disabled_reason as string | null) ?? null,
    last_success_at: numOrNull(r.last_success_at),
    last_failure_at: numOrNull(r.last_failure_at),
    last_status: numOrNull(r.last_status),
    last_error: (r.last_error as string | null) ?? null,
    created_at: num(r.created_at),
  };
}

export class PgOutboxStore implements OutboxStore {
  /**
   * `endpointIds`: the configured endpoints, which get a delivery of each event recorded (while their row is
   * active). `cipher` seals event bodies at rest (they may carry content); rows handed out hold the opened body.
   */
  constructor(
    private readonly sql: SQL,
    private readonly endpointIds: readonly string[],
    private readonly cipher: FieldCipher = PLAINTEXT,
  ) {}

  /**
   * The hot-path write, inside the caller's open transaction `tx` (never one of its own): the events and one
   * pending delivery per configured, active endpoint. Errors are the caller's to map (it knows the commit's state).
   */
  async insertEvents(tx: Tx, events: PgOutboxEvent[]): Promise<void> {
    if (events.length === 0) return;
    const rows = events.map((e) => ({
      id: e.id,
      type: e.type,
      session_id: e.sessionId,
      payload: this.cipher.seal(e.payload, aad.webhookPayload(e.id)),
      created_at: e.createdAt,
    }));
    await tx.unsafe(INSERT_EVENTS, [j(rows), j(this.endpointIds)]);
  }

  /** An event that reports no stored change (presence), committed on its own. */
  async insertEventNow(id: string, type: WebhookEventType, sessionId: string, payload: string, createdAt: number): Promise<void> {
    await guard(() => this.sql.begin((tx) => this.insertEvents(tx, [{ id, type, sessionId, payload, createdAt }])));
  }

  /** Whether the user is a participant of the session (staff who only watched are not). */
  async isParticipant(sessionId: string, userId: string): Promise<boolean> {
    const rows: Row[] = await guard(() => this.sql.unsafe("SELECT 1 FROM session_participants WHERE session_id = $1 AND user_id = $2", [sessionId, userId]));
    return rows.length > 0;
  }

  /** Adds rows for configured endpoints not seen before; a new endpoint gets the events recorded from then on. */
  async syncEndpoints(ids: readonly string[], now: number): Promise<void> {
    if (ids.length === 0) return;
    await guard(() =>
      this.sql.unsafe(
        "INSERT INTO webhook_endpoints (id, created_at) SELECT x, $2 FROM jsonb_array_elements_text($1::text::jsonb) AS x ON CONFLICT (id) DO NOTHING",
        [j(ids), now],
      ),
    );
  }

  async endpoint(id: string): Promise<EndpointRow | null> {
    const [r]: Row[] = await guard(() => this.sql.unsafe("SELECT * FROM webhook_endpoints WHERE id = $1", [id]));
    return r ? endpointFromRow(r) : null;
  }

  /** Nothing to expand: deliveries are made with each event. */
  expand(_endpointId: string, _now: number, _limit?: number): Promise<number> {
    return Promise.resolve(0);
  }

  /** Lane heads of one endpoint, the soonest due first (in-flight lanes included: the caller skips them). */
  async heads(endpointId: string, limit: number): Promise<DeliveryRow[]> {
    // Only heads are ever attempted: a lane's later events wait for its oldest undelivered one.
    const rows: Row[] = await guard(() =>
      this.sql.unsafe(
        `SELECT d.*, o.id AS event_id, o.payload FROM (
           SELECT session_id, min(event_seq) AS s FROM webhook_deliveries
           WHERE endpoint_id = $1 AND status IN ('pending', 'failed') GROUP BY session_id
         ) h
         JOIN webhook_deliveries d ON d.event_seq = h.s AND d.endpoint_id = $1
         JOIN webhook_outbox o ON o.seq = d.event_seq
         ORDER BY d.next_attempt_at, d.event_seq LIMIT $2`,
        [endpointId, limit],
      ),
    );
    return rows.map((r) => this.opened(r));
  }

  /** The head of one lane now, or null when the lane is drained. */
  async laneHead(endpointId: string, sessionId: string): Promise<DeliveryRow | null> {
    const [r]: Row[] = await guard(() =>
      this.sql.unsafe(
        `${SELECT_DELIVERY} WHERE d.endpoint_id = $1 AND d.session_id = $2 AND d.status IN ('pending', 'failed') ORDER BY d.event_seq LIMIT 1`,
        [endpointId, sessionId],
      ),
    );
    return r ? this.opened(r) : null;
  }

  async delivery(id: number): Promise<DeliveryRow | null> {
    const [r]: Row[] = await guard(() => this.sql.unsafe(`${SELECT_DELIVERY} WHERE d.id = $1`, [id]));
    return r ? this.opened(r) : null;
  }

  /** A delivery row with its event body opened (the one place outbox payloads are read). */
  private opened(r: Row): DeliveryRow {
    const row = deliveryFromRow(r);
    return { ...row, payload: this.cipher.open(row.payload, aad.webhookPayload(row.event_id)) };
  }

  // Markers update the endpoint row before the delivery, the order disableEndpoint and replay lock them in, so
  // they cannot deadlock with each other.
  async markDelivered(row: DeliveryRow, now: number, status: number): Promise<void> {
    await guard(() =>
      this.sql.begin(async (tx) => {
        await tx.unsafe("UPDATE webhook_endpoints SET last_success_at = $1, last_status = $2 WHERE id = $3", [now, status, row.endpoint_id]);
        await tx.unsafe(
          "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, last_attempt_at = $1, last_status = $2, last_error = NULL, delivered_at = $1 WHERE id = $3",
          [now, status, row.id],
        );
      }),
    );
  }

  /** A failed attempt: `nextAt` schedules the retry, null makes the delivery dead. */
  async markFailed(row: DeliveryRow, now: number, status: number | null, error: string, nextAt: number | null): Promise<void> {
    await guard(() =>
      this.sql.begin(async (tx) => {
        await tx.unsafe("UPDATE webhook_endpoints SET last_failure_at = $1, last_status = $2, last_error = $3 WHERE id = $4", [now, status, error, row.endpoint_id]);
        await tx.unsafe(
          `UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, last_attempt_at = $2, last_status = $3, last_error = $4,
             next_attempt_at = coalesce($5::bigint, next_attempt_at) WHERE id = $6`,
          [nextAt === null ? "dead" : "failed", now, status, error, nextAt, row.id],
        );
      }),
    );
  }

  /** Disables an endpoint (it answered 410): its undelivered deliveries become dead. Returns how many. */
  async disableEndpoint(endpointId: string, now: number, reason: string): Promise<number> {
    return await guard(() =>
      this.sql.begin(async (tx) => {
        // FOR UPDATE waits for transactions recording events for this endpoint (they hold KEY SHARE), so the
        // statement below sees their deliveries; later ones see the endpoint disabled.
        const [ep]: Row[] = await tx.unsafe("SELECT 1 FROM webhook_endpoints WHERE id = $1 FOR UPDATE", [endpointId]);
        if (!ep) return 0;
        await tx.unsafe("UPDATE webhook_endpoints SET state = 'disabled', disabled_at = $1, disabled_reason = $2 WHERE id = $3", [now, reason, endpointId]);
        const dead: Row[] = await tx.unsafe(
          "UPDATE webhook_deliveries SET status = 'dead', last_error = coalesce(last_error, 'endpoint_disabled') WHERE endpoint_id = $1 AND status IN ('pending', 'failed') RETURNING 1",
          [endpointId],
        );
        return dead.length;
      }),
    );
  }

  /** Re-enables a disabled endpoint; it gets deliveries of events recorded from now on. False when unknown. */
  async enableEndpoint(endpointId: string): Promise<boolean> {
    const rows: Row[] = await guard(() =>
      this.sql.unsafe("UPDATE webhook_endpoints SET state = 'active', disabled_at = NULL, disabled_reason = NULL WHERE id = $1 RETURNING 1", [endpointId]),
    );
    return rows.length > 0;
  }

  /** Re-queues a dead or failed delivery with a fresh retry window; the event (and its webhook-id) is the same. */
  async replay(id: number, now: number): Promise<ReplayResult> {
    return await guard(() =>
      this.sql.begin(async (tx): Promise<ReplayResult> => {
        const [found]: Row[] = await tx.unsafe("SELECT endpoint_id FROM webhook_deliveries WHERE id = $1", [id]);
        if (!found) return { ok: false, reason: "not_found" };
        // The endpoint stays active until this commits (a disable waits), then dead-letters this row too.
        const [ep]: Row[] = await tx.unsafe("SELECT state FROM webhook_endpoints WHERE id = $1 FOR KEY SHARE", [found.endpoint_id]);
        const [updated]: Row[] = await tx.unsafe(
          `UPDATE webhook_deliveries SET status = 'pending', queued_at = $1, next_attempt_at = $1
           WHERE id = $2 AND status IN ('dead', 'failed') AND $3::text = 'active' RETURNING id`,
          [now, id, (ep?.state as string | undefined) ?? "disabled"],
        );
        if (!updated) {
          const [r]: Row[] = await tx.unsafe("SELECT status FROM webhook_deliveries WHERE id = $1", [id]);
          if (!r) return { ok: false, reason: "not_found" };
          if (r.status !== "dead" && r.status !== "failed") return { ok: false, reason: "not_replayable" };
          return { ok: false, reason: "endpoint_disabled" };
        }
        const [row]: Row[] = await tx.unsafe(`${SELECT_DELIVERY} WHERE d.id = $1`, [id]);
        return { ok: true, row: this.opened(row!) };
      }),
    );
  }

  /** Newest first. */
  async list(q: DeliveryQuery): Promise<DeliveryRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (q.status) where.push(`d.status = ${p(q.status)}`);
    if (q.sessionId) where.push(`d.session_id = ${p(q.sessionId)}`);
    if (q.endpointId) where.push(`d.endpoint_id = ${p(q.endpointId)}`);
    if (q.beforeId !== undefined) where.push(`d.id < ${p(q.beforeId)}`);
    // Only fixed fragments are joined; every value is a bound parameter.
    const text = `${SELECT_DELIVERY} ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY d.id DESC LIMIT ${p(q.limit)}`;
    const rows: Row[] = await guard(() => this.sql.unsafe(text, params));
    return rows.map((r) => this.opened(r));
  }

  /** Deliveries per endpoint and status (for the endpoint view). */
  async counts(): Promise<Map<string, Record<DeliveryStatus, number>>> {
    const rows: Row[] = await guard(() => this.sql.unsafe("SELECT endpoint_id, status, count(*)::int AS n FROM webhook_deliveries GROUP BY endpoint_id, status"));
    const out = new Map<string, Record<DeliveryStatus, number>>();
    for (const r of rows) {
      const id = r.endpoint_id as string;
      const c = out.get(id) ?? { pending: 0, delivered: 0, failed: 0, dead: 0 };
      c[r.status as DeliveryStatus] = num(r.n);
      out.set(id, c);
    }
    return out;
  }

  /** Deliveries of these (configured, enabled) endpoints not yet delivered or dead (there is nothing unexpanded). */
  async queueDepth(activeEndpointIds: readonly string[]): Promise<number> {
    if (activeEndpointIds.length === 0) return 0;
    const [r]: Row[] = await guard(() =>
      this.sql.unsafe(
        "SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id IN (SELECT jsonb_array_elements_text($1::text::jsonb)) AND status IN ('pending', 'failed')",
        [j(activeEndpointIds)],
      ),
    );
    return num(r!.n);
  }

  /**
   * Deletes delivered deliveries older than KEEP_DELIVERED_MS and dead ones older than KEEP_DEAD_MS (at most
   * `batch`), then the events no delivery refers to any more: those whose deliveries just went and the oldest
   * `batch` events (e.g. recorded while no endpoint was active), so one call never scans the whole table. An event
   * being recorded is invisible here until it commits, with its deliveries. Returns how many events went.
   */
  async prune(now: number, endpointIds: readonly string[], batch = 5000): Promise<number> {
    return await guard(() =>
      this.sql.begin(async (tx) => {
        const freed: Row[] = await tx.unsafe(
          `DELETE FROM webhook_deliveries WHERE id IN (
             SELECT id FROM webhook_deliveries
             WHERE (status = 'delivered' AND delivered_at < $1) OR (status = 'dead' AND coalesce(last_attempt_at, created_at) < $2)
             LIMIT $3
           ) RETURNING event_seq`,
          [now - KEEP_DELIVERED_MS, now - KEEP_DEAD_MS, batch],
        );
        // As on SQLite: with no endpoint configured, events are kept (webhooks are off or being reconfigured).
        if (endpointIds.length === 0) return 0;
        const removed: Row[] = await tx.unsafe(
          `DELETE FROM webhook_outbox o WHERE o.seq IN (
             SELECT jsonb_array_elements_text($1::text::jsonb)::bigint
             UNION SELECT seq FROM (SELECT seq FROM webhook_outbox ORDER BY seq LIMIT $2) oldest
           ) AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_seq = o.seq) RETURNING 1`,
          [j(freed.map((r) => String(r.event_seq))), batch],
        );
        return removed.length;
      }),
    );
  }
}
