// `serve` on the engines the settings select: one node on PostgreSQL alone keeps every message across a restart and
// reports the database on /health, sends webhooks and writes archive files; an engine it cannot reach stops the start
// with one line (never a password, never a fallback to SQLite).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startPostgres, type PostgresEngine } from "../engines/postgres.ts";
import { api, eventually, MAIN, ROOT, startServer, tempDir, token, WsClient } from "../helpers.ts";
import { startReceiver, WEBHOOK_TEST_SECRET } from "../integrations/receiver.ts";

let pg: PostgresEngine;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
});

/** A new, empty database on the file's server. */
async function freshDatabase(): Promise<string> {
  const name = `s_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
  const admin = new SQL({ url: pg.url, max: 1 });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.close();
  return pg.url.replace(/\/[^/]+$/, `/${name}`);
}

async function refusal(env: Record<string, string>): Promise<{ code: number; lines: string[]; err: string; dataDir: string }> {
  const dataDir = tempDir();
  const proc = Bun.spawn([process.execPath, MAIN, "serve"], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", DATA_DIR: dataDir, PORT: "0", ...env }, stdout: "pipe", stderr: "pipe" });
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  return { code, lines: err.trim().split("\n"), err, dataDir };
}

describe("serve on PostgreSQL alone (one node)", () => {
  test("messages are stored in PostgreSQL, survive a restart, and /health names the database without its password", async () => {
    // The test server trusts local connections; the password is there to be hidden.
    const url = (await freshDatabase()).replace("postgres://postgres@", "postgres://postgres:hunter2@");
    const env = { DATABASE_URL: url };
    let server = await startServer({ env });
    try {
      const t = await token("alice");
      const alice = await WsClient.connect(server.ws, { token: t });
      await alice.request({ type: "join", session: "pg-one" });
      const acks = [];
      for (let i = 0; i < 5; i++) acks.push(await alice.request({ type: "message", session: "pg-one", content: `m${i}`, clientMsgId: `c${i}` }));
      expect(acks.map((a) => a.seq)).toEqual([1, 2, 3, 4, 5]);
      // A retry of the same clientMsgId is the same message.
      const again = await alice.request({ type: "message", session: "pg-one", content: "m0", clientMsgId: "c0" });
      expect(again.seq).toBe(1);
      const health = await (await fetch(`${server.http}/health`)).json();
      expect(health.status).toBe("healthy");
      expect(health.checks.database).toBe(true);
      expect(health.database).toContain("***");
      expect(JSON.stringify(health)).not.toContain("hunter2");
      await alice.close();
      // Nothing of the sessions went to DATA_DIR.
      expect(existsSync(join(server.dataDir, "sessiond.db"))).toBe(false);
      await server.stop();

      server = await startServer({ env });
      const listed = await api(server.http, "GET", "/api/sessions/pg-one/messages", { token: t });
      expect(listed.status).toBe(200);
      expect(listed.body.messages.map((m: { content: string }) => m.content)).toEqual(["m0", "m1", "m2", "m3", "m4"]);
      const back = await WsClient.connect(server.ws, { token: t });
      const joined = await back.request({ type: "join", session: "pg-one", since: 3 });
      expect(joined).toMatchObject({ type: "joined" });
      expect(joined.messages.map((m: { seq: number }) => m.seq)).toEqual([4, 5]);
      await back.close();
    } finally {
      await server.stop();
    }
  });
  test("WEBHOOK_URLS with DATABASE_URL and ENCRYPTION_KEY: one node delivers signed events, their bodies sealed in PostgreSQL", async () => {
    const rx = startReceiver();
    const url = await freshDatabase();
    const server = await startServer({
      env: { DATABASE_URL: url, ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64"), WEBHOOK_URLS: rx.url, WEBHOOK_SECRET: WEBHOOK_TEST_SECRET, WEBHOOK_EVENTS: "session.started,participant.joined,message.created", WEBHOOK_INCLUDE_CONTENT: "true" },
    });
    try {
      const c = await WsClient.connect(server.ws, { token: await token("wendy") });
      await c.request({ type: "join", session: "pg-hooks" });
      await c.request({ type: "message", session: "pg-hooks", content: "a private line" });
      const got = await rx.waitFor((r) => r.body?.type === "message.created", 1, 15_000);
      expect(got[0]!.verified).toBe(true);
      expect(got[0]!.body.data.message.content).toBe("a private line");
      expect(rx.received.map((r) => r.body.type)).toEqual(["session.started", "participant.joined", "message.created"]);
      const admin = new SQL({ url, max: 1 });
      const rows = await admin`SELECT payload FROM webhook_outbox`;
      await admin.close();
      expect(rows).toHaveLength(3);
      expect(JSON.stringify(rows)).not.toContain("a private line");
      await c.close();
    } finally {
      await server.stop();
      rx.stop();
    }
  });

  test("ARCHIVE_DIR is accepted with DATABASE_URL: a session ended on the node is archived, /health shows the check", async () => {
    const archiveDir = tempDir();
    const server = await startServer({ env: { DATABASE_URL: await freshDatabase(), ARCHIVE_DIR: archiveDir, ARCHIVE_FORMAT: "json" } });
    try {
      const t = await token("alice");
      const created = await api(server.http, "POST", "/api/sessions", { token: t, body: {} });
      expect(created.status).toBe(201);
      expect((await api(server.http, "POST", `/api/sessions/${created.body.id}/messages`, { token: t, body: { content: "kept in the file" } })).status).toBe(201);
      expect((await api(server.http, "POST", `/api/sessions/${created.body.id}/end`, { token: t, body: {} })).status).toBe(200);
      const written = () => (readdirSync(archiveDir, { recursive: true }) as string[]).filter((f) => f.endsWith(`-${created.body.id}.json`));
      await eventually(() => written().length === 1, 10_000, "the archive file");
      expect(JSON.parse(readFileSync(join(archiveDir, written()[0]!), "utf8")).messages.map((m: { content: string }) => m.content)).toEqual(["kept in the file"]);
      const health = await (await fetch(`${server.http}/health`)).json();
      expect(health.checks.archive).toBe(true);
    } finally {
      await server.stop();
    }
  }, 60_000);
});

describe("a start that cannot use its engines stops with one line and writes nothing", () => {
  test("an unreachable PostgreSQL or Redis is named by host and port, never with the password", async () => {
    for (const [env, named] of [
      [{ DATABASE_URL: "postgres://app:hunter2@127.0.0.1:1/sessiond" }, "PostgreSQL at 127.0.0.1:1"],
      [{ REDIS_URL: "redis://:hunter2@127.0.0.1:1" }, "Redis at 127.0.0.1:1"],
    ] as const) {
      const { code, lines, err, dataDir } = await refusal({ ...env });
      expect(code).toBe(1);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(named);
      expect(err).not.toContain("hunter2");
      expect(err).not.toContain("    at ");
      expect(existsSync(join(dataDir, "sessiond.db"))).toBe(false);
    }
  }, 60_000);

});
