// The assistant's streamed replies on the wire: the same deltas for every subscriber, the committed message,
// joining mid-reply (joined.streams, SSE, GET .../streams), recovery with since, and what is sent to the model.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { api, eventually, startServer, token, WsClient, type Frame, type ServerProcess } from "../helpers.ts";
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
  textSoFar,
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

const deltasOf = (c: WsClient, id: string) => streamFrames(c.frames, id).filter((f) => f.type === "stream.delta");

describe("a streamed reply", () => {
  test("three subscribers see the same deltas in order and the same final message; its content is the deltas joined; responseTime is set", async () => {
    const pieces = numberedPieces(30);
    fake.script({ pieces, delayMs: 5 });
    const alice = await openWithAssistant(server, "alice", "three-subs");
    const bob = (await joined(server, "bob", "three-subs")).client;
    const carol = (await joined(server, "carol", "three-subs")).client;
    const ack = await alice.request({ type: "message", session: "three-subs", content: "tell me a story" });
    const ends = await Promise.all([alice, bob, carol].map((c) => streamEnd(c)));
    const id = ends[0]!.stream;
    const expected = pieces.join("");

    for (const [i, c] of [alice, bob, carol].entries()) {
      const frames = streamFrames(c.frames, id);
      expect(frames[0]!.type).toBe("stream.start");
      expect(frames[0]!.stream).toMatchObject({ id, replyTo: ack.seq, userId: "assistant", model: "fake-model" });
      expect(Number.isNaN(Date.parse(frames[0]!.stream.startedAt))).toBe(false);
      const deltas = deltasOf(c, id);
      expect(deltas.map((d) => d.text)).toEqual(pieces);
      // Each offset is the length of the reply before the piece.
      let length = 0;
      for (const d of deltas) {
        expect(d.offset).toBe(length);
        length += d.text.length;
      }
      const reply = c.messages("three-subs").find((m) => m.metadata?.stream === id)!;
      expect(reply).toMatchObject({ role: "assistant", userId: "assistant", content: expected, seq: ack.seq + 1, clientMsgId: id });
      expect(reply.metadata).toMatchObject({ stream: id, replyTo: ack.seq, model: "fake-model", status: "complete", finishReason: "stop" });
      expect(reply.metadata.usage).toMatchObject({ completionTokens: 30 });
      expect(ends[i]).toEqual({ type: "stream.end", session: "three-subs", stream: id, status: "complete", seq: reply.seq });
      // The message frame comes before stream.end.
      const messageAt = c.frames.findIndex((f) => f.type === "message" && f.message.id === reply.id);
      expect(messageAt).toBeLessThan(c.frames.indexOf(ends[i]!));
    }
    const session = await getSession(server, "alice", "three-subs");
    expect(typeof session.metrics.responseTime).toBe("number");
    expect(session.metrics.responseTime).toBeGreaterThanOrEqual(0);
    expect(session.metrics.assistantMessages).toBe(1);
    await Promise.all([alice.close(), bob.close(), carol.close()]);
  });

  test("the sender's ack comes before stream.start", async () => {
    fake.script({ pieces: ["ok"] });
    const alice = await openWithAssistant(server, "alice", "ack-first");
    const ack = await alice.request({ type: "message", session: "ack-first", content: "hi" });
    const start = await streamStart(alice);
    expect(alice.frames.indexOf(ack)).toBeLessThan(alice.frames.indexOf(start));
    await streamEnd(alice);
    await alice.close();
  });

  test("a client that disconnects mid-reply and joins again with since gets the text so far in streams, then the rest: every character once", async () => {
    const pieces = numberedPieces(60);
    const held = gate();
    fake.script({ pieces, delayMs: 10, gate: { after: 30, open: held.open } });
    const alice = await openWithAssistant(server, "alice", "rejoin");
    const first = (await joined(server, "bob", "rejoin")).client;
    await alice.request({ type: "message", session: "rejoin", content: "go" });
    const start = await streamStart(first);
    const id = start.stream.id;
    await first.waitForCount((f) => f.type === "stream.delta", 10);
    const lastSeq = first.messages("rejoin").at(-1)!.seq;
    const shownBefore = reconstruct(deltasOf(first, id)).text;
    (first.socket as WebSocket & { terminate(): void }).terminate();
    // The reply goes on while bob is away, up to the gate.
    const atGate = pieces.slice(0, 30).join("");
    await eventually(async () => (await textSoFar(server, "rejoin")) === atGate, 10_000, "the reply at the gate");

    const again = await WsClient.connect(server.ws, { token: await token("bob") });
    const rejoined = await again.request({ type: "join", session: "rejoin", since: lastSeq });
    expect(rejoined.messages).toEqual([]);
    expect(rejoined.streams).toHaveLength(1);
    const snapshot = rejoined.streams[0];
    expect(snapshot).toMatchObject({ id, replyTo: start.stream.replyTo, userId: "assistant", model: "fake-model", startedAt: start.stream.startedAt });
    expect(snapshot.text).toBe(atGate);
    expect(atGate.startsWith(shownBefore)).toBe(true);
    expect(atGate.length).toBeGreaterThan(shownBefore.length);
    held.release();
    await streamEnd(again, id);

    // What bob's screen shows: the first connection's pieces, the snapshot (overlap dropped), the live rest.
    const after = deltasOf(again, id);
    const shown = reconstruct(after, reconstruct([{ offset: 0, text: snapshot.text }], shownBefore).text);
    expect(shown.text).toBe(pieces.join(""));
    // The snapshot was taken in the same tick as the subscription: the live deltas continue exactly from it.
    expect(reconstruct(after, snapshot.text).overlap).toBe(0);
    expect(after[0]!.offset).toBe(snapshot.text.length);
    const reply = again.messages("rejoin").find((m) => m.metadata?.stream === id)!;
    expect(reply.content).toBe(shown.text);
    await Promise.all([alice.close(), again.close()]);
  });

  test("a client that joins mid-reply gets streams in joined; GET .../streams shows the same reply; after the end both are empty", async () => {
    const held = gate();
    fake.script({ pieces: numberedPieces(40), delayMs: 5, gate: { after: 20, open: held.open } });
    const alice = await openWithAssistant(server, "alice", "join-mid");
    await alice.request({ type: "message", session: "join-mid", content: "go" });
    const start = await streamStart(alice);
    await alice.waitForCount((f) => f.type === "stream.delta", 20);
    const { client: late, reply } = await joined(server, "dave", "join-mid");
    expect(reply.streams).toHaveLength(1);
    expect(reply.streams[0].id).toBe(start.stream.id);
    expect(reply.messages.map((m: any) => m.role)).toEqual(["user"]);
    const listed = await api(server.http, "GET", "/api/sessions/join-mid/streams", { token: await token("dave") });
    expect(listed.status).toBe(200);
    expect(listed.body.streams[0]).toMatchObject({ id: start.stream.id, replyTo: 1, userId: "assistant", model: "fake-model" });
    expect(listed.body.streams[0].text).toBe(reply.streams[0].text);
    expect(reply.streams[0].text).toBe(numberedPieces(20).join(""));
    held.release();
    await streamEnd(late);
    expect(reconstruct(deltasOf(late, start.stream.id), reply.streams[0].text).text).toBe(numberedPieces(40).join(""));
    expect((await api(server.http, "GET", "/api/sessions/join-mid/streams", { token: await token("dave") })).body).toEqual({ streams: [] });
    expect((await late.request({ type: "join", session: "join-mid" })).streams).toEqual([]);
    await Promise.all([alice.close(), late.close()]);
  });

  test("SSE sends the replies in progress on connect, then every stream frame as its data", async () => {
    const pieces = numberedPieces(40);
    const held = gate();
    fake.script({ pieces, delayMs: 5, gate: { after: 20, open: held.open } });
    const alice = await openWithAssistant(server, "alice", "sse-mid");
    await alice.request({ type: "message", session: "sse-mid", content: "go" });
    const start = await streamStart(alice);
    await alice.waitForCount((f) => f.type === "stream.delta", 20);
    const res = await fetch(`${server.http}/api/sessions/sse-mid/events?token=${await token("erin")}`);
    held.release();
    const events: Array<{ event: string; data: Frame }> = [];
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    while (!events.some((e) => e.event === "stream.end")) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut: number;
      while ((cut = buffer.indexOf("\n\n")) !== -1) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = /^event: (.+)$/m.exec(block)?.[1];
        const data = /^data: (.+)$/m.exec(block)?.[1];
        if (event && data) events.push({ event, data: JSON.parse(data) });
      }
    }
    await reader.cancel();
    const snapshot = events.find((e) => e.event === "streams")!.data;
    expect(snapshot).toMatchObject({ type: "streams", session: "sse-mid" });
    expect(snapshot.streams[0].id).toBe(start.stream.id);
    for (const e of events) if (e.event.startsWith("stream.")) expect(e.data.type).toBe(e.event);
    const deltas = events.filter((e) => e.event === "stream.delta").map((e) => e.data);
    expect(reconstruct(deltas, snapshot.streams[0].text)).toEqual({ text: pieces.join(""), overlap: 0 });
    const message = events.find((e) => e.event === "message" && e.data.message.role === "assistant")!.data.message;
    expect(message.content).toBe(pieces.join(""));
    await alice.close();
  });
});

