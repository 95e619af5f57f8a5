// Encryption at rest against real server processes and their files: nothing readable on disk (database, WAL,
// backup, webhook outbox), a wrong or missing key refused in one line, ARCHIVE_DIR refused without
// ARCHIVE_PLAINTEXT, `sessiond encrypt` on a live plaintext database, `sessiond rotate-key` on a live one.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { api, eventually, MAIN, ROOT, startServer, tempDir, TEST_SECRET, token, WsClient } from "../helpers.ts";
import { onDisk } from "./disk.ts";

const KEY_A = Buffer.alloc(32, 0xa1).toString("base64");
const KEY_B = Buffer.alloc(32, 0xb2).toString("hex");

const cli = (dataDir: string, env: Record<string, string>, ...args: string[]) => {
  const r = Bun.spawnSync([process.execPath, MAIN, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", DATA_DIR: dataDir, ...env } });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
};

/** Starts a server expected to refuse: its exit code and what it printed. */
async function refusedStart(dataDir: string, env: Record<string, string>): Promise<{ code: number; stderr: string; stdout: string }> {
  const proc = Bun.spawn([process.execPath, MAIN, "serve"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1", JWT_SECRET: TEST_SECRET, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const code = await proc.exited;
  return { code, stderr: await new Response(proc.stderr).text(), stdout: await new Response(proc.stdout).text() };
}

const unique = (label: string) => `${label}-${crypto.randomUUID().slice(0, 8)}`;

describe("encryption at rest", () => {
  test("a message's marker is in neither the database file, its WAL, a backup nor the webhook outbox; readers see it as written", async () => {
    const marker = unique("AT-REST-MARKER");
    const received: string[] = [];
    const hooks = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: async (req) => (received.push(await req.text()), new Response("ok")) });
    const s = await startServer({
      env: {
        ENCRYPTION_KEY: KEY_A,
        WEBHOOK_URLS: `http://127.0.0.1:${hooks.port}/hook`,
        WEBHOOK_SECRET: `whsec_${Buffer.alloc(24, 3).toString("base64")}`,
        WEBHOOK_EVENTS: "message.created,session.started",
        WEBHOOK_INCLUDE_CONTENT: "true",
      },
    });
    try {
      expect(s.logs.find((l) => l.includes('"server.started"'))).toContain('"encryption":"on"');
      expect((await api(s.http, "GET", "/health")).body.encryption).toBe("on");
      const t = await token("enc");
      const c = await WsClient.connect(s.ws, { token: t });
      await c.request({ type: "join", session: "enc-1" });
      await c.request({ type: "configure", session: "enc-1", config: { note: `${marker}-config` } });
      await c.request({ type: "message", session: "enc-1", content: `${marker} I want to kill myself`, metadata: { mood: `${marker}-meta` } });
      const root = await token("root", { admin: true });
      let page = await api(s.http, "GET", "/api/sessions/enc-1/messages", { token: root });
      // The analysis is written a moment after the message (off the hot path).
      for (let i = 0; i < 100 && !page.body.messages[0]?.analysis; i++) {
        await Bun.sleep(50);
        page = await api(s.http, "GET", "/api/sessions/enc-1/messages", { token: root });
      }
      expect(page.body.messages[0]).toMatchObject({ content: `${marker} I want to kill myself`, metadata: { mood: `${marker}-meta` } });
      expect(page.body.messages[0].analysis?.crisis.risk_level).toBe("high");
      expect((await api(s.http, "GET", "/api/sessions/enc-1", { token: t })).body.config).toEqual({ note: `${marker}-config` });
      // The webhook receiver gets the plaintext it asked for; the outbox row that carried it is sealed.
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && !received.some((b) => b.includes(marker))) await Bun.sleep(50);
      expect(received.some((b) => b.includes(marker))).toBe(true);

      const backup = join(tempDir(), "enc.db");
      expect(cli(s.dataDir, {}, "backup", backup).code).toBe(0);
      expect(onDisk(s.dataDir, marker)).toBe(false);
      expect(readFileSync(backup).includes(marker)).toBe(false);
      // The same check finds a plaintext value: it is a real search of the bytes.
      expect(readFileSync(backup).includes("enc-1")).toBe(true);
      await c.close();
    } finally {
      await s.stop();
      hooks.stop(true);
    }
    // The key is required from now on, and it must be the right one: one readable line, no stack trace.
    const missing = await refusedStart(s.dataDir, {});
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^encryption: the database is encrypted \(key [0-9a-f]{8}\); start with ENCRYPTION_KEY or ENCRYPTION_KEY_FILE set to its key\n$/);
    const wrong = await refusedStart(s.dataDir, { ENCRYPTION_KEY: KEY_B });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.split("\n").filter(Boolean)).toHaveLength(1);
    expect(wrong.stderr).toContain("the encryption key does not match this database");
    expect(wrong.stderr).not.toContain(KEY_B);
    expect(wrong.stdout).not.toContain("server.started");
    // A key file works like the variable.
    const keyFile = join(tempDir(), "key");
    await Bun.write(keyFile, `${KEY_A}\n`);
    const again = await startServer({ dataDir: s.dataDir, env: { ENCRYPTION_KEY_FILE: keyFile } });
    expect((await api(again.http, "GET", "/api/sessions/enc-1/messages", { token: await token("enc") })).body.messages[0].content).toContain(marker);
    await again.stop();
  }, 90_000);

  test("with a key, ARCHIVE_DIR is refused at start-up unless ARCHIVE_PLAINTEXT=true", async () => {
    const dir = tempDir();
    const refused = await refusedStart(dir, { ENCRYPTION_KEY: KEY_A, ARCHIVE_DIR: join(dir, "archive") });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      "config: ARCHIVE_DIR is set while encryption at rest is on: archive files are plaintext transcripts; unset ARCHIVE_DIR, or set ARCHIVE_PLAINTEXT=true to write them anyway\n",
    );
    const s = await startServer({ dataDir: dir, env: { ENCRYPTION_KEY: KEY_A, ARCHIVE_DIR: join(dir, "archive"), ARCHIVE_PLAINTEXT: "true" } });
    expect((await api(s.http, "GET", "/health")).body.encryption).toBe("on");
    await s.stop();
    const plain = await startServer();
    expect((await api(plain.http, "GET", "/health")).body.encryption).toBe("off");
    await plain.stop();
  }, 90_000);
});

