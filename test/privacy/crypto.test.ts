// Encryption framing, keys and the start-up decision: pure functions, tested directly.
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { encryptionKey, envelopeHeader, ENVELOPE_PREFIX, keyCheckValue, open, seal } from "../../src/privacy/crypto.ts";
import { decideEncryption, NO_ENCRYPTION_META } from "../../src/privacy/encryption-state.ts";
import { KeyRingCipher, PLAINTEXT, StoredValueError } from "../../src/privacy/field-cipher.ts";
import { aad } from "../../src/privacy/fields.ts";
import { keyRing, loadKeyRing, parseKey } from "../../src/privacy/keys.ts";

const k1 = encryptionKey(randomBytes(32));
const k2 = encryptionKey(randomBytes(32));
const ring = (k: typeof k1, ...old: Array<typeof k1>) => new Map([k, ...old].map((x) => [x.id, x]));

describe("the envelope", () => {
  test("a sealed value opens with its key and its additional data, and names the key", () => {
    const stored = seal(k1, "I feel CONTENT today", aad.messageContent("s1", 7));
    expect(stored.startsWith(ENVELOPE_PREFIX)).toBe(true);
    expect(stored).not.toContain("CONTENT");
    expect(envelopeHeader(stored)).toEqual({ version: 1, keyId: k1.id });
    expect(open(ring(k1), stored, aad.messageContent("s1", 7))).toEqual({ ok: true, plaintext: "I feel CONTENT today" });
  });

  test("every value gets its own nonce: the same text seals differently each time", () => {
    const a = seal(k1, "same", "x");
    const b = seal(k1, "same", "x");
    expect(a).not.toBe(b);
  });

  test("a ciphertext moved to another row or column does not open there", () => {
    const stored = seal(k1, "secret", aad.messageContent("s1", 7));
    expect(open(ring(k1), stored, aad.messageContent("s1", 8))).toMatchObject({ ok: false, reason: "authentication_failed" });
    expect(open(ring(k1), stored, aad.messageContent("s2", 7))).toMatchObject({ ok: false, reason: "authentication_failed" });
    expect(open(ring(k1), stored, aad.messageMetadata("s1", 7))).toMatchObject({ ok: false, reason: "authentication_failed" });
  });

  test("an edited ciphertext, the wrong key, or an unknown key id fails without throwing", () => {
    const stored = seal(k1, "secret", "a");
    const body = Buffer.from(stored.slice(ENVELOPE_PREFIX.length), "base64url");
    body[body.length - 20]! ^= 1;
    expect(open(ring(k1), ENVELOPE_PREFIX + body.toString("base64url"), "a")).toMatchObject({ ok: false, reason: "authentication_failed" });
    expect(open(ring(k2), stored, "a")).toEqual({ ok: false, reason: "unknown_key", keyId: k1.id });
    // A second key that claims the first key's id still cannot open it.
    expect(open(new Map([[k1.id, k2]]), stored, "a")).toMatchObject({ ok: false, reason: "authentication_failed" });
  });

  test("plaintext is told apart from an envelope", () => {
    for (const text of ["", "hello", "enc:", "enc:short", '{"a":1}', "enc:" + "A".repeat(60)]) expect(envelopeHeader(text)).toBeNull();
    expect(open(ring(k1), "hello", "a")).toEqual({ ok: false, reason: "not_envelope" });
  });

  test("empty and non-ASCII values round-trip", () => {
    for (const text of ["", "żółw 🐢 \u0000 end", "x".repeat(100_000)]) expect(open(ring(k1), seal(k1, text, "a"), "a")).toEqual({ ok: true, plaintext: text });
  });
});

