// Peers that stop answering or stop reading, driven by a raw TCP client (a browser WebSocket always answers pings
// and always reads): the server must reap them and its counts must return to zero.
import { describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { api, eventually, startServer, token, WsClient } from "../helpers.ts";

/** Completes a WebSocket handshake over a plain socket; afterwards it answers nothing unless told to. */
async function rawWebSocket(port: number, t: string): Promise<Socket> {
  const socket = connect(port, "127.0.0.1");
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  socket.write(
    `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${btoa("0123456789abcdef")}\r\nAuthorization: Bearer ${t}\r\n\r\n`,
  );
  await new Promise<void>((resolve) => {
    let head = "";
    const onData = (chunk: Buffer) => {
      head += chunk.toString("latin1");
      if (head.includes("\r\n\r\n")) {
        socket.off("data", onData);
        expect(head.startsWith("HTTP/1.1 101")).toBe(true);
        resolve();
      }
    };
    socket.on("data", onData);
  });
  return socket;
}

/** One masked client text frame (clients must mask). */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = Buffer.from([1, 2, 3, 4]);
  const header = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length]) : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 255]);
  return Buffer.concat([header, mask, payload.map((b, i) => b ^ mask[i % 4]!)]);
}

describe("dead peers", () => {
  test("a client that never answers pings is dropped after HEARTBEAT_TIMEOUT_SECONDS, even while the server keeps sending to it", async () => {
    const server = await startServer({ env: { HEARTBEAT_INTERVAL_SECONDS: "1", HEARTBEAT_TIMEOUT_SECONDS: "2" } });
    try {
      const t = await token("ghost");
      const raw = await rawWebSocket(server.port, t);
      raw.write(textFrame(JSON.stringify({ type: "join", session: "haunted" })));
      const closed = new Promise<void>((resolve) => raw.on("close", () => resolve()));
      raw.on("data", () => {}); // reads, but never answers a ping or sends anything
      // A live member keeps publishing into the session, which must not keep the dead peer alive.
      const live = await WsClient.connect(server.ws, { token: t });
      await live.request({ type: "join", session: "haunted" });
      const admin = await token("root", { admin: true });
      const started = Date.now();
      while (Date.now() - started < 6000) {
        await live.request({ type: "message", session: "haunted", content: "still here" });
        const stats = (await api(server.http, "GET", "/api/admin/stats", { token: admin })).body;
        if (stats.connections === 1) break;
        await Bun.sleep(200);
      }
      const stats = (await api(server.http, "GET", "/api/admin/stats", { token: admin })).body;
      expect(stats).toMatchObject({ connections: 1, subscriptions: 1, presence: 1 });
      await closed;
      expect(server.logs.some((l) => l.includes('"connection.close"') && l.includes('"code":4000'))).toBe(true);
      await live.close();
    } finally {
      await server.stop();
    }
  });

  test("a subscriber that stops reading is closed as a slow consumer; the others keep receiving and memory stays bounded", async () => {
    const server = await startServer({
      env: { SLOW_CONSUMER_BYTES: "262144", RATE_LIMIT_MESSAGES_PER_MINUTE: "100000", HEARTBEAT_INTERVAL_SECONDS: "1", HEARTBEAT_TIMEOUT_SECONDS: "30" },
    });
    try {
      const t = await token("sloth");
      const raw = await rawWebSocket(server.port, t);
      raw.write(textFrame(JSON.stringify({ type: "join", session: "firehose" })));
      await Bun.sleep(200);
      raw.pause(); // stop reading: the kernel buffers fill, then the server's queue for this socket grows
      const closed = new Promise<void>((resolve) => raw.on("close", () => resolve()));
      const live = await WsClient.connect(server.ws, { token: t });
      await live.request({ type: "join", session: "firehose" });
      const big = "x".repeat(60_000);
      const admin = await token("root", { admin: true });
      for (let i = 0; i < 400; i++) {
        await live.request({ type: "message", session: "firehose", content: big });
        if (i % 20 === 0 && (await api(server.http, "GET", "/api/admin/stats", { token: admin })).body.connections === 1) break;
      }
      await eventually(async () => (await api(server.http, "GET", "/api/admin/stats", { token: admin })).body.connections === 1, 10_000, "the slow consumer to be dropped");
      const metrics = await (await fetch(`${server.http}/metrics`)).text();
      expect(metrics).toMatch(/^sessiond_slow_consumers_total 1$/m);
      expect(server.logs.some((l) => l.includes('"connection.slow_consumer"'))).toBe(true);
      // The healthy subscriber got every message, in order.
      const seqs = live.messages("firehose").map((m) => m.seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      raw.destroy();
      await closed;
      await live.close();
    } finally {
      await server.stop();
    }
  });
});
