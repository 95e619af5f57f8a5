// The single binary: built once, copied alone into an empty folder, run from there.
import { beforeAll, expect, test } from "bun:test";
import { copyFileSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { api, eventually, moderatorToken, ROOT, startServer, tempDir, token, WsClient } from "../helpers.ts";
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

test("the binary analyses messages in its worker thread and alerts staff", async () => {
  const server = await startServer({ cmd: [binary, "serve"], cwd: folder });
  try {
    const moderator = await WsClient.connect(server.ws, { token: await moderatorToken("dr-mo") });
    const user = await WsClient.connect(server.ws, { token: await token("sam") });
    await user.request({ type: "join", session: "bin-analysis" });
    const ack = await user.request({ type: "message", session: "bin-analysis", content: "I don't want to be here anymore, I've been saving my pills" });
    const alert = await moderator.waitFor((f) => f.type === "alert" && f.alert.seq === ack.seq);
    expect(alert.alert.risk_level).toBe("high");
    const page = await api(server.http, "GET", "/api/sessions/bin-analysis/messages", { token: await token("ops", { admin: true }) });
    expect(page.body.messages[0].analysis).toMatchObject({ analyzer: "builtin/1", crisis: { risk_level: "high" } });
    await eventually(async () => (await api(server.http, "GET", "/health")).body.checks.analysis === true);
    // The worker runs below the write path's priority inside the binary too.
    const ready = server.logs.find((l) => l.includes('"analysis.worker_ready"'));
    expect(["idle", "nice 19", "nice 10"]).toContain(JSON.parse(ready!).priority);
    await user.close();
    await moderator.close();
  } finally {
    expect(await server.stop("SIGTERM")).toBe(0);
  }
});

test("the binary serves the operator console from the files embedded at build time", async () => {
  const server = await startServer({ cmd: [binary, "serve"], cwd: folder });
  try {
    const page = await fetch(`${server.http}/console`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    const assets = [...(await page.text()).matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBe(2);
    for (const path of assets) expect((await fetch(`${server.http}${path}`)).status).toBe(200);
    // Embedded, not built: there are no sources beside the binary to build from.
    expect(server.logs.some((l) => l.includes('"console.loaded"') && l.includes('"source":"embedded"'))).toBe(true);
  } finally {
    expect(await server.stop("SIGTERM")).toBe(0);
  }
});
