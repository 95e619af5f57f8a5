// The single-node default against an earlier commit, in one run (`bun run bench:baseline [ref]`): the SQLite
// server of `ref` (BENCH_BASELINE_REF; by default the last commit before the seams for several nodes) and of this
// tree, beside the bare Bun.serve baseline, on the pairs and fan-out loads of the postgres variant. Rounds
// alternate the order; each round's now/before ratio is paired, so drift of a noisy machine cancels within a
// round. Server CPU per acknowledged message (from /proc) is reported too: on a shared 2-core machine it moves
// far less than throughput, so it is the figure the "within 5 %" question is read from first.
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { f0, f2, fanout, median, pairs } from "./load.ts";
import { cpuOf } from "./postgres.ts";
import { hasTaskset, ROOT, SECONDS, SERVER_ENV, start, startBare, type Target } from "./servers.ts";
import { TABLE_GENERATORS } from "./table.ts";

/** The parent of "Seams for several nodes": the single-node server as it was before PostgreSQL and Redis. */
const DEFAULT_REF = "d24f99e";
const REF = process.argv[2] ?? process.env.BENCH_BASELINE_REF ?? DEFAULT_REF;
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 5));
const NODE_ENV = { ...SERVER_ENV, ANALYSIS_DEFAULT: "off" };

/** `ref`'s files in a temporary folder, using this tree's node_modules (its dependencies are a subset). */
function checkout(ref: string): string {
  const dir = mkdtempSync(join(tmpdir(), "sessiond-baseline-"));
  const archive = Bun.spawnSync(["sh", "-c", `git archive --format=tar "$REF" | tar -x -C "$DIR"`], { cwd: ROOT, env: { ...process.env, REF: ref, DIR: dir } });
  if (archive.exitCode !== 0) throw new Error(`cannot check out ${ref}: ${archive.stderr.toString().trim()}`);
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

type Side = "bare" | "before" | "now";
const SIDES: Side[] = ["bare", "before", "now"];

interface Figures {
  rate: number;
  p50: number;
  p99: number;
  /** sessiond's CPU per published message, µs. */
  cpuUs: number;
  received: number;
  expected: number;
}

interface Scenario {
  name: string;
  unit: "acks/s" | "delivered/s";
  run(t: Target): Promise<Omit<Figures, "cpuUs"> & { published: number }>;
}

const SCENARIOS: Scenario[] = [
  {
    name: "pairs, 500 sessions × 2 members, 4 in flight each",
    unit: "acks/s",
    run: async (t) => {
      const r = await pairs(t, { sessions: 500, inFlight: 4, users: true, verify: true }, TABLE_GENERATORS);
      return { rate: r.ackedPerSec, p50: r.p50, p99: r.p99, published: r.published, received: r.expected - r.missing, expected: r.expected };
    },
  },
  {
    name: "fan-out, 1 session × 200 subscribers, 4 publishers × 64 in flight",
    unit: "delivered/s",
    run: async (t) => {
      const r = await fanout(t, { session: "fan", subscribers: 200, publishers: 4, inFlight: 64, users: true, verify: true }, TABLE_GENERATORS);
      return { rate: r.deliveredPerSec, p50: r.p50, p99: r.p99, published: r.published, received: r.received, expected: r.expected };
    },
  },
];

async function runSide(side: Side, before: string, s: Scenario): Promise<Figures> {
  const t =
    side === "bare"
      ? await startBare()
      : await start(side, [process.execPath, join(side === "now" ? ROOT : before, "src", "main.ts"), "serve"], NODE_ENV);
  try {
    const cpu0 = cpuOf(t.pid);
    const r = await s.run(t);
    return { ...r, cpuUs: ((cpuOf(t.pid) - cpu0) * 1e6) / Math.max(1, r.published) };
  } finally {
    t.stop();
    await t.exited;
    await Bun.sleep(300);
  }
}

const pctChange = (now: number, before: number) => `${now >= before ? "+" : ""}${(((now - before) / before) * 100).toFixed(1)} %`;

const before = checkout(REF);
try {
  const sha = Bun.spawnSync(["git", "rev-parse", "--short", REF], { cwd: ROOT }).stdout.toString().trim();
  const head = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: ROOT }).stdout.toString().trim();
  const dirty = Bun.spawnSync(["git", "status", "--porcelain", "src"], { cwd: ROOT }).stdout.toString().trim() !== "";
  const loads = (await Bun.file("/proc/loadavg").text().catch(() => "?")).split(" ").slice(0, 3).join(" ");
  console.log(
    `\nSQLite default, before (${sha}) and now (${head}${dirty ? " with uncommitted changes" : ""}): ${cpus().length} cores, Bun ${Bun.version}, ` +
      `servers on core 0, ${TABLE_GENERATORS} generator processes on core 1 (pinned: ${hasTaskset}), ${SECONDS} s windows, ${ROUNDS} rounds, load average at start: ${loads}`,
  );
  for (const s of SCENARIOS) {
    const runs: Record<Side, Figures[]> = { bare: [], before: [], now: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const side of round % 2 === 0 ? SIDES : [...SIDES].reverse()) runs[side].push(await runSide(side, before, s));
      process.stderr.write(`  baseline ${s.name.split(",")[0]} round ${round + 1}/${ROUNDS} done\n`);
    }
    const m = (side: Side, k: keyof Figures) => median(runs[side].map((r) => r[k]));
    const paired = (k: "rate" | "cpuUs") => median(runs.now.map((r, i) => r[k] / runs.before[i]![k]));
    console.log(`\n${s.name}; medians of ${ROUNDS} rounds\n`);
    console.log(`| server | ${s.unit} | p50 / p99 (ms) | sessiond CPU per published message (µs) | vs bare | delivered / expected | each round |`);
    console.log("| --- | ---: | ---: | ---: | ---: | --- | --- |");
    for (const side of SIDES) {
      const received = runs[side].reduce((n, r) => n + r.received, 0);
      const expected = runs[side].reduce((n, r) => n + r.expected, 0);
      console.log(
        `| ${side === "bare" ? "bare Bun.serve" : `sessiond ${side} (SQLite)`} | ${f0(m(side, "rate"))} | ${f2(m(side, "p50"))} / ${f2(m(side, "p99"))} | ` +
          `${side === "bare" ? "–" : f2(m(side, "cpuUs"))} | ${(m(side, "rate") / m("bare", "rate")).toFixed(2)}× | ` +
          `${received === expected ? `all ${f0(expected)}` : `**${f0(received)} of ${f0(expected)}**`} | ${runs[side].map((r) => f0(r.rate)).join(", ")} |`,
      );
    }
    console.log(
      `\nnow vs before, median of the rounds' paired ratios: ${s.unit} ${pctChange(paired("rate"), 1)}, CPU per message ${pctChange(paired("cpuUs"), 1)}; ` +
        `medians: ${s.unit} ${pctChange(m("now", "rate"), m("before", "rate"))}, CPU ${pctChange(m("now", "cpuUs"), m("before", "cpuUs"))}`,
    );
  }
} finally {
  rmSync(before, { recursive: true, force: true });
}
