// The audit trail in PostgreSQL: one hash chain however many nodes append. Each append takes a transaction-scoped
// advisory lock first and reads the previous entry inside it, so concurrent appends queue instead of forking the
// chain; the head is recorded in sessiond_meta in the same transaction (it catches entries removed from the end).
import type { SQL } from "bun";
import { chain, ChainVerifier, GENESIS_HASH, unsafeDetailKey, type AuditAction, type AuditEntry, type AuditRecord, type ChainBreak } from "../privacy/audit-chain.ts";
import type { AuditQuery } from "../db/audit-store.ts";

/** Any fixed 64-bit key, the same on every node: "sessiond audit" as digits. */
export const AUDIT_LOCK_KEY = 5_353_010_100_000_002n;
const HEAD_KEY = "audit_head";

type Row = Record<string, unknown>;
type Tx = Pick<SQL, "unsafe">;

export class PgAuditStore {
  constructor(private readonly sql: SQL) {}

  /** Chains and inserts `records` after the current last entry (across every node); returns them as stored. */
  async append(records: readonly AuditRecord[]): Promise<AuditEntry[]> {
    if (records.length === 0) return [];
    return await this.sql.begin(async (tx) => await appendIn(tx, records));
  }

  /** A page of entries in id order, filtered. */
  async list(q: AuditQuery = {}): Promise<AuditEntry[]> {
    const where: string[] = ["id > $1"];
    const params: Array<string | number> = [q.after ?? 0];
    const add = (clause: string, v: string) => (params.push(v), where.push(`${clause} = $${params.length}`));
    if (q.actor !== undefined) add("actor_id", q.actor);
    if (q.action !== undefined) add("action", q.action);
    if (q.objectType !== undefined) add("object_type", q.objectType);
    if (q.objectId !== undefined) add("object_id", q.objectId);
    params.push(q.limit ?? 100);
    const rows: Row[] = await this.sql.unsafe(`SELECT * FROM audit_log WHERE ${where.join(" AND ")} ORDER BY id LIMIT $${params.length}`, params);
    return rows.map(toEntry);
  }

  /** Whether any entry records one of `actions` on the object (an index lookup). */
  async mentions(objectType: AuditRecord["objectType"], objectId: string, actions: readonly AuditAction[]): Promise<boolean> {
    const rows: Row[] = await this.sql.unsafe(
      "SELECT 1 AS one FROM audit_log WHERE object_type = $1 AND object_id = $2 AND action = ANY($3::text[]) LIMIT 1",
      [objectType, objectId, `{${actions.join(",")}}`],
    );
    return rows.length > 0;
  }

  /** Walks the whole chain in pages; says where it breaks (the entry id) or how many entries it checked. */
  async verify(pageSize = 1000): Promise<{ ok: true; entries: number } | { ok: false; break: ChainBreak }> {
    const verifier = new ChainVerifier();
    let after = -1;
    for (;;) {
      const rows: Row[] = await this.sql.unsafe("SELECT * FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2", [after, pageSize]);
      for (const row of rows) if (verifier.push(toEntry(row))) return verifier.finish(null);
      if (rows.length < pageSize) break;
      after = Number(rows[rows.length - 1]!.id);
    }
    const [head]: Row[] = await this.sql.unsafe("SELECT value FROM sessiond_meta WHERE key = $1", [HEAD_KEY]);
    return verifier.finish(head ? (JSON.parse(head.value as string) as { id: number; hash: string }) : null);
  }
}

/**
 * Appends inside a caller's transaction (an erasure records its entry in the same commit as the deletion).
 * The advisory lock is held until that transaction ends: other appenders wait, then read this one's tail.
 */
export async function appendIn(tx: Tx, records: readonly AuditRecord[]): Promise<AuditEntry[]> {
  if (records.length === 0) return [];
  // Entries written inside an erasure bypass the recorder: the same rule applies here, the trail never holds content.
  for (const r of records) {
    const bad = unsafeDetailKey(r.detail);
    if (bad !== null) throw new Error(`audit detail "${bad}" is not a count or a short code; the audit trail never holds content`);
  }
  await tx.unsafe("SELECT pg_advisory_xact_lock($1::bigint)", [AUDIT_LOCK_KEY.toString()]);
  const [last]: Row[] = await tx.unsafe("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1");
  const entries = chain(records, last ? Number(last.id) : 0, last ? (last.hash as string) : GENESIS_HASH);
  for (const e of entries) {
    await tx.unsafe(
      `INSERT INTO audit_log (id, at, actor_id, actor_role, action, object_type, object_id, address, detail, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [e.id, e.at, e.actorId, e.actorRole, e.action, e.objectType, e.objectId, e.address, e.detail === null ? null : JSON.stringify(e.detail), e.prevHash, e.hash],
    );
  }
  const tail = entries[entries.length - 1]!;
  await tx.unsafe(
    "INSERT INTO sessiond_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
    [HEAD_KEY, JSON.stringify({ id: tail.id, hash: tail.hash })],
  );
  return entries;
}

function toEntry(r: Row): AuditEntry {
  const detail = r.detail as string | null;
  return {
    id: Number(r.id),
    at: Number(r.at),
    actorId: r.actor_id as string,
    actorRole: r.actor_role as string,
    action: r.action as AuditAction,
    objectType: r.object_type as AuditRecord["objectType"],
    objectId: r.object_id as string,
    address: r.address as string,
    detail: detail === null ? null : parseDetail(detail),
    prevHash: r.prev_hash as string,
    hash: r.hash as string,
  };
}

/** A detail edited into something that is not JSON still yields an entry, whose hash then fails to verify. */
function parseDetail(text: string): AuditRecord["detail"] {
  try {
    return JSON.parse(text) as AuditRecord["detail"];
  } catch {
    return { unreadable: text.length };
  }
}