describe("what triggers a reply", () => {
  test("trigger mention answers only messages that mention @name; an explicit request is answered anyway", async () => {
    fake.script({ pieces: ["sure"] });
    const alice = await openWithAssistant(server, "alice", "mention", { trigger: "mention", name: "helper" });
    await alice.request({ type: "message", session: "mention", content: "hello everyone" });
    await alice.request({ type: "message", session: "mention", content: "mail bob@helper.example or ask @helpers" });
    await Bun.sleep(200);
    expect(fake.requests).toHaveLength(0);
    const asked = await alice.request({ type: "message", session: "mention", content: "@Helper what is the plan?" });
    const end = await streamEnd(alice);
    expect(end.status).toBe("complete");
    const reply = alice.messages("mention").find((m) => m.role === "assistant");
    expect(reply).toMatchObject({ userId: "helper", content: "sure", metadata: { replyTo: asked.seq } });
    const explicit = await alice.request({ type: "message", session: "mention", content: "no mention here", assistant: {} });
    await alice.waitForCount((f) => f.type === "stream.end", 2);
    expect(fake.requests).toHaveLength(2);
    expect(alice.frames.filter((f) => f.type === "stream.start").at(-1)!.stream.replyTo).toBe(explicit.seq);
    // The assistant's own messages never trigger a reply.
    await Bun.sleep(150);
    expect(fake.requests).toHaveLength(2);
    await alice.close();
  });

  test("json: true sends response_format json_object; without it none is sent", async () => {
    fake.script({ pieces: ['{"ok":true}'] });
    const alice = await openWithAssistant(server, "alice", "json-mode");
    await alice.request({ type: "message", session: "json-mode", content: "plain" });
    await streamEnd(alice);
    await alice.request({ type: "message", session: "json-mode", content: "as json please", assistant: { json: true } });
    await alice.waitForCount((f) => f.type === "stream.end", 2);
    expect(fake.requests[0]!.body.response_format).toBeUndefined();
    expect(fake.requests[1]!.body.response_format).toEqual({ type: "json_object" });
    expect(alice.messages("json-mode").at(-1)!.content).toBe('{"ok":true}');
    await alice.close();
  });

  test("reasoning deltas carry part: reasoning with their own offsets and are stored in metadata, not content", async () => {
    fake.script({ pieces: [{ reasoning: "think " }, { reasoning: "harder" }, "the ", "answer"] });
    const alice = await openWithAssistant(server, "alice", "reasoning");
    await alice.request({ type: "message", session: "reasoning", content: "why?", assistant: { reasoning: true } });
    const end = await streamEnd(alice);
    const deltas = deltasOf(alice, end.stream);
    expect(deltas.map((d) => [d.part, d.offset, d.text])).toEqual([
      ["reasoning", 0, "think "],
      ["reasoning", 6, "harder"],
      [undefined, 0, "the "],
      [undefined, 4, "answer"],
    ]);
    const reply = alice.messages("reasoning").at(-1)!;
    expect(reply.content).toBe("the answer");
    expect(reply.metadata.reasoning).toBe("think harder");
    // Not asked for: the model's reasoning is neither streamed nor stored.
    await alice.request({ type: "message", session: "reasoning", content: "and now?" });
    const second = (await alice.waitForCount((f) => f.type === "stream.end", 2))[1]!;
    expect(deltasOf(alice, second.stream).every((d) => d.part === undefined)).toBe(true);
    expect(alice.messages("reasoning").at(-1)!.metadata.reasoning).toBeUndefined();
    await alice.close();
  });
});

