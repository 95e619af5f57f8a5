// The SDK against a real server process: joins, events, sends and their typed errors, tokens, closes.
import { afterAll, describe, expect, test } from "bun:test";
import { SessiondClientError, type Message, type SessiondClient } from "../../src/client/index.ts";
import { api, eventually, freePort, sdk, startServer, token, type ServerProcess, ON_CLUSTER } from "../helpers.ts";

const server = await startServer({ env: { RATE_LIMIT_MESSAGES_PER_MINUTE: "100000", MAX_MESSAGE_BYTES: "1024", MAX_RECOVERY_MESSAGES: "10" } });
const opened: SessiondClient[] = [];
afterAll(async () => {
  await Promise.all(opened.map((c) => c.close()));
  await server.stop();
});

/** A client that is closed after the file's tests. */
function client(user: string, options: Parameters<typeof sdk>[2] = {}, target: { http: string } = server): SessiondClient {
  const c = sdk(target, user, options);
  opened.push(c);
  return c;
}

/** Resolves with the error a promise rejects with. */
async function rejection(promise: Promise<unknown>): Promise<SessiondClientError> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(SessiondClientError);
    return e as SessiondClientError;
  }
  throw new Error("expected a rejection");
}

const ownerToken = () => token("alice");
const patch = async (session: string, body: unknown) => expect((await api(server.http, "PATCH", `/api/sessions/${session}`, { token: await ownerToken(), body })).status).toBe(200);

describe("joining", () => {
  test("join returns the history and session, then every later message arrives once as an event", async () => {
    const alice = client("alice");
    const writer = await alice.join("history-1");
    for (const content of ["a", "b", "c"]) await writer.send(content);
    const reader = client("alice");
    const handle = await reader.join("history-1", { limit: 2 });
    expect(handle.history.map((m) => m.content)).toEqual(["b", "c"]);
    expect(handle.info).toMatchObject({ id: "history-1", ownerId: "alice", status: "active" });
    expect(handle.lastSeq).toBe(3);
    const live: Message[] = [];
    handle.on("message", (m) => live.push(m));
    await writer.send("d");
    await eventually(() => live.length === 1);
    expect(live[0]).toMatchObject({ seq: 4, content: "d", userId: "alice" });
  });

  test("messages that arrive before the app listens are delivered to its first message listener, in order", async () => {
    const writer = await client("alice").join("late-listener");
    const handle = await client("alice").join("late-listener");
    for (const content of ["early 1", "early 2"]) await writer.send(content);
    await Bun.sleep(50);
    const seen: string[] = [];
    handle.on("message", (m) => seen.push(m.content));
    await writer.send("live");
    await eventually(() => seen.length === 3);
    expect(seen).toEqual(["early 1", "early 2", "live"]);
  });

  test("joining with since returns what follows it, paging through a truncated recovery as in-order events", async () => {
    const alice = client("alice");
    const writer = await alice.join("paged");
    await Promise.all(Array.from({ length: 35 }, (_, i) => writer.send(`m${i + 1}`)));
    const reader = client("alice");
    const handle = await reader.join("paged", { since: 3 });
    // The server returns at most MAX_RECOVERY_MESSAGES (10) per join; the rest is fetched by the client.
    expect(handle.history.map((m) => m.seq)).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    const events: number[] = [];
    handle.on("message", (m) => events.push(m.seq));
    await writer.send("m36");
    await eventually(() => events.length === 23, 5000, "the remaining pages and the live message");
    expect(events).toEqual(Array.from({ length: 23 }, (_, i) => i + 14));
  });

  test("a room join resolves with the room's active session", async () => {
    const handle = await client("alice").join({ room: "standup" });
    expect(handle.info.room).toBe("standup");
    expect(handle.id).toMatch(/^[0-9a-f]{32}$/);
  });

  test("a refused join rejects with the protocol's code, and an invalid id is refused before anything is sent", async () => {
    await client("alice").join("alice-only");
    const refused = await rejection(client("mallory").join("alice-only"));
    expect(refused.code).toBe("forbidden");
    expect(refused.details.session).toBe("alice-only");
    expect((await rejection(client("alice").join("no spaces allowed"))).code).toBe("bad_request");
  });

  test("configure and end from the owner; presence, configuration and the end arrive as handle events", async () => {
    const alice = await client("alice").join("events-1");
    const presence: string[] = [];
    alice.on("presence", ({ userId, event }) => presence.push(`${userId}:${event}`));
    const configs: unknown[] = [];
    alice.on("session", (info) => configs.push(info.config));
    const statuses: string[] = [];
    alice.on("status", (status) => statuses.push(status));

    expect(await alice.configure({ members: ["bob"], config: { persona: "coach" } })).toMatchObject({ members: ["bob"], config: { persona: "coach" } });
    const bobClient = client("bob");
    const bob = await bobClient.join("events-1");
    expect(bob.participants.sort()).toEqual(["alice", "bob"]);
    await bob.leave();
    await eventually(() => presence.length === 2);
    expect(presence).toEqual(["bob:join", "bob:leave"]);
    expect(configs).toEqual([{ persona: "coach" }]);

    expect((await alice.end()).status).toBe("completed");
    await eventually(() => statuses.length === 1);
    expect(statuses).toEqual(["completed"]);
    expect(alice.active).toBe(false);
    expect((await rejection(alice.send("too late"))).code).toBe("session_ended");
  });

  test("a member whose access is removed gets a forbidden error on the handle and nothing more from the session", async () => {
    await client("alice").join("revoked-1");
    await patch("revoked-1", { members: ["bob"] });
    const bob = await client("bob").join("revoked-1");
    const errors: string[] = [];
    const received: string[] = [];
    bob.on("error", (e) => errors.push(e.code));
    bob.on("message", (m) => received.push(m.content));
    await patch("revoked-1", { members: [] });
    await eventually(() => errors.length === 1);
    expect(errors).toEqual(["forbidden"]);
    expect(bob.active).toBe(false);
    expect(received).toEqual([]);
  });

  test("after leave() the handle receives nothing, and a fresh join of another session starts clean", async () => {
    const alice = client("alice");
    const writer = client("alice");
    const first = await alice.join("practice-a");
    const seen: string[] = [];
    first.on("message", (m) => seen.push(m.content));
    await first.leave();
    expect(first.active).toBe(false);
    await writer.send("practice-a", "after leaving");
    const second = await alice.join("practice-b");
    expect(second.history).toEqual([]);
    const fresh: string[] = [];
    second.on("message", (m) => fresh.push(m.content));
    await writer.send("practice-b", "new session");
    await eventually(() => fresh.length === 1);
    expect(seen).toEqual([]);
  });
});

