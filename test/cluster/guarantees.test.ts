// Three real nodes on one PostgreSQL and one Redis: every guarantee of one node holds across them — seqs assigned
// in the database without gaps, idempotent retries on any node, every subscriber on every node receiving every
// message once and in order, recovery on another node, session changes and lost access everywhere at once,
// presence counted across nodes, and one message rate limit per user.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { startFakeOpenAI, type FakeOpenAI } from "../fixtures/fake-openai.ts";
import { api, eventually, SseClient, token, WsClient, type Frame } from "../helpers.ts";
import { startCluster, type Cluster } from "./setup.ts";

let cluster: Cluster;
let model: FakeOpenAI;
beforeAll(async () => {
  model = startFakeOpenAI();
  cluster = await startCluster({
    nodes: 3,
    env: { RATE_LIMIT_MESSAGES_PER_MINUTE: "200", ROOM_ACCESS_DEFAULT: "open", AI_BASE_URL: model.url, AI_MODEL: "fake-model" },
  });
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
  await model?.stop();
});

const wsOf = (i: number) => cluster.nodes[i]!.http.replace(/^http/, "ws") + "/ws";

/** A client of `user` connected to node `i` (not through the balancer), joined to `session`. */
async function on(i: number, user: string, session: string, join: Frame = {}): Promise<{ client: WsClient; joined: Frame }> {
  const client = await WsClient.connect(wsOf(i), { token: await token(user) });
  const joined = await client.request({ type: "join", session, ...join });
  expect(joined).toMatchObject({ type: "joined" });
  return { client, joined };
}

/** Opens `session` (its owner joins first, on node 0) to everyone: access open. */
async function open(session: string, owner = "host"): Promise<void> {
  const { client } = await on(0, owner, session);
  const reply = await client.request({ type: "configure", session, access: "open" });
  expect(reply.type).toBe("configured");
  await client.close();
}

const seqs = (c: WsClient, session: string) => c.messages(session).map((m) => m.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);

describe("seq and commit", () => {
  test("senders on three nodes writing to one session get seqs 1..N without a gap; every subscriber on every node gets all N once, in order", async () => {
    const session = "c-seq";
    await open(session);
    const clients = await Promise.all([0, 1, 2].map((i) => on(i, `writer${i}`, session).then((r) => r.client)));
    const perNode = 60;
    const acks = await Promise.all(
      clients.map((c, i) => Promise.all(Array.from({ length: perNode }, (_, k) => c.request({ type: "message", session, content: `n${i}-${k}` })))),
    );
    const all = acks.flat().map((a) => a.seq).sort((a, b) => a - b);
    expect(all).toEqual(range(1, 3 * perNode));
    // One sender's acks follow its send order.
    for (const mine of acks) expect(mine.map((a) => a.seq)).toEqual([...mine.map((a) => a.seq)].sort((a, b) => a - b));
    for (const c of clients) {
      await eventually(() => c.messages(session).length >= 3 * perNode, 10_000, "every message on every node");
      expect(seqs(c, session)).toEqual(range(1, 3 * perNode));
    }
    await Promise.all(clients.map((c) => c.close()));
  });

  test("the same clientMsgId sent to node A and node B gives one row and two equal acks", async () => {
    const session = "c-idem";
    const [a, b] = await Promise.all([on(0, "idem", session), on(1, "idem", session)]);
    const frame = { type: "message", session, content: "once", clientMsgId: "same-id" };
    const [ackA, ackB] = await Promise.all([a.client.request(frame), b.client.request(frame)]);
    expect(ackA.type).toBe("ack");
    expect(ackB.type).toBe("ack");
    expect(ackB.seq).toBe(ackA.seq);
    expect(ackB.messageId ?? ackB.message?.id).toBe(ackA.messageId ?? ackA.message?.id);
    const stored = await api(cluster.http, "GET", `/api/sessions/${session}/messages`, { token: await token("idem") });
    expect(stored.body.messages.filter((m: Frame) => m.clientMsgId === "same-id")).toHaveLength(1);
    await Promise.all([a.client.close(), b.client.close()]);
  });
});

