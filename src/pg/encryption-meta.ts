// Encryption at rest on PostgreSQL: what the database records of its own encryption (sessiond_meta's
// `encryption.*` rows, as on SQLite) and the start-up decision, taken once for all nodes under an advisory lock so
// that two nodes starting at once with different keys cannot both declare theirs.
import type { SQL } from "bun";
import { encryptionMetaOf, encryptionMetaValues } from "../db/meta-store.ts";
import { decideEncryption, type EncryptionDecision } from "../privacy/encryption-state.ts";
import type { KeyRing } from "../privacy/keys.ts";

/** The advisory lock of the start-up decision (any constant unique among sessiond's locks). */
const ENCRYPTION_LOCK = 0x5e55_0e4c;

type Row = Record<string, unknown>;

/**
 * Decides this node's encryption mode against the database's record and stores the decision. A key given to a
 * database that already holds plaintext sessions is refused: sealing them in place (`sessiond encrypt`) exists
 * for SQLite only, and running half sealed would leave the old conversations readable in the database.
 */
export async function decidePgEncryption(sql: SQL, ring: KeyRing | null): Promise<EncryptionDecision> {
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${ENCRYPTION_LOCK})`;
    const rows = (await tx`SELECT key, value FROM sessiond_meta WHERE key LIKE 'encryption.%'`) as Row[];
    const values = new Map(rows.map((r) => [String(r.key), String(r.value)]));
    const meta = encryptionMetaOf((key) => values.get(key) ?? null);
    const hasData = ((await tx`SELECT 1 FROM sessions LIMIT 1`) as Row[]).length > 0;
    const decision = decideEncryption(ring, meta, hasData);
    if (!decision.ok) return decision;
    if (decision.mode === "migrating") {
      return {
        ok: false,
        error:
          "this PostgreSQL database already holds sessions stored in plaintext, and sealing them in place (sessiond encrypt) is available on SQLite only in this version; " +
          "give ENCRYPTION_KEY to a new database, or unset it",
      };
    }
    if (decision.write) {
      await tx`DELETE FROM sessiond_meta WHERE key LIKE 'encryption.%'`;
      for (const [key, value] of encryptionMetaValues(decision.write)) await tx`INSERT INTO sessiond_meta (key, value) VALUES (${key}, ${value})`;
    }
    return decision;
  });
}