describe("keys", () => {
  const raw = randomBytes(32);
  test("a key is 64 hex characters or the base64 (or base64url) of 32 bytes", () => {
    expect(parseKey(raw.toString("hex"))).toEqual(raw);
    expect(parseKey(raw.toString("hex").toUpperCase())).toEqual(raw);
    expect(parseKey(`${raw.toString("base64")}\n`)).toEqual(raw);
    expect(parseKey(raw.toString("base64url"))).toEqual(raw);
    for (const bad of ["", "abc", randomBytes(16).toString("base64"), randomBytes(31).toString("hex"), randomBytes(33).toString("base64"), "!".repeat(44)]) expect(parseKey(bad)).toBeNull();
  });

  test("the settings give a ring, or one readable sentence per problem that never shows the key", () => {
    const files: Record<string, string> = { "/k": `${raw.toString("base64")}\n`, "/bad": "not a key" };
    const read = (p: string) => {
      if (p in files) return files[p]!;
      throw Object.assign(new Error("nope"), { code: "ENOENT" });
    };
    expect(loadKeyRing({}, read)).toEqual({ ok: true, ring: null });
    const fromFile = loadKeyRing({ ENCRYPTION_KEY_FILE: "/k" }, read);
    expect(fromFile.ok && fromFile.ring?.current.bytes).toEqual(raw);
    const old = randomBytes(32);
    const both = loadKeyRing({ ENCRYPTION_KEY: raw.toString("hex"), ENCRYPTION_KEYS_OLD: ` ${old.toString("base64")} , ` }, read);
    expect(both.ok && both.ring?.old.map((k) => k.bytes)).toEqual([old]);
    expect(both.ok && both.ring?.byId.size).toBe(2);

    const errors = (s: Parameters<typeof loadKeyRing>[0]) => {
      const r = loadKeyRing(s, read);
      return r.ok ? [] : r.errors;
    };
    expect(errors({ ENCRYPTION_KEY: "short" })).toEqual([
      "config: ENCRYPTION_KEY=(hidden) is invalid: expected 32 random bytes as 64 hex characters or 44 base64 characters (generate one with: openssl rand -base64 32)",
    ]);
    expect(errors({ ENCRYPTION_KEY: raw.toString("hex"), ENCRYPTION_KEY_FILE: "/k" })[0]).toContain("both set");
    expect(errors({ ENCRYPTION_KEY_FILE: "/missing" })).toEqual(['config: ENCRYPTION_KEY_FILE="/missing" is invalid: no such file']);
    expect(errors({ ENCRYPTION_KEY_FILE: "/bad" })[0]).toContain("the file must hold one key");
    expect(errors({ ENCRYPTION_KEY: raw.toString("hex"), ENCRYPTION_KEYS_OLD: `${old.toString("hex")},nope` })[0]).toContain("entry 2 of 2 is not a key");
    expect(errors({ ENCRYPTION_KEYS_OLD: old.toString("hex") })[0]).toContain("without ENCRYPTION_KEY");
    const all = [...errors({ ENCRYPTION_KEY: "x" + raw.toString("hex").slice(1) }), ...errors({ ENCRYPTION_KEY: raw.toString("hex"), ENCRYPTION_KEYS_OLD: "zz" + raw.toString("hex") })];
    for (const line of all) expect(line).not.toContain(raw.toString("hex").slice(1, 20));
  });

  test("an old key equal to the current one is not listed twice", () => {
    expect(keyRing(raw, [raw]).old).toEqual([]);
  });
});

