// Deciding the encryption mode at start-up from the key ring and what the database records about its own
// encryption (pure): refuse a wrong or missing key with one sentence, notice a key rotation, start a migration.
import { keyCheckValue } from "./crypto.ts";
import type { EncryptionMode } from "./field-cipher.ts";
import type { KeyRing } from "./keys.ts";

/** What sessiond_meta records (the `encryption.*` keys); all null on a database that was never encrypted. */
export interface EncryptionMeta {
  state: "on" | "migrating" | null;
  keyId: string | null;
  keyCheck: string | null;
  /** Ids of earlier keys that values may still be sealed with (until `sessiond rotate-key` finishes). */
  pendingKeys: string[];
}

export const NO_ENCRYPTION_META: EncryptionMeta = { state: null, keyId: null, keyCheck: null, pendingKeys: [] };

export type EncryptionDecision =
  | {
      ok: true;
      mode: EncryptionMode;
      /** The meta to store (null: unchanged). */
      write: EncryptionMeta | null;
      /** What the operator should do next, if anything (logged at start-up). */
      notice: "encrypt" | "rotate" | null;
    }
  | { ok: false; error: string };

/**
 * `hasData`: the database already holds sessions (a key given to it for the first time starts a migration
 * rather than declaring it encrypted).
 */
export function decideEncryption(ring: KeyRing | null, meta: EncryptionMeta, hasData: boolean): EncryptionDecision {
  if (ring === null) {
    if (meta.state === null) return { ok: true, mode: "off", write: null, notice: null };
    return {
      ok: false,
      error: `the database is encrypted (key ${meta.keyId ?? "unknown"}); start with ENCRYPTION_KEY or ENCRYPTION_KEY_FILE set to its key`,
    };
  }
  const current = ring.current;
  const currentCheck = keyCheckValue(current);
  if (meta.state === null) {
    const state = hasData ? "migrating" : "on";
    return {
      ok: true,
      mode: state,
      write: { state, keyId: current.id, keyCheck: currentCheck, pendingKeys: [] },
      notice: hasData ? "encrypt" : null,
    };
  }
  let write: EncryptionMeta | null = null;
  let pending = meta.pendingKeys;
  if (meta.keyId !== current.id || meta.keyCheck !== currentCheck) {
    const previous = meta.keyId === null ? undefined : ring.byId.get(meta.keyId);
    if (!previous || keyCheckValue(previous) !== meta.keyCheck) {
      return {
        ok: false,
        error: `the encryption key does not match this database (it was encrypted with key ${meta.keyId ?? "unknown"}, the key given is ${current.id}); when rotating, keep the previous key in ENCRYPTION_KEYS_OLD`,
      };
    }
    pending = [...new Set([...pending, previous.id])];
    write = { state: meta.state, keyId: current.id, keyCheck: currentCheck, pendingKeys: pending };
  }
  const missing = pending.filter((id) => id !== current.id && !ring.byId.has(id));
  if (missing.length > 0) {
    return {
      ok: false,
      error: `values in the database are still sealed with key ${missing.join(", ")}: keep ${missing.length === 1 ? "that key" : "those keys"} in ENCRYPTION_KEYS_OLD until sessiond rotate-key has finished`,
    };
  }
  const notice = meta.state === "migrating" ? "encrypt" : pending.some((id) => id !== current.id) ? "rotate" : null;
  return { ok: true, mode: meta.state, write, notice };
}
