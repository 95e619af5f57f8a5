// Re-encrypts stored values in place while the server keeps running (`sessiond rotate-key`, `sessiond encrypt`):
// every sealed column, in batches of short IMMEDIATE transactions on this process's own connection, reading and
// rewriting each row inside the same transaction. Values already sealed with the current key are skipped, so a
// run that was stopped simply starts again and goes faster.
import type { Database } from "bun:sqlite";
import type { KeyRingCipher } from "../privacy/field-cipher.ts";
import { aadFor, ENCRYPTED_FIELDS, type EncryptedField } from "../privacy/fields.ts";

export interface ResealOptions {
  /** Rows read and rewritten per transaction. @default 200 */
  batch?: number;
  /** One line per batch that changed something, and one per column when it is done. */
  onProgress?: (line: string) => void;
  /** How long to wait for the write lock before a batch gives up (the server commits in short transactions). @default 5000 */
  busyTimeoutMs?: number;
}

export interface ResealResult {
  /** Values rewritten under the current key. */
  resealed: number;
  /** Non-null values looked at. */
  scanned: number;
  byField: Record<string, number>;
}

/** The sealed columns present in this database (a feature's table may not exist). */
export function presentFields(sqlite: Database): EncryptedField[] {
  return ENCRYPTED_FIELDS.filter((f) => {
    const cols = sqlite.query<{ name: string }, []>(`SELECT name FROM pragma_table_info('${f.table}')`).all().map((c) => c.name);
    return cols.includes(f.column) && f.key.every((k) => cols.includes(k));
  });
}

/**
 * Seals every value of every sealed column with `cipher`'s current key. A value `cipher` cannot open (a key that
 * is not configured, or one that fails authentication) stops the run with that error: nothing after it is
 * skipped silently. `cipher` in "migrating" mode also seals plaintext values (`sessiond encrypt`).
 */
export function resealAll(sqlite: Database, cipher: KeyRingCipher, { batch = 200, onProgress = () => {}, busyTimeoutMs = 5000 }: ResealOptions = {}): ResealResult {
  sqlite.run(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
  const result: ResealResult = { resealed: 0, scanned: 0, byField: {} };
  for (const field of presentFields(sqlite)) {
    const name = `${field.table}.${field.column}`;
    const total = sqlite.query<{ n: number }, []>(`SELECT count(*) AS n FROM ${field.table} WHERE ${field.column} IS NOT NULL`).get()?.n ?? 0;
    // Paged by the row's natural key (unique for every sealed table; some, like messages, have no rowid).
    const keys = field.key.join(", ");
    const cols = `${keys}, ${field.column}`;
    const first = sqlite.prepare<Record<string, string | number | null>, [number]>(`SELECT ${cols} FROM ${field.table} ORDER BY ${keys} LIMIT ?`);
    const next = sqlite.prepare<Record<string, string | number | null>, Array<string | number>>(
      `SELECT ${cols} FROM ${field.table} WHERE (${keys}) > (${field.key.map(() => "?").join(", ")}) ORDER BY ${keys} LIMIT ?`,
    );
    const update = sqlite.prepare<unknown, Array<string | number>>(
      `UPDATE ${field.table} SET ${field.column} = ? WHERE ${field.key.map((k) => `${k} = ?`).join(" AND ")}`,
    );
    type Cursor = Array<string | number> | null;
    const step = sqlite.transaction((after: Cursor) => {
      const rows = after === null ? first.all(batch) : next.all(...after, batch);
      let changed = 0;
      let scanned = 0;
      for (const row of rows) {
        const stored = row[field.column];
        if (typeof stored !== "string") continue;
        scanned++;
        if (cipher.isCurrent(stored)) continue;
        const key = field.key.map((k) => row[k] as string | number);
        const aad = aadFor(name, ...key);
        update.run(cipher.seal(cipher.open(stored, aad), aad), ...key);
        changed++;
      }
      const last = rows[rows.length - 1];
      return { last: last ? field.key.map((k) => last[k] as string | number) : null, count: rows.length, changed, scanned };
    });
    let after: Cursor = null;
    let done = 0;
    let changedHere = 0;
    for (;;) {
      const r = withBusyRetry(() => step.immediate(after), onProgress, name);
      done += r.scanned;
      changedHere += r.changed;
      if (r.changed > 0) onProgress(`${name}: ${done}/${total} checked, ${changedHere} re-encrypted`);
      if (r.last === null || r.count < batch) break;
      after = r.last;
    }
    onProgress(`${name}: done, ${changedHere} of ${done} re-encrypted`);
    result.byField[name] = changedHere;
    result.resealed += changedHere;
    result.scanned += done;
  }
  return result;
}

/** A batch that found the write lock held past the busy timeout is tried again, a few times, then gives up. */
function withBusyRetry<T>(fn: () => T, onProgress: (line: string) => void, name: string, attempts = 5): T {
  for (let i = 1; ; i++) {
    try {
      return fn();
    } catch (e) {
      const code = String((e as { code?: unknown }).code ?? "");
      if (!code.startsWith("SQLITE_BUSY") || i >= attempts) throw e;
      onProgress(`${name}: the database is busy; trying again (${i}/${attempts - 1})`);
    }
  }
}
