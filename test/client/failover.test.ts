// The SDK with a list of server URLs, against real server processes: a dead first URL is skipped, and a client
// whose node is killed moves to the next one and loses nothing that was acked. Two nodes here share one SQLite
// file, one at a time (SQLite has one writer process): the node that takes over opens the file the killed one left.
import { expect, test } from "bun:test";
import type { Ack, Message, SessiondClient } from "../../src/client/index.ts";
import { api, eventually, freePort, sdk, startServer, tempDir, token, type ServerProcess } from "../helpers.ts";

const env = (port: number) => ({ PORT: String(port), RATE_LIMIT_MESSAGES_PER_MINUTE: "1000000" });
const httpUrl = (port: number) => `http://127.0.0.1:${port}`;
const wsUrl = (port: number) => `ws://127.0.0.1:${port}/ws`;

async function storedMessages(server: ServerProcess, session: string): Promise<Message[]> {
  const admin = await token("admin", { admin: true });
  const messages: Message[] = [];
  for (let after: number | null = 0; after !== null; ) {
    const res = await api(server.http, "GET", `/api/sessions/${session}/messages?after=${after}&limit=500`, { token: admin });
    expect(res.status).toBe(200);
    messages.push(...res.body.messages);
    after = res.body.nextAfter;
  }
  return messages;
}

test("a list whose first URLs are dead connects to the live one without sitting out a backoff per dead node", async () => {
  const live = await startServer();
  const dead = [freePort(), freePort()];
  const started = Date.now();
  // Default backoff (500 ms base): only the first attempt of a round waits, so two dead nodes cost < 500 ms.
  const client = sdk(live, "alice", { url: [httpUrl(dead[0]!), httpUrl(dead[1]!), live.http], reconnect: {} });
  const tried: string[] = [];
  client.on("connecting", ({ url }) => tried.push(url));
  client.on("reconnecting", ({ url }) => tried.push(url));
  const opened = new Promise<{ url: string; at: number }>((resolve) => client.on("open", ({ url }) => resolve({ url, at: Date.now() })));
  expect(client.url).toBe(wsUrl(dead[0]!));

  const open = await opened;
  expect(tried).toEqual([wsUrl(dead[0]!), wsUrl(dead[1]!), live.ws]);
  expect(open.url).toBe(live.ws);
  expect(client.url).toBe(live.ws);
  expect(open.at - started).toBeLessThan(1500);
  const handle = await client.join("first-dead");
  expect((await handle.send("hello")).seq).toBe(1);

  await client.close();
  await live.stop();
});

test("every URL refusing: the attempts go round the list, and after maxAttempts reconnect() starts at the next URL", async () => {
  const dead = [freePort(), freePort(), freePort()];
  const client = sdk({ http: httpUrl(dead[0]!) }, "alice", { url: dead.map(httpUrl), reconnect: { baseMs: 20, capMs: 40, maxAttempts: 4 } });
  const tried: string[] = [];
  client.on("connecting", ({ url }) => tried.push(url));
  client.on("reconnecting", ({ url }) => tried.push(url));
  const closed = new Promise<string | undefined>((resolve) => client.on("closed", ({ error }) => resolve(error?.message)));
  expect(await closed).toBe("Gave up after 4 reconnect attempts.");
  expect(tried).toEqual([0, 1, 2, 0, 1].map((i) => wsUrl(dead[i]!)));
  expect(client.url).toBe(wsUrl(dead[2]!));
  client.reconnect();
  await eventually(() => tried.length >= 7, 5000, "attempts after reconnect()");
  expect(tried.slice(5, 7)).toEqual([2, 0].map((i) => wsUrl(dead[i]!)));
  await client.close();
});

