// Two nodes sharing a real redis-server: the per-user message rate holds across both (RedisTokenBucket), and
// presence is one across both (RedisPresence): each join and each leave is told by one node only, every node reads
// who is present anywhere synchronously, and the users of a node that died leave.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { closeRedis, connectRedis, openRedis, type Redis } from "../../src/redis/connection.ts";
import { RedisPresence } from "../../src/redis/presence.ts";
import { RedisTokenBucket } from "../../src/redis/rate-limit.ts";
import { principal } from "../../src/sessions/index.ts";
import { MemorySessionStore } from "../../src/sessions/memory-store.ts";
import type { AppendResult } from "../../src/sessions/store.ts";
import { startRedis, type RedisEngine } from "../engines/redis.ts";
import { eventually } from "../helpers.ts";
import { clusterNode, join, later, LinkedBrokers, type ClusterNode, type NodeOptions } from "./cluster-setup.ts";

let redis: RedisEngine;
const conns: Redis[] = [];
const presences: RedisPresence[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  for (const p of presences.splice(0)) p.halt();
  await Promise.all(conns.splice(0).map((c) => closeRedis(c)));
});
afterAll(async () => {
  await redis.stop();
});

async function connection(name: string): Promise<Redis> {
  const conn = openRedis(redis.url, { name, commandTimeoutMs: 2000 });
  await connectRedis(conn, redis.url);
  conns.push(conn);
  return conn;
}

const prefix = () => `test:${crypto.randomUUID()}`;

/** A node whose presence is shared through Redis; RedisPresence's leaves and rejoins are handed to its service. */
async function presenceNode(nodeId: string, store: MemorySessionStore | ReturnType<typeof later>, links: LinkedBrokers, p: string, ttlMs = 30_000, options: NodeOptions = {}) {
  let node: ClusterNode | null = null;
  const presence = new RedisPresence({
    redis: await connection(`test:${nodeId}`),
    nodeId,
    prefix: p,
    ttlMs,
    onLeft: (s, u) => node?.service.presenceLeft(s, u),
    onRejoined: (s, u) => node?.service.presenceRejoined(s, u),
  });
  presences.push(presence);
  node = await clusterNode(nodeId, store, links, { ...options, presence, rules: { defaults: { analysis: { enabled: false, share: "staff" }, assistant: { enabled: false, name: "assistant", trigger: "every" }, endOnDisconnect: { enabled: true, graceSeconds: 30 } } } });
  await presence.start();
  return { node, presence };
}

/** A connection joining as the WebSocket gateway does: the join, then attach, then the reply reads presence. */
async function connect(node: ClusterNode, userId: string, session: string): Promise<string[]> {
  await join(node.service, userId, session);
  node.service.attach(session, userId);
  return node.service.presence.users(session).sort();
}

/** `presence.changed` events told by any of the nodes, as "event user". */
const told = (...nodes: ClusterNode[]) => nodes.flatMap((n) => n.presence.map((e) => `${e.event} ${e.userId}`)).sort();

describe("the message rate across nodes", () => {
  test("one user's budget is shared: 8 messages over two nodes with a bucket of 5 commit 5 in seq order, 3 are rate_limited", async () => {
    const memory = new MemorySessionStore();
    const links = new LinkedBrokers();
    const p = prefix();
    const bucket = async (name: string) => new RedisTokenBucket({ redis: await connection(name), capacity: 5, refillMs: 60_000, prefix: p });
    const a = await clusterNode("a", later(memory), links, { limiter: await bucket("test:rate-a") });
    const b = await clusterNode("b", later(memory), links, { limiter: await bucket("test:rate-b") });
    await join(a.service, "ann", "r");
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        new Promise<{ seq?: number; code?: string }>((resolve) =>
          (i % 2 ? b : a).service.append(principal("ann"), "r", { content: `m${i}` }, (e, r: AppendResult | null) => resolve(e ? { code: e.code } : { seq: r!.message.seq })),
        ),
      ),
    );
    expect(outcomes.filter((o) => o.code === "rate_limited")).toHaveLength(3);
    expect(outcomes.flatMap((o) => (o.seq === undefined ? [] : [o.seq])).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5]);
    expect(memory.lastMessages("r", 10)).toHaveLength(5);
  });
});

