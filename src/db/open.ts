// Opens the one SQLite file with the pragmas the write path relies on.
import { Database } from "bun:sqlite";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

export interface OpenOptions {
  /** NORMAL survives a process crash; FULL also survives power loss. @default "normal" */
  synchronous?: "normal" | "full";
  readonly?: boolean;
  /**
   * WAL size, in pages, at which a commit checkpoints; 0 turns that off (the server checkpoints from a worker thread,
   * see checkpointer.ts, because a checkpoint in a commit blocks the event loop for tens of ms). @default 1000
   */
  walAutoCheckpoint?: number;
}

export const DATABASE_FILE = "sessiond.db";

/** The database file inside a data directory. */
export const databasePath = (dataDir: string): string => join(dataDir, DATABASE_FILE);

/**
 * Opens (creating if needed) the database in WAL mode. One connection serves every write in the process:
 * bun:sqlite is synchronous, so a second writer would block the event loop on the lock.
 */
export function openDatabase(path: string, { synchronous = "normal", readonly = false, walAutoCheckpoint = 1000 }: OpenOptions = {}): Database {
  if (!readonly) {
    // A new data folder is the owner's alone; an existing one keeps the mode its operator gave it.
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // Created empty with mode 0600 before SQLite opens it, so the file is never readable by others, whatever the umask.
    if (!existsSync(path)) closeSync(openSync(path, "a", 0o600));
    restrictToOwner(path);
  }
  const sqlite = readonly ? new Database(path, { readonly: true, strict: true }) : new Database(path, { create: true, strict: true });
  if (!readonly) {
    sqlite.run("PRAGMA journal_mode = WAL");
    // Deleted content is overwritten with zeros, not just unlinked: erasure must leave no readable bytes behind.
    sqlite.run("PRAGMA secure_delete = ON");
    // SQLite creates -wal and -shm with the database file's mode; tighten them too in case they predate this.
    for (const suffix of ["-wal", "-shm"]) if (existsSync(path + suffix)) restrictToOwner(path + suffix);
  }
  sqlite.run(`PRAGMA synchronous = ${synchronous === "full" ? "FULL" : "NORMAL"}`);
  sqlite.run("PRAGMA foreign_keys = ON");
  // No wait at all: the API is synchronous, so any wait for another process's lock would block the whole event loop.
  // A refused commit is retried on a timer instead (group-commit.ts); other writes answer `unavailable` at once.
  sqlite.run("PRAGMA busy_timeout = 0");
  sqlite.run(`PRAGMA wal_autocheckpoint = ${Math.max(0, Math.floor(walAutoCheckpoint))}`);
  sqlite.run("PRAGMA journal_size_limit = 67108864");
  sqlite.run("PRAGMA temp_store = MEMORY");
  sqlite.run("PRAGMA cache_size = -32000");
  return sqlite;
}

/** Sets mode 0600 (owner read/write only) unless the file already has it: the data may be clinical. */
export function restrictToOwner(path: string): void {
  if ((statSync(path).mode & 0o777) !== 0o600) chmodSync(path, 0o600);
}

/**
 * Checkpoints the WAL into the main file, updates planner statistics and closes; for shutdown. Never throws: a
 * checkpoint that fails (a full disk, a foreign lock) loses nothing, since the WAL stays and is replayed on the next
 * open, so it is returned for the caller to log as a warning. Null when everything succeeded.
 */
export function closeDatabase(sqlite: Database): unknown {
  let failure: unknown = null;
  try {
    sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
    sqlite.run("PRAGMA optimize");
  } catch (e) {
    failure = e;
  }
  try {
    sqlite.close();
  } catch (e) {
    failure ??= e;
  }
  return failure;
}
