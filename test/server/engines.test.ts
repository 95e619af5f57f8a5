// openEngines, readOrCreateEpoch and `sessiond migrate` against a real PostgreSQL and a real Redis that this file
// starts (test/engines/*.ts): good URLs open, nodes starting at once migrate once and share one epoch, an unreachable
// engine is one readable line without the password.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadConfig, type Config } from "../../src/config/index.ts";
import { embeddedPgMigrations } from "../../src/pg/migrate.ts";
import { EngineStartError, openEngines, readOrCreateEpoch, type Engines } from "../../src/server/engines.ts";
import type { BrokerEvent } from "../../src/sessions/broker.ts";
import { startPostgres, type PostgresEngine } from "../engines/postgres.ts";
import { startRedis, type RedisEngine } from "../engines/redis.ts";
import { eventually, freePort, MAIN, tempDir } from "../helpers.ts";

let pg: PostgresEngine;
let redis: RedisEngine;
const opened: Engines[] = [];

beforeAll(async () => {
  [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
});

afterAll(async () => {
  for (const e of opened.splice(0)) await e.close();
  await Promise.all([pg?.stop(), redis?.stop()]);
});

/** A new, empty (unmigrated) database on the file's server. */
async function emptyDatabase(): Promise<string> {
  const name = `e_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
  const admin = new SQL({ url: pg.url, max: 1 });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.close();
  return pg.url.replace(/\/[^/]+$/, `/${name}`);
}

function configOf(env: Record<string, string>): Config {
  const r = loadConfig({ DATA_DIR: tempDir(), ...env });
  if (!r.ok) throw new Error(r.errors.join("\n"));
  return r.config;
}

async function open(env: Record<string, string>, connectTimeoutMs?: number): Promise<Engines> {
  const engines = await openEngines(configOf(env), { connectTimeoutMs });
  opened.push(engines);
  return engines;
}

/** The error openEngines throws (it must throw). */
async function startFailure(env: Record<string, string>, connectTimeoutMs = 1000): Promise<EngineStartError> {
  try {
    opened.push(await openEngines(configOf(env), { connectTimeoutMs }));
  } catch (e) {
    expect(e).toBeInstanceOf(EngineStartError);
    return e as EngineStartError;
  }
  throw new Error("openEngines did not fail");
}

const MIGRATIONS = embeddedPgMigrations().length;
const withPassword = (url: string, password: string) => url.replace("postgres://postgres@", `postgres://postgres:${password}@`);

describe("openEngines", () => {
  test("nothing set: SQLite and the in-process broker, nothing to connect", async () => {
    const engines = await open({});
    expect(engines.postgres).toBeNull();
    expect(engines.redis).toBeNull();
    expect(engines.broker.healthy()).toBe(true);
    await engines.close();
  });

  test("good URLs open: a migrated, checked pool with an epoch; a subscribed broker; presence and limiter on Redis", async () => {
    const url = await emptyDatabase();
    const engines = await open({ DATABASE_URL: url, REDIS_URL: redis.url, DATABASE_POOL_SIZE: "3", CLUSTER: "true" });
    const postgres = engines.postgres!;
    expect(postgres.migrationsApplied).toBe(MIGRATIONS);
    expect(postgres.epoch).toMatch(/^[0-9a-f]{16}$/);
    expect(postgres.serverVersion).toMatch(/^\d+/);
    expect(Number((await postgres.sql`SELECT count(*)::int AS n FROM sessions`)[0].n)).toBe(0);

    // Subscribed before the node hands over its fan-out: after start(handler) its own publications come back.
    expect(engines.broker.healthy()).toBe(true);
    const heard: BrokerEvent[] = [];
    await engines.broker.start({ deliver: (event) => heard.push(event) });
    engines.broker.publish({ type: "session", change: "erased", sessionId: "s-1" });
    await eventually(() => heard.length === 1, 5000, "the event back from Redis");
    expect(heard[0]).toEqual({ type: "session", change: "erased", sessionId: "s-1" });

    const { presence, limiter } = engines.redis!;
    await presence.start();
    expect(await presence.attach("s-1", "alice")).toBe(true);
    expect(await presence.users("s-1")).toEqual(["alice"]);
    expect(await limiter.take("alice", Date.now())).toBe(0);

    await engines.close();
    expect(engines.broker.healthy()).toBe(false);
    await eventually(() => engines.redis!.connection.status === "end", 2000, "the Redis connection closed");
    // The pool is closed: a query now fails.
    await expect(postgres.sql`SELECT 1`).rejects.toThrow();
    await engines.close(); // idempotent
  });

  test("two nodes opening one fresh database at once migrate it once and get the same epoch", async () => {
    const url = await emptyDatabase();
    const [a, b] = await Promise.all([open({ DATABASE_URL: url }), open({ DATABASE_URL: url })]);
    expect([a.postgres!.migrationsApplied, b.postgres!.migrationsApplied].sort()).toEqual([0, MIGRATIONS]);
    expect(a.postgres!.epoch).toBe(b.postgres!.epoch);
    const rows = await a.postgres!.sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`;
    expect(rows[0].n).toBe(MIGRATIONS);
    // A later node finds nothing to do and the same epoch.
    const c = await open({ DATABASE_URL: url });
    expect(c.postgres!.migrationsApplied).toBe(0);
    expect(c.postgres!.epoch).toBe(a.postgres!.epoch);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  test("an unreachable PostgreSQL is one line naming host:port, never the password", async () => {
    const port = freePort();
    const e = await startFailure({ DATABASE_URL: `postgres://app:hunter2secret@127.0.0.1:${port}/sessiond` });
    expect(e.message).toBe(
      `database: PostgreSQL at 127.0.0.1:${port} refused the connection (connection refused); check that it is running and that DATABASE_URL names it`,
    );
    expect(e.message).not.toContain("hunter2");
  });

  test("a server that refuses the database is one line with the server's reason", async () => {
    const url = pg.url.replace(/\/[^/]+$/, "/no_such_database");
    const e = await startFailure({ DATABASE_URL: withPassword(url, "hunter2secret") });
    expect(e.message).toBe(
      `database: PostgreSQL at 127.0.0.1:${pg.port} refused sessiond: database "no_such_database" does not exist (SQLSTATE 3D000); check the user, password and database in DATABASE_URL`,
    );
    expect(e.message).not.toContain("hunter2");
  });

  test("an unreachable Redis is one line naming host:port, never the password; PostgreSQL opened before it is closed", async () => {
    const url = await emptyDatabase();
    const port = freePort();
    const started = Date.now();
    const e = await startFailure({ DATABASE_URL: url, REDIS_URL: `redis://:hunter2secret@127.0.0.1:${port}` }, 1000);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(e.message).toBe(`redis: Redis at 127.0.0.1:${port} refused the connection (connection refused); check that it is running and that REDIS_URL names it`);
    expect(e.message).not.toContain("hunter2");
    // The pool opened for PostgreSQL was closed: no connection of ours is left on the server.
    const admin = new SQL({ url: pg.url, max: 1 });
    const name = url.slice(url.lastIndexOf("/") + 1);
    await eventually(async () => (await admin`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ${name}`)[0].n === 0, 5000, "the pool closed");
    await admin.close();
  });

  test("a Redis that refuses the password is one line with its reason, never the password", async () => {
    const port = freePort();
    const proc = Bun.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", "rightpassword"], {
      cwd: tempDir(),
      stdout: "ignore",
      stderr: "ignore",
    });
    try {
      await eventually(() => isListening(port), 5000, "redis-server listening");
      const e = await startFailure({ REDIS_URL: `redis://:hunter2secret@127.0.0.1:${port}` }, 1500);
      expect(e.message).toBe(`redis: Redis at 127.0.0.1:${port} refused sessiond: WRONGPASS invalid username-password pair or user is disabled; check the user, password and database in REDIS_URL`);
      expect(e.message).not.toContain("hunter2");
    } finally {
      proc.kill("SIGKILL");
      await proc.exited;
    }
  });
});

