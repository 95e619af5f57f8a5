// The webhook outbox on a real PostgreSQL server: events recorded in the caller's transaction carry one delivery
// per active endpoint (none when it rolls back), lanes give each session's oldest first, markers, replay, disable
// and enable, listing, counts and pruning as on SQLite, bodies sealed at rest, erasure taking events and
// deliveries, and the sender's lease held by one node at a time.
import { beforeAll, describe, expect, test } from "bun:test";
import type { SQL } from "bun";
import { KEEP_DEAD_MS, KEEP_DELIVERED_MS } from "../../src/db/outbox-store.ts";
import { PgOutboxStore, type PgOutboxEvent } from "../../src/pg/outbox-store.ts";
import { PgSenderLease } from "../../src/pg/sender-lease.ts";
import { PgPrivacyStore } from "../../src/pg/privacy-store.ts";
import { envelopeHeader } from "../../src/privacy/crypto.ts";
import { KeyRingCipher, type FieldCipher } from "../../src/privacy/field-cipher.ts";
import { keyRing } from "../../src/privacy/keys.ts";
import { newSessionRecord } from "../../src/sessions/store.ts";
import { eventually } from "../helpers.ts";
import { freshDatabase, node, pool, server } from "./setup.ts";

beforeAll(async () => void (await server()), 60_000);

const T0 = 1_700_000_000_000;
const EP1 = "ep_0000000000000001";
const EP2 = "ep_0000000000000002";
const OFF = "ep_00000000000000ff";
/** Advisory locks held in this test's database (pg_locks is the whole server's). */
const ADVISORY = "FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";
const count = async (sql: SQL, text: string, ...params: unknown[]): Promise<number> => Number((await sql.unsafe(text, params))[0].n);

let n = 0;
const ev = (sessionId: string, type: PgOutboxEvent["type"] = "message.created", at = T0): PgOutboxEvent => {
  const id = `evt_${++n}`;
  return { id, type, sessionId, payload: JSON.stringify({ id, type, data: { sessionId, text: "a private sentence" } }), createdAt: at };
};

/** A database with sessions `a` and `b`, endpoints EP1 and EP2 active and OFF disabled, all three configured. */
async function world(options: { endpoints?: string[]; cipher?: FieldCipher } = {}) {
  const url = await freshDatabase();
  const sessions = node(url);
  for (const id of ["a", "b"]) await sessions.insertSession(newSessionRecord({ id, ownerId: "alice", at: T0 }));
  const sql = pool(url, 2);
  const configured = options.endpoints ?? [EP1, EP2, OFF];
  const outbox = new PgOutboxStore(sql, configured, options.cipher);
  await outbox.syncEndpoints([EP1, EP2, OFF], T0);
  await outbox.disableEndpoint(OFF, T0, "410");
  const record = (...events: PgOutboxEvent[]) => sql.begin((tx) => outbox.insertEvents(tx, events));
  return { url, sql, sessions, outbox, record };
}

