// Online backup: VACUUM INTO writes a consistent copy while the server keeps running (never copy the live file).
import { Database } from "bun:sqlite";
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";

export function backupDatabase(source: string, target: string): { ok: true; bytes: number } | { ok: false; error: string } {
  const to = resolve(target);
  if (existsSync(to)) return { ok: false, error: `${target} already exists; choose a new file name` };
  if (!existsSync(source)) return { ok: false, error: `no database at ${source}` };
  const sqlite = new Database(source, { readonly: true, strict: true });
  try {
    sqlite.run("PRAGMA busy_timeout = 2000");
    sqlite.query("VACUUM INTO ?").run(to);
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  } finally {
    sqlite.close();
  }
  return { ok: true, bytes: statSync(to).size };
}
