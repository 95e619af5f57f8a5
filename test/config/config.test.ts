import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { configSchema, describeConfig, loadConfig, redactUrl } from "../../src/config/index.ts";
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
    ["TRUSTED_PROXIES", "10.0.0.0/8,proxy.internal", 'config: TRUSTED_PROXIES="10.0.0.0/8,proxy.internal" is invalid: expected IP addresses or CIDR ranges, comma-separated ("proxy.internal" is neither; e.g. 10.0.0.0/8,192.168.1.5,fd00::/8)'],
    ["TRUSTED_PROXIES", "10.0.0.0/33", 'config: TRUSTED_PROXIES="10.0.0.0/33" is invalid: expected IP addresses or CIDR ranges, comma-separated ("10.0.0.0/33" is neither; e.g. 10.0.0.0/8,192.168.1.5,fd00::/8)'],
    ["ROOM_ACCESS_DEFAULT", "public", 'config: ROOM_ACCESS_DEFAULT="public" is invalid: expected one of "private", "open"'],
    ["END_ON_DISCONNECT_GRACE_SECONDS", "soon", 'config: END_ON_DISCONNECT_GRACE_SECONDS="soon" is invalid: expected a whole number'],
    ["SESSION_CREATE", "never", 'config: SESSION_CREATE="never" is invalid: expected one of "join", "api"'],
    // Connection URLs are shown with the password replaced; one that is not a URL but holds an @ is hidden.
    ["DATABASE_URL", "mysql://app:hunter2pw@db:3306/sessiond", 'config: DATABASE_URL="mysql://app:***@db:3306/sessiond" is invalid: expected a postgres:// or postgresql:// URL with a host (for example postgres://sessiond:secret@db.internal:5432/sessiond)'],
    ["DATABASE_URL", "app:hunter2pw@db/sessiond", "config: DATABASE_URL=(hidden) is invalid: expected a postgres:// or postgresql:// URL with a host (for example postgres://sessiond:secret@db.internal:5432/sessiond)"],
    ["DATABASE_URL", "postgres:///sessiond?password=hunter2pw", 'config: DATABASE_URL="postgres:///sessiond?password=***" is invalid: expected a postgres:// or postgresql:// URL with a host (for example postgres://sessiond:secret@db.internal:5432/sessiond)'],
    ["DATABASE_POOL_SIZE", "0", 'config: DATABASE_POOL_SIZE="0" is invalid: expected a number at least 1'],
    ["DATABASE_POOL_SIZE", "many", 'config: DATABASE_POOL_SIZE="many" is invalid: expected a whole number'],
    ["REDIS_URL", "http://:hunter2pw@cache:6379", 'config: REDIS_URL="http://:***@cache:6379/" is invalid: expected a redis:// or rediss:// URL with a host (for example redis://cache.internal:6379)'],
    ["REDIS_URL", "cache:6379", 'config: REDIS_URL="cache:6379" is invalid: expected a redis:// or rediss:// URL with a host (for example redis://cache.internal:6379)'],
    ["CLUSTER", "maybe", 'config: CLUSTER="maybe" is invalid: expected one of "0", "1", "true", "false", "yes", "no"'],
  ];
  for (const [name, value, line] of cases) {
    test(`${name}=${value}`, async () => {
      const { code, stderr, stdout } = await startWith({ [name]: value });
      expect(code).toBe(1);
      expect(stderr.trim()).toBe(line);
      expect(stderr).not.toContain("    at ");
      expect(stdout).not.toContain("server.started");
      if (name === "JWT_SECRET") expect(stderr).not.toContain("short");
      expect(stderr).not.toContain("hunter2pw");
    });
  }

  test("several bad settings give one line each", async () => {
    const { code, stderr } = await startWith({ PORT: "x", HEARTBEAT_INTERVAL_SECONDS: "0" });
    expect(code).toBe(1);
    expect(stderr.trim().split("\n")).toHaveLength(2);
  });

  test("CLUSTER=true without PostgreSQL and Redis refuses to start, naming what is missing", async () => {
    const why = "(the nodes of a cluster share one PostgreSQL database and one Redis; without them each node would keep its own sessions)";
    const neither = await startWith({ CLUSTER: "true" });
    expect(neither.code).toBe(1);
    expect(neither.stderr).toBe(`config: CLUSTER=true is invalid: expected DATABASE_URL and REDIS_URL to be set as well ${why}\n`);
    const noRedis = await startWith({ CLUSTER: "true", DATABASE_URL: "postgres://app:hunter2pw@127.0.0.1:1/sessiond" });
    expect(noRedis.code).toBe(1);
    expect(noRedis.stderr).toBe(`config: CLUSTER=true is invalid: expected REDIS_URL to be set as well ${why}\n`);
    expect(loadConfig({ CLUSTER: "true", REDIS_URL: "redis://cache:6379" })).toEqual({
      ok: false,
      errors: [`config: CLUSTER=true is invalid: expected DATABASE_URL to be set as well ${why}`],
    });
    expect(loadConfig({ CLUSTER: "true", REDIS_URL: "redis://cache:6379", DATABASE_URL: "postgresql://db/sessiond" }).ok).toBe(true);
    // PostgreSQL alone is a valid single node.
    expect(loadConfig({ DATABASE_URL: "postgres://db/sessiond" }).ok).toBe(true);
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

test("the engines in the start-up summary: selected by the URLs, passwords replaced", () => {
  const r = loadConfig({
    DATABASE_URL: "postgres://app:hunter2pw@db:5432/sessiond?sslmode=require&password=hunter2pw",
    REDIS_URL: "rediss://default:hunter2pw@cache:6380/0",
    CLUSTER: "true",
  });
  expect(r.ok).toBe(true);
  if (!r.ok) return;
  const summary = describeConfig(r.config);
  expect(summary).toMatchObject({
    store: "postgres",
    database: "postgres://app:***@db:5432/sessiond?sslmode=require&password=***",
    databasePoolSize: 10,
    broker: "redis",
    redis: "rediss://default:***@cache:6380/0",
    cluster: true,
  });
  expect(JSON.stringify(summary)).not.toContain("hunter2pw");
  const plain = loadConfig({});
  expect(plain.ok && describeConfig(plain.config)).toMatchObject({ store: "sqlite", broker: "in-process", cluster: false, synchronous: "normal" });
});

test("redactUrl keeps everything but the password", () => {
  expect(redactUrl("postgres://app:s3cret@db:5432/sessiond")).toBe("postgres://app:***@db:5432/sessiond");
  expect(redactUrl("redis://:s3cret@cache:6379")).toBe("redis://:***@cache:6379");
  expect(redactUrl("postgres://app@db/sessiond")).toBe("postgres://app@db/sessiond");
  expect(redactUrl("postgres://app:p@ss@db/sessiond")).toBe("postgres://app:***@db/sessiond");
  expect(redactUrl("not a url")).toBe("not a url");
  expect(redactUrl("app:s3cret@db")).toBe("(hidden)");
  expect(redactUrl("postgres:///sessiond?host=/run/postgresql&password=s3cret")).toBe("postgres:///sessiond?host=%2Frun%2Fpostgresql&password=***");
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
