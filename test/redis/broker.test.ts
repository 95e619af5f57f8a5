// RedisBroker against a real redis-server: two brokers stand for two nodes on one Redis.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openRedis, connectRedis, closeRedis } from "../../src/redis/connection.ts";
import { RedisBroker, type RedisBrokerProblem } from "../../src/redis/broker.ts";
import type { Message } from "../../src/protocol/types.ts";
import type { BrokerEvent, BrokerHandler } from "../../src/sessions/broker.ts";
import { startRedis, type RedisEngine } from "../engines/redis.ts";
import { eventually } from "../helpers.ts";

let redis: RedisEngine;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

/** A handler that records what it hears, as `origin:n` strings, and how often the link came back. */
function recorder() {
  const heard: Array<{ origin: string; event: BrokerEvent }> = [];
  let resubscribed = 0;
  const handler: BrokerHandler = {
    deliver: (event, origin) => heard.push({ origin, event }),
    resubscribed: () => void resubscribed++,
  };
  return { handler, heard, resubscribedCount: () => resubscribed };
}

const frame = (n: number): BrokerEvent => ({ type: "frame", sessionId: "s1", frame: { type: "test", n } });
const numbersFrom = (heard: Array<{ origin: string; event: BrokerEvent }>, origin: string) =>
  heard.filter((h) => h.origin === origin && h.event.type === "frame").map((h) => (h.event as { frame: { n?: unknown } }).frame.n as number);

