// Opens the one SQLite file with the pragmas the write path relies on.
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";

export interface OpenOptions {
  /** NORMAL survives a process crash; FULL also survives power loss. @default "normal" */
  synchronous?: "normal" | "full";
  readonly?: boolean;
}

export const DATABASE_FILE = "sessiond.db";

/** The database file inside a data directory. */
export const databasePath = (dataDir: string): string => join(dataDir, DATABASE_FILE);

/**
 * Opens (creating if needed) the database in WAL mode. One connection serves every write in the process:
 * bun:sqlite is synchronous, so a second writer would block the event loop on the lock.
 */
export function openDatabase(path: string, { synchronous = "normal", readonly = false }: OpenOptions = {}): Database {
  if (!readonly) mkdirSync(dirname(path), { recursive: true });
  const sqlite = readonly ? new Database(path, { readonly: true, strict: true }) : new Database(path, { create: true, strict: true });
  if (!readonly) sqlite.run("PRAGMA journal_mode = WAL");
  sqlite.run(`PRAGMA synchronous = ${synchronous === "full" ? "FULL" : "NORMAL"}`);
  sqlite.run("PRAGMA foreign_keys = ON");
  // Short on purpose: a wait here blocks the whole event loop (the API is synchronous).
  sqlite.run("PRAGMA busy_timeout = 100");
  sqlite.run("PRAGMA journal_size_limit = 67108864");
  sqlite.run("PRAGMA temp_store = MEMORY");
  sqlite.run("PRAGMA cache_size = -32000");
  return sqlite;
}

/** Checkpoints the WAL into the main file and updates planner statistics; for shutdown. */
export function closeDatabase(sqlite: Database): void {
  try {
    sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
    sqlite.run("PRAGMA optimize");
  } finally {
    sqlite.close();
  }
}
