// The `postgres` variant of the WebSocket benchmark (`BENCH_ONLY=postgres bun run bench`, `bun run bench:postgres`):
// pairs and fan-out against the bare Bun.serve baseline, the SQLite single node (the default), sessiond on
// PostgreSQL + Redis as one node, and as two nodes with the load split across them (a pair's two members on
// different nodes; fan-out subscribers alternating between the nodes, publishers on both), all in one run, rounds
// alternating the order. Starts its own PostgreSQL (synchronous_commit=on, fsync on) and Redis; each PostgreSQL
// run gets a fresh database and an empty Redis. Every run waits for delivery to finish and counts what arrived
// against what was acknowledged, so the two-node rows also show that nothing crossing nodes was lost.
//
// Where taskset exists, the engines run on the servers' core (0) with sessiond, the load generators on core 1:
// every row spends one core on the server side, so server CPU per acknowledged message (sessiond, PostgreSQL and
// Redis together, from /proc) compares what a message costs. Two nodes on that one core cannot show more
// throughput than one; BENCH_ENGINE_CORES (e.g. "0,1") places the engines elsewhere.
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { SQL } from "bun";
import Redis from "ioredis";
import { childrenOf, startPostgres, type PostgresEngine } from "../test/engines/postgres.ts";
import { startRedis, type RedisEngine } from "../test/engines/redis.ts";
import { f0, f2, fanout, median, pairs } from "./load.ts";
import { hasTaskset, SECONDS, startBare, startSessiond, type Target } from "./servers.ts";
import { TABLE_GENERATORS } from "./table.ts";

const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
/**
 * Every sessiond here runs without analysis: its worker thread would add CPU at a rate set by its budget rather
 * than per message, and store results (in PostgreSQL too), so the rows would compare analysis, not storage and
 * broker. The analysis rows of `bun run bench` measure it. BENCH_POSTGRES_ENV (JSON) adds or overrides settings.
 */
const NODE_ENV: Record<string, string> = { ANALYSIS_DEFAULT: "off", ...JSON.parse(process.env.BENCH_POSTGRES_ENV ?? "{}") };
const ENGINE_CORES = process.env.BENCH_ENGINE_CORES ?? "0";

type Side = "bare" | "sqlite" | "pg1" | "pg2";
const SIDES: Side[] = ["bare", "sqlite", "pg1", "pg2"];
const LABEL: Record<Side, string> = {
  bare: "bare Bun.serve",
  sqlite: "SQLite, 1 node (default)",
  pg1: "PostgreSQL + Redis, 1 node",
  pg2: "PostgreSQL + Redis, 2 nodes",
};

interface Figures {
  acked: number;
  delivered: number;
  p50: number;
  p99: number;
  /** Server-side CPU (every server process, engines included) per message acknowledged over the whole run, µs. */
  cpuUs: number;
  /** Of it: the sessiond processes, PostgreSQL, Redis. */
  nodeUs: number;
  pgUs: number;
  redisUs: number;
  received: number;
  expected: number;
}

/** utime + stime of a process (all its threads), plus its reaped children's when `reaped`, in seconds. */
export function cpuOf(pid: number, reaped = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const own = Number(f[11]) + Number(f[12]);
    return (reaped ? own + Number(f[13]) + Number(f[14]) : own) / 100;
  } catch {
    return 0; // exited meanwhile
  }
}

interface Engines {
  pg: PostgresEngine;
  redis: RedisEngine;
  admin: SQL;
  redisClient: Redis;
  postmaster: number;
  redisPid: number;
  /** CPU seconds of PostgreSQL: the postmaster, its backends, and those that exited. */
  pgCpu(): number;
  redisCpu(): number;
  about: string;
  stop(): Promise<void>;
}