test("kill -9 of the node under load: both clients move to the next URL, every acked message is kept and every unacked send is committed exactly once", async () => {
  const dataDir = tempDir();
  const ports = { a: freePort(), b: freePort() };
  const urls = [httpUrl(ports.a), httpUrl(ports.b)];
  let server = await startServer({ dataDir, env: env(ports.a) });
  const member = (user: string) => sdk(server, user, { url: urls, getToken: () => token(user, { sessions: ["failover"] }) });
  const clients: Record<string, SessiondClient> = { alice: member("alice"), bob: member("bob") };
  const opens: Record<string, string[]> = { alice: [], bob: [] };
  const seen: Record<string, Message[]> = { alice: [], bob: [] };
  for (const [user, client] of Object.entries(clients)) client.on("open", ({ url }) => void opens[user]!.push(url));
  for (const [user, client] of Object.entries(clients)) {
    const handle = await client.join("failover");
    handle.on("message", (m) => seen[user]!.push(m));
  }

  const acked = new Map<string, Ack>();
  const settled = new Map<string, number>();
  const failures: unknown[] = [];
  const sends: Promise<void>[] = [];
  const total = 400;
  const sendAll = (async () => {
    for (let i = 0; i < total / 2; i++) {
      for (const user of ["alice", "bob"]) {
        const content = `${user} ${i}`;
        sends.push(
          clients[user]!.send("failover", content).then(
            (ack) => {
              acked.set(content, ack);
              settled.set(content, (settled.get(content) ?? 0) + 1);
            },
            (e) => void failures.push(e),
          ),
        );
      }
      await Bun.sleep(6);
    }
  })();

  // Kill A mid-exchange and start B on the same file; later kill B and start A again: the clients follow.
  const killed: Array<{ ackedBefore: string[]; unackedAt: string[] }> = [];
  for (const [afterAcks, next] of [[80, ports.b], [240, ports.a]] as const) {
    await eventually(() => acked.size >= afterAcks, 20_000, `${afterAcks} acks`);
    await server.stop("SIGKILL");
    const sent = sends.length;
    const all = Array.from({ length: sent }, (_, k) => `${k % 2 === 0 ? "alice" : "bob"} ${Math.floor(k / 2)}`);
    await Bun.sleep(200); // attempts on both dead URLs fail meanwhile
    killed.push({ ackedBefore: all.filter((c) => acked.has(c)), unackedAt: all.filter((c) => !acked.has(c)) });
    server = await startServer({ dataDir, env: env(next) });
    await eventually(() => Object.values(clients).every((c) => c.state === "open" && c.url === wsUrl(next)), 10_000, "both clients on the new node");
  }
  await sendAll;
  await Promise.all(sends);

  expect(failures).toEqual([]);
  expect(acked.size).toBe(total);
  expect([...settled.values()].every((n) => n === 1)).toBe(true);
  expect(new Set([...acked.values()].map((a) => a.seq)).size).toBe(total);
  // Each node was used only while it lived; a loss moved on to the other URL, never back to the dead one.
  for (const user of ["alice", "bob"]) expect(opens[user]).toEqual([wsUrl(ports.a), wsUrl(ports.b), wsUrl(ports.a)]);

  const stored = await storedMessages(server, "failover");
  const contents = stored.map((m) => m.content);
  expect(stored.length).toBe(total);
  expect(new Set(contents).size).toBe(total);
  expect(new Set(stored.map((m) => m.clientMsgId)).size).toBe(total);
  expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  for (const { ackedBefore, unackedAt } of killed) {
    expect(unackedAt.length).toBeGreaterThan(0);
    for (const content of ackedBefore) expect(stored.find((m) => m.content === content)?.seq).toBe(acked.get(content)!.seq);
    for (const content of unackedAt) expect(contents.filter((c) => c === content).length).toBe(1);
  }
  // The acks name the committed rows: same seq, same id.
  for (const m of stored) expect(acked.get(m.content)).toMatchObject({ seq: m.seq, messageId: m.id, clientMsgId: m.clientMsgId });

  await eventually(() => seen.alice!.length >= total && seen.bob!.length >= total, 15_000, "every message at both clients");
  await Bun.sleep(100);
  for (const user of ["alice", "bob"]) {
    expect(seen[user]!.map((m) => m.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    for (const sender of ["alice", "bob"]) {
      expect(seen[user]!.filter((m) => m.userId === sender).map((m) => m.content)).toEqual(Array.from({ length: total / 2 }, (_, i) => `${sender} ${i}`));
    }
  }

  await Promise.all(Object.values(clients).map((c) => c.close()));
  await server.stop();
}, 90_000);

/** A TCP proxy to `port` that can swallow what the server sends (acks included) while passing on closes. */
function startProxy(port: number) {
  let swallow = false;
  const listener = Bun.listen<{ upstream: Promise<import("bun").Socket<undefined> | null> }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(client) {
        client.data = {
          upstream: Bun.connect({
            hostname: "127.0.0.1",
            port,
            socket: { data: (_, bytes) => void (swallow || client.write(bytes)), close: () => void client.end() },
          }).catch(() => (client.end(), null)), // the server is down: so is the link
        };
      },
      data: (client, bytes) => void client.data.upstream.then((up) => up?.write(bytes)),
      close: (client) => void client.data.upstream.then((up) => up?.end()),
    },
  });
  return { url: httpUrl(listener.port), swallowFromNow: () => void (swallow = true), stop: () => listener.stop(true) };
}

test("a message committed by the killed node whose ack never arrived is resent to the next one and found there: one row, one ack", async () => {
  const dataDir = tempDir();
  const ports = { a: freePort(), b: freePort() };
  let server = await startServer({ dataDir, env: env(ports.a) });
  const proxy = startProxy(ports.a);
  const alice = sdk(server, "alice", { url: [proxy.url, httpUrl(ports.b)] });
  const handle = await alice.join("lost-ack");
  await handle.send("before");

  proxy.swallowFromNow();
  let settled = 0;
  const resent = handle.send("committed, ack lost").then((ack) => (settled++, ack));
  await eventually(async () => (await storedMessages(server, "lost-ack")).length === 2, 5000, "the commit on A");
  await Bun.sleep(50);
  expect(settled).toBe(0);
  await server.stop("SIGKILL");
  server = await startServer({ dataDir, env: env(ports.b) });

  const ack = await resent;
  expect(alice.url).toBe(wsUrl(ports.b));
  const stored = await storedMessages(server, "lost-ack");
  expect(stored.map((m) => m.content)).toEqual(["before", "committed, ack lost"]);
  expect(ack).toMatchObject({ seq: 2, messageId: stored[1]!.id, clientMsgId: stored[1]!.clientMsgId });
  expect((await handle.send("after")).seq).toBe(3);
  expect(settled).toBe(1);

  await alice.close();
  proxy.stop();
  await server.stop();
});
