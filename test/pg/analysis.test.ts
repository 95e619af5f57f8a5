// PgAnalysisStore beyond the shared contract, on a real PostgreSQL server: two nodes (each its own pool and stores)
// saving the same analyses at once count once and alert once; analyses saved while another node writes messages to
// the same sessions neither deadlock nor lose a message; history read on one node carries what another stored;
// sealed columns are envelopes at rest; an unreachable server is `unavailable`.
import { describe, expect, test } from "bun:test";
import { SQL } from "bun";
import type { NewAnalysis, SaveOutcome } from "../../src/analysis/store.ts";
import { PgAnalysisStore } from "../../src/pg/analysis-store.ts";
import { migratePostgres } from "../../src/pg/migrate.ts";
import { PgSessionStore } from "../../src/pg/session-store.ts";
import { envelopeHeader } from "../../src/privacy/crypto.ts";
import { KeyRingCipher } from "../../src/privacy/field-cipher.ts";
import { keyRing } from "../../src/privacy/keys.ts";
import { SessiondError } from "../../src/protocol/errors.ts";
import { startPostgres } from "../engines/postgres.ts";
import { analysis, item, openSession, post, postMany, T0, type StoredMessage } from "../contract/analysis-storage.ts";
import { freshDatabase, node, pool } from "./setup.ts";

/** One node: its own pools, a session store and an analysis store over the same database. */
function nodeOn(url: string, options: ConstructorParameters<typeof PgSessionStore>[1] = {}) {
  return { sessions: node(url, options), analyses: new PgAnalysisStore(pool(url), options.cipher) };
}

const count = async (sql: SQL, text: string, params: unknown[] = []): Promise<number> => Number((await sql.unsafe(text, params))[0].n);

/** Splits `list` into batches of `size`. */
const batches = <T>(list: readonly T[], size: number): T[][] => Array.from({ length: Math.ceil(list.length / size) }, (_, i) => list.slice(i * size, i * size + size));

describe("two nodes saving the same analyses at once", () => {
  test("each message is stored, counted and alerted exactly once, by exactly one node", async () => {
    const url = await freshDatabase();
    const a = nodeOn(url);
    const b = nodeOn(url);
    const sessionIds = ["s1", "s2", "s3"];
    for (const id of sessionIds) await openSession(a.sessions, id);
    const items: NewAnalysis[] = [];
    let expectedSum = 0;
    let expectedAlerts = 0;
    for (const id of sessionIds) {
      const msgs = await postMany(a.sessions, id, 30);
      msgs.forEach((m, i) => {
        const score = ((i % 5) - 2) / 4;
        const level = (["none", "low", "medium", "high"] as const)[i % 4]!;
        expectedSum += score;
        if (level === "medium" || level === "high") expectedAlerts++;
        items.push(item(id, m, analysis(score, level)));
      });
    }
    // Node A saves in batches of 7 in order, node B in batches of 5 in reverse: the batches overlap in every way.
    const reversed = [...items].reverse();
    const [outA, outB] = await Promise.all([
      (async () => (await Promise.all(batches(items, 7).map((batch) => a.analyses.save(batch)))).flat())(),
      (async () => (await Promise.all(batches(reversed, 5).map((batch) => b.analyses.save(batch)))).flat())(),
    ]);
    const byKey = new Map<string, SaveOutcome[]>();
    const note = (list: NewAnalysis[], outcomes: SaveOutcome[]) =>
      list.forEach((it, i) => byKey.set(`${it.session}/${it.seq}`, [...(byKey.get(`${it.session}/${it.seq}`) ?? []), outcomes[i]!]));
    note(items, outA);
    note(reversed, outB);
    let alertsReturned = 0;
    for (const [, outcomes] of byKey) {
      expect(outcomes.filter((o) => o.stored)).toHaveLength(1);
      alertsReturned += outcomes.filter((o) => o.alert !== null).length;
    }
    expect(alertsReturned).toBe(expectedAlerts);
    const sql = pool(url, 1);
    expect(await count(sql, "SELECT count(*) AS n FROM message_analyses")).toBe(90);
    expect(await count(sql, "SELECT count(*) AS n FROM alerts")).toBe(expectedAlerts);
    let analyzed = 0;
    let sum = 0;
    for (const id of sessionIds) {
      const s = (await b.sessions.getSession(id))!;
      analyzed += s.analyzedCount;
      sum += s.sentimentSum;
      expect(s.analyzedCount).toBe(30);
      expect(s.riskLevel).toBe("high");
    }
    expect(analyzed).toBe(90);
    expect(sum).toBeCloseTo(expectedSum, 9);
    expect(await b.analyses.unanalysed("s1", 0, 30, 100)).toEqual([]);
  });

  test("ten rounds of both nodes saving the same one-message batch: one row, one count, one alert each round", async () => {
    const url = await freshDatabase();
    const a = nodeOn(url);
    const b = nodeOn(url);
    await openSession(a.sessions, "s");
    for (let round = 1; round <= 10; round++) {
      const m = await post(a.sessions, "s", `m${round}`);
      const [ra, rb] = await Promise.all([a.analyses.save([item("s", m, analysis(-0.5, "high"))]), b.analyses.save([item("s", m, analysis(-0.5, "high"))])]);
      expect([ra[0]!.stored, rb[0]!.stored].filter(Boolean)).toHaveLength(1);
      expect([ra[0]!.alert, rb[0]!.alert].filter((x) => x !== null)).toHaveLength(1);
      const s = (await a.sessions.getSession("s"))!;
      expect([s.analyzedCount, s.sentimentSum]).toEqual([round, -0.5 * round]);
      expect(await b.analyses.countAlerts("s")).toBe(round);
    }
  });
});

