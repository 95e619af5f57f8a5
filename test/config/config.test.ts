import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { configSchema, loadConfig } from "../../src/config/index.ts";
import { MAIN, ROOT, tempDir } from "../helpers.ts";

async function startWith(env: Record<string, string>): Promise<{ code: number; stderr: string; stdout: string }> {
  const proc = Bun.spawn([process.execPath, MAIN, "serve"], {
    cwd: tempDir(),
    env: { PATH: process.env.PATH ?? "", DATA_DIR: tempDir(), PORT: "0", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stderr, stdout] = await Promise.all([proc.exited, new Response(proc.stderr).text(), new Response(proc.stdout).text()]);
  return { code, stderr, stdout };
}

describe("a bad setting stops start-up with exit 1 and one readable line", () => {
  const cases: Array<[string, string, string]> = [
    ["PORT", "abc", 'config: PORT="abc" is invalid: expected a whole number'],
    ["PORT", "70000", 'config: PORT="70000" is invalid: expected a number at most 65535'],
    ["DB_SYNCHRONOUS", "sometimes", 'config: DB_SYNCHRONOUS="sometimes" is invalid: expected one of "normal", "full"'],
    ["SESSION_EXPIRY_SECONDS", "-5", 'config: SESSION_EXPIRY_SECONDS="-5" is invalid: expected a number at least 1'],
    ["MAX_MESSAGES_PER_SESSION", "1.5", 'config: MAX_MESSAGES_PER_SESSION="1.5" is invalid: expected a whole number'],
    ["LOG_LEVEL", "loud", 'config: LOG_LEVEL="loud" is invalid: expected one of "debug", "info", "warn", "error", "silent"'],
    ["SENTRY_DSN", "not a url", "config: SENTRY_DSN=(hidden) is invalid: expected an http:// or https:// URL"],
    ["AI_BASE_URL", "ftp://models.internal/v1", 'config: AI_BASE_URL="ftp://models.internal/v1" is invalid: expected an http:// or https:// URL'],
    ["ENCRYPTION_KEYS_OLD", "zz,yy", "config: ENCRYPTION_KEYS_OLD=(hidden) is invalid: entries 1, 2 of 2 are not a key; each comma-separated entry is 32 random bytes as 64 hex characters or 44 base64 characters (generate one with: openssl rand -base64 32)"],
    ["JWT_SECRET", "short", "config: JWT_SECRET=(hidden) is invalid: expected a value of at least 32 characters"],
    ["ALLOWED_ORIGINS", "example.com", 'config: ALLOWED_ORIGINS="example.com" is invalid: expected origins of the form scheme://host[:port] ("example.com" is not one), or * alone'],
    ["ALLOWED_ORIGINS", "*,https://a.example", 'config: ALLOWED_ORIGINS="*,https://a.example" is invalid: expected either * alone or a list of origins, not both'],
    ["ROOM_ACCESS_DEFAULT", "public", 'config: ROOM_ACCESS_DEFAULT="public" is invalid: expected one of "private", "open"'],
    ["END_ON_DISCONNECT_GRACE_SECONDS", "soon", 'config: END_ON_DISCONNECT_GRACE_SECONDS="soon" is invalid: expected a whole number'],
    ["SESSION_CREATE", "never", 'config: SESSION_CREATE="never" is invalid: expected one of "join", "api"'],
  ];
  for (const [name, value, line] of cases) {
    test(`${name}=${value}`, async () => {
      const { code, stderr, stdout } = await startWith({ [name]: value });
      expect(code).toBe(1);
      expect(stderr.trim()).toBe(line);
      expect(stderr).not.toContain("    at ");
      expect(stdout).not.toContain("server.started");
      if (name === "JWT_SECRET") expect(stderr).not.toContain("short");
    });
  }

  test("several bad settings give one line each", async () => {
    const { code, stderr } = await startWith({ PORT: "x", HEARTBEAT_INTERVAL_SECONDS: "0" });
    expect(code).toBe(1);
    expect(stderr.trim().split("\n")).toHaveLength(2);
  });

  test("both a secret and a public key is a configuration error", () => {
    const r = loadConfig({ JWT_SECRET: "x".repeat(40), JWT_PUBLIC_KEY: "-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----" });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]).toContain("JWT_SECRET and JWT_PUBLIC_KEY are both set");
  });

  test("AI_MODEL: optional for the assistant (the server's first listed model), required to analyse with a model", () => {
    expect(loadConfig({ AI_BASE_URL: "http://127.0.0.1:11434/v1" }).ok).toBe(true);
    const r = loadConfig({ AI_BASE_URL: "http://127.0.0.1:11434/v1", ANALYZER: "both" });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors).toEqual(['config: AI_MODEL=(unset) is invalid: expected the model to analyse with when ANALYZER="both" (for example llama3.1:8b)']);
  });

  test("an unknown flag is refused", async () => {
    const proc = Bun.spawn([process.execPath, MAIN, "serve", "--prot", "1"], { env: { PATH: process.env.PATH ?? "" }, stderr: "pipe", stdout: "pipe" });
    expect(await proc.exited).toBe(1);
    expect((await new Response(proc.stderr).text()).trim()).toBe("sessiond: unknown option --prot (see sessiond --help)");
  });
});

test("defaults are the documented ones", () => {
  const r = loadConfig({});
  expect(r.ok).toBe(true);
  if (!r.ok) return;
  expect(r.config).toMatchObject({
    PORT: 3000,
    HOST: "0.0.0.0",
    DATA_DIR: "./data",
    SESSION_EXPIRY_SECONDS: 1200,
    MAX_MESSAGES_PER_SESSION: 1000,
    SESSION_CACHE_MAX_SESSIONS: 10000,
    SESSION_SWEEP_INTERVAL_SECONDS: 30,
    DB_SYNCHRONOUS: "normal",
    MAX_MESSAGE_BYTES: 65536,
    LOG_LEVEL: "info",
    JWT_ALGORITHM: "HS256",
  });
});

test("a CLI flag overrides the environment", () => {
  const r = loadConfig({ PORT: "1000" }, { PORT: "2000" });
  expect(r.ok && r.config.PORT).toBe(2000);
});

test("every setting is documented in docs/configuration.md", () => {
  const doc = readFileSync(join(ROOT, "docs", "configuration.md"), "utf8");
  for (const name of Object.keys(configSchema.shape)) expect(doc).toContain(`\`${name}\``);
});

test("--help lists the commands and every setting", async () => {
  const proc = Bun.spawn([process.execPath, MAIN, "--help"], { env: { PATH: process.env.PATH ?? "" }, stdout: "pipe" });
  const out = await new Response(proc.stdout).text();
  expect(await proc.exited).toBe(0);
  for (const cmd of ["serve", "migrate", "token", "backup", "version"]) expect(out).toContain(cmd);
  for (const name of Object.keys(configSchema.shape)) expect(out).toContain(name);
});
