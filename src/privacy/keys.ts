// Encryption keys from the settings (ENCRYPTION_KEY, ENCRYPTION_KEY_FILE, ENCRYPTION_KEYS_OLD): parsing from
// base64 or hex, and the key ring the stores use. Pure: the key file is read through an injected function.
import { encryptionKey, type EncryptionKey } from "./crypto.ts";

/** The current key (every new value is sealed with it) and the keys that may still be read. */
export interface KeyRing {
  readonly current: EncryptionKey;
  /** ENCRYPTION_KEYS_OLD, in the order given. */
  readonly old: readonly EncryptionKey[];
  /** Every key by id, the current one included. */
  readonly byId: ReadonlyMap<string, EncryptionKey>;
}

export interface KeySettings {
  ENCRYPTION_KEY?: string;
  ENCRYPTION_KEY_FILE?: string;
  ENCRYPTION_KEYS_OLD?: string;
}

export type KeyRingResult = { ok: true; ring: KeyRing | null } | { ok: false; errors: string[] };

const HOW = "expected 32 random bytes as 64 hex characters or 44 base64 characters (generate one with: openssl rand -base64 32)";

/**
 * Parses one key: 64 hex characters, or base64/base64url of exactly 32 bytes. Returns null for anything else
 * (the caller words the error, since only it knows which setting the text came from).
 */
export function parseKey(text: string): Buffer | null {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, "hex");
  if (!/^[A-Za-z0-9+/_-]{42,44}={0,2}$/.test(t)) return null;
  const bytes = Buffer.from(t.replaceAll("-", "+").replaceAll("_", "/"), "base64");
  return bytes.length === 32 ? bytes : null;
}

/**
 * Builds the key ring from the settings; null when no key is set (plaintext mode). One readable sentence per
 * problem, never echoing key material. `readFile` returns the file's text or throws (ENOENT, EACCES...); without
 * it the file is not read (the settings are only checked for form, as config loading does) and the ring is null.
 */
export function loadKeyRing(settings: KeySettings, readFile?: (path: string) => string): KeyRingResult {
  const errors: string[] = [];
  const { ENCRYPTION_KEY: inline, ENCRYPTION_KEY_FILE: file, ENCRYPTION_KEYS_OLD: oldText } = settings;
  let current: Buffer | null = null;
  if (inline !== undefined && file !== undefined) {
    errors.push("config: ENCRYPTION_KEY and ENCRYPTION_KEY_FILE are both set: expected only one (the key itself, or a file holding it)");
  } else if (inline !== undefined) {
    current = parseKey(inline);
    if (!current) errors.push(`config: ENCRYPTION_KEY=(hidden) is invalid: ${HOW}`);
  } else if (file !== undefined && readFile === undefined) {
    current = Buffer.alloc(32);
  } else if (file !== undefined && readFile !== undefined) {
    let text: string | null = null;
    try {
      text = readFile(file);
    } catch (e) {
      const code = typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : "";
      const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "it is a folder" : "it could not be read";
      errors.push(`config: ENCRYPTION_KEY_FILE=${JSON.stringify(file)} is invalid: ${why}`);
    }
    if (text !== null) {
      current = parseKey(text);
      if (!current) errors.push(`config: ENCRYPTION_KEY_FILE=${JSON.stringify(file)} is invalid: the file must hold one key, ${HOW}`);
    }
  }
  const old: Buffer[] = [];
  if (oldText !== undefined) {
    const parts = oldText.split(",").map((p) => p.trim()).filter((p) => p !== "");
    const bad: number[] = [];
    parts.forEach((part, i) => {
      const key = parseKey(part);
      if (key) old.push(key);
      else bad.push(i + 1);
    });
    // One line for the setting, however many of its entries are wrong.
    if (bad.length > 0) {
      const which = bad.length === 1 ? `entry ${bad[0]}` : `entries ${bad.join(", ")}`;
      errors.push(`config: ENCRYPTION_KEYS_OLD=(hidden) is invalid: ${which} of ${parts.length} ${bad.length === 1 ? "is" : "are"} not a key; each comma-separated entry is ${HOW.replace(/^expected /, "")}`);
    }
    if (current === null && errors.length === 0) {
      errors.push("config: ENCRYPTION_KEYS_OLD is set without ENCRYPTION_KEY or ENCRYPTION_KEY_FILE: expected the current key as well (old keys are only read, never written)");
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  if (current === null || (file !== undefined && readFile === undefined)) return { ok: true, ring: null };
  return { ok: true, ring: keyRing(current, old) };
}

/** A ring from raw keys; an old key equal to the current one is dropped. */
export function keyRing(current: Buffer, old: readonly Buffer[] = []): KeyRing {
  const cur = encryptionKey(current);
  const byId = new Map<string, EncryptionKey>([[cur.id, cur]]);
  const olds: EncryptionKey[] = [];
  for (const bytes of old) {
    const k = encryptionKey(bytes);
    if (byId.has(k.id)) continue;
    byId.set(k.id, k);
    olds.push(k);
  }
  return { current: cur, old: olds, byId };
}