describe("analyses beside message traffic", () => {
  test("node B saves analyses of several sessions while node A appends to them: no deadlock, nothing lost", async () => {
    const url = await freshDatabase();
    const a = nodeOn(url, { maxDelayMs: 1 });
    const b = nodeOn(url);
    const ids = ["x1", "x2", "x3", "x4"];
    for (const id of ids) await openSession(a.sessions, id);
    const first = new Map<string, StoredMessage[]>();
    for (const id of ids) first.set(id, await postMany(a.sessions, id, 20));
    // A keeps appending to every session (batches lock the sessions in id order) while B saves batches that span
    // all four sessions in a different order each time.
    let appended = 0;
    const appends = (async () => {
      for (let i = 0; i < 40; i++) {
        await Promise.all(ids.map((id) => post(a.sessions, id, `later-${i}`)));
        appended += ids.length;
      }
    })();
    const saves = (async () => {
      for (let i = 0; i < 20; i++) {
        const order = i % 2 === 0 ? ids : [...ids].reverse();
        await b.analyses.save(order.map((id) => item(id, first.get(id)![i]!, analysis(0.25, "low"))));
      }
    })();
    await Promise.all([appends, saves]);
    expect(appended).toBe(160);
    for (const id of ids) {
      const s = (await b.sessions.getSession(id))!;
      expect([s.lastSeq, s.messageCount, s.analyzedCount, s.sentimentSum]).toEqual([60, 60, 20, 5]);
      const history = await b.sessions.messagesAfter(id, 0, 100);
      expect(history.map((m) => m.seq)).toEqual(Array.from({ length: 60 }, (_, k) => k + 1));
      expect(history.filter((m) => m.analysis !== undefined)).toHaveLength(20);
    }
  });

  test("a save spanning sessions that a message batch is locking one by one waits for it instead of deadlocking", async () => {
    const url = await freshDatabase();
    const b = nodeOn(url);
    for (const id of ["x1", "x2"]) await openSession(b.sessions, id);
    const [m1] = await postMany(b.sessions, "x1", 1);
    const [m2] = await postMany(b.sessions, "x2", 1);
    // Another node's message batch, held open: it locks x1, and x2 only after the save has started.
    let saving: Promise<SaveOutcome[]> | undefined;
    await pool(url, 1).begin(async (tx) => {
      await tx.unsafe("SELECT 1 FROM sessions WHERE id = 'x1' FOR UPDATE");
      saving = b.analyses.save([item("x2", m2!, analysis(0.5, "none")), item("x1", m1!, analysis(-0.5, "high"))]);
      saving.catch(() => {});
      await Bun.sleep(300);
      await tx.unsafe("SELECT 1 FROM sessions WHERE id = 'x2' FOR UPDATE");
    });
    expect((await saving!).map((o) => o.stored)).toEqual([true, true]);
    expect((await b.sessions.getSession("x1"))!.analyzedCount).toBe(1);
  });

  test("history read on another node carries the analysis one node stored", async () => {
    const url = await freshDatabase();
    const a = nodeOn(url);
    const b = nodeOn(url);
    await openSession(a.sessions, "s");
    const msgs = await postMany(a.sessions, "s", 3);
    const stored = analysis(-0.75, "medium");
    await a.analyses.save([item("s", msgs[1]!, stored)]);
    expect((await b.sessions.lastMessages("s", 10)).map((m) => m.analysis ?? null)).toEqual([null, stored, null]);
    expect((await b.sessions.messagesAfter("s", 1, 10)).map((m) => m.analysis ?? null)).toEqual([stored, null]);
    const pages: Array<Array<unknown>> = [];
    for await (const page of b.sessions.iterateMessages("s", 2)) pages.push(page.map((m) => m.analysis ?? null));
    expect(pages).toEqual([[null, stored], [null]]);
  });
});

