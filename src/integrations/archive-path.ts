// Where an archive file goes (pure): ids made into safe path segments (no traversal, no collisions between
// distinct ids) and the deterministic file name `<startedAt UTC>-<session id>.<ext>` that makes a rewrite idempotent.
import { createHash } from "node:crypto";
import { TRANSCRIPT_EXTENSIONS, type TranscriptFormat } from "../sessions/transcript.ts";

/** Longest encoded segment kept as is; longer ones are shortened with a hash (file names stop at 255 bytes). */
export const MAX_SEGMENT_BYTES = 180;
const KEEP = /[A-Za-z0-9._-]/;

/**
 * An id as one path segment: [A-Za-z0-9._-] stay, every other UTF-8 byte becomes %XX (so "%" itself becomes
 * %25 and "/" %2F), and a leading "." becomes %2E (so "." and ".." cannot name a folder). The mapping is
 * injective: distinct ids give distinct segments. An empty id is "%" (never produced otherwise). A segment over
 * MAX_SEGMENT_BYTES keeps its first 120 bytes and adds "~" and 32 hex digits of the id's SHA-256 ("~" is never
 * produced by the encoding, so a shortened segment cannot equal an unshortened one).
 */
export function safeSegment(id: string): string {
  if (id === "") return "%";
  let out = "";
  for (const ch of id) {
    if (KEEP.test(ch)) out += ch;
    else for (const byte of Buffer.from(ch, "utf8")) out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  if (out.startsWith(".")) out = `%2E${out.slice(1)}`;
  if (out.length <= MAX_SEGMENT_BYTES) return out;
  // Cut before a partial %XX so the kept prefix stays readable.
  let cut = 120;
  const pct = out.lastIndexOf("%", cut - 1);
  if (pct !== -1 && pct > cut - 3) cut = pct;
  return `${out.slice(0, cut)}~${createHash("sha256").update(id, "utf8").digest("hex").slice(0, 32)}`;
}

/** `YYYY-MM-DD-HH-mm-ss` in UTC. */
export function archiveTimestamp(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}-${p(d.getUTCHours())}-${p(d.getUTCMinutes())}-${p(d.getUTCSeconds())}`;
}

/** The archive file of a session, relative to ARCHIVE_DIR: `users/<owner>/dialogs/archived/<time>-<id>.<ext>`. */
export function archiveRelativePath(ownerId: string, startedAtMs: number, sessionId: string, format: TranscriptFormat): { dir: string[]; file: string } {
  return {
    dir: ["users", safeSegment(ownerId), "dialogs", "archived"],
    file: `${archiveTimestamp(startedAtMs)}-${safeSegment(sessionId)}.${TRANSCRIPT_EXTENSIONS[format]}`,
  };
}