describe("what the model is sent", () => {
  test("a configure of config mid-session changes the next request's system context; the session's model overrides AI_MODEL", async () => {
    fake.script({ pieces: ["ok"] });
    const alice = await openWithAssistant(server, "alice", "ctx-config", { model: "coach-model", systemPrompt: "You coach sales calls." }, { config: { persona: "friendly buyer" } });
    await alice.request({ type: "message", session: "ctx-config", content: "first" });
    await streamEnd(alice);
    await alice.request({ type: "configure", session: "ctx-config", config: { persona: "sceptical procurement officer" } });
    await alice.request({ type: "message", session: "ctx-config", content: "second" });
    await alice.waitForCount((f) => f.type === "stream.end", 2);
    const [a, b] = fake.requests.map((r) => r.body);
    expect(a.model).toBe("coach-model");
    expect(a.messages[0].role).toBe("system");
    expect(a.messages[0].content).toContain("You coach sales calls.");
    expect(a.messages[0].content).toContain("persona: friendly buyer");
    expect(b.messages[0].content).toContain("persona: sceptical procurement officer");
    expect(b.messages[0].content).not.toContain("friendly buyer");
    // The conversation follows in seq order: users by name, the assistant's own reply as assistant.
    expect(b.messages.slice(1)).toEqual([
      { role: "user", name: "alice", content: "first" },
      { role: "assistant", content: "ok" },
      { role: "user", name: "alice", content: "second" },
    ]);
    expect(alice.frames.find((f) => f.type === "stream.start")!.stream.model).toBe("coach-model");
    await alice.close();
  });

  test("without AI_MODEL, replies name the first model the server lists; a session's model still overrides it", async () => {
    fake.script({ pieces: ["ok"], models: ["listed-first", "listed-second"] });
    const unnamed = await startServer({ env: { AI_BASE_URL: fake.url, RATE_LIMIT_MESSAGES_PER_MINUTE: "10000" } });
    try {
      const alice = await openWithAssistant(unnamed, "alice", "no-ai-model");
      await alice.request({ type: "message", session: "no-ai-model", content: "hi" });
      await streamEnd(alice);
      await alice.request({ type: "configure", session: "no-ai-model", assistant: { model: "chosen" } });
      await alice.request({ type: "message", session: "no-ai-model", content: "again" });
      await alice.waitForCount((f) => f.type === "stream.end", 2);
      const chats = fake.requests.filter((r) => r.method === "POST").map((r) => r.body.model);
      expect(chats).toEqual(["listed-first", "chosen"]);
      expect(alice.frames.find((f) => f.type === "stream.start")!.stream.model).toBe("listed-first");
      expect(unnamed.logs.some((l) => l.includes('"assistant.model_chosen"') && l.includes("listed-first"))).toBe(true);
      await alice.close();
    } finally {
      await unnamed.stop();
    }
  });

  test("the context never contains another session's messages", async () => {
    fake.script({ pieces: ["ok"] });
    const other = await WsClient.connect(server.ws, { token: await token("mallory") });
    await other.request({ type: "join", session: "ctx-other" });
    for (let i = 0; i < 5; i++) await other.request({ type: "message", session: "ctx-other", content: `other-session-secret-${i}` });
    const alice = await openWithAssistant(server, "alice", "ctx-mine", { contextMessages: 3 });
    for (const text of ["one", "two", "three"]) await alice.request({ type: "message", session: "ctx-mine", content: text, assistant: text === "three" ? {} : undefined });
    // trigger every: each message is answered; the last request holds only this session's last 3 messages.
    await alice.waitForCount((f) => f.type === "stream.end", 3);
    const sent = JSON.stringify(fake.requests.map((r) => r.body.messages));
    expect(sent).not.toContain("other-session-secret");
    // The answer to "two" was committed after "three" (replies wait in line) but sits after the message it answered.
    expect(fake.requests.at(-1)!.body.messages.slice(1)).toEqual([
      { role: "user", name: "alice", content: "two" },
      { role: "assistant", content: "ok" },
      { role: "user", name: "alice", content: "three" },
    ]);
    await Promise.all([alice.close(), other.close()]);
  });
});