describe("sending", () => {
  test("send resolves with the durable ack; the same clientMsgId again returns the first ack and writes nothing", async () => {
    const alice = client("alice");
    const handle = await alice.join("idempotent-1");
    const first = await handle.send("hello", { clientMsgId: "retry-1", metadata: { lang: "en" } });
    const again = await handle.send("hello", { clientMsgId: "retry-1" });
    expect(again).toEqual(first);
    expect(first).toMatchObject({ session: "idempotent-1", seq: 1, clientMsgId: "retry-1" });
    const generated = await handle.send("no key given");
    expect(generated.clientMsgId).toMatch(/^[0-9a-f]{32}$/);
    const stored = await api(server.http, "GET", "/api/sessions/idempotent-1/messages?after=0", { token: await ownerToken() });
    expect(stored.body.messages.map((m: Message) => m.content)).toEqual(["hello", "no key given"]);
  });

  test("a refused send rejects with the protocol's code and the next one still goes out", async () => {
    const handle = await client("alice").join("refused-1");
    const tooBig = await rejection(handle.send("x".repeat(2000)));
    expect(tooBig.code).toBe("payload_too_large");
    expect(tooBig.message).toContain("1024");
    expect((await handle.send("fits")).seq).toBe(1);
  });

  test("a frame the server closes the connection over (1009) rejects that send; the client reconnects and sends the rest", async () => {
    const alice = client("alice");
    const handle = await alice.join("too-big-1");
    const reconnects: number[] = [];
    alice.on("reconnecting", ({ code }) => reconnects.push(code));
    const huge = handle.send("x".repeat(40 * 1024));
    const next = handle.send("small");
    expect((await rejection(huge)).code).toBe("payload_too_large");
    expect((await next).seq).toBe(1);
    expect(reconnects).toEqual([1009]);
  });

  // Single node only: restarts one server process on a fixed port.
  test.skipIf(ON_CLUSTER)("sends beyond maxQueuedSends reject with queue_full; a send not acked in time rejects with timeout and is never sent later", async () => {
    const port = freePort();
    const offline = client("alice", { maxQueuedSends: 2 }, { http: `http://127.0.0.1:${port}` });
    const joined = offline.join("queued-1", { timeoutMs: 20_000 });
    const late = offline.send("queued-1", "too late", { timeoutMs: 300 });
    const kept = offline.send("queued-1", "kept", { timeoutMs: 20_000 });
    const full = await rejection(offline.send("queued-1", "one too many"));
    expect(full.code).toBe("queue_full");
    const timedOut = await rejection(late);
    expect(timedOut.code).toBe("timeout");
    expect(timedOut.details.clientMsgId).toBeString();

    const later = await startServer({ env: { PORT: String(port) } });
    try {
      await joined;
      expect((await kept).seq).toBe(1);
      const stored = await api(later.http, "GET", "/api/sessions/queued-1/messages?after=0", { token: await ownerToken() });
      expect(stored.body.messages.map((m: Message) => m.content)).toEqual(["kept"]);
    } finally {
      await offline.close();
      await later.stop();
    }
  });
});

