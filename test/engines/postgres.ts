// A real PostgreSQL server for tests: Debian's binaries, a temporary cluster on a free port, one fresh database,
// stopped after the test (and when the process exits). PostgreSQL refuses to run as root: as root every command runs
// as the `postgres` user through runuser.
import { spawnSync } from "bun";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";

export interface PostgresEngine {
  /** postgres://postgres@127.0.0.1:PORT/DB (trust authentication, no password). */
  url: string;
  port: number;
  /** Stops the server (fast shutdown) and removes its folder. */
  stop(): Promise<void>;
  /** Stops and starts the server again on the same port and data (an outage, for reconnect tests). */
  restart(): Promise<void>;
  /** SIGKILLs the postmaster (a crash); restart() brings it back. */
  kill(): void;
}

/** The newest /usr/lib/postgresql/<major>/bin that has initdb and pg_ctl. */
function binDir(): string {
  const root = "/usr/lib/postgresql";
  const majors = existsSync(root) ? readdirSync(root).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const m of majors) {
    const dir = join(root, m, "bin");
    if (existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl"))) return dir;
  }
  throw new Error("PostgreSQL is not installed (apt-get install postgresql)");
}

/** The direct children of a process (the server's backends and workers), from /proc. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

const asRoot = userInfo().uid === 0;
const live = new Set<{ dataDir: string; dir: string; bin: string }>();

/** Runs a PostgreSQL tool, as `postgres` when we are root; throws with its output when it fails. */
function run(bin: string, tool: string, args: string[], allowFail = false): { ok: boolean; out: string } {
  const cmd = asRoot ? ["runuser", "-u", "postgres", "--", join(bin, tool), ...args] : [join(bin, tool), ...args];
  const r = spawnSync({ cmd, stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C", LC_ALL: "C" } });
  const out = `${r.stdout.toString()}${r.stderr.toString()}`;
  if (!r.success && !allowFail) throw new Error(`${tool} failed (exit ${r.exitCode}): ${out.trim()}`);
  return { ok: r.success, out };
}

function stopAll(): void {
  for (const e of live) {
    run(e.bin, "pg_ctl", ["-D", e.dataDir, "-m", "immediate", "-w", "stop"], true);
    rmSync(e.dir, { recursive: true, force: true });
  }
  live.clear();
}
// pg_ctl daemonises the server, so it outlives a killed test process unless stopped here.
process.on("exit", stopAll);
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  process.once(signal, () => {
    stopAll();
    process.exit(code);
  });
}

/** Starts a new cluster on a free port with one fresh database. About a second (initdb dominates). */
export async function startPostgres(): Promise<PostgresEngine> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), "sessiond-pg-"));
  const dataDir = join(dir, "data");
  const sockDir = join(dir, "sock");
  // mkdtemp is 0700 and owned by root: the postgres user must be able to enter it.
  chmodSync(dir, 0o755);
  if (asRoot) {
    const pw = spawnSync({ cmd: ["id", "-u", "postgres"] });
    const gw = spawnSync({ cmd: ["id", "-g", "postgres"] });
    const uid = Number(pw.stdout.toString().trim());
    const gid = Number(gw.stdout.toString().trim());
    if (!pw.success || !Number.isInteger(uid)) throw new Error("no postgres user on this machine (apt-get install postgresql creates it)");
    chownSync(dir, uid, gid);
  }
  run(bin, "initdb", ["-D", dataDir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]);
  const { mkdirSync } = await import("node:fs");
  mkdirSync(sockDir);
  if (asRoot) {
    const uid = Number(spawnSync({ cmd: ["id", "-u", "postgres"] }).stdout.toString().trim());
    const gid = Number(spawnSync({ cmd: ["id", "-g", "postgres"] }).stdout.toString().trim());
    chownSync(sockDir, uid, gid);
  }
  const entry = { dataDir, dir, bin };
  live.add(entry);
  let port = 0;
  const start = () => {
    run(bin, "pg_ctl", ["-D", dataDir, "-l", join(dir, "server.log"), "-o", `-p ${port} -k ${sockDir} -c listen_addresses=127.0.0.1 -c max_connections=400`, "-w", "-t", "30", "start"]);
  };
  // A port free a moment ago may be taken by the time the server binds: try a few.
  for (let attempt = 0; ; attempt++) {
    port = freePort();
    try {
      start();
      break;
    } catch (e) {
      if (attempt >= 4) throw e;
    }
  }
  const db = `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  run(bin, "createdb", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", db]);
  const stopServer = () => run(bin, "pg_ctl", ["-D", dataDir, "-m", "fast", "-w", "-t", "30", "stop"], true);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/${db}`,
    port,
    async stop() {
      if (!live.has(entry)) return;
      live.delete(entry);
      stopServer();
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      stopServer();
      start();
    },
    kill() {
      const pid = run(bin, "pg_ctl", ["-D", dataDir, "status"], true).out.match(/PID: (\d+)/)?.[1];
      if (pid === undefined) return;
      // The whole server dies at once, as on a crashed machine: a killed postmaster alone leaves its backends
      // serving the connections they hold. Returns once none of them is left.
      const tree = [Number(pid), ...childrenOf(Number(pid))];
      for (const p of tree) {
        try {
          process.kill(p, "SIGKILL");
        } catch {
          // already gone
        }
      }
      const until = Date.now() + 5000;
      while (tree.some((p) => existsSync(`/proc/${p}`)) && Date.now() < until) Bun.sleepSync(10);
    },
  };
}
