// endOnDisconnect: a session ends as completed once its last connection (WebSocket or SSE) is gone for the grace
// period; a return inside the grace (the SDK's resume) keeps it; a server restart never ends it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "../../src/client/index.ts";
import { api, eventually, freePort, startServer, token, WsClient, type ServerProcess } from "../helpers.ts";

const statusOf = async (server: ServerProcess, id: string, t: string): Promise<string> => (await api(server.http, "GET", `/api/sessions/${id}`, { token: t })).body.status;

describe("a session with endOnDisconnect", () => {
  let server: ServerProcess;
  let alice: string;
  beforeAll(async () => {
    // Short SSE heartbeats: a write is how a server notices a stream whose client went away without a word.
    server = await startServer({ env: { SSE_HEARTBEAT_SECONDS: "1" } });
    alice = await token("alice");
  });
  afterAll(() => server.stop());

  const create = async (endOnDisconnect: Record<string, unknown>): Promise<string> => {
    const r = await api(server.http, "POST", "/api/sessions", { token: alice, body: { endOnDisconnect, access: "open" } });
    expect(r.status).toBe(201);
    return r.body.id;
  };

  test("ends as completed when the last participant's last connection has been gone for the grace period", async () => {
    const id = await create({ enabled: true, graceSeconds: 1 });
    expect((await api(server.http, "GET", `/api/sessions/${id}`, { token: alice })).body.endOnDisconnect).toEqual({ enabled: true, graceSeconds: 1 });
    const a1 = await WsClient.connect(server.ws, { token: alice });
    const a2 = await WsClient.connect(server.ws, { token: alice });
    const bob = await WsClient.connect(server.ws, { token: await token("bob") });
    for (const c of [a1, a2, bob]) expect((await c.request({ type: "join", session: id })).type).toBe("joined");
    await a1.close();
    await bob.close();
    // One connection of Alice's is still there: nothing ends.
    await Bun.sleep(1500);
    expect(await statusOf(server, id, alice)).toBe("active");
    const left = Date.now();
    await a2.close();
    await eventually(async () => (await statusOf(server, id, alice)) === "completed", 5000, "the session to end");
    expect(Date.now() - left).toBeGreaterThanOrEqual(900);
    const ended = server.logs.map((l) => JSON.parse(l)).find((l) => l.event === "session.ended" && l.session === id);
    expect(ended).toMatchObject({ status: "completed" });
  });

  test("an SSE watcher counts as a connection: when its stream closes, the grace starts", async () => {
    const id = await create({ enabled: true, graceSeconds: 1 });
    const abort = new AbortController();
    const res = await fetch(`${server.http}/api/sessions/${id}/events?token=${alice}`, { signal: abort.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read();
    await Bun.sleep(1500);
    expect(await statusOf(server, id, alice)).toBe("active");
    await reader.cancel();
    abort.abort();
    await eventually(async () => (await statusOf(server, id, alice)) === "completed", 6000, "the session to end");
  });

  test("the SDK's normal resume inside the grace period keeps the session going", async () => {
    const id = await create({ enabled: true, graceSeconds: 2 });
    const sockets: WebSocket[] = [];
    class Tracked extends WebSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        sockets.push(this);
      }
    }
    const client = connect({ url: server.http, getToken: () => token("carol"), reconnect: { baseMs: 50, capMs: 100 }, WebSocket: Tracked as typeof WebSocket });
    const handle = await client.join(id);
    let reconnects = 0;
    client.on("open", ({ reconnected }) => reconnected && reconnects++);
    // The link dies without a close handshake (as on a network drop); the client reconnects and re-joins.
    (sockets.at(-1) as WebSocket & { terminate(): void }).terminate();
    await eventually(() => reconnects === 1 && client.state === "open", 5000, "the client to resume");
    await Bun.sleep(2500);
    expect(await statusOf(server, id, alice)).toBe("active");
    expect((await handle.send("still here")).seq).toBe(1);
    await client.close();
    await eventually(async () => (await statusOf(server, id, alice)) === "completed", 6000, "the session to end after the client closed");
  });

  test("turned off with PATCH (or never turned on), leaving ends nothing", async () => {
    const id = await create({ enabled: true, graceSeconds: 1 });
    expect((await api(server.http, "PATCH", `/api/sessions/${id}`, { token: alice, body: { endOnDisconnect: { enabled: false } } })).body.endOnDisconnect).toEqual({
      enabled: false,
      graceSeconds: 1,
    });
    const plain = await create({});
    const c = await WsClient.connect(server.ws, { token: alice });
    await c.request({ type: "join", session: id });
    await c.request({ type: "join", session: plain });
    await c.close();
    await Bun.sleep(1800);
    expect(await statusOf(server, id, alice)).toBe("active");
    expect(await statusOf(server, plain, alice)).toBe("active");
  });

  test("configure over WebSocket merges a partial setting; a bad one is refused with the field named", async () => {
    const id = await create({});
    const c = await WsClient.connect(server.ws, { token: alice });
    const configured = await c.request({ type: "configure", session: id, endOnDisconnect: { enabled: true } });
    expect(configured.session.endOnDisconnect).toEqual({ enabled: true, graceSeconds: 30 });
    const bad = await c.request({ type: "configure", session: id, endOnDisconnect: { graceSeconds: -1 } });
    expect(bad).toMatchObject({ type: "error", code: "bad_request" });
    expect(bad.message).toContain("endOnDisconnect.graceSeconds");
    await c.close();
  });
});

describe("END_ON_DISCONNECT_GRACE_SECONDS", () => {
  test("gives new sessions endOnDisconnect on with that grace", async () => {
    const server = await startServer({ env: { END_ON_DISCONNECT_GRACE_SECONDS: "1" } });
    const t = await token("dan");
    const c = await WsClient.connect(server.ws, { token: t });
    const joined = await c.request({ type: "join", room: "quick-call" });
    expect(joined.session.endOnDisconnect).toEqual({ enabled: true, graceSeconds: 1 });
    await c.close();
    await eventually(async () => (await statusOf(server, joined.session.id, t)) === "completed", 5000, "the room's session to end");
    await server.stop();
  });

  test("a server restart does not end sessions whose people were only disconnected by it", async () => {
    const port = freePort();
    const env = { PORT: String(port), END_ON_DISCONNECT_GRACE_SECONDS: "0" };
    const first = await startServer({ env });
    const t = await token("eve");
    const c = await WsClient.connect(first.ws, { token: t });
    const joined = await c.request({ type: "join", session: "restart-check" });
    expect(joined.session.endOnDisconnect).toEqual({ enabled: true, graceSeconds: 0 });
    expect(await first.stop("SIGTERM")).toBe(0);
    expect(first.logs.some((l) => l.includes('"session.ended"'))).toBe(false);
    const second = await startServer({ env, dataDir: first.dataDir });
    // Nobody rejoined, and nothing is armed after the start: the session waits for its people (or its expiry).
    await Bun.sleep(1200);
    expect(await statusOf(second, "restart-check", t)).toBe("active");
    // The SDK's people come back, then really leave: now it ends.
    const back = await WsClient.connect(second.ws, { token: t });
    await back.request({ type: "join", session: "restart-check", since: 0 });
    await back.close();
    await eventually(async () => (await statusOf(second, "restart-check", t)) === "completed", 5000, "the session to end");
    await second.stop();
  });
});
