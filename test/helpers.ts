// Shared test set-up: temp data dirs, a real server process on a free port, tokens, WebSocket and HTTP clients.
import { Database } from "bun:sqlite";
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { mintToken } from "../src/auth/tokens.ts";
import { connect, type ConnectOptions, type SessiondClient } from "../src/client/index.ts";

export const ROOT = resolve(import.meta.dir, "..");
export const MAIN = join(ROOT, "src", "main.ts");
export const TEST_SECRET = "test-secret-0123456789abcdef0123456789abcdef";

const dirs: string[] = [];
export function tempDir(prefix = "sessiond-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}
process.on("exit", () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

export function token(userId: string, opts: { admin?: boolean; ttlSeconds?: number; sessions?: string[]; secret?: string; nowMs?: number } = {}): Promise<string> {
  return mintToken(opts.secret ?? TEST_SECRET, { userId, admin: opts.admin, ttlSeconds: opts.ttlSeconds ?? 3600, sessions: opts.sessions, nowMs: opts.nowMs });
}

export interface ServerProcess {
  port: number;
  http: string;
  ws: string;
  dataDir: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Every stdout line so far. */
  logs: string[];
  stderr(): Promise<string>;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
  exited: Promise<number>;
}

export interface StartOptions {
  env?: Record<string, string>;
  dataDir?: string;
  /** The command to run instead of `bun src/main.ts serve` (e.g. the compiled binary). */
  cmd?: string[];
  cwd?: string;
  /** Milliseconds to wait for the start line. */
  timeoutMs?: number;
}

/** This run's servers are two-node clusters (the second pass of `npm test`); see startServer. */
export const ON_CLUSTER = process.env.SESSIOND_TEST_TOPOLOGY === "cluster";

/**
 * Starts a real server process on a free port and waits for its `server.started` line. With
 * SESSIOND_TEST_TOPOLOGY=cluster (the second pass of `npm test`), a server is a two-node cluster instead: PostgreSQL,
 * Redis and two nodes behind a round-robin balancer, reached at the balancer's address, so the same test runs
 * unchanged against several nodes.
 */
export async function startServer(opts: StartOptions = {}): Promise<ServerProcess> {
  if (ON_CLUSTER && opts.cmd === undefined && opts.env?.DATABASE_URL === undefined) return startClusterServer(opts);
  return startProcess(opts);
}

/** A two-node cluster seen as one server: its address is the balancer's; the first node stands for the process. */
async function startClusterServer(opts: StartOptions): Promise<ServerProcess> {
  const { startCluster } = await import("./cluster/setup.ts");
  const cluster = await startCluster({ nodes: 2, env: opts.env });
  const first = cluster.nodes[0]!;
  return {
    port: cluster.balancer.port,
    http: cluster.http,
    ws: cluster.ws,
    dataDir: first.dataDir,
    proc: first.proc,
    logs: first.logs,
    stderr: first.stderr,
    async stop() {
      await cluster.stop();
      return first.exited;
    },
    exited: first.exited,
  };
}

async function startProcess(opts: StartOptions): Promise<ServerProcess> {
  const dataDir = opts.dataDir ?? tempDir();
  const proc = Bun.spawn(opts.cmd ?? [process.execPath, MAIN, "serve"], {
    cwd: opts.cwd ?? ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      DATA_DIR: dataDir,
      PORT: "0",
      HOST: "127.0.0.1",
      JWT_SECRET: TEST_SECRET,
      LOG_LEVEL: "info",
      SESSION_SWEEP_INTERVAL_SECONDS: "1",
      ...opts.env,
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const logs: string[] = [];
  let port = 0;
  const started = new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start; logs:\n${logs.join("\n")}`)), opts.timeoutMs ?? 15_000);
    (async () => {
      const decoder = new TextDecoder();
      let buffer = "";
      for await (const chunk of proc.stdout) {
        buffer += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf("\n")) !== -1) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          logs.push(line);
          if (port === 0 && line.includes('"server.started"')) {
            port = JSON.parse(line).port;
            clearTimeout(timer);
            resolvePort(port);
          }
        }
      }
      clearTimeout(timer);
      if (port === 0) reject(new Error(`server exited before starting; logs:\n${logs.join("\n")}\n${await new Response(proc.stderr).text()}`));
    })().catch(reject);
  });
  await started;
  return {
    port,
    http: `http://127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}/ws`,
    dataDir,
    proc,
    logs,
    stderr: () => new Response(proc.stderr).text(),
    async stop(signal = "SIGTERM") {
      proc.kill(signal);
      return proc.exited;
    },
    exited: proc.exited,
  };
}

export type Frame = Record<string, any>;

/** A protocol v1 client over a real WebSocket that records every frame it receives. */
export class WsClient {
  readonly frames: Frame[] = [];
  private waiters: Array<{ match: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  private nextId = 1;
  readonly closed: Promise<{ code: number; reason: string }>;
  private constructor(readonly socket: WebSocket) {
    socket.addEventListener("message", (e) => {
      const frame = JSON.parse(String(e.data)) as Frame;
      this.frames.push(frame);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(frame)) return true;
        w.resolve(frame);
        return false;
      });
    });
    this.closed = new Promise((resolve) => socket.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason })));
  }

  static async connect(url: string, opts: { token?: string; headers?: Record<string, string>; query?: Record<string, string> } = {}): Promise<WsClient> {
    const u = new URL(url);
    for (const [k, v] of Object.entries(opts.query ?? {})) u.searchParams.set(k, v);
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    const socket = new WebSocket(u.toString(), { headers } as unknown as string[]);
    const client = new WsClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("error", () => reject(new Error("websocket failed to open")), { once: true });
    });
    return client;
  }

  send(frame: Frame | string): void {
    this.socket.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Sends a frame with a fresh id and resolves with the reply that carries it as `ref`. */
  request(frame: Frame, timeoutMs = 10_000): Promise<Frame> {
    const id = this.nextId++;
    const reply = this.waitFor((f) => f.ref === id, timeoutMs);
    this.send({ ...frame, id });
    return reply;
  }

  /** Resolves with the first frame (already received or coming) that matches. */
  waitFor(match: (f: Frame) => boolean, timeoutMs = 10_000, fromIndex = 0): Promise<Frame> {
    const seen = this.frames.slice(fromIndex).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for a frame; got: ${JSON.stringify(this.frames.slice(-5))}`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  /** Waits until `count` frames match. */
  async waitForCount(match: (f: Frame) => boolean, count: number, timeoutMs = 10_000): Promise<Frame[]> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const got = this.frames.filter(match);
      if (got.length >= count) return got;
      await Bun.sleep(5);
    }
    throw new Error(`expected ${count} frames, got ${this.frames.filter(match).length}`);
  }

  messages(session: string): Frame[] {
    return this.frames.filter((f) => f.type === "message" && f.session === session).map((f) => f.message);
  }

  close(code = 1000): Promise<{ code: number; reason: string }> {
    this.socket.close(code);
    return this.closed;
  }
}

/** One HTTP request with JSON in and out. */
export async function api(
  base: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined && !headers["Content-Type"]) headers["Content-Type"] = "application/json";
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body, headers: res.headers };
}

/**
 * Attempts a WebSocket upgrade with fetch, so a refusal comes back as an ordinary HTTP response to inspect.
 * A successful attempt answers 101 (and the socket is not used).
 */
export async function attemptUpgrade(
  server: ServerProcess,
  opts: { token?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${server.http}/ws`, {
    headers: {
      Upgrade: "websocket",
      Connection: "Upgrade",
      "Sec-WebSocket-Version": "13",
      "Sec-WebSocket-Key": btoa("0123456789abcdef"),
      ...(opts.token && { Authorization: `Bearer ${opts.token}` }),
      ...opts.headers,
    },
  });
  return { status: res.status, body: res.status === 101 ? null : await res.json().catch(() => null), headers: res.headers };
}