describe("rate limits", () => {
  let limited: ServerProcess;
  afterAll(() => limited?.stop());

  // Single node only: per-node: /metrics counts this node's refusals only.
  test.skipIf(ON_CLUSTER)("rate_limited is waited out for retryAfterMs: every send resolves, in order, without hammering the server", async () => {
    limited = await startServer({ env: { RATE_LIMIT_MESSAGES_PER_MINUTE: "5", RATE_LIMIT_WINDOW_SECONDS: "1" } });
    const handle = await client("alice", {}, limited).join("limited-1");
    const started = Date.now();
    const acks = await Promise.all(Array.from({ length: 15 }, (_, i) => handle.send(`m${i}`)));
    const elapsed = Date.now() - started;
    expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    // 5 at once, then one per 200 ms.
    expect(elapsed).toBeGreaterThanOrEqual(1500);
    const metrics = await (await fetch(`${limited.http}/metrics`)).text();
    const refusals = Number(/sessiond_errors_total\{code="rate_limited"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    expect(refusals).toBeGreaterThan(0);
    expect(refusals).toBeLessThanOrEqual(20);
  });
});

describe("tokens", () => {
  test("getToken is called again before the token expires and the fresh one is sent on the open connection", async () => {
    let calls = 0;
    const reconnects: number[] = [];
    const alice = client("alice", {
      getToken: () => {
        calls++;
        return token("alice", { ttlSeconds: 2 });
      },
    });
    alice.on("reconnecting", ({ code }) => reconnects.push(code));
    const handle = await alice.join("refresh-1");
    await Bun.sleep(3500);
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(reconnects).toEqual([]);
    expect(alice.state).toBe("open");
    expect((await handle.send("still here")).seq).toBe(1);
  });

  test("a fixed token that expires closes the client with 4001 and an unauthorized error, without reconnecting", async () => {
    const fixed = await token("alice", { ttlSeconds: 3 });
    const alice = client("alice", { getToken: undefined, token: fixed });
    const reconnects: number[] = [];
    alice.on("reconnecting", ({ code }) => reconnects.push(code));
    const closed = new Promise<{ code: number; error?: SessiondClientError }>((resolve) => alice.on("closed", resolve));
    await alice.join("expiring-1");
    const { code, error } = await closed;
    expect(code).toBe(4001);
    expect(error?.code).toBe("unauthorized");
    expect(alice.state).toBe("closed");
    expect(reconnects).toEqual([]);
  });

  test("4001 after a failed refresh reconnects with a token from getToken and resumes the session", async () => {
    let calls = 0;
    const alice = client("alice", {
      getToken: () => {
        calls++;
        if (calls === 2) throw new Error("auth service unavailable");
        return token("alice", { ttlSeconds: calls === 1 ? 1 : 3600 });
      },
    });
    const reconnects: number[] = [];
    alice.on("reconnecting", ({ code }) => reconnects.push(code));
    const errors: string[] = [];
    alice.on("error", (e) => errors.push(e.code));
    const handle = await alice.join("expiring-2");
    const seen: string[] = [];
    handle.on("message", (m) => seen.push(m.content));
    await eventually(() => reconnects.includes(4001), 5000, "the 4001 close");
    await eventually(() => alice.state === "open", 5000, "the reconnect");
    await handle.send("after 4001");
    await eventually(() => seen.length === 1);
    expect(errors).toContain("unauthorized");
  });
});

describe("closes", () => {
  test("a terminal close code (4500–4999) stops reconnecting until the app calls reconnect()", async () => {
    let upgrades = 0;
    const refusing = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response("upgrade expected", { status: 400 })),
      websocket: {
        open(ws) {
          upgrades++;
          ws.close(4501, "forbidden");
        },
        message() {},
      },
    });
    try {
      const c = client("alice", {}, { http: `http://127.0.0.1:${refusing.port}` });
      const reconnects: number[] = [];
      c.on("reconnecting", ({ code }) => reconnects.push(code));
      const closed = new Promise<{ code: number; error?: SessiondClientError }>((resolve) => c.on("closed", resolve));
      const pending = c.send("s1", "never");
      const { code, error } = await closed;
      expect(code).toBe(4501);
      expect(error?.code).toBe("forbidden");
      expect((await rejection(pending)).code).toBe("forbidden");
      await Bun.sleep(300);
      expect(reconnects).toEqual([]);
      expect(upgrades).toBe(1);
      c.reconnect();
      await eventually(() => upgrades === 2, 5000, "the second connection");
    } finally {
      refusing.stop(true);
    }
  });

  // Single node only: restarts one server process on a fixed port.
  test.skipIf(ON_CLUSTER)("the attempt count starts over once a connection has stayed open for stableAfterMs", async () => {
    const own = await startServer();
    try {
      const c = client("alice", { reconnect: { baseMs: 20, capMs: 100, stableAfterMs: 300 } }, own);
      const attempts: number[] = [];
      c.on("reconnecting", ({ attempt, code }) => attempts.push(code === 4003 ? attempt : -attempt));
      await c.join("stable-1");
      const reset = async () => {
        const before = attempts.length;
        expect((await api(own.http, "POST", "/api/admin/reset", { token: await token("root", { admin: true }) })).status).toBe(200);
        await eventually(() => attempts.length > before && c.state === "open", 5000, "the reconnect");
      };
      await reset();
      await reset(); // at once: the connection was not stable yet, so this is attempt 2
      await Bun.sleep(500);
      await reset(); // after stableAfterMs: attempt 1 again
      expect(attempts).toEqual([1, 2, 1]);
    } finally {
      await own.stop();
    }
  });

  // Single node only: restarts one server process on a fixed port.
  test.skipIf(ON_CLUSTER)("reconnecting gives up after maxAttempts with growing, capped delays", async () => {
    const c = client("alice", { reconnect: { baseMs: 10, capMs: 40, maxAttempts: 4 } }, { http: `http://127.0.0.1:${freePort()}` });
    const delays: number[] = [];
    c.on("reconnecting", ({ delayMs }) => delays.push(delayMs));
    const closed = new Promise<{ error?: SessiondClientError }>((resolve) => c.on("closed", resolve));
    const { error } = await closed;
    expect(delays.length).toBe(4);
    expect(delays.every((d) => d >= 0 && d < 40)).toBe(true);
    expect(error?.code).toBe("closed");
    expect(error?.message).toContain("4 reconnect attempts");
  });

  // Single node only: restarts one server process on a fixed port.
  test.skipIf(ON_CLUSTER)("a session that ended while the client was away delivers the missed messages, then its status", async () => {
    const port = freePort();
    const own = await startServer({ env: { PORT: String(port) } });
    const alice = client("alice", {}, own);
    const handle = await alice.join("ended-away");
    const events: string[] = [];
    handle.on("message", (m) => events.push(m.content));
    handle.on("status", (s) => events.push(`status:${s}`));
    await own.stop("SIGKILL");
    const restarted = await startServer({ dataDir: own.dataDir, env: { PORT: String(port) } });
    try {
      const admin = await token("admin", { admin: true });
      await api(restarted.http, "POST", "/api/sessions/ended-away/messages", { token: admin, body: { content: "summary", role: "assistant" } });
      await api(restarted.http, "POST", "/api/sessions/ended-away/end", { token: admin, body: { status: "completed" } });
      await eventually(() => events.length === 2, 10_000, "the missed message and the status");
      expect(events).toEqual(["summary", "status:completed"]);
      expect(handle.active).toBe(false);
    } finally {
      await alice.close();
      await restarted.stop();
    }
  });
});
