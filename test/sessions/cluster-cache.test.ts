// Several nodes over one store: what one node commits or changes reaches the copy of the session every other node
// holds (SessionService.applyRemote, called by Fanout for events of other origins), so a join, a read or a refusal
// on any node answers as on the node that made the change, from memory, and nothing is emitted twice.
import { describe, expect, test } from "bun:test";
import type { Message } from "../../src/protocol/types.ts";
import { Fanout } from "../../src/realtime/fanout.ts";
import { Hub } from "../../src/realtime/hub.ts";
import { principal } from "../../src/sessions/index.ts";
import { MemorySessionStore } from "../../src/sessions/memory-store.ts";
import { clusterNode, join, later, LinkedBrokers, post, type ClusterNode } from "./cluster-setup.ts";
import { serviceOn } from "./service-setup.ts";

const ann = principal("ann");

/** Two nodes over one asynchronous store (every read a turn later, as PostgreSQL's). */
async function twoNodes() {
  const memory = new MemorySessionStore();
  const store = later(memory);
  const links = new LinkedBrokers();
  const a = await clusterNode("a", store, links);
  const b = await clusterNode("b", store, links);
  return { memory, store, links, a, b };
}

/** Ann opens an open session on `node` and waits for its row to commit. */
async function openOn(node: ClusterNode, id: string, extra: Record<string, unknown> = {}) {
  const opened = await node.service.run(() => node.service.open(ann, { id, access: "open", ...extra }));
  await opened.stored;
  return opened.session;
}

function thrown(f: () => unknown): { code?: string } {
  try {
    f();
  } catch (e) {
    return e as { code?: string };
  }
  throw new Error("expected a refusal");
}

