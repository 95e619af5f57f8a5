// Encryption at rest on PostgreSQL: nodes given ENCRYPTION_KEY store message content and metadata sealed, every
// node with the key reads them, and a node with no key, another key or a database of plaintext sessions stops
// with one sentence; a rotation keeps the previous key readable from ENCRYPTION_KEYS_OLD.
import { describe, expect, test } from "bun:test";
import { ENVELOPE_PREFIX } from "../../src/privacy/crypto.ts";
import { eventually, MAIN, ROOT, startServer, tempDir, TEST_SECRET, token, WsClient, type ServerProcess } from "../helpers.ts";
import { freshDatabase, pool } from "./setup.ts";

const KEY_A = Buffer.alloc(32, 0xa1).toString("base64");
const KEY_B = Buffer.alloc(32, 0xb2).toString("base64");

/** A `serve` expected to stop at start-up: its exit code and what it wrote to stderr. */
async function refused(env: Record<string, string>): Promise<{ code: number; lines: string[] }> {
  const proc = Bun.spawn([process.execPath, MAIN, "serve"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", DATA_DIR: tempDir(), PORT: "0", JWT_SECRET: TEST_SECRET, ...env },
    stdout: "ignore",
    stderr: "pipe",
  });
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  return { code, lines: err.trim().split("\n") };
}

async function say(server: ServerProcess, session: string, content: string): Promise<void> {
  const c = await WsClient.connect(server.ws, { token: await token("pat") });
  await c.request({ type: "join", session });
  expect((await c.request({ type: "message", session, content, metadata: { mood: "private note" } })).type).toBe("ack");
  await c.close();
}

async function history(server: ServerProcess, session: string): Promise<string[]> {
  const c = await WsClient.connect(server.ws, { token: await token("pat") });
  const joined = await c.request({ type: "join", session });
  await c.close();
  return joined.messages.map((m: { content: string }) => m.content);
}

describe("encryption at rest on PostgreSQL", () => {
  test("content and metadata are sealed in the database; another node with the key reads them; /health says on", async () => {
    const url = await freshDatabase();
    const env = { DATABASE_URL: url, ENCRYPTION_KEY: KEY_A };
    const [a, b] = [await startServer({ env }), await startServer({ env })];
    try {
      await say(a, "enc-1", "what I told my therapist");
      const rows = await pool(url, 1)`SELECT content, metadata FROM messages WHERE session_id = 'enc-1'`;
      expect(rows).toHaveLength(1);
      expect(rows[0].content.startsWith(ENVELOPE_PREFIX)).toBe(true);
      expect(rows[0].metadata.startsWith(ENVELOPE_PREFIX)).toBe(true);
      expect(JSON.stringify(rows)).not.toContain("therapist");
      expect(JSON.stringify(rows)).not.toContain("private note");
      expect(await history(b, "enc-1")).toEqual(["what I told my therapist"]);
      // The message's analysis is sealed too.
      const sql = pool(url, 1);
      await eventually(async () => (await sql`SELECT 1 FROM message_analyses WHERE session_id = 'enc-1'`).length === 1, 10_000, "the analysis");
      const [analysis] = await sql`SELECT analysis FROM message_analyses WHERE session_id = 'enc-1'`;
      expect(analysis.analysis.startsWith(ENVELOPE_PREFIX)).toBe(true);
      const health = await (await fetch(`${b.http}/health`)).json();
      expect(health.encryption).toBe("on");
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test("a node without the key, or with another one, stops with one sentence and writes nothing", async () => {
    const url = await freshDatabase();
    const first = await startServer({ env: { DATABASE_URL: url, ENCRYPTION_KEY: KEY_A } });
    await first.stop();
    const none = await refused({ DATABASE_URL: url });
    expect(none.code).toBe(1);
    expect(none.lines).toHaveLength(1);
    expect(none.lines[0]).toMatch(/^encryption: the database is encrypted \(key [^)]+\); start with ENCRYPTION_KEY or ENCRYPTION_KEY_FILE set to its key$/);
    const other = await refused({ DATABASE_URL: url, ENCRYPTION_KEY: KEY_B });
    expect(other.code).toBe(1);
    expect(other.lines).toHaveLength(1);
    expect(other.lines[0]).toContain("encryption: the encryption key does not match this database");
    const meta = await pool(url, 1)`SELECT value FROM sessiond_meta WHERE key = 'encryption.state'`;
    expect(meta.map((r: { value: string }) => r.value)).toEqual(["on"]);
  });

  test("a key given to a database that holds plaintext sessions is refused: nothing would seal them", async () => {
    const url = await freshDatabase();
    const plain = await startServer({ env: { DATABASE_URL: url } });
    await say(plain, "plain-1", "said before any key");
    await plain.stop();
    const r = await refused({ DATABASE_URL: url, ENCRYPTION_KEY: KEY_A });
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([
      "encryption: this PostgreSQL database already holds sessions stored in plaintext, and sealing them in place (sessiond encrypt) is available on SQLite only in this version; give ENCRYPTION_KEY to a new database, or unset it",
    ]);
    expect(await pool(url, 1)`SELECT 1 FROM sessiond_meta WHERE key LIKE 'encryption.%'`).toHaveLength(0);
  });

  test("a new key with the previous one in ENCRYPTION_KEYS_OLD reads both; the previous key cannot be dropped yet", async () => {
    const url = await freshDatabase();
    const before = await startServer({ env: { DATABASE_URL: url, ENCRYPTION_KEY: KEY_A } });
    await say(before, "rot-1", "sealed with the first key");
    await before.stop();
    const rotated = await startServer({ env: { DATABASE_URL: url, ENCRYPTION_KEY: KEY_B, ENCRYPTION_KEYS_OLD: KEY_A } });
    try {
      await say(rotated, "rot-1", "sealed with the second key");
      expect(await history(rotated, "rot-1")).toEqual(["sealed with the first key", "sealed with the second key"]);
    } finally {
      await rotated.stop();
    }
    const dropped = await refused({ DATABASE_URL: url, ENCRYPTION_KEY: KEY_B });
    expect(dropped.code).toBe(1);
    expect(dropped.lines[0]).toContain("keep that key in ENCRYPTION_KEYS_OLD");
  });
});
