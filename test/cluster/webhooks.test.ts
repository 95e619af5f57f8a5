// Webhooks with two real nodes on one PostgreSQL and one Redis: every event of every session is delivered once,
// signed, in commit order per session, whichever node committed it; one node sends at a time, and when it is
// killed the other takes over with nothing lost; the admin view answers the same on every node.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { api, token, WsClient } from "../helpers.ts";
import { startReceiver, WEBHOOK_TEST_SECRET, type Receiver } from "../integrations/receiver.ts";
import { startCluster, type Cluster } from "./setup.ts";

let cluster: Cluster;
let rx: Receiver;
beforeAll(async () => {
  rx = startReceiver();
  cluster = await startCluster({
    nodes: 2,
    env: {
      WEBHOOK_URLS: rx.url,
      WEBHOOK_SECRET: WEBHOOK_TEST_SECRET,
      WEBHOOK_RETRY_BASE_MS: "20",
      WEBHOOK_EVENTS: "session.started,session.ended,participant.joined,message.created",
      RATE_LIMIT_MESSAGES_PER_MINUTE: "100000",
    },
  });
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
  rx?.stop();
});

const wsOf = (i: number) => cluster.nodes[i]!.http.replace(/^http/, "ws") + "/ws";
const sessionOf = (r: { body: any }) => r.body?.data?.session?.id ?? r.body?.data?.session;
const eventsOf = (id: string) => rx.received.filter((r) => sessionOf(r) === id);

/** A session opened and written on node `i`, ended through node `endOn`; resolves once its session.ended arrived. */
async function lifeOf(id: string, i: number, endOn: number, messages = 4): Promise<void> {
  const c = await WsClient.connect(wsOf(i), { token: await token(`u-${id}`) });
  await c.request({ type: "join", session: id });
  for (let k = 1; k <= messages; k++) expect((await c.request({ type: "message", session: id, content: `m${k}` })).type).toBe("ack");
  await c.close();
  const ended = await api(cluster.nodes[endOn]!.http, "POST", `/api/sessions/${id}/end`, { token: await token(`u-${id}`), body: {} });
  expect(ended.status).toBe(200);
  await rx.waitFor((r) => r.body?.type === "session.ended" && sessionOf(r) === id, 1, 20_000);
}

const LIFE = ["session.started", "participant.joined", "message.created", "message.created", "message.created", "message.created", "session.ended"];

describe("webhooks across nodes", () => {
  test("sessions written on either node: each event once, verified, in commit order per session", async () => {
    const ids = ["w-0", "w-1", "w-2", "w-3", "w-4", "w-5"];
    await Promise.all(ids.map((id, k) => lifeOf(id, k % 2, (k + 1) % 2)));
    for (const id of ids) {
      const got = eventsOf(id);
      expect(got.map((r) => r.body.type)).toEqual(LIFE);
      expect(got.every((r) => r.verified)).toBe(true);
      expect(got.filter((r) => r.body.type === "message.created").map((r) => r.body.data.message.seq)).toEqual([1, 2, 3, 4]);
    }
    // Once each: no event was sent by both nodes.
    const all = rx.received.map((r) => r.id);
    expect(new Set(all).size).toBe(all.length);
    // Either node's admin view reads the same deliveries from the database.
    const admin = await token("root", { admin: true });
    for (const node of cluster.nodes) {
      const page = await api(node.http, "GET", "/api/admin/webhooks/deliveries?session=w-3&limit=50", { token: admin });
      expect(page.status).toBe(200);
      expect(page.body.deliveries.map((d: { status: string }) => d.status)).toEqual(LIFE.map(() => "delivered"));
    }
  }, 60_000);

  test("the sending node killed: the other one takes over and delivers what is recorded, nothing lost", async () => {
    // Whichever node holds the lease, killing each in turn kills the sender once.
    for (const dead of [0, 1]) {
      const alive = 1 - dead;
      await cluster.killNode(dead);
      await lifeOf(`k-${dead}`, alive, alive, 2);
      expect(eventsOf(`k-${dead}`).map((r) => r.body.type)).toEqual(["session.started", "participant.joined", "message.created", "message.created", "session.ended"]);
      await cluster.restartNode(dead);
    }
    // Recorded after the kill, so neither node had started sending them: each arrived once.
    const mine = rx.received.filter((r) => String(sessionOf(r)).startsWith("k-")).map((r) => r.id);
    expect(new Set(mine).size).toBe(mine.length);
  }, 120_000);
});