describe("presence across nodes", () => {
  test("a join and a leave are told once, by one node; every node reads who is present anywhere; the grace period starts with the last leave anywhere", async () => {
    const memory = new MemorySessionStore();
    const store = later(memory);
    const links = new LinkedBrokers();
    const p = prefix();
    const { node: a } = await presenceNode("a", store, links, p);
    const { node: b } = await presenceNode("b", store, links, p);
    const opened = await a.service.run(() => a.service.open(principal("ann"), { id: "p", access: "open" }));
    await opened.stored;

    expect(await connect(a, "ann", "p")).toEqual(["ann"]);
    await eventually(() => a.presence.length === 1, 2000, "ann's join");
    // b's first join there reads who is present on the other nodes first: its reply names ann too.
    expect(await connect(b, "bob", "p")).toEqual(["ann", "bob"]);
    await eventually(() => a.service.presence.users("p").includes("bob"), 2000, "bob on a");
    await links.settled();
    expect(told(a, b)).toEqual(["join ann", "join bob"]);
    expect(a.presence.map((e) => e.userId)).toEqual(["ann"]); // told by the node whose connection came first
    expect(b.presence.map((e) => e.userId)).toEqual(["bob"]);

    // ann also through b, then gone from a: still present, nothing told.
    expect(await connect(b, "ann", "p")).toEqual(["ann", "bob"]);
    a.service.detach("p", "ann");
    await Bun.sleep(50);
    await links.settled();
    expect(told(a, b)).toEqual(["join ann", "join bob"]);
    expect(b.service.presence.users("p").sort()).toEqual(["ann", "bob"]);
    expect(a.service.isEndingOnDisconnect("p")).toBe(false);

    b.service.detach("p", "ann");
    await eventually(() => told(a, b).length === 3, 2000, "ann's leave");
    expect(told(a, b)).toEqual(["join ann", "join bob", "leave ann"]);
    expect(b.service.presence.users("p")).toEqual(["bob"]);
    expect(b.service.isEndingOnDisconnect("p")).toBe(false); // bob is still there

    b.service.detach("p", "bob");
    await eventually(() => told(a, b).length === 4, 2000, "bob's leave");
    expect(b.service.isEndingOnDisconnect("p")).toBe(true); // nobody present anywhere now
    b.service.suspendEndOnDisconnect();
  });

  test("the users of a node that died leave, told once by the node that found it dead", async () => {
    const store = later(new MemorySessionStore());
    const links = new LinkedBrokers();
    const p = prefix();
    const ttlMs = 600;
    const { node: a } = await presenceNode("a", store, links, p, ttlMs);
    const { node: b, presence: dying } = await presenceNode("b", store, links, p, ttlMs);
    const opened = await a.service.run(() => a.service.open(principal("ann"), { id: "d", access: "open" }));
    await opened.stored;
    await connect(a, "ann", "d");
    await connect(b, "bob", "d");
    await eventually(() => a.service.presence.users("d").includes("bob"), 2000, "bob on a");

    dying.halt(); // b's process died: its heartbeat stops, nothing is cleaned up
    await eventually(() => a.presence.some((e) => e.event === "leave"), ttlMs * 3, "bob's leave");
    await Bun.sleep(ttlMs / 2); // a sweeps again meanwhile: nobody is told twice
    expect(told(a, b)).toEqual(["join ann", "join bob", "leave bob"]);
    expect(a.presence.at(-1)).toEqual({ sessionId: "d", userId: "bob", event: "leave" });
    expect(a.service.presence.users("d")).toEqual(["ann"]);
  });
});
