// The client SDK and assistant replies: `stream` events with the accumulated text, each character once across a
// reconnect; `handle.streams` mid-reply; `handle.cancel`; `send(..., { assistant })`; and the pure StreamTracker.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import type { Message, SessionHandle, StreamEvent } from "../../src/client/index.ts";
import { StreamTracker } from "../../src/client/streams.ts";
import { eventually, sdk, type ServerProcess } from "../helpers.ts";
import { gate, numberedPieces, openWithAssistant, startAssistantServer, startFakeOpenAI, streamStart, textSoFar, type FakeOpenAI } from "./setup.ts";

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

/**
 * A WebSocket the test can cut, as a dead network would (no close handshake); until `restore()`, new connections
 * fail (they go to a closed port), so the reply goes on without the client.
 */
function cuttable(): { WebSocket: typeof WebSocket; cut(): void; restore(): void } {
  const sockets: WebSocket[] = [];
  let offline = false;
  class Tracked extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(offline ? "ws://127.0.0.1:9/ws" : url, protocols);
      sockets.push(this);
    }
  }
  const cut = () => {
    offline = true;
    (sockets.at(-1) as WebSocket & { terminate(): void }).terminate();
  };
  return { WebSocket: Tracked as typeof WebSocket, cut, restore: () => void (offline = false) };
}

function record(handle: SessionHandle): { events: StreamEvent[]; messages: Message[]; order: string[] } {
  const events: StreamEvent[] = [];
  const messages: Message[] = [];
  const order: string[] = [];
  handle.on("stream", (e) => {
    events.push(e);
    order.push(`stream:${e.type}`);
  });
  handle.on("message", (m) => {
    messages.push(m);
    order.push(`message:${m.role}`);
  });
  return { events, messages, order };
}

describe("the SDK", () => {
  test("stream events carry the accumulated text, de-duplicated by offset across a reconnect mid-reply", async () => {
    const pieces = numberedPieces(80);
    const held = gate();
    fake.script({ pieces, delayMs: 10, gate: { after: 40, open: held.open } });
    const alice = await openWithAssistant(server, "alice", "sdk-reconnect");
    const net = cuttable();
    const bob = sdk(server, "bob", { WebSocket: net.WebSocket });
    const handle = await bob.join("sdk-reconnect");
    const seen = record(handle);
    let reopened = 0;
    bob.on("open", ({ reconnected }) => void (reconnected && reopened++));
    await alice.request({ type: "message", session: "sdk-reconnect", content: "go" });
    await eventually(() => seen.events.filter((e) => e.type === "delta").length >= 10, 10_000, "ten deltas");
    expect(handle.streams).toHaveLength(1);
    net.cut();
    // While bob is offline the reply reaches the gate; back online, the re-join's snapshot brings him there.
    const atGate = pieces.slice(0, 40).join("");
    await eventually(async () => (await textSoFar(server, "sdk-reconnect")) === atGate, 10_000, "the reply at the gate");
    net.restore();
    await eventually(() => handle.streams[0]?.text === atGate, 10_000, "bob caught up");
    held.release();
    await eventually(() => seen.events.some((e) => e.type === "end"), 15_000, "the end");
    expect(reopened).toBeGreaterThanOrEqual(1);

    const expected = pieces.join("");
    expect(seen.events.filter((e) => e.type === "start")).toHaveLength(1);
    const deltas = seen.events.filter((e) => e.type === "delta");
    // Every character once: the new parts, joined, are the answer; each event's text is everything so far.
    expect(deltas.map((e) => e.text).join("")).toBe(expected);
    let soFar = "";
    for (const e of deltas) {
      soFar += e.text;
      expect(e.stream.text).toBe(soFar);
    }
    // What was missed while offline came back as one piece from the re-join's snapshot.
    expect(deltas.some((e) => e.text.length > Math.max(...pieces.map((p) => p.length)))).toBe(true);
    const end = seen.events.at(-1)!;
    expect(end.type).toBe("end");
    expect(end.stream).toMatchObject({ text: expected, status: "complete", replyTo: 1, userId: "assistant" });
    const reply = seen.messages.find((m) => m.role === "assistant")!;
    expect(reply.content).toBe(expected);
    expect(end.stream.seq).toBe(reply.seq);
    expect(seen.order.filter((o) => o !== "stream:delta").slice(-2)).toEqual(["message:assistant", "stream:end"]);
    expect(handle.streams).toEqual([]);
    await bob.close();
    await alice.close();
  });

  test("joining mid-reply: handle.streams has the text so far and the events continue from it", async () => {
    const pieces = numberedPieces(50);
    const held = gate();
    fake.script({ pieces, delayMs: 5, gate: { after: 25, open: held.open } });
    const alice = await openWithAssistant(server, "alice", "sdk-mid");
    await alice.request({ type: "message", session: "sdk-mid", content: "go" });
    await streamStart(alice);
    await alice.waitForCount((f) => f.type === "stream.delta", 25);
    const carol = sdk(server, "carol");
    const handle = await carol.join("sdk-mid");
    const [snapshot] = handle.streams;
    expect(snapshot!.text).toBe(pieces.slice(0, 25).join(""));
    const seen = record(handle);
    held.release();
    await eventually(() => seen.events.some((e) => e.type === "end"), 10_000, "the end");
    expect(snapshot!.text + seen.events.filter((e) => e.type === "delta").map((e) => (e.type === "delta" ? e.text : "")).join("")).toBe(pieces.join(""));
    await carol.close();
    await alice.close();
  });

  test("handle.cancel stops the reply (the upstream request is aborted); a stranger's cancel rejects with forbidden", async () => {
    fake.script({ pieces: numberedPieces(300), delayMs: 5, gate: { after: 10, open: new Promise(() => {}) } });
    const alice = await openWithAssistant(server, "alice", "sdk-cancel");
    const dave = sdk(server, "dave");
    const mallory = sdk(server, "mallory");
    const handle = await dave.join("sdk-cancel");
    const other = await mallory.join("sdk-cancel");
    const seen = record(handle);
    await handle.send("a long one please", { assistant: { json: true } });
    await eventually(() => seen.events.filter((e) => e.type === "delta").length >= 3, 10_000, "three deltas");
    const id = handle.streams[0]!.id;
    await expect(other.cancel(id)).rejects.toMatchObject({ code: "forbidden" });
    await expect(handle.cancel("not-a-stream")).rejects.toMatchObject({ code: "not_found" });
    await handle.cancel(id);
    await fake.waitForAborts(1, 1000);
    await eventually(() => seen.events.some((e) => e.type === "end"), 5000, "the end");
    const end = seen.events.at(-1)!;
    expect(end.stream.status).toBe("cancelled");
    expect(seen.messages.find((m) => m.role === "assistant")!.content).toBe(end.stream.text);
    expect(fake.requests[0]!.body.response_format).toEqual({ type: "json_object" });
    await Promise.all([dave.close(), mallory.close(), alice.close()]);
  });
});

