// Online backup: VACUUM INTO writes a consistent copy while the server keeps running (never copy the live file).
import { Database } from "bun:sqlite";
import { closeSync, existsSync, openSync, rmSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { restrictToOwner } from "./open.ts";

/** Writes a consistent copy of the database to `target` (mode 0600); refuses to overwrite or to create folders. */
export function backupDatabase(source: string, target: string): { ok: true; bytes: number } | { ok: false; error: string } {
  const to = resolve(target);
  if (existsSync(to)) return { ok: false, error: `${target} already exists; choose a new file name` };
  const folder = dirname(to);
  if (!statSync(folder, { throwIfNoEntry: false })?.isDirectory()) return { ok: false, error: `the folder ${dirname(target)} does not exist; create it first` };
  if (!existsSync(source)) return { ok: false, error: `no database at ${source}` };
  // VACUUM INTO accepts an empty file: create it 0600 first, so the copy is never readable by others, whatever the umask.
  try {
    closeSync(openSync(to, "wx", 0o600));
    restrictToOwner(to);
  } catch (e) {
    return { ok: false, error: `cannot create ${target}: ${e instanceof Error ? e.message : String(e)}` };
  }
  const sqlite = new Database(source, { readonly: true, strict: true });
  try {
    sqlite.run("PRAGMA busy_timeout = 2000");
    sqlite.query("VACUUM INTO ?").run(to);
    restrictToOwner(to);
  } catch (e) {
    rmSync(to, { force: true });
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  } finally {
    sqlite.close();
  }
  return { ok: true, bytes: statSync(to).size };
}