describe("sealing", () => {
  test("analyses, alert triggers and notes are envelopes at rest and open on read", async () => {
    const url = await freshDatabase();
    const cipher = new KeyRingCipher(keyRing(Buffer.alloc(32, 7)), "on");
    const { sessions, analyses } = nodeOn(url, { cipher });
    await openSession(sessions, "s");
    const m = await post(sessions, "s", "a private sentence");
    const a = analysis(-0.9, "high");
    const [outcome] = await analyses.save([item("s", m, a, "sealed-alert")]);
    await analyses.updateAlert({ ...outcome!.alert!, status: "acknowledged", acknowledgedBy: "mo", acknowledgedAt: new Date(T0 + 9000).toISOString(), note: "a private note" });
    const sql = pool(url, 1);
    const [ma] = await sql.unsafe("SELECT analysis FROM message_analyses");
    const [al] = await sql.unsafe("SELECT triggers, note FROM alerts");
    for (const v of [ma.analysis, al.triggers, al.note]) {
      expect(envelopeHeader(v)?.keyId).toBe(cipher.keyId);
      expect(v).not.toContain("private");
      expect(v).not.toContain("self_harm");
    }
    expect((await sessions.messagesAfter("s", 0, 10))[0]!.analysis).toEqual(a);
    expect(await analyses.getAlert("sealed-alert")).toMatchObject({ triggers: a.crisis.triggers, note: "a private note", status: "acknowledged" });
    // The catch-up opens the sealed content of messages still waiting.
    const waiting = await post(sessions, "s", "another private sentence");
    expect(await analyses.unanalysed("s", 0, 10, 10)).toEqual([{ session: "s", seq: waiting.seq, messageId: waiting.id, userId: "ann", content: "another private sentence" }]);
  });
});

describe("migrations", () => {
  test("the analysis, assistant, privacy, archive and webhook tables and sessiond_meta exist after migrating", async () => {
    const sql = pool(await freshDatabase(), 1);
    const rows = await sql.unsafe("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name");
    expect(rows.map((r: { table_name: string }) => r.table_name)).toEqual(["alerts", "archive_jobs", "assistant_streams", "audit_log", "erased_sessions", "message_analyses", "messages", "session_participants", "sessiond_meta", "sessions", "webhook_deliveries", "webhook_endpoints", "webhook_outbox"]);
  });
});

describe("an unreachable server", () => {
  test("save and reads fail as `internal` with a sentence while it is down, and work again once it is back", async () => {
    const pg = await startPostgres();
    try {
      const setup = new SQL({ url: pg.url, max: 1 });
      await migratePostgres(setup);
      await setup.close();
      const sql = new SQL({ url: pg.url, max: 2, connectionTimeout: 2 });
      const sessions = new PgSessionStore(sql);
      const analyses = new PgAnalysisStore(sql);
      await openSession(sessions, "s");
      const m = await post(sessions, "s", "hello");
      pg.kill();
      const failure = await analyses.save([item("s", m, analysis(-0.5, "high"))]).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(SessiondError);
      expect((failure as SessiondError).code).toBe("internal");
      const read = await analyses.listAlerts({ limit: 10 }).catch((e: unknown) => e);
      expect((read as SessiondError).code).toBe("internal");
      await pg.restart();
      // A stale pooled connection may fail one query after the restart (see the store's notes): retry once.
      const save = () => analyses.save([item("s", m, analysis(-0.5, "high"))]);
      const [outcome] = await save().catch(save);
      expect(outcome!.stored).toBe(true);
      expect(await analyses.countAlerts("s")).toBe(1);
      await sql.close();
    } finally {
      await pg.stop();
    }
  });
});