describe("StreamTracker", () => {
  const info = { id: "s1", replyTo: 4, userId: "assistant", model: "m", startedAt: "2026-01-01T00:00:00.000Z" };
  const delta = (offset: number, text: string, part?: "reasoning") => ({ type: "stream.delta" as const, session: "x", stream: "s1", offset, text, ...(part && { part }) });

  test("drops what it already has, appends the rest, and reports a gap instead of guessing", () => {
    const t = new StreamTracker();
    expect(t.start(info).map((e) => e.type)).toEqual(["start"]);
    expect(t.start(info)).toEqual([]);
    expect(t.delta(delta(0, "Hello"))).toMatchObject([{ type: "delta", text: "Hello", stream: { text: "Hello" } }]);
    expect(t.delta(delta(0, "Hello"))).toEqual([]);
    expect(t.delta(delta(3, "lo, wor"))).toMatchObject([{ text: ", wor", stream: { text: "Hello, wor" } }]);
    expect(t.delta(delta(0, "think", "reasoning"))).toMatchObject([{ part: "reasoning", text: "think", stream: { reasoning: "think", text: "Hello, wor" } }]);
    expect(t.delta(delta(20, "far ahead"))).toBe("gap");
    expect(t.delta({ ...delta(0, "x"), stream: "unknown" })).toBe("gap");
  });

  test("a re-join's snapshot extends a known reply by what was missed, starts a new one, and ends one that is gone", () => {
    const t = new StreamTracker();
    t.start(info);
    t.delta(delta(0, "Hel"));
    t.start({ ...info, id: "s0" });
    const committed: Message = {
      id: "m",
      seq: 7,
      session: "x",
      userId: "assistant",
      role: "assistant",
      kind: "text",
      content: "earlier answer",
      metadata: { stream: "s0", status: "cancelled" },
      createdAt: "2026-01-01T00:00:01.000Z",
    };
    t.committed(committed);
    const events = t.recover([{ ...info, text: "Hello" }, { ...info, id: "s2", text: "Hi" }], [committed]);
    expect(events.map((e) => [e.type, e.stream.id, e.type === "delta" ? e.text : e.stream.text])).toEqual([
      ["end", "s0", "earlier answer"],
      ["delta", "s1", "lo"],
      ["start", "s2", "Hi"],
    ]);
    expect(events[0]!.stream).toMatchObject({ status: "cancelled", seq: 7 });
    expect(t.list.map((s) => s.id)).toEqual(["s1", "s2"]);
    // A reply gone without a committed message ended as far as the client can tell: interrupted.
    expect(t.recover([], []).map((e) => [e.stream.id, e.stream.status])).toEqual([["s1", "interrupted"], ["s2", "interrupted"]]);
    // Ended replies stay ended when a straggling frame arrives.
    expect(t.start(info)).toEqual([]);
    expect(t.delta(delta(5, "!"))).toEqual([]);
  });
});