describe("sessiond encrypt and sessiond rotate-key", () => {
  test("a plaintext database is encrypted while the server runs; then its key is rotated while the server runs", async () => {
    const old = unique("PLAIN-BEFORE-KEY");
    const s1 = await startServer({ env: { RATE_LIMIT_MESSAGES_PER_MINUTE: "100000" } });
    const t = await token("pat");
    const c1 = await WsClient.connect(s1.ws, { token: t });
    await c1.request({ type: "join", session: "enc-mig" });
    for (let i = 0; i < 450; i++) await c1.request({ type: "message", session: "enc-mig", content: `${old} ${i}` });
    await c1.close();
    await s1.stop();
    expect(onDisk(s1.dataDir, old)).toBe(true);

    // Restarted with a key: it serves the old plaintext and seals everything new, until `encrypt` has run.
    const s2 = await startServer({ dataDir: s1.dataDir, env: { ENCRYPTION_KEY: KEY_A } });
    try {
      expect((await api(s2.http, "GET", "/health")).body.encryption).toBe("migrating");
      expect(s2.logs.some((l) => l.includes('"encryption.migrating"') && l.includes("sessiond encrypt"))).toBe(true);
      const fresh = unique("SEALED-AFTER-KEY");
      await api(s2.http, "POST", "/api/sessions/enc-mig/messages", { token: t, body: { content: fresh } });
      expect(onDisk(s2.dataDir, fresh)).toBe(false);
      // A key the server does not use is refused: the two would disagree.
      expect(cli(s2.dataDir, { ENCRYPTION_KEY: KEY_B }, "encrypt")).toMatchObject({ code: 1 });
      const run = cli(s2.dataDir, { ENCRYPTION_KEY: KEY_A }, "encrypt");
      expect(run.code).toBe(0);
      expect(run.out).toMatch(/messages\.content: 200\/4\d\d checked, 200 re-encrypted\n/);
      expect(run.out).toMatch(/encrypt: \d+ of \d+ values re-encrypted with key [0-9a-f]{8}/);
      expect(onDisk(s2.dataDir, old)).toBe(false);
      // The running server notices that everything is sealed: from now on it is "on", without a restart.
      await eventually(async () => (await api(s2.http, "GET", "/health")).body.encryption === "on", 5000, "/health saying on");
      expect(s2.logs.some((l) => l.includes('"encryption.on"'))).toBe(true);
      const page = await api(s2.http, "GET", "/api/sessions/enc-mig/messages?limit=3&after=0", { token: t });
      expect(page.body.messages.map((m: any) => m.content)).toEqual([`${old} 0`, `${old} 1`, `${old} 2`]);
      // Running it again finds nothing left to do.
      expect(cli(s2.dataDir, { ENCRYPTION_KEY: KEY_A }, "encrypt").out).toContain("already encrypted");
      // Rotating needs the server restarted with the new key first.
      const early = cli(s2.dataDir, { ENCRYPTION_KEY: KEY_B, ENCRYPTION_KEYS_OLD: KEY_A }, "rotate-key");
      expect(early.code).toBe(1);
      expect(early.err).toContain("the running server still seals with key");
    } finally {
      await s2.stop();
    }

    // Dropping the old key before the rotation is refused; with it kept as old, the rotation runs online.
    expect((await refusedStart(s1.dataDir, { ENCRYPTION_KEY: KEY_B })).stderr).toContain("the encryption key does not match this database");
    const s3 = await startServer({ dataDir: s1.dataDir, env: { ENCRYPTION_KEY: KEY_B, ENCRYPTION_KEYS_OLD: KEY_A } });
    try {
      expect(s3.logs.some((l) => l.includes('"encryption.rotating"'))).toBe(true);
      await s3.stop();
      const dropped = await refusedStart(s1.dataDir, { ENCRYPTION_KEY: KEY_B });
      expect(dropped.stderr).toMatch(/^encryption: values in the database are still sealed with key [0-9a-f]{8}: keep that key in ENCRYPTION_KEYS_OLD until sessiond rotate-key has finished\n$/);
    } finally {
      await s3.stop();
    }
    const s4 = await startServer({ dataDir: s1.dataDir, env: { ENCRYPTION_KEY: KEY_B, ENCRYPTION_KEYS_OLD: KEY_A } });
    try {
      const rotated = cli(s4.dataDir, { ENCRYPTION_KEY: KEY_B, ENCRYPTION_KEYS_OLD: KEY_A }, "rotate-key");
      expect(rotated.code).toBe(0);
      expect(rotated.out).toContain("messages.content: done");
      expect(rotated.out).toContain("rotate-key: the previous key is no longer needed");
      const audit = await api(s4.http, "GET", "/api/admin/audit?action=key.rotate", { token: await token("root", { admin: true }) });
      expect(audit.body.entries).toHaveLength(1);
    } finally {
      await s4.stop();
    }
    const s5 = await startServer({ dataDir: s1.dataDir, env: { ENCRYPTION_KEY: KEY_B } });
    try {
      expect((await api(s5.http, "GET", "/health")).body.encryption).toBe("on");
      const page = await api(s5.http, "GET", "/api/sessions/enc-mig/messages?limit=2&after=0", { token: t });
      expect(page.body.messages.map((m: any) => m.content)).toEqual([`${old} 0`, `${old} 1`]);
    } finally {
      await s5.stop();
    }
  }, 120_000);
});
