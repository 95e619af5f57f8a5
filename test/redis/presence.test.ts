// RedisPresence against a real redis-server: two (or three) RedisPresence objects stand for nodes on one Redis.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { closeRedis, connectRedis, openRedis, type Redis } from "../../src/redis/connection.ts";
import { RedisPresence, type RedisPresenceOptions } from "../../src/redis/presence.ts";
import { startRedis, type RedisEngine } from "../engines/redis.ts";
import { eventually } from "../helpers.ts";

let redis: RedisEngine;
const open: Array<{ conn: Redis; presence: RedisPresence }> = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  for (const { conn, presence } of open.splice(0)) {
    presence.halt();
    await closeRedis(conn);
  }
});
afterAll(async () => {
  await redis.stop();
});

/** A node's presence on its own connection; every node of one test shares `prefix`. */
async function node(nodeId: string, prefix: string, options: Partial<RedisPresenceOptions> = {}): Promise<RedisPresence> {
  const conn = openRedis(redis.url, { name: `test:${nodeId}`, commandTimeoutMs: 2000 });
  await connectRedis(conn, redis.url);
  const presence = new RedisPresence({ redis: conn, nodeId, prefix, ...options });
  open.push({ conn, presence });
  await presence.start();
  return presence;
}
const prefix = () => `test:${crypto.randomUUID()}`;

