import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { mintToken } from "../../src/auth/tokens.ts";
import { api, eventually, freePort, holdWriteLock, MAIN, ROOT, startServer, tempDir, TEST_SECRET, token, WsClient, type ServerProcess } from "../helpers.ts";

/** A strict reader of the Prometheus text format: every sample line must parse, and TYPE lines must precede samples. */
function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (meta) {
      if (meta[1] === "TYPE") {
        expect(["counter", "gauge", "histogram", "summary", "untyped"]).toContain(meta[3]!);
        typed.add(meta[2]!);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+]+|NaN|\+Inf|-Inf)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    const family = m[1]!.replace(/_(bucket|sum|count)$/, "");
    expect(typed.has(m[1]!) || typed.has(family)).toBe(true);
    samples.set(`${m[1]}${m[2] ?? ""}`, Number(m[3]));
  }
  return samples;
}

let server: ServerProcess;
let sentryEvents: string[] = [];
let sentry: ReturnType<typeof Bun.serve>;
beforeAll(async () => {
  sentry = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      sentryEvents.push(await req.text());
      return Response.json({ id: "0" });
    },
  });
  server = await startServer({ env: { SENTRY_DSN: `http://publickey@127.0.0.1:${sentry.port}/1`, RATE_LIMIT_MESSAGES_PER_MINUTE: "100000" } });
});
afterAll(async () => {
  await server.stop();
  sentry.stop(true);
});

describe("health", () => {
  test("healthy with its checks; unhealthy (503) while the database cannot be written; healthy again after", async () => {
    const ok = await api(server.http, "GET", "/health");
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ status: "healthy", checks: { database: true, websocket: true } });
    expect(ok.body.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(typeof ok.body.activeSessions).toBe("number");
    expect((await api(server.http, "GET", "/health/live")).status).toBe(200);
    expect((await api(server.http, "GET", "/health/ready")).body).toEqual({ ready: true });
    // Another process takes the write lock and holds it: the server can no longer commit.
    const lock = holdWriteLock(server.dataDir);
    try {
      const bad = await api(server.http, "GET", "/health");
      expect(bad.status).toBe(503);
      expect(bad.body).toMatchObject({ status: "unhealthy", checks: { database: false } });
      expect((await api(server.http, "GET", "/health/ready")).status).toBe(503);
    } finally {
      lock.release();
    }
    expect((await api(server.http, "GET", "/health")).status).toBe(200);
  });

  test("while a node starts, a request waits for it: the first answer /health gives is already healthy", async () => {
    const port = freePort();
    const proc = Bun.spawn([process.execPath, MAIN, "serve"], {
      cwd: tempDir(),
      env: { PATH: process.env.PATH ?? "", DATA_DIR: tempDir(), PORT: String(port), HOST: "127.0.0.1", JWT_SECRET: TEST_SECRET },
      stdout: "ignore",
      stderr: "ignore",
    });
    try {
      // Polled as fast as the port allows from the moment the process exists, until the first answer.
      const answers: Array<{ status: number; body: any }> = [];
      const deadline = Date.now() + 20_000;
      while (answers.length === 0 && Date.now() < deadline) {
        const res = await fetch(`http://127.0.0.1:${port}/health`).catch(() => null);
        if (res) answers.push({ status: res.status, body: await res.json() });
        else await Bun.sleep(5);
      }
      expect(answers).toHaveLength(1);
      expect(answers[0]).toMatchObject({ status: 200, body: { status: "healthy", checks: { database: true, websocket: true, analysis: true } } });
      expect((await api(`http://127.0.0.1:${port}`, "GET", "/health/ready")).body).toEqual({ ready: true });
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }
  });
});

describe("metrics", () => {
  test("/metrics parses as Prometheus text and its counters move by exactly the messages sent", async () => {
    const before = parsePrometheus(await (await fetch(`${server.http}/metrics`)).text());
    const c = await WsClient.connect(server.ws, { token: await token("mo") });
    await c.request({ type: "join", session: "metered" });
    await Promise.all(Array.from({ length: 25 }, (_, i) => c.request({ type: "message", session: "metered", content: `x${i}` })));
    await api(server.http, "POST", "/api/sessions/metered/messages", { token: await token("mo"), body: { content: "http one" } });
    await api(server.http, "GET", "/api/sessions/no-such-session", { token: await token("mo") });
    await api(server.http, "POST", "/api/sessions", { token: await token("mo"), body: "x", headers: { "Content-Type": "text/plain" } });
    await c.request({ type: "configure", session: "no-such-session", access: "open" });
    await c.waitForCount((f) => f.type === "message", 26);
    const after = parsePrometheus(await (await fetch(`${server.http}/metrics`)).text());
    const delta = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
    expect(delta("sessiond_messages_acked_total")).toBe(26);
    expect(delta('sessiond_messages_received_total{transport="ws"}')).toBe(25);
    expect(delta('sessiond_messages_received_total{transport="http"}')).toBe(1);
    expect(delta('sessiond_messages_delivered_total{transport="ws"}')).toBe(26);
    expect(delta("sessiond_commit_batch_size_sum")).toBe(26);
    expect(delta("sessiond_ack_latency_seconds_count")).toBe(26);
    // Errors are counted once per reply, whatever the transport.
    expect(delta('sessiond_errors_total{code="not_found"}')).toBe(2);
    expect(delta('sessiond_errors_total{code="bad_request"}')).toBe(1);
    expect(after.get('sessiond_connections{transport="ws"}')).toBe(1);
    await c.close();
  });

  test("METRICS_TOKEN protects /metrics", async () => {
    const guarded = await startServer({ env: { METRICS_TOKEN: "metrics-token-0123456789" } });
    try {
      expect((await fetch(`${guarded.http}/metrics`)).status).toBe(401);
      expect((await fetch(`${guarded.http}/metrics`, { headers: { Authorization: "Bearer metrics-token-0123456789" } })).status).toBe(200);
    } finally {
      await guarded.stop();
    }
  });
});

