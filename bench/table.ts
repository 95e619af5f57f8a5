// The main comparison (issue 13's first table) and the fan-out width table: every row against the bare Bun.serve
// baseline and sessiond in the same run, rounds alternating which server goes first, medians with each round's ratio.
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { connectStorm, f0, f2, fanout, joinLatency, median, memory, pairs } from "./load.ts";
import { hasTaskset, SECONDS, startBare, startSessiond, type Target } from "./servers.ts";

/** Generator processes for the multi-client rows (BENCH_GENERATORS). @default 4 */
export const TABLE_GENERATORS = Math.max(1, Number(process.env.BENCH_GENERATORS ?? 4));
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));

type Side = "bare" | "sessiond";
type Figures = Record<string, number>;
interface Scenario {
  name: string;
  run(t: Target): Promise<Figures>;
}
interface Row {
  label: string;
  scenario: string;
  key: string;
  unit: string;
  target: string;
  /** How a row is read: more is better (rates) or less is better (latencies, memory). */
  better: "more" | "less";
  format: (n: number) => string;
}

const MAIN: Scenario[] = [
  { name: "fanout", run: async (t) => {
    const r = await fanout(t, { session: "fan", subscribers: 200, publishers: 4, inFlight: 64, users: true }, TABLE_GENERATORS);
    return { rate: r.deliveredPerSec, p50: r.p50, p99: r.p99 };
  } },
  { name: "fixed", run: async (t) => {
    const r = await fanout(t, { session: "fixed", subscribers: 200, publishers: 4, ratePerPublisher: 50, users: true }, TABLE_GENERATORS);
    return { p50: r.p50, p99: r.p99 };
  } },
  { name: "pairs", run: async (t) => {
    const r = await pairs(t, { sessions: 500, inFlight: 4, users: true }, TABLE_GENERATORS);
    return { rate: r.ackedPerSec, p50: r.p50, p99: r.p99 };
  } },
  { name: "storm", run: async (t) => {
    const r = await connectStorm(t, { clients: 5000, prefix: "storm" }, TABLE_GENERATORS);
    return { rate: r.perSec, p50: r.p50, p99: r.p99 };
  } },
  { name: "memory", run: async (t) => ({ perConnection: (await memory(t, 5000)).perConnection }) },
  { name: "join", run: async (t) => {
    const r = await joinLatency(t);
    return { p50: r.p50, p99: r.p99 };
  } },
];

const MAIN_ROWS: Row[] = [
  { label: "fan-out, 1 session × 200 subscribers (4 publishers × 64 in flight): delivered msgs/s", scenario: "fanout", key: "rate", unit: "", target: "≥ 0.85×", better: "more", format: f0 },
  { label: "fan-out: publish→deliver p99 (ms)", scenario: "fanout", key: "p99", unit: "", target: "", better: "less", format: f2 },
  { label: "fixed rate 4 × 50 msg/s into 200: publish→deliver p99 (ms)", scenario: "fixed", key: "p99", unit: "", target: "", better: "less", format: f2 },
  { label: "pairs, 500 sessions × 2, 4 in flight: durable acks/s", scenario: "pairs", key: "rate", unit: "", target: "≥ 40,000 and ≥ 0.5×", better: "more", format: f0 },
  { label: "pairs: ack p50 (ms)", scenario: "pairs", key: "p50", unit: "", target: "≤ 2×", better: "less", format: f2 },
  { label: "pairs: ack p99 (ms)", scenario: "pairs", key: "p99", unit: "", target: "", better: "less", format: f2 },
  { label: "connect + join a fresh session, 5,000 clients: per s", scenario: "storm", key: "rate", unit: "", target: "≥ 0.5×", better: "more", format: f0 },
  { label: "join p99 during that connect storm (ms)", scenario: "storm", key: "p99", unit: "", target: "≤ 5×", better: "less", format: f2 },
  { label: "RSS per idle joined connection (5,000), bytes", scenario: "memory", key: "perConnection", unit: "", target: "≤ 1.5×", better: "less", format: f0 },
  { label: "join with the last 100 messages: p99 (ms)", scenario: "join", key: "p99", unit: "", target: "< 2 ms and ≤ 1.2×", better: "less", format: f2 },
  { label: "join with the last 100 messages: p50 (ms)", scenario: "join", key: "p50", unit: "", target: "", better: "less", format: f2 },
];

const WIDTHS = [10, 200, 2000, 10_000];
const WIDTH: Scenario[] = WIDTHS.map((width) => ({
  name: `width-${width}`,
  run: async (t) => {
    // Paced by delivery: each of 4 publishers keeps 8 messages on their way to its own probe subscriber.
    const r = await fanout(t, { session: `wide-${width}`, subscribers: width, publishers: 4, paced: 8, users: true }, TABLE_GENERATORS);
    return { rate: r.deliveredPerSec, p50: r.p50, p99: r.p99 };
  },
}));
const WIDTH_ROWS: Row[] = WIDTHS.map((width) => ({
  label: `fan-out width ${f0(width)} subscribers: delivered msgs/s`,
  scenario: `width-${width}`,
  key: "rate",
  unit: "",
  target: "ratio must not fall as width grows",
  better: "more",
  format: f0,
}));

