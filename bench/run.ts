// WebSocket benchmarks against sessiond and, in the same run, against a bare Bun.serve pub/sub server (the ceiling
// of this stack). Servers are pinned to core 0 and the load generators to core 1 where taskset exists. The main
// table and the fan-out width table are in table.ts; the encryption and analysis on/off rows follow here.
import { existsSync, readFileSync } from "node:fs";
import { f0, f2, fanout as fanoutLoad, pairs as pairsLoad } from "./load.ts";
import { runPostgres } from "./postgres.ts";
import { startSessiond, type Target } from "./servers.ts";
import { runTables } from "./table.ts";

/** The 1 × 200 fan-out (4 publishers) of the on/off rows below, from this process. */
const fanout = (t: Target, session: string, opts: { inFlight?: number; ratePerPublisher?: number; users?: boolean }) =>
  fanoutLoad(t, { session, subscribers: 200, publishers: 4, ...opts }, 1);
/** The 500 × 2 pairs, 2 in flight each, of the on/off rows below, from this process. */
const pairs = (t: Target, users = false) => pairsLoad(t, { sessions: 500, inFlight: 2, users }, 1);

// BENCH_ONLY=analysis, encryption or postgres runs just those rows; any other value picks scenarios of the tables.
const VARIANTS = ["analysis", "encryption", "postgres"];
const only = process.env.BENCH_ONLY;
if (!only || !VARIANTS.includes(only)) await runTables();
if (only && !VARIANTS.includes(only)) process.exit(0);

// sessiond on PostgreSQL + Redis, one node and two, against the SQLite node and bare (bench/postgres.ts). The full
// run skips it, saying so, where PostgreSQL or Redis is not installed.
if (!only || only === "postgres") {
  const installed = Bun.which("redis-server") !== null && existsSync("/usr/lib/postgresql");
  if (installed || only === "postgres") await runPostgres();
  else console.log("\nPostgreSQL + Redis rows skipped: PostgreSQL or redis-server is not installed");
  if (only === "postgres") process.exit(0);
}

// Encryption at rest on vs off (ENCRYPTION_KEY set or not), same run, rounds alternating the order as below; the
// medians are printed with each round's ratio. BENCH_ONLY=encryption runs just these rows.
if (process.env.BENCH_ONLY !== "analysis") {
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
/** CPU µs of the server's main thread (the write path; the analysis worker is another thread) over the run. */
const mainThreadCpuUs = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/task/${pid}/stat`, "utf8");
  const x = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return ((Number(x[11]) + Number(x[12])) * 1e6) / 100;
};
/**
 * Main-thread CPU per committed message while the load is steady: the thread's CPU and the ack counter sampled every
 * 250 ms during the run, over the intervals whose ack rate is at least 80 % of the highest (so connecting, warm-up
 * and whatever analysis catches up after the load are left out).
 */
async function steadyMainUs<T>(t: Target, run: Promise<T>): Promise<{ result: T; steadyUs: number; analysedSteady: number }> {
  const samples: Array<{ cpu: number; acked: number; analysed: number }> = [];
  let done = false;
  const finished = run.finally(() => void (done = true));
  while (!done) {
    samples.push({ cpu: mainThreadCpuUs(t.pid), acked: await scrape(t, "sessiond_messages_acked_total"), analysed: await scrape(t, "sessiond_analysis_seconds_count") });
    await Promise.race([Bun.sleep(250), finished]);
  }
  const steps = samples.slice(1).map((s, i) => ({ cpu: s.cpu - samples[i]!.cpu, acked: s.acked - samples[i]!.acked, analysed: s.analysed - samples[i]!.analysed }));
  const top = Math.max(...steps.map((s) => s.acked));
  const steady = steps.filter((s) => s.acked >= 0.8 * top);
  const sum = (k: "cpu" | "acked" | "analysed") => steady.reduce((n, s) => n + s[k], 0);
  return { result: await run, steadyUs: sum("cpu") / Math.max(1, sum("acked")), analysedSteady: sum("analysed") / Math.max(1, sum("acked")) };
}
for (const scenario of ["fanout", "pairs"] as const) {
  const runs: Record<"off" | "on", any[]> = { off: [], on: [] };
  for (let round = 0; round < rounds; round++) {
    for (const analysis of round % 2 === 0 ? (["off", "on"] as const) : (["on", "off"] as const)) {
      const t = await startSessiond({ ANALYSIS_DEFAULT: analysis });
      try {
        const load: Promise<any> = scenario === "fanout" ? fanout(t, "fan", { inFlight: 64, users: true }) : pairs(t, true);
        const measured = await steadyMainUs(t, load);
        const r: any = measured.result;
        r.steadyUs = measured.steadyUs;
        r.analysedSteady = measured.analysedSteady;
        r.rate = scenario === "fanout" ? r.deliveredPerSec : r.ackedPerSec;
        r.analysed = await scrape(t, "sessiond_analysis_seconds_count");
        r.dropped = await scrape(t, "sessiond_analysis_dropped_total");
        r.mainUs = mainThreadCpuUs(t.pid) / Math.max(1, await scrape(t, "sessiond_messages_acked_total"));
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
    `| | main-thread CPU per committed message, steady load (µs) | ${f2(pick("off", "steadyUs"))} | ${f2(pick("on", "steadyUs"))} | ${(((pick("on", "steadyUs") / pick("off", "steadyUs")) - 1) * 100).toFixed(0)}% more | ${(pick("on", "analysedSteady") * 100).toFixed(0)}% of messages analysed meanwhile |`,
    `| | main-thread CPU per committed message, whole run with the catch-up (µs) | ${f2(pick("off", "mainUs"))} | ${f2(pick("on", "mainUs"))} | ${(((pick("on", "mainUs") / pick("off", "mainUs")) - 1) * 100).toFixed(0)}% more | |`,
  );
}
console.log(`\n| scenario (analysis, medians of ${rounds} rounds) | figure | off | on | on / off (each round) | analysis during the window |`);
console.log("| --- | --- | ---: | ---: | ---: | --- |");
for (const r of analysisRows) console.log(r);
