// The SDK across crashes and restarts of a real server process: every message exactly once and in seq order,
// every send resolved exactly once.
import { expect, test } from "bun:test";
import type { Ack, Message, SessiondClient } from "../../src/client/index.ts";
import { api, eventually, freePort, sdk, startServer, tempDir, token, type ServerProcess } from "../helpers.ts";

const serverEnv = (port: number) => ({ PORT: String(port), RATE_LIMIT_MESSAGES_PER_MINUTE: "1000000" });
const member = (server: ServerProcess, user: string, session: string) => sdk(server, user, { getToken: () => token(user, { sessions: [session] }) });

async function storedContents(server: ServerProcess, session: string): Promise<string[]> {
  const admin = await token("admin", { admin: true });
  const contents: string[] = [];
  for (let after: number | null = 0; after !== null; ) {
    const res = await api(server.http, "GET", `/api/sessions/${session}/messages?after=${after}&limit=500`, { token: admin });
    expect(res.status).toBe(200);
    contents.push(...res.body.messages.map((m: Message) => m.content));
    after = res.body.nextAfter;
  }
  return contents;
}

test("two clients exchange 500 messages while the server is killed and restarted: both see all 500 once, in order, and every send resolves once", async () => {
  const port = freePort();
  const dataDir = tempDir();
  let server = await startServer({ dataDir, env: serverEnv(port) });
  const clients: Record<string, SessiondClient> = { alice: member(server, "alice", "exchange"), bob: member(server, "bob", "exchange") };
  const seen: Record<string, Message[]> = { alice: [], bob: [] };
  const reopened: Record<string, number> = { alice: 0, bob: 0 };
  for (const [user, client] of Object.entries(clients)) {
    client.on("open", ({ reconnected }) => void (reconnected && reopened[user]!++));
    const handle = await client.join("exchange");
    handle.on("message", (m) => seen[user]!.push(m));
  }

  const acks: Ack[] = [];
  const settled = new Map<string, number>();
  const failures: unknown[] = [];
  const sends: Promise<void>[] = [];
  const sendAll = (async () => {
    for (let i = 0; i < 250; i++) {
      for (const user of ["alice", "bob"]) {
        const content = `${user} ${i}`;
        sends.push(
          clients[user]!.send("exchange", content).then(
            (ack) => {
              acks.push(ack);
              settled.set(content, (settled.get(content) ?? 0) + 1);
            },
            (e) => void failures.push(e),
          ),
        );
      }
      await Bun.sleep(8);
    }
  })();

  // A crash (SIGKILL, no goodbye) and a graceful restart (SIGTERM, 1001), each mid-exchange.
  let restarts = 0;
  for (const [afterAcks, signal] of [[100, "SIGKILL"], [300, "SIGTERM"]] as const) {
    await eventually(() => acks.length >= afterAcks, 20_000, `${afterAcks} acks`);
    await server.stop(signal);
    await Bun.sleep(300);
    server = await startServer({ dataDir, env: serverEnv(port) });
    restarts++;
  }
  await sendAll;
  await Promise.all(sends);

  expect(restarts).toBe(2);
  expect(reopened).toEqual({ alice: 2, bob: 2 });
  expect(failures).toEqual([]);
  expect(acks.length).toBe(500);
  expect([...settled.values()].every((n) => n === 1)).toBe(true);
  expect(new Set(acks.map((a) => a.seq)).size).toBe(500);

  await eventually(() => seen.alice!.length >= 500 && seen.bob!.length >= 500, 15_000, "500 messages at both clients");
  await Bun.sleep(100);
  const expectedSeqs = Array.from({ length: 500 }, (_, i) => i + 1);
  for (const user of ["alice", "bob"]) {
    const messages = seen[user]!;
    expect(messages.map((m) => m.seq)).toEqual(expectedSeqs);
    expect(new Set(messages.map((m) => m.id)).size).toBe(500);
    // Each sender's messages committed in the order they were sent.
    for (const sender of ["alice", "bob"]) {
      expect(messages.filter((m) => m.userId === sender).map((m) => m.content)).toEqual(Array.from({ length: 250 }, (_, i) => `${sender} ${i}`));
    }
  }
  expect((await storedContents(server, "exchange")).length).toBe(500);

  await Promise.all(Object.values(clients).map((c) => c.close()));
  await server.stop();
}, 60_000);

test("100 messages sent while the server is down are delivered exactly once, in order, when it comes back", async () => {
  const port = freePort();
  const dataDir = tempDir();
  let server = await startServer({ dataDir, env: serverEnv(port) });
  const alice = member(server, "alice", "offline");
  const handle = await alice.join("offline");
  const delivered: Message[] = [];
  handle.on("message", (m) => delivered.push(m));
  let reconnecting = 0;
  alice.on("reconnecting", () => reconnecting++);

  await server.stop("SIGKILL");
  await eventually(() => alice.state === "reconnecting", 5000, "the client to notice");
  const sends = Array.from({ length: 100 }, (_, i) => handle.send(`offline ${i}`));
  await Bun.sleep(500); // several reconnect attempts fail meanwhile
  expect(alice.state).toBe("reconnecting");
  server = await startServer({ dataDir, env: serverEnv(port) });

  const acks = await Promise.all(sends);
  expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  await eventually(() => delivered.length >= 100, 5000, "100 deliveries");
  expect(delivered.map((m) => m.content)).toEqual(Array.from({ length: 100 }, (_, i) => `offline ${i}`));
  expect(await storedContents(server, "offline")).toEqual(Array.from({ length: 100 }, (_, i) => `offline ${i}`));
  expect(reconnecting).toBeGreaterThan(1);

  await alice.close();
  await server.stop();
});