describe("recovery on any node", () => {
  test("a client that was on node A reconnects to node B with since and gets exactly what it missed", async () => {
    const session = "c-recover";
    await open(session);
    const reader = await on(0, "reader", session);
    const writer = await on(2, "writer", session);
    for (let k = 0; k < 5; k++) await writer.client.request({ type: "message", session, content: `before-${k}` });
    await eventually(() => reader.client.messages(session).length === 5, 5000, "the first five on node A");
    const lastSeq = reader.client.messages(session).at(-1)!.seq;
    await reader.client.close();
    for (let k = 0; k < 7; k++) await writer.client.request({ type: "message", session, content: `missed-${k}` });
    const again = await on(1, "reader", session, { since: lastSeq });
    expect(again.joined.messages.map((m: Frame) => m.content)).toEqual(range(0, 6).map((k) => `missed-${k}`));
    expect(again.joined.messages.map((m: Frame) => m.seq)).toEqual(range(lastSeq + 1, lastSeq + 7));
    // And what comes next arrives live on node B, once.
    await writer.client.request({ type: "message", session, content: "live" });
    await eventually(() => again.client.messages(session).some((m) => m.content === "live"), 5000, "the live message on node B");
    expect(again.client.messages(session).filter((m) => m.content === "live")).toHaveLength(1);
    await Promise.all([again.client.close(), writer.client.close()]);
  });

  test("an HTTP client posting through the balancer and SSE readers on other nodes see the same history", async () => {
    const t = await token("poster");
    const created = await api(cluster.http, "POST", "/api/sessions", { token: t, body: { mode: "chat" } });
    expect(created.status).toBe(201);
    const session = created.body.id;
    const sse = await SseClient.open(`${cluster.nodes[2]!.http}/api/sessions/${session}/events`, t);
    for (let k = 0; k < 4; k++) {
      const posted = await api(cluster.nodes[k % 3]!.http, "POST", `/api/sessions/${session}/messages`, { token: t, body: { content: `h${k}` } });
      expect(posted.status).toBe(201);
      expect(posted.body.seq).toBe(k + 1);
    }
    for (const node of cluster.nodes) {
      const page = await api(node.http, "GET", `/api/sessions/${session}/messages`, { token: t });
      expect(page.body.messages.map((m: Frame) => m.content)).toEqual(["h0", "h1", "h2", "h3"]);
    }
    await eventually(() => sse.frames("message").length >= 4, 5000, "the SSE reader's messages");
    expect(sse.frames("message").map((f) => f.message.content)).toEqual(["h0", "h1", "h2", "h3"]);
    sse.close();
  });
});

describe("session changes reach every node", () => {
  test("configure on node A is seen by a subscriber on node B; one who loses access on node B is dropped there", async () => {
    const session = "c-config";
    await open(session, "owner");
    const owner = await on(0, "owner", session);
    const member = await on(1, "member", session);
    const outsider = await on(2, "outsider", session);
    const configured = await owner.client.request({ type: "configure", session, config: { topic: "pricing" } });
    expect(configured.type).not.toBe("error");
    const seen = await member.client.waitFor((f) => f.type === "session" && f.session?.config?.topic === "pricing");
    expect(seen.session.id).toBe(session);
    const limited = await owner.client.request({ type: "configure", session, access: "private", members: ["member"] });
    expect(limited.type).not.toBe("error");
    const dropped = await outsider.client.waitFor((f) => f.type === "error" && f.code === "forbidden" && f.session === session);
    expect(dropped.message).toContain("no longer have access");
    await owner.client.request({ type: "message", session, content: "members only" });
    await eventually(() => member.client.messages(session).some((m) => m.content === "members only"), 5000, "the member's copy");
    await Bun.sleep(200);
    expect(outsider.client.messages(session).some((m) => m.content === "members only")).toBe(false);
    // The member's node knows the new access too: a write there from the outsider is refused.
    const refused = await (await WsClient.connect(wsOf(1), { token: await token("outsider") })).request({ type: "join", session });
    expect(refused).toMatchObject({ type: "error", code: "forbidden" });
    await Promise.all([owner.client.close(), member.client.close(), outsider.client.close()]);
  });

  test("an end on node A: every subscriber on every node gets session.status once, and a write on node C is session_ended", async () => {
    const session = "c-end";
    await open(session, "ender");
    const owner = await on(0, "ender", session);
    const others = await Promise.all([on(1, "watcher1", session), on(2, "watcher2", session)]);
    await owner.client.request({ type: "message", session, content: "last words" });
    const ended = await owner.client.request({ type: "end", session });
    expect(ended.type).not.toBe("error");
    for (const c of [owner.client, ...others.map((o) => o.client)]) {
      await c.waitFor((f) => f.type === "session.status" && f.session === session);
    }
    await Bun.sleep(300);
    for (const c of [owner.client, ...others.map((o) => o.client)]) {
      expect(c.frames.filter((f) => f.type === "session.status" && f.session === session)).toHaveLength(1);
    }
    const late = await WsClient.connect(wsOf(2), { token: await token("watcher2") });
    const write = await late.request({ type: "message", session, content: "too late" });
    expect(write).toMatchObject({ type: "error", code: "session_ended" });
    await Promise.all([owner.client.close(), late.close(), ...others.map((o) => o.client.close())]);
  });
});

