// The WebSocket load scenarios shared by the benchmarks (fan-out, pairs, connect storm, join with history, idle
// memory), each runnable in this process or spread over several generator processes (bench/load-worker.ts).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { mintToken } from "../src/auth/tokens.ts";
import { hasTaskset, SECONDS, SECRET, type Target } from "./servers.ts";

/** Milliseconds on a clock every generator process shares (performance.now() has a per-process origin). */
export const clock = (): number => performance.timeOrigin + performance.now();

type Handler = (f: any, at: number) => void;

export async function connect(url: string, token: string, onFrame: Handler): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` } } as unknown as string[]);
  ws.onmessage = (e) => onFrame(JSON.parse(String(e.data)), clock());
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("connect failed"));
  });
  return ws;
}

export function request(ws: WebSocket, frame: object, waiters: Map<number, (f: any) => void>, id: number): Promise<any> {
  return new Promise((resolve) => {
    waiters.set(id, resolve);
    ws.send(JSON.stringify({ ...frame, id }));
  });
}

export const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export const rssBytes = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;

/** Admin tokens (the main rows), or plain users granted just this session (the analysis rows: nobody is staff). */
export const tokenFor = (userId: string, session: string, users = false): Promise<string> =>
  mintToken(SECRET, users ? { userId, ttlSeconds: 3600, sessions: [session] } : { userId, ttlSeconds: 3600, admin: true });

/** Which share of the clients this generator holds: items i with i % count === index. */
export interface Shard {
  index: number;
  count: number;
}
const ALL: Shard = { index: 0, count: 1 };
const mine = (i: number, shard: Shard) => i % shard.count === shard.index;
/** The URL of a scenario's i-th connection of a kind: round robin over the target's URLs (one node: always the same). */
const urlFor = (urls: string[], i: number): string => urls[i % urls.length]!;

/**
 * Once the load has stopped: waits until `done()` or until nothing more arrives for `quietMs` (a node whose
 * commits take a second pauses that long between deliveries), at most `maxMs`. Only where a scenario counts
 * deliveries (`verify`).
 */
async function drained(count: () => number, done: () => boolean = () => false, quietMs = 3000, maxMs = 30_000): Promise<void> {
  const until = performance.now() + maxMs;
  let last = count();
  let since = performance.now();
  while (!done() && performance.now() < until && performance.now() - since < quietMs) {
    await Bun.sleep(100);
    if (count() !== last) [last, since] = [count(), performance.now()];
  }
}

/** One scenario's part in one generator process: connect (ready), then `run` once every part is ready. */
interface Part {
  run(): Promise<Record<string, any>>;
}

/** Warms up for 1 s, then holds `gate.open` for the measuring window; returns its length in seconds. */
async function measure(gate: { open: boolean }): Promise<number> {
  await Bun.sleep(1000);
  gate.open = true;
  const started = performance.now();
  await Bun.sleep(SECONDS * 1000);
  gate.open = false;
  return (performance.now() - started) / 1000;
}

export interface FanoutArgs {
  session: string;
  subscribers: number;
  publishers?: number;
  /** Closed loop: each publisher keeps this many messages waiting for their ack. */
  inFlight?: number;
  /** Open loop: each publisher sends this many messages per second. */
  ratePerPublisher?: number;
  /**
   * Delivery-paced: each publisher keeps this many messages published but not yet delivered to its own probe
   * subscriber (wide sessions, where acks come back far faster than thousands of sockets can be read).
   */
  paced?: number;
  users?: boolean;
  /** Waits for delivery to finish after the load stops, so that `received` can be checked against `published`. */
  verify?: boolean;
}

async function fanoutPart(urls: string[], a: FanoutArgs, shard: Shard): Promise<Part> {
  const subs: WebSocket[] = [];
  let delivered = 0;
  // Over the whole run (warm-up and drain included): acks to this part's publishers, messages to its subscribers.
  let published = 0;
  let received = 0;
  let ackedInWindow = 0;
  const latencies: number[] = [];
  const gate = { open: false };
  const sampleEvery = Math.max(1, Math.floor(a.subscribers / 10));
  const onMessage = (f: any, at: number, sample: boolean) => {
    received++;
    if (!gate.open) return;
    delivered++;
    if (sample) latencies.push(at - Number(f.message.content.slice(0, f.message.content.indexOf("|"))));
  };
  const joinOne = async (url: string, userId: string, handler: Handler): Promise<WebSocket> => {
    const waiters = new Map<number, (f: any) => void>();
    const ws = await connect(url, await tokenFor(userId, a.session, a.users), (f, at) => {
      if (f.type === "message") handler(f, at);
      else if (f.ref !== undefined) waiters.get(f.ref)?.(f);
    });
    await request(ws, { type: "join", session: a.session, limit: 1 }, waiters, 1);
    return ws;
  };
  const batch: Array<Promise<void>> = [];
  for (let i = 0; i < a.subscribers; i++) {
    if (!mine(i, shard)) continue;
    const sample = i % sampleEvery === 0;
    batch.push(joinOne(urlFor(urls, i), `sub${i}`, (f, at) => onMessage(f, at, sample)).then((ws) => void subs.push(ws)));
    if (batch.length >= 50) await Promise.all(batch.splice(0));
  }
  await Promise.all(batch);
  let running = true;
  const publishers = a.publishers ?? 4;
  const pubs = await Promise.all(
    Array.from({ length: publishers }, (_, p) => p)
      .filter((p) => mine(p, shard))
      .map(async (p) => {
        let next = 0;
        let seen = 0;
        const send = () => ws.send(JSON.stringify({ type: "message", session: a.session, content: `${clock()}|payload-${p}-${next}`, id: next++ }));
        const ws = await connect(urlFor(urls, p), await tokenFor(`pub${p}`, a.session, a.users), (f) => {
          if (f.type !== "ack") return;
          published++;
          if (gate.open) ackedInWindow++;
          if (a.inFlight && running) send();
        });
        // The probe: a subscriber in this process that tells the paced publisher how far delivery has got.
        const probe = a.paced
          ? await joinOne(urlFor(urls, p), `probe${p}`, (f) => {
              if (!f.message.content.includes(`|payload-${p}-`)) return;
              seen++;
              if (running && next - seen < a.paced!) send();
            })
          : null;
        return { ws, send, probe };
      }),
  );
  return {
    async run() {
      const timers: Array<ReturnType<typeof setInterval>> = [];
      if (a.inFlight) for (const p of pubs) for (let i = 0; i < a.inFlight; i++) p.send();
      else if (a.paced) for (const p of pubs) for (let i = 0; i < a.paced; i++) p.send();
      else for (const p of pubs) timers.push(setInterval(p.send, 1000 / a.ratePerPublisher!));
      const elapsed = await measure(gate);
      running = false;
      for (const x of timers) clearInterval(x);
      await Bun.sleep(500);
      if (a.verify) await drained(() => received);
      for (const ws of [...subs, ...pubs.flatMap((p) => (p.probe ? [p.ws, p.probe] : [p.ws]))]) ws.close();
      await Bun.sleep(300);
      return { delivered: delivered / elapsed, acked: ackedInWindow / elapsed, published, received, latencies };
    },
  };
}

export interface PairsArgs {
  sessions: number;
  inFlight: number;
  users?: boolean;
  /** Waits for delivery to finish after the load stops and checks every session's two members heard every message. */
  verify?: boolean;
}

async function pairsPart(urls: string[], a: PairsArgs, shard: Shard): Promise<Part> {
  let acked = 0;
  let delivered = 0;
  // Per session of this part, over the whole run: acks to each member, and messages each member received.
  const tally = new Map<number, { acked: [number, number]; received: [number, number] }>();
  /** Each socket's messages sent and not yet acknowledged. */
  const waiting: Array<Map<number, number>> = [];
  const latencies: number[] = [];
  const gate = { open: false };
  let running = true;
  const sockets: WebSocket[] = [];
  const starters: Array<() => void> = [];
  for (let s = 0; s < a.sessions; s++) {
    if (!mine(s, shard)) continue;
    const counts = { acked: [0, 0] as [number, number], received: [0, 0] as [number, number] };
    tally.set(s, counts);
    for (const side of [0, 1] as const) {
      const sent = new Map<number, number>();
      waiting.push(sent);
      let next = 0;
      const session = `pair-${s}`;
      // Connection 2s + side: with two nodes, a session's two members are on different nodes.
      const ws: WebSocket = await connect(urlFor(urls, 2 * s + side), await tokenFor(`pair${s}-${side}`, session, a.users), (f, at) => {
        if (f.type === "message") {
          counts.received[side]++;
          if (gate.open) delivered++;
          return;
        }
        // A message the other member sent before this join was answered arrives in the history instead.
        if (f.type === "joined") counts.received[side] += f.messages.length;
        if (f.type !== "ack") return;
        counts.acked[side]++;
        if (gate.open) {
          acked++;
          latencies.push(at - sent.get(f.ref)!);
        }
        sent.delete(f.ref);
        if (running) send();
      });
      const send = () => {
        const id = next++;
        sent.set(id, clock());
        ws.send(JSON.stringify({ type: "message", session, content: `hello ${id}`, id }));
      };
      ws.send(JSON.stringify({ type: "join", session, id: -1 }));
      sockets.push(ws);
      starters.push(() => {
        for (let i = 0; i < a.inFlight; i++) send();
      });
    }
  }
  await Bun.sleep(500);
  return {
    async run() {
      for (const start of starters) start();
      const elapsed = await measure(gate);
      running = false;
      await Bun.sleep(500);
      const sum = (k: "acked" | "received") => [...tally.values()].reduce((n, c) => n + c[k][0] + c[k][1], 0);
      // Every member hears every message of its session (its own too): received = both members' acks, each side.
      const missing = () => {
        let short = 0;
        for (const c of tally.values()) for (const side of [0, 1]) short += Math.max(0, c.acked[0] + c.acked[1] - c.received[side]!);
        return short;
      };
      if (a.verify) await drained(() => sum("received"), () => missing() === 0 && waiting.every((w) => w.size === 0));
      const short = missing();
      for (const ws of sockets) ws.close();
      await Bun.sleep(500);
      return { acked: acked / elapsed, delivered: delivered / elapsed, published: sum("acked"), received: sum("received"), missing: short, latencies };
    },
  };
}

export interface StormArgs {
  clients: number;
  /** Session ids are `${prefix}-${i}`: fresh ones, so every join opens its session. */
  prefix: string;
  /** Connections opened at once per generator process (the rest wait for a slot). @default 256 */
  concurrency?: number;
}

/** Connect + join a fresh session, `clients` times, as fast as the server takes them; every socket stays open. */
async function stormPart(urls: string[], a: StormArgs, shard: Shard): Promise<Part> {
  const mineIdx = Array.from({ length: a.clients }, (_, i) => i).filter((i) => mine(i, shard));
  const tokens = await Promise.all(mineIdx.map((i) => mintToken(SECRET, { userId: `storm${i}`, ttlSeconds: 3600 })));
  return {
    async run() {
      const sockets: WebSocket[] = [];
      const joinMs: number[] = [];
      const started = clock();
      let next = 0;
      const one = async (k: number) => {
        const i = mineIdx[k]!;
        let sentAt = 0;
        let joined!: () => void;
        const done = new Promise<void>((r) => (joined = r));
        const ws = await connect(urlFor(urls, i), tokens[k]!, (f, at) => {
          if (f.type === "joined") {
            joinMs.push(at - sentAt);
            joined();
          }
        });
        sentAt = clock();
        ws.send(JSON.stringify({ type: "join", session: `${a.prefix}-${i}`, id: 1 }));
        await done;
        sockets.push(ws);
      };
      const lanes = Array.from({ length: Math.min(a.concurrency ?? 256, mineIdx.length) }, async () => {
        while (next < mineIdx.length) await one(next++);
      });
      await Promise.all(lanes);
      const finished = clock();
      await Bun.sleep(300);
      for (const ws of sockets) ws.close();
      await Bun.sleep(500);
      return { started, finished, joined: sockets.length, latencies: joinMs };
    },
  };
}

const PARTS = { fanout: fanoutPart, pairs: pairsPart, storm: stormPart } as const;
export type ScenarioName = keyof typeof PARTS;
type ArgsOf<N extends ScenarioName> = Parameters<(typeof PARTS)[N]>[1];

/** Builds one part of a scenario (the worker's entry point); its connections go round robin over `urls`. */
export function part<N extends ScenarioName>(name: N, urls: string[], args: ArgsOf<N>, shard: Shard): Promise<Part> {
  return (PARTS[name] as (u: string[], a: ArgsOf<N>, s: Shard) => Promise<Part>)(urls, args, shard);
}

/** How many generator processes to spread clients over (BENCH_GENERATORS). @default 1: this process */
export const GENERATORS = Math.max(1, Number(process.env.BENCH_GENERATORS ?? 1));

/**
 * Runs a scenario with its clients spread over `generators` processes (1: this process), all pinned away from the
 * server's core, and returns each part's result; they are started together once every part has connected.
 */
export async function runScenario<N extends ScenarioName>(name: N, t: Target, args: ArgsOf<N>, generators = GENERATORS): Promise<Array<Record<string, any>>> {
  const urls = t.urls ?? [t.url];
  if (generators <= 1) return [await (await part(name, urls, args, ALL)).run()];
  const workerPath = join(import.meta.dir, "load-worker.ts");
  const readies: Array<Promise<void>> = [];
  const results: Array<Promise<Record<string, any>>> = [];
  const procs = Array.from({ length: generators }, (_, index) => {
    let ready!: () => void;
    let result!: (r: Record<string, any>) => void;
    readies.push(new Promise((r) => (ready = r)));
    results.push(new Promise((r) => (result = r)));
    const cmd = [process.execPath, workerPath];
    return Bun.spawn(hasTaskset ? ["taskset", "-c", "1", ...cmd] : cmd, {
      stdout: "inherit",
      stderr: "inherit",
      ipc(message: any) {
        if (message.type === "ready") ready();
        else if (message.type === "result") result(message.result);
      },
      env: { ...process.env, BENCH_PART: JSON.stringify({ name, urls, args, shard: { index, count: generators } }) },
    });
  });
  await Promise.all(readies);
  for (const p of procs) p.send({ type: "go" });
  const out = await Promise.all(results);
  for (const p of procs) p.kill();
  return out;
}

/** Sums the rates and joins the latency samples of every part. */
export function merged(parts: Array<Record<string, any>>, rate: string): { rate: number; latencies: number[] } {
  return { rate: parts.reduce((n, p) => n + p[rate], 0), latencies: parts.flatMap((p) => p.latencies) };
}

const total = (parts: Array<Record<string, any>>, key: string): number => parts.reduce((n, p) => n + p[key], 0);

/**
 * Also, over the whole run: `published` (messages acked to the publishers), `received` (messages delivered to the
 * subscribers) and `expected` (published × subscribers: every subscriber hears every message); with `verify` the
 * run waits for delivery to finish, so received = expected when nothing was lost.
 */
export async function fanout(t: Target, args: FanoutArgs, generators = GENERATORS) {
  const parts = await runScenario("fanout", t, args, generators);
  const { rate, latencies } = merged(parts, "delivered");
  const published = total(parts, "published");
  return { deliveredPerSec: rate, ackedPerSec: total(parts, "acked"), p50: pct(latencies, 50), p99: pct(latencies, 99), published, received: total(parts, "received"), expected: published * args.subscribers };
}

/** Also `deliveredPerSec` (message frames to both members) and, over the whole run, what `fanout` returns. */
export async function pairs(t: Target, args: PairsArgs, generators = GENERATORS) {
  const parts = await runScenario("pairs", t, args, generators);
  const { rate, latencies } = merged(parts, "acked");
  const published = total(parts, "published");
  return { ackedPerSec: rate, deliveredPerSec: total(parts, "delivered"), p50: pct(latencies, 50), p99: pct(latencies, 99), published, received: total(parts, "received"), expected: 2 * published, missing: total(parts, "missing") };
}

/** Joins per second over the whole storm (first connect to last `joined`, across every generator). */
export async function connectStorm(t: Target, args: StormArgs, generators = GENERATORS) {
  const parts = await runScenario("storm", t, args, generators);
  const started = Math.min(...parts.map((p) => p.started));
  const finished = Math.max(...parts.map((p) => p.finished));
  const joined = parts.reduce((n, p) => n + p.joined, 0);
  const latencies = parts.flatMap((p) => p.latencies);
  if (joined !== args.clients) throw new Error(`connect storm: ${joined} of ${args.clients} joined`);
  return { perSec: joined / ((finished - started) / 1000), p50: pct(latencies, 50), p99: pct(latencies, 99) };
}

const MEMORY_SETTLE_MS = Number(process.env.BENCH_MEMORY_SETTLE_MS ?? 15_000);

/** RSS the server grows by per idle connection, each joined to its own fresh session (one generator: it waits). */
export async function memory(t: Target, n = 5000) {
  await Bun.sleep(500);
  const before = rssBytes(t.pid);
  const sockets: WebSocket[] = [];
  const token = await mintToken(SECRET, { userId: "mem", ttlSeconds: 3600 });
  for (let i = 0; i < n; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, async (_, j) => {
        let joined!: () => void;
        const done = new Promise<void>((r) => (joined = r));
        const ws = await connect(t.url, token, (f) => f.type === "joined" && joined());
        ws.send(JSON.stringify({ type: "join", session: `mem-${i + j}`, id: 1 }));
        await done;
        sockets.push(ws);
      }),
    );
  }
  // Read 15 s after the last join, for both servers: the garbage of 5,000 joins is collected over those seconds
  // (sessiond's RSS 1.5 s after them, when this was read before, was 30-50 % above where it settles).
  await Bun.sleep(MEMORY_SETTLE_MS);
  const after = rssBytes(t.pid);
  for (const ws of sockets) ws.close();
  await Bun.sleep(1000);
  return { perConnection: (after - before) / n };
}

/** Time from `join` (with the last `limit` messages of a session holding `history` of them) to `joined`. */
export async function joinLatency(t: Target, { session = "history", history = 100, limit = 100, rounds = 600 } = {}) {
  const waiters = new Map<number, (f: any) => void>();
  const ws = await connect(t.url, await mintToken(SECRET, { userId: "hist", ttlSeconds: 3600 }), (f) => f.ref !== undefined && waiters.get(f.ref)?.(f));
  let id = 0;
  await request(ws, { type: "join", session }, waiters, ++id);
  for (let i = 0; i < history; i++) await request(ws, { type: "message", session, content: `message ${i} `.padEnd(120, ".") }, waiters, ++id);
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const r = await request(ws, { type: "join", session, limit }, waiters, ++id);
    if (r.messages.length !== Math.min(limit, history)) throw new Error(`expected ${Math.min(limit, history)} messages, got ${r.messages.length}`);
    if (i >= rounds / 6) times.push(performance.now() - t0);
  }
  ws.close();
  return { p50: pct(times, 50), p99: pct(times, 99) };
}

export const f0 = (n: number): string => Math.round(n).toLocaleString("en-US");
export const f2 = (n: number): string => n.toFixed(2);
