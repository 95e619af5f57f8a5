// Reading a data folder's files as bytes, for tests that look for a value that must not be on disk.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** The database file and its WAL as bytes. */
export function diskBytes(dataDir: string): { db: Buffer; wal: Buffer } {
  const path = join(dataDir, "sessiond.db");
  return { db: readFileSync(path), wal: existsSync(`${path}-wal`) ? readFileSync(`${path}-wal`) : Buffer.alloc(0) };
}

/** Whether `marker` is anywhere in the database file or its WAL. */
export function onDisk(dataDir: string, marker: string): boolean {
  const { db, wal } = diskBytes(dataDir);
  return db.includes(marker) || wal.includes(marker);
}
