// `serve` with an engine setting it cannot run on yet refuses in one line; it never falls back to SQLite quietly.
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { MAIN, ROOT, tempDir } from "../helpers.ts";

test("serve with DATABASE_URL or REDIS_URL set stops with one line and writes nothing to DATA_DIR", async () => {
  for (const [env, named] of [
    [{ DATABASE_URL: "postgres://app:hunter2@127.0.0.1:1/sessiond" }, "DATABASE_URL is set"],
    [{ REDIS_URL: "redis://:hunter2@127.0.0.1:1" }, "REDIS_URL is set"],
    [{ DATABASE_URL: "postgres://app:hunter2@127.0.0.1:1/sessiond", REDIS_URL: "redis://127.0.0.1:1", CLUSTER: "true" }, "DATABASE_URL and REDIS_URL are set"],
  ] as const) {
    const dataDir = tempDir();
    const proc = Bun.spawn([process.execPath, MAIN, "serve"], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", DATA_DIR: dataDir, PORT: "0", ...env }, stdout: "pipe", stderr: "pipe" });
    const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    expect(code).toBe(1);
    const lines = err.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(named);
    expect(lines[0]).toContain("sessiond migrate");
    expect(err).not.toContain("hunter2");
    expect(existsSync(join(dataDir, "sessiond.db"))).toBe(false);
  }
});
