// Applies the SQL migrations in drizzle/, embedded in the build so the single binary needs no files beside it.
import type { Database } from "bun:sqlite";
import { drizzle } from "drizzle-orm/bun-sqlite";
import type { MigrationMeta } from "drizzle-orm/migrator";
import journal from "../../drizzle/meta/_journal.json";
import m0000 from "../../drizzle/0000_init.sql" with { type: "text" };
import m0001 from "../../drizzle/0001_ai.sql" with { type: "text" };
import m0002 from "../../drizzle/0002_integrations.sql" with { type: "text" };
import m0003 from "../../drizzle/0003_privacy.sql" with { type: "text" };
import m0004 from "../../drizzle/0004_messages_without_rowid.sql" with { type: "text" };

/** Every migration file, in journal order. A new `drizzle-kit generate` output must be added here. */
const EMBEDDED_SQL: Record<string, string> = {
  "0000_init": m0000,
  "0001_ai": m0001,
  "0002_integrations": m0002,
  "0003_privacy": m0003,
  "0004_messages_without_rowid": m0004,
};

/** The embedded migrations in the form drizzle's migrator takes; throws if the journal and the files disagree. */
export function embeddedMigrations(): MigrationMeta[] {
  const entries = journal.entries;
  if (entries.length !== Object.keys(EMBEDDED_SQL).length) {
    throw new Error(
      `the build embeds ${Object.keys(EMBEDDED_SQL).length} migrations but drizzle/meta/_journal.json lists ${entries.length}`,
    );
  }
  return entries.map((entry) => {
    const sqlText = EMBEDDED_SQL[entry.tag];
    if (sqlText === undefined) throw new Error(`migration ${entry.tag} is listed in the journal but not embedded`);
    return {
      sql: sqlText.split("--> statement-breakpoint"),
      bps: entry.breakpoints,
      folderMillis: entry.when,
      hash: new Bun.CryptoHasher("sha256").update(sqlText).digest("hex"),
    };
  });
}

/** Applies pending migrations; returns how many were applied. Idempotent. */
export function migrate(sqlite: Database): number {
  const migrations = embeddedMigrations();
  const before = appliedCount(sqlite);
  // Nothing pending: no transaction, and above all no foreign key check, which reads every row (seconds on a
  // database of millions of messages, at every start).
  if (before >= migrations.length) return 0;
  // The migrator runs inside one transaction where PRAGMA foreign_keys is a no-op, so a table rebuild could
  // cascade-delete child rows: switch the checks off around it and verify afterwards.
  sqlite.run("PRAGMA foreign_keys = OFF");
  try {
    // drizzle's own migrate() reads files from disk; its dialect applies the same migrations from memory.
    const db = drizzle({ client: sqlite }) as unknown as {
      dialect: { migrate(m: MigrationMeta[], session: unknown, config: { migrationsFolder: string }): void };
      session: unknown;
    };
    db.dialect.migrate(migrations, db.session, { migrationsFolder: "(embedded)" });
    const violations = sqlite.query("PRAGMA foreign_key_check").all();
    if (violations.length > 0) throw new Error(`migration left ${violations.length} foreign key violations`);
  } finally {
    sqlite.run("PRAGMA foreign_keys = ON");
  }
  return appliedCount(sqlite) - before;
}

function appliedCount(sqlite: Database): number {
  const table = sqlite.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'").get();
  if (!table) return 0;
  return (sqlite.query("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number }).n;
}