describe("recording", () => {
  test("events recorded in a transaction get one delivery per configured, active endpoint; a rollback leaves nothing", async () => {
    const { sql, outbox, record, sessions } = await world();
    await record(ev("a", "session.started"), ev("a"), ev("b", "session.started"));
    expect(await count(sql, "SELECT count(*)::int AS n FROM webhook_outbox")).toBe(3);
    const rows = await sql.unsafe("SELECT endpoint_id, count(*)::int AS n FROM webhook_deliveries GROUP BY endpoint_id ORDER BY endpoint_id");
    expect(rows.map((r: any) => [r.endpoint_id, r.n])).toEqual([[EP1, 3], [EP2, 3]]);
    const d = (await outbox.list({ endpointId: EP1, limit: 10 })).at(-1)!;
    expect(d).toMatchObject({ status: "pending", attempts: 0, next_attempt_at: T0, queued_at: T0, created_at: T0, last_attempt_at: null, last_status: null, last_error: null, delivered_at: null, session_id: "a", event_type: "session.started" });
    expect(typeof d.id).toBe("number");
    expect(typeof d.event_seq).toBe("number");
    const failing = sql.begin(async (tx) => {
      await outbox.insertEvents(tx, [ev("a"), ev("b")]);
      throw new Error("the change failed");
    });
    await expect(failing).rejects.toThrow("the change failed");
    expect(await count(sql, "SELECT count(*)::int AS n FROM webhook_outbox")).toBe(3);
    expect(await count(sql, "SELECT count(*)::int AS n FROM webhook_deliveries")).toBe(6);
    // An event with nothing to record: no statement at all. insertEventNow commits on its own.
    await record();
    await outbox.insertEventNow("evt_presence", "participant.joined", "b", "{}", T0 + 1);
    expect(await count(sql, "SELECT count(*)::int AS n FROM webhook_deliveries d JOIN webhook_outbox o ON o.seq = d.event_seq WHERE o.id = 'evt_presence'")).toBe(2);
    // An endpoint not configured on this node gets nothing; nor does one configured whose row is not there yet.
    const onlyOne = new PgOutboxStore(sql, [EP2, "ep_unsynced"]);
    await sql.begin((tx) => onlyOne.insertEvents(tx, [ev("a")]));
    expect((await outbox.counts()).get(EP1)!.pending).toBe(4);
    expect((await outbox.counts()).get(EP2)!.pending).toBe(5);
    expect(await outbox.expand(EP1, T0)).toBe(0);
    await sessions.close();
  });

  test("a disable racing an open recording transaction: it waits for it, then dead-letters its deliveries too", async () => {
    const { sql, outbox, url, sessions } = await world();
    let commit!: () => void;
    const held = new Promise<void>((resolve) => (commit = resolve));
    let recorded!: () => void;
    const inserted = new Promise<void>((resolve) => (recorded = resolve));
    const tx = sql.begin(async (t) => {
      await outbox.insertEvents(t, [ev("a"), ev("a")]);
      recorded();
      await held;
    });
    await inserted;
    const other = new PgOutboxStore(pool(url, 1), [EP1, EP2]);
    let disabled: number | null = null;
    const disabling = other.disableEndpoint(EP1, T0 + 5, "410").then((k) => (disabled = k));
    await Bun.sleep(200);
    expect(disabled).toBeNull();
    commit();
    await tx;
    expect(await disabling).toBe(2);
    // Recorded after the disable: no delivery for EP1.
    await sql.begin((t) => outbox.insertEvents(t, [ev("b")]));
    expect(await outbox.counts()).toEqual(new Map([[EP1, { pending: 0, delivered: 0, failed: 0, dead: 2 }], [EP2, { pending: 3, delivered: 0, failed: 0, dead: 0 }]]));
    await sessions.close();
  });

  test("isParticipant reads session_participants", async () => {
    const { outbox, sessions } = await world();
    await sessions.addParticipant("a", "u1", T0);
    expect(await outbox.isParticipant("a", "u1")).toBe(true);
    expect(await outbox.isParticipant("a", "u2")).toBe(false);
    expect(await outbox.isParticipant("b", "u1")).toBe(false);
    await sessions.close();
  });
});