describe("RedisBroker", () => {
  test("two nodes each hear both nodes' 2,000 events, each node's in its publish order, the publisher its own too", async () => {
    const channel = `test:${crypto.randomUUID()}`;
    const a = new RedisBroker({ url: redis.url, nodeId: "node-a", channel });
    const b = new RedisBroker({ url: redis.url, nodeId: "node-b", channel });
    const ra = recorder(), rb = recorder();
    await a.start(ra.handler);
    await b.start(rb.handler);
    expect(a.healthy() && b.healthy()).toBe(true);

    const n = 2_000;
    const started = performance.now();
    for (let i = 0; i < n; i++) {
      a.publish(frame(i));
      b.publish(frame(i));
    }
    await eventually(() => ra.heard.length === 2 * n && rb.heard.length === 2 * n, 10_000, "every event on both nodes");
    const ms = performance.now() - started;
    const order = Array.from({ length: n }, (_, i) => i);
    for (const r of [ra, rb]) {
      expect(numbersFrom(r.heard, "node-a")).toEqual(order);
      expect(numbersFrom(r.heard, "node-b")).toEqual(order);
    }
    // Both nodes see one and the same interleaving: Redis orders the channel.
    expect(ra.heard.map((h) => h.origin)).toEqual(rb.heard.map((h) => h.origin));
    expect(a.published).toBe(n);
    expect(a.publishFailures).toBe(0);
    console.log(`redis broker: ${2 * n} events published, each heard by 2 nodes, in ${ms.toFixed(0)} ms`);
    await a.stop();
    await b.stop();
    expect(a.healthy()).toBe(false);
    a.publish(frame(-1)); // after stop: nothing, no throw
  });

  test("the event crosses as it was published: a message (non-ASCII content), a session change, a staff frame", async () => {
    const channel = `test:${crypto.randomUUID()}`;
    const a = new RedisBroker({ url: redis.url, nodeId: "a", channel });
    const ra = recorder();
    await a.start(ra.handler);
    const events: BrokerEvent[] = [
      { type: "message", message: { id: "m1", seq: 1, session: "s1", userId: "u1", role: "user", kind: "text", content: "héllo ✓", clientMsgId: "c1", createdAt: "2025-01-01T00:00:00.000Z" } as Message },
      { type: "session", change: "erased", sessionId: "s1" },
      { type: "frame", sessionId: "s1", frame: { type: "presence", users: ["u1"] }, audience: "staff" },
    ];
    for (const e of events) a.publish(e);
    await eventually(() => ra.heard.length === events.length, 10_000, "three events");
    expect(ra.heard.map((h) => h.event)).toEqual(events);
    expect(ra.heard.every((h) => h.origin === "a")).toBe(true);
    await a.stop();
  });

  test("Redis restart: healthy() false during the outage, publish does not throw, resubscribed() once back, events flow again", async () => {
    const channel = `test:${crypto.randomUUID()}`;
    const problems: RedisBrokerProblem[] = [];
    const onError = (what: RedisBrokerProblem) => void problems.push(what);
    const a = new RedisBroker({ url: redis.url, nodeId: "a", channel, maxBackoffMs: 100, onError });
    const b = new RedisBroker({ url: redis.url, nodeId: "b", channel, maxBackoffMs: 100, onError });
    const ra = recorder(), rb = recorder();
    await a.start(ra.handler);
    await b.start(rb.handler);
    a.publish(frame(1));
    await eventually(() => rb.heard.length === 1, 10_000, "the first event");

    // Stop Redis by hand (restart() would bring it back at once): the outage lasts while we look.
    await redis.stop();
    await eventually(() => !a.healthy() && !b.healthy(), 10_000, "both links reported down");
    for (let i = 0; i < 100; i++) expect(() => a.publish(frame(1000 + i))).not.toThrow();
    await eventually(() => a.publishFailures === 100, 10_000, "publishes during the outage counted as failures");
    expect(problems.filter((p) => p === "publish")).toHaveLength(1); // the first of the run, the rest counted

    await redis.restart();
    await eventually(() => ra.resubscribedCount() === 1 && rb.resubscribedCount() === 1, 10_000, "resubscribed() on both nodes");
    // The publishing connection reconnects on its own schedule: healthy() waits for both.
    await eventually(() => a.healthy() && b.healthy(), 10_000, "both links healthy again");
    a.publish(frame(2));
    b.publish(frame(3));
    await eventually(() => rb.heard.length === 3 && ra.heard.length === 3, 10_000, "events after the restart");
    expect(numbersFrom(rb.heard, "a")).toEqual([1, 2]);
    expect(numbersFrom(ra.heard, "b")).toEqual([3]);
    expect(a.resubscriptions).toBe(1);
    await a.stop();
    await b.stop();
  }, 30_000);

  test("an event that is not ours is reported without its text and skipped; a throwing handler does not stop the next event", async () => {
    const channel = `test:${crypto.randomUUID()}`;
    const reports: Array<{ what: RedisBrokerProblem; message: string }> = [];
    const a = new RedisBroker({ url: redis.url, nodeId: "a", channel, onError: (what, e) => void reports.push({ what, message: e.message }) });
    let calls = 0;
    await a.start({
      deliver: () => {
        if (++calls === 1) throw new Error("boom");
      },
    });
    const raw = openRedis(redis.url, { name: "test:raw" });
    await connectRedis(raw, redis.url);
    await raw.publish(channel, "secret-words not json");
    await raw.publish(channel, JSON.stringify({ nothing: true }));
    a.publish(frame(1));
    a.publish(frame(2));
    await eventually(() => calls === 2, 10_000, "both real events handled");
    expect(reports.map((r) => r.what)).toEqual(["malformed", "malformed", "handler"]);
    expect(JSON.stringify(reports)).not.toContain("secret");
    await closeRedis(raw);
    await a.stop();
  });

  test("start fails with unavailable and a sentence when Redis does not answer", async () => {
    const broker = new RedisBroker({ url: "redis://127.0.0.1:1", connectTimeoutMs: 300 });
    const error = await broker.start(recorder().handler).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "unavailable", message: "Redis at 127.0.0.1:1 did not answer within 300 ms." });
    expect(broker.healthy()).toBe(false);
  });

  test("stop() leaves no open handles: a process that starts, publishes and stops a broker exits by itself", async () => {
    const script = join(import.meta.dir, "fixtures", "broker-exits.ts");
    const started = performance.now();
    const child = Bun.spawn([process.execPath, script], { env: { ...process.env, REDIS_URL: redis.url }, stdout: "pipe", stderr: "pipe" });
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const code = await child.exited;
    clearTimeout(timer);
    expect({ code, out: (await new Response(child.stdout).text()).trim(), err: (await new Response(child.stderr).text()).trim() }).toEqual({ code: 0, out: "heard 10", err: "" });
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
