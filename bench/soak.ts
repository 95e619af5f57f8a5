// The soak (`bun run bench:soak`): a long, bounded run of a realistic shape against one server process on loopback —
// 50 connections, ~200 msg/s, join/leave churn, reconnects, sessions ending and starting — reporting RSS each
// minute, ack p50/p99 and event-loop stalls per window, a heap summary at start and end, and a pass/fail summary.
//
//   bun run bench:soak                 30 minutes, 5-minute windows, 5-minute warm-up
//   bun run bench:soak --short         3 minutes, 30 s windows (a quick check of the harness and the figures)
//   bun run bench:soak --minutes 10    any length; --window-seconds N, --warmup-seconds N, --cpu-prof, --snapshots
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mintToken } from "../src/auth/tokens.ts";
import { hasTaskset, ROOT, SECRET, SERVER_ENV } from "./servers.ts";
import { percentile, rssOf, schedOf, scrapeStalls, type StallScrape } from "./soak-stats.ts";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i !== -1 && args[i + 1] !== undefined ? Number(args[i + 1]) : fallback;
};
const short = flag("short");
const MINUTES = option("minutes", Number(process.env.SOAK_MINUTES ?? (short ? 3 : 30)));
const WINDOW_S = option("window-seconds", short ? 30 : 300);
const WARMUP_S = option("warmup-seconds", short ? 30 : 300);
const RSS_EVERY_S = short ? 15 : 60;
const CONNECTIONS = option("connections", 50);
const RATE = option("rate", 200);
const ACTIVE_SESSIONS = 10;
const SESSIONS_PER_CONN = 2;
const MAX_IN_FLIGHT = 20;
const CHURN_EVERY_MS = 1000;
const RECONNECT_EVERY_MS = 3000;
const ROTATE_EVERY_MS = 30_000;
const SCRAPE_EVERY_MS = 5000;

const out = mkdtempSync(join(tmpdir(), "sessiond-soak-"));
const dataDir = join(out, "data");
const heapDir = join(out, "heap");
mkdirSync(dataDir);
mkdirSync(heapDir);

// --- the server ------------------------------------------------------------------------------------------------
const bunArgs = ["--preload", join(ROOT, "bench", "soak-hooks.ts")];
if (flag("cpu-prof")) bunArgs.push("--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${out}`);
const serverCmd = [process.execPath, ...bunArgs, join(ROOT, "src", "main.ts"), "serve"];
const server = Bun.spawn(hasTaskset ? ["taskset", "-c", "0", ...serverCmd] : serverCmd, {
  cwd: ROOT,
  env: {
    PATH: process.env.PATH ?? "",
    DATA_DIR: dataDir,
    PORT: "0",
    HOST: "127.0.0.1",
    JWT_SECRET: SECRET,
    LOG_LEVEL: "info",
    SOAK_HEAP_DIR: heapDir,
    SOAK_HEAP_SNAPSHOTS: flag("snapshots") ? "1" : "0",
    ...SERVER_ENV,
  },
  stdout: "pipe",
  stderr: "inherit",
});
// Never leave the server behind, whatever ends this process.
process.on("exit", () => server.kill("SIGKILL"));
// On a shared machine other processes would preempt the server and the generator and show up as stalls: where
// allowed (root), both run at a raised priority. Time spent waiting for a core is reported per window either way.
const reniced = process.getuid?.() === 0 && Bun.spawnSync(["renice", "-n", "-10", "-p", String(process.pid), String(server.pid)]).exitCode === 0;
const serverLog: string[] = [];
const port = await new Promise<number>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("the server did not start")), 20_000);
  (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of server.stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf("\n")) !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const m = /"server\.started".*"port":(\d+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        } else if (serverLog.length < 500) serverLog.push(line);
      }
    }
  })().catch(reject);
});
const HTTP = `http://127.0.0.1:${port}`;
const WS = `ws://127.0.0.1:${port}/ws`;

async function heapSummary(): Promise<{ rss: number; heapSize: number; objectCount: number; objectTypeCounts: Record<string, number> }> {
  const i = readdirSync(heapDir).filter((f) => f.endsWith(".done")).length;
  server.kill("SIGUSR2");
  const done = join(heapDir, `heap-${i}.done`);
  for (let waited = 0; !existsSync(done); waited += 50) {
    if (waited > 120_000) throw new Error("no heap summary from the server");
    await Bun.sleep(50);
  }
  return JSON.parse(readFileSync(join(heapDir, `heap-${i}.json`), "utf8"));
}

