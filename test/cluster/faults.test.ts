// Faults of a real two-node cluster: a node killed with -9 under load (clients move on with the SDK's URL list and
// lose nothing acked), Redis restarted under load (gaps filled from PostgreSQL: nothing lost, nothing twice),
// PostgreSQL unreachable (sends fail with `internal` and a sentence, /health unhealthy, recovery once it is back),
// a dead node's presence cleared within 30 s, and one expiry per idle session.
import { afterEach, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { connect } from "../../src/client/index.ts";
import { api, eventually, token, WsClient, type Frame } from "../helpers.ts";
import { startCluster, type Cluster } from "./setup.ts";

let cluster: Cluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

const wsOf = (c: Cluster, i: number) => c.nodes[i]!.http.replace(/^http/, "ws") + "/ws";
async function on(c: Cluster, i: number, user: string, session: string, join: Frame = {}): Promise<WsClient> {
  const client = await WsClient.connect(wsOf(c, i), { token: await token(user) });
  const joined = await client.request({ type: "join", session, ...join });
  expect({ node: i, ...joined }).toMatchObject({ type: "joined" });
  return client;
}
/** Opens `session` to everyone (its owner joins first, on node 0, and sets access open). */
async function open(c: Cluster, session: string, owner = "host"): Promise<void> {
  const client = await on(c, 0, owner, session);
  expect((await client.request({ type: "configure", session, access: "open" })).type).toBe("configured");
  await client.close();
}
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);

describe("a node killed with -9", () => {
  test("under load, SDK clients move to the other node's URL and every acked message is kept, each once", async () => {
    cluster = await startCluster({ nodes: 2, env: { RATE_LIMIT_MESSAGES_PER_MINUTE: "1000000" } });
    const urls = cluster.nodeUrls();
    const session = "f-kill";
    await open(cluster, session, "kwriter");
    const writer = connect({ url: urls, getToken: () => token("kwriter"), reconnect: { baseMs: 50, capMs: 300 } });
    const reader = connect({ url: [urls[1]!, urls[0]!], getToken: () => token("kreader"), reconnect: { baseMs: 50, capMs: 300 } });
    const [w, r] = await Promise.all([writer.join(session), reader.join(session)]);
    const received: number[] = [];
    r.on("message", (m) => received.push(m.seq));
    const acked: number[] = [];
    const failed: unknown[] = [];
    const sends: Promise<void>[] = [];
    for (let k = 0; k < 200; k++) {
      sends.push(
        w.send(`k${k}`).then(
          (m) => void acked.push(m.seq),
          (e) => void failed.push(e),
        ),
      );
      if (k === 80) await cluster.killNode(0);
      await Bun.sleep(5);
    }
    await Promise.all(sends);
    expect(failed).toEqual([]);
    expect(acked).toHaveLength(200);
    await eventually(() => received.length >= 200, 20_000, "every message at the reader");
    const sorted = [...received].sort((a, b) => a - b);
    expect(received).toEqual(sorted);
    expect(new Set(received).size).toBe(received.length);
    for (const seq of acked) expect(received).toContain(seq);
    const stored = await api(urls[1]!, "GET", `/api/sessions/${session}/messages?limit=500`, { token: await token("kwriter") });
    expect(stored.body.messages.map((m: Frame) => m.content).sort()).toEqual(range(0, 199).map((k) => `k${k}`).sort());
    writer.close();
    reader.close();
  }, 90_000);

  test("its users' presence is cleared for the other node's subscribers within 30 s", async () => {
    cluster = await startCluster({ nodes: 2 });
    const session = "f-presence";
    await open(cluster, session);
    const watcher = await on(cluster, 1, "watcher", session);
    await on(cluster, 0, "doomed", session);
    await watcher.waitFor((f) => f.type === "presence" && f.userId === "doomed" && f.event === "join");
    const killedAt = Date.now();
    await cluster.killNode(0);
    await watcher.waitFor((f) => f.type === "presence" && f.userId === "doomed" && f.event === "leave", 32_000);
    expect(Date.now() - killedAt).toBeLessThanOrEqual(30_000);
    await watcher.close();
  }, 90_000);
});