describe("deliveries", () => {
  test("lane heads give each session's oldest first, soonest due first; a failed head holds its lane back", async () => {
    const { outbox, record, sessions } = await world({ endpoints: [EP1] });
    await record(ev("a", "session.started", T0), ev("b", "session.started", T0 + 1), ev("a", "participant.joined", T0 + 2));
    await record(ev("b", "message.created", T0 + 3));
    const heads = await outbox.heads(EP1, 10);
    expect(heads.map((h) => [h.session_id, h.event_type])).toEqual([["a", "session.started"], ["b", "session.started"]]);
    expect(heads[0]!.event_id).toMatch(/^evt_/);
    expect(JSON.parse(heads[0]!.payload).id).toBe(heads[0]!.event_id);
    expect(await outbox.heads(EP1, 1)).toHaveLength(1);
    await outbox.markDelivered(heads[0]!, T0 + 10, 204);
    expect(await outbox.laneHead(EP1, "a")).toMatchObject({ event_type: "participant.joined" });
    expect(await outbox.delivery(heads[0]!.id)).toMatchObject({ status: "delivered", attempts: 1, last_status: 204, delivered_at: T0 + 10, last_attempt_at: T0 + 10 });
    expect(await outbox.endpoint(EP1)).toMatchObject({ state: "active", last_success_at: T0 + 10, last_status: 204, last_failure_at: null });
    await outbox.markFailed(heads[1]!, T0 + 20, 500, "http_error", T0 + 60_000);
    expect((await outbox.laneHead(EP1, "b"))!).toMatchObject({ id: heads[1]!.id, status: "failed", attempts: 1, next_attempt_at: T0 + 60_000, last_error: "http_error" });
    expect(await outbox.endpoint(EP1)).toMatchObject({ last_success_at: T0 + 10, last_failure_at: T0 + 20, last_status: 500, last_error: "http_error" });
    // The retry is due later than a's next event: a's lane comes first now.
    expect((await outbox.heads(EP1, 10)).map((h) => [h.session_id, h.event_type])).toEqual([["a", "participant.joined"], ["b", "session.started"]]);
    await outbox.markFailed(heads[1]!, T0 + 30, null, "timeout", T0 + 90_000);
    expect(await outbox.delivery(heads[1]!.id)).toMatchObject({ last_status: null, last_error: "timeout", attempts: 2 });
    expect(await outbox.laneHead(EP1, "nobody")).toBeNull();
    expect(await outbox.delivery(99_999)).toBeNull();
    await sessions.close();
  });

  test("dead letters replay with the same event id; delivered ones cannot be replayed", async () => {
    const { outbox, record, sessions } = await world({ endpoints: [EP1] });
    await record(ev("a"), ev("b"));
    const [a, b] = await outbox.heads(EP1, 10);
    await outbox.markFailed(a!, T0 + 1, 500, "http_error", null);
    await outbox.markDelivered(b!, T0 + 1, 200);
    expect((await outbox.delivery(a!.id))!.status).toBe("dead");
    expect(await outbox.laneHead(EP1, "a")).toBeNull();
    const replayed = await outbox.replay(a!.id, T0 + 100);
    expect(replayed.ok && replayed.row).toMatchObject({ status: "pending", event_id: a!.event_id, attempts: 1, queued_at: T0 + 100, next_attempt_at: T0 + 100 });
    expect(await outbox.replay(a!.id, T0 + 100)).toEqual({ ok: false, reason: "not_replayable" });
    expect(await outbox.replay(b!.id, T0 + 100)).toEqual({ ok: false, reason: "not_replayable" });
    expect(await outbox.replay(999, T0 + 100)).toEqual({ ok: false, reason: "not_found" });
    await sessions.close();
  });

  test("disabling an endpoint dead-letters what it still owed; enabling resumes with new events; unknown: false", async () => {
    const { outbox, record, sessions } = await world();
    await record(ev("a"), ev("a"), ev("b"));
    const [first] = await outbox.heads(EP1, 1);
    await outbox.markDelivered(first!, T0 + 1, 200);
    expect(await outbox.disableEndpoint(EP1, T0 + 2, "410")).toBe(2);
    expect(await outbox.endpoint(EP1)).toMatchObject({ state: "disabled", disabled_at: T0 + 2, disabled_reason: "410" });
    const dead = await outbox.list({ endpointId: EP1, status: "dead", limit: 10 });
    expect(dead.map((d) => d.last_error)).toEqual(["endpoint_disabled", "endpoint_disabled"]);
    expect(await outbox.replay(dead[0]!.id, T0 + 3)).toEqual({ ok: false, reason: "endpoint_disabled" });
    await record(ev("b"));
    expect((await outbox.counts()).get(EP1)).toEqual({ pending: 0, delivered: 1, failed: 0, dead: 2 });
    expect(await outbox.enableEndpoint("ep_unknown")).toBe(false);
    expect(await outbox.enableEndpoint(EP1)).toBe(true);
    expect(await outbox.endpoint(EP1)).toMatchObject({ state: "active", disabled_at: null, disabled_reason: null });
    await record(ev("b"));
    expect((await outbox.counts()).get(EP1)).toEqual({ pending: 1, delivered: 1, failed: 0, dead: 2 });
    expect((await outbox.replay(dead[0]!.id, T0 + 4)).ok).toBe(true);
    expect(await outbox.disableEndpoint("ep_unknown", T0, "410")).toBe(0);
    await sessions.close();
  });

  test("listing is newest first and filters by status, session, endpoint and cursor; counts; queue depth", async () => {
    const { outbox, record, sessions } = await world();
    await record(ev("a"), ev("b"), ev("a"));
    const all = await outbox.list({ limit: 10 });
    expect(all).toHaveLength(6);
    expect(all.map((d) => d.id)).toEqual([...all.map((d) => d.id)].sort((x, y) => y - x));
    expect((await outbox.list({ sessionId: "b", limit: 10 })).map((d) => d.session_id)).toEqual(["b", "b"]);
    expect((await outbox.list({ endpointId: EP2, limit: 10 })).every((d) => d.endpoint_id === EP2)).toBe(true);
    expect((await outbox.list({ beforeId: all[1]!.id, limit: 10 })).map((d) => d.id)).toEqual(all.slice(2).map((d) => d.id));
    expect((await outbox.list({ limit: 2 })).map((d) => d.id)).toEqual(all.slice(0, 2).map((d) => d.id));
    expect(await outbox.list({ status: "delivered", limit: 10 })).toEqual([]);
    await outbox.markDelivered(all[0]!, T0, 200);
    await outbox.markFailed(all[1]!, T0, 500, "x", T0 + 1);
    expect((await outbox.list({ status: "delivered", limit: 10 })).map((d) => d.id)).toEqual([all[0]!.id]);
    const counts = await outbox.counts();
    expect(counts.size).toBe(2);
    const total = (c: Record<string, number>) => Object.values(c).reduce((s, k) => s + k, 0);
    expect(total(counts.get(EP1)!) + total(counts.get(EP2)!)).toBe(6);
    expect(counts.get(all[0]!.endpoint_id)!.delivered).toBe(1);
    expect(await outbox.queueDepth([EP1, EP2])).toBe(5);
    expect(await outbox.queueDepth([EP1])).toBe(3 - (all[0]!.endpoint_id === EP1 ? 1 : 0));
    expect(await outbox.queueDepth([])).toBe(0);
    await sessions.close();
  });

  test("pruning removes old delivered and dead deliveries, then the events nothing needs any more, in bounded batches", async () => {
    const { sql, outbox, record, sessions } = await world({ endpoints: [EP1] });
    const now = T0 + KEEP_DEAD_MS + 10_000;
    await record(ev("a"), ev("a"), ev("b"), ev("b"), ev("b"));
    const [d1, d2, d3, d4, d5] = (await outbox.list({ limit: 10 })).reverse();
    await outbox.markDelivered(d1!, now - KEEP_DELIVERED_MS - 1000, 200); // old enough
    await outbox.markDelivered(d2!, now - 1000, 200); // kept: recent
    await outbox.markFailed(d3!, now - KEEP_DEAD_MS - 1000, 500, "x", null); // dead, old enough
    await outbox.markFailed(d4!, now - KEEP_DELIVERED_MS - 1000, 500, "x", null); // dead, kept longer
    void d5; // pending: kept
    // Events that never had a delivery (recorded with no endpoint active) go too.
    await sql.begin((tx) => new PgOutboxStore(sql, []).insertEvents(tx, [ev("a"), ev("b")]));
    expect(await outbox.prune(now, [EP1], 1)).toBe(1);
    expect(await outbox.prune(now, [EP1])).toBe(3);
    expect((await outbox.list({ limit: 10 })).map((d) => d.id).sort()).toEqual([d2!.id, d4!.id, d5!.id].sort());
    expect(await count(sql, "SELECT count(*)::int AS n FROM webhook_outbox")).toBe(3);
    expect(await outbox.prune(now, [EP1])).toBe(0);
    // With no endpoint configured, deliveries are pruned but events kept.
    await outbox.markDelivered(d5!, T0, 200);
    expect(await outbox.prune(now, [])).toBe(0);
    expect(await count(sql, "SELECT count(*)::int AS n FROM webhook_outbox")).toBe(3);
    expect(await outbox.queueDepth([EP1])).toBe(0);
    await sessions.close();
  });
});

