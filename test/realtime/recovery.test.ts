import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { api, startServer, token, WsClient, type ServerProcess, ON_CLUSTER } from "../helpers.ts";

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({ env: { RATE_LIMIT_MESSAGES_PER_MINUTE: "100000" } });
});
afterAll(async () => {
  await server.stop();
});

async function post(client: WsClient, session: string, n: number, from = 0): Promise<void> {
  await Promise.all(Array.from({ length: n }, (_, i) => client.request({ type: "message", session, content: `m${from + i}` })));
}

describe("recovery", () => {
  test("a client that missed 50 messages rejoins with since = its last seq and gets exactly those 50", async () => {
    const t = await token("rita");
    const writer = await WsClient.connect(server.ws, { token: t });
    await writer.request({ type: "join", session: "recover-50" });
    await post(writer, "recover-50", 10);
    const reader = await WsClient.connect(server.ws, { token: t });
    const joined = await reader.request({ type: "join", session: "recover-50" });
    const lastSeq = joined.messages.at(-1).seq;
    expect(lastSeq).toBe(10);
    await reader.close();
    await post(writer, "recover-50", 50, 10);
    const back = await WsClient.connect(server.ws, { token: t });
    const rejoined = await back.request({ type: "join", session: "recover-50", since: lastSeq });
    expect(rejoined.messages.map((m: any) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => 11 + i));
    expect(rejoined.truncated).toBeUndefined();
    const none = await back.request({ type: "join", session: "recover-50", since: 60 });
    expect(none.messages).toEqual([]);
    await Promise.all([writer.close(), back.close()]);
  });

  test("with 1,005 messages the window holds the last 1,000 and since: 0 still returns all 1,005 from SQLite", async () => {
    const t = await token("wanda");
    const c = await WsClient.connect(server.ws, { token: t });
    await c.request({ type: "join", session: "big" });
    for (let i = 0; i < 1005; i += 201) await post(c, "big", Math.min(201, 1005 - i), i);
    const plain = await c.request({ type: "join", session: "big", limit: 5000 });
    expect(plain.messages).toHaveLength(1000);
    expect(plain.messages[0].seq).toBe(6);
    const all = await c.request({ type: "join", session: "big", since: 0 });
    expect(all.messages.map((m: any) => m.seq)).toEqual(Array.from({ length: 1005 }, (_, i) => i + 1));
    expect(all.messages[0].content).toBe("m0");
    const tail = await c.request({ type: "join", session: "big", since: 3 });
    expect(tail.messages).toHaveLength(1002);
    // The admin stats count one node's cache: on a cluster, not necessarily the node that served these joins.
    if (!ON_CLUSTER) {
      const stats = await api(server.http, "GET", "/api/admin/stats", { token: await token("root", { admin: true }) });
      expect(stats.body.cache.windowMessages).toBeGreaterThanOrEqual(1000);
    }
    await c.close();
  });

  test("a default join returns the last 100 messages", async () => {
    const c = await WsClient.connect(server.ws, { token: await token("wanda") });
    const j = await c.request({ type: "join", session: "big" });
    expect(j.messages).toHaveLength(100);
    expect(j.messages.at(-1).seq).toBe(1005);
    await c.close();
  });
});

describe("presence", () => {
  // Single node only: its ping-as-barrier assumes presence is told in the same turn; across nodes it comes through the broker (tested in test/cluster/).
  test.skipIf(ON_CLUSTER)("a user with two connections joins once and leaves when the last connection goes", async () => {
    const watcher = await WsClient.connect(server.ws, { token: await token("olive") });
    await watcher.request({ type: "join", session: "pres" });
    await watcher.request({ type: "configure", session: "pres", access: "open" });
    const t = await token("paul");
    const p1 = await WsClient.connect(server.ws, { token: t });
    const p2 = await WsClient.connect(server.ws, { token: t });
    const j1 = await p1.request({ type: "join", session: "pres" });
    expect(j1.participants.sort()).toEqual(["olive", "paul"]);
    await p2.request({ type: "join", session: "pres" });
    await p1.close();
    await watcher.request({ type: "ping" });
    await p2.request({ type: "leave", session: "pres" });
    await watcher.request({ type: "ping" });
    const presence = watcher.frames.filter((f) => f.type === "presence" && f.userId === "paul");
    expect(presence.map((f) => f.event)).toEqual(["join", "leave"]);
    await Promise.all([watcher.close(), p2.close()]);
  });
});
