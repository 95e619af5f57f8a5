// SessionService on an asynchronous store (every answer a promise, as PostgreSQL's are): the same results as on
// the synchronous one, with reads ahead of each step and nothing done twice.
import { describe, expect, test } from "bun:test";
import type { Message } from "../../src/protocol/types.ts";
import { MemorySessionStore } from "../../src/sessions/memory-store.ts";
import { principal, SessionService, type JoinResult } from "../../src/sessions/index.ts";
import { joinStored, later, serviceOn } from "./service-setup.ts";
import type { SessionStorage } from "../../src/sessions/store.ts";

function setup(opts: { cacheMaxSessions?: number; expiryMs?: number } = {}) {
  const memory = new MemorySessionStore();
  const store = later(memory);
  const { service, clock, events } = serviceOn(store, { windowSize: 5, ...(opts.expiryMs && { expiryMs: opts.expiryMs }), ...(opts.cacheMaxSessions && { cacheMaxSessions: opts.cacheMaxSessions }) });
  const committed: Message[] = [];
  events.on("message.committed", ({ message }) => committed.push(message));
  const ended: string[] = [];
  events.on("session.ended", ({ session }) => ended.push(session.id));
  const reads: string[] = [];
  events.on("session.read", ({ sessionId }) => reads.push(sessionId));
  return { memory, store, clock, service, committed, ended, reads };
}

const send = (service: SessionService, userId: string, session: string, content: string) =>
  new Promise<number>((resolve, reject) => service.append(principal(userId), session, { content }, (e, r) => (e ? reject(e) : resolve(r!.message.seq))));

describe("SessionService on an asynchronous store", () => {
  test("join opens a session, appends are acked in order with gapless seqs, a rejoin after eviction reads the history", async () => {
    const { service, committed } = setup({ cacheMaxSessions: 1 });
    await joinStored(service, "ann", "a");
    const seqs = await Promise.all(Array.from({ length: 8 }, (_, i) => send(service, "ann", "a", `m${i}`)));
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // Another session pushes "a" out of the one-session cache: the next steps read it back first.
    await joinStored(service, "bob", "b");
    expect(service.isCached("a")).toBe(false);
    const history = await joinStored(service, "ann", "a");
    expect(history.messages.map((m) => m.seq)).toEqual([4, 5, 6, 7, 8]);
    expect(history.lastSeq).toBe(8);
    expect(await send(service, "ann", "a", "after")).toBe(9);
    expect(committed.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test("appends to a session not in memory wait for one read and keep their order", async () => {
    const { service } = setup({ cacheMaxSessions: 1 });
    await joinStored(service, "ann", "a");
    await joinStored(service, "bob", "b");
    const seqs = await Promise.all(["x", "y", "z"].map((c) => send(service, "ann", "a", c)));
    expect(seqs).toEqual([1, 2, 3]);
  });

  test("a recovery beyond the window is read ahead and complete; an outside read is noted once", async () => {
    const { service, reads } = setup({ cacheMaxSessions: 1 });
    await joinStored(service, "ann", "a");
    for (let i = 0; i < 12; i++) await send(service, "ann", "a", `m${i}`);
    await joinStored(service, "bob", "b");
    const admin = { ...principal("root"), admin: true, staff: true, role: "admin" as const };
    const recovered = await new Promise<JoinResult>((resolve, reject) => service.joinStored(admin, { session: "a" }, { since: 2 }, (e, r) => (e ? reject(e) : resolve(r!))));
    expect(recovered.messages.map((m) => m.seq)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(recovered.truncated).toBe(false);
    expect(reads).toEqual(["a"]);
  });

  test("unknown sessions are refused as on the synchronous store, and refusals reach the callback", async () => {
    const { service } = setup();
    await expect(new Promise((resolve, reject) => service.append(principal("ann"), "nope", { content: "x" }, (e, r) => (e ? reject(e) : resolve(r))))).rejects.toMatchObject({ code: "not_found" });
    await joinStored(service, "ann", "private1");
    await expect(Promise.resolve().then(() => service.run(() => service.get(principal("eve"), "private1")))).rejects.toMatchObject({ code: "forbidden" });
  });

  test("configure, history, list, end and export answer once storage has", async () => {
    const { service, ended } = setup();
    await joinStored(service, "ann", "a");
    for (let i = 0; i < 3; i++) await send(service, "ann", "a", `m${i}`);
    const ann = principal("ann");
    expect((await service.run(() => service.configure(ann, "a", { config: { topic: "t" } }))).config).toEqual({ topic: "t" });
    expect((await service.run(() => service.history(ann, "a", 1, 10))).messages.map((m) => m.seq)).toEqual([2, 3]);
    expect((await service.list(ann, { limit: 10 })).map((s) => s.id)).toEqual(["a"]);
    expect((await service.run(() => service.end(ann, "a"))).status).toBe("completed");
    expect(ended).toEqual(["a"]);
    const { pages } = await service.run(() => service.transcript(ann, "a"));
    const all: number[] = [];
    for await (const page of pages as AsyncIterable<Message[]>) all.push(...page.map((m) => m.seq));
    expect(all).toEqual([1, 2, 3]);
  });

  test("the idle sweep ends each idle session once", async () => {
    const { service, clock, ended } = setup({ expiryMs: 1000 });
    await joinStored(service, "ann", "quiet");
    await joinStored(service, "bob", "busy");
    clock.advance(800);
    await send(service, "bob", "busy", "still here");
    clock.advance(800);
    expect(await service.sweepIdle()).toEqual(["quiet"]);
    expect(await service.sweepIdle()).toEqual([]);
    expect(ended).toEqual(["quiet"]);
  });
});
