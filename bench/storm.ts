// The reconnect storm (`bun run bench:storm`): 5,000 clients, each joined to its own session; the server is
// restarted (SIGTERM, start on the same port and data) while another process writes 20 messages into every session
// right after the restart; every client reconnects at once and recovers with `since`. Reports, per round and as
// medians, how long after the server answered all had rejoined and all had every message, none lost or doubled.
// The bare server runs the same storm without the writer: it keeps nothing, so only its rejoin time compares.
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { clock, f0, median } from "./load.ts";
import { hasTaskset, ROOT, SERVER_ENV, start, type Target } from "./servers.ts";

const CLIENTS = Number(process.env.STORM_CLIENTS ?? 5000);
const PER_SESSION = Number(process.env.STORM_MESSAGES ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const GENERATORS = Math.max(1, Number(process.env.BENCH_GENERATORS ?? 4));

function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

const startServer = (which: "bare" | "sessiond", port: number, dir: string): Promise<Target> =>
  which === "bare"
    ? start("bare", [process.execPath, join(ROOT, "bench", "bare-server.ts")], { PORT: String(port) }, dir)
    : start("sessiond", [process.execPath, join(ROOT, "src", "main.ts"), "serve"], { ...SERVER_ENV, PORT: String(port) }, dir);

interface Round {
  /** From the old process's exit to the first client joined again on the new one. */
  startupMs: number;
  rejoinedMs: number;
  recoveredMs: number;
  writerMs: number;
  lost: number;
  doubled: number;
  wrong: number;
}

async function round(which: "bare" | "sessiond"): Promise<Round> {
  const dir = mkdtempSync(join(tmpdir(), "sessiond-storm-"));
  const port = freePort();
  let server = await startServer(which, port, dir);
  const url = `ws://127.0.0.1:${port}/ws`;
  // Bare keeps no history: after its restart nothing is written, and a client is done once it has rejoined.
  const expect = which === "sessiond" ? PER_SESSION : 0;
  const workers = Array.from({ length: GENERATORS }, (_, g) => {
    const indexes = Array.from({ length: CLIENTS }, (_, i) => i).filter((i) => i % GENERATORS === g);
    let ready!: () => void;
    let done!: (r: any) => void;
    const readyP = new Promise<void>((r) => (ready = r));
    const doneP = new Promise<any>((r) => (done = r));
    const cmd = [process.execPath, join(ROOT, "bench", "storm-worker.ts")];
    const proc = Bun.spawn(hasTaskset ? ["taskset", "-c", "1", ...cmd] : cmd, {
      env: { ...process.env, STORM: JSON.stringify({ url, indexes, expect }) },
      stdout: "inherit",
      stderr: "inherit",
      ipc: (m: any) => (m.type === "ready" ? ready() : m.type === "done" ? done(m) : undefined),
    });
    return { proc, readyP, doneP };
  });
  try {
    await Promise.all(workers.map((w) => w.readyP));
    for (const w of workers) w.proc.send({ type: "restarting" });
    server.stop();
    await server.exited;
    const restartedAt = clock();
    server = await startServer(which, port, dir);
    let writerMs = 0;
    if (expect > 0) {
      const cmd = [process.execPath, join(ROOT, "bench", "storm-writer.ts")];
      const writer = Bun.spawn(hasTaskset ? ["taskset", "-c", "1", ...cmd] : cmd, {
        env: { ...process.env, STORM_WRITER: JSON.stringify({ url, sessions: CLIENTS, perSession: PER_SESSION }) },
        stdout: "pipe",
        stderr: "inherit",
      });
      writerMs = JSON.parse((await new Response(writer.stdout).text()).trim()).ms;
    }
    const results = await Promise.race([
      Promise.all(workers.map((w) => w.doneP)),
      Bun.sleep(120_000).then(() => {
        throw new Error("the storm did not settle within 120 s");
      }),
    ]);
    // The server answered when the first client got back in (its start-up line can trail that on a busy loop).
    const answeredAt = Math.min(...results.map((r) => r.firstRejoinAt));
    return {
      startupMs: answeredAt - restartedAt,
      rejoinedMs: Math.max(...results.map((r) => r.rejoinedAt)) - answeredAt,
      recoveredMs: Math.max(...results.map((r) => r.recoveredAt)) - answeredAt,
      writerMs,
      lost: results.reduce((n, r) => n + r.lost, 0),
      doubled: results.reduce((n, r) => n + r.doubled, 0),
      wrong: results.reduce((n, r) => n + r.wrong, 0),
    };
  } finally {
    for (const w of workers) w.proc.kill();
    server.stop();
    await server.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

const loads = (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
console.log(`reconnect storm: ${cpus().length} cores, ${f0(CLIENTS)} clients over ${GENERATORS} generator processes, ${PER_SESSION} messages per session, ${ROUNDS} rounds, load average at start: ${loads}\n`);
const runs: Record<"bare" | "sessiond", Round[]> = { bare: [], sessiond: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const which of (r % 2 === 0 ? ["bare", "sessiond"] : ["sessiond", "bare"]) as Array<"bare" | "sessiond">) {
    const result = await round(which);
    runs[which].push(result);
    process.stderr.write(`  ${which} round ${r + 1}: ${JSON.stringify(result)}\n`);
  }
}
const m = (which: "bare" | "sessiond", k: keyof Round) => median(runs[which].map((x) => x[k]));
const each = (which: "bare" | "sessiond", k: keyof Round) => runs[which].map((x) => f0(x[k])).join(", ");
console.log("| figure (ms after the restarted server answered its first client) | bare | sessiond | each round: bare; sessiond |");
console.log("| --- | ---: | ---: | --- |");
console.log(`| restart: old process gone → first client joined again (not counted below) | ${f0(m("bare", "startupMs"))} | ${f0(m("sessiond", "startupMs"))} | ${each("bare", "startupMs")}; ${each("sessiond", "startupMs")} |`);
console.log(`| every client reconnected and joined again | ${f0(m("bare", "rejoinedMs"))} | ${f0(m("sessiond", "rejoinedMs"))} | ${each("bare", "rejoinedMs")}; ${each("sessiond", "rejoinedMs")} |`);
console.log(`| every client has all ${PER_SESSION} messages written after the restart (target ≤ 5,000) | – | ${f0(m("sessiond", "recoveredMs"))} | ${each("sessiond", "recoveredMs")} |`);
console.log(`| the writer's ${f0(CLIENTS * PER_SESSION)} messages all acknowledged | – | ${f0(m("sessiond", "writerMs"))} | ${each("sessiond", "writerMs")} |`);
console.log(`| messages lost / doubled / clients with the wrong last seq (all rounds) | – | ${runs.sessiond.reduce((n, x) => n + x.lost, 0)} / ${runs.sessiond.reduce((n, x) => n + x.doubled, 0)} / ${runs.sessiond.reduce((n, x) => n + x.wrong, 0)} | |`);