/** Whether something accepts TCP connections on the port. */
async function isListening(port: number): Promise<boolean> {
  try {
    const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

describe("readOrCreateEpoch", () => {
  test("concurrent first calls on a fresh database (separate pools, as separate nodes) return the same id", async () => {
    const url = await emptyDatabase();
    const setup = await open({ DATABASE_URL: url });
    // open() created the epoch already: each round below removes it to race the first creation for real.
    const pools = Array.from({ length: 6 }, () => new SQL({ url, max: 1 }));
    try {
      await Promise.all(pools.map((p) => p`SELECT 1`));
      // Several rounds: each starts from a database without an epoch, every pool racing to create it.
      for (let round = 0; round < 5; round++) {
        await pools[0]!`DELETE FROM sessiond_meta WHERE key = 'epoch'`;
        const epochs = await Promise.all(pools.map((p) => readOrCreateEpoch(p)));
        expect(new Set(epochs).size).toBe(1);
        expect(epochs[0]).toMatch(/^[0-9a-f]{16}$/);
        expect(await readOrCreateEpoch(pools[0]!)).toBe(epochs[0]!);
      }
    } finally {
      await Promise.all(pools.map((p) => p.close()));
      await setup.close();
    }
  });
});

describe("sessiond migrate", () => {
  const migrate = async (env: Record<string, string>) => {
    const dataDir = tempDir();
    const proc = Bun.spawn([process.execPath, MAIN, "migrate"], { env: { PATH: process.env.PATH ?? "", DATA_DIR: dataDir, ...env }, stdout: "pipe", stderr: "pipe" });
    const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    return { code, stdout, stderr, dataDir };
  };

  test("with DATABASE_URL it applies the PostgreSQL migrations once, and creates no SQLite file", async () => {
    const url = await emptyDatabase();
    const first = await migrate({ DATABASE_URL: url });
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(`migrations applied: ${MIGRATIONS}\n`);
    expect(existsSync(join(first.dataDir, "sessiond.db"))).toBe(false);
    const again = await migrate({ DATABASE_URL: url });
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("migrations applied: 0\n");
    const sql = new SQL({ url, max: 1 });
    expect((await sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`)[0].n).toBe(MIGRATIONS);
    await sql.close();
  });

  test("without it, SQLite's in DATA_DIR as before", async () => {
    const r = await migrate({});
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^migrations applied: [1-9]\d*\n$/);
    expect(existsSync(join(r.dataDir, "sessiond.db"))).toBe(true);
  });

  test("an unreachable PostgreSQL: exit 1, one line, no stack, no password", async () => {
    const port = freePort();
    const r = await migrate({ DATABASE_URL: `postgresql://app:hunter2secret@127.0.0.1:${port}/sessiond` });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `database: PostgreSQL at 127.0.0.1:${port} refused the connection (connection refused); check that it is running and that DATABASE_URL names it\n`,
    );
    expect(r.stdout).toBe("");
  });
});