describe("at rest and erasure", () => {
  test("payloads are sealed with the event id as additional data and open on read", async () => {
    const cipher = new KeyRingCipher(keyRing(Buffer.alloc(32, 7)), "on");
    const { sql, outbox, record, sessions } = await world({ endpoints: [EP1], cipher });
    const e = ev("a");
    await record(e);
    const [stored] = await sql.unsafe("SELECT payload FROM webhook_outbox");
    expect(envelopeHeader(stored.payload)?.keyId).toBe(cipher.keyId);
    expect(stored.payload).not.toContain("private");
    const [head] = await outbox.heads(EP1, 1);
    expect(head!.payload).toBe(e.payload);
    expect((await outbox.list({ limit: 1 }))[0]!.payload).toBe(e.payload);
    // A body moved to another event's row does not open.
    await record(ev("b"));
    await sql.unsafe("UPDATE webhook_outbox SET payload = (SELECT payload FROM webhook_outbox ORDER BY seq LIMIT 1)");
    await expect(outbox.laneHead(EP1, "b")).rejects.toThrow(/webhook_outbox.payload/);
    await sessions.close();
  });

  test("erasing a session removes its events and their deliveries, and only those", async () => {
    const { sql, url, record, sessions } = await world();
    await record(ev("a"), ev("b"), ev("a"));
    const erased = await new PgPrivacyStore(pool(url, 1)).eraseSession("a", T0 + 100);
    expect(erased!.webhookEvents).toBe(2);
    expect(await count(sql, "SELECT count(*)::int AS n FROM webhook_outbox WHERE session_id = 'a'")).toBe(0);
    expect(await count(sql, "SELECT count(*)::int AS n FROM webhook_deliveries WHERE session_id = 'a'")).toBe(0);
    expect(await count(sql, "SELECT count(*)::int AS n FROM webhook_deliveries")).toBe(2);
    await sessions.close();
  });
  test("erasing a user removes the events that name them in others' sessions, and keeps the rest", async () => {
    const { sql, url, record, sessions } = await world();
    const naming = (sessionId: string, userId: string): PgOutboxEvent => {
      const id = `evt_${++n}`;
      return { id, type: "participant.joined", sessionId, payload: JSON.stringify({ type: "participant.joined", data: { session: sessionId, userId } }), createdAt: T0 };
    };
    for (const id of ["a", "b"]) await sessions.addParticipant(id, "bob", T0);
    await record(naming("a", "bob"), naming("a", "carol"), naming("b", "bob"));
    const traces = await new PgPrivacyStore(pool(url, 1)).eraseUserTraces("bob", ["a", "b"], T0 + 100);
    expect(traces.webhookEvents).toBe(2);
    const left = await sql.unsafe("SELECT payload FROM webhook_outbox");
    expect(left.map((r: { payload: string }) => JSON.parse(r.payload).data.userId)).toEqual(["carol"]);
    expect(await count(sql, "SELECT count(*)::int AS n FROM webhook_deliveries")).toBe(2);
    await sessions.close();
  });
});

