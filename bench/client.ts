// What the client SDK costs: durable sends through the SDK against a hand-written protocol client on the same
// server, and both against the bare Bun.serve baseline (`bun run bench:client`).
import { cpus } from "node:os";
import { mintToken } from "../src/auth/tokens.ts";
import { connect, type SessiondClient } from "../src/client/index.ts";
import { hasTaskset, SECONDS, SECRET, startBare, startSessiond, type Target } from "./servers.ts";

const token = (user: string) => mintToken(SECRET, { userId: user, ttlSeconds: 3600 });
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

/** A minimal protocol client: join, then `inFlight` message frames kept on the wire; acks counted. */
async function raw(t: Target, sessions: number, inFlight: number): Promise<{ perSec: number; p50: number; p99: number }> {
  const ws = new WebSocket(`${t.url}?token=${await token("raw")}`);
  await new Promise((resolve) => (ws.onopen = resolve));
  let id = 0;
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  let acked = 0;
  let counting = false;
  const send = (session: string) => {
    const frameId = ++id;
    sentAt.set(frameId, performance.now());
    ws.send(JSON.stringify({ type: "message", session, content: "x".repeat(64), clientMsgId: `r${frameId}`, id: frameId }));
  };
  const joined = new Set<number>();
  ws.onmessage = (e) => {
    const f = JSON.parse(String(e.data));
    if (f.type === "joined") joined.add(f.ref);
    if (f.type !== "ack") return;
    if (counting) {
      acked++;
      latencies.push(performance.now() - sentAt.get(f.ref)!);
    }
    sentAt.delete(f.ref);
    send(f.session);
  };
  for (let s = 0; s < sessions; s++) ws.send(JSON.stringify({ type: "join", session: `raw-${s}`, id: -1 - s }));
  while (joined.size < sessions) await Bun.sleep(5);
  for (let s = 0; s < sessions; s++) for (let i = 0; i < inFlight; i++) send(`raw-${s}`);
  const result = await window(() => (counting = true), () => (counting = false), () => acked, latencies);
  ws.onmessage = null;
  ws.close();
  return result;
}

/** The SDK: `sessions` handles, each sending the next message as soon as the previous one is acked. */
async function sdk(t: Target, sessions: number): Promise<{ perSec: number; p50: number; p99: number }> {
  const client: SessiondClient = connect({ url: t.url, getToken: () => token("sdk") });
  const handles = await Promise.all(Array.from({ length: sessions }, (_, s) => client.join(`sdk-${s}`)));
  let delivered = 0;
  for (const h of handles) h.on("message", () => void delivered++);
  let running = true;
  let counting = false;
  let acked = 0;
  const latencies: number[] = [];
  const loops = handles.map(async (h) => {
    while (running) {
      const at = performance.now();
      await h.send("x".repeat(64));
      if (counting) {
        acked++;
        latencies.push(performance.now() - at);
      }
    }
  });
  const result = await window(() => (counting = true), () => (counting = false), () => acked, latencies);
  running = false;
  await Promise.all(loops);
  await client.close();
  return result;
}

async function window(open: () => void, shut: () => void, count: () => number, latencies: number[]) {
  await Bun.sleep(1000);
  open();
  const started = performance.now();
  await Bun.sleep(SECONDS * 1000);
  shut();
  const seconds = (performance.now() - started) / 1000;
  return { perSec: count() / seconds, p50: pct(latencies, 50), p99: pct(latencies, 99) };
}

const f0 = (n: number) => Math.round(n).toLocaleString("en-US");
const f2 = (n: number) => n.toFixed(2);
console.log(`bench:client: ${cpus().length} cores, Bun ${Bun.version}, ${SECONDS} s windows, servers pinned: ${hasTaskset}\n`);
console.log("| scenario | server | hand-written client acks/s (p50 / p99 ms) | SDK acks/s (p50 / p99 ms) | SDK / hand-written |");
console.log("| --- | --- | ---: | ---: | ---: |");
for (const sessions of [1, 16]) {
  for (const which of ["bare", "sessiond"] as const) {
    const t = which === "bare" ? await startBare() : await startSessiond();
    try {
      // One message in flight per session on both sides: the SDK's ordering rule, so this isolates its overhead.
      const r = await raw(t, sessions, 1);
      const s = await sdk(t, sessions);
      console.log(`| ${sessions} session${sessions > 1 ? "s" : ""}, 1 in flight each | ${which} | ${f0(r.perSec)} (${f2(r.p50)} / ${f2(r.p99)}) | ${f0(s.perSec)} (${f2(s.p50)} / ${f2(s.p99)}) | ${(s.perSec / r.perSec * 100).toFixed(0)}% |`);
      if (sessions === 1) {
        const pipelined = await raw(t, 1, 64);
        console.log(`| 1 session, 64 in flight (hand-written only: no order guarantee under refusals) | ${which} | ${f0(pipelined.perSec)} (${f2(pipelined.p50)} / ${f2(pipelined.p99)}) | – | – |`);
      }
    } finally {
      t.stop();
      await Bun.sleep(500);
    }
  }
}
