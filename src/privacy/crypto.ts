// Encryption framing for values stored at rest (pure apart from the nonce): AES-256-GCM with node:crypto's
// synchronous API, one random 96-bit nonce per value, the row's natural key bound as additional data, and a
// self-describing text envelope that names the key it was sealed with. Tested in test/privacy/crypto.test.ts.
import { createCipheriv, createDecipheriv, createHash, createHmac, randomFillSync } from "node:crypto";

/** One 32-byte AES key and its public id (the first 4 bytes of a SHA-256 over a label and the key, as hex). */
export interface EncryptionKey {
  /** 8 hex characters; safe to log and to store beside the values. */
  readonly id: string;
  readonly bytes: Buffer;
}

/**
 * The text form of a sealed value: `ENVELOPE_PREFIX` + base64url(version | key id | nonce | ciphertext | tag).
 * The prefix makes the common case (plaintext) cheap to tell apart; the GCM tag makes the rest certain.
 */
export const ENVELOPE_PREFIX = "enc:";
export const ENVELOPE_VERSION = 1;
const KEY_ID_BYTES = 4;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + KEY_ID_BYTES + NONCE_BYTES;

/** Derives a key's id; two different keys collide with probability 2^-32, which only costs a clear error. */
export function keyIdOf(bytes: Buffer): string {
  return createHash("sha256").update("sessiond key id\0").update(bytes).digest().subarray(0, KEY_ID_BYTES).toString("hex");
}

export function encryptionKey(bytes: Buffer): EncryptionKey {
  if (bytes.length !== 32) throw new RangeError(`an AES-256 key is 32 bytes, not ${bytes.length}`);
  return { id: keyIdOf(bytes), bytes };
}

/**
 * A value that proves which key a database was encrypted with without revealing it (HMAC of a fixed label);
 * stored in sessiond_meta so a wrong key is refused at start-up instead of failing on the first read.
 */
export function keyCheckValue(key: EncryptionKey): string {
  return createHmac("sha256", key.bytes).update("sessiond key check v1").digest("hex");
}

/**
 * Random nonces drawn from a pool refilled 1024 at a time: one call to the CSPRNG per 1024 values instead of one
 * each (a quarter of the cost of a seal). Each nonce is used once; 96 random bits make a repeat negligible for far
 * more values than one key will ever seal.
 */
const NONCE_POOL = Buffer.allocUnsafe(NONCE_BYTES * 1024);
let noncePos = NONCE_POOL.length;
function nextNonce(): Buffer {
  if (noncePos === NONCE_POOL.length) {
    randomFillSync(NONCE_POOL);
    noncePos = 0;
  }
  const nonce = NONCE_POOL.subarray(noncePos, noncePos + NONCE_BYTES);
  noncePos += NONCE_BYTES;
  return nonce;
}

/** Seals `plaintext` under `key`, binding `aad` (the row's identity): the result is a TEXT-column value. */
export function seal(key: EncryptionKey, plaintext: string, aad: string): string {
  const nonce = nextNonce();
  const cipher = createCipheriv("aes-256-gcm", key.bytes, nonce);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const body = cipher.update(plaintext, "utf8");
  const final = cipher.final();
  const tag = cipher.getAuthTag();
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header[0] = ENVELOPE_VERSION;
  header.write(key.id, 1, KEY_ID_BYTES, "hex");
  nonce.copy(header, 1 + KEY_ID_BYTES);
  return ENVELOPE_PREFIX + Buffer.concat([header, body, final, tag]).toString("base64url");
}

export interface EnvelopeHeader {
  version: number;
  keyId: string;
}

/** The header of a sealed value, or null when `stored` is not shaped like an envelope (i.e. it is plaintext). */
export function envelopeHeader(stored: string): EnvelopeHeader | null {
  if (!stored.startsWith(ENVELOPE_PREFIX)) return null;
  // Only the first characters are decoded: enough for the version byte and the key id.
  const head = Buffer.from(stored.slice(ENVELOPE_PREFIX.length, ENVELOPE_PREFIX.length + 8), "base64url");
  if (head.length < 1 + KEY_ID_BYTES || head[0] !== ENVELOPE_VERSION) return null;
  const minimum = Math.ceil(((HEADER_BYTES + TAG_BYTES) * 4) / 3);
  if (stored.length - ENVELOPE_PREFIX.length < minimum) return null;
  return { version: head[0]!, keyId: head.subarray(1, 1 + KEY_ID_BYTES).toString("hex") };
}

export type OpenResult = { ok: true; plaintext: string } | { ok: false; reason: "not_envelope" | "unknown_key" | "authentication_failed"; keyId?: string };

/**
 * Opens a sealed value with whichever key of `keys` it names. Fails (never throws) when the value is not an
 * envelope, names a key that is not given, or does not authenticate: the wrong key, an edited value, or a value
 * moved to another row (its additional data differs).
 */
export function open(keys: ReadonlyMap<string, EncryptionKey>, stored: string, aad: string): OpenResult {
  const header = envelopeHeader(stored);
  if (!header) return { ok: false, reason: "not_envelope" };
  const key = keys.get(header.keyId);
  if (!key) return { ok: false, reason: "unknown_key", keyId: header.keyId };
  const raw = Buffer.from(stored.slice(ENVELOPE_PREFIX.length), "base64url");
  if (raw.length < HEADER_BYTES + TAG_BYTES) return { ok: false, reason: "authentication_failed", keyId: header.keyId };
  try {
    const decipher = createDecipheriv("aes-256-gcm", key.bytes, raw.subarray(1 + KEY_ID_BYTES, HEADER_BYTES));
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    const text = decipher.update(raw.subarray(HEADER_BYTES, raw.length - TAG_BYTES), undefined, "utf8") + decipher.final("utf8");
    return { ok: true, plaintext: text };
  } catch {
    return { ok: false, reason: "authentication_failed", keyId: header.keyId };
  }
}