describe("erasure across nodes", () => {
  test("a session erased through node A is gone for node B's subscriber, is never opened again on any node, and is in the audit trail", async () => {
    const session = "c-erase";
    await open(session);
    const watcher = await on(1, "witness", session);
    await watcher.client.request({ type: "message", session, content: "to be forgotten" });
    const admin = await token("dpo", { admin: true });
    const erased = await api(cluster.nodes[0]!.http, "DELETE", `/api/admin/sessions/${session}`, { token: admin });
    expect(erased.status).toBe(200);
    await watcher.client.waitFor((f) => f.type === "session.status" && f.session === session && f.status === "erased");
    for (const i of [1, 2]) {
      const again = await WsClient.connect(wsOf(i), { token: await token("witness") });
      const refused = await again.request({ type: "join", session });
      expect(refused.type).toBe("error");
      expect(["not_found", "conflict"]).toContain(refused.code);
      await again.close();
    }
    const audit = await api(cluster.nodes[2]!.http, "GET", "/api/admin/audit", { token: admin });
    expect(audit.status).toBe(200);
    expect(JSON.stringify(audit.body)).toContain(session);
    await watcher.client.close();
  });
  test("a user erased through node A: node B serves only tombstones of their messages and closes their connections there", async () => {
    const session = "c-erase-user";
    await open(session);
    const reader = await on(1, "reader", session);
    const leaver = await on(1, "leaver", session);
    await leaver.client.request({ type: "message", session, content: "my private words" });
    await reader.client.request({ type: "message", session, content: "a reply" });
    // Node 1 holds the session's recent messages in memory: a join there is answered from that copy.
    const before = await on(1, "reader", session);
    expect(JSON.stringify(before.joined.messages)).toContain("my private words");
    await before.client.close();
    const admin = await token("dpo", { admin: true });
    const erased = await api(cluster.nodes[0]!.http, "DELETE", "/api/admin/users/leaver", { token: admin });
    expect(erased.status).toBe(200);
    expect(erased.body).toMatchObject({ userId: "leaver", messagesTombstoned: 1 });
    expect((await leaver.client.closed).code).toBe(4501);
    for (const i of [1, 2]) {
      const after = await on(i, "reader", session);
      const [first, second] = after.joined.messages;
      expect(first).toMatchObject({ seq: 1, content: "", metadata: { erased: true } });
      expect(second).toMatchObject({ seq: 2, content: "a reply" });
      expect(JSON.stringify(after.joined)).not.toContain("my private words");
      await after.client.close();
    }
    await reader.client.close();
  });
});

