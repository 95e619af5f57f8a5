// PgSessionStore's guarantees on a real PostgreSQL server, with several stores standing for several nodes:
// group commit, gapless seq across nodes, idempotency across nodes, one end per session, outages, sealing.
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import type { SessiondError } from "../../src/protocol/errors.ts";
import { newSessionRecord, type AppendInput, type AppendResult } from "../../src/sessions/store.ts";
import { KeyRingCipher } from "../../src/privacy/field-cipher.ts";
import { keyRing } from "../../src/privacy/keys.ts";
import { embeddedPgMigrations, migratePostgres } from "../../src/pg/migrate.ts";
import { PgSessionStore } from "../../src/pg/session-store.ts";
import { startPostgres } from "../engines/postgres.ts";
import { freshDatabase, node, pool, server } from "./setup.ts";

const T0 = 1_700_000_000_000;
let n = 0;
const input = (sessionId: string, init: Partial<AppendInput> = {}): AppendInput => ({
  id: `m-${++n}`,
  sessionId,
  userId: "ann",
  role: "user",
  kind: "text",
  content: `hello ${n}`,
  createdAt: T0 + n,
  ...init,
});
type Answer = { error: SessiondError | null; result: AppendResult | null };
const append = (store: PgSessionStore, a: AppendInput): Promise<Answer> =>
  new Promise((resolve) => store.append(a, (error, result) => resolve({ error, result })));
const open = async (store: PgSessionStore, id: string) => store.insertSession(newSessionRecord({ id, ownerId: "owner", at: T0 }));
const seqsOf = async (url: string, sessionId: string): Promise<number[]> =>
  (await pool(url, 1).unsafe("SELECT seq FROM messages WHERE session_id = $1 ORDER BY seq", [sessionId])).map((r: { seq: string }) => Number(r.seq));

describe("migrations", () => {
  test("three concurrent migrations on a fresh database apply each migration exactly once and all succeed", async () => {
    const pg = await server();
    const admin = pool(pg.url, 1);
    await admin.unsafe("CREATE DATABASE concurrent_migrate");
    const url = pg.url.replace(/\/[^/]+$/, "/concurrent_migrate");
    const applied = await Promise.all([1, 2, 3].map(() => migratePostgres(pool(url, 1))));
    const total = embeddedPgMigrations().length;
    expect(applied.reduce((a, b) => a + b, 0)).toBe(total);
    expect(applied.filter((x) => x === total)).toHaveLength(1);
    const rows = await pool(url, 1).unsafe("SELECT hash FROM drizzle.__drizzle_migrations");
    expect(rows).toHaveLength(total);
    expect(await migratePostgres(pool(url, 1))).toBe(0);
  });

  test("the embedded migrations match the journal", () => {
    const migrations = embeddedPgMigrations();
    expect(migrations.length).toBeGreaterThan(0);
    for (const m of migrations) expect(m.statements.length).toBeGreaterThan(0);
  });
});

describe("group commit", () => {
  test("appends queued within one turn are written in one transaction, callbacks in enqueue order after it", async () => {
    const url = await freshDatabase();
    const commits: number[] = [];
    const store = node(url, { onCommit: (messages) => commits.push(messages) });
    await open(store, "s1");
    const order: number[] = [];
    const answers = Array.from({ length: 300 }, (_, i) => new Promise<void>((resolve) => store.append(input("s1"), () => (order.push(i), resolve()))));
    await Promise.all(answers);
    expect(commits).toEqual([300]);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(await seqsOf(url, "s1")).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  });

  test("a queued session, its participant and its first message commit in one transaction", async () => {
    const url = await freshDatabase();
    const store = node(url);
    const done: string[] = [];
    store.queueSession(newSessionRecord({ id: "q1", ownerId: "ann", at: T0, room: "lobby" }), (e) => done.push(`session:${e?.code ?? "ok"}`));
    store.queueParticipant("q1", "ann", T0, (e, added) => done.push(`participant:${e?.code ?? added}`));
    const a = await append(store, input("q1"));
    expect(a.result?.message.seq).toBe(1);
    expect(done).toEqual(["session:ok", "participant:true"]);
    const s = await node(url).getSession("q1");
    expect(s?.lastSeq).toBe(1);
    expect(s?.participantCount).toBe(1);
  });

  test("a batch that rolls back fails every callback in it with internal and leaves no gap", async () => {
    const url = await freshDatabase();
    const store = node(url);
    await open(store, "s1");
    expect((await append(store, input("s1"))).result?.message.seq).toBe(1);
    // A trigger that refuses one content: its statement fails and takes its whole batch with it.
    const admin = pool(url, 1);
    await admin.unsafe(`CREATE FUNCTION refuse_boom() RETURNS trigger AS $$ BEGIN IF NEW.content = 'boom' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`);
    await admin.unsafe("CREATE TRIGGER refuse_boom BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse_boom()");
    const batch = await Promise.all([append(store, input("s1")), append(store, input("s1", { content: "boom" })), append(store, input("s1"))]);
    for (const b of batch) {
      expect(b.result).toBeNull();
      expect(b.error?.code).toBe("internal");
      expect(b.error?.message).toMatch(/not saved/);
    }
    expect((await append(store, input("s1"))).result?.message.seq).toBe(2);
    expect(await seqsOf(url, "s1")).toEqual([1, 2]);
    await admin.close();
  });

  test("a message with U+0000 (which PostgreSQL text cannot hold) is refused alone; the rest of its batch commits", async () => {
    const url = await freshDatabase();
    const store = node(url);
    await open(store, "s1");
    const batch = await Promise.all([
      append(store, input("s1")),
      append(store, input("s1", { content: "bad\u0000byte" })),
      append(store, input("s1", { metadata: { note: "also\u0000bad" } })),
      append(store, input("s1")),
    ]);
    expect(batch.map((b) => b.result?.message.seq ?? b.error?.code)).toEqual([1, "bad_request", "bad_request", 2]);
    expect(batch[1]!.error!.message).toContain("U+0000");
    expect(await seqsOf(url, "s1")).toEqual([1, 2]);
  });
});

