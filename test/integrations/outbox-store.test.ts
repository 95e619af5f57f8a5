// The outbox and archive jobs against real SQLite: rows written inside the change's own transaction (and rolled
// back with it), one delivery per event and endpoint, lanes in session order, dead letters, replay and pruning.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { migrate, openDatabase, SqliteSessionStore } from "../../src/db/index.ts";
import { SqliteArchiveStore } from "../../src/db/archive-store.ts";
import type { CommitHooks } from "../../src/db/commit-hooks.ts";
import { KEEP_DELIVERED_MS, SqliteOutboxStore } from "../../src/db/outbox-store.ts";
import { OutboxWriter } from "../../src/integrations/webhook-outbox.ts";
import { WEBHOOK_EVENT_TYPES } from "../../src/config/index.ts";
import { newSessionRecord, type AppendResult } from "../../src/sessions/store.ts";
import { tempDir } from "../helpers.ts";

function setup(hooksFor: (outbox: SqliteOutboxStore) => CommitHooks = (outbox) => new OutboxWriter({ store: outbox, events: new Set(WEBHOOK_EVENT_TYPES) }).hooks()) {
  const sqlite = openDatabase(join(tempDir(), "o.db"));
  migrate(sqlite);
  const outbox = new SqliteOutboxStore(sqlite);
  const store = new SqliteSessionStore(sqlite, { hooks: hooksFor(outbox) });
  const types = (): string[] => sqlite.query("SELECT type FROM webhook_outbox ORDER BY seq").all().map((r: any) => r.type);
  return { sqlite, outbox, store, types };
}

function append(store: SqliteSessionStore, sessionId: string, content: string): Promise<AppendResult> {
  return new Promise((resolve, reject) =>
    store.append({ id: crypto.randomUUID(), sessionId, userId: "u", role: "user", kind: "text", content, createdAt: Date.now() }, (e, r) => (e ? reject(e) : resolve(r!))),
  );
}

