// Applies the PostgreSQL migrations in drizzle/pg/, embedded in the build like the SQLite ones (src/db/migrate.ts),
// under an advisory lock so that nodes starting at once migrate once. Bookkeeping is drizzle's own table
// (drizzle.__drizzle_migrations: hash, created_at), so drizzle-kit sees the same history.
import type { SQL } from "bun";
import journal from "../../drizzle/pg/meta/_journal.json";
import m0000 from "../../drizzle/pg/0000_init.sql" with { type: "text" };
import m0001 from "../../drizzle/pg/0001_meta.sql" with { type: "text" };
import m0002 from "../../drizzle/pg/0002_analysis.sql" with { type: "text" };
import m0003 from "../../drizzle/pg/0003_assistant.sql" with { type: "text" };
import m0005 from "../../drizzle/pg/0005_privacy.sql" with { type: "text" };
import m0006 from "../../drizzle/pg/0006_archive.sql" with { type: "text" };
import m0007 from "../../drizzle/pg/0007_webhooks.sql" with { type: "text" };

/** Every migration file, in journal order. A new `npm run db:generate:pg` output must be added here. */
const EMBEDDED_SQL: Record<string, string> = {
  "0000_init": m0000,
  "0001_meta": m0001,
  "0002_analysis": m0002,
  "0003_assistant": m0003,
  "0005_privacy": m0005,
  "0006_archive": m0006,
  "0007_webhooks": m0007,
};

/** Any fixed 64-bit key, the same on every node: "sessiond migrate" as digits. */
const MIGRATION_LOCK_KEY = 5_353_010_100_000_001n;

export interface PgMigration {
  tag: string;
  statements: string[];
  folderMillis: number;
  hash: string;
}

/** The embedded migrations, in order; throws if the journal and the embedded files disagree. */
export function embeddedPgMigrations(): PgMigration[] {
  const entries = journal.entries;
  if (entries.length !== Object.keys(EMBEDDED_SQL).length) {
    throw new Error(
      `the build embeds ${Object.keys(EMBEDDED_SQL).length} PostgreSQL migrations but drizzle/pg/meta/_journal.json lists ${entries.length}`,
    );
  }
  return entries.map((entry) => {
    const sqlText = EMBEDDED_SQL[entry.tag];
    if (sqlText === undefined) throw new Error(`PostgreSQL migration ${entry.tag} is listed in the journal but not embedded`);
    return {
      tag: entry.tag,
      statements: sqlText.split("--> statement-breakpoint").map((s) => s.trim()).filter((s) => s.length > 0),
      folderMillis: entry.when,
      hash: new Bun.CryptoHasher("sha256").update(sqlText).digest("hex"),
    };
  });
}

/**
 * Applies pending migrations in one transaction that first takes a transaction-scoped advisory lock: a second node
 * waits for the first to commit, then finds nothing pending. Returns how many this call applied. Like drizzle's
 * migrator, a migration is pending when its timestamp is after the last applied one.
 */
export async function migratePostgres(sql: SQL): Promise<number> {
  const migrations = embeddedPgMigrations();
  return await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY.toString()}::bigint)`;
    await tx.unsafe("CREATE SCHEMA IF NOT EXISTS drizzle");
    await tx.unsafe("CREATE TABLE IF NOT EXISTS drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)");
    const [last] = await tx`SELECT created_at FROM drizzle.__drizzle_migrations ORDER BY created_at DESC LIMIT 1`;
    const lastAt = last ? Number(last.created_at) : -1;
    let applied = 0;
    for (const m of migrations) {
      if (m.folderMillis <= lastAt) continue;
      for (const statement of m.statements) await tx.unsafe(statement);
      await tx`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES (${m.hash}, ${m.folderMillis})`;
      applied++;
    }
    return applied;
  });
}
