// The zero-config signing secret: generated once into DATA_DIR/secret (mode 0600) and reused.
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const SECRET_FILE = "secret";

/** Reads the stored secret, creating it (32 random bytes, hex) on first use. */
export function ensureStoredSecret(dataDir: string): { secret: string; created: boolean; path: string } {
  const path = join(dataDir, SECRET_FILE);
  if (existsSync(path)) {
    // Tighten a file someone loosened; the secret signs every token.
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    const secret = readFileSync(path, "utf8").trim();
    if (!/^[0-9a-f]{64}$/.test(secret)) throw new Error(`${path} does not hold a 64-character hex secret; remove it to generate a new one`);
    return { secret, created: false, path };
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");
  writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: "wx" });
  return { secret, created: true, path };
}
