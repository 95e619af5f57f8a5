// Shared by the WebSocket benchmarks: start sessiond or the bare Bun.serve baseline as a child process on a free
// port, pinned to core 0 while the load generator runs on core 1 (where taskset exists).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..");
export const SECRET = "bench-secret-0123456789abcdef0123456789abcdef";
export const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
/** Limits raised so that the benchmark measures the server, not its protection. */
export const SERVER_ENV = { RATE_LIMIT_MESSAGES_PER_MINUTE: "1000000", RATE_LIMIT_CONNECTIONS_PER_MINUTE: "1000000", MAX_CONNECTIONS_PER_USER: "100000", MAX_CONNECTIONS: "100000" };
export const hasTaskset = Bun.spawnSync(["sh", "-c", "command -v taskset"]).exitCode === 0;
if (hasTaskset) Bun.spawnSync(["taskset", "-cp", "1", String(process.pid)]);

export interface Target {
  name: string;
  url: string;
  /** Every node's URL where there are several: the load generator spreads connections over them, round robin. */
  urls?: string[];
  pid: number;
  /** The data directory (removed by stop()). */
  dir: string;
  stop(): void;
  /** Resolves with the exit code once the process has exited (after stop(), or a crash). */
  exited: Promise<number>;
}

export async function start(name: string, cmd: string[], env: Record<string, string> = {}, dataDir?: string): Promise<Target> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), "sessiond-bench-"));
  const proc = Bun.spawn(hasTaskset ? ["taskset", "-c", "0", ...cmd] : cmd, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", DATA_DIR: dir, PORT: "0", HOST: "127.0.0.1", JWT_SECRET: SECRET, LOG_LEVEL: "info", ...env },
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = proc.stdout.getReader();
  let text = "";
  let port = 0;
  while (!port) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${name} did not start`);
    text += new TextDecoder().decode(value);
    const m = /"port":(\d+)/.exec(text);
    if (m) port = Number(m[1]);
  }
  (async () => { while (!(await reader.read()).done); })();
  return {
    name,
    url: `ws://127.0.0.1:${port}/ws`,
    pid: proc.pid,
    dir,
    exited: proc.exited,
    stop: () => {
      proc.kill("SIGTERM");
      // A data directory the caller brought is the caller's; the temporary one goes once the process is gone.
      if (!dataDir) void proc.exited.then(() => rmSync(dir, { recursive: true, force: true }));
    },
  };
}

export const startBare = () => start("bare", [process.execPath, join(ROOT, "bench", "bare-server.ts")]);
/**
 * sessiond with the benchmark's limits; `bunFlags` go before the script (e.g. --cpu-prof-md), `dataDir` reuses a
 * prepared database (kept after stop()). BENCH_SERVER_FLAGS adds flags to every start (e.g. "--cpu-prof-md").
 */
export const startSessiond = (env: Record<string, string> = {}, { bunFlags = [] as string[], dataDir = undefined as string | undefined } = {}) =>
  start(
    "sessiond",
    [process.execPath, ...(process.env.BENCH_SERVER_FLAGS?.split(" ").filter(Boolean) ?? []), ...bunFlags, join(ROOT, "src", "main.ts"), "serve"],
    { ...SERVER_ENV, ...env },
    dataDir,
  );