/** Polls until `check` returns true. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A TCP port that was free a moment ago, for a server that must come back on the same address after a restart. */
export function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

/** The SDK client for `userId`, with fresh tokens and test-sized backoff. */
export function sdk(server: { http: string }, userId: string, options: Partial<ConnectOptions> = {}): SessiondClient {
  return connect({
    url: server.http,
    getToken: () => token(userId),
    reconnect: { baseMs: 50, capMs: 500 },
    ...options,
  });
}

/** A moderator token (staff: reads every session, receives alerts; cannot post, configure or use admin routes). */
export function moderatorToken(userId: string, opts: { ttlSeconds?: number } = {}): Promise<string> {
  return mintToken(TEST_SECRET, { userId, moderator: true, ttlSeconds: opts.ttlSeconds ?? 3600 });
}

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/** A Server-Sent Events reader over fetch that records every event (comments are skipped). */
export class SseClient {
  readonly events: SseEvent[] = [];
  private constructor(
    readonly response: Response,
    private readonly controller: AbortController,
  ) {}

  static async open(url: string, token?: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const controller = new AbortController();
    const res = await fetch(url, { headers: { ...(token && { Authorization: `Bearer ${token}` }), ...headers }, signal: controller.signal });
    const client = new SseClient(res, controller);
    if (res.ok && res.body) void client.pump(res.body);
    return client;
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf("\n\n")) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const e: SseEvent = { event: "message", data: "" };
          let hasData = false;
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue;
            const colon = line.indexOf(":");
            const field = colon === -1 ? line : line.slice(0, colon);
            const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
            if (field === "event") e.event = value;
            else if (field === "id") e.id = value;
            else if (field === "data") {
              e.data = hasData ? `${e.data}\n${value}` : value;
              hasData = true;
            }
          }
          if (hasData) this.events.push(e);
        }
      }
    } catch {
      // aborted or the server closed the stream
    }
  }

  /** The parsed data of every event of this type. */
  frames(event: string): any[] {
    return this.events.filter((e) => e.event === event).map((e) => JSON.parse(e.data));
  }

  async waitFor(event: string, match: (frame: any) => boolean = () => true, timeoutMs = 10_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = this.frames(event).find(match);
      if (found !== undefined) return found;
      await Bun.sleep(10);
    }
    throw new Error(`timed out waiting for an SSE ${event} event; got: ${JSON.stringify(this.events.slice(-5))}`);
  }

  close(): void {
    this.controller.abort();
  }
}

/**
 * Takes the database's write lock from another connection, as another process would, and holds it until release.
 * Waits up to 5 s for the server's own writes in progress (a checkpoint, an analysis) rather than failing on them.
 */
export function holdWriteLock(dataDir: string): { release(): void } {
  const blocker = new Database(join(dataDir, "sessiond.db"));
  blocker.run("PRAGMA busy_timeout = 5000");
  blocker.run("BEGIN IMMEDIATE");
  return {
    release() {
      blocker.run("ROLLBACK");
      blocker.close();
    },
  };
}
