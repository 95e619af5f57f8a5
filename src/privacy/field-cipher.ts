// The codec every store applies at its boundary to the columns that hold content (pure apart from nonces): seal on
// write, open on read, with the row's natural key as additional data. One implementation for plaintext mode (the
// identity) and one over a key ring. The list of encrypted columns lives in fields.ts.
import { open as openEnvelope, seal as sealEnvelope, envelopeHeader } from "./crypto.ts";
import type { KeyRing } from "./keys.ts";

/**
 * "off": no key; values are stored as given. "on": every value is sealed and every read must open.
 * "migrating": a key is set on a database that still holds plaintext (until `sessiond encrypt` finishes):
 * new values are sealed and a value that is not an envelope is read as plaintext.
 */
export type EncryptionMode = "off" | "on" | "migrating";

export interface FieldCipher {
  readonly mode: EncryptionMode;
  /** The id of the key new values are sealed with (null when off). */
  readonly keyId: string | null;
  /** The stored form of `plaintext` for the row and column named by `aad` (see fields.ts `aadFor`). */
  seal(plaintext: string, aad: string): string;
  /** The plaintext of a stored value; throws StoredValueError when it cannot be opened. */
  open(stored: string, aad: string): string;
  /** Like `seal` for a nullable column. */
  sealNullable(plaintext: string | null, aad: string): string | null;
  openNullable(stored: string | null, aad: string): string | null;
}

/** A stored value that could not be opened. The message names the row's column and key id, never the value. */
export class StoredValueError extends Error {
  constructor(
    readonly reason: "unknown_key" | "authentication_failed" | "not_envelope",
    readonly field: string,
    readonly keyId?: string,
  ) {
    super(
      reason === "unknown_key"
        ? `a stored ${field} value is sealed with key ${keyId}, which is not configured (add it to ENCRYPTION_KEYS_OLD)`
        : reason === "not_envelope"
          ? `a stored ${field} value is not encrypted although the database is (run sessiond encrypt)`
          : `a stored ${field} value failed authentication (wrong key, edited, or moved from another row)`,
    );
    this.name = "StoredValueError";
  }
}

/** Plaintext mode: values pass through unchanged. */
export const PLAINTEXT: FieldCipher = {
  mode: "off",
  keyId: null,
  seal: (plaintext) => plaintext,
  open: (stored) => stored,
  sealNullable: (plaintext) => plaintext,
  openNullable: (stored) => stored,
};

/** The field name in an additional-data string (its text up to the first NUL), for error messages. */
const fieldOf = (aad: string): string => {
  const nul = aad.indexOf("\0");
  return nul === -1 ? aad : aad.slice(0, nul);
};

export class KeyRingCipher implements FieldCipher {
  readonly keyId: string;

  constructor(
    private readonly ring: KeyRing,
    /** "migrating" until the database records that `sessiond encrypt` has sealed everything (then "on"). */
    public mode: "on" | "migrating",
  ) {
    this.keyId = ring.current.id;
  }

  seal(plaintext: string, aad: string): string {
    return sealEnvelope(this.ring.current, plaintext, aad);
  }

  open(stored: string, aad: string): string {
    const result = openEnvelope(this.ring.byId, stored, aad);
    if (result.ok) return result.plaintext;
    // While migrating, plaintext rows are expected, and one that merely looks like an envelope is plaintext too:
    // a user can type one, and start-up has already proved every key the database was sealed with is here.
    if (this.mode === "migrating") return stored;
    throw new StoredValueError(result.reason, fieldOf(aad), result.keyId);
  }

  sealNullable(plaintext: string | null, aad: string): string | null {
    return plaintext === null ? null : this.seal(plaintext, aad);
  }

  openNullable(stored: string | null, aad: string): string | null {
    return stored === null ? null : this.open(stored, aad);
  }

  /** Whether a stored value is already sealed with the current key (re-encryption skips it). */
  isCurrent(stored: string): boolean {
    return envelopeHeader(stored)?.keyId === this.ring.current.id;
  }
}
