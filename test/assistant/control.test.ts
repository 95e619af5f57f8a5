// Controlling replies: cancel (who may, and the upstream abort), ending the session, one reply per session in
// order with a bounded line, AI_MAX_CONCURRENCY across sessions, and no expiry while a reply streams.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { api, eventually, token, WsClient, type ServerProcess } from "../helpers.ts";
import {
  gate,
  getSession,
  joined,
  numberedPieces,
  openWithAssistant,
  reconstruct,
  startAssistantServer,
  startFakeOpenAI,
  streamEnd,
  streamFrames,
  streamStart,
  type FakeOpenAI,
} from "./setup.ts";

let fake: FakeOpenAI;
let server: ServerProcess;
beforeAll(async () => {
  fake = startFakeOpenAI();
  server = await startAssistantServer(fake);
});
afterAll(async () => {
  await server?.stop();
  await fake?.stop();
});
beforeEach(() => fake.reset());

const LONG = { pieces: numberedPieces(300), delayMs: 20 };
/** Streams 10 pieces, then holds until the client goes: a reply that is surely still in progress when acted on. */
const HELD = { pieces: numberedPieces(300), delayMs: 5, gate: { after: 10, open: new Promise(() => {}) } };

describe("cancel", () => {
  test("the author cancels: cancelled, the upstream request is aborted at once, the text so far is committed, then stream.end", async () => {
    fake.script(HELD);
    const alice = await openWithAssistant(server, "alice", "cancel-author");
    const bob = (await joined(server, "bob", "cancel-author")).client;
    const asked = await bob.request({ type: "message", session: "cancel-author", content: "a long answer please" });
    const start = await streamStart(bob);
    await bob.waitForCount((f) => f.type === "stream.delta", 5);
    const reply = await bob.request({ type: "cancel", session: "cancel-author", stream: start.stream.id });
    expect(reply).toEqual({ type: "cancelled", ref: reply.ref, session: "cancel-author", stream: start.stream.id });
    await fake.waitForAborts(1, 1000);
    const end = await streamEnd(alice, start.stream.id);
    expect(end.status).toBe("cancelled");
    const committed = alice.messages("cancel-author").find((m) => m.metadata?.stream === start.stream.id)!;
    expect(committed).toMatchObject({ seq: end.seq, role: "assistant", metadata: { status: "cancelled", replyTo: asked.seq } });
    const deltas = streamFrames(alice.frames, start.stream.id).filter((f) => f.type === "stream.delta");
    expect(committed.content).toBe(reconstruct(deltas).text);
    expect(committed.content.length).toBeGreaterThan(0);
    expect(committed.content.length).toBeLessThan(HELD.pieces.join("").length);
    // Nothing of the reply arrives after its end.
    await Bun.sleep(100);
    expect(alice.frames.slice(alice.frames.indexOf(end) + 1).some((f) => f.stream === start.stream.id)).toBe(false);
    await Promise.all([alice.close(), bob.close()]);
  });

  test("a stranger gets forbidden, an unknown stream not_found; the owner and an admin over HTTP may cancel", async () => {
    fake.script(LONG);
    const alice = await openWithAssistant(server, "alice", "cancel-who");
    const bob = (await joined(server, "bob", "cancel-who")).client;
    const carol = (await joined(server, "carol", "cancel-who")).client;
    await bob.request({ type: "message", session: "cancel-who", content: "question" });
    const start = await streamStart(carol);
    const refused = await carol.request({ type: "cancel", session: "cancel-who", stream: start.stream.id });
    expect(refused).toMatchObject({ type: "error", code: "forbidden", session: "cancel-who" });
    const unknown = await carol.request({ type: "cancel", session: "cancel-who", stream: "no-such-stream" });
    expect(unknown).toMatchObject({ type: "error", code: "not_found" });
    const httpStranger = await api(server.http, "POST", `/api/sessions/cancel-who/streams/${start.stream.id}/cancel`, { token: await token("carol") });
    expect(httpStranger.status).toBe(403);
    expect(fake.aborted).toHaveLength(0);
    const byOwner = await alice.request({ type: "cancel", session: "cancel-who", stream: start.stream.id });
    expect(byOwner.type).toBe("cancelled");
    await streamEnd(alice);

    await bob.request({ type: "message", session: "cancel-who", content: "again" });
    const second = await alice.waitFor((f) => f.type === "stream.start" && f.stream.id !== start.stream.id);
    const admin = await api(server.http, "POST", `/api/sessions/cancel-who/streams/${second.stream.id}/cancel`, { token: await token("ops", { admin: true }) });
    expect(admin).toMatchObject({ status: 200, body: { type: "cancelled", session: "cancel-who", stream: second.stream.id } });
    const end = await streamEnd(alice, second.stream.id);
    expect(end.status).toBe("cancelled");
    await fake.waitForAborts(2, 1000);
    const missing = await api(server.http, "POST", `/api/sessions/cancel-who/streams/${second.stream.id}/cancel`, { token: await token("alice") });
    expect(missing.status).toBe(404);
    await Promise.all([alice.close(), bob.close(), carol.close()]);
  });

  test("a reply cancelled before its first piece commits nothing: stream.end has no seq", async () => {
    fake.script({ pieces: ["late"], firstDelayMs: 5000 });
    const alice = await openWithAssistant(server, "alice", "cancel-early");
    await alice.request({ type: "message", session: "cancel-early", content: "hi" });
    const start = await streamStart(alice);
    // The model server has the request and is holding back its first piece.
    await eventually(() => fake.requests.length === 1, 5000, "the request at the model server");
    await Bun.sleep(50);
    await alice.request({ type: "cancel", session: "cancel-early", stream: start.stream.id });
    const end = await streamEnd(alice);
    expect(end).toEqual({ type: "stream.end", session: "cancel-early", stream: start.stream.id, status: "cancelled" });
    await fake.waitForAborts(1, 1000);
    expect(alice.messages("cancel-early").map((m) => m.role)).toEqual(["user"]);
    await alice.close();
  });
});

