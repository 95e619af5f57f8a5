// WebSocket benchmarks against sessiond and, in the same run, against a bare Bun.serve pub/sub server (the ceiling
// of this stack). Servers are pinned to core 0 and this load generator to core 1 where taskset exists.
import { cpus } from "node:os";
import { readFileSync } from "node:fs";
import { mintToken } from "../src/auth/tokens.ts";
import { hasTaskset, SECONDS, SECRET, startBare, startSessiond, type Target } from "./servers.ts";

type Handler = (f: any, at: number) => void;
async function connect(url: string, token: string, onFrame: Handler): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` } } as unknown as string[]);
  ws.onmessage = (e) => onFrame(JSON.parse(String(e.data)), performance.now());
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("connect failed"));
  });
  return ws;
}

async function request(ws: WebSocket, frame: object, waiters: Map<number, (f: any) => void>, id: number): Promise<any> {
  return new Promise((resolve) => {
    waiters.set(id, resolve);
    ws.send(JSON.stringify({ ...frame, id }));
  });
}

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
/** Warms up for 1 s, then holds `gate.open` for the measuring window; returns its length in seconds. */
async function measure(gate: { open: boolean }): Promise<number> {
  await Bun.sleep(1000);
  gate.open = true;
  const started = performance.now();
  await Bun.sleep(SECONDS * 1000);
  gate.open = false;
  return (performance.now() - started) / 1000;
}

const rssBytes = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;

/** Admin tokens (the main rows), or plain users granted just this session (the analysis rows: nobody is staff). */
const tokenFor = (userId: string, session: string, users = false) =>
  mintToken(SECRET, users ? { userId, ttlSeconds: 3600, sessions: [session] } : { userId, ttlSeconds: 3600, admin: true });

async function fanout(t: Target, session: string, opts: { inFlight?: number; ratePerPublisher?: number; users?: boolean }) {
  const subs: WebSocket[] = [];
  let delivered = 0;
  const latencies: number[] = [];
  const gate = { open: false };
  for (let i = 0; i < 200; i++) {
    const waiters = new Map<number, (f: any) => void>();
    const sample = i % 20 === 0;
    const ws = await connect(t.url, await tokenFor(`sub${i}`, session, opts.users), (f, at) => {
      if (f.type === "message") {
        if (gate.open) {
          delivered++;
          if (sample) latencies.push(at - Number(f.message.content.slice(0, f.message.content.indexOf("|"))));
        }
      } else if (f.ref !== undefined) waiters.get(f.ref)?.(f);
    });
    await request(ws, { type: "join", session, limit: 1 }, waiters, 1);
    subs.push(ws);
  }
  const pubs = await Promise.all(
    [0, 1, 2, 3].map(async (p) => {
      let next = 0;
      const ws = await connect(t.url, await tokenFor(`pub${p}`, session, opts.users), (f) => {
        if (f.type === "ack" && opts.inFlight && running) send();
      });
      const send = () => ws.send(JSON.stringify({ type: "message", session, content: `${performance.now()}|payload-${p}-${next}`, id: next++ }));
      return { ws, send };
    }),
  );
  let running = true;
  const timers: Array<ReturnType<typeof setInterval>> = [];
  if (opts.inFlight) for (const p of pubs) for (let i = 0; i < opts.inFlight; i++) p.send();
  else for (const p of pubs) timers.push(setInterval(p.send, 1000 / opts.ratePerPublisher!));
  const elapsed = await measure(gate);
  running = false;
  for (const x of timers) clearInterval(x);
  await Bun.sleep(500);
  for (const ws of [...subs, ...pubs.map((p) => p.ws)]) ws.close();
  await Bun.sleep(300);
  return { deliveredPerSec: delivered / elapsed, p50: pct(latencies, 50), p99: pct(latencies, 99) };
}

async function pairs(t: Target, users = false) {
  let acked = 0;
  const latencies: number[] = [];
  const gate = { open: false };
  let running = true;
  const sockets: WebSocket[] = [];
  const starters: Array<() => void> = [];
  for (let s = 0; s < 500; s++) {
    for (const side of [0, 1]) {
      const sent = new Map<number, number>();
      let next = 0;
      const session = `pair-${s}`;
      const token = await tokenFor(`pair${s}-${side}`, session, users);
      const ws: WebSocket = await connect(t.url, token, (f, at) => {
        if (f.type !== "ack") return;
        if (gate.open) {
          acked++;
          latencies.push(at - sent.get(f.ref)!);
        }
        sent.delete(f.ref);
        if (running) send();
      });
      const send = () => {
        const id = next++;
        sent.set(id, performance.now());
        ws.send(JSON.stringify({ type: "message", session, content: `hello ${id}`, id }));
      };
      ws.send(JSON.stringify({ type: "join", session, id: -1 }));
      sockets.push(ws);
      starters.push(() => {
        send();
        send();
      });
    }
  }
  await Bun.sleep(500);
  for (const start of starters) start();
  const elapsed = await measure(gate);
  running = false;
  await Bun.sleep(500);
  for (const ws of sockets) ws.close();
  await Bun.sleep(500);
  return { ackedPerSec: acked / elapsed, p50: pct(latencies, 50), p99: pct(latencies, 99) };
}

async function memory(t: Target, n = 5000) {
  await Bun.sleep(500);
  const before = rssBytes(t.pid);
  const sockets: WebSocket[] = [];
  const token = await mintToken(SECRET, { userId: "mem", ttlSeconds: 3600, admin: true });
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
  await Bun.sleep(1500);
  const after = rssBytes(t.pid);
  for (const ws of sockets) ws.close();
  await Bun.sleep(1000);
  return { perConnection: (after - before) / n };
}

async function joinLatency(t: Target) {
  const waiters = new Map<number, (f: any) => void>();
  const ws = await connect(t.url, await mintToken(SECRET, { userId: "hist", ttlSeconds: 3600, admin: true }), (f) => f.ref !== undefined && waiters.get(f.ref)?.(f));
  let id = 0;
  await request(ws, { type: "join", session: "history" }, waiters, ++id);
  for (let i = 0; i < 100; i++) await request(ws, { type: "message", session: "history", content: `message ${i} `.padEnd(120, ".") }, waiters, ++id);
  const times: number[] = [];
  for (let i = 0; i < 600; i++) {
    const t0 = performance.now();
    const r = await request(ws, { type: "join", session: "history", limit: 100 }, waiters, ++id);
    if (r.messages.length !== 100) throw new Error("expected 100 messages");
    if (i >= 100) times.push(performance.now() - t0);
  }
  ws.close();
  return { p50: pct(times, 50), p99: pct(times, 99) };
}

const f0 = (n: number) => Math.round(n).toLocaleString("en-US");
const f2 = (n: number) => n.toFixed(2);

console.log(`bench: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), Bun ${Bun.version}, ${SECONDS} s windows, servers pinned: ${hasTaskset}\n`);
const rows: string[] = [];
for (const scenario of ["fanout", "fixed", "pairs", "memory"] as const) {
  // BENCH_ONLY=analysis runs just the analysis on/off rows below.
  if (process.env.BENCH_ONLY === "analysis" || process.env.BENCH_ONLY === "encryption") break;
  const results: Record<string, any> = {};
  for (const which of ["bare", "sessiond"] as const) {
    const t = which === "bare" ? await startBare() : await startSessiond();
    try {
      if (scenario === "fanout") results[which] = await fanout(t, "fan", { inFlight: 64 });
      if (scenario === "fixed") results[which] = await fanout(t, "fixed", { ratePerPublisher: 50 });
      if (scenario === "pairs") results[which] = await pairs(t);
      if (scenario === "memory") results[which] = await memory(t);
      if (scenario === "memory" && which === "sessiond") results.join = await joinLatency(t);
    } finally {
      t.stop();
      await Bun.sleep(500);
    }
  }
  const { bare, sessiond } = results;
  if (scenario === "fanout") rows.push(`| fan-out 1×200, 4 publishers × 64 in flight | delivered/s | ${f0(bare.deliveredPerSec)} | ${f0(sessiond.deliveredPerSec)} | ${(sessiond.deliveredPerSec / bare.deliveredPerSec * 100).toFixed(0)}% |`, `| | p50 / p99 publish→deliver (ms) | ${f2(bare.p50)} / ${f2(bare.p99)} | ${f2(sessiond.p50)} / ${f2(sessiond.p99)} | p99 ${(sessiond.p99 / bare.p99).toFixed(2)}× |`);
  if (scenario === "fixed") rows.push(`| fixed rate 4 × 50 msg/s into 200 | p50 / p99 publish→deliver (ms) | ${f2(bare.p50)} / ${f2(bare.p99)} | ${f2(sessiond.p50)} / ${f2(sessiond.p99)} | p99 ${(sessiond.p99 / bare.p99).toFixed(2)}× |`);
  if (scenario === "pairs") rows.push(`| pairs 500 × 2, 2 in flight each | acked/s | ${f0(bare.ackedPerSec)} | ${f0(sessiond.ackedPerSec)} | ${(sessiond.ackedPerSec / bare.ackedPerSec * 100).toFixed(0)}% |`, `| | p50 / p99 ack (ms) | ${f2(bare.p50)} / ${f2(bare.p99)} | ${f2(sessiond.p50)} / ${f2(sessiond.p99)} | |`);
  if (scenario === "memory") rows.push(`| 5,000 idle connections, each joined to its own session | RSS per connection | ${f0(bare.perConnection)} B | ${f0(sessiond.perConnection)} B | ${(sessiond.perConnection / bare.perConnection).toFixed(2)}× |`, `| join with 100 messages from a warm window | p50 / p99 to \`joined\` (ms) | – | ${f2(results.join.p50)} / ${f2(results.join.p99)} | |`);
}
console.log("| scenario | figure | bare Bun.serve | sessiond | sessiond / bare |");
console.log("| --- | --- | ---: | ---: | ---: |");
for (const r of rows) console.log(r);