// --- the load --------------------------------------------------------------------------------------------------
const adminToken = await mintToken(SECRET, { userId: "soak-admin", admin: true, ttlSeconds: 4 * 3600 });
const active: string[] = [];
async function openSession(): Promise<string> {
  const res = await fetch(`${HTTP}/api/sessions`, {
    method: "POST",
    headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ access: "open" }),
  });
  if (res.status !== 201) throw new Error(`could not open a session: ${res.status}`);
  return ((await res.json()) as { id: string }).id;
}

interface Pending {
  sentAt: number;
  frame: Record<string, unknown>;
  resent: boolean;
}

const stats = {
  sent: 0,
  acked: 0,
  resent: 0,
  delivered: 0,
  gaps: 0,
  reconnects: 0,
  /** Connections the server closed. */
  dropped: 0,
  joins: 0,
  leaves: 0,
  rotated: 0,
  errors: new Map<string, number>(),
  window: [] as number[],
};
const countError = (code: string) => stats.errors.set(code, (stats.errors.get(code) ?? 0) + 1);

class Conn {
  ws: WebSocket | null = null;
  open = false;
  draining = false;
  nextId = 1;
  readonly pending = new Map<number, Pending>();
  /** Sessions joined, with the last seq seen in each. */
  readonly joined = new Map<string, number>();
  readonly wanted = new Set<string>();
  private replies = new Map<number, (f: any) => void>();
  private msgCounter = 0;

  constructor(readonly user: string, private readonly token: string) {}

  async connect(): Promise<void> {
    const ws = new WebSocket(WS, { headers: { Authorization: `Bearer ${this.token}` } } as unknown as string[]);
    this.ws = ws;
    ws.onmessage = (e) => this.onFrame(JSON.parse(String(e.data)));
    ws.onclose = () => {
      if (this.ws !== ws || !this.open) return;
      // Closed by the server (not by the soak): come back the way a client would.
      this.open = false;
      this.joinedBefore = new Map(this.joined);
      this.joined.clear();
      stats.dropped++;
      setTimeout(() => void this.connect().catch(() => countError("reconnect_failed")), 200);
    };
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error("connect failed"));
    });
    this.open = true;
    const lastSeen = new Map(this.joinedBefore);
    for (const s of this.wanted) await this.join(s, lastSeen.get(s));
    // Anything sent on the old socket and never acknowledged goes again with the same clientMsgId.
    for (const [id, p] of [...this.pending]) {
      this.pending.delete(id);
      const nid = this.nextId++;
      p.resent = true;
      stats.resent++;
      this.pending.set(nid, p);
      ws.send(JSON.stringify({ ...p.frame, id: nid }));
    }
  }

  private joinedBefore = new Map<string, number>();

  async join(session: string, since?: number): Promise<void> {
    this.wanted.add(session);
    const reply = await this.request({ type: "join", session, ...(since !== undefined ? { since } : { limit: 1 }) });
    if (reply.type !== "joined") {
      this.wanted.delete(session);
      return;
    }
    stats.joins++;
    const messages = reply.messages as Array<{ seq: number }>;
    const last = messages.length > 0 ? messages[messages.length - 1]!.seq : reply.session.metrics.messageCount;
    this.joined.set(session, Math.max(since ?? 0, last));
  }

  async leave(session: string): Promise<void> {
    this.wanted.delete(session);
    this.joined.delete(session);
    await this.request({ type: "leave", session });
    stats.leaves++;
  }

  request(frame: Record<string, unknown>): Promise<any> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.replies.delete(id);
        resolve({ type: "timeout" });
      }, 10_000);
      this.replies.set(id, (f) => {
        clearTimeout(timer);
        resolve(f);
      });
      this.ws!.send(JSON.stringify({ ...frame, id }));
    });
  }

  /** Sends one message into one of the joined sessions; false when this connection cannot take one now. */
  send(): boolean {
    if (!this.open || this.draining || this.pending.size >= MAX_IN_FLIGHT || this.joined.size === 0) return false;
    const sessions = [...this.joined.keys()];
    const session = sessions[this.msgCounter % sessions.length]!;
    const frame = {
      type: "message",
      session,
      content: `soak ${this.user} #${this.msgCounter} ${"lorem ipsum dolor sit amet ".repeat(4)}`,
      clientMsgId: `${this.user}-${this.msgCounter++}`,
    };
    const id = this.nextId++;
    this.pending.set(id, { sentAt: performance.now(), frame, resent: false });
    this.ws!.send(JSON.stringify({ ...frame, id }));
    stats.sent++;
    return true;
  }

  /** Stops sending, waits for the acks in flight, then closes (cleanly or abruptly) and reconnects. */
  async reconnect(abrupt: boolean): Promise<void> {
    this.draining = true;
    for (let waited = 0; this.pending.size > 0 && waited < 2000; waited += 10) await Bun.sleep(10);
    this.joinedBefore = new Map(this.joined);
    const ws = this.ws!;
    if (abrupt) (ws as unknown as { terminate(): void }).terminate();
    else ws.close(1000);
    this.open = false;
    this.joined.clear();
    await Bun.sleep(50 + Math.random() * 150);
    try {
      await this.connect();
      stats.reconnects++;
    } finally {
      this.draining = false;
    }
  }

  private onFrame(f: any): void {
    const now = performance.now();
    if (f.type === "ack") {
      const p = this.pending.get(f.ref);
      if (!p) return;
      this.pending.delete(f.ref);
      stats.acked++;
      // A message resent after a reconnect waited for the reconnect: not an ack latency.
      if (!p.resent) stats.window.push(now - p.sentAt);
      return;
    }
    if (f.type === "error" && f.ref !== undefined && this.pending.has(f.ref)) {
      countError(f.code);
      const p = this.pending.get(f.ref)!;
      this.pending.delete(f.ref);
      // Refused, nothing written: the soak counts it and moves on.
      void p;
      return;
    }
    if (f.ref !== undefined) {
      const reply = this.replies.get(f.ref);
      if (reply) {
        this.replies.delete(f.ref);
        if (f.type === "error") countError(f.code);
        return reply(f);
      }
    }
    if (f.type === "message") {
      stats.delivered++;
      const last = this.joined.get(f.session);
      if (last !== undefined) {
        if (f.message.seq > last + 1) stats.gaps++;
        if (f.message.seq > last) this.joined.set(f.session, f.message.seq);
      }
    } else if (f.type === "session.status") {
      this.joined.delete(f.session);
      this.wanted.delete(f.session);
    }
  }
}

