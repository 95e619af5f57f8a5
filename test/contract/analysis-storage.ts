// The contract every AnalysisStorage implementation must pass (SQLite, PostgreSQL), written against the asynchronous
// form: every answer is awaited, so the synchronous SQLite store passes the same cases. The session store beside it
// (same database) writes the sessions and messages the analyses are about, and shows the aggregates and history.
// Run it from an implementation's own test file: describeAnalysisStorage("sqlite", async () => ({ analyses, sessions, close })).
import { describe, expect, test } from "bun:test";
import { alertFor } from "../../src/analysis/alerts.ts";
import type { AnalysisStorage, NewAnalysis } from "../../src/analysis/store.ts";
import type { Alert, Analysis, RiskLevel } from "../../src/analysis/types.ts";
import type { Message } from "../../src/protocol/types.ts";
import { newSessionRecord, type Awaitable, type SessionRecord, type SessionStorage } from "../../src/sessions/store.ts";

/** One fresh, empty database per test, seen through both stores; `close` releases them. */
export interface AnalysisUnderTest {
  analyses: AnalysisStorage;
  sessions: SessionStorage;
  close(): Awaitable<void>;
}

/** Epoch ms every case counts from (a fixed time, so rows compare equal across engines). */
export const T0 = 1_700_000_000_000;
const DAY = 86_400_000;

let nextId = 0;
const uid = (prefix: string) => `${prefix}-${++nextId}`;

export interface StoredMessage {
  seq: number;
  id: string;
}

export async function openSession(sessions: SessionStorage, id: string, init: Partial<SessionRecord> = {}): Promise<void> {
  await sessions.insertSession(newSessionRecord({ id, ownerId: "owner", at: T0, ...init }));
}

/** Appends one message and resolves when it is committed. */
export function post(sessions: SessionStorage, sessionId: string, content: string, role: "user" | "assistant" = "user"): Promise<StoredMessage> {
  return new Promise((resolve, reject) => {
    sessions.append({ id: uid("m"), sessionId, userId: role === "user" ? "ann" : "bot", role, kind: "text", content, createdAt: T0 + 1000 }, (e, r) =>
      e ? reject(e) : resolve({ seq: r!.message.seq, id: r!.message.id }),
    );
    void sessions.flush();
  });
}

export async function postMany(sessions: SessionStorage, sessionId: string, n: number): Promise<StoredMessage[]> {
  const out: StoredMessage[] = [];
  for (let i = 0; i < n; i++) out.push(await post(sessions, sessionId, `m${i}`));
  return out;
}

export function analysis(score: number, level: RiskLevel, at = T0 + 5000): Analysis {
  return {
    sentiment: { score, labels: [score < 0 ? "negative" : "positive"], confidence: 0.8 },
    topics: { topics: ["work"], relevance: [0.7], context: "work" },
    crisis: { risk_level: level, triggers: level === "none" ? [] : [`self_harm: test ${level}`], recommended_action: "Check in." },
    analyzer: "builtin/1",
    at: new Date(at).toISOString(),
  };
}

/** What the analysis subscriber saves for a message: the analysis, and its alert at medium and above. */
export function item(sessionId: string, m: StoredMessage, a: Analysis, alertId: string = uid("alert")): NewAnalysis {
  return { session: sessionId, seq: m.seq, messageId: m.id, analysis: a, alert: alertFor({ session: sessionId, seq: m.seq, messageId: m.id, userId: "ann" }, a, "medium", alertId) };
}

async function aggregates(sessions: SessionStorage, id: string): Promise<[number, number, RiskLevel | null]> {
  const s = (await sessions.getSession(id))!;
  return [s.analyzedCount, s.sentimentSum, s.riskLevel];
}

const analysesOf = (messages: readonly Message[]) => messages.map((m) => m.analysis ?? null);

async function allPages(sessions: SessionStorage, id: string, pageSize: number): Promise<Message[]> {
  const out: Message[] = [];
  for await (const page of sessions.iterateMessages(id, pageSize)) out.push(...page);
  return out;
}

