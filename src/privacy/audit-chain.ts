// The audit trail's hash chain (pure): the canonical form of an entry, its hash over the previous entry's hash,
// and a verifier that reads entries in order and says where the chain breaks. Tested in test/privacy/audit.test.ts.
import { createHash } from "node:crypto";

/** What an audit entry may record. Reads are of a session by someone who neither owns nor belongs to it. */
export const AUDIT_ACTIONS = [
  "session.read",
  "session.export",
  "session.erase",
  "user.erase",
  "user.export",
  "alert.acknowledge",
  "alert.resolve",
  "admin.reset",
  "key.rotate",
  "database.encrypt",
  "database.backup",
  "database.restore",
  "retention.erase",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Details are counts and short codes only; the trail never holds content. */
export type AuditDetail = Record<string, number | boolean | string>;

/** An entry as recorded, before it is chained. Times are epoch ms. */
export interface AuditRecord {
  at: number;
  actorId: string;
  /** "user" | "moderator" | "admin" for callers with a token; "operator" for the CLI; "system" for jobs. */
  actorRole: string;
  action: AuditAction;
  objectType: "session" | "user" | "alert" | "database";
  objectId: string;
  /** The caller's network address; "local" for the CLI and jobs. */
  address: string;
  detail: AuditDetail | null;
}

export interface AuditEntry extends AuditRecord {
  id: number;
  prevHash: string;
  hash: string;
}

/** The previous hash of the first entry. */
export const GENESIS_HASH = "0".repeat(64);

const SHORT_CODE = /^[A-Za-z0-9_.:@-]{0,128}$/;

/**
 * Null when the detail is safe to record; otherwise the first offending key. Strings must be short codes (ids,
 * transports, key ids): anything with spaces or longer than 128 characters could be content.
 */
export function unsafeDetailKey(detail: AuditDetail | null): string | null {
  if (detail === null) return null;
  for (const [k, v] of Object.entries(detail)) {
    if (!SHORT_CODE.test(k)) return k;
    if (typeof v === "string" && !SHORT_CODE.test(v)) return k;
    if (typeof v === "number" && !Number.isFinite(v)) return k;
  }
  return null;
}

/** The canonical text of an entry: a JSON array in a fixed field order, detail keys sorted. */
export function canonicalEntry(id: number, r: AuditRecord): string {
  const detail = r.detail === null ? null : Object.fromEntries(Object.entries(r.detail).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return JSON.stringify([id, r.at, r.actorId, r.actorRole, r.action, r.objectType, r.objectId, r.address, detail]);
}

/** H(previous hash + canonical entry), SHA-256 as hex. */
export function entryHash(prevHash: string, id: number, r: AuditRecord): string {
  return createHash("sha256").update(prevHash).update("\n").update(canonicalEntry(id, r)).digest("hex");
}

/** Chains `records` after the entry (`lastId`, `lastHash`); ids are consecutive. */
export function chain(records: readonly AuditRecord[], lastId: number, lastHash: string): AuditEntry[] {
  const out: AuditEntry[] = [];
  let prev = lastHash;
  let id = lastId;
  for (const r of records) {
    id++;
    const hash = entryHash(prev, id, r);
    out.push({ ...r, id, prevHash: prev, hash });
    prev = hash;
  }
  return out;
}

export type ChainBreak = { id: number; reason: string };

/**
 * Checks entries fed in id order. A break is: an entry whose stored hash is not the hash of its content
 * (edited), whose previous hash is not the hash of the entry before it (an entry removed or inserted), or an id
 * that does not follow the one before (removed). `finish` also compares the last entry with the recorded head,
 * which catches entries removed from the end.
 */
export class ChainVerifier {
  private prevHash = GENESIS_HASH;
  private prevId = 0;
  private count = 0;
  private broken: ChainBreak | null = null;

  /** Returns the break, once found (later entries are not checked). */
  push(e: AuditEntry): ChainBreak | null {
    if (this.broken) return this.broken;
    if (e.id !== this.prevId + 1) {
      this.broken = { id: e.id, reason: `entry ${e.id} follows entry ${this.prevId}: ${e.id > this.prevId + 1 ? `${e.id - this.prevId - 1} entr${e.id - this.prevId - 1 === 1 ? "y is" : "ies are"} missing before it` : "ids are out of order"}` };
    } else if (e.prevHash !== this.prevHash) {
      this.broken = { id: e.id, reason: `entry ${e.id} does not chain to entry ${this.prevId} (an entry was removed, inserted or edited before it)` };
    } else if (entryHash(e.prevHash, e.id, e) !== e.hash) {
      this.broken = { id: e.id, reason: `entry ${e.id} was edited: its content does not match its hash` };
    } else {
      this.prevHash = e.hash;
      this.prevId = e.id;
      this.count++;
    }
    return this.broken;
  }

  /** The verdict; `head` is the last entry's id and hash as recorded beside the table (null: none recorded). */
  finish(head: { id: number; hash: string } | null): { ok: true; entries: number } | { ok: false; break: ChainBreak } {
    if (this.broken) return { ok: false, break: this.broken };
    if (head && (head.id !== this.prevId || head.hash !== this.prevHash)) {
      const missing = head.id - this.prevId;
      return {
        ok: false,
        break: {
          id: head.id,
          reason: missing > 0 ? `the trail ends at entry ${this.prevId} but entry ${head.id} was written: ${missing} entr${missing === 1 ? "y was" : "ies were"} removed from the end` : `the last entry (${this.prevId}) is not the one recorded as the head (${head.id})`,
        },
      };
    }
    return { ok: true, entries: this.count };
  }
}
