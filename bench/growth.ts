// Growth with data (`bun run bench:growth`): the same measurements on a database holding only what they need and on
// one grown to 100,000 sessions and 2,000,000 messages (bench/growth-data.ts), medians of BENCH_ROUNDS: start-up
// until /health answers, pairs acks/s, join with history p99, a cold 1,000-message `since` recovery from SQLite;
// then the expiry sweep over 100,000 idle active sessions, with the worst event-loop stall while it runs.
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { mintToken } from "../src/auth/tokens.ts";
import { BIG_OWNER, generate, type GrowthShape } from "./growth-data.ts";
import { connect, f0, f2, joinLatency, median, pairs, pct, request } from "./load.ts";
import { SECRET, startSessiond, type Target } from "./servers.ts";

const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const GENERATORS = Math.max(1, Number(process.env.BENCH_GENERATORS ?? 4));
const SESSIONS = Number(process.env.GROWTH_SESSIONS ?? 100_000);
const MESSAGES = Number(process.env.GROWTH_MESSAGES ?? 2_000_000);
const BIG = 50;

const httpOf = (t: Target) => t.url.replace(/^ws/, "http").replace(/\/ws$/, "");

/** Starts sessiond on a copy of `template` and measures spawn → first 200 from /health. */
async function startTimed(template: string, env: Record<string, string> = {}): Promise<{ t: Target; startupMs: number; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "sessiond-growth-run-"));
  cpSync(template, dir, { recursive: true });
  const spawned = performance.now();
  const t = await startSessiond(env, { dataDir: dir });
  while ((await fetch(`${httpOf(t)}/health`).catch(() => null))?.status !== 200) await Bun.sleep(5);
  return { t, startupMs: performance.now() - spawned, dir };
}

/** A `since: 0` join of each big session (cold: not in memory) from its owner; ms to `joined` with its 1,000 messages. */
async function coldRecoveries(t: Target): Promise<number[]> {
  const waiters = new Map<number, (f: any) => void>();
  const ws = await connect(t.url, await mintToken(SECRET, { userId: BIG_OWNER, ttlSeconds: 3600 }), (f) => f.ref !== undefined && waiters.get(f.ref)?.(f));
  const times: number[] = [];
  for (let i = 0; i < BIG; i++) {
    const t0 = performance.now();
    const r = await request(ws, { type: "join", session: `big-${i}`, since: 0 }, waiters, i + 1);
    times.push(performance.now() - t0);
    if (r.messages?.length !== 1000) throw new Error(`big-${i}: expected 1,000 messages, got ${r.messages?.length} (${r.code ?? ""})`);
    ws.send(JSON.stringify({ type: "leave", session: `big-${i}` }));
  }
  ws.close();
  return times;
}

interface Figures {
  startupMs: number;
  acked: number;
  ackP50: number;
  joinP99: number;
  recoveryP50: number;
  recoveryP99: number;
  /** Stalls of the server's own making over 20 ms during the measurements (after start-up). */
  over20: number;
}

