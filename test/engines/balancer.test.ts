// The test load balancer in front of two real Bun.serve servers: it carries HTTP, WebSocket and SSE unchanged,
// spreads new connections round-robin, skips a backend that is down, and passes large bodies intact both ways.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { startBalancer, type Balancer } from "./balancer.ts";
import { eventually, freePort } from "../helpers.ts";

const BIG = 10 * 1024 * 1024;

/** Deterministic, non-repeating-looking bytes: a shifted or dropped chunk changes the hash. */
function bigBody(size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let x = 0x12345678;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
const sha256 = (bytes: Uint8Array | ArrayBuffer) => new Bun.CryptoHasher("sha256").update(bytes).digest("hex");

const body = bigBody(BIG);
const bodyHash = sha256(body);

/** A backend that says who it is, echoes WebSocket frames, streams SSE and takes and gives large bodies. */
function backend(name: string): Server<undefined> {
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req, server) {
      const path = new URL(req.url).pathname;
      if (path === "/ws") return server.upgrade(req) ? undefined : new Response("no upgrade", { status: 400 });
      if (path === "/name") return new Response(name);
      if (path === "/upload") {
        const got = new Uint8Array(await req.arrayBuffer());
        return Response.json({ name, bytes: got.byteLength, sha256: sha256(got) });
      }
      if (path === "/download") return new Response(body);
      if (path === "/sse") {
        let n = 0;
        let timer: ReturnType<typeof setInterval> | undefined;
        const stream = new ReadableStream<string>({
          start(controller) {
            controller.enqueue(`: ${name}\n\n`);
            timer = setInterval(() => {
              n++;
              controller.enqueue(`id: ${n}\nevent: tick\ndata: {"from":"${name}","n":${n}}\n\n`);
            }, 20);
          },
          cancel() {
            clearInterval(timer);
          },
        });
        req.signal.addEventListener("abort", () => clearInterval(timer));
        return new Response(stream, { headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-store" } });
      }
      return new Response("not found", { status: 404 });
    },
    websocket: {
      message(ws, message) {
        ws.send(typeof message === "string" ? `${name}:${message}` : message);
      },
    },
  });
}

let a: Server<undefined>;
let b: Server<undefined>;
let balancer: Balancer | null = null;

beforeAll(() => {
  a = backend("a");
  b = backend("b");
});
afterAll(() => {
  a.stop(true);
  b.stop(true);
});
afterEach(async () => {
  await balancer?.stop();
  balancer = null;
});

/** One request on a connection of its own (no keep-alive), so every request is a new connection to route. */
const fresh = (url: string, init: RequestInit = {}) => fetch(url, { ...init, keepalive: false, headers: { Connection: "close", ...init.headers } });