describe("assistant replies across nodes", () => {
  test("a client joining on node B mid-reply gets the text streamed so far on node A, then the rest, then the committed reply", async () => {
    const session = "c-stream";
    let open!: () => void;
    model.next({ pieces: ["Hello", " from", " node", " A."], gate: { after: 2, open: new Promise<void>((r) => (open = r)) } });
    const { client: asker } = await on(0, "asker", session);
    expect((await asker.request({ type: "configure", session, access: "open", assistant: { enabled: true } })).type).toBe("configured");
    await asker.request({ type: "message", session, content: "say hello", assistant: {} });
    const start = await asker.waitFor((f) => f.type === "stream.start");
    await eventually(() => asker.frames.filter((f) => f.type === "stream.delta").length >= 2, 10_000, "two pieces on node A");
    const late = await on(1, "late", session);
    expect(late.joined.streams).toEqual([expect.objectContaining({ id: start.stream.id, text: "Hello from" })]);
    open();
    const end = await late.client.waitFor((f) => f.type === "stream.end" && f.stream === start.stream.id);
    expect(end.status).toBe("complete");
    await eventually(() => late.client.messages(session).some((m) => m.role === "assistant"), 10_000, "the reply on node B");
    expect(late.client.messages(session).find((m) => m.role === "assistant")!.content).toBe("Hello from node A.");
    // Once committed, no node shows it as in progress.
    for (const i of [1, 2]) {
      const again = await on(i, "late", session);
      expect(again.joined.streams).toEqual([]);
      await again.client.close();
    }
    await Promise.all([asker.close(), late.client.close()]);
  });

  test("the author stops a reply streaming on node A from node C over HTTP; someone else on node B may not", async () => {
    const session = "c-stream-stop";
    let open!: () => void;
    model.next({ pieces: ["One", " two", " three"], gate: { after: 1, open: new Promise<void>((r) => (open = r)) } });
    const { client: owner } = await on(0, "owner", session);
    expect((await owner.request({ type: "configure", session, access: "open", assistant: { enabled: true } })).type).toBe("configured");
    // The question is asked on node A (which streams the reply); the asker's other connection is on node B.
    const [askerOnA, askerOnB, bystander] = await Promise.all([on(0, "asker", session), on(1, "asker", session), on(1, "bystander", session)]);
    await askerOnA.client.request({ type: "message", session, content: "count please", assistant: {} });
    const start = await askerOnB.client.waitFor((f) => f.type === "stream.start");
    await askerOnB.client.waitFor((f) => f.type === "stream.delta");
    const refused = await bystander.client.request({ type: "cancel", session, stream: start.stream.id });
    expect(refused).toMatchObject({ type: "error", code: "forbidden" });
    // Over HTTP through node C, which holds nothing of the session in memory.
    const cancelled = await api(cluster.nodes[2]!.http, "POST", `/api/sessions/${session}/streams/${start.stream.id}/cancel`, { token: await token("asker") });
    expect(cancelled).toMatchObject({ status: 200, body: { type: "cancelled" } });
    const end = await owner.waitFor((f) => f.type === "stream.end" && f.stream === start.stream.id);
    expect(end.status).toBe("cancelled");
    open();
    await Promise.all([owner.close(), askerOnA.client.close(), askerOnB.client.close(), bystander.client.close()]);
  });
});

describe("presence across nodes", () => {
  test("a user joins once and leaves once, when their last connection on any node goes", async () => {
    const session = "c-presence";
    await open(session);
    const watcher = await on(0, "watcher", session);
    const first = await on(1, "pat", session);
    await watcher.client.waitFor((f) => f.type === "presence" && f.userId === "pat" && f.event === "join");
    const second = await on(2, "pat", session);
    // Present on two nodes: the second connection is no new arrival, and the joined reply lists pat once.
    expect(second.joined.participants.filter((p: string) => p === "pat")).toHaveLength(1);
    // A node counts its connection in Redis just after its joined reply; both nodes' counts are in before the first goes.
    const redis = new Redis(cluster.redis!.url);
    await eventually(async () => Number(await redis.hget(`sessiond:presence:s:${session}`, "pat")) === 2, 10_000, "both nodes counted");
    redis.disconnect();
    await first.client.close();
    await Bun.sleep(300);
    const patFrames = () => watcher.client.frames.filter((f) => f.type === "presence" && f.userId === "pat");
    expect(patFrames().map((f) => f.event)).toEqual(["join"]);
    await second.client.close();
    await watcher.client.waitFor((f) => f.type === "presence" && f.userId === "pat" && f.event === "leave");
    await Bun.sleep(200);
    expect(patFrames().map((f) => f.event)).toEqual(["join", "leave"]);
    await watcher.client.close();
  });
});

describe("limits", () => {
  test("the per-user message rate limit holds across nodes", async () => {
    const session = "c-rate";
    const [a, b] = await Promise.all([on(0, "chatty", session), on(1, "chatty", session)]);
    const send = (c: WsClient, k: number) => c.request({ type: "message", session, content: `r${k}` });
    const replies = await Promise.all([...range(1, 130).map((k) => send(a.client, k)), ...range(1, 130).map((k) => send(b.client, k))]);
    const accepted = replies.filter((r) => r.type === "ack").length;
    const limited = replies.filter((r) => r.type === "error" && r.code === "rate_limited");
    // 200 a minute is the budget of both nodes together (plus what refilled during the test).
    expect(accepted).toBeGreaterThanOrEqual(200);
    expect(accepted).toBeLessThan(215);
    expect(limited.length).toBe(260 - accepted);
    expect(limited[0]!.message).toMatch(/Too many messages/);
    await Promise.all([a.client.close(), b.client.close()]);
  });
});
