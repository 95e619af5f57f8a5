// A client that fell far behind always catches up: recovery replies are capped by bytes (MAX_RECOVERY_BYTES) and
// the reply to a client's own join never counts toward the slow-consumer limit.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { api, eventually, sdk, startServer, token, WsClient, type ServerProcess } from "../helpers.ts";
import { rawWebSocket, textFrame } from "./raw-socket.ts";

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({ env: { RATE_LIMIT_MESSAGES_PER_MINUTE: "1000000", HEARTBEAT_TIMEOUT_SECONDS: "600" } });
});
afterAll(async () => {
  await server.stop();
});

const slowConsumers = async () => Number(/^sessiond_slow_consumers_total (\d+)$/m.exec(await (await fetch(`${server.http}/metrics`)).text())?.[1] ?? 0);

/** Publishes `count` messages of about `bytes` each, `inFlight` at a time; content starts with the index. */
async function publish(writer: WsClient, session: string, from: number, count: number, bytes: number, inFlight = 8): Promise<void> {
  const pad = "x".repeat(bytes);
  let next = from;
  const lane = async () => {
    while (next < from + count) {
      const i = next++;
      const reply = await writer.request({ type: "message", session, content: `${i}:${pad}` }, 30_000);
      if (reply.type !== "ack") throw new Error(`message ${i} refused: ${JSON.stringify(reply)}`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
}

describe("large recovery", () => {
  test("a subscriber that stops reading while 64 MiB are published is closed with 4002, then recovers every message in order and is never closed again", async () => {
    const t = await token("lagging");
    const raw = await rawWebSocket(server.port, t);
    raw.write(textFrame(JSON.stringify({ type: "join", session: "flood" })));
    await Bun.sleep(200);
    raw.pause(); // stops reading: the kernel buffers fill, then the server's queue for this socket grows
    const writer = await WsClient.connect(server.ws, { token: t });
    const total = 1100; // 1,100 × 61 KB = 64 MiB
    await publish(writer, "flood", 0, total, 61_000);
    await eventually(async () => (await slowConsumers()) === 1, 10_000, "the paused subscriber to be closed as a slow consumer");
    expect(server.logs.some((l) => l.includes('"connection.slow_consumer"'))).toBe(true);
    raw.destroy();

    // It comes back (through the SDK) and asks for everything after the last message it had: none.
    const client = sdk(server, "lagging");
    const drops: number[] = [];
    client.on("reconnecting", ({ code }) => drops.push(code));
    const seqs: number[] = [];
    const handle = await client.join("flood", { since: 0 });
    seqs.push(...handle.history.map((m) => m.seq));
    // Each page is at most MAX_RECOVERY_BYTES (1 MiB): about 17 of these messages, far below 64 MiB.
    expect(handle.history.length).toBeGreaterThan(0);
    expect(handle.history.length).toBeLessThanOrEqual(18);
    handle.on("message", (m) => seqs.push(m.seq));
    // Live messages keep coming while it pages through the rest.
    const live = publish(writer, "flood", total, 100, 2_000, 1);
    await eventually(() => seqs.length >= total + 100, 60_000, `all ${total + 100} messages (got ${seqs.length})`);
    await live;
    await Bun.sleep(200);
    expect(seqs).toEqual(Array.from({ length: total + 100 }, (_, i) => i + 1));
    expect(drops).toEqual([]);
    expect(await slowConsumers()).toBe(1);
    await client.close();
    await writer.close();
  }, 120_000);

  test("a recovery page holds at least one message however large, and says truncated while more remain", async () => {
    const t = await token("pager");
    const c = await WsClient.connect(server.ws, { token: t });
    await c.request({ type: "join", session: "pages" });
    // Two messages that together pass 1 MiB: each page carries one.
    await publish(c, "pages", 0, 2, 60_000, 1);
    await publish(c, "pages", 2, 20, 60_000, 4);
    const first = await c.request({ type: "join", session: "pages", since: 0 });
    const bytes = Buffer.byteLength(JSON.stringify(first.messages));
    expect(first.truncated).toBe(true);
    expect(bytes).toBeLessThanOrEqual(1024 * 1024);
    expect(first.messages.map((m: any) => m.seq)).toEqual(Array.from({ length: first.messages.length }, (_, i) => i + 1));
    let last = first.messages.at(-1).seq;
    let pages = 1;
    for (;;) {
      const next = await c.request({ type: "join", session: "pages", since: last });
      expect(next.messages[0].seq).toBe(last + 1);
      last = next.messages.at(-1).seq;
      pages++;
      if (!next.truncated) break;
    }
    expect(last).toBe(22);
    expect(pages).toBeGreaterThanOrEqual(2);
    // A plain join keeps the newest messages that fit.
    const plain = await c.request({ type: "join", session: "pages", limit: 100 });
    expect(plain.messages.at(-1).seq).toBe(22);
    expect(Buffer.byteLength(JSON.stringify(plain.messages))).toBeLessThanOrEqual(1024 * 1024);
    expect(plain.truncated).toBeUndefined();
    await c.close();
    const stats = await api(server.http, "GET", "/api/admin/stats", { token: await token("root", { admin: true }) });
    expect(stats.status).toBe(200);
  });
});
