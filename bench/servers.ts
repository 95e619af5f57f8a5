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
  pid: number;
  stop(): void;
}

export async function start(name: string, cmd: string[], env: Record<string, string> = {}): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), "sessiond-bench-"));
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
  return { name, url: `ws://127.0.0.1:${port}/ws`, pid: proc.pid, stop: () => { proc.kill("SIGTERM"); rmSync(dir, { recursive: true, force: true }); } };
}

export const startBare = () => start("bare", [process.execPath, join(ROOT, "bench", "bare-server.ts")]);
export const startSessiond = (env: Record<string, string> = {}) => start("sessiond", [process.execPath, join(ROOT, "src", "main.ts"), "serve"], { ...SERVER_ENV, ...env });