describe("privacy", () => {
  test("no log line of a full session run contains the message text, the config or the token", async () => {
    const t = await token("priv");
    const c = await WsClient.connect(server.ws, { query: { token: t } });
    await c.request({ type: "join", session: "clinical" });
    await c.request({ type: "configure", session: "clinical", config: { diagnosisNote: "CONFIG-SECRET-VALUE" } });
    await c.request({ type: "message", session: "clinical", content: "I feel CONTENT-SECRET-TEXT today", metadata: { mood: "META-SECRET" } });
    const sse = new AbortController();
    const stream = await fetch(`${server.http}/api/sessions/clinical/events?token=${t}&lastEventId=0`, { signal: sse.signal });
    await stream.body!.getReader().read();
    sse.abort();
    await c.request({ type: "end", session: "clinical" });
    await c.close();
    await Bun.sleep(100);
    const logs = server.logs.join("\n");
    expect(logs).toContain('"session.ended"');
    for (const secret of ["CONTENT-SECRET-TEXT", "CONFIG-SECRET-VALUE", "META-SECRET", t, t.split(".")[1]!]) expect(logs).not.toContain(secret);
  });

  test("a forced internal error reaches the Sentry fake once, scrubbed of content", async () => {
    sentryEvents = [];
    const c = await WsClient.connect(server.ws, { token: await token("sid") });
    await c.request({ type: "join", session: "broken" });
    // A trigger that refuses the insert: a failure no retry cures (a storage fault would be `unavailable` instead).
    const other = new Database(join(server.dataDir, "sessiond.db"));
    other.run("CREATE TRIGGER forced_failure BEFORE INSERT ON messages WHEN NEW.session_id = 'broken' BEGIN SELECT RAISE(ABORT, 'forced'); END");
    let reply;
    try {
      reply = await c.request({ type: "message", session: "broken", content: "SENTRY-SECRET-CONTENT" });
    } finally {
      other.run("DROP TRIGGER forced_failure");
      other.close();
    }
    expect(reply).toMatchObject({ type: "error", code: "internal" });
    expect(reply.message).not.toContain("SQLITE");
    await eventually(() => sentryEvents.length >= 1, 10_000, "a Sentry event");
    await Bun.sleep(300);
    const events = sentryEvents.filter((e) => e.includes('"type":"event"'));
    expect(events).toHaveLength(1);
    const body = events[0]!;
    expect(body).toContain("session_id");
    expect(body).toContain("broken");
    expect(body).toContain("error_code");
    expect(body).not.toContain("SENTRY-SECRET-CONTENT");
    // The message was not written.
    const page = await api(server.http, "GET", "/api/sessions/broken/messages", { token: await token("sid") });
    expect(page.body.messages).toEqual([]);
    await c.close();
  });

  test("erasure, export, the audit trail and a failed erasure leave no content in logs, metrics or Sentry events", async () => {
    sentryEvents = [];
    const admin = await token("root", { admin: true });
    const mod = await mintToken(TEST_SECRET, { userId: "dr-obs", moderator: true, ttlSeconds: 3600 });
    const secrets = ["ERASE-SECRET-TEXT", "EXPORT-SECRET-META", "AUDIT-SECRET-CONFIG", "FAILED-ERASE-SECRET"];
    const c = await WsClient.connect(server.ws, { token: await token("pria") });
    await c.request({ type: "join", session: "priv-erase" });
    await c.request({ type: "configure", session: "priv-erase", config: { note: "AUDIT-SECRET-CONFIG" }, retentionDays: 3 });
    await c.request({ type: "message", session: "priv-erase", content: "ERASE-SECRET-TEXT", metadata: { m: "EXPORT-SECRET-META" } });
    await c.request({ type: "join", session: "priv-keep" });
    await c.request({ type: "message", session: "priv-keep", content: "FAILED-ERASE-SECRET" });
    await api(server.http, "GET", "/api/sessions/priv-erase/messages", { token: mod });
    const exported = await (await fetch(`${server.http}/api/admin/users/pria/export`, { headers: { Authorization: `Bearer ${admin}` } })).text();
    expect(exported).toContain("ERASE-SECRET-TEXT");
    expect((await api(server.http, "GET", "/api/admin/audit?session=priv-erase", { token: admin })).body.entries.length).toBeGreaterThan(0);
    expect((await api(server.http, "DELETE", "/api/admin/sessions/priv-erase", { token: admin })).status).toBe(200);
    // A failure in the middle of an erasure: reported, and rolled back (the session is still there).
    const other = new Database(join(server.dataDir, "sessiond.db"));
    other.run("CREATE TRIGGER forced_erase_failure BEFORE DELETE ON sessions WHEN OLD.id = 'priv-keep' BEGIN SELECT RAISE(ABORT, 'forced'); END");
    try {
      expect((await api(server.http, "DELETE", "/api/admin/users/pria", { token: admin })).status).toBe(500);
    } finally {
      other.run("DROP TRIGGER forced_erase_failure");
      other.close();
    }
    expect((await api(server.http, "GET", "/api/sessions/priv-keep/messages", { token: admin })).body.messages[0].content).toBe("FAILED-ERASE-SECRET");
    expect((await api(server.http, "DELETE", "/api/admin/users/pria", { token: admin })).status).toBe(200);
    await c.close();
    await eventually(() => sentryEvents.some((e) => e.includes('"type":"event"')), 10_000, "a Sentry event");
    await Bun.sleep(300);
    expect(server.logs.some((l) => l.includes('"privacy.session_erased"') && l.includes('"messages":1'))).toBe(true);
    expect(server.logs.some((l) => l.includes('"privacy.user_erased"'))).toBe(true);
    const everything = [server.logs.join("\n"), await (await fetch(`${server.http}/metrics`)).text(), sentryEvents.join("\n")].join("\n");
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });
});

