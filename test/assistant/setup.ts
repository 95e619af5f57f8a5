// Shared by the assistant tests: a sessiond process pointed at the fake model server, and helpers that read the
// stream frames a client received the way a client must (by offset).
import { startFakeOpenAI, type FakeOpenAI } from "../fixtures/fake-openai.ts";
import { api, startServer, token, WsClient, type Frame, type ServerProcess, type StartOptions } from "../helpers.ts";

export { startFakeOpenAI, type FakeOpenAI };

/** A server whose assistant talks to `fake`; fast saves and generous rate limits unless overridden. */
export function startAssistantServer(fake: FakeOpenAI, opts: StartOptions = {}): Promise<ServerProcess> {
  return startServer({
    ...opts,
    env: { AI_BASE_URL: fake.url, AI_MODEL: "fake-model", RATE_LIMIT_MESSAGES_PER_MINUTE: "10000", ...opts.env },
  });
}

/** Joins `session` (opening it as `user`) with the assistant configured as given; returns the client. */
export async function openWithAssistant(server: ServerProcess, user: string, session: string, assistant: Record<string, unknown> = {}, extra: Frame = {}): Promise<WsClient> {
  const c = await WsClient.connect(server.ws, { token: await token(user) });
  await c.request({ type: "join", session });
  const configured = await c.request({ type: "configure", session, access: "open", assistant: { enabled: true, ...assistant }, ...extra });
  if (configured.type !== "configured") throw new Error(`configure failed: ${JSON.stringify(configured)}`);
  return c;
}

export async function joined(server: ServerProcess, user: string, session: string, extra: Frame = {}): Promise<{ client: WsClient; reply: Frame }> {
  const client = await WsClient.connect(server.ws, { token: await token(user) });
  const reply = await client.request({ type: "join", session, ...extra });
  return { client, reply };
}

/** The stream frames of one stream a client received, in arrival order. */
export function streamFrames(frames: Frame[], streamId: string): Frame[] {
  return frames.filter((f) => f.type?.startsWith("stream.") && (f.stream === streamId || f.stream?.id === streamId));
}

/**
 * What a client shows: starting from a snapshot's text (if any), each delta applied by its offset: the part it
 * already has is dropped, a gap is an error. Returns the text and how many characters arrived twice.
 */
export function reconstruct(deltas: Frame[], start = "", part: "text" | "reasoning" = "text"): { text: string; overlap: number } {
  let text = start;
  let overlap = 0;
  for (const d of deltas) {
    if ((d.part ?? "text") !== part) continue;
    if (d.offset > text.length) throw new Error(`gap: delta at ${d.offset}, have ${text.length}`);
    const skip = text.length - d.offset;
    overlap += Math.min(skip, d.text.length);
    text += d.text.slice(skip);
  }
  return { text, overlap };
}

/** Waits for the stream.end of a stream (or of the first stream when none is named). */
export function streamEnd(client: WsClient, streamId?: string, timeoutMs = 10_000): Promise<Frame> {
  return client.waitFor((f) => f.type === "stream.end" && (streamId === undefined || f.stream === streamId), timeoutMs);
}

export function streamStart(client: WsClient, timeoutMs = 10_000, fromIndex = 0): Promise<Frame> {
  return client.waitFor((f) => f.type === "stream.start", timeoutMs, fromIndex);
}

export async function getSession(server: ServerProcess, user: string, id: string): Promise<any> {
  return (await api(server.http, "GET", `/api/sessions/${id}`, { token: await token(user) })).body;
}

/** Word pieces of a sentence of `n` numbered words: easy to check for repeats and gaps. */
export function numberedPieces(n: number, prefix = "w"): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i} `);
}

/** A gate for the fake's `gate` option: the reply holds after some pieces until `release()`. */
export function gate(): { open: Promise<void>; release(): void } {
  let release!: () => void;
  const open = new Promise<void>((resolve) => (release = resolve));
  return { open, release };
}

/** The text so far of the session's reply in progress, as GET .../streams reports it ("" when none). */
export async function textSoFar(server: ServerProcess, session: string, user = "alice"): Promise<string> {
  const res = await api(server.http, "GET", `/api/sessions/${session}/streams`, { token: await token(user) });
  return res.body.streams?.[0]?.text ?? "";
}