/** Runs every scenario ROUNDS times against both servers, alternating which goes first, and prints the table. */
async function table(title: string, scenarios: Scenario[], rows: Row[], only: Set<string> | null): Promise<void> {
  const picked = scenarios.filter((s) => only === null || only.has(s.name));
  if (picked.length === 0) return;
  const results: Record<string, Record<Side, Figures[]>> = {};
  for (const s of picked) {
    results[s.name] = { bare: [], sessiond: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const side of (round % 2 === 0 ? ["bare", "sessiond"] : ["sessiond", "bare"]) as Side[]) {
        const t = side === "bare" ? await startBare() : await startSessiond();
        try {
          results[s.name]![side].push(await s.run(t));
        } finally {
          t.stop();
          await t.exited;
          await Bun.sleep(300);
        }
      }
      process.stderr.write(`  ${s.name} round ${round + 1}/${ROUNDS} done\n`);
    }
  }
  console.log(`\n${title}\n`);
  console.log(`| scenario | bare | sessiond | ratio | target | each round: bare / sessiond (ratio) |`);
  console.log("| --- | ---: | ---: | ---: | --- | --- |");
  for (const row of rows) {
    const r = results[row.scenario];
    if (!r) continue;
    const bare = r.bare.map((f) => f[row.key]!);
    const ours = r.sessiond.map((f) => f[row.key]!);
    const ratio = median(ours) / median(bare);
    const rounds = bare.map((b, i) => `${row.format(b)} / ${row.format(ours[i]!)} (${(ours[i]! / b).toFixed(2)}×)`).join("; ");
    console.log(`| ${row.label} | ${row.format(median(bare))} | ${row.format(median(ours))} | ${ratio.toFixed(2)}× | ${row.target} | ${rounds} |`);
  }
}

/** CPU seconds the process has used (all threads). */
const cpuSeconds = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
};

/**
 * What metrics cost on fan-out: sessiond with METRICS_ENABLED on and off, rounds alternating the order; delivered
 * msgs/s and the server's CPU per delivered message (which other processes on a busy machine inflate less).
 */
async function metricsCost(): Promise<void> {
  const runs: Record<"on" | "off", Array<{ rate: number; cpuNs: number }>> = { on: [], off: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const side of (round % 2 === 0 ? ["on", "off"] : ["off", "on"]) as Array<"on" | "off">) {
      const t = await startSessiond({ METRICS_ENABLED: side === "on" ? "true" : "false" });
      try {
        const cpu0 = cpuSeconds(t.pid);
        const r = await fanout(t, { session: "fan", subscribers: 200, publishers: 4, inFlight: 64, users: true }, TABLE_GENERATORS);
        // Delivered during the window only; the CPU spans the whole run, so this is an upper bound per message.
        runs[side].push({ rate: r.deliveredPerSec, cpuNs: ((cpuSeconds(t.pid) - cpu0) * 1e9) / (r.deliveredPerSec * SECONDS) });
      } finally {
        t.stop();
        await t.exited;
        await Bun.sleep(300);
      }
    }
  }
  const m = (side: "on" | "off", k: "rate" | "cpuNs") => median(runs[side].map((r) => r[k]));
  const each = (k: "rate" | "cpuNs", fmt: (n: number) => string) => runs.on.map((r, i) => `${fmt(runs.off[i]![k])} / ${fmt(r[k])}`).join("; ");
  console.log(`
Metrics on fan-out 1 × 200 (METRICS_ENABLED; medians of ${ROUNDS} rounds)
`);
  console.log("| figure | metrics off | metrics on | cost | target | each round: off / on |");
  console.log("| --- | ---: | ---: | ---: | --- | --- |");
  console.log(`| delivered msgs/s | ${f0(m("off", "rate"))} | ${f0(m("on", "rate"))} | ${((1 - m("on", "rate") / m("off", "rate")) * 100).toFixed(1)}% | < 5 % | ${each("rate", f0)} |`);
  console.log(`| server CPU per delivered message (ns) | ${f0(m("off", "cpuNs"))} | ${f0(m("on", "cpuNs"))} | ${((m("on", "cpuNs") / m("off", "cpuNs") - 1) * 100).toFixed(1)}% | < 5 % | ${each("cpuNs", f0)} |`);
}

/** BENCH_ONLY: comma-separated scenario names (fanout, fixed, pairs, storm, memory, join, width, metrics); unset: all. */
export async function runTables(): Promise<void> {
  const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(",").flatMap((n) => (n === "width" ? WIDTHS.map((w) => `width-${w}`) : [n]))) : null;
  const loads = await Bun.file("/proc/loadavg").text().catch(() => "?");
  console.log(
    `bench: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), Bun ${Bun.version}, ${SECONDS} s windows, ${ROUNDS} rounds, ` +
      `${TABLE_GENERATORS} generator processes, servers pinned: ${hasTaskset}, load average at start: ${loads.split(" ").slice(0, 3).join(" ")}`,
  );
  await table(`Main table (medians of ${ROUNDS} rounds)`, MAIN, MAIN_ROWS, only);
  await table(`Fan-out width (paced by delivery; medians of ${ROUNDS} rounds)`, WIDTH, WIDTH_ROWS, only);
  if (only === null || only.has("metrics")) await metricsCost();
}