describe("several nodes on one database", () => {
  test("two nodes appending 2 × 500 messages to one session concurrently give seqs 1..1000, no gap, no duplicate", async () => {
    const url = await freshDatabase();
    const a = node(url);
    const b = node(url);
    await open(a, "shared");
    // Each node keeps 50 appends in flight at a time, so their transactions interleave on the session's row lock.
    const writer = async (store: PgSessionStore, user: string) => {
      const seqs: number[] = [];
      for (let round = 0; round < 10; round++) {
        const answers = await Promise.all(Array.from({ length: 50 }, () => append(store, input("shared", { userId: user }))));
        for (const x of answers) {
          expect(x.error).toBeNull();
          seqs.push(x.result!.message.seq);
        }
      }
      return seqs;
    };
    const [fromA, fromB] = await Promise.all([writer(a, "ann"), writer(b, "bob")]);
    const all = [...fromA, ...fromB].sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(await seqsOf(url, "shared")).toEqual(all);
    expect((await a.getSession("shared"))?.lastSeq).toBe(1000);
    expect((await b.getSession("shared"))?.messageCount).toBe(1000);
  });

  test("the same (session, user, clientMsgId) sent to two nodes at once gives one row and the same message to both", async () => {
    const url = await freshDatabase();
    const a = node(url);
    const b = node(url);
    await open(a, "s1");
    for (let i = 0; i < 20; i++) {
      const [x, y] = await Promise.all([
        append(a, input("s1", { clientMsgId: `c${i}`, id: `a${i}`, content: `once ${i}` })),
        append(b, input("s1", { clientMsgId: `c${i}`, id: `b${i}`, content: `once ${i}` })),
      ]);
      expect(x.error).toBeNull();
      expect(y.error).toBeNull();
      expect(x.result!.message).toEqual(y.result!.message);
      expect([x.result!.duplicate, y.result!.duplicate].sort()).toEqual([false, true]);
    }
    expect(await seqsOf(url, "s1")).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  test("endSession is true for exactly one of several nodes, and appends then fail with session_ended on every node", async () => {
    const url = await freshDatabase();
    const stores = [node(url), node(url), node(url)];
    for (let i = 0; i < 10; i++) {
      await open(stores[0]!, `e${i}`);
      const results = await Promise.all(stores.map((s, k) => s.endSession(`e${i}`, k === 0 ? "completed" : "expired", T0 + 5000)));
      expect(results.filter(Boolean)).toHaveLength(1);
      for (const s of stores) expect((await append(s, input(`e${i}`))).error?.code).toBe("session_ended");
    }
    expect((await append(stores[1]!, input("nope"))).error?.code).toBe("not_found");
  });

  test("a room's one active session: two nodes queueing a session for the same room, one gets conflict", async () => {
    const url = await freshDatabase();
    const [a, b] = [node(url), node(url)];
    const queue = (s: PgSessionStore, id: string) =>
      new Promise<string>((resolve) => s.queueSession(newSessionRecord({ id, ownerId: "o", at: T0, room: "standup" }), (e) => resolve(e?.code ?? "ok")));
    const results = await Promise.all([queue(a, "r1"), queue(b, "r2")]);
    expect(results.sort()).toEqual(["conflict", "ok"]);
  });
});

describe("PostgreSQL unreachable", () => {
  test("appends fail with internal and a sentence, nothing is stored, probe is false; all works again when it is back", async () => {
    // Its own server: this test stops it.
    const pg = await startPostgres();
    try {
      await migratePostgres(pool(pg.url, 1));
      const store = new PgSessionStore(pool(pg.url), { retryDeadlineMs: 300 });
      await open(store, "s1");
      expect((await append(store, input("s1"))).result?.message.seq).toBe(1);
      expect(await store.probe()).toBe(true);
      pg.kill();
      await Bun.sleep(200);
      const down = await Promise.all([append(store, input("s1")), append(store, input("s1", { clientMsgId: "retry-me" }))]);
      for (const d of down) {
        expect(d.result).toBeNull();
        expect(d.error!.code).toBe("internal");
        expect(d.error!.message.length).toBeGreaterThan(20);
      }
      expect(await store.probe()).toBe(false);
      await expect(store.getSession("s1")).rejects.toMatchObject({ code: "internal", message: expect.stringContaining("cannot be reached") });
      await pg.restart();
      // Stale pooled connections fail once each; a batch refused before its COMMIT is retried, so this one lands.
      const back = await append(store, input("s1", { clientMsgId: "retry-me" }));
      expect(back.error).toBeNull();
      expect(back.result!.message.seq).toBe(2);
      expect(back.result!.duplicate).toBe(false);
      expect(await store.probe()).toBe(true);
      const rows = await pool(pg.url, 1).unsafe("SELECT seq FROM messages ORDER BY seq");
      expect(rows.map((r: { seq: string }) => Number(r.seq))).toEqual([1, 2]);
      await store.close();
    } finally {
      await pg.stop();
    }
  }, 60_000);

  test("a server restart while appends flow: every acked message is stored once, seqs stay gapless", async () => {
    const pg = await startPostgres();
    try {
      await migratePostgres(pool(pg.url, 1));
      const store = new PgSessionStore(pool(pg.url), { retryDeadlineMs: 3000 });
      await open(store, "s1");
      const acked: number[] = [];
      let failed = 0;
      let stop = false;
      const writer = async () => {
        while (!stop) {
          const x = await append(store, input("s1"));
          if (x.error) {
            failed++;
            await Bun.sleep(20);
          } else acked.push(x.result!.message.seq);
        }
      };
      const writers = Array.from({ length: 8 }, writer);
      await Bun.sleep(300);
      await pg.restart();
      await Bun.sleep(500);
      stop = true;
      await Promise.all(writers);
      const stored = (await pool(pg.url, 1).unsafe("SELECT seq FROM messages ORDER BY seq")).map((r: { seq: string }) => Number(r.seq));
      expect(stored).toEqual(Array.from({ length: stored.length }, (_, i) => i + 1));
      for (const s of acked) expect(stored).toContain(s);
      expect(new Set(acked).size).toBe(acked.length);
      console.log(`restart under load: ${acked.length} acked, ${failed} refused, ${stored.length} stored`);
      await store.close();
    } finally {
      await pg.stop();
    }
  }, 60_000);
});

describe("encryption at rest", () => {
  test("a sealed message and session config round-trip, and the stored columns are not plaintext", async () => {
    const url = await freshDatabase();
    const cipher = new KeyRingCipher(keyRing(randomBytes(32)), "on");
    const store = node(url, { cipher });
    await store.insertSession(newSessionRecord({ id: "sealed", ownerId: "o", at: T0, config: { persona: "secret persona" } }));
    const x = await append(store, input("sealed", { content: "a private thought", metadata: { mood: "quiet" } }));
    expect(x.error).toBeNull();
    const [back] = await store.messagesAfter("sealed", 0, 10);
    expect(back!.content).toBe("a private thought");
    expect(back!.metadata).toEqual({ mood: "quiet" });
    expect((await store.getSession("sealed"))!.config).toEqual({ persona: "secret persona" });
    const raw = await pool(url, 1).unsafe("SELECT m.content, m.metadata, s.config FROM messages m JOIN sessions s ON s.id = m.session_id");
    expect(raw[0].content).not.toContain("private");
    expect(raw[0].metadata).not.toContain("quiet");
    expect(raw[0].config).not.toContain("secret");
    // Another node without the key cannot read it.
    await expect(node(url).messagesAfter("sealed", 0, 10)).rejects.toThrow();
  });
});
