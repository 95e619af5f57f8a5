// The in-memory store: the shared storage contract, its failure switch, and SessionService driven on it with a
// manual clock (no file, no timers: the tests run in microseconds).
import { describe, expect, test } from "bun:test";
import { MemorySessionStore } from "../../src/sessions/memory-store.ts";
import { principal, SessionService } from "../../src/sessions/index.ts";
import { newSessionRecord } from "../../src/sessions/store.ts";
import { describeSessionStorage } from "../contract/session-storage.ts";
import { joinStored, serviceOn } from "./service-setup.ts";

describeSessionStorage("memory", () => {
  const store = new MemorySessionStore();
  return { store, close: () => store.close() };
});

function setup(expiryMs = 60_000) {
  const batches: number[] = [];
  const store = new MemorySessionStore({ onCommit: (n) => batches.push(n) });
  return { store, batches, ...serviceOn(store, { expiryMs }) };
}

describe("MemorySessionStore", () => {
  test("failNextCommits fails whole batches (nothing of them stored), then commits again", async () => {
    const store = new MemorySessionStore();
    store.insertSession(newSessionRecord({ id: "s", ownerId: "u", at: 0 }));
    store.failNextCommits(1);
    const heard: Array<string | number> = [];
    const base = { sessionId: "s", userId: "u", role: "user", kind: "text", content: "x", createdAt: 1 } as const;
    store.append({ ...base, id: "a" }, (e, r) => heard.push(e ? e.code : r!.message.seq));
    store.queueParticipant("s", "u", 1, (e) => heard.push(e ? e.code : "added"));
    store.flush();
    store.append({ ...base, id: "b" }, (e, r) => heard.push(e ? e.code : r!.message.seq));
    store.flush();
    expect(heard).toEqual(["internal", "internal", 1]);
    expect(store.messagesAfter("s", 0, 10).map((m) => m.id)).toEqual(["b"]);
    expect(store.getSession("s")).toMatchObject({ lastSeq: 1, participantCount: 0 });
  });

  test("an unavailable failure starts a fault: queued sessions are written at once and refused at once until a write succeeds", () => {
    const store = new MemorySessionStore();
    store.failNextCommits(2, "unavailable");
    let answer: unknown;
    store.queueSession(newSessionRecord({ id: "a", ownerId: "u", at: 0 }), (e) => (answer = e));
    store.flush();
    expect(answer).toMatchObject({ code: "unavailable" });
    expect(store.probe()).toBe(false);
    expect(() => store.queueSession(newSessionRecord({ id: "b", ownerId: "u", at: 0 }), () => {})).toThrow(expect.objectContaining({ code: "unavailable" }));
    expect(store.getSession("a")).toBeNull();
    store.queueSession(newSessionRecord({ id: "c", ownerId: "u", at: 0 }), () => {});
    expect(store.getSession("c")).toMatchObject({ id: "c", status: "active" });
    expect(store.probe()).toBe(true);
  });
});

describe("SessionService on the memory store with a manual clock", () => {
  test("a session expires after expiryMs of the manual clock, with exactly one session.ended event", async () => {
    const { service, clock, events, store } = setup(60_000);
    const ended: Array<{ id: string; status: string }> = [];
    events.on("session.ended", ({ session, status }) => ended.push({ id: session.id, status }));
    await joinStored(service, "ann", "quiet");
    await service.appendMessage(principal("ann"), "quiet", { content: "hello" });
    clock.advance(60_000);
    // Idle for exactly expiryMs: not yet.
    expect(service.expireIdleSessions()).toEqual({ expired: [], done: true });
    clock.advance(1);
    expect(service.expireIdleSessions()).toEqual({ expired: ["quiet"], done: true });
    expect(service.expireIdleSessions()).toEqual({ expired: [], done: true });
    expect(ended).toEqual([{ id: "quiet", status: "expired" }]);
    expect(store.getSession("quiet")).toMatchObject({ status: "expired", endedAt: clock.now(), messageCount: 1 });
    // Refused before anything is queued.
    expect(() => service.appendMessage(principal("ann"), "quiet", { content: "late" })).toThrow(expect.objectContaining({ code: "session_ended" }));
  });

  test("activity keeps a session alive; joins in one turn share one commit; a failed commit is reported and takes no seq", async () => {
    const { service, clock, store, batches } = setup(1000);
    await Promise.all([joinStored(service, "ann", "busy"), joinStored(service, "bob", "other")]);
    // Two session rows and two participant rows.
    expect(batches).toEqual([4]);
    clock.advance(800);
    await service.appendMessage(principal("ann"), "busy", { content: "still here" });
    clock.advance(800);
    expect(service.expireIdleSessions().expired).toEqual(["other"]);
    store.failNextCommits(1);
    await expect(service.appendMessage(principal("ann"), "busy", { content: "lost" })).rejects.toMatchObject({ code: "internal" });
    const ack = await service.appendMessage(principal("ann"), "busy", { content: "kept" });
    expect(ack.message.seq).toBe(2);
    expect(service.join(principal("ann"), { session: "busy" }).messages.map((m) => m.content)).toEqual(["still here", "kept"]);
  });

  test("opening a session under an id that exists is a conflict: nothing is queued and the stored session is untouched", async () => {
    const { service, store } = setup();
    await joinStored(service, "alice", "private1");
    await service.appendMessage(principal("alice"), "private1", { content: "mine" });
    expect(() => service.open(principal("mallory"), { id: "private1" })).toThrow(expect.objectContaining({ code: "conflict" }));
    expect(() => service.get(principal("mallory"), "private1")).toThrow(expect.objectContaining({ code: "forbidden" }));
    expect(service.get(principal("alice"), "private1").ownerId).toBe("alice");
    store.flush();
    expect(store.getSession("private1")).toMatchObject({ ownerId: "alice", lastSeq: 1 });
  });
});
