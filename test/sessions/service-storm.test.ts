// The domain over a real store: joins that open sessions answer once stored (batched), the expiry sweep works in
// steps that each end when told to yield, and a recovery reply is capped by bytes.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { migrate, openDatabase, SqliteSessionStore } from "../../src/db/index.ts";
import type { SessiondError } from "../../src/protocol/errors.ts";
import { principal, type JoinResult } from "../../src/sessions/index.ts";
import { tempDir } from "../helpers.ts";
import { joinStored, serviceOn } from "./service-setup.ts";

function setup(rules: { expiryMs?: number; maxRecoveryBytes?: number } = {}) {
  const sqlite = openDatabase(join(tempDir(), "svc.db"));
  migrate(sqlite);
  const batches: number[] = [];
  const store = new SqliteSessionStore(sqlite, { maxBatch: 4096, onCommit: (n) => batches.push(n) });
  const { service, clock, events } = serviceOn(store, {
    ...(rules.expiryMs !== undefined && { expiryMs: rules.expiryMs }),
    windowSize: 1000,
    cacheMaxSessions: 100_000,
    maxRecoveryMessages: 10_000,
    maxRecoveryBytes: rules.maxRecoveryBytes,
  });
  return { sqlite, store, service, clock, events, batches };
}


describe("joins through the group commit", () => {
  test("a join that opens its session answers after the session and the participant are stored", async () => {
    const { sqlite, service, events } = setup();
    const started: string[] = [];
    events.on("session.started", ({ session }) => started.push(session.id));
    const answered = joinStored(service, "ann", "fresh");
    // Not answered in the same turn: the rows are queued for the next commit.
    expect(sqlite.query("SELECT count(*) AS n FROM sessions").get()).toEqual({ n: 0 });
    const result = await answered;
    expect(result.session).toMatchObject({ id: "fresh", ownerId: "ann", metrics: { participantCount: 1 } });
    expect(sqlite.query("SELECT participant_count FROM sessions WHERE id = 'fresh'").get()).toEqual({ participant_count: 1 });
    expect(started).toEqual(["fresh"]);
  });

  test("a second join in the same turn waits for the first one's insert; a rejoin answers at once", async () => {
    const { service } = setup();
    const first = joinStored(service, "ann", "shared");
    let secondDone = false;
    const second = joinStored(service, "ann", "shared").then((r) => ((secondDone = true), r));
    expect(secondDone).toBe(false);
    expect((await first).session.id).toBe("shared");
    expect((await second).session.metrics.participantCount).toBe(1);
    // Nothing to write: answered before joinStored returns.
    let sync: JoinResult | null = null;
    service.joinStored(principal("ann"), { session: "shared" }, {}, (_, r) => (sync = r));
    expect(sync).not.toBeNull();
  });

  test("500 joins that open 500 sessions, each followed by a message, commit in a handful of transactions", async () => {
    const { service, batches } = setup();
    const sent: Array<Promise<unknown>> = [];
    for (let i = 0; i < 500; i++) {
      sent.push(joinStored(service, `u${i}`, `s${i}`));
      sent.push(service.appendMessage(principal(`u${i}`), `s${i}`, { content: "hi" }));
    }
    await Promise.all(sent);
    expect(batches).toEqual([500]);
  });
});

describe("the expiry sweep", () => {
  test("goes on in steps that end when told to yield, and expires every idle session exactly once", async () => {
    const { service, clock, events } = setup({ expiryMs: 1000 });
    for (let i = 0; i < 300; i++) await joinStored(service, `u${i}`, `idle-${i}`);
    clock.advance(5000);
    const ended: string[] = [];
    events.on("session.ended", ({ session }) => ended.push(session.id));
    let steps = 0;
    let expired = 0;
    for (;;) {
      let budget = 25;
      const step = service.expireIdleSessions(() => --budget <= 0);
      steps++;
      expired += step.expired.length;
      if (step.done) break;
      expect(step.expired.length).toBeLessThanOrEqual(25);
    }
    expect(expired).toBe(300);
    expect(new Set(ended).size).toBe(300);
    expect(steps).toBeGreaterThanOrEqual(12);
    expect(service.expireIdleSessions()).toEqual({ expired: [], done: true });
  });

  test("sessions active since the cutoff are kept", async () => {
    const { service, clock } = setup({ expiryMs: 1000 });
    await joinStored(service, "a", "old");
    clock.advance(5000);
    await joinStored(service, "b", "new");
    expect(service.expireIdleSessions()).toEqual({ expired: ["old"], done: true });
  });
});

describe("recovery replies", () => {
  test("are capped by MAX_RECOVERY_BYTES with truncated, and paging on with since gets the rest once", async () => {
    const { service } = setup({ maxRecoveryBytes: 10_000 });
    await joinStored(service, "ann", "big");
    for (let i = 0; i < 40; i++) await service.appendMessage(principal("ann"), "big", { content: `${i}`.padEnd(1000, "x") });
    const seqs: number[] = [];
    let since = 0;
    let pages = 0;
    for (;;) {
      const page = service.join(principal("ann"), { session: "big" }, { since });
      pages++;
      expect(page.messages.length).toBeGreaterThan(0);
      expect(Buffer.byteLength(JSON.stringify(page.messages))).toBeLessThanOrEqual(10_000);
      seqs.push(...page.messages.map((m) => m.seq));
      since = page.messages.at(-1)!.seq;
      if (!page.truncated) break;
    }
    expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(pages).toBeGreaterThanOrEqual(4);
  });

  test("a single message larger than the cap still goes out, one per page", async () => {
    const { service } = setup({ maxRecoveryBytes: 1024 });
    await joinStored(service, "ann", "huge");
    for (let i = 0; i < 3; i++) await service.appendMessage(principal("ann"), "huge", { content: "y".repeat(5000) });
    const first = service.join(principal("ann"), { session: "huge" }, { since: 0 });
    expect(first.messages.map((m) => m.seq)).toEqual([1]);
    expect(first.truncated).toBe(true);
    const history = service.join(principal("ann"), { session: "huge" }, { limit: 100 });
    expect(history.messages.map((m) => m.seq)).toEqual([3]);
  });
});

describe("storage refusals while a fault lasts", () => {
  test("a join that must write is refused at once with unavailable", async () => {
    const { sqlite, service } = setup();
    await joinStored(service, "ann", "locked");
    const { Database } = await import("bun:sqlite");
    const other = new Database((sqlite.query("PRAGMA database_list").get() as { file: string }).file);
    other.run("BEGIN IMMEDIATE");
    try {
      // The first refused write starts the fault; from then on, writes are tried at once and refused at once.
      await expect(service.appendMessage(principal("ann"), "locked", { content: "x" })).rejects.toMatchObject({ code: "unavailable" } satisfies Partial<SessiondError>);
      const t0 = performance.now();
      expect(() => service.joinStored(principal("ann"), { session: "opened-while-locked" }, {}, () => {})).toThrow(expect.objectContaining({ code: "unavailable" }));
      expect(() => service.joinStored(principal("bob", { sessions: ["locked"] }), { session: "locked" }, {}, () => {})).toThrow(expect.objectContaining({ code: "unavailable" }));
      expect(performance.now() - t0).toBeLessThan(100);
    } finally {
      other.run("ROLLBACK");
      other.close();
    }
  }, 10_000);
});
