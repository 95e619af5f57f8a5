// The privacy commands of the CLI: restore, rotate-key, encrypt, audit verify, and the audit entry of a backup.
// Each returns the lines to print and an exit code; main.ts only dispatches.
import type { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { userInfo } from "node:os";
import type { Config } from "../config/index.ts";
import { AuditStore } from "../db/audit-store.ts";
import { hasSessions, readEncryptionMeta, writeEncryptionMeta } from "../db/meta-store.ts";
import { closeDatabase, databasePath, openDatabase } from "../db/open.ts";
import { migrate } from "../db/migrate.ts";
import { resealAll } from "../db/reseal.ts";
import { isDatabaseInUse, restoreDatabase } from "../db/restore.ts";
import type { AuditAction, AuditDetail, AuditRecord } from "../privacy/audit-chain.ts";
import { decideEncryption } from "../privacy/encryption-state.ts";
import { KeyRingCipher } from "../privacy/field-cipher.ts";
import { keyRingFromConfig, PrivacySetupError } from "../server/privacy.ts";

export interface CommandResult {
  /** Lines for stdout (progress and the outcome). */
  out: string[];
  /** Lines for stderr (why it failed). */
  err: string[];
  code: 0 | 1;
}

/** The operator running the CLI, as the audit trail records them. */
export function cliActor(): Pick<AuditRecord, "actorId" | "actorRole" | "address"> {
  let name = "unknown";
  try {
    name = userInfo().username;
  } catch {
    // no user database entry (some containers)
  }
  return { actorId: `cli:${name}`, actorRole: "operator", address: "local" };
}

const failed = (prefix: string, error: string): CommandResult => ({ out: [], err: [`${prefix}: ${error}`], code: 1 });

/** Appends one entry to the database's audit trail from the CLI (its own short transaction); the error, if any. */
export function recordCliAudit(config: Config, action: AuditAction, objectId: string, detail: AuditDetail | null = null): string | null {
  let sqlite: Database | null = null;
  try {
    sqlite = openDatabase(databasePath(config.DATA_DIR), { synchronous: config.DB_SYNCHRONOUS });
    sqlite.run("PRAGMA busy_timeout = 5000");
    new AuditStore(sqlite).append([{ ...cliActor(), at: Date.now(), action, objectType: "database", objectId, detail }]);
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    sqlite?.close();
  }
}

/** `sessiond restore <file>`. */
export function restoreCommand(config: Config, file: string): CommandResult {
  let ring;
  try {
    ring = keyRingFromConfig(config);
  } catch (e) {
    return failed("restore", (e as Error).message);
  }
  const result = restoreDatabase(file, databasePath(config.DATA_DIR), {
    actor: cliActor(),
    // The restored database must open with the configured key (or none), or the server would refuse to start.
    check: (db) => {
      const decision = decideEncryption(ring, readEncryptionMeta(db), true);
      return decision.ok ? null : `the backup cannot be used with this configuration: ${decision.error}`;
    },
  });
  if (!result.ok) return failed("restore", result.error);
  const out = [`restored ${file} into ${databasePath(config.DATA_DIR)} (migrations applied: ${result.migrated}; new epoch ${result.epoch})`];
  if (result.previous) out.push(`the database it replaced was kept as ${result.previous}; delete it once you are satisfied (it holds data the restore may have brought back or removed)`);
  out.push("clients that reconnect get reset: true and the restored history");
  return { out, err: [], code: 0 };
}

/** `sessiond audit verify`: exit 1 naming the entry where the chain breaks. */
export function auditVerifyCommand(config: Config): CommandResult {
  const path = databasePath(config.DATA_DIR);
  if (!existsSync(path)) return { out: [], err: [`audit: no database at ${path} (set DATA_DIR to the server's data folder)`], code: 1 };
  let sqlite: Database;
  try {
    sqlite = openDatabase(path, { readonly: true });
  } catch (e) {
    return { out: [], err: [`audit: ${path} cannot be read as a sessiond database (${e instanceof Error ? e.message : String(e)})`], code: 1 };
  }
  try {
    const r = new AuditStore(sqlite).verify();
    if (r.ok) return { out: [`audit: ${r.entries} entries, chain intact`], err: [], code: 0 };
    return { out: [], err: [`audit: the chain breaks at entry ${r.break.id}: ${r.break.reason}`], code: 1 };
  } finally {
    sqlite.close();
  }
}

/**
 * `sessiond rotate-key` (`mode` "rotate") and `sessiond encrypt` ("encrypt"): re-seal every value not sealed with
 * the current key, online. A running server must already use the key given here (restarted with it), so the two
 * never disagree about which key new values get; with no server running this command records the key itself.
 */
export function resealCommand(config: Config, mode: "rotate" | "encrypt", progress: (line: string) => void): CommandResult {
  const name = mode === "rotate" ? "rotate-key" : "encrypt";
  let ring;
  try {
    ring = keyRingFromConfig(config);
  } catch (e) {
    return failed(name, e instanceof PrivacySetupError ? e.message : String(e));
  }
  if (!ring) return failed(name, "no key is configured: set ENCRYPTION_KEY or ENCRYPTION_KEY_FILE (and, to rotate, the previous key in ENCRYPTION_KEYS_OLD)");
  const path = databasePath(config.DATA_DIR);
  const running = isDatabaseInUse(path);
  const sqlite: Database = openDatabase(path, { synchronous: config.DB_SYNCHRONOUS });
  try {
    sqlite.run("PRAGMA busy_timeout = 5000");
    if (!running) migrate(sqlite);
    let meta = readEncryptionMeta(sqlite);
    if (mode === "rotate" && meta.state === null) return failed(name, "the database is not encrypted; turn encryption on with sessiond encrypt");
    if (mode === "encrypt" && meta.state === "on" && meta.pendingKeys.length === 0 && meta.keyId === ring.current.id) {
      return { out: ["encrypt: the database is already encrypted with this key; nothing to do"], err: [], code: 0 };
    }
    if (meta.keyId !== ring.current.id || meta.state === null) {
      if (running) {
        return failed(
          name,
          meta.state === null
            ? "the running server has no key: restart it with ENCRYPTION_KEY (or ENCRYPTION_KEY_FILE) set, then run sessiond encrypt"
            : `the running server still seals with key ${meta.keyId}: restart it with the new ENCRYPTION_KEY and the previous key in ENCRYPTION_KEYS_OLD, then run sessiond ${name}`,
        );
      }
      const decision = decideEncryption(ring, meta, hasSessions(sqlite));
      if (!decision.ok) return failed(name, decision.error);
      if (decision.write) writeEncryptionMeta(sqlite, decision.write);
      meta = readEncryptionMeta(sqlite);
    }
    const cipher = new KeyRingCipher(ring, meta.state === "migrating" ? "migrating" : "on");
    const started = performance.now();
    const result = resealAll(sqlite, cipher, { onProgress: progress });
    // Every value is sealed with the current key now: no earlier key is needed to read the database.
    writeEncryptionMeta(sqlite, { ...readEncryptionMeta(sqlite), state: "on", pendingKeys: [] });
    new AuditStore(sqlite).append([
      {
        ...cliActor(),
        at: Date.now(),
        action: mode === "rotate" ? "key.rotate" : "database.encrypt",
        objectType: "database",
        objectId: "sessiond.db",
        detail: { keyId: ring.current.id, resealed: result.resealed, scanned: result.scanned },
      },
    ]);
    sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const out = [`${name}: ${result.resealed} of ${result.scanned} values re-encrypted with key ${ring.current.id} in ${seconds} s`];
    if (mode === "rotate" && ring.old.length > 0) out.push(`${name}: the previous key is no longer needed; remove it from ENCRYPTION_KEYS_OLD at the next restart`);
    return { out, err: [], code: 0 };
  } catch (e) {
    return failed(name, `${e instanceof Error ? e.message : String(e)} (run it again to resume: values already re-encrypted are skipped)`);
  } finally {
    if (running) sqlite.close();
    else closeDatabase(sqlite);
  }
}