describe("outbox rows commit with the change they report", () => {
  test("session start, participant, messages and end each add their event, in order", async () => {
    const { store, types } = setup();
    store.insertSession(newSessionRecord({ id: "s1", ownerId: "alice", at: Date.now() }));
    store.addParticipant("s1", "alice", Date.now());
    store.addParticipant("s1", "alice", Date.now()); // not new: no second event
    await Promise.all([append(store, "s1", "a"), append(store, "s1", "b")]);
    expect(store.endSession("s1", "expired", Date.now())).toBe(true);
    expect(store.endSession("s1", "completed", Date.now())).toBe(false);
    expect(types()).toEqual(["session.started", "participant.joined", "message.created", "message.created", "session.ended"]);
  });

  test("a batch whose hook throws rolls back: no message, no event, every append in it fails", async () => {
    let n = 0;
    const { sqlite, store, types } = setup((outbox) => {
      const hooks = new OutboxWriter({ store: outbox, events: new Set(WEBHOOK_EVENT_TYPES) }).hooks();
      return {
        ...hooks,
        messageCommitted: (m) => {
          if (++n === 2) throw new Error("disk full");
          hooks.messageCommitted!(m);
        },
      };
    });
    store.insertSession(newSessionRecord({ id: "s1", ownerId: "alice", at: Date.now() }));
    const results = await Promise.allSettled([append(store, "s1", "a"), append(store, "s1", "b")]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(sqlite.query("SELECT count(*) AS n FROM messages").get()).toEqual({ n: 0 });
    expect(types()).toEqual(["session.started"]);
    expect(store.getSession("s1")!.lastSeq).toBe(0);
  });

  test("a refused insert (duplicate id) records nothing; an append to an ended session records nothing", async () => {
    const { store, types } = setup();
    store.insertSession(newSessionRecord({ id: "s1", ownerId: "alice", at: Date.now() }));
    expect(() => store.insertSession(newSessionRecord({ id: "s1", ownerId: "bob", at: Date.now() }))).toThrow();
    store.endSession("s1", "completed", Date.now());
    await expect(append(store, "s1", "late")).rejects.toThrow();
    expect(types()).toEqual(["session.started", "session.ended"]);
  });

  test("with no hooks for an event, nothing is written for it (message.created is opt-in)", async () => {
    const { store, types } = setup((outbox) => new OutboxWriter({ store: outbox, events: new Set(["session.started"] as const) }).hooks());
    store.insertSession(newSessionRecord({ id: "s1", ownerId: "alice", at: Date.now() }));
    await append(store, "s1", "a");
    store.endSession("s1", "completed", Date.now());
    expect(types()).toEqual(["session.started"]);
  });

  test("an archive job is written with the end, once", () => {
    const sqlite = openDatabase(join(tempDir(), "a.db"));
    migrate(sqlite);
    const jobs = new SqliteArchiveStore(sqlite);
    const store = new SqliteSessionStore(sqlite, { hooks: { sessionEnded: (r) => jobs.enqueue(r.id, Date.now()) } });
    store.insertSession(newSessionRecord({ id: "s1", ownerId: "alice", at: Date.now() }));
    expect(jobs.pendingCount()).toBe(0);
    store.endSession("s1", "completed", Date.now());
    store.endSession("s1", "completed", Date.now());
    expect(jobs.pendingCount()).toBe(1);
    expect(jobs.job("s1")).toMatchObject({ status: "pending", attempts: 0 });
  });
});

describe("deliveries", () => {
  function withEvents() {
    const ctx = setup();
    const { store, outbox } = ctx;
    for (const id of ["a", "b"]) store.insertSession(newSessionRecord({ id, ownerId: "o", at: Date.now() }));
    store.addParticipant("a", "u1", Date.now());
    store.addParticipant("b", "u1", Date.now());
    store.addParticipant("a", "u2", Date.now());
    outbox.syncEndpoints(["ep_0000000000000001"], Date.now());
    return ctx;
  }

  test("a new endpoint starts after the events already recorded", () => {
    const { outbox } = withEvents();
    expect(outbox.expand("ep_0000000000000001", Date.now())).toBe(0);
  });

  test("each event becomes one delivery per endpoint; lanes give each session's oldest first", () => {
    const { store, outbox, sqlite } = withEvents();
    sqlite.run("UPDATE webhook_endpoints SET cursor = 0");
    expect(outbox.expand("ep_0000000000000001", Date.now())).toBe(5);
    expect(outbox.expand("ep_0000000000000001", Date.now())).toBe(0);
    const heads = outbox.heads("ep_0000000000000001", 10);
    expect(heads.map((h) => [h.session_id, h.event_type])).toEqual([
      ["a", "session.started"],
      ["b", "session.started"],
    ]);
    outbox.markDelivered(heads[0]!, Date.now(), 204);
    expect(outbox.laneHead("ep_0000000000000001", "a")).toMatchObject({ event_type: "participant.joined" });
    // A failed head holds its lane back: b's next event waits behind it.
    outbox.markFailed(heads[1]!, Date.now(), 500, "http_error", Date.now() + 60_000);
    expect(outbox.laneHead("ep_0000000000000001", "b")!.id).toBe(heads[1]!.id);
    store.endSession("b", "completed", Date.now());
    outbox.expand("ep_0000000000000001", Date.now());
    expect(outbox.laneHead("ep_0000000000000001", "b")!.id).toBe(heads[1]!.id);
  });

  test("dead letters replay with the same event id; delivered ones cannot be replayed", () => {
    const { outbox, sqlite } = withEvents();
    sqlite.run("UPDATE webhook_endpoints SET cursor = 0");
    outbox.expand("ep_0000000000000001", Date.now());
    const [a, b] = outbox.heads("ep_0000000000000001", 10);
    outbox.markFailed(a!, Date.now(), 500, "http_error", null);
    outbox.markDelivered(b!, Date.now(), 200);
    expect(outbox.delivery(a!.id)!.status).toBe("dead");
    const replayed = outbox.replay(a!.id, Date.now());
    expect(replayed.ok && replayed.row).toMatchObject({ status: "pending", event_id: a!.event_id, attempts: 1 });
    expect(outbox.replay(b!.id, Date.now())).toEqual({ ok: false, reason: "not_replayable" });
    expect(outbox.replay(999, Date.now())).toEqual({ ok: false, reason: "not_found" });
  });

  test("disabling an endpoint dead-letters what it still owed; enabling resumes from new events", () => {
    const { outbox, sqlite, store } = withEvents();
    sqlite.run("UPDATE webhook_endpoints SET cursor = 0");
    outbox.expand("ep_0000000000000001", Date.now());
    expect(outbox.disableEndpoint("ep_0000000000000001", Date.now(), "410")).toBe(5);
    expect(outbox.list({ status: "dead", limit: 10 })).toHaveLength(5);
    store.endSession("a", "completed", Date.now());
    expect(outbox.expand("ep_0000000000000001", Date.now())).toBe(0);
    expect(outbox.replay(outbox.list({ limit: 1 })[0]!.id, Date.now())).toEqual({ ok: false, reason: "endpoint_disabled" });
    expect(outbox.enableEndpoint("ep_0000000000000001")).toBe(true);
    expect(outbox.expand("ep_0000000000000001", Date.now())).toBe(0);
    store.endSession("b", "completed", Date.now());
    expect(outbox.expand("ep_0000000000000001", Date.now())).toBe(1);
  });

  test("listing is newest first and filters by status and session", () => {
    const { outbox, sqlite } = withEvents();
    sqlite.run("UPDATE webhook_endpoints SET cursor = 0");
    outbox.expand("ep_0000000000000001", Date.now());
    const all = outbox.list({ limit: 10 });
    expect(all.map((d) => d.id)).toEqual([...all.map((d) => d.id)].sort((x, y) => y - x));
    expect(outbox.list({ sessionId: "b", limit: 10 }).every((d) => d.session_id === "b")).toBe(true);
    expect(outbox.list({ beforeId: all[1]!.id, limit: 10 }).map((d) => d.id)).toEqual(all.slice(2).map((d) => d.id));
    expect(outbox.list({ status: "delivered", limit: 10 })).toEqual([]);
  });

  test("pruning removes old delivered deliveries and the events nothing needs any more", () => {
    const { outbox, sqlite } = withEvents();
    sqlite.run("UPDATE webhook_endpoints SET cursor = 0");
    outbox.expand("ep_0000000000000001", Date.now());
    const old = Date.now() - KEEP_DELIVERED_MS - 1000;
    for (const d of outbox.list({ limit: 10 })) outbox.markDelivered(d, old, 200);
    const pending = outbox.list({ limit: 1 })[0]!;
    sqlite.query("UPDATE webhook_deliveries SET status = 'pending', delivered_at = NULL WHERE id = ?").run(pending.id);
    expect(outbox.prune(Date.now(), ["ep_0000000000000001"])).toBe(4);
    expect(outbox.list({ limit: 10 }).map((d) => d.id)).toEqual([pending.id]);
    expect(sqlite.query("SELECT count(*) AS n FROM webhook_outbox").get()).toEqual({ n: 1 });
    expect(outbox.queueDepth(["ep_0000000000000001"])).toBe(1);
  });
});
