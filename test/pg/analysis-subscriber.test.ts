// AnalysisSubscriber and AlertService on PgAnalysisStore, beside a SessionService on PgSessionStore, on a real
// PostgreSQL server: each user message is analysed, stored and announced once, and an alert raised once; results are
// saved one batch at a time, in commit order; after a restart the catch-up finds what was committed, or analysed but
// not stored, meanwhile; a save that fails while the server is down is stored once it is back; staff list, page,
// acknowledge and resolve the alerts.
import { describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { AlertService } from "../../src/analysis/alerts.ts";
import type { PipelineResult } from "../../src/analysis/pipeline.ts";
import type { NewAnalysis } from "../../src/analysis/store.ts";
import { AnalysisSubscriber, type AnalysisSubscriberOptions } from "../../src/analysis/subscriber.ts";
import type { Alert, AnalysisCore } from "../../src/analysis/types.ts";
import { PgAnalysisStore } from "../../src/pg/analysis-store.ts";
import { migratePostgres } from "../../src/pg/migrate.ts";
import { PgSessionStore } from "../../src/pg/session-store.ts";
import { SessiondError } from "../../src/protocol/errors.ts";
import { principal, SessionEvents, type SessionEventMap } from "../../src/sessions/index.ts";
import { eventually } from "../helpers.ts";
import { startPostgres } from "../engines/postgres.ts";
import { joinStored, serviceOn } from "../sessions/service-setup.ts";
import { freshDatabase, pool } from "./setup.ts";

/** The scripted analyzer's verdict: a message mentioning "hurt" is high risk, anything else none. */
const core = (text: string): AnalysisCore => {
  const high = text.includes("hurt");
  return {
    sentiment: { score: high ? -0.8 : 0.2, labels: [high ? "negative" : "positive"], confidence: 0.9 },
    topics: { topics: [], relevance: [], context: "" },
    crisis: { risk_level: high ? "high" : "none", triggers: high ? ["self_harm: hurt"] : [], recommended_action: "Check in." },
    analyzer: "test/1",
  };
};

type Analyze = (text: string) => Promise<PipelineResult>;
const scripted = (seen: string[]): Analyze => async (text) => {
  seen.push(text);
  return { core: core(text), seconds: 0 };
};

let alertIds = 0;

/**
 * One server process over `sql` (its own pools): sessions and analyses in PostgreSQL, the subscriber and the alert
 * service on them, analysis on by default. Records what it announces and what went wrong where.
 */
function nodeOn(sessionsSql: SQL, analysesSql: SQL, analyze: Analyze, options: Partial<AnalysisSubscriberOptions> = {}) {
  const sessions = new PgSessionStore(sessionsSql);
  const { service, events } = serviceOn(sessions, {
    defaults: { analysis: { enabled: true, share: "staff" }, assistant: { enabled: false, name: "assistant", trigger: "every" }, endOnDisconnect: { enabled: false, graceSeconds: 30 } },
  });
  const analyses = new PgAnalysisStore(analysesSql);
  const announced: Array<SessionEventMap["analysis.stored"]> = [];
  const raised: Alert[] = [];
  const updated: Alert[] = [];
  const errors: string[] = [];
  events.on("analysis.stored", (e) => announced.push(e));
  events.on("alert.raised", ({ alert }) => raised.push(alert));
  events.on("alert.updated", ({ alert }) => updated.push(alert));
  const subscriber = new AnalysisSubscriber(
    { events, service, store: analyses, analyze, newAlertId: () => `alert-${String(++alertIds).padStart(4, "0")}`, onError: (_e, where) => errors.push(where) },
    { queueMax: 100, alertMinRisk: "medium", defaultEnabled: true, catchUpIntervalMs: 50, ...options },
  );
  const alerts = new AlertService({ store: analyses, events });
  const send = async (session: string, content: string) => (await service.appendMessage(principal("ann"), session, { content })).message.seq;
  return { sessions, service, analyses, subscriber, alerts, announced, raised, updated, errors, send };
}

const count = async (sql: SQL, text: string, params: unknown[] = []): Promise<number> => Number((await sql.unsafe(text, params))[0].n);

describe("AnalysisSubscriber on PostgreSQL", () => {
  test("each user message is analysed, stored and announced once; a high-risk one raises one alert", async () => {
    const url = await freshDatabase();
    const seen: string[] = [];
    const n = nodeOn(pool(url), pool(url), scripted(seen));
    n.subscriber.start();
    await n.subscriber.idle();
    await joinStored(n.service, "ann", "s");
    await n.send("s", "hello");
    await n.send("s", "I hurt myself");
    await n.send("s", "still here");
    await eventually(() => n.announced.length === 3, 5000, "three analyses");
    await n.subscriber.idle();
    expect(seen).toEqual(["hello", "I hurt myself", "still here"]);
    expect(n.announced.map((a) => [a.sessionId, a.seq, a.analysis.crisis.risk_level, a.share])).toEqual([
      ["s", 1, "none", "staff"],
      ["s", 2, "high", "staff"],
      ["s", 3, "none", "staff"],
    ]);
    expect(n.raised.map((a) => [a.session, a.seq, a.risk_level, a.status])).toEqual([["s", 2, "high", "open"]]);
    const sql = pool(url, 1);
    expect(await count(sql, "SELECT count(*) AS n FROM message_analyses")).toBe(3);
    expect(await count(sql, "SELECT count(*) AS n FROM alerts")).toBe(1);
    const row = (await sql.unsafe("SELECT analyzed_count, risk_level FROM sessions WHERE id = 's'"))[0];
    expect([Number(row.analyzed_count), row.risk_level]).toEqual([3, "high"]);
    expect(await n.alerts.count("s")).toBe(1);
    expect(n.errors).toEqual([]);
    await n.subscriber.stop();
  });

  test("results are saved one batch at a time, in commit order, in fewer transactions than messages", async () => {
    const url = await freshDatabase();
    const n = nodeOn(pool(url), pool(url), scripted([]));
    const save = n.analyses.save.bind(n.analyses);
    let inFlight = 0;
    let most = 0;
    let transactions = 0;
    n.analyses.save = async (items: readonly NewAnalysis[]) => {
      inFlight++;
      transactions++;
      most = Math.max(most, inFlight);
      try {
        return await save(items);
      } finally {
        inFlight--;
      }
    };
    n.subscriber.start();
    await n.subscriber.idle();
    await joinStored(n.service, "ann", "s");
    await Promise.all(Array.from({ length: 60 }, (_, i) => n.send("s", i % 20 === 7 ? `hurt ${i}` : `m${i}`)));
    await eventually(() => n.announced.length === 60, 10_000, "sixty analyses");
    await n.subscriber.idle();
    expect(n.announced.map((a) => a.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(n.raised.map((a) => a.seq)).toEqual([8, 28, 48]);
    expect(most).toBe(1);
    expect(transactions).toBeLessThan(60);
    await n.subscriber.stop();
  });

  test("after a restart, the catch-up finds what was committed, or analysed but not stored, while none ran; each once", async () => {
    const url = await freshDatabase();
    const seenBefore: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // The first server analyses two messages, then hangs on the third until it is stopped (and gives up on it).
    const first = nodeOn(pool(url), pool(url), async (text) => {
      seenBefore.push(text);
      if (text === "I hurt myself") await gate;
      return { core: core(text), seconds: 0 };
    }, { stopWaitMs: 100 });
    first.subscriber.start();
    await first.subscriber.idle();
    await joinStored(first.service, "ann", "s");
    await first.send("s", "one");
    await first.send("s", "two");
    await eventually(() => first.announced.length === 2, 5000, "the first two analyses");
    await first.send("s", "I hurt myself");
    await eventually(() => seenBefore.length === 3, 5000, "the third message in analysis");
    await first.subscriber.stop();
    release();
    // Committed while no analysis runs.
    await first.send("s", "four");
    await first.send("s", "five");
    await Bun.sleep(50);
    expect(first.announced.map((a) => a.seq)).toEqual([1, 2]);
    expect(first.raised).toEqual([]);

    // The restarted server: new pools and stores over the same database.
    const seenAfter: string[] = [];
    const second = nodeOn(pool(url), pool(url), scripted(seenAfter));
    second.subscriber.start();
    await eventually(() => second.announced.length === 3, 5000, "the caught-up analyses");
    await second.subscriber.idle();
    expect(seenAfter).toEqual(["I hurt myself", "four", "five"]);
    expect(second.announced.map((a) => a.seq)).toEqual([3, 4, 5]);
    expect(second.raised.map((a) => a.seq)).toEqual([3]);
    const sql = pool(url, 1);
    expect(await count(sql, "SELECT count(*) AS n FROM message_analyses")).toBe(5);
    expect(await count(sql, "SELECT count(*) AS n FROM alerts")).toBe(1);
    expect(Number((await sql.unsafe("SELECT analyzed_count FROM sessions WHERE id = 's'"))[0].analyzed_count)).toBe(5);
    expect(await second.analyses.unanalysed("s", 0, 5, 10)).toEqual([]);
    await second.subscriber.stop();
  });

  test("a batch whose save fails while the server is down is stored, and alerts, once the server is back", async () => {
    const pg = await startPostgres();
    const pools: SQL[] = [];
    const own = () => {
      const sql = new SQL({ url: pg.url, max: 2, connectionTimeout: 2 });
      pools.push(sql);
      return sql;
    };
    try {
      const setup = new SQL({ url: pg.url, max: 1 });
      await migratePostgres(setup);
      await setup.close();
      const seen: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const n = nodeOn(own(), own(), async (text) => {
        seen.push(text);
        if (seen.length === 1) await gate;
        return { core: core(text), seconds: 0 };
      });
      n.subscriber.start();
      await n.subscriber.idle();
      await joinStored(n.service, "ann", "s");
      await n.send("s", "I hurt myself");
      await eventually(() => seen.length === 1, 5000, "the message in analysis");
      pg.kill();
      release();
      await eventually(() => n.errors.includes("analysis.store"), 5000, "the failed save");
      expect(n.announced).toEqual([]);
      await pg.restart();
      // The periodic catch-up finds the message again once the server answers (a stale pooled connection may fail
      // a round first), analyses it once more and stores it once.
      await eventually(() => n.announced.length === 1, 10_000, "the analysis after the restart");
      await n.subscriber.idle();
      expect(n.announced.map((a) => [a.seq, a.analysis.crisis.risk_level])).toEqual([[1, "high"]]);
      expect(n.raised.map((a) => a.seq)).toEqual([1]);
      expect(seen).toEqual(["I hurt myself", "I hurt myself"]);
      expect(await n.alerts.count("s")).toBe(1);
      expect(n.subscriber.healthy()).toBe(true);
      await n.subscriber.stop();
    } finally {
      for (const sql of pools) await sql.close().catch(() => {});
      await pg.stop();
    }
  });
});

describe("AlertService on PostgreSQL", () => {
  test("lists newest first with filters and pages; acknowledge and resolve change an alert once and announce it once", async () => {
    const url = await freshDatabase();
    const n = nodeOn(pool(url), pool(url), scripted([]));
    n.subscriber.start();
    await n.subscriber.idle();
    await joinStored(n.service, "ann", "a");
    await joinStored(n.service, "ann", "b");
    // One at a time, so each alert is newer than the one before.
    for (const [session, text] of [["a", "hurt 1"], ["b", "hurt 2"], ["a", "fine"], ["a", "hurt 3"], ["b", "hurt 4"]] as const) {
      const before = n.announced.length;
      await n.send(session, text);
      await eventually(() => n.announced.length === before + 1, 5000, "the analysis");
      await Bun.sleep(2);
    }
    await n.subscriber.idle();
    expect(n.raised).toHaveLength(4);
    const raised = n.raised.map((a) => a.id) as [string, string, string, string];

    const all = await n.alerts.list({ limit: 10 });
    expect(all.alerts.map((a) => a.id)).toEqual([...raised].reverse());
    expect(all.nextAfter).toBeNull();
    expect(all.alerts[0]).toMatchObject({ session: "b", seq: 2, userId: "ann", risk_level: "high", status: "open", triggers: ["self_harm: hurt"] });
    expect((await n.alerts.list({ session: "a", limit: 10 })).alerts.map((a) => a.id)).toEqual([raised[2], raised[0]]);
    const page1 = await n.alerts.list({ limit: 3 });
    expect(page1.alerts.map((a) => a.id)).toEqual([raised[3], raised[2], raised[1]]);
    const page2 = await n.alerts.list({ limit: 3, after: page1.nextAfter! });
    expect(page2).toEqual({ alerts: [expect.objectContaining({ id: raised[0] })], nextAfter: null });
    expect(await Promise.resolve(n.alerts.list({ limit: 3, after: "no-such-alert" })).catch((e: unknown) => (e as SessiondError).code)).toBe("bad_request");
    expect(await Promise.resolve(n.alerts.get("no-such-alert")).catch((e: unknown) => (e as SessiondError).code)).toBe("not_found");

    const acked = await n.alerts.act(raised[0], "acknowledge", "mod", "called them");
    expect(acked).toMatchObject({ id: raised[0], status: "acknowledged", acknowledgedBy: "mod", note: "called them" });
    // Repeating it changes nothing and announces nothing.
    expect(await n.alerts.act(raised[0], "acknowledge", "other")).toEqual(acked);
    const resolved = await n.alerts.act(raised[0], "resolve", "mod");
    expect(resolved).toMatchObject({ status: "resolved", acknowledgedBy: "mod", resolvedBy: "mod", note: "called them" });
    expect(n.updated.map((a) => [a.id, a.status])).toEqual([[raised[0], "acknowledged"], [raised[0], "resolved"]]);

    // What another node reads back from the database.
    const other = new AlertService({ store: new PgAnalysisStore(pool(url)), events: new SessionEvents() });
    expect(await other.get(raised[0])).toEqual(resolved);
    expect((await other.list({ status: "open", limit: 10 })).alerts.map((a) => a.id)).toEqual([raised[3], raised[2], raised[1]]);
    expect((await other.list({ status: "resolved", limit: 10 })).alerts.map((a) => a.id)).toEqual([raised[0]]);
    expect([await other.count("a"), await other.count("b")]).toEqual([2, 2]);
    await n.subscriber.stop();
  });
});
