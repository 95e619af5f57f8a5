// The PostgreSQL side of where a node stores: its epoch (engines.ts) and its encryption at rest, decided against
// what the database records, as openSqlite/prepareStorage do for DATA_DIR's file.
import type { Config } from "../config/index.ts";
import type { Logger } from "../observability/logger.ts";
import { decidePgEncryption } from "../pg/encryption-meta.ts";
import { KeyRingCipher, PLAINTEXT } from "../privacy/field-cipher.ts";
import type { PostgresEngine } from "./engines.ts";
import { keyRingFromConfig, PrivacySetupError, type StorageSetup } from "./privacy.ts";

/** Throws PrivacySetupError with one sentence for a wrong, missing or unusable key. */
export async function preparePgStorage(config: Config, pg: Pick<PostgresEngine, "sql" | "epoch">, logger: Logger): Promise<StorageSetup> {
  const ring = keyRingFromConfig(config);
  const decision = await decidePgEncryption(pg.sql, ring);
  if (!decision.ok) throw new PrivacySetupError(`encryption: ${decision.error}`);
  const cipher = ring && decision.mode !== "off" ? new KeyRingCipher(ring, decision.mode) : PLAINTEXT;
  if (decision.notice === "rotate") {
    logger.warn("encryption.rotating", {
      keyId: cipher.keyId,
      hint: "Values sealed with a previous key remain and stay readable while it is in ENCRYPTION_KEYS_OLD; re-sealing them (sessiond rotate-key) is available on SQLite only in this version.",
    });
  }
  return { epoch: pg.epoch, mode: decision.mode, keyId: cipher.keyId, cipher };
}
