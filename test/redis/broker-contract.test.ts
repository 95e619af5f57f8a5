// The Redis broker against the shared broker contract (the in-process one runs it in test/realtime/broker.test.ts).
import { afterAll, beforeAll } from "bun:test";
import { RedisBroker } from "../../src/redis/broker.ts";
import { describeBroker } from "../contract/broker.ts";
import { startRedis, type RedisEngine } from "../engines/redis.ts";

let redis: RedisEngine;
let cluster = 0;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

describeBroker(
  "Redis",
  async (nodes) => {
    // A channel per case: nothing from an earlier case reaches this one.
    const channel = `contract:${++cluster}`;
    const brokers = Array.from({ length: nodes }, (_, i) => new RedisBroker({ url: redis.url, nodeId: `node-${i}`, channel }));
    return { brokers, close: async () => void (await Promise.all(brokers.map((b) => b.stop()))) };
  },
  { nodes: 3 },
);
