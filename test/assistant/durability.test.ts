// A streamed reply survives the server: kill -9 mid-reply loses at most the last 500 ms of text and the restart
// commits it once as `interrupted`; SIGTERM mid-reply commits it as `interrupted` and exits 0.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import { join } from "node:path";
import { api, token, WsClient, type Frame, type ServerProcess } from "../helpers.ts";
import { numberedPieces, openWithAssistant, reconstruct, startAssistantServer, startFakeOpenAI, streamStart, type FakeOpenAI } from "./setup.ts";

let fake: FakeOpenAI;
const servers: ServerProcess[] = [];
beforeAll(() => {
  fake = startFakeOpenAI();
});
afterAll(async () => {
  for (const s of servers) if (s.proc.exitCode === null) await s.stop("SIGKILL");
  await fake?.stop();
});
beforeEach(() => fake.reset());

async function start(dataDir?: string): Promise<ServerProcess> {
  const s = await startAssistantServer(fake, { dataDir });
  servers.push(s);
  return s;
}

/** Records every delta of the client with the time it arrived. */
function timedDeltas(c: WsClient): Array<{ at: number; frame: Frame }> {
  const out: Array<{ at: number; frame: Frame }> = [];
  c.socket.addEventListener("message", (e) => {
    const frame = JSON.parse(String(e.data)) as Frame;
    if (frame.type === "stream.delta") out.push({ at: Date.now(), frame });
  });
  return out;
}

async function history(server: ServerProcess, session: string): Promise<any[]> {
  return (await api(server.http, "GET", `/api/sessions/${session}/messages?limit=500`, { token: await token("alice") })).body.messages;
}

test("kill -9 mid-reply: after the restart the reply is committed once as interrupted, with the text saved at most 500 ms before the kill", async () => {
  const pieces = numberedPieces(400);
  fake.script({ pieces, delayMs: 10 });
  const first = await start();
  const alice = await openWithAssistant(first, "alice", "crash");
  const seen = timedDeltas(alice);
  const asked = await alice.request({ type: "message", session: "crash", content: "a long story" });
  const startFrame = await streamStart(alice);
  await Bun.sleep(1200);
  const killedAt = Date.now();
  first.proc.kill("SIGKILL");
  await first.exited;
  await fake.waitForAborts(1, 2000);
  const shownByKill = reconstruct(seen.map((d) => d.frame)).text;
  const shownHalfSecondBefore = reconstruct(seen.filter((d) => d.at <= killedAt - 500).map((d) => d.frame)).text;
  expect(shownHalfSecondBefore.length).toBeGreaterThan(0);

  const second = await start(first.dataDir);
  const back = await WsClient.connect(second.ws, { token: await token("alice") });
  const rejoined = await back.request({ type: "join", session: "crash", since: asked.seq });
  expect(rejoined.streams).toEqual([]);
  expect(rejoined.messages).toHaveLength(1);
  const reply = rejoined.messages[0];
  expect(reply).toMatchObject({ role: "assistant", userId: "assistant", clientMsgId: startFrame.stream.id });
  expect(reply.metadata).toMatchObject({ stream: startFrame.stream.id, replyTo: asked.seq, model: "fake-model", status: "interrupted" });
  // Saved text: everything shown up to 500 ms before the kill, and nothing that was never streamed.
  expect(reply.content.startsWith(shownHalfSecondBefore)).toBe(true);
  expect(shownByKill.startsWith(reply.content)).toBe(true);
  expect(pieces.join("").startsWith(reply.content)).toBe(true);
  expect((await api(second.http, "GET", "/api/sessions/crash", { token: await token("alice") })).body.metrics.assistantMessages).toBe(1);
  await back.close();

  // A crash between that commit and the row's delete leaves the row behind: the next start finds the message
  // already committed under the stream's id and writes nothing.
  expect(await second.stop()).toBe(0);
  const db = new Database(join(first.dataDir, "sessiond.db"));
  db.run(
    "INSERT INTO assistant_streams (id, session_id, reply_to, user_id, model, started_at, text, reasoning, saved_at) VALUES (?, 'crash', ?, 'assistant', 'fake-model', 0, 'a repeat', '', 0)",
    [startFrame.stream.id, asked.seq],
  );
  db.close();
  const third = await start(first.dataDir);
  const all = await history(third, "crash");
  expect(all.filter((m) => m.role === "assistant")).toHaveLength(1);
  expect(all.at(-1).content).toBe(reply.content);
  const left = new Database(join(first.dataDir, "sessiond.db"), { readonly: true });
  expect(left.query("SELECT count(*) AS n FROM assistant_streams").get()).toEqual({ n: 0 });
  left.close();
  await alice.close().catch(() => {});
}, 30_000);

test("SIGTERM mid-reply: the text is committed as interrupted and broadcast, then the server exits 0 within 10 s", async () => {
  const pieces = numberedPieces(400);
  // Holds after 50 pieces: the reply is surely still in progress at the signal.
  fake.script({ pieces, delayMs: 5, gate: { after: 50, open: new Promise(() => {}) } });
  const server = await start();
  const alice = await openWithAssistant(server, "alice", "sigterm");
  const asked = await alice.request({ type: "message", session: "sigterm", content: "go on" });
  const startFrame = await streamStart(alice);
  await alice.waitForCount((f) => f.type === "stream.delta", 50);
  const t0 = Date.now();
  const code = await server.stop("SIGTERM");
  expect(code).toBe(0);
  expect(Date.now() - t0).toBeLessThan(10_000);
  const { code: closeCode } = await alice.closed;
  expect(closeCode).toBe(1001);
  await fake.waitForAborts(1, 2000);
  const end = alice.frames.find((f) => f.type === "stream.end")!;
  expect(end).toMatchObject({ stream: startFrame.stream.id, status: "interrupted" });
  const reply = alice.messages("sigterm").find((m) => m.role === "assistant")!;
  expect(reply).toMatchObject({ seq: end.seq, metadata: { status: "interrupted", replyTo: asked.seq } });
  const deltas = alice.frames.filter((f) => f.type === "stream.delta");
  expect(reply.content).toBe(reconstruct(deltas).text);
  expect(reply.content).toBe(pieces.slice(0, 50).join(""));
  expect(server.logs.some((l) => l.includes('"assistant.stopped"') && l.includes('"interrupted":1'))).toBe(true);

  const again = await start(server.dataDir);
  const all = await history(again, "sigterm");
  expect(all.filter((m) => m.role === "assistant").map((m) => m.content)).toEqual([reply.content]);
}, 30_000);