test("ending the session cancels its reply (committed before the end) and drops the replies waiting behind it", async () => {
  fake.script(HELD);
  const alice = await openWithAssistant(server, "alice", "end-cancels");
  for (const text of ["first", "second", "third"]) await alice.request({ type: "message", session: "end-cancels", content: text });
  const start = await streamStart(alice);
  await alice.waitForCount((f) => f.type === "stream.delta", 3);
  const ended = await alice.request({ type: "end", session: "end-cancels" });
  expect(ended.type).toBe("ended");
  await fake.waitForAborts(1, 1000);
  const types = alice.frames.slice(alice.frames.indexOf(start)).map((f) => (f.type === "message" ? `message:${f.message.role}` : f.type));
  const tail = types.filter((t) => t !== "stream.delta" && t !== "message:user" && t !== "ack");
  expect(tail).toEqual(["stream.start", "message:assistant", "stream.end", "session.status", "ended"]);
  const end = alice.frames.find((f) => f.type === "stream.end")!;
  expect(end.status).toBe("cancelled");
  await Bun.sleep(300);
  expect(fake.requests).toHaveLength(1);
  const history = await api(server.http, "GET", "/api/sessions/end-cancels/messages", { token: await token("alice") });
  expect(history.body.messages.map((m: any) => m.metadata?.status ?? m.role)).toEqual(["user", "user", "user", "cancelled"]);
  await alice.close();
});

test("one reply at a time per session, in order; at most 8 wait behind it and the sender of one more gets limit_exceeded, nothing written", async () => {
  // The first reply holds until all ten messages were answered, so the line is surely full.
  const held = gate();
  fake.script((_, index) => ({ pieces: numberedPieces(4), delayMs: 5, ...(index === 0 && { gate: { after: 1, open: held.open } }) }));
  const alice = await openWithAssistant(server, "alice", "queue");
  const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => alice.request({ type: "message", session: "queue", content: `q${i}` })));
  held.release();
  expect(replies.slice(0, 9).every((r) => r.type === "ack")).toBe(true);
  expect(replies[9]).toMatchObject({ type: "error", code: "limit_exceeded", session: "queue" });
  expect(replies[9]!.message).toContain("8");
  const ends = await alice.waitForCount((f) => f.type === "stream.end", 9, 20_000);
  expect(ends.every((e) => e.status === "complete")).toBe(true);
  const lifecycle = alice.frames.filter((f) => f.type === "stream.start" || f.type === "stream.end");
  // Strictly alternating: each reply starts after the previous one ended, answering the messages in seq order.
  expect(lifecycle.map((f) => f.type)).toEqual(Array.from({ length: 18 }, (_, i) => (i % 2 === 0 ? "stream.start" : "stream.end")));
  expect(lifecycle.filter((f) => f.type === "stream.start").map((f) => f.stream.replyTo)).toEqual(replies.slice(0, 9).map((r) => r.seq));
  const users = alice.messages("queue").filter((m) => m.role === "user").map((m) => m.content);
  expect(users).toEqual(Array.from({ length: 9 }, (_, i) => `q${i}`));
  // Once the line has drained, the next message is accepted and answered.
  expect((await alice.request({ type: "message", session: "queue", content: "more" })).type).toBe("ack");
  await alice.waitForCount((f) => f.type === "stream.end", 10);
  await alice.close();
});