for (let i = 0; i < ACTIVE_SESSIONS; i++) active.push(await openSession());
const conns: Conn[] = [];
for (let i = 0; i < CONNECTIONS; i++) {
  const user = `soak-u${i}`;
  const c = new Conn(user, await mintToken(SECRET, { userId: user, ttlSeconds: 4 * 3600 }));
  for (let k = 0; k < SESSIONS_PER_CONN; k++) c.wanted.add(active[(i + k * 3) % ACTIVE_SESSIONS]!);
  await c.connect();
  conns.push(c);
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

const heapStart = await heapSummary();
// The heap summary stops the world; let the stall gauge's 10-20 s look-back pass before anything is measured.
await Bun.sleep(21_000);

// --- the run ---------------------------------------------------------------------------------------------------
interface WindowRow {
  index: number;
  fromS: number;
  toS: number;
  acks: number;
  p50: number;
  p99: number;
  max: number;
  stallMaxMs: number;
  stallsOver5ms: number;
  stallsOver20ms: number;
  /** The server's main thread: CPU used, and time it was runnable but waited for a core (other processes). */
  cpuMs: number;
  cpuWaitMs: number;
}
const windows: WindowRow[] = [];
const rssRows: Array<{ minute: number; rssMB: number }> = [];
const t0 = performance.now();
const endAt = t0 + MINUTES * 60_000;
let sent = 0;
let windowStallMax = 0;
let worstStall = 0;
let lastScrape: StallScrape = await scrapeStalls(HTTP);
let windowStart: StallScrape = lastScrape;
let schedStart = schedOf(server.pid);
const errorsAtStart = new Map(stats.errors);

const sender = setInterval(() => {
  const due = Math.floor(((performance.now() - t0) / 1000) * RATE) - sent;
  for (let i = 0; i < due; i++) {
    let tries = 0;
    while (tries++ < conns.length && !conns[(sent + tries) % conns.length]!.send());
    sent++;
  }
}, 5);

const churn = setInterval(() => {
  const c = pick(conns);
  if (!c.open || c.draining) return;
  const current = [...c.joined.keys()];
  const next = pick(active.filter((s) => !c.wanted.has(s)));
  void (async () => {
    if (current.length >= SESSIONS_PER_CONN) await c.leave(pick(current));
    if (next && c.open) await c.join(next);
  })();
}, CHURN_EVERY_MS);

let abrupt = false;
const reconnector = setInterval(() => {
  const c = pick(conns);
  if (!c.open || c.draining) return;
  abrupt = !abrupt;
  void c.reconnect(abrupt).catch(() => countError("reconnect_failed"));
}, RECONNECT_EVERY_MS);

const rotator = setInterval(() => {
  void (async () => {
    const old = active.shift()!;
    const fresh = await openSession();
    active.push(fresh);
    await fetch(`${HTTP}/api/sessions/${old}/end`, { method: "POST", headers: { Authorization: `Bearer ${adminToken}` } });
    stats.rotated++;
    // Connections that were in the ended session move to one of the active ones.
    for (const c of conns) {
      if (c.open && !c.draining && c.wanted.size < SESSIONS_PER_CONN) {
        const s = pick(active.filter((x) => !c.wanted.has(x)));
        if (s) void c.join(s);
      }
    }
  })().catch(() => countError("rotate_failed"));
}, ROTATE_EVERY_MS);

const scraper = setInterval(() => {
  void scrapeStalls(HTTP).then((s) => {
    lastScrape = s;
    windowStallMax = Math.max(windowStallMax, s.recentMaxMs);
  });
}, SCRAPE_EVERY_MS);

const rssTimer = setInterval(() => {
  rssRows.push({ minute: Math.round((performance.now() - t0) / 60_000), rssMB: rssOf(server.pid) / 1048576 });
}, RSS_EVERY_S * 1000);
rssRows.push({ minute: 0, rssMB: rssOf(server.pid) / 1048576 });

function closeWindow(): void {
  const lat = stats.window;
  stats.window = [];
  const now = performance.now();
  const over = (ms: number) => lastScrape.countAbove(ms) - windowStart.countAbove(ms);
  const row: WindowRow = {
    index: windows.length + 1,
    fromS: Math.round(((windows.at(-1)?.toS ?? 0) * 1000) / 1000),
    toS: Math.round((now - t0) / 1000),
    acks: lat.length,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    max: lat.length ? Math.max(...lat) : NaN,
    stallMaxMs: Math.max(windowStallMax, lastScrape.recentMaxMs),
    stallsOver5ms: over(5),
    stallsOver20ms: over(20),
    cpuMs: 0,
    cpuWaitMs: 0,
  };
  const sched = schedOf(server.pid);
  row.cpuMs = Math.round(sched.cpuMs - schedStart.cpuMs);
  row.cpuWaitMs = Math.round(sched.waitMs - schedStart.waitMs);
  schedStart = sched;
  worstStall = Math.max(worstStall, row.stallMaxMs);
  windows.push(row);
  windowStart = lastScrape;
  windowStallMax = 0;
  console.log(
    `window ${row.index} (${row.fromS}-${row.toS} s): ${row.acks} acks, p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms, max ${row.max.toFixed(1)} ms; ` +
      `stall max ${row.stallMaxMs.toFixed(1)} ms, >5 ms: ${row.stallsOver5ms}, >20 ms: ${row.stallsOver20ms}; RSS ${(rssOf(server.pid) / 1048576).toFixed(1)} MB; ` +
      `server CPU ${row.cpuMs} ms, waited for a core ${row.cpuWaitMs} ms`,
  );
}

console.log(
  `soak: ${MINUTES} min, ${CONNECTIONS} connections, ${RATE} msg/s, windows of ${WINDOW_S} s, warm-up ${WARMUP_S} s; ` +
    `${reniced ? "server and generator at nice -10" : "normal priority"}; output in ${out}`,
);
while (performance.now() < endAt) {
  const nextWindow = t0 + (windows.length + 1) * WINDOW_S * 1000;
  await Bun.sleep(Math.max(0, Math.min(nextWindow, endAt) - performance.now()));
  // The final scrape of the window, so its stall counts are complete.
  lastScrape = await scrapeStalls(HTTP);
  windowStallMax = Math.max(windowStallMax, lastScrape.recentMaxMs);
  closeWindow();
}
for (const t of [sender, churn, reconnector, rotator, scraper, rssTimer]) clearInterval(t);
rssRows.push({ minute: Math.round((performance.now() - t0) / 60_000), rssMB: rssOf(server.pid) / 1048576 });
for (let waited = 0; conns.some((c) => c.pending.size > 0) && waited < 10_000; waited += 50) await Bun.sleep(50);
const unacked = conns.reduce((n, c) => n + c.pending.size, 0);
const heapEnd = await heapSummary();

// --- the summary -----------------------------------------------------------------------------------------------
const warmRss = rssRows.filter((r) => r.minute * 60 >= WARMUP_S)[0] ?? rssRows[0]!;
const endRss = rssRows.at(-1)!;
const maxRssAfterWarmup = Math.max(...rssRows.filter((r) => r.minute * 60 >= WARMUP_S).map((r) => r.rssMB));
const growth = (endRss.rssMB - warmRss.rssMB) / warmRss.rssMB;
const measured = windows.filter((w) => w.acks > 0);
const typeGrowth = Object.entries(heapEnd.objectTypeCounts)
  .map(([type, n]) => [type, n - (heapStart.objectTypeCounts[type] ?? 0)] as const)
  .sort((a, b) => b[1] - a[1])
  .slice(0, 8);
const errors = [...stats.errors].filter(([code, n]) => n - (errorsAtStart.get(code) ?? 0) > 0);
const checks = [
  { name: `RSS growth after the ${WARMUP_S} s warm-up < 10%`, ok: growth < 0.1, value: `${(growth * 100).toFixed(1)}% (${warmRss.rssMB.toFixed(1)} -> ${endRss.rssMB.toFixed(1)} MB, max ${maxRssAfterWarmup.toFixed(1)})` },
  { name: "ack p99 <= 5 ms in every window", ok: measured.every((w) => w.p99 <= 5), value: measured.map((w) => w.p99.toFixed(2)).join(", ") },
  { name: "worst event-loop stall <= 20 ms", ok: worstStall <= 20, value: `${worstStall.toFixed(1)} ms` },
  { name: "every message acknowledged", ok: unacked === 0, value: `${stats.acked} acked of ${stats.sent} sent, ${unacked} unacked` },
  { name: "no gap in live delivery", ok: stats.gaps === 0, value: `${stats.gaps}` },
];
const report = {
  minutes: MINUTES,
  connections: CONNECTIONS,
  rate: RATE,
  stats: { ...stats, window: undefined, errors: Object.fromEntries(errors) },
  windows,
  rss: rssRows,
  heap: {
    start: { rssMB: heapStart.rss / 1048576, heapMB: heapStart.heapSize / 1048576, objects: heapStart.objectCount },
    end: { rssMB: heapEnd.rss / 1048576, heapMB: heapEnd.heapSize / 1048576, objects: heapEnd.objectCount },
    topGrowth: typeGrowth,
  },
  checks,
};
writeFileSync(join(out, "soak.json"), JSON.stringify(report, null, 2));
console.log(`\nRSS by minute (MB): ${rssRows.map((r) => `${r.minute}:${r.rssMB.toFixed(0)}`).join(" ")}`);
console.log(
  `heap after full GC: start ${(heapStart.heapSize / 1048576).toFixed(1)} MB / ${heapStart.objectCount} objects, ` +
    `end ${(heapEnd.heapSize / 1048576).toFixed(1)} MB / ${heapEnd.objectCount} objects; most grown: ${typeGrowth.map(([t, n]) => `${t} ${n >= 0 ? "+" : ""}${n}`).join(", ")}`,
);
console.log(
  `traffic: ${stats.sent} sent, ${stats.acked} acked, ${stats.resent} resent after reconnect, ${stats.delivered} delivered, ${stats.reconnects} reconnects, ` +
    `${stats.joins} joins, ${stats.leaves} leaves, ${stats.rotated} sessions rotated; errors: ${errors.length ? errors.map(([c, n]) => `${c} ${n}`).join(", ") : "none"}`,
);
for (const c of checks) console.log(`${c.ok ? "PASS" : "FAIL"}  ${c.name}: ${c.value}`);
console.log(`report: ${join(out, "soak.json")}${flag("cpu-prof") ? `; CPU profile in ${out}` : ""}`);

for (const c of conns) c.ws?.close();
server.kill("SIGTERM");
await server.exited;
rmSync(dataDir, { recursive: true, force: true });
process.exit(checks.every((c) => c.ok) ? 0 : 1);