// Encryption at rest on vs off (ENCRYPTION_KEY set or not), same run, rounds alternating the order as below; the
// medians are printed with each round's ratio. BENCH_ONLY=encryption runs just these rows.
{
  const rounds = Number(process.env.BENCH_ENCRYPTION_ROUNDS ?? 3);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const key = Buffer.alloc(32, 0x5e).toString("base64");
  const encryptionRows: string[] = [];
  // CPU time of the server process (all its threads), which contention from other processes does not inflate the
  // way it inflates rates: microseconds per message handled over the whole run.
  const cpuMicros = (pid: number) => {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1e6) / 100;
  };
  const counter = async (t: Target, name: string) => {
    const text = await (await fetch(t.url.replace(/^ws/, "http").replace(/\/ws$/, "/metrics"))).text();
    return text.split("\n").filter((l) => l.startsWith(name)).reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
  };
  for (const scenario of ["fanout", "pairs"] as const) {
    const runs: Record<"off" | "on", any[]> = { off: [], on: [] };
    for (let round = 0; round < rounds; round++) {
      for (const side of round % 2 === 0 ? (["off", "on"] as const) : (["on", "off"] as const)) {
        const t = await startSessiond(side === "on" ? { ENCRYPTION_KEY: key } : {});
        try {
          const r: any = scenario === "fanout" ? await fanout(t, "fan", { inFlight: 64 }) : await pairs(t);
          r.rate = scenario === "fanout" ? r.deliveredPerSec : r.ackedPerSec;
          // Per message committed (fan-out: per message published to the 200, whose delivery is the same either way).
          r.cpuUs = cpuMicros(t.pid) / Math.max(1, await counter(t, "sessiond_messages_acked_total"));
          runs[side].push(r);
        } finally {
          t.stop();
          await Bun.sleep(500);
        }
      }
    }
    const pick = (side: "off" | "on", k: string) => median(runs[side].map((r) => r[k]));
    const ratios = runs.on.map((r, i) => `${((r.rate / runs.off[i].rate) * 100).toFixed(0)}%`).join(", ");
    const label = scenario === "fanout" ? "fan-out 1×200, 4 × 64 in flight | delivered/s" : "pairs 500 × 2, 2 in flight each | acked/s";
    encryptionRows.push(
      `| ${label} | ${f0(pick("off", "rate"))} | ${f0(pick("on", "rate"))} | ${((pick("on", "rate") / pick("off", "rate")) * 100).toFixed(0)}% (${ratios}) |`,
      `| | p50 / p99 (ms) | ${f2(pick("off", "p50"))} / ${f2(pick("off", "p99"))} | ${f2(pick("on", "p50"))} / ${f2(pick("on", "p99"))} | |`,
      `| | server CPU per committed message (µs) | ${f2(pick("off", "cpuUs"))} | ${f2(pick("on", "cpuUs"))} | +${(((pick("on", "cpuUs") - pick("off", "cpuUs")) / pick("off", "cpuUs")) * 100).toFixed(0)}% |`,
    );
  }
  console.log(`\n| scenario (encryption at rest, medians of ${rounds} rounds) | figure | off | on | on / off (each round) |`);
  console.log("| --- | --- | ---: | ---: | ---: |");
  for (const r of encryptionRows) console.log(r);
  if (process.env.BENCH_ONLY === "encryption") process.exit(0);
}