/** Starts PostgreSQL and Redis and, where taskset exists, pins them (and PostgreSQL's future backends) to ENGINE_CORES. */
async function startEngines(): Promise<Engines> {
  const [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
  const admin = new SQL({ url: pg.url, max: 1 });
  const redisClient = new Redis(redis.url, { lazyConnect: false, maxRetriesPerRequest: 3 });
  // A backend's parent is the postmaster; backends forked later inherit its CPU affinity.
  const [{ pid: backend }] = await admin`SELECT pg_backend_pid() AS pid`;
  const stat = readFileSync(`/proc/${backend}/stat`, "utf8");
  const postmaster = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  const redisPid = Number(/process_id:(\d+)/.exec(await redisClient.info("server"))![1]);
  const redisVersion = /redis_version:([^\r\n]+)/.exec(await redisClient.info("server"))![1];
  if (hasTaskset) for (const pid of [postmaster, ...childrenOf(postmaster), redisPid]) Bun.spawnSync(["taskset", "-a", "-cp", ENGINE_CORES, String(pid)], { stdout: "ignore" });
  const show = async (name: string) => String((await admin.unsafe(`SHOW ${name}`))[0][name]);
  const [{ version }] = await admin`SELECT version()`;
  const about =
    `${String(version).split(" on ")[0]} (synchronous_commit=${await show("synchronous_commit")}, fsync=${await show("fsync")}), ` +
    `Redis ${redisVersion}, engines on core${ENGINE_CORES.includes(",") ? "s" : ""} ${hasTaskset ? ENGINE_CORES : "(not pinned)"}`;
  return {
    pg,
    redis,
    admin,
    redisClient,
    postmaster,
    redisPid,
    pgCpu: () => cpuOf(postmaster, true) + childrenOf(postmaster).reduce((n, p) => n + cpuOf(p), 0),
    redisCpu: () => cpuOf(redisPid),
    about,
    async stop() {
      redisClient.disconnect();
      await admin.close();
      await redis.stop();
      await pg.stop();
    },
  };
}

let databases = 0;

/**
 * `nodes` sessiond nodes on a fresh database of the engines' PostgreSQL and the (emptied) Redis; the Target's `urls`
 * name every node, `pids` every node process. Stopping it stops the nodes; `dispose` then drops the database.
 */
async function startPgNodes(e: Engines, nodes: 1 | 2): Promise<{ t: Target; pids: number[]; dispose(): Promise<void> }> {
  const db = `bench_${++databases}`;
  await e.admin.unsafe(`CREATE DATABASE ${db}`);
  await e.redisClient.flushall();
  const url = new URL(e.pg.url);
  url.pathname = `/${db}`;
  const env = { ...NODE_ENV, DATABASE_URL: url.toString(), REDIS_URL: e.redis.url, CLUSTER: "true" };
  // One after the other: the first applies the migrations, the second finds them applied.
  const started: Target[] = [];
  for (let i = 0; i < nodes; i++) started.push(await startSessiond(env));
  const t: Target = {
    name: `pg${nodes}`,
    url: started[0]!.url,
    urls: started.map((n) => n.url),
    pid: started[0]!.pid,
    dir: started[0]!.dir,
    stop: () => started.forEach((n) => n.stop()),
    exited: Promise.all(started.map((n) => n.exited)).then((codes) => codes.find((c) => c !== 0) ?? 0),
  };
  return {
    t,
    pids: started.map((n) => n.pid),
    async dispose() {
      await e.admin.unsafe(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      // The next run starts without this one's dirty pages waiting for a checkpoint.
      await e.admin.unsafe("CHECKPOINT");
    },
  };
}

interface Scenario {
  name: "pairs" | "fanout";
  title: string;
  /** What the rate column and the ratios are read from. */
  rate: "acked" | "delivered";
  run(t: Target): Promise<Omit<Figures, "cpuUs" | "nodeUs" | "pgUs" | "redisUs"> & { published: number }>;
}

const SCENARIOS: Scenario[] = [
  {
    name: "pairs",
    title: "pairs, 500 sessions × 2 members, 4 in flight each (two nodes: each session's members on different nodes)",
    rate: "acked",
    run: async (t) => {
      const r = await pairs(t, { sessions: 500, inFlight: 4, users: true, verify: true }, TABLE_GENERATORS);
      return { acked: r.ackedPerSec, delivered: r.deliveredPerSec, p50: r.p50, p99: r.p99, published: r.published, received: r.expected - r.missing, expected: r.expected };
    },
  },
  {
    name: "fanout",
    title: "fan-out, 1 session × 200 subscribers, 4 publishers × 64 in flight (two nodes: subscribers and publishers alternating between them)",
    rate: "delivered",
    run: async (t) => {
      const r = await fanout(t, { session: "fan", subscribers: 200, publishers: 4, inFlight: 64, users: true, verify: true }, TABLE_GENERATORS);
      return { acked: r.ackedPerSec, delivered: r.deliveredPerSec, p50: r.p50, p99: r.p99, published: r.published, received: r.received, expected: r.expected };
    },
  },
];

/** One run of a scenario against one side: the figures, and the server-side CPU per acknowledged message. */
async function runSide(e: Engines, side: Side, s: Scenario): Promise<Figures> {
  const pg = side === "pg1" || side === "pg2" ? await startPgNodes(e, side === "pg1" ? 1 : 2) : null;
  const t = pg?.t ?? (side === "bare" ? await startBare() : await startSessiond(NODE_ENV));
  const pids = pg?.pids ?? [t.pid];
  const cpu = () => [pids.reduce((n, p) => n + cpuOf(p), 0), pg ? e.pgCpu() : 0, pg ? e.redisCpu() : 0] as const;
  try {
    const before = cpu();
    const r = await s.run(t);
    const after = cpu();
    const [nodeUs, pgUs, redisUs] = after.map((x, i) => ((x - before[i]!) * 1e6) / Math.max(1, r.published)) as [number, number, number];
    return { ...r, cpuUs: nodeUs + pgUs + redisUs, nodeUs, pgUs, redisUs };
  } finally {
    t.stop();
    await t.exited;
    await pg?.dispose();
    await Bun.sleep(300);
  }
}

const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

/** Runs both scenarios ROUNDS times on every side, alternating the order, and prints one table per scenario. */
export async function runPostgres(): Promise<void> {
  const e = await startEngines();
  try {
    const loads = await Bun.file("/proc/loadavg").text().catch(() => "?");
    console.log(
      `\nPostgreSQL + Redis (BENCH_ONLY=postgres): ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), Bun ${Bun.version}, ${e.about}, ` +
        `sessiond on core 0 with ${JSON.stringify(NODE_ENV)}, ${TABLE_GENERATORS} generator processes on core 1 (pinned: ${hasTaskset}), ${SECONDS} s windows, ${ROUNDS} rounds, ` +
        `load average at start: ${loads.split(" ").slice(0, 3).join(" ")}`,
    );
    for (const s of SCENARIOS) {
      const runs: Record<Side, Figures[]> = { bare: [], sqlite: [], pg1: [], pg2: [] };
      for (let round = 0; round < ROUNDS; round++) {
        for (const side of round % 2 === 0 ? SIDES : [...SIDES].reverse()) runs[side].push(await runSide(e, side, s));
        process.stderr.write(`  postgres ${s.name} round ${round + 1}/${ROUNDS} done\n`);
      }
      const m = (side: Side, k: keyof Figures) => median(runs[side].map((r) => r[k]));
      const rateOf = (side: Side) => m(side, s.rate);
      const latency = s.name === "pairs" ? "ack" : "publish→deliver";
      const per = s.name === "pairs" ? "acked message" : "published message (200 deliveries)";
      console.log(`\n${s.title}; medians of ${ROUNDS} rounds\n`);
      console.log(`| server | acks/s | delivered/s | ${latency} p50 / p99 (ms) | server CPU per ${per} (µs) | of it sessiond / PostgreSQL / Redis | ${s.rate}/s vs bare | vs SQLite | delivered / expected, all rounds | each round ${s.rate}/s |`);
      console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |");
      for (const side of SIDES) {
        const received = runs[side].reduce((n, r) => n + r.received, 0);
        const expected = runs[side].reduce((n, r) => n + r.expected, 0);
        const complete = received === expected ? `all ${f0(expected)}` : `**${f0(received)} of ${f0(expected)}**`;
        console.log(
          `| ${LABEL[side]} | ${f0(m(side, "acked"))} | ${f0(m(side, "delivered"))} | ${f2(m(side, "p50"))} / ${f2(m(side, "p99"))} | ${f2(m(side, "cpuUs"))} | ` +
            `${side.startsWith("pg") ? `${f0(m(side, "nodeUs"))} / ${f0(m(side, "pgUs"))} / ${f0(m(side, "redisUs"))}` : "–"} | ` +
            `${ratio(rateOf(side), rateOf("bare"))} | ${ratio(rateOf(side), rateOf("sqlite"))} | ${complete} | ${runs[side].map((r) => f0(r[s.rate])).join(", ")} |`,
        );
      }
      if (s.name === "pairs") {
        const pg1 = m("pg1", "acked");
        console.log(`\nPostgreSQL store, one node: ${f0(pg1)} durable acks/s (target ≥ 10,000: ${pg1 >= 10_000 ? "met" : "not met"})`);
      }
    }
  } finally {
    await e.stop();
  }
}

if (import.meta.main) await runPostgres();