export function describeAnalysisStorage(name: string, make: () => Awaitable<AnalysisUnderTest>): void {
  /** Runs `body` on a fresh pair of stores and always closes them. */
  const withStores = (body: (t: AnalysisUnderTest) => Promise<void>) => async () => {
    const t = await make();
    try {
      await body(t);
    } finally {
      await t.close();
    }
  };

  describe(`AnalysisStorage contract: ${name}`, () => {
    describe("save", () => {
      test(
        "stores the analysis, the aggregates and the alert; a message saved again is skipped entirely",
        withStores(async ({ analyses, sessions }) => {
          await openSession(sessions, "s");
          const m = await post(sessions, "s", "first");
          const first = item("s", m, analysis(-0.5, "high"), "alert-1");
          expect(await analyses.save([first])).toEqual([{ stored: true, alert: first.alert }]);
          // After a crash between commit and storing, the message is analysed again (another score, another alert id).
          expect(await analyses.save([item("s", m, analysis(-0.9, "high"), "alert-2")])).toEqual([{ stored: false, alert: null }]);
          expect(await aggregates(sessions, "s")).toEqual([1, -0.5, "high"]);
          expect(await analyses.countAlerts("s")).toBe(1);
          expect(await analyses.getAlert("alert-1")).toEqual(first.alert);
          expect(await analyses.getAlert("alert-2")).toBeNull();
          expect(analysesOf(await sessions.messagesAfter("s", 0, 10))).toEqual([first.analysis]);
        }),
      );

      test(
        "an empty batch stores nothing and answers nothing",
        withStores(async ({ analyses }) => {
          expect(await analyses.save([])).toEqual([]);
        }),
      );

      test(
        "aggregates keep the mean's parts and the highest risk, never lowering it, across batches",
        withStores(async ({ analyses, sessions }) => {
          await openSession(sessions, "s");
          const msgs = await postMany(sessions, "s", 6);
          const levels: RiskLevel[] = ["low", "medium", "none", "low"];
          const outcomes = await analyses.save(msgs.slice(0, 4).map((m, i) => item("s", m, analysis(i % 2 === 0 ? 0.5 : -0.25, levels[i]!))));
          expect(outcomes.map((o) => [o.stored, o.alert?.risk_level ?? null])).toEqual([[true, null], [true, "medium"], [true, null], [true, null]]);
          expect(await aggregates(sessions, "s")).toEqual([4, 0.5, "medium"]);
          await analyses.save([item("s", msgs[4]!, analysis(0.25, "low"))]);
          expect(await aggregates(sessions, "s")).toEqual([5, 0.75, "medium"]);
          await analyses.save([item("s", msgs[5]!, analysis(-1, "high"))]);
          expect(await aggregates(sessions, "s")).toEqual([6, -0.25, "high"]);
        }),
      );

      test(
        "one batch over several sessions updates each session's aggregates with its own rows",
        withStores(async ({ analyses, sessions }) => {
          for (const id of ["a", "b", "c"]) await openSession(sessions, id);
          const a = await postMany(sessions, "a", 2);
          const b = await postMany(sessions, "b", 1);
          await postMany(sessions, "c", 1);
          await analyses.save([item("b", b[0]!, analysis(0.5, "none")), item("a", a[0]!, analysis(-0.5, "high")), item("a", a[1]!, analysis(0.25, "low"))]);
          expect(await aggregates(sessions, "a")).toEqual([2, -0.25, "high"]);
          expect(await aggregates(sessions, "b")).toEqual([1, 0.5, "none"]);
          expect(await aggregates(sessions, "c")).toEqual([0, 0, null]);
          expect([await analyses.countAlerts("a"), await analyses.countAlerts("b")]).toEqual([1, 0]);
        }),
      );

      test(
        "a message listed twice in one batch is stored, counted and alerted once (its first item)",
        withStores(async ({ analyses, sessions }) => {
          await openSession(sessions, "s");
          const [m] = await postMany(sessions, "s", 1);
          const first = item("s", m!, analysis(-0.5, "high"));
          const outcomes = await analyses.save([first, item("s", m!, analysis(-0.75, "medium"))]);
          expect(outcomes).toEqual([{ stored: true, alert: first.alert }, { stored: false, alert: null }]);
          expect(await aggregates(sessions, "s")).toEqual([1, -0.5, "high"]);
          expect(await analyses.countAlerts("s")).toBe(1);
        }),
      );

      test(
        "an analysis of a message or session that is not stored is skipped; the rest of the batch is stored",
        withStores(async ({ analyses, sessions }) => {
          await openSession(sessions, "s");
          const [m] = await postMany(sessions, "s", 1);
          const outcomes = await analyses.save([
            item("s", { seq: 99, id: "ghost" }, analysis(-1, "high")),
            item("gone", { seq: 1, id: "ghost-2" }, analysis(-1, "high")),
            item("s", m!, analysis(0.5, "none")),
          ]);
          expect(outcomes.map((o) => o.stored)).toEqual([false, false, true]);
          expect(await aggregates(sessions, "s")).toEqual([1, 0.5, "none"]);
          expect(await analyses.countAlerts("s")).toBe(0);
          expect(await analyses.countAlerts("gone")).toBe(0);
        }),
      );

      test(
        "an analysis below the alert threshold is stored without an alert",
        withStores(async ({ analyses, sessions }) => {
          await openSession(sessions, "s");
          const [m] = await postMany(sessions, "s", 1);
          expect(await analyses.save([item("s", m!, analysis(-0.2, "low"))])).toEqual([{ stored: true, alert: null }]);
          expect(await analyses.listAlerts({ limit: 10 })).toEqual([]);
        }),
      );
    });

    describe("history reads", () => {
      test(
        "lastMessages, messagesAfter and iterateMessages carry each message's stored analysis",
        withStores(async ({ analyses, sessions }) => {
          await openSession(sessions, "s");
          const msgs = await postMany(sessions, "s", 3);
          const a1 = analysis(0.4, "none");
          const a3 = analysis(-0.6, "medium");
          await analyses.save([item("s", msgs[0]!, a1), item("s", msgs[2]!, a3)]);
          expect(analysesOf(await sessions.messagesAfter("s", 0, 10))).toEqual([a1, null, a3]);
          expect(analysesOf(await sessions.messagesAfter("s", 1, 10))).toEqual([null, a3]);
          expect(analysesOf(await sessions.lastMessages("s", 10))).toEqual([a1, null, a3]);
          expect(analysesOf(await sessions.lastMessages("s", 2))).toEqual([null, a3]);
          expect(analysesOf(await allPages(sessions, "s", 2))).toEqual([a1, null, a3]);
          // The analysis rides along; the message itself is unchanged.
          const [withA] = await sessions.messagesAfter("s", 0, 1);
          expect([withA!.seq, withA!.content, withA!.userId]).toEqual([1, "m0", "ann"]);
        }),
      );
    });

    describe("the catch-up scan", () => {
      test(
        "unanalysed: user messages without an analysis, by seq, within (afterSeq, throughSeq], at most limit",
        withStores(async ({ analyses, sessions }) => {
          await openSession(sessions, "s");
          const m: StoredMessage[] = [];
          for (let i = 0; i < 6; i++) m.push(await post(sessions, "s", `m${i}`, i === 3 ? "assistant" : "user"));
          await analyses.save([item("s", m[1]!, analysis(0, "none"))]);
          expect((await analyses.unanalysed("s", 0, 6, 100)).map((w) => w.seq)).toEqual([1, 3, 5, 6]);
          expect((await analyses.unanalysed("s", 0, 6, 2)).map((w) => w.seq)).toEqual([1, 3]);
          expect((await analyses.unanalysed("s", 3, 5, 100)).map((w) => [w.seq, w.content, w.userId])).toEqual([[5, "m4", "ann"]]);
          expect(await analyses.unanalysed("s", 0, 6, 1)).toEqual([{ session: "s", seq: 1, messageId: m[0]!.id, userId: "ann", content: "m0" }]);
          expect(await analyses.unanalysed("unknown", 0, 6, 10)).toEqual([]);
        }),
      );

      test(
        "catchUpSessions: active ones and ones ended within the horizon whose analysis is on, by id, paged",
        withStores(async ({ analyses, sessions }) => {
          await openSession(sessions, "active");
          await openSession(sessions, "off", { analysis: { enabled: false, share: "staff" } });
          await openSession(sessions, "on", { analysis: { enabled: true, share: "staff" } });
          await openSession(sessions, "recent");
          await openSession(sessions, "old");
          await postMany(sessions, "recent", 2);
          await sessions.endSession("recent", "completed", T0 + 2 * DAY);
          await sessions.endSession("old", "completed", T0);
          const since = T0 + DAY;
          expect((await analyses.catchUpSessions(since, true, "", 100)).map((s) => s.id)).toEqual(["active", "on", "recent"]);
          // Rows without a setting follow the server's default.
          expect((await analyses.catchUpSessions(since, false, "", 100)).map((s) => s.id)).toEqual(["on"]);
          expect((await analyses.catchUpSessions(since, true, "active", 100)).map((s) => s.id)).toEqual(["on", "recent"]);
          expect((await analyses.catchUpSessions(since, true, "", 1)).map((s) => s.id)).toEqual(["active"]);
          expect(await analyses.catchUpSessions(since, true, "on", 100)).toEqual([{ id: "recent", lastSeq: 2 }]);
          expect(await analyses.catchUpSession("old", since)).toBeNull();
          expect(await analyses.catchUpSession("unknown", since)).toBeNull();
          expect(await analyses.catchUpSession("recent", since)).toEqual({ id: "recent", lastSeq: 2 });
          expect(await analyses.catchUpSession("active", since)).toEqual({ id: "active", lastSeq: 0 });
        }),
      );
    });

    describe("alerts", () => {
      /** Five alerts one second apart, alternating between sessions a and b: alert-0 (a) ... alert-4 (a). */
      async function fiveAlerts({ analyses, sessions }: AnalysisUnderTest): Promise<void> {
        for (const id of ["a", "b"]) await openSession(sessions, id);
        for (let i = 0; i < 5; i++) {
          const sid = i % 2 === 0 ? "a" : "b";
          const m = await post(sessions, sid, `m${i}`);
          await analyses.save([item(sid, m, analysis(-0.5, "high", T0 + i * 1000), `alert-${i}`)]);
        }
      }

      test(
        "list newest first, filter by status and session, page with a cursor",
        withStores(async (t) => {
          await fiveAlerts(t);
          const { analyses } = t;
          const ids = (alerts: Alert[]) => alerts.map((a) => a.id);
          expect(ids(await analyses.listAlerts({ limit: 10 }))).toEqual(["alert-4", "alert-3", "alert-2", "alert-1", "alert-0"]);
          expect(ids(await analyses.listAlerts({ limit: 2 }))).toEqual(["alert-4", "alert-3"]);
          expect(ids(await analyses.listAlerts({ session: "a", limit: 10 }))).toEqual(["alert-4", "alert-2", "alert-0"]);
          const third = (await analyses.getAlert("alert-2"))!;
          const cursor = { createdAt: Date.parse(third.createdAt), id: third.id };
          expect(ids(await analyses.listAlerts({ limit: 2, after: cursor }))).toEqual(["alert-1", "alert-0"]);
          expect(ids(await analyses.listAlerts({ session: "a", limit: 10, after: cursor }))).toEqual(["alert-0"]);
          expect(ids(await analyses.listAlerts({ status: "open", session: "b", limit: 10 }))).toEqual(["alert-3", "alert-1"]);
          expect(await analyses.listAlerts({ status: "resolved", limit: 10 })).toEqual([]);
        }),
      );

      test(
        "alerts created in the same millisecond page by id, newest id first, with nothing repeated or skipped",
        withStores(async ({ analyses, sessions }) => {
          await openSession(sessions, "s");
          const msgs = await postMany(sessions, "s", 5);
          await analyses.save(msgs.map((m, i) => item("s", m, analysis(-0.5, "high", T0), `tie-${i}`)));
          const seen: string[] = [];
          let after: { createdAt: number; id: string } | undefined;
          for (;;) {
            const page = await analyses.listAlerts({ limit: 2, ...(after && { after }) });
            if (page.length === 0) break;
            seen.push(...page.map((a) => a.id));
            const last = page[page.length - 1]!;
            after = { createdAt: Date.parse(last.createdAt), id: last.id };
          }
          expect(seen).toEqual(["tie-4", "tie-3", "tie-2", "tie-1", "tie-0"]);
        }),
      );

      test(
        "updates persist every status field and the note; getAlert and listAlerts read them back",
        withStores(async (t) => {
          await fiveAlerts(t);
          const { analyses } = t;
          const alert = (await analyses.getAlert("alert-2"))!;
          expect(alert).toEqual({
            id: "alert-2", session: "a", seq: 2, messageId: alert.messageId, userId: "ann", risk_level: "high",
            triggers: ["self_harm: test high"], recommended_action: "Check in.", status: "open", createdAt: new Date(T0 + 2000).toISOString(),
          });
          const acked: Alert = { ...alert, status: "acknowledged", acknowledgedBy: "mo", acknowledgedAt: new Date(T0 + 9000).toISOString(), note: "calling" };
          await analyses.updateAlert(acked);
          expect(await analyses.getAlert("alert-2")).toEqual(acked);
          const resolved: Alert = { ...acked, status: "resolved", resolvedBy: "lee", resolvedAt: new Date(T0 + 10_000).toISOString(), note: "called" };
          await analyses.updateAlert(resolved);
          expect(await analyses.getAlert("alert-2")).toEqual(resolved);
          expect(await analyses.listAlerts({ status: "resolved", limit: 10 })).toEqual([resolved]);
          expect(await analyses.listAlerts({ status: "open", limit: 10 })).toHaveLength(4);
          expect(await analyses.listAlerts({ status: "acknowledged", limit: 10 })).toEqual([]);
        }),
      );

      test(
        "countAlerts counts one session's alerts; getAlert of an unknown id is null",
        withStores(async (t) => {
          await fiveAlerts(t);
          expect([await t.analyses.countAlerts("a"), await t.analyses.countAlerts("b"), await t.analyses.countAlerts("none")]).toEqual([3, 2, 0]);
          expect(await t.analyses.getAlert("nope")).toBeNull();
        }),
      );
    });
  });
}
