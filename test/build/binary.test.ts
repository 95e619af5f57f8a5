// The single binary: built once, copied alone into an empty folder, run from there.
import { beforeAll, expect, test } from "bun:test";
import { copyFileSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { api, ROOT, startServer, tempDir, token } from "../helpers.ts";
import { embeddedMigrations } from "../../src/db/migrate.ts";

let folder: string;
let binary: string;

beforeAll(async () => {
  const out = join(tempDir(), "sessiond");
  const build = Bun.spawn([process.execPath, join(ROOT, "scripts", "build.ts"), out], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  expect(await build.exited).toBe(0);
  folder = tempDir("sessiond-bin-");
  binary = join(folder, "sessiond");
  copyFileSync(out, binary);
  Bun.spawnSync(["chmod", "+x", binary]);
  // A stray .env and bunfig.toml where the binary starts: neither may change anything.
  writeFileSync(join(folder, ".env"), "JWT_SECRET=attacker-secret-attacker-secret-0000\nLOG_LEVEL=silent\nDATA_DIR=/nonexistent\n");
  writeFileSync(join(folder, "evil.ts"), "console.log('EVIL PRELOAD RAN'); process.exit(42);\n");
  writeFileSync(join(folder, "bunfig.toml"), 'preload = ["./evil.ts"]\n');
}, 120_000);

test("`sessiond version` and `sessiond migrate` run from an empty folder with no sources beside", () => {
  const version = Bun.spawnSync([binary, "version"], { cwd: folder, env: { PATH: "/usr/bin:/bin" } });
  expect(version.stdout.toString().trim()).toMatch(/^sessiond \d+\.\d+\.\d+$/);
  const data = join(folder, "migrate-data");
  const migrate = Bun.spawnSync([binary, "migrate"], { cwd: folder, env: { PATH: "/usr/bin:/bin", DATA_DIR: data } });
  expect(migrate.exitCode).toBe(0);
  expect(migrate.stdout.toString()).toContain(`migrations applied: ${embeddedMigrations().length}`);
  expect(existsSync(join(data, "sessiond.db"))).toBe(true);
  const again = Bun.spawnSync([binary, "migrate"], { cwd: folder, env: { PATH: "/usr/bin:/bin", DATA_DIR: data } });
  expect(again.stdout.toString()).toContain("migrations applied: 0");
});

test("the binary serves /health and ignores the .env and bunfig.toml in its folder", async () => {
  const server = await startServer({ cmd: [binary, "serve"], cwd: folder });
  try {
    expect(server.logs.join("\n")).not.toContain("EVIL");
    const health = await api(server.http, "GET", "/health");
    expect(health.status).toBe(200);
    expect(health.body.status).toBe("healthy");
    expect(health.body.checks.database).toBe(true);
    // The token signed with the real secret works; the .env's secret was never loaded.
    const ok = await api(server.http, "GET", "/api/sessions", { token: await token("alice") });
    expect(ok.status).toBe(200);
    const forged = await api(server.http, "GET", "/api/sessions", { token: await token("alice", { secret: "attacker-secret-attacker-secret-0000" }) });
    expect(forged.status).toBe(401);
    expect(existsSync(join(server.dataDir, "sessiond.db"))).toBe(true);
  } finally {
    expect(await server.stop("SIGTERM")).toBe(0);
  }
});
