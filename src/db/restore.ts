// `sessiond restore <file>`: checks that the file is a sessiond database this build can migrate, that no server
// has the data folder's database open, then puts a consistent copy in place with a new epoch (mode 0600). The
// database it replaces is kept beside it, renamed, for the operator to delete once satisfied.
import { Database } from "bun:sqlite";
import { closeSync, existsSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { AuditRecord } from "../privacy/audit-chain.ts";
import { AuditStore } from "./audit-store.ts";
import { renewEpoch } from "./meta-store.ts";
import { embeddedMigrations, migrate } from "./migrate.ts";
import { openDatabase, restrictToOwner } from "./open.ts";

/**
 * Whether another connection has the database open (a running server holds one for its whole life). Switching
 * a WAL database out of WAL mode needs every other connection gone, so SQLite refuses it with SQLITE_BUSY while
 * one exists, across processes and containers sharing the folder. Leaves an unused database in DELETE mode
 * (the next normal open turns WAL back on).
 */
export function isDatabaseInUse(path: string): boolean {
  if (!existsSync(path)) return false;
  const probe = new Database(path, { strict: true });
  try {
    probe.run("PRAGMA busy_timeout = 0");
    const mode = probe.query<{ journal_mode: string }, []>("PRAGMA journal_mode = DELETE").get()?.journal_mode;
    return mode !== "delete";
  } catch (e) {
    if (String((e as { code?: unknown }).code ?? "").startsWith("SQLITE_BUSY")) return true;
    throw e;
  } finally {
    probe.close(true);
  }
}

export type SourceCheck = { ok: true; applied: number } | { ok: false; error: string };

/** Whether `file` is a sessiond database whose migrations are all known to this build. */
export function checkRestoreSource(file: string): SourceCheck {
  if (!existsSync(file)) return { ok: false, error: `no such file: ${file}` };
  if (!statSync(file).isFile()) return { ok: false, error: `${file} is not a file` };
  let db: Database;
  try {
    db = new Database(file, { readonly: true, strict: true });
  } catch {
    return { ok: false, error: `${file} is not a sessiond database (it cannot be opened as SQLite)` };
  }
  try {
    let tables: Set<string>;
    try {
      tables = new Set(db.query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((r) => r.name));
    } catch {
      return { ok: false, error: `${file} is not a sessiond database (it is not an SQLite file)` };
    }
    for (const t of ["__drizzle_migrations", "sessions", "messages"]) {
      if (!tables.has(t)) return { ok: false, error: `${file} is not a sessiond database (it has no ${t} table)` };
    }
    const known = new Map(embeddedMigrations().map((m) => [m.folderMillis, m.hash]));
    const applied = db.query<{ hash: string; created_at: number }, []>("SELECT hash, created_at FROM __drizzle_migrations ORDER BY created_at").all();
    for (const row of applied) {
      const hash = known.get(Number(row.created_at));
      if (hash === undefined) {
        return { ok: false, error: `${file} was written by a newer sessiond (its schema has a migration this version does not know); restore it with that version or later` };
      }
      if (hash !== row.hash) return { ok: false, error: `${file} has a schema this sessiond does not recognise (a migration differs); it cannot be restored with this version` };
    }
    const check = db.query<{ quick_check: string }, []>("PRAGMA quick_check").get();
    if (check?.quick_check !== "ok") return { ok: false, error: `${file} is damaged (SQLite's quick_check failed); restore another backup` };
    return { ok: true, applied: applied.length };
  } finally {
    db.close(true);
  }
}

export interface RestoreOptions {
  /** Refuses the restore when it returns a sentence (e.g. the configured key cannot read the backup). */
  check?: (db: Database) => string | null;
  /** Who restored it, for the restored database's audit trail. */
  actor: Pick<AuditRecord, "actorId" | "actorRole" | "address">;
  now?: number;
}

export type RestoreResult =
  | { ok: true; epoch: string; migrated: number; previous: string | null }
  | { ok: false; error: string };

/** Restores `file` as the database at `target`; nothing is changed unless every check passed. */
export function restoreDatabase(file: string, target: string, { check, actor, now = Date.now() }: RestoreOptions): RestoreResult {
  const source = checkRestoreSource(file);
  if (!source.ok) return source;
  if (resolve(file) === resolve(target)) return { ok: false, error: "the backup is the live database itself; give the path of a backup file" };
  if (isDatabaseInUse(target)) {
    return { ok: false, error: `a server has ${target} open; stop it before restoring (a running server's database is never overwritten)` };
  }
  const staging = `${target}.restoring`;
  for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(staging + suffix, { force: true });
  try {
    closeSync(openSync(staging, "wx", 0o600));
    restrictToOwner(staging);
    const from = new Database(file, { readonly: true, strict: true });
    try {
      from.query("VACUUM INTO ?").run(staging);
    } finally {
      from.close(true);
    }
    const db = openDatabase(staging);
    let epoch: string;
    let migrated: number;
    try {
      const refusal = check?.(db) ?? null;
      if (refusal !== null) return fail(staging, db, refusal);
      migrated = migrate(db);
      epoch = renewEpoch(db);
      new AuditStore(db).append([{ ...actor, at: now, action: "database.restore", objectType: "database", objectId: "sessiond.db", detail: { migrated, epoch } }]);
    } catch (e) {
      return fail(staging, db, e instanceof Error ? e.message : String(e));
    }
    closeFully(db);
    let previous: string | null = null;
    if (existsSync(target)) {
      previous = `${target}.before-restore-${new Date(now).toISOString().replace(/[:.]/g, "-")}`;
      renameSync(target, previous);
      for (const suffix of ["-wal", "-shm", "-journal"]) rmSync(target + suffix, { force: true });
    }
    renameSync(staging, target);
    restrictToOwner(target);
    return { ok: true, epoch, migrated, previous };
  } catch (e) {
    for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(staging + suffix, { force: true });
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * Checkpoints and closes, finalizing statements first: a plain close() leaves a connection with unfinalized
 * statements (the migrator's) open in the background, still holding its locks on the file.
 */
function closeFully(db: Database): void {
  db.run("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close(true);
}

function fail(staging: string, db: Database, error: string): { ok: false; error: string } {
  db.close(true);
  for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(staging + suffix, { force: true });
  return { ok: false, error };
}