describe("test load balancer", () => {
  test("new connections alternate between the backends, and each is counted", async () => {
    balancer = await startBalancer([a.port!, b.port!]);
    const names: string[] = [];
    for (let i = 0; i < 6; i++) names.push(await (await fresh(`${balancer.http}/name`)).text());
    expect(names).toEqual(["a", "b", "a", "b", "a", "b"]);
    expect(balancer.counts()).toEqual({ [a.port!]: 3, [b.port!]: 3 });
    await eventually(() => balancer!.open() === 0, 5000, "every connection closed");
  });

  test("a WebSocket upgrade passes through and its frames echo both ways, text and binary", async () => {
    balancer = await startBalancer([a.port!, b.port!]);
    const socket = new WebSocket(`${balancer.ws}`);
    socket.binaryType = "arraybuffer";
    const received: Array<string | ArrayBuffer> = [];
    socket.addEventListener("message", (e) => received.push(e.data));
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("error", () => reject(new Error("websocket failed to open")), { once: true });
    });
    socket.send("hello");
    const binary = bigBody(200_000);
    socket.send(binary);
    await eventually(() => received.length === 2, 5000, "two echoes");
    expect(received[0]).toBe("a:hello");
    expect(sha256(received[1] as ArrayBuffer)).toBe(sha256(binary));
    const closed = new Promise<number>((resolve) => socket.addEventListener("close", (e) => resolve(e.code)));
    socket.close(1000);
    expect(await closed).toBe(1000);
  });

  test("an SSE stream keeps flowing through it, event after event", async () => {
    balancer = await startBalancer([b.port!]);
    const controller = new AbortController();
    const res = await fetch(`${balancer.http}/sse`, { signal: controller.signal });
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    while ((text.match(/event: tick/g) ?? []).length < 10) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the stream ended early");
      text += decoder.decode(value, { stream: true });
    }
    const ticks = [...text.matchAll(/data: (\{.*\})/g)].map((m) => JSON.parse(m[1]!));
    expect(ticks.slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => ({ from: "b", n: i + 1 })));
    controller.abort();
    await eventually(() => balancer!.open() === 0, 5000, "the stream's connection closed");
  });

  test("a backend that is down is skipped; with none up the client's connection is closed", async () => {
    const dead = freePort();
    balancer = await startBalancer([a.port!, dead, b.port!]);
    const names: string[] = [];
    for (let i = 0; i < 6; i++) names.push(await (await fresh(`${balancer.http}/name`)).text());
    // The dead backend's turns fall to the one after it.
    expect(names).toEqual(["a", "b", "b", "a", "b", "b"]);
    expect(balancer.counts()[dead]).toBeUndefined();

    balancer.removeBackend(a.port!);
    balancer.removeBackend(b.port!);
    expect(balancer.backends()).toEqual([dead]);
    await expect(fresh(`${balancer.http}/name`)).rejects.toThrow();
    expect(balancer.refused()).toBe(1);

    balancer.addBackend(b.port!);
    expect(await (await fresh(`${balancer.http}/name`)).text()).toBe("b");
  });

  test("a 10 MB body passes intact in both directions", async () => {
    balancer = await startBalancer([a.port!, b.port!]);
    const up = await fresh(`${balancer.http}/upload`, { method: "POST", body });
    expect(await up.json()).toEqual({ name: "a", bytes: BIG, sha256: bodyHash });
    const down = await fresh(`${balancer.http}/download`);
    const got = new Uint8Array(await down.arrayBuffer());
    expect(got.byteLength).toBe(BIG);
    expect(sha256(got)).toBe(bodyHash);
  });

  test("a client that stops reading gets every byte later: the backend is held back meanwhile, nothing dropped", async () => {
    balancer = await startBalancer([a.port!]);
    // A raw HTTP client that reads nothing for 300 ms after the first bytes, so the socket to it fills up.
    const raw = await new Promise<Uint8Array>((resolve, reject) => {
      const chunks: Uint8Array[] = [];
      let stalled = false;
      Bun.connect({
        hostname: "127.0.0.1",
        port: balancer!.port,
        socket: {
          open(s) {
            s.write("GET /download HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
          },
          data(s, d) {
            chunks.push(d.slice());
            if (stalled) return;
            stalled = true;
            s.pause();
            setTimeout(() => s.resume(), 300);
          },
          close() {
            resolve(Buffer.concat(chunks));
          },
          connectError(_s, e) {
            reject(e);
          },
        },
      }).catch(reject);
    });
    const headerEnd = Buffer.from(raw).indexOf("\r\n\r\n") + 4;
    const got = raw.subarray(headerEnd);
    expect(got.byteLength).toBe(BIG);
    expect(sha256(got)).toBe(bodyHash);
    expect(balancer.pauses()).toBeGreaterThan(0);
  });

  test("a half-close is passed on: the client's FIN reaches the backend, which can still answer", async () => {
    // A raw TCP backend: answers "bye" (and closes) only once it saw the client's FIN.
    const raw = Bun.listen<{ got: string }>({
      hostname: "127.0.0.1",
      port: 0,
      allowHalfOpen: true,
      data: { got: "" },
      socket: {
        open(s) {
          s.data = { got: "" };
        },
        data(s, d) {
          s.data.got += d.toString();
        },
        end(s) {
          s.end(`bye after ${s.data.got}`);
        },
      },
    });
    try {
      balancer = await startBalancer([raw.port]);
      const reply = await new Promise<string>((resolve, reject) => {
        let text = "";
        Bun.connect({
          hostname: "127.0.0.1",
          port: balancer!.port,
          allowHalfOpen: true,
          socket: {
            open(s) {
              s.write("ping");
              s.shutdown();
            },
            data(_s, d) {
              text += d.toString();
            },
            close() {
              resolve(text);
            },
            connectError(_s, e) {
              reject(e);
            },
          },
        }).catch(reject);
      });
      expect(reply).toBe("bye after ping");
      await eventually(() => balancer!.open() === 0, 5000, "the pair closed");
    } finally {
      raw.stop(true);
    }
  });

  test("a backend that goes away closes its clients' connections; new ones go to the backend still up", async () => {
    const doomed = backend("doomed");
    balancer = await startBalancer([doomed.port!, b.port!]);
    const socket = new WebSocket(balancer.ws);
    await new Promise((resolve) => socket.addEventListener("open", resolve, { once: true }));
    const closed = new Promise((resolve) => socket.addEventListener("close", resolve, { once: true }));
    doomed.stop(true);
    await closed;
    await eventually(() => balancer!.open() === 0, 5000, "the pair closed");
    expect(await (await fresh(`${balancer.http}/name`)).text()).toBe("b");
    expect(await (await fresh(`${balancer.http}/name`)).text()).toBe("b");
  });

  test("dropConnections ends the connections to one backend; the client sees its socket close", async () => {
    balancer = await startBalancer([a.port!, b.port!]);
    const first = new WebSocket(balancer.ws);
    const second = new WebSocket(balancer.ws);
    await Promise.all([first, second].map((s) => new Promise((resolve) => s.addEventListener("open", resolve, { once: true }))));
    const firstClosed = new Promise((resolve) => first.addEventListener("close", resolve, { once: true }));
    expect(balancer.dropConnections(a.port!)).toBe(1);
    await firstClosed;
    expect(second.readyState).toBe(WebSocket.OPEN);
    second.close();
  });
});