test("a Redis restart under load: every subscriber on both nodes gets every acked message once, in order", async () => {
  cluster = await startCluster({ nodes: 2, env: { RATE_LIMIT_MESSAGES_PER_MINUTE: "1000000" } });
  const session = "f-redis";
  await open(cluster, session);
  const readers = [await on(cluster, 0, "r0", session), await on(cluster, 1, "r1", session)];
  const writers = [await on(cluster, 0, "w0", session), await on(cluster, 1, "w1", session)];
  const acked: number[] = [];
  const writing = writers.map(async (w, i) => {
    for (let k = 0; k < 150; k++) {
      const reply = await w.request({ type: "message", session, content: `w${i}-${k}` });
      if (reply.type === "ack") acked.push(reply.seq);
      await Bun.sleep(3);
    }
  });
  await Bun.sleep(100);
  await cluster.restartRedis();
  await Promise.all(writing);
  expect(acked.length).toBe(300);
  // The next message after the outage makes each node check its order against PostgreSQL (and recheck timers do).
  await writers[0]!.request({ type: "message", session, content: "after" });
  const total = Math.max(...acked) + 1;
  for (const reader of readers) {
    await eventually(() => reader.messages(session).length >= total, 20_000, "every message after the gap fill");
    expect(reader.messages(session).map((m) => m.seq)).toEqual(range(1, total));
  }
}, 90_000);

test("PostgreSQL unreachable: sends fail with internal and a sentence, nothing is acked, /health is unhealthy; all works once it is back", async () => {
  cluster = await startCluster({ nodes: 2, env: { DB_RETRY_MS: "300" } });
  const session = "f-pg";
  const client = await on(cluster, 0, "pgu", session);
  expect((await client.request({ type: "message", session, content: "before" })).seq).toBe(1);
  await cluster.postgres.kill();
  const refused = await client.request({ type: "message", session, content: "while down", clientMsgId: "down-1" });
  expect(refused).toMatchObject({ type: "error", code: "internal" });
  expect(refused.message).toMatch(/database/i);
  await eventually(
    async () => {
      const res = await fetch(`${cluster!.nodes[0]!.http}/health`);
      const body = await res.json();
      return res.status === 503 && body.status === "unhealthy" && body.checks.database === false;
    },
    10_000,
    "/health unhealthy for the database",
  );
  await cluster.postgres.restart();
  await eventually(async () => (await fetch(`${cluster!.nodes[0]!.http}/health`)).status === 200, 15_000, "/health healthy again");
  let back: Frame | null = null;
  await eventually(
    async () => {
      back = await client.request({ type: "message", session, content: "while down", clientMsgId: "down-1" });
      return back.type === "ack";
    },
    10_000,
    "a send that lands",
  );
  expect(back!.seq).toBe(2);
  const stored = await api(cluster.nodes[1]!.http, "GET", `/api/sessions/${session}/messages`, { token: await token("pgu") });
  expect(stored.body.messages.map((m: Frame) => m.content)).toEqual(["before", "while down"]);
  await client.close();
}, 90_000);

test("an idle session expires once: exactly one node ends it and every subscriber on both nodes gets session.status once", async () => {
  cluster = await startCluster({ nodes: 2, env: { SESSION_EXPIRY_SECONDS: "2", SESSION_SWEEP_INTERVAL_SECONDS: "1" } });
  const session = "f-expiry";
  await open(cluster, session);
  const subscribers = [await on(cluster, 0, "e0", session), await on(cluster, 1, "e1", session), await on(cluster, 1, "e2", session)];
  await subscribers[0]!.request({ type: "message", session, content: "then silence" });
  for (const s of subscribers) await s.waitFor((f) => f.type === "session.status" && f.session === session, 15_000);
  await Bun.sleep(2500);
  for (const s of subscribers) {
    expect(s.frames.filter((f) => f.type === "session.status" && f.session === session).map((f) => f.status)).toEqual(["expired"]);
  }
  const sql = new SQL({ url: cluster.postgres.url, max: 1 });
  expect((await sql`SELECT status FROM sessions WHERE id = ${session}`).map((r: { status: string }) => r.status)).toEqual(["expired"]);
  await sql.close();
  const ended = cluster.nodes.flatMap((n) => n.logs.filter((l) => l.includes('"session.ended"') && l.includes(session)));
  expect(ended).toHaveLength(1);
  await Promise.all(subscribers.map((s) => s.close()));
}, 60_000);
