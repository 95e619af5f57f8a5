// A real redis-server for tests (Debian's `redis-server` package): a free port, a temporary folder, no persistence,
// stopped by PID when the test ends or the process exits. `restart()` comes back on the same port (outage tests).
import type { Subprocess } from "bun";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, tempDir } from "../helpers.ts";

export interface RedisEngine {
  /** `redis://127.0.0.1:PORT`. */
  url: string;
  port: number;
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Stops it and starts it again on the same port, empty (there is no persistence); resolves once it answers. */
  restart(): Promise<void>;
  /** SIGKILL, without waiting: a crash. */
  kill(): void;
}

const running = new Set<Subprocess>();
process.on("exit", () => {
  for (const proc of running) proc.kill("SIGKILL");
});

/** Starts redis-server on a free port and resolves once it answers PING. */
export async function startRedis(): Promise<RedisEngine> {
  const binary = Bun.which("redis-server");
  if (!binary) throw new Error("redis-server is missing: install Debian's redis-server package (npm test does it as root)");
  const dir = tempDir("sessiond-redis-");
  const port = freePort();
  let proc = await launch(binary, dir, port);

  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill("SIGTERM");
    await proc.exited;
    running.delete(proc);
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    async restart() {
      await stop();
      proc = await launch(binary, dir, port);
    },
    kill() {
      proc.kill("SIGKILL");
      running.delete(proc);
    },
  };
}

async function launch(binary: string, dir: string, port: number): Promise<Subprocess> {
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", join(dir, "redis.log")];
  const deadline = Date.now() + 10_000;
  for (;;) {
    const proc = Bun.spawn([binary, ...args], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    running.add(proc);
    // The port was free a moment ago; right after a stop the kernel may still hold it for a short while.
    while (Date.now() < deadline && proc.exitCode === null) {
      if (await answersPing(port)) return proc;
      await Bun.sleep(20);
    }
    running.delete(proc);
    const why = proc.exitCode !== null ? lastLine(join(dir, "redis.log")) : "";
    proc.kill("SIGKILL");
    if (Date.now() >= deadline) throw new Error(`redis-server did not answer on port ${port} within 10 s${why ? `: ${why}` : ""}`);
    await Bun.sleep(100);
  }
}

/** True when a server on the port answers PING with +PONG. */
async function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const timer = setTimeout(() => finish(false), 500);
    const finish = (ok: boolean, socket?: { end(): void }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket?.end();
      resolve(ok);
    };
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(socket) {
          socket.write("PING\r\n");
        },
        data(socket, data) {
          finish(data.toString().startsWith("+PONG"), socket);
        },
        close() {
          finish(false);
        },
        error() {
          finish(false);
        },
        connectError() {
          finish(false);
        },
      },
    }).catch(() => finish(false));
  });
}

function lastLine(file: string): string {
  if (!existsSync(file)) return "";
  return readFileSync(file, "utf8").trim().split("\n").at(-1) ?? "";
}