async function measure(template: string): Promise<Figures> {
  const { t, startupMs, dir } = await startTimed(template);
  try {
    const stallsBefore = await stallBuckets(t);
    const recovery = await coldRecoveries(t);
    const p = await pairs(t, { sessions: 500, inFlight: 4, users: true }, GENERATORS);
    const j = await joinLatency(t);
    const { over20 } = stallsBetween(stallsBefore, await stallBuckets(t));
    return { startupMs, acked: p.ackedPerSec, ackP50: p.p50, joinP99: j.p99, recoveryP50: pct(recovery, 50), recoveryP99: pct(recovery, 99), over20 };
  } finally {
    t.stop();
    await t.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The stall histogram's cumulative bucket counts (le → count), for a before/after difference. */
async function stallBuckets(t: Target): Promise<Map<string, number>> {
  const text = await (await fetch(`${httpOf(t)}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^sessiond_event_loop_blocked_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

/** Between two snapshots: how many stalls passed 20 ms, and the bucket bound the worst one fell under (ms). */
function stallsBetween(before: Map<string, number>, after: Map<string, number>): { over20: number; worstUnderMs: number } {
  const delta = (le: string) => (after.get(le) ?? 0) - (before.get(le) ?? 0);
  const total = delta("+Inf");
  let worstUnderMs = 0;
  for (const le of [...after.keys()].filter((k) => k !== "+Inf").sort((a, b) => Number(a) - Number(b))) {
    worstUnderMs = Number(le) * 1000;
    if (delta(le) === total) break;
  }
  if (delta([...after.keys()].filter((k) => k !== "+Inf").at(-1)!) !== total) worstUnderMs = Infinity;
  return { over20: total - delta("0.02"), worstUnderMs };
}

async function gauge(t: Target, name: string): Promise<number> {
  const text = await (await fetch(`${httpOf(t)}/metrics`)).text();
  return Number(text.split("\n").find((l) => l.startsWith(`${name} `))?.split(" ")[1] ?? NaN);
}

/** Every session idle past SESSION_EXPIRY_SECONDS: the first sweep ends them all, in steps. */
async function sweep(template: string): Promise<{ expired: number; ms: number; over20: number; worstUnderMs: number; pingMaxMs: number }> {
  const { t, dir } = await startTimed(template, { SESSION_EXPIRY_SECONDS: "3600", SESSION_SWEEP_INTERVAL_SECONDS: "1" });
  try {
    const before = await gauge(t, "sessiond_sessions_active");
    // A client pinging all along: the longest round trip is the longest the loop was away.
    const waiters = new Map<number, (f: any) => void>();
    const ws = await connect(t.url, await mintToken(SECRET, { userId: "pinger", ttlSeconds: 3600 }), (f) => f.ref !== undefined && waiters.get(f.ref)?.(f));
    let pingMaxMs = 0;
    let id = 0;
    let running = true;
    const pinging = (async () => {
      while (running) {
        const t0 = performance.now();
        await request(ws, { type: "ping" }, waiters, ++id);
        pingMaxMs = Math.max(pingMaxMs, performance.now() - t0);
        await Bun.sleep(5);
      }
    })();
    const started = performance.now();
    // From here on (start-up's own stalls are not the sweep's).
    const stallsBefore = await stallBuckets(t);
    for (;;) {
      if ((await gauge(t, "sessiond_sessions_active")) === 0) break;
      if (performance.now() - started > 600_000) throw new Error("the sweep did not finish within 10 minutes");
      await Bun.sleep(250);
    }
    const ms = performance.now() - started;
    running = false;
    await pinging;
    ws.close();
    return { expired: before, ms, ...stallsBetween(stallsBefore, await stallBuckets(t)), pingMaxMs };
  } finally {
    t.stop();
    await t.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

const root = mkdtempSync(join(tmpdir(), "sessiond-growth-"));
try {
  const shape = (sessions: number, messages: number, idleForMs = 0): GrowthShape => ({ sessions, messages, big: BIG, bigSize: 1000, idleForMs });
  const empty = join(root, "empty");
  const grown = join(root, "grown");
  const idle = join(root, "idle");
  const loads = (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
  console.log(`growth: ${cpus().length} cores, ${ROUNDS} rounds, ${GENERATORS} generator processes, load average at start: ${loads}`);
  const gen = (dir: string, s: GrowthShape) => console.log(`  generated ${f0(s.sessions)} sessions / ${f0(s.messages)} messages in ${(generate(dir, s) / 1000).toFixed(1)} s`);
  gen(empty, shape(BIG, BIG * 1000));
  gen(grown, shape(SESSIONS, MESSAGES));
  const runs: Record<"empty" | "grown", Figures[]> = { empty: [], grown: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const which of (r % 2 === 0 ? ["empty", "grown"] : ["grown", "empty"]) as Array<"empty" | "grown">) {
      const f = await measure(which === "empty" ? empty : grown);
      runs[which].push(f);
      process.stderr.write(`  ${which} round ${r + 1}: ${JSON.stringify(f)}\n`);
    }
  }
  const m = (w: "empty" | "grown", k: keyof Figures) => median(runs[w].map((f) => f[k]));
  const row = (label: string, k: keyof Figures, fmt: (n: number) => string, target: string) => {
    const each = runs.empty.map((f, i) => `${fmt(f[k])} / ${fmt(runs.grown[i]![k])}`).join("; ");
    console.log(`| ${label} | ${fmt(m("empty", k))} | ${fmt(m("grown", k))} | ${((m("grown", k) / m("empty", k) - 1) * 100).toFixed(0)}% | ${target} | ${each} |`);
  };
  console.log(`\n| figure (medians of ${ROUNDS}) | only what the test needs (${BIG} × 1,000 messages) | ${f0(SESSIONS)} sessions, ${f0(MESSAGES)} messages | change | target | each round: small / grown |`);
  console.log("| --- | ---: | ---: | ---: | --- | --- |");
  row("start-up until /health answers (ms)", "startupMs", f0, "≤ 2,000 ms");
  row("pairs 500 × 2, 4 in flight: durable acks/s", "acked", f0, "within 15 %");
  row("pairs: ack p50 (ms)", "ackP50", f2, "");
  row("join with the last 100 messages: p99 (ms)", "joinP99", f2, "within 15 %");
  row("`since` recovery of 1,000 messages from SQLite (cold session): p50 (ms)", "recoveryP50", f2, "within 15 %");
  row("`since` recovery of 1,000 messages from SQLite (cold session): p99 (ms)", "recoveryP99", f2, "within 15 %");
  row("event-loop stalls of the server's own making over 20 ms during the run", "over20", f0, "");

  gen(idle, shape(SESSIONS, MESSAGES, 2 * 3600_000));
  const sweeps: Array<Awaited<ReturnType<typeof sweep>>> = [];
  for (let r = 0; r < ROUNDS; r++) {
    sweeps.push(await sweep(idle));
    process.stderr.write(`  sweep round ${r + 1}: ${JSON.stringify(sweeps.at(-1))}\n`);
  }
  const sm = (k: "expired" | "ms" | "over20" | "worstUnderMs" | "pingMaxMs") => median(sweeps.map((s) => s[k]));
  console.log(`\n| expiry sweep over ${f0(SESSIONS)} idle active sessions (medians of ${ROUNDS}) | value | target | each round |`);
  console.log("| --- | ---: | --- | --- |");
  console.log(`| sessions expired | ${f0(sm("expired"))} | | ${sweeps.map((s) => f0(s.expired)).join(", ")} |`);
  console.log(`| time until all had expired (ms) | ${f0(sm("ms"))} | | ${sweeps.map((s) => f0(s.ms)).join(", ")} |`);
  console.log(`| event-loop stalls of the server's own making over 20 ms while it ran | ${f0(sm("over20"))} | 0 | ${sweeps.map((s) => f0(s.over20)).join(", ")} |`);
  console.log(`| the worst such stall was under (histogram bucket, ms) | ${f0(sm("worstUnderMs"))} | ≤ 20 ms | ${sweeps.map((s) => f0(s.worstUnderMs)).join(", ")} |`);
  console.log(`| worst ping round trip meanwhile (ms) | ${f2(sm("pingMaxMs"))} | | ${sweeps.map((s) => f2(s.pingMaxMs)).join(", ")} |`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
