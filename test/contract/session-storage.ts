// The storage contract every SessionStorage implementation must pass (SQLite, PostgreSQL, in memory), written
// against the asynchronous form: every answer is awaited, so a synchronous store passes the same cases.
// Run it from an implementation's own test file: describeSessionStorage("sqlite", async () => ({ store, close })).
import { describe, expect, test } from "bun:test";
import type { SessiondError } from "../../src/protocol/errors.ts";
import type { Message, MessageKind, MessageRole } from "../../src/protocol/types.ts";
import { newSessionRecord, type AppendInput, type AppendResult, type Awaitable, type SessionRecord, type SessionStorage } from "../../src/sessions/store.ts";

/** One fresh, empty store per test; `close` releases it (and whatever it was built on). */
export interface StorageUnderTest {
  store: SessionStorage;
  close(): Awaitable<void>;
}

/** Epoch ms every case counts from (a fixed time, so records compare equal across engines). */
export const T0 = 1_700_000_000_000;

let nextId = 0;
const uid = (prefix: string) => `${prefix}-${++nextId}`;

const session = (id: string, init: Partial<SessionRecord> = {}): SessionRecord => newSessionRecord({ id, ownerId: "owner", at: T0, ...init });

interface MessageInit {
  userId?: string;
  role?: MessageRole;
  kind?: MessageKind;
  metadata?: Record<string, unknown>;
  clientMsgId?: string;
  createdAt?: number;
}

const input = (sessionId: string, content: string, m: MessageInit = {}): AppendInput => ({
  id: uid("m"),
  sessionId,
  userId: m.userId ?? "ann",
  role: m.role ?? "user",
  kind: m.kind ?? "text",
  content,
  ...(m.metadata !== undefined && { metadata: m.metadata }),
  ...(m.clientMsgId !== undefined && { clientMsgId: m.clientMsgId }),
  createdAt: m.createdAt ?? T0 + 1000,
});

/** An append as a promise: resolves with the result, rejects with the callback's error. */
function append(store: SessionStorage, sessionId: string, content: string, m: MessageInit = {}): Promise<AppendResult> {
  return new Promise((resolve, reject) => store.append(input(sessionId, content, m), (e, r) => (e ? reject(e) : resolve(r!))));
}

/** queueSession's outcome whichever way it is told: a synchronous throw or the error given to `done`. */
function queueSession(store: SessionStorage, record: SessionRecord): Promise<SessiondError | null> {
  return new Promise((resolve) => {
    try {
      store.queueSession(record, resolve);
    } catch (e) {
      resolve(e as SessiondError);
    }
  });
}

function queueParticipant(store: SessionStorage, sessionId: string, userId: string, at = T0): Promise<boolean> {
  return new Promise((resolve, reject) => store.queueParticipant(sessionId, userId, at, (e, added) => (e ? reject(e) : resolve(added))));
}

function afterQueued(store: SessionStorage): Promise<void> {
  return new Promise((resolve, reject) => store.afterQueued((e) => (e ? reject(e) : resolve())));
}

/** The promise of a call that may throw synchronously or return a rejecting promise, so `rejects` sees both. */
const attempt = <T>(call: () => Awaitable<T>): Promise<T> => Promise.resolve().then(call);

