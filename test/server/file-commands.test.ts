// The SQLite file commands (backup, restore, rotate-key, encrypt, audit verify) with DATABASE_URL set: the data is
// in PostgreSQL, so each stops with one line saying what to use instead, and touches no file.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { MAIN, ROOT, tempDir, TEST_SECRET } from "../helpers.ts";

function run(args: string[]) {
  const dataDir = tempDir();
  const r = Bun.spawnSync([process.execPath, MAIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", DATA_DIR: dataDir, JWT_SECRET: TEST_SECRET, DATABASE_URL: "postgres://app:hunter2pw@127.0.0.1:1/sessiond" },
  });
  return { code: r.exitCode, err: r.stderr.toString().trim(), out: r.stdout.toString(), dataDir };
}

describe("SQLite file commands with DATABASE_URL", () => {
  test.each([
    [["backup", "copy.db"], "backup: DATABASE_URL is set, so the data is in PostgreSQL, not in DATA_DIR's SQLite file: back the database up with pg_dump (see docs/deployment.md)."],
    [["restore", "copy.db"], "restore: DATABASE_URL is set, so the data is in PostgreSQL, not in DATA_DIR's SQLite file: restore it with pg_restore (see docs/deployment.md)."],
    [["encrypt"], "encrypt: DATABASE_URL is set, so the data is in PostgreSQL, not in DATA_DIR's SQLite file: sealing a plaintext database is available on SQLite only in this version: give ENCRYPTION_KEY to a new PostgreSQL database."],
    [["rotate-key"], "rotate-key: DATABASE_URL is set, so the data is in PostgreSQL, not in DATA_DIR's SQLite file: re-sealing values with a new key is available on SQLite only in this version; values sealed with the previous key stay readable while it is in ENCRYPTION_KEYS_OLD."],
    [["audit", "verify"], "audit verify: DATABASE_URL is set, so the data is in PostgreSQL, not in DATA_DIR's SQLite file: the audit trail is listed, in order and with its hashes, by GET /api/admin/audit."],
  ])("%p stops with one line and writes nothing", (args, line) => {
    const r = run(args);
    expect(r.code).toBe(1);
    expect(r.err).toBe(line);
    expect(r.err).not.toContain("hunter2pw");
    expect(readdirSync(r.dataDir)).toEqual([]);
    expect(existsSync(join(ROOT, "copy.db"))).toBe(false);
  });
});