describe("across sessions", () => {
  let limited: ServerProcess;
  beforeAll(async () => {
    limited = await startAssistantServer(fake, { env: { AI_MAX_CONCURRENCY: "2", SESSION_EXPIRY_SECONDS: "1", SESSION_SWEEP_INTERVAL_SECONDS: "1" } });
  });
  afterAll(async () => {
    await limited?.stop();
  });

  test("AI_MAX_CONCURRENCY replies stream at once over all sessions; the others wait and start first come, first served", async () => {
    // Every reply holds after its first piece until the test has seen which ones started.
    const held = gate();
    fake.script({ pieces: numberedPieces(6), delayMs: 10, gate: { after: 1, open: held.open } });
    const clients: WsClient[] = [];
    for (let i = 0; i < 4; i++) clients.push(await openWithAssistant(limited, `user${i}`, `conc-${i}`));
    // One connection watches all four: its frames arrive in the order the server sent them.
    const watcher = await WsClient.connect(limited.ws, { token: await token("watcher") });
    for (let i = 0; i < 4; i++) await watcher.request({ type: "join", session: `conc-${i}` });
    for (const [i, c] of clients.entries()) {
      await c.request({ type: "message", session: `conc-${i}`, content: "go" });
      await Bun.sleep(10);
    }
    await watcher.waitForCount((f) => f.type === "stream.start", 2);
    await Bun.sleep(300);
    // Two stream; the other two wait without having reached the model server.
    expect(watcher.frames.filter((f) => f.type === "stream.start").map((f) => f.session)).toEqual(["conc-0", "conc-1"]);
    expect(fake.requests).toHaveLength(2);
    held.release();
    await Promise.all(clients.map((c) => streamEnd(c)));
    await watcher.waitForCount((f) => f.type === "stream.end", 4);
    const log = watcher.frames.filter((f) => f.type === "stream.start" || f.type === "stream.end") as Array<{ session: string; type: string }>;
    let streaming = 0;
    let most = 0;
    for (const e of log) {
      streaming += e.type === "stream.start" ? 1 : -1;
      most = Math.max(most, streaming);
    }
    expect(most).toBe(2);
    expect(log.filter((e) => e.type === "stream.start").map((e) => e.session)).toEqual(["conc-0", "conc-1", "conc-2", "conc-3"]);
    // The third started only after one of the first two ended.
    const thirdStart = log.findIndex((e) => e.type === "stream.start" && e.session === "conc-2");
    expect(log.slice(0, thirdStart).some((e) => e.type === "stream.end")).toBe(true);
    await Promise.all([...clients, watcher].map((c) => c.close()));
  });

  test("a session does not expire while a reply streams; it expires once the reply is done", async () => {
    fake.script({ pieces: numberedPieces(25), delayMs: 100 });
    const alice = await openWithAssistant(limited, "alice", "no-expiry");
    await alice.request({ type: "message", session: "no-expiry", content: "take your time" });
    const end = await streamEnd(alice, undefined, 10_000);
    expect(end.status).toBe("complete");
    expect(alice.frames.some((f) => f.type === "session.status")).toBe(false);
    expect((await getSession(limited, "alice", "no-expiry")).status).toBe("active");
    const expired = await alice.waitFor((f) => f.type === "session.status", 5000);
    expect(expired.status).toBe("expired");
    await alice.close();
  });
});
