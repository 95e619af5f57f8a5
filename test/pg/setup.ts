// One PostgreSQL server per test file, a fresh migrated database per test (CREATE DATABASE is far cheaper than
// initdb), and stores over their own Bun.SQL pools, each standing for one node.
import { afterAll } from "bun:test";
import { SQL } from "bun";
import { startPostgres, type PostgresEngine } from "../engines/postgres.ts";
import { migratePostgres } from "../../src/pg/migrate.ts";
import { PgSessionStore, type PgStoreOptions } from "../../src/pg/session-store.ts";

let engine: Promise<PostgresEngine> | null = null;
const pools: SQL[] = [];

/** The file's server, started on first use and stopped after its tests. */
export function server(): Promise<PostgresEngine> {
  engine ??= startPostgres();
  return engine;
}

afterAll(async () => {
  for (const p of pools.splice(0)) await p.close({ timeout: 2 }).catch(() => {});
  if (engine) await (await engine).stop();
  engine = null;
});

/** A URL for a new, empty, migrated database on the file's server. */
export async function freshDatabase(): Promise<string> {
  const pg = await server();
  const name = `d_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
  const admin = new SQL({ url: pg.url, max: 1 });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.close();
  const url = pg.url.replace(/\/[^/]+$/, `/${name}`);
  const sql = pool(url, 1);
  await migratePostgres(sql);
  return url;
}

/** A pool (closed after the file's tests if not before). */
export function pool(url: string, max = 4): SQL {
  // Idle connections go after 2 s: the pools of earlier tests must not use up the server's connections.
  const sql = new SQL({ url, max, connectionTimeout: 3, idleTimeout: 2 });
  pools.push(sql);
  return sql;
}

/** A store (one node) over its own pool. */
export function node(url: string, options: PgStoreOptions = {}): PgSessionStore {
  return new PgSessionStore(pool(url), options);
}