describe("settings and requests over HTTP", () => {
  test("POST /api/sessions and PATCH take the assistant setting; a posted message may ask for a reply", async () => {
    fake.script({ pieces: ["hello ", "there"] });
    const t = await token("hana");
    const created = await api(server.http, "POST", "/api/sessions", { token: t, body: { assistant: { enabled: true, trigger: "mention", name: "bot" } } });
    expect(created.status).toBe(201);
    expect(created.body.assistant).toMatchObject({ enabled: true, trigger: "mention", name: "bot" });
    const id = created.body.id;
    const patched = await api(server.http, "PATCH", `/api/sessions/${id}`, { token: t, body: { assistant: { temperature: 0.2 } } });
    expect(patched.body.assistant).toMatchObject({ enabled: true, trigger: "mention", name: "bot", temperature: 0.2 });
    const watcher = await WsClient.connect(server.ws, { token: t });
    await watcher.request({ type: "join", session: id });
    const posted = await api(server.http, "POST", `/api/sessions/${id}/messages`, { token: t, body: { content: "no mention", assistant: { json: true } } });
    expect(posted.status).toBe(201);
    const end = await streamEnd(watcher);
    expect(end.status).toBe("complete");
    expect(fake.requests[0]!.body.response_format).toEqual({ type: "json_object" });
    expect(fake.requests[0]!.body.temperature).toBe(0.2);
    await watcher.close();
  });

  test("asking for a reply where the assistant is off is bad_request and nothing is written", async () => {
    const t = await token("ivan");
    const c = await WsClient.connect(server.ws, { token: t });
    await c.request({ type: "join", session: "assistant-off" });
    const refused = await c.request({ type: "message", session: "assistant-off", content: "hello?", assistant: { json: true } });
    expect(refused).toMatchObject({ type: "error", code: "bad_request", session: "assistant-off" });
    expect(refused.message).toContain("assistant");
    const http = await api(server.http, "POST", "/api/sessions/assistant-off/messages", { token: t, body: { content: "hello?", assistant: {} } });
    expect(http.status).toBe(400);
    expect((await api(server.http, "GET", "/api/sessions/assistant-off/messages", { token: t })).body.messages).toEqual([]);
    expect(fake.requests).toHaveLength(0);
    await c.close();
  });
});