describe("the field cipher", () => {
  test("on: values are sealed and must open; migrating: plaintext reads as itself; off: the identity", () => {
    const on = new KeyRingCipher(keyRing(k1.bytes), "on");
    const stored = on.seal("hello", aad.sessionConfig("s"));
    expect(on.open(stored, aad.sessionConfig("s"))).toBe("hello");
    expect(on.isCurrent(stored)).toBe(true);
    expect(() => on.open("hello", aad.sessionConfig("s"))).toThrow(StoredValueError);
    expect(() => on.open(stored, aad.sessionConfig("t"))).toThrow("a stored sessions.config value failed authentication");
    expect(() => new KeyRingCipher(keyRing(k2.bytes), "on").open(stored, aad.sessionConfig("s"))).toThrow(`sealed with key ${k1.id}, which is not configured`);
    const migrating = new KeyRingCipher(keyRing(k1.bytes), "migrating");
    expect(migrating.open("hello", "a")).toBe("hello");
    expect(migrating.open(stored, aad.sessionConfig("s"))).toBe("hello");
    expect(migrating.sealNullable(null, "a")).toBeNull();
    expect(PLAINTEXT.seal("hello", "a")).toBe("hello");
    // After a rotation the old key still reads what it sealed, and new values use the new key.
    const rotated = new KeyRingCipher(keyRing(k2.bytes, [k1.bytes]), "on");
    expect(rotated.open(stored, aad.sessionConfig("s"))).toBe("hello");
    expect(rotated.isCurrent(stored)).toBe(false);
    expect(envelopeHeader(rotated.seal("x", "a"))!.keyId).toBe(k2.id);
  });
});

describe("the start-up decision", () => {
  const meta = (k: typeof k1, state: "on" | "migrating" = "on", pendingKeys: string[] = []) => ({ state, keyId: k.id, keyCheck: keyCheckValue(k), pendingKeys });

  test("no key and a plaintext database: off; no key on an encrypted one: refused in one sentence", () => {
    expect(decideEncryption(null, NO_ENCRYPTION_META, true)).toEqual({ ok: true, mode: "off", write: null, notice: null });
    expect(decideEncryption(null, meta(k1), true)).toEqual({
      ok: false,
      error: `the database is encrypted (key ${k1.id}); start with ENCRYPTION_KEY or ENCRYPTION_KEY_FILE set to its key`,
    });
  });

  test("a key on a new database: on; on a database with plaintext data: migrating, with a hint to run encrypt", () => {
    const r = keyRing(k1.bytes);
    expect(decideEncryption(r, NO_ENCRYPTION_META, false)).toEqual({ ok: true, mode: "on", write: meta(k1), notice: null });
    expect(decideEncryption(r, NO_ENCRYPTION_META, true)).toEqual({ ok: true, mode: "migrating", write: meta(k1, "migrating"), notice: "encrypt" });
    expect(decideEncryption(r, meta(k1), true)).toEqual({ ok: true, mode: "on", write: null, notice: null });
  });

  test("the wrong key is refused; a new key with the previous one kept as old starts a rotation", () => {
    const wrong = decideEncryption(keyRing(k2.bytes), meta(k1), true);
    expect(wrong.ok).toBe(false);
    expect(!wrong.ok && wrong.error).toContain(`it was encrypted with key ${k1.id}, the key given is ${k2.id}`);
    const rotating = decideEncryption(keyRing(k2.bytes, [k1.bytes]), meta(k1), true);
    expect(rotating).toEqual({ ok: true, mode: "on", write: meta(k2, "on", [k1.id]), notice: "rotate" });
    // Restarted again mid-rotation: unchanged, still a rotation to finish.
    expect(decideEncryption(keyRing(k2.bytes, [k1.bytes]), meta(k2, "on", [k1.id]), true)).toEqual({ ok: true, mode: "on", write: null, notice: "rotate" });
    // Dropping the old key before the rotation finished is refused.
    const dropped = decideEncryption(keyRing(k2.bytes), meta(k2, "on", [k1.id]), true);
    expect(!dropped.ok && dropped.error).toBe(`values in the database are still sealed with key ${k1.id}: keep that key in ENCRYPTION_KEYS_OLD until sessiond rotate-key has finished`);
  });
});

describe("additional data", () => {
  test("the hot-path shorthands build the same text as aadFor", async () => {
    const { aadFor } = await import("../../src/privacy/fields.ts");
    expect(aad.messageContent("s1", 7)).toBe(aadFor("messages.content", "s1", 7));
    expect(aad.messageMetadata("s1", 7)).toBe(aadFor("messages.metadata", "s1", 7));
  });
});