async function pages(store: SessionStorage, sessionId: string, pageSize?: number): Promise<Message[][]> {
  const out: Message[][] = [];
  for await (const page of store.iterateMessages(sessionId, pageSize)) out.push(page);
  return out;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const seqs = (messages: readonly Message[]) => messages.map((m) => m.seq);

/**
 * Registers the contract's cases under `SessionStorage contract: <name>`. `make` is called once per case and must
 * give an empty store; `close` is called after the case, pass or fail.
 */
export function describeSessionStorage(name: string, make: () => Awaitable<StorageUnderTest>): void {
  /** A case with a fresh store, closed afterwards. */
  const it = (title: string, body: (store: SessionStorage) => Promise<void>, timeoutMs?: number) =>
    test(
      title,
      async () => {
        const subject = await make();
        try {
          await body(subject.store);
        } finally {
          await subject.close();
        }
      },
      timeoutMs,
    );

  /** A stored, active session (inserted at once). */
  const stored = async (store: SessionStorage, init: Partial<SessionRecord> = {}): Promise<SessionRecord> => {
    const record = session(init.id ?? uid("s"), init);
    await store.insertSession(record);
    return record;
  };

  describe(`SessionStorage contract: ${name}`, () => {
    describe("append", () => {
      it("assigns seq 1..n gapless per session and independent per session", async (store) => {
        const ids = [await stored(store), await stored(store), await stored(store)].map((s) => s.id);
        const sent = Array.from({ length: 90 }, (_, i) => append(store, ids[i % 3]!, `m${i}`));
        const results = await Promise.all(sent);
        for (const id of ids) {
          expect(results.filter((r) => r.message.session === id).map((r) => r.message.seq)).toEqual(range(1, 30));
          expect(seqs(await store.messagesAfter(id, 0, 1000))).toEqual(range(1, 30));
          expect(await store.getSession(id)).toMatchObject({ lastSeq: 30, messageCount: 30 });
        }
        expect(results.every((r) => !r.duplicate)).toBe(true);
        // Later appends carry on from the stored head.
        expect((await append(store, ids[0]!, "later")).message.seq).toBe(31);
      });

      it("append callbacks run in enqueue order", async (store) => {
        const a = (await stored(store)).id;
        const b = (await stored(store)).id;
        const heard: string[] = [];
        const sent: string[] = [];
        const all: Array<Promise<void>> = [];
        for (let i = 0; i < 60; i++) {
          const content = `m${i}`;
          sent.push(content);
          all.push(new Promise((resolve) => store.append(input(i % 2 ? a : b, content), () => resolve(void heard.push(content)))));
        }
        // Refused ones too: their callbacks keep their place.
        sent.push("to-unknown");
        all.push(new Promise((resolve) => store.append(input("no-such-session", "to-unknown"), () => resolve(void heard.push("to-unknown")))));
        await Promise.all(all);
        expect(heard).toEqual(sent);
      });

      it("the same (session, user, clientMsgId) gives one row and duplicate: true with the original", async (store) => {
        const id = (await stored(store)).id;
        // Two in the same batch, one in a later one.
        const [first, again] = await Promise.all([
          append(store, id, "first", { clientMsgId: "k1", metadata: { n: 1 } }),
          append(store, id, "second", { clientMsgId: "k1" }),
        ]);
        const later = await append(store, id, "third", { clientMsgId: "k1" });
        expect(first.duplicate).toBe(false);
        expect(again.duplicate).toBe(true);
        expect(later.duplicate).toBe(true);
        expect(again.message).toEqual(first.message);
        expect(later.message).toEqual(first.message);
        expect(first.message).toMatchObject({ seq: 1, content: "first", clientMsgId: "k1", metadata: { n: 1 } });
        expect(await store.messagesAfter(id, 0, 100)).toEqual([first.message]);
        expect(await store.getSession(id)).toMatchObject({ lastSeq: 1, messageCount: 1 });
      });

      it("another user's equal clientMsgId is a new message, and so is the same one in another session", async (store) => {
        const id = (await stored(store)).id;
        const other = (await stored(store)).id;
        const ann = await append(store, id, "a", { clientMsgId: "k", userId: "ann" });
        const bob = await append(store, id, "b", { clientMsgId: "k", userId: "bob" });
        const elsewhere = await append(store, other, "c", { clientMsgId: "k", userId: "ann" });
        expect([ann.duplicate, bob.duplicate, elsewhere.duplicate]).toEqual([false, false, false]);
        expect([ann.message.seq, bob.message.seq, elsewhere.message.seq]).toEqual([1, 2, 1]);
        expect((await store.messagesAfter(id, 0, 100)).map((m) => m.userId)).toEqual(["ann", "bob"]);
      });

      it("a duplicate or a refused append takes no seq", async (store) => {
        const id = (await stored(store)).id;
        const results = await Promise.allSettled([
          append(store, id, "one", { clientMsgId: "x" }),
          append(store, id, "one again", { clientMsgId: "x" }),
          append(store, "no-such-session", "lost"),
          append(store, id, "two"),
        ]);
        expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
        expect(seqs(await store.messagesAfter(id, 0, 100))).toEqual([1, 2]);
        expect((await append(store, id, "three")).message.seq).toBe(3);
      });

      it("append to an unknown session fails with not_found and stores nothing", async (store) => {
        await expect(append(store, "no-such-session", "x")).rejects.toMatchObject({ code: "not_found" });
        expect(await store.messagesAfter("no-such-session", 0, 10)).toEqual([]);
        expect(await store.getSession("no-such-session")).toBeNull();
      });

      it("append to an ended session fails with session_ended and stores nothing", async (store) => {
        const id = (await stored(store)).id;
        await append(store, id, "before");
        expect(await store.endSession(id, "completed", T0 + 5000)).toBe(true);
        await expect(append(store, id, "after")).rejects.toMatchObject({ code: "session_ended" });
        expect(seqs(await store.messagesAfter(id, 0, 10))).toEqual([1]);
        expect(await store.getSession(id)).toMatchObject({ lastSeq: 1, messageCount: 1 });
      });

      it("after flush(), every append queued before it has been answered", async (store) => {
        const id = (await stored(store)).id;
        const answered: number[] = [];
        for (let i = 0; i < 10; i++) store.append(input(id, `m${i}`), (e, r) => answered.push(e ? -1 : r!.message.seq));
        await store.flush();
        expect(answered).toEqual(range(1, 10));
      });

      it("metadata, kind, role, clientMsgId and createdAt round-trip", async (store) => {
        const id = (await stored(store)).id;
        const meta = { nested: { list: [1, "two", null, true] }, unicode: "é ✓ 😀", n: 1.5 };
        const a = await append(store, id, "hello", { metadata: meta, clientMsgId: "c-1", createdAt: T0 + 1234 });
        const b = await append(store, id, "*waves*", { role: "assistant", kind: "action", userId: "assistant", createdAt: T0 + 2000 });
        const c = await append(store, id, "notice", { role: "system", userId: "server", createdAt: T0 + 3000 });
        expect(a.message).toEqual({
          id: a.message.id,
          seq: 1,
          session: id,
          userId: "ann",
          role: "user",
          kind: "text",
          content: "hello",
          metadata: meta,
          clientMsgId: "c-1",
          createdAt: new Date(T0 + 1234).toISOString(),
        });
        expect(b.message).toMatchObject({ seq: 2, role: "assistant", kind: "action", userId: "assistant", content: "*waves*" });
        expect(c.message).toMatchObject({ seq: 3, role: "system", kind: "text", userId: "server" });
        // Absent fields are absent, not null or undefined.
        expect("metadata" in b.message || "clientMsgId" in b.message).toBe(false);
        const acked = [a.message, b.message, c.message];
        expect(await store.messagesAfter(id, 0, 10)).toEqual(acked);
        expect(await store.lastMessages(id, 10)).toEqual(acked);
        expect((await pages(store, id)).flat()).toEqual(acked);
        for (const m of await store.lastMessages(id, 10)) {
          for (const key of ["metadata", "clientMsgId"] as const) if (key in m) expect(m[key]).toBeDefined();
        }
      });
    });

    describe("sessions", () => {
      it("insertSession then getSession gives back every field of the record", async (store) => {
        const record = session(uid("s"), {
          room: uid("room"),
          ownerId: "olga",
          mode: "voice",
          access: "open",
          members: ["ann", "bob"],
          config: { persona: "coach", nested: { steps: [1, 2] } },
          startedAt: T0 - 50,
          lastActivityAt: T0 + 10,
          analysis: { enabled: true, share: "all" },
          assistant: { enabled: true, name: "helper", trigger: "mention", contextMessages: 20 },
          endOnDisconnect: { enabled: true, graceSeconds: 15 },
          retentionDays: 7,
        });
        await store.insertSession(record);
        expect(await store.getSession(record.id)).toEqual(record);
        expect(await store.findActiveSessionByRoom(record.room!)).toEqual(record);
        // Defaults (null settings, zero counters) round-trip as well.
        const plain = await stored(store);
        expect(await store.getSession(plain.id)).toEqual(plain);
      });

      it("insertSession throws conflict for an existing id or a room with an active session; an ended session's room is free", async (store) => {
        const room = uid("room");
        const first = await stored(store, { room });
        await expect(attempt(() => store.insertSession(session(first.id)))).rejects.toMatchObject({ code: "conflict" });
        await expect(attempt(() => store.insertSession(session(uid("s"), { room })))).rejects.toMatchObject({ code: "conflict" });
        expect(await store.getSession(first.id)).toEqual(first);
        expect(await store.endSession(first.id, "completed", T0 + 1)).toBe(true);
        const next = await stored(store, { room });
        expect(await store.findActiveSessionByRoom(room)).toEqual(next);
      });

      it("getSession and findActiveSessionByRoom give null for unknown ids and rooms and for an ended session's room", async (store) => {
        expect(await store.getSession("nobody")).toBeNull();
        expect(await store.findActiveSessionByRoom("nowhere")).toBeNull();
        const room = uid("room");
        const s = await stored(store, { room });
        await store.endSession(s.id, "cancelled", T0 + 1);
        expect(await store.findActiveSessionByRoom(room)).toBeNull();
        expect(await store.getSession(s.id)).toMatchObject({ id: s.id, status: "cancelled" });
      });
    });

    describe("queueSession", () => {
      it("is visible to getSession and findActiveSessionByRoom before it commits; done runs after the commit", async (store) => {
        const record = session(uid("s"), { room: uid("room"), members: ["bob"], config: { a: 1 } });
        let done: SessiondError | null | undefined;
        const committed = new Promise<void>((resolve) => store.queueSession(record, (e) => resolve(void (done = e))));
        // Never answered in the caller's own stack.
        expect(done).toBeUndefined();
        expect(await store.getSession(record.id)).toEqual(record);
        expect(await store.findActiveSessionByRoom(record.room!)).toEqual(record);
        await committed;
        expect(done).toBeNull();
        expect(await store.getSession(record.id)).toEqual(record);
        expect(await store.findActiveSessionByRoom(record.room!)).toEqual(record);
      });

      it("appends and participants queued after it commit after it, in order", async (store) => {
        const record = session(uid("s"));
        const order: string[] = [];
        const all = [
          new Promise<void>((resolve) => store.queueSession(record, (e) => resolve(void order.push(`session:${e?.code ?? "ok"}`)))),
          new Promise<void>((resolve) => store.append(input(record.id, "one"), (e, r) => resolve(void order.push(`append:${e?.code ?? r!.message.seq}`)))),
          new Promise<void>((resolve) => store.queueParticipant(record.id, "ann", T0, (e, added) => resolve(void order.push(`participant:${e?.code ?? added}`)))),
          new Promise<void>((resolve) => store.append(input(record.id, "two"), (e, r) => resolve(void order.push(`append:${e?.code ?? r!.message.seq}`)))),
        ];
        await Promise.all(all);
        expect(order).toEqual(["session:ok", "append:1", "participant:true", "append:2"]);
        expect(await store.getSession(record.id)).toMatchObject({ lastSeq: 2, messageCount: 2, participantCount: 1, status: "active" });
        expect(await store.participants(record.id)).toEqual(["ann"]);
      });

      it("a conflict (the id, or a room with an active session) is thrown at once or given as conflict in done", async (store) => {
        const room = uid("room");
        const existing = await stored(store, { room });
        // Against stored rows.
        expect(await queueSession(store, session(existing.id, { ownerId: "intruder" }))).toMatchObject({ code: "conflict" });
        expect(await queueSession(store, session(uid("s"), { room }))).toMatchObject({ code: "conflict" });
        expect(await store.getSession(existing.id)).toEqual(existing);
        expect(await store.findActiveSessionByRoom(room)).toEqual(existing);
        // Against queued ones: the first still commits.
        const queuedRoom = uid("room");
        const queued = session(uid("s"), { room: queuedRoom });
        const outcomes = await Promise.all([
          queueSession(store, queued),
          queueSession(store, session(queued.id, { ownerId: "intruder" })),
          queueSession(store, session(uid("s"), { room: queuedRoom })),
        ]);
        expect(outcomes[0]).toBeNull();
        expect(outcomes[1]).toMatchObject({ code: "conflict" });
        expect(outcomes[2]).toMatchObject({ code: "conflict" });
        expect(await store.getSession(queued.id)).toEqual(queued);
        expect(await store.findActiveSessionByRoom(queuedRoom)).toEqual(queued);
        expect((await store.activeSessionIds()).sort()).toEqual([existing.id, queued.id].sort());
      });

      it("updates and activity given while it is queued are written with it", async (store) => {
        const record = session(uid("s"));
        const committed = queueSession(store, record);
        await store.updateSession(record.id, { members: ["zed"], config: { late: true }, access: "open" });
        await store.saveActivity([{ id: record.id, lastActivityAt: T0 + 777 }]);
        expect(await committed).toBeNull();
        expect(await store.getSession(record.id)).toMatchObject({ members: ["zed"], config: { late: true }, access: "open", lastActivityAt: T0 + 777 });
      });

      it("a room is free for a queued session once its active session ended", async (store) => {
        const room = uid("room");
        const old = await stored(store, { room });
        await store.endSession(old.id, "expired", T0 + 10);
        const next = session(uid("s"), { room });
        expect(await queueSession(store, next)).toBeNull();
        expect(await store.findActiveSessionByRoom(room)).toEqual(next);
      });
    });

    describe("participants", () => {
      it("queueParticipant: added is true once per user, and participantCount counts each user once", async (store) => {
        const id = (await stored(store)).id;
        // Same batch: the repeat is not new.
        expect(await Promise.all([queueParticipant(store, id, "ann"), queueParticipant(store, id, "ann"), queueParticipant(store, id, "bob")])).toEqual([true, false, true]);
        expect(await queueParticipant(store, id, "ann")).toBe(false);
        expect(await store.getSession(id)).toMatchObject({ participantCount: 2 });
        expect((await store.participants(id)).sort()).toEqual(["ann", "bob"]);
      });

      it("queueParticipant to an unknown session fails with not_found", async (store) => {
        await expect(queueParticipant(store, "no-such-session", "ann")).rejects.toMatchObject({ code: "not_found" });
        expect(await store.participants("no-such-session")).toEqual([]);
      });

      it("addParticipant is true when the user is new, and agrees with queueParticipant", async (store) => {
        const id = (await stored(store)).id;
        expect(await store.addParticipant(id, "ann", T0)).toBe(true);
        expect(await store.addParticipant(id, "ann", T0 + 1)).toBe(false);
        expect(await queueParticipant(store, id, "ann")).toBe(false);
        expect(await queueParticipant(store, id, "bob")).toBe(true);
        expect(await store.addParticipant(id, "bob", T0 + 2)).toBe(false);
        expect(await store.getSession(id)).toMatchObject({ participantCount: 2 });
        expect((await store.participants(id)).sort()).toEqual(["ann", "bob"]);
      });
    });

    describe("afterQueued", () => {
      it("afterQueued runs after the callbacks of everything queued before it", async (store) => {
        const id = (await stored(store)).id;
        const fresh = session(uid("s"));
        const order: string[] = [];
        const all = [
          new Promise<void>((resolve) => store.append(input(id, "a"), () => resolve(void order.push("append")))),
          new Promise<void>((resolve) => store.queueSession(fresh, () => resolve(void order.push("session")))),
          new Promise<void>((resolve) => store.queueParticipant(id, "ann", T0, () => resolve(void order.push("participant")))),
          new Promise<void>((resolve) => store.afterQueued((e) => resolve(void order.push(`fence:${e?.code ?? "ok"}`)))),
          new Promise<void>((resolve) => store.append(input(id, "b"), () => resolve(void order.push("later append")))),
        ];
        await Promise.all(all);
        expect(order).toEqual(["append", "session", "participant", "fence:ok", "later append"]);
        // With nothing queued it still answers.
        await afterQueued(store);
      });
    });

    describe("updateSession", () => {
      it("patches config, access, members, settings and retentionDays, and nothing else", async (store) => {
        const before = await stored(store, { room: uid("room") });
        await append(store, before.id, "x");
        const patch = {
          config: { topic: "new" },
          access: "open" as const,
          members: ["ann"],
          analysis: { enabled: true, share: "staff" as const },
          assistant: { enabled: false, name: "a", trigger: "every" as const },
          endOnDisconnect: { enabled: true, graceSeconds: 5 },
          retentionDays: 30,
        };
        await store.updateSession(before.id, patch);
        expect(await store.getSession(before.id)).toEqual({ ...before, ...patch, lastSeq: 1, messageCount: 1, lastActivityAt: T0 + 1000 });
        await store.updateSession(before.id, { retentionDays: null, members: [] });
        expect(await store.getSession(before.id)).toMatchObject({ retentionDays: null, members: [], config: { topic: "new" } });
        // An empty patch changes nothing.
        const now = await store.getSession(before.id);
        await store.updateSession(before.id, {});
        expect(await store.getSession(before.id)).toEqual(now);
      });
    });

    describe("endSession", () => {
      it("endSession is true once, then false, and sets status, endedAt and durationMs", async (store) => {
        const s = await stored(store, { startedAt: T0 });
        await append(store, s.id, "x");
        expect(await store.endSession(s.id, "completed", T0 + 60_000)).toBe(true);
        expect(await store.endSession(s.id, "expired", T0 + 90_000)).toBe(false);
        expect(await store.getSession(s.id)).toEqual({ ...s, status: "completed", endedAt: T0 + 60_000, durationMs: 60_000, lastSeq: 1, messageCount: 1, lastActivityAt: T0 + 1000 });
        expect(await store.endSession("no-such-session", "completed", T0)).toBe(false);
        for (const status of ["cancelled", "expired"] as const) {
          const other = await stored(store);
          expect(await store.endSession(other.id, status, T0 + 5)).toBe(true);
          expect(await store.getSession(other.id)).toMatchObject({ status, endedAt: T0 + 5, durationMs: 5 });
        }
      });

      it("a queued session can be ended: it commits first, then ends", async (store) => {
        const record = session(uid("s"));
        const committed = queueSession(store, record);
        expect(await store.endSession(record.id, "cancelled", T0 + 10)).toBe(true);
        expect(await committed).toBeNull();
        expect(await store.getSession(record.id)).toMatchObject({ status: "cancelled", endedAt: T0 + 10, durationMs: 10 });
      });
    });

    describe("activity and expiry", () => {
      it("saveActivity moves lastActivityAt forward, never back", async (store) => {
        const a = await stored(store);
        const b = await stored(store);
        await store.saveActivity([
          { id: a.id, lastActivityAt: T0 + 500 },
          { id: b.id, lastActivityAt: T0 + 100 },
        ]);
        await store.saveActivity([{ id: a.id, lastActivityAt: T0 + 200 }]);
        await store.saveActivity([]);
        expect(await store.getSession(a.id)).toMatchObject({ lastActivityAt: T0 + 500 });
        expect(await store.getSession(b.id)).toMatchObject({ lastActivityAt: T0 + 100 });
      });

      it("idleSessionIds: active sessions idle since before the cutoff, oldest first, at most limit", async (store) => {
        const at = [40, 10, 50, 30, 20];
        const ids: string[] = [];
        for (const t of at) ids.push((await stored(store, { startedAt: T0, lastActivityAt: T0 + t })).id);
        const byAge = [...ids].sort((x, y) => at[ids.indexOf(x)]! - at[ids.indexOf(y)]!);
        const ended = await stored(store, { lastActivityAt: T0 });
        await store.endSession(ended.id, "completed", T0 + 1);
        expect(await store.idleSessionIds(T0 + 1000, 100)).toEqual(byAge);
        expect(await store.idleSessionIds(T0 + 1000, 2)).toEqual(byAge.slice(0, 2));
        // The cutoff is exclusive.
        expect(await store.idleSessionIds(T0 + 30, 100)).toEqual(byAge.slice(0, 2));
        expect(await store.idleSessionIds(T0 + 10, 100)).toEqual([]);
        // Activity saved later counts.
        await store.saveActivity([{ id: byAge[0]!, lastActivityAt: T0 + 5000 }]);
        expect(await store.idleSessionIds(T0 + 1000, 100)).toEqual(byAge.slice(1));
      });

      it("activeSessionIds lists every active session, queued ones included, and no ended one", async (store) => {
        expect(await store.activeSessionIds()).toEqual([]);
        const a = await stored(store);
        const b = await stored(store);
        await store.endSession(b.id, "completed", T0 + 1);
        const queued = session(uid("s"));
        const committed = queueSession(store, queued);
        expect((await store.activeSessionIds()).sort()).toEqual([a.id, queued.id].sort());
        expect(await committed).toBeNull();
        expect(await store.idleSessionIds(T0 + 1, 10)).toEqual(expect.arrayContaining([a.id, queued.id]));
      });
    });

    describe("history", () => {
      it("lastMessages: the last n, ascending; all when fewer; none for an unknown session", async (store) => {
        const id = (await stored(store)).id;
        for (let i = 0; i < 12; i++) await append(store, id, `m${i}`);
        expect(seqs(await store.lastMessages(id, 5))).toEqual(range(8, 12));
        expect(seqs(await store.lastMessages(id, 100))).toEqual(range(1, 12));
        expect((await store.lastMessages(id, 1))[0]).toMatchObject({ seq: 12, content: "m11" });
        expect(await store.lastMessages("no-such-session", 5)).toEqual([]);
      });

      it("messagesAfter: seq above afterSeq, ascending, at most limit", async (store) => {
        const id = (await stored(store)).id;
        const other = (await stored(store)).id;
        await Promise.all(Array.from({ length: 12 }, (_, i) => append(store, i % 3 === 0 ? other : id, `m${i}`)));
        expect(seqs(await store.messagesAfter(id, 0, 100))).toEqual(range(1, 8));
        expect(seqs(await store.messagesAfter(id, 3, 2))).toEqual([4, 5]);
        expect(seqs(await store.messagesAfter(id, 7, 100))).toEqual([8]);
        expect(await store.messagesAfter(id, 8, 100)).toEqual([]);
        expect((await store.messagesAfter(id, 0, 100)).every((m) => m.session === id)).toBe(true);
      });

      it("iterateMessages pages every message in seq order, pageSize at a time, with no empty page", async (store) => {
        const id = (await stored(store)).id;
        await Promise.all(Array.from({ length: 25 }, (_, i) => append(store, id, `m${i}`)));
        expect((await pages(store, id, 10)).map(seqs)).toEqual([range(1, 10), range(11, 20), range(21, 25)]);
        expect((await pages(store, id, 5)).map((p) => p.length)).toEqual([5, 5, 5, 5, 5]);
        expect((await pages(store, id)).map(seqs)).toEqual([range(1, 25)]);
        expect(await pages(store, (await stored(store)).id, 10)).toEqual([]);
        expect(await pages(store, "no-such-session")).toEqual([]);
      });
    });

    describe("listSessions", () => {
      it("lists newest first (startedAt, then id, descending), at most limit", async (store) => {
        await stored(store, { id: "b", startedAt: T0 + 10 });
        await stored(store, { id: "a", startedAt: T0 + 10 });
        await stored(store, { id: "c", startedAt: T0 + 5 });
        await stored(store, { id: "d", startedAt: T0 + 20 });
        const list = await store.listSessions({ limit: 10 });
        expect(list.map((s) => s.id)).toEqual(["d", "b", "a", "c"]);
        expect(list[0]).toEqual(session("d", { startedAt: T0 + 20 }));
        expect((await store.listSessions({ limit: 2 })).map((s) => s.id)).toEqual(["d", "b"]);
      });

      it("filters by status and room", async (store) => {
        await stored(store, { id: "r1", room: "lobby", startedAt: T0 + 1 });
        await store.endSession("r1", "expired", T0 + 2);
        await stored(store, { id: "r2", room: "lobby", startedAt: T0 + 3 });
        await stored(store, { id: "x", room: "other", startedAt: T0 + 4 });
        await stored(store, { id: "y", startedAt: T0 + 5 });
        const ids = async (q: Parameters<SessionStorage["listSessions"]>[0]) => (await store.listSessions(q)).map((s) => s.id);
        expect(await ids({ limit: 10, room: "lobby" })).toEqual(["r2", "r1"]);
        expect(await ids({ limit: 10, status: "active" })).toEqual(["y", "x", "r2"]);
        expect(await ids({ limit: 10, status: "expired" })).toEqual(["r1"]);
        expect(await ids({ limit: 10, status: "active", room: "lobby" })).toEqual(["r2"]);
        expect(await ids({ limit: 10, status: "completed" })).toEqual([]);
      });

      it("visibleTo: open sessions, owned ones, ones the user is a member of, granted ids and rooms", async (store) => {
        await stored(store, { id: "open", access: "open", ownerId: "x", startedAt: T0 + 1 });
        await stored(store, { id: "owned", ownerId: "ann", startedAt: T0 + 2 });
        await stored(store, { id: "member", ownerId: "x", members: ["bob", "ann"], startedAt: T0 + 3 });
        await stored(store, { id: "granted", ownerId: "x", startedAt: T0 + 4 });
        await stored(store, { id: "in-room", ownerId: "x", room: "den", startedAt: T0 + 5 });
        await stored(store, { id: "hidden", ownerId: "x", members: ["annie", "bob"], startedAt: T0 + 6 });
        await stored(store, { id: "hidden-room", ownerId: "x", room: "attic", startedAt: T0 + 7 });
        const ids = async (visibleTo: { userId: string; sessionIds: string[]; rooms: string[] } | null) =>
          (await store.listSessions({ limit: 100, visibleTo })).map((s) => s.id);
        expect(await ids({ userId: "ann", sessionIds: ["granted"], rooms: ["den"] })).toEqual(["in-room", "granted", "member", "owned", "open"]);
        expect(await ids({ userId: "ann", sessionIds: [], rooms: [] })).toEqual(["member", "owned", "open"]);
        expect(await ids({ userId: "carl", sessionIds: [], rooms: [] })).toEqual(["open"]);
        expect(await ids(null)).toHaveLength(7);
        // Combined with the other filters.
        expect((await store.listSessions({ limit: 100, room: "den", visibleTo: { userId: "carl", sessionIds: [], rooms: [] } })).map((s) => s.id)).toEqual([]);
      });

      it("pages by after: exclusive of the (startedAt, id) given, no repeat and no gap", async (store) => {
        const all: string[] = [];
        for (let i = 0; i < 11; i++) {
          const id = `p${String(i).padStart(2, "0")}`;
          // Ties on startedAt, broken by id.
          await stored(store, { id, startedAt: T0 + Math.floor(i / 3) });
          all.push(id);
        }
        const expected = [...all].reverse();
        const seen: string[] = [];
        let after: { startedAt: number; id: string } | undefined;
        for (let guard = 0; guard < 20; guard++) {
          const page = await store.listSessions({ limit: 4, after });
          if (page.length === 0) break;
          seen.push(...page.map((s) => s.id));
          const last = page[page.length - 1]!;
          after = { startedAt: last.startedAt, id: last.id };
        }
        expect(seen).toEqual(expected);
        expect((await store.listSessions({ limit: 100, after: { startedAt: T0 + 1, id: "p04" } })).map((s) => s.id)).toEqual(["p03", "p02", "p01", "p00"]);
      });
    });

    describe("probe and metrics", () => {
      it("probe is true for a working store", async (store) => {
        expect(await store.probe()).toBe(true);
      });

      it("addAssistantMetrics adds messages, and a response time to its sum and count", async (store) => {
        const id = (await stored(store)).id;
        await store.addAssistantMetrics(id, { messages: 1, responseTimeMs: 300 });
        await store.addAssistantMetrics(id, { messages: 2 });
        await store.addAssistantMetrics(id, { messages: 0, responseTimeMs: 100 });
        expect(await store.getSession(id)).toMatchObject({ assistantMessages: 3, responseTimeSumMs: 400, responseTimeCount: 2 });
      });
    });
  });
}
