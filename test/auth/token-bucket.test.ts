import { expect, test } from "bun:test";
import { TokenBucketLimiter } from "../../src/auth/token-bucket.ts";
import { parseTtl } from "../../src/auth/tokens.ts";

test("the (N+1)th request of a burst is refused with the time until a token returns", () => {
  const b = new TokenBucketLimiter({ capacity: 100, refillMs: 60_000 });
  for (let i = 0; i < 100; i++) expect(b.take("u", 0)).toBe(0);
  const wait = b.take("u", 0);
  expect(wait).toBe(600);
  expect(b.take("u", 600)).toBe(0);
  expect(b.take("other", 0)).toBe(0);
});

test("a refund gives the token back", () => {
  const b = new TokenBucketLimiter({ capacity: 1, refillMs: 1000 });
  expect(b.take("u", 0)).toBe(0);
  b.refund("u");
  expect(b.take("u", 0)).toBe(0);
  expect(b.take("u", 0)).toBeGreaterThan(0);
});

test("memory stays bounded: full buckets are dropped once the key limit is reached", () => {
  const b = new TokenBucketLimiter({ capacity: 5, refillMs: 1000, maxKeys: 100 });
  for (let i = 0; i < 1000; i++) b.take(`k${i}`, i * 1000);
  expect(b.size).toBeLessThanOrEqual(100);
});

test("ttl parsing accepts s, m, h, d and rejects nonsense", () => {
  expect(parseTtl("90s")).toBe(90);
  expect(parseTtl("30m")).toBe(1800);
  expect(parseTtl("1h")).toBe(3600);
  expect(parseTtl("7d")).toBe(604800);
  expect(parseTtl("0")).toBeNull();
  expect(parseTtl("soon")).toBeNull();
});
