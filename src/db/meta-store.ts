// Facts the database records about itself in sessiond_meta: its epoch (a random id, new after a restore), what it
// knows of its own encryption (state, key id, key check value, keys still in use), and the audit trail's head.
import type { Database } from "bun:sqlite";
import { randomBytes } from "node:crypto";
import { NO_ENCRYPTION_META, type EncryptionMeta } from "../privacy/encryption-state.ts";

const KEYS = {
  epoch: "epoch",
  encryptionState: "encryption.state",
  encryptionKeyId: "encryption.key_id",
  encryptionKeyCheck: "encryption.key_check",
  encryptionPendingKeys: "encryption.pending_keys",
  auditHead: "audit.head",
} as const;

export function readMeta(sqlite: Database, key: string): string | null {
  return sqlite.query<{ value: string }, [string]>("SELECT value FROM sessiond_meta WHERE key = ?").get(key)?.value ?? null;
}

export function writeMeta(sqlite: Database, key: string, value: string): void {
  sqlite
    .query<unknown, [string, string]>("INSERT INTO sessiond_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
    .run(key, value);
}

/** A new random epoch: 16 hex characters. */
export const randomEpoch = (): string => randomBytes(8).toString("hex");

/** The database's epoch, created on first use (a new database gets one with its first start). */
export function ensureEpoch(sqlite: Database): string {
  sqlite.query<unknown, [string, string]>("INSERT INTO sessiond_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING").run(KEYS.epoch, randomEpoch());
  return readMeta(sqlite, KEYS.epoch)!;
}

/** Gives the database a new epoch (after a restore: clients holding seqs of another history must start over). */
export function renewEpoch(sqlite: Database): string {
  const epoch = randomEpoch();
  writeMeta(sqlite, KEYS.epoch, epoch);
  return epoch;
}

export function readEncryptionMeta(sqlite: Database): EncryptionMeta {
  return encryptionMetaOf((key) => readMeta(sqlite, key));
}

export function writeEncryptionMeta(sqlite: Database, meta: EncryptionMeta): void {
  sqlite.transaction(() => {
    sqlite.run("DELETE FROM sessiond_meta WHERE key LIKE 'encryption.%'");
    for (const [key, value] of encryptionMetaValues(meta)) writeMeta(sqlite, key, value);
  }).immediate();
}

/** What the `encryption.*` values say, however they were read (SQLite here, PostgreSQL in pg/encryption-meta.ts). */
export function encryptionMetaOf(get: (key: string) => string | null): EncryptionMeta {
  const state = get(KEYS.encryptionState);
  if (state !== "on" && state !== "migrating") return NO_ENCRYPTION_META;
  let pendingKeys: string[] = [];
  try {
    const parsed = JSON.parse(get(KEYS.encryptionPendingKeys) ?? "[]");
    if (Array.isArray(parsed)) pendingKeys = parsed.filter((k): k is string => typeof k === "string");
  } catch {
    // An unreadable list is treated as empty: start-up then checks the key against the check value alone.
  }
  return { state, keyId: get(KEYS.encryptionKeyId), keyCheck: get(KEYS.encryptionKeyCheck), pendingKeys };
}

/** The `encryption.*` values that record `meta` (none for a database that is not encrypted). */
export function encryptionMetaValues(meta: EncryptionMeta): Array<[string, string]> {
  if (meta.state === null) return [];
  return [
    [KEYS.encryptionState, meta.state],
    [KEYS.encryptionKeyId, meta.keyId ?? ""],
    [KEYS.encryptionKeyCheck, meta.keyCheck ?? ""],
    [KEYS.encryptionPendingKeys, JSON.stringify(meta.pendingKeys)],
  ];
}

/** Whether the database holds any session (a key given to it for the first time then starts a migration). */
export function hasSessions(sqlite: Database): boolean {
  return sqlite.query("SELECT 1 FROM sessions LIMIT 1").get() !== null;
}

export function readAuditHead(sqlite: Database): { id: number; hash: string } | null {
  const text = readMeta(sqlite, KEYS.auditHead);
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as { id?: unknown; hash?: unknown };
    return typeof v.id === "number" && typeof v.hash === "string" ? { id: v.id, hash: v.hash } : null;
  } catch {
    return null;
  }
}

export function writeAuditHead(sqlite: Database, head: { id: number; hash: string }): void {
  writeMeta(sqlite, KEYS.auditHead, JSON.stringify(head));
}
