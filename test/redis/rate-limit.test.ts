// RedisTokenBucket against a real redis-server: two instances stand for two nodes sharing one bucket per key.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { TokenBucketLimiter } from "../../src/auth/token-bucket.ts";
import { closeRedis, connectRedis, openRedis, type Redis } from "../../src/redis/connection.ts";
import { RedisTokenBucket } from "../../src/redis/rate-limit.ts";
import { startRedis, type RedisEngine } from "../engines/redis.ts";
import { eventually } from "../helpers.ts";

let redis: RedisEngine;
let connA: Redis, connB: Redis;
beforeAll(async () => {
  redis = await startRedis();
  connA = openRedis(redis.url, { name: "test:a", commandTimeoutMs: 2000 });
  connB = openRedis(redis.url, { name: "test:b", commandTimeoutMs: 2000 });
  await Promise.all([connectRedis(connA, redis.url), connectRedis(connB, redis.url)]);
});
afterAll(async () => {
  await Promise.all([closeRedis(connA), closeRedis(connB)]);
  await redis.stop();
});

const pair = (capacity: number, refillMs: number) => {
  const prefix = `test:${crypto.randomUUID()}`;
  return [new RedisTokenBucket({ redis: connA, capacity, refillMs, prefix }), new RedisTokenBucket({ redis: connB, capacity, refillMs, prefix }), prefix] as const;
};

describe("RedisTokenBucket", () => {
  test("two nodes share one bucket: a burst of N across both, the N+1th refused with the wait for one token", async () => {
    const [a, b] = pair(5, 1000);
    const now = 1_000_000;
    expect(await Promise.all([a.take("u1", now), b.take("u1", now), a.take("u1", now), b.take("u1", now), a.take("u1", now)])).toEqual([0, 0, 0, 0, 0]);
    expect(await b.take("u1", now)).toBe(200); // 1 token per 200 ms
    expect(await a.take("u1", now + 150)).toBe(50);
    expect(await b.take("u1", now + 200)).toBe(0);
    expect(await a.take("u2", now)).toBe(0); // another key, another bucket
    expect(a.refused + b.refused).toBe(2);
  });

  test("concurrent takes from both nodes are atomic: exactly `capacity` of 40 pass", async () => {
    const [a, b] = pair(10, 60_000);
    const now = Date.now();
    const waits = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).take("u", now)));
    expect(waits.filter((w) => w === 0)).toHaveLength(10);
  });

  test("the same answers as the in-process TokenBucketLimiter for a mixed run of takes and refunds on two nodes", async () => {
    const [a, b] = pair(4, 2000);
    const local = new TokenBucketLimiter({ capacity: 4, refillMs: 2000 });
    let now = 5_000_000;
    let seed = 7;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const got: number[] = [], want: number[] = [];
    for (let i = 0; i < 300; i++) {
      now += Math.floor(random() * 400);
      const node = random() < 0.5 ? a : b;
      if (random() < 0.2) {
        await node.refund("k");
        local.refund("k");
      } else {
        got.push(await node.take("k", now));
        want.push(local.take("k", now));
      }
    }
    expect(got).toEqual(want);
    expect(want.filter((w) => w > 0).length).toBeGreaterThan(10); // the run did hit the limit
  });

  test("refund gives a token back; refunding a full bucket adds nothing", async () => {
    const [a, b] = pair(2, 10_000);
    const now = Date.now();
    await a.refund("u"); // full (no key): nothing to give back
    expect(await a.take("u", now)).toBe(0);
    expect(await b.take("u", now)).toBe(0);
    expect(await a.take("u", now)).toBe(5000);
    await b.refund("u");
    expect(await a.take("u", now)).toBe(0);
    expect(await b.take("u", now)).toBe(5000);
  });

  test("a bucket's key expires once it would be full again", async () => {
    const [a, , prefix] = pair(2, 300);
    await a.take("u", Date.now());
    const ttl = await connA.pttl(`${prefix}:u`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(150); // one token of two, refilled in 150 ms
    await eventually(async () => (await connA.exists(`${prefix}:u`)) === 0, 2000, "the key to expire");
    await a.take("u", Date.now());
    await a.refund("u"); // full again: the key goes at once
    expect(await connA.exists(`${prefix}:u`)).toBe(0);
  });

  test("after SCRIPT FLUSH the script runs again through EVAL", async () => {
    const [a] = pair(1, 60_000);
    await connA.script("FLUSH");
    expect(await a.take("u", 1)).toBe(0);
    expect(await a.take("u", 1)).toBe(60_000);
  });

  test("Redis unreachable: take allows by default (counted, reported) or refuses when told to, and never rejects", async () => {
    const dead = openRedis("redis://127.0.0.1:1", { name: "test:dead" }); // never connected: commands fail at once
    const errors: string[] = [];
    const allow = new RedisTokenBucket({ redis: dead, capacity: 10, refillMs: 1000, onError: (e) => void errors.push(e.message) });
    const refuse = new RedisTokenBucket({ redis: dead, capacity: 10, refillMs: 1000, whenUnavailable: "refuse" });
    expect(await allow.take("u", 0)).toBe(0);
    expect(await refuse.take("u", 0)).toBe(100);
    await allow.refund("u");
    expect(allow.failures).toBe(2);
    expect(errors).toHaveLength(2);
    dead.disconnect();
  });
});