// Analysis on vs off, same run: participants are plain users (no staff watching, so no analysis frames go out);
// the only difference is ANALYSIS_DEFAULT. Rounds alternate the order (off/on, on/off, ...) so a machine that gets
// busier or quieter during the run does not favour one side; the medians are printed, with each round's ratio.
const analysisRows: string[] = [];
const rounds = Number(process.env.BENCH_ANALYSIS_ROUNDS ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const scrape = async (t: Target, name: string) => {
  const text = await (await fetch(t.url.replace(/^ws/, "http").replace(/\/ws$/, "/metrics"))).text();
  return Number(text.split("\n").find((l) => l.startsWith(`${name} `))?.split(" ")[1] ?? 0);
};
for (const scenario of ["fanout", "pairs"] as const) {
  const runs: Record<"off" | "on", any[]> = { off: [], on: [] };
  for (let round = 0; round < rounds; round++) {
    for (const analysis of round % 2 === 0 ? (["off", "on"] as const) : (["on", "off"] as const)) {
      const t = await startSessiond({ ANALYSIS_DEFAULT: analysis });
      try {
        const r: any = scenario === "fanout" ? await fanout(t, "fan", { inFlight: 64, users: true }) : await pairs(t, true);
        r.rate = scenario === "fanout" ? r.deliveredPerSec : r.ackedPerSec;
        r.analysed = await scrape(t, "sessiond_analysis_seconds_count");
        r.dropped = await scrape(t, "sessiond_analysis_dropped_total");
        runs[analysis].push(r);
      } finally {
        t.stop();
        await Bun.sleep(500);
      }
    }
  }
  const pick = (side: "off" | "on", key: string) => median(runs[side].map((r) => r[key]));
  const ratios = runs.on.map((r, i) => `${((r.rate / runs.off[i].rate) * 100).toFixed(0)}%`).join(", ");
  const work = `${f0(pick("on", "analysed"))} analysed, ${f0(pick("on", "dropped"))} dropped (caught up afterwards)`;
  const label = scenario === "fanout" ? "fan-out 1×200 users, 4 × 64 in flight | delivered/s" : "pairs 500 × 2 users, 2 in flight each | acked/s";
  analysisRows.push(
    `| ${label} | ${f0(pick("off", "rate"))} | ${f0(pick("on", "rate"))} | ${((pick("on", "rate") / pick("off", "rate")) * 100).toFixed(0)}% (${ratios}) | ${work} |`,
    `| | p50 / p99 (ms) | ${f2(pick("off", "p50"))} / ${f2(pick("off", "p99"))} | ${f2(pick("on", "p50"))} / ${f2(pick("on", "p99"))} | | |`,
  );
}
console.log(`\n| scenario (analysis, medians of ${rounds} rounds) | figure | off | on | on / off (each round) | analysis during the window |`);
console.log("| --- | --- | ---: | ---: | ---: | --- |");
for (const r of analysisRows) console.log(r);