describe("another node's events keep this node's copy of a session up to date", () => {
  test("a join returns the messages another node committed, with lastSeq and counts, from memory; nothing is emitted again", async () => {
    const { store, links, a, b } = await twoNodes();
    await openOn(a, "s");
    await join(b.service, "bob", "s"); // b holds the session and its (empty) history now
    for (const content of ["one", "two", "three"]) await post(a.service, "ann", "s", content);
    await links.settled();

    const reads = store.reads;
    const onB = await join(b.service, "carol", "s");
    expect(store.reads).toBe(reads); // answered from b's memory
    expect(onB.messages.map((m) => m.content)).toEqual(["one", "two", "three"]);
    expect(onB.lastSeq).toBe(3);
    expect(onB.session.metrics.messageCount).toBe(3);
    expect(onB.session.metrics.participantCount).toBe(3); // bob, ann (by her messages), carol
    expect(b.committed).toEqual([]);

    // And the other way round.
    expect((await post(b.service, "bob", "s", "four")).message.seq).toBe(4);
    await links.settled();
    const onA = await join(a.service, "dan", "s");
    expect(onA.messages.map((m) => m.content)).toEqual(["one", "two", "three", "four"]);
    expect(onA.lastSeq).toBe(4);
    expect(onA.session.metrics.messageCount).toBe(4);
    expect(a.committed.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(b.committed.map((m) => m.seq)).toEqual([4]);
  });

  test("both nodes posting at once: each ends with the whole history in seq order and the same counts", async () => {
    const { memory, links, a, b } = await twoNodes();
    await openOn(a, "busy");
    await join(b.service, "bob", "busy");
    const sends: Array<Promise<unknown>> = [];
    for (let i = 0; i < 20; i++) sends.push(post(a.service, "ann", "busy", `a${i}`), post(b.service, "bob", "busy", `b${i}`));
    await Promise.all(sends);
    await links.settled();
    const stored = memory.lastMessages("busy", 100).map((m) => m.id);
    expect(stored).toHaveLength(40);
    for (const node of [a, b]) {
      const joined = await join(node.service, "zed", "busy");
      expect(joined.lastSeq).toBe(40);
      expect(joined.session.metrics.messageCount).toBe(40);
      expect(joined.messages.map((m) => m.id)).toEqual(stored);
    }
  });

  test("a message whose event never arrived (a gap) is read from storage on the next join, not skipped", async () => {
    const { memory, links, a, b } = await twoNodes();
    await openOn(a, "gap");
    await join(b.service, "bob", "gap");
    await post(a.service, "ann", "gap", "first");
    // A third node commits one and its event is lost on the way.
    memory.append({ id: "lost", sessionId: "gap", userId: "cat", role: "user", kind: "text", content: "lost", createdAt: Date.now() }, () => {});
    memory.flush();
    await post(a.service, "ann", "gap", "third");
    await links.settled();
    const joined = await join(b.service, "dan", "gap");
    expect(joined.messages.map((m) => m.content)).toEqual(["first", "lost", "third"]);
    expect(joined.lastSeq).toBe(3);
    expect(joined.session.metrics.messageCount).toBe(3);
  });

  test("configure on one node is seen on the other, whose running grace period follows the new setting", async () => {
    const { store, links, a, b } = await twoNodes();
    await openOn(a, "g", { endOnDisconnect: { enabled: true, graceSeconds: 30 } });
    await join(b.service, "bob", "g");
    b.service.attach("g", "bob");
    b.service.detach("g", "bob"); // bob's connection was the last one on b: b's grace period runs
    expect(b.service.isEndingOnDisconnect("g")).toBe(true);

    await a.service.run(() => a.service.configure(ann, "g", { config: { topic: "rates" }, members: ["bob"], endOnDisconnect: { graceSeconds: 60 } }));
    await links.settled();
    const reads = store.reads;
    const seen = await b.service.run(() => b.service.get(principal("bob"), "g"));
    expect(store.reads).toBe(reads);
    expect(seen.config).toEqual({ topic: "rates" });
    expect(seen.members).toEqual(["bob"]);
    expect(seen.endOnDisconnect).toEqual({ enabled: true, graceSeconds: 60 });
    expect(b.service.isEndingOnDisconnect("g")).toBe(true); // restarted with the new length

    await a.service.run(() => a.service.configure(ann, "g", { endOnDisconnect: { enabled: false } }));
    await links.settled();
    expect(b.service.isEndingOnDisconnect("g")).toBe(false);
  });

  test("an end on one node: the other refuses writes as session_ended without a read, and joins read its history", async () => {
    const { store, links, a, b } = await twoNodes();
    await openOn(a, "e", { endOnDisconnect: { enabled: true, graceSeconds: 30 } });
    await join(b.service, "bob", "e");
    await post(b.service, "bob", "e", "hello");
    b.service.attach("e", "bob");
    b.service.detach("e", "bob");
    expect(b.service.isEndingOnDisconnect("e")).toBe(true);

    await a.service.run(() => a.service.end(ann, "e"));
    await links.settled();
    const reads = store.reads;
    expect(thrown(() => b.service.append(principal("bob"), "e", { content: "late" }, () => {})).code).toBe("session_ended");
    expect(store.reads).toBe(reads);
    expect(b.service.isEndingOnDisconnect("e")).toBe(false);
    const joined = await join(b.service, "bob", "e");
    expect(joined.session.status).toBe("completed");
    expect(joined.messages.map((m) => m.content)).toEqual(["hello"]);
    expect(b.committed.map((m) => m.content)).toEqual(["hello"]);
  });

  test("an erasure on one node: the other forgets the session, its presence and its grace period", async () => {
    const { links, a, b } = await twoNodes();
    await openOn(a, "x", { endOnDisconnect: { enabled: true, graceSeconds: 30 } });
    await join(b.service, "bob", "x");
    b.service.attach("x", "bob");
    b.service.attach("x", "eve");
    b.service.detach("x", "eve");
    // What the erasing node does (privacy's eraseOne): forget it here, then tell everyone.
    a.service.evict("x");
    a.events.emit("session.erased", { sessionId: "x" });
    await links.settled();
    expect(b.service.isCached("x")).toBe(false);
    expect(b.service.presence.users("x")).toEqual([]);
  });
});

describe("one node", () => {
  test("the Fanout's own events (origin \"local\", InProcessBroker's) leave the cache alone; another origin's update it", () => {
    const { service } = serviceOn(new MemorySessionStore());
    const fanout = new Fanout(new Hub(), service, { slowConsumerBytes: 1 << 20, publish: () => 0, fill: () => [] });
    service.join(ann, { session: "s" });
    const message: Message = { id: "m-x", seq: 1, session: "s", userId: "zoe", role: "user", kind: "text", content: "hi", createdAt: new Date().toISOString() };
    fanout.deliver({ type: "message", message }, "local");
    expect(service.join(ann, { session: "s" }).lastSeq).toBe(0);
    fanout.deliver({ type: "message", message }, "node-2");
    const joined = service.join(ann, { session: "s" });
    expect(joined.lastSeq).toBe(1);
    expect(joined.messages.map((m) => m.content)).toEqual(["hi"]);
  });
});