describe("RedisPresence", () => {
  test("joins once and leaves once across nodes, with connections on both", async () => {
    const p = prefix();
    const a = await node("a", p), b = await node("b", p);
    expect(await a.attach("s1", "u1")).toBe(true); // first connection anywhere
    expect(await b.attach("s1", "u1")).toBe(false); // present already, through node a
    expect(await a.attach("s1", "u1")).toBe(false);
    expect(await a.detach("s1", "u1")).toBe(false);
    expect(await a.detach("s1", "u1")).toBe(false); // a has none left, b still has one
    expect(await a.detach("s1", "u1")).toBe(false); // not attached on a: no effect
    expect(await b.users("s1")).toEqual(["u1"]);
    expect(await b.detach("s1", "u1")).toBe(true); // the last connection on any node
    expect(await a.users("s1")).toEqual([]);
    expect(await a.sessionsOf("u1")).toEqual([]);
  });

  test("two nodes racing for the same users: exactly one of them says joined, and one says left", async () => {
    const p = prefix();
    const a = await node("a", p), b = await node("b", p);
    const users = Array.from({ length: 200 }, (_, i) => `u${i}`);
    const joins = await Promise.all(users.flatMap((u) => [a.attach("s", u), b.attach("s", u)]));
    expect(joins.filter(Boolean)).toHaveLength(users.length);
    for (let i = 0; i < users.length; i++) expect(Number(joins[2 * i]) + Number(joins[2 * i + 1])).toBe(1);
    const leaves = await Promise.all(users.flatMap((u) => [a.detach("s", u), b.detach("s", u)]));
    expect(leaves.filter(Boolean)).toHaveLength(users.length);
    expect(await a.users("s")).toEqual([]);
  });

  test("users(), sessionsOf(), remove() and clear() see every node's connections", async () => {
    const p = prefix();
    const a = await node("a", p), b = await node("b", p);
    await a.attach("s1", "u1");
    await b.attach("s1", "u2");
    await b.attach("s1", "u2");
    await b.attach("s2", "u1");
    await a.attach("s2", "u3");
    expect((await a.users("s1")).sort()).toEqual(["u1", "u2"]);
    expect((await b.sessionsOf("u1")).sort()).toEqual(["s1", "s2"]);

    expect(await a.remove("s1", "u2")).toBe(true); // both of b's connections, from node a
    expect(await a.remove("s1", "u2")).toBe(false);
    expect(await b.users("s1")).toEqual(["u1"]);
    expect(await b.detach("s1", "u2")).toBe(false); // gone already: no second leave

    await b.clear("s2");
    expect(await a.users("s2")).toEqual([]);
    expect(await a.sessionsOf("u1")).toEqual(["s1"]);
    expect(await a.sessionsOf("u3")).toEqual([]);
    expect(await a.attach("s2", "u3")).toBe(true); // cleared means absent: the next connection joins
  });

  test("a node that stops heartbeating has its users cleared within the TTL, onLeft once per user", async () => {
    const p = prefix();
    const ttlMs = 1200;
    const left: string[] = [];
    const onLeft = (s: string, u: string) => void left.push(`${s}/${u}`);
    const dying = await node("dying", p, { ttlMs, onLeft });
    const b = await node("b", p, { ttlMs, onLeft });
    const c = await node("c", p, { ttlMs, onLeft });
    await dying.attach("s1", "u1");
    await dying.attach("s1", "u1");
    await dying.attach("s1", "u2");
    await dying.attach("s2", "u3");
    await dying.attach("s1", "u4");
    await b.attach("s1", "u4"); // also connected through a live node: stays

    dying.halt(); // the process died: no cleanup
    const diedAt = performance.now();
    await eventually(() => left.length === 3, ttlMs + 500, "three users left");
    const clearedMs = performance.now() - diedAt;
    expect(clearedMs).toBeLessThanOrEqual(ttlMs);
    await Bun.sleep(ttlMs / 2); // both live nodes sweep meanwhile: nobody is reported twice
    expect(left.sort()).toEqual(["s1/u1", "s1/u2", "s2/u3"]);
    expect(await c.users("s1")).toEqual(["u4"]);
    expect(await c.users("s2")).toEqual([]);
    console.log(`redis presence: a dead node's users cleared ${clearedMs.toFixed(0)} ms after it died (TTL ${ttlMs} ms)`);
  });

  test("stop() removes this node's entries and reports who thereby left; others' stay", async () => {
    const p = prefix();
    const left: string[] = [];
    const a = await node("a", p, { onLeft: (s, u) => void left.push(`${s}/${u}`) });
    const b = await node("b", p);
    await a.attach("s1", "u1");
    await a.attach("s1", "u2");
    await b.attach("s1", "u2");
    await a.stop();
    expect(left).toEqual(["s1/u1"]);
    expect(await b.users("s1")).toEqual(["u2"]);
  });

  test("after a Redis restart each node puts back its own connections (onRejoined); scripts load again", async () => {
    const p = prefix();
    const rejoined: string[] = [];
    const a = await node("a", p, { ttlMs: 600, onRejoined: (s, u) => void rejoined.push(`${s}/${u}`) });
    const b = await node("b", p, { ttlMs: 600 });
    await a.attach("s1", "u1");
    await a.attach("s1", "u1");
    await b.attach("s1", "u2");
    await a.detach("s1", "u1");
    await redis.restart(); // empty: no persistence
    await eventually(async () => (await a.users("s1").catch(() => [])).length === 2, 10_000, "both users back");
    expect(rejoined).toEqual(["s1/u1"]);
    // a's remaining connection counts once: its detach is the user's last.
    expect(await b.attach("s1", "u1")).toBe(false);
    expect(await a.detach("s1", "u1")).toBe(false);
    expect(await b.detach("s1", "u1")).toBe(true);
    expect(await a.detach("s1", "u2")).toBe(false);
    expect(await b.detach("s1", "u2")).toBe(true);
  }, 20_000);

  test("a script Redis forgot (SCRIPT FLUSH) runs again through EVAL", async () => {
    const p = prefix();
    const a = await node("a", p);
    const admin = openRedis(redis.url, { name: "test:admin" });
    await connectRedis(admin, redis.url);
    await admin.script("FLUSH");
    expect(await a.attach("s1", "u1")).toBe(true);
    expect(await a.detach("s1", "u1")).toBe(true);
    await closeRedis(admin);
  });
});