describe("admin", () => {
  test("admin routes refuse non-admins with 403", async () => {
    const t = await token("nobody");
    for (const [method, path] of [
      ["GET", "/api/admin/connections"],
      ["GET", "/api/admin/sessions"],
      ["GET", "/api/admin/stats"],
      ["GET", "/api/admin/sessions/x/connections"],
      ["POST", "/api/admin/sessions/x/end"],
      ["POST", "/api/admin/reset"],
    ]) {
      const r = await api(server.http, method!, path!, { token: t });
      expect({ path, status: r.status }).toEqual({ path, status: 403 });
    }
  });

  test("connections and sessions are listed; reset leaves zero connections and zero active sessions", async () => {
    const admin = await token("root", { admin: true });
    const a = await WsClient.connect(server.ws, { token: await token("x1") });
    const b = await WsClient.connect(server.ws, { token: await token("x2") });
    await a.request({ type: "join", session: "r1" });
    await b.request({ type: "join", session: "r2" });
    const conns = await api(server.http, "GET", "/api/admin/connections", { token: admin });
    expect(conns.body.connections.map((c: any) => c.userId).sort()).toEqual(["x1", "x2"]);
    expect(conns.body.connections[0]).toMatchObject({ transport: "ws", remoteAddress: "127.0.0.1" });
    const sessions = await api(server.http, "GET", "/api/admin/sessions", { token: admin });
    const r1 = sessions.body.sessions.find((s: any) => s.id === "r1");
    expect(r1).toMatchObject({ subscribers: 1, present: ["x1"], cached: true });
    const reset = await api(server.http, "POST", "/api/admin/reset", { token: admin });
    expect(reset.status).toBe(200);
    expect(reset.body.closedConnections).toBe(2);
    expect((await a.closed).code).toBe(4003);
    expect((await b.closed).code).toBe(4003);
    expect(a.frames.some((f) => f.type === "session.status" && f.status === "cancelled")).toBe(true);
    await eventually(async () => (await api(server.http, "GET", "/api/admin/stats", { token: admin })).body.connections === 0);
    const active = await api(server.http, "GET", "/api/admin/sessions", { token: admin });
    expect(active.body.sessions).toEqual([]);
    expect((await api(server.http, "GET", "/health")).body.activeSessions).toBe(0);
  });
});

describe("backup", () => {
  test("sessiond backup writes a consistent copy while the server runs and refuses to overwrite", async () => {
    const target = join(tempDir(), "copy.db");
    const run = () => Bun.spawnSync([process.execPath, MAIN, "backup", target], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", DATA_DIR: server.dataDir } });
    const first = run();
    expect(first.exitCode).toBe(0);
    expect(existsSync(target)).toBe(true);
    const copy = new Database(target, { readonly: true });
    expect((copy.query("SELECT count(*) AS n FROM messages").get() as any).n).toBeGreaterThan(0);
    copy.close();
    const second = run();
    expect(second.exitCode).toBe(1);
    expect(second.stderr.toString().trim()).toBe(`backup: ${target} already exists; choose a new file name`);
  });
});