describe("the sender's lease", () => {
  test("two nodes on one database: only one holds it; released or its node gone, the other takes it", async () => {
    const url = await freshDatabase();
    const poolA = pool(url, 2);
    const a = new PgSenderLease(poolA);
    const b = new PgSenderLease(pool(url, 2));
    expect(await a.acquire()).toBe(true);
    expect(await b.acquire()).toBe(false);
    expect(await a.acquire()).toBe(true);
    expect(await b.acquire()).toBe(false);
    // Another key is another lease.
    const other = new PgSenderLease(pool(url, 1), 42n);
    expect(await other.acquire()).toBe(true);
    await other.release();
    await a.release();
    expect(a.held).toBe(false);
    expect(await b.acquire()).toBe(true);
    expect(await a.acquire()).toBe(false);
    await b.release();
    // The released connection went back to the pool without the lock.
    expect(await a.acquire()).toBe(true);
    // The holder's node goes away: its connection closes and PostgreSQL frees the lock.
    await poolA.close({ timeout: 0 });
    await eventually(() => b.acquire(), 5000, "b takes the lease over");
    // The old holder learns it lost the lease (without throwing), and its next tries fail while b holds it.
    expect(await a.acquire()).toBe(false);
    expect(await a.acquire()).toBe(false);
    await b.release();
    await b.release();
  });

  test("a holder whose connection is killed loses the lease and takes it again on a new connection", async () => {
    const url = await freshDatabase();
    const a = new PgSenderLease(pool(url, 2));
    const admin = pool(url, 1);
    // Overlapping calls share one attempt: one connection, one lock.
    expect(await Promise.all([a.acquire(), a.acquire()])).toEqual([true, true]);
    expect(await count(admin, `SELECT count(*)::int AS n ${ADVISORY}`)).toBe(1);
    await admin.unsafe(`SELECT pg_terminate_backend(pid) ${ADVISORY} AND pid <> pg_backend_pid()`);
    expect(await a.acquire()).toBe(false);
    expect(await a.acquire()).toBe(true);
    await a.release();
    expect(await count(admin, `SELECT count(*)::int AS n ${ADVISORY}`)).toBe(0);
  });
});
