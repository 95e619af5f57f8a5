// The audit trail in SQLite: appends chained entries in one short transaction (the previous hash is read inside
// it, so the server and a CLI command writing at the same time still form one chain), lists and verifies them.
import type { Database } from "bun:sqlite";
import { chain, ChainVerifier, GENESIS_HASH, type AuditAction, type AuditEntry, type AuditRecord, type ChainBreak } from "../privacy/audit-chain.ts";
import { readAuditHead, writeAuditHead } from "./meta-store.ts";

interface AuditRow {
  id: number;
  at: number;
  actor_id: string;
  actor_role: string;
  action: string;
  object_type: string;
  object_id: string;
  address: string;
  detail: string | null;
  prev_hash: string;
  hash: string;
}

export interface AuditQuery {
  /** Entries with an id above this (the cursor of the previous page). @default 0 */
  after?: number;
  /** @default 100 */
  limit?: number;
  actor?: string;
  action?: AuditAction;
  objectType?: AuditRecord["objectType"];
  objectId?: string;
}

export class AuditStore {
  constructor(private readonly sqlite: Database) {}

  /** Chains and inserts `records` after the current last entry; returns them as stored. */
  append(records: readonly AuditRecord[]): AuditEntry[] {
    if (records.length === 0) return [];
    const insert = this.sqlite.prepare<unknown, [number, number, string, string, string, string, string, string, string | null, string, string]>(
      `INSERT INTO audit_log (id, at, actor_id, actor_role, action, object_type, object_id, address, detail, prev_hash, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    return this.sqlite.transaction(() => {
      const last = this.sqlite.query<{ id: number; hash: string }, []>("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").get();
      const entries = chain(records, last?.id ?? 0, last?.hash ?? GENESIS_HASH);
      for (const e of entries) {
        insert.run(e.id, e.at, e.actorId, e.actorRole, e.action, e.objectType, e.objectId, e.address, e.detail === null ? null : JSON.stringify(e.detail), e.prevHash, e.hash);
      }
      const tail = entries[entries.length - 1]!;
      writeAuditHead(this.sqlite, { id: tail.id, hash: tail.hash });
      return entries;
    }).immediate();
  }

  /** A page of entries in id order, filtered. */
  list(q: AuditQuery = {}): AuditEntry[] {
    const where: string[] = ["id > ?"];
    const params: Array<string | number> = [q.after ?? 0];
    if (q.actor !== undefined) (where.push("actor_id = ?"), params.push(q.actor));
    if (q.action !== undefined) (where.push("action = ?"), params.push(q.action));
    if (q.objectType !== undefined) (where.push("object_type = ?"), params.push(q.objectType));
    if (q.objectId !== undefined) (where.push("object_id = ?"), params.push(q.objectId));
    params.push(q.limit ?? 100);
    return this.sqlite
      .query<AuditRow, Array<string | number>>(`SELECT * FROM audit_log WHERE ${where.join(" AND ")} ORDER BY id LIMIT ?`)
      .all(...params)
      .map(toEntry);
  }

  /** Whether any entry records one of `actions` on the object (an index lookup). */
  mentions(objectType: AuditRecord["objectType"], objectId: string, actions: readonly AuditAction[]): boolean {
    return (
      this.sqlite
        .query<{ one: number }, string[]>(
          `SELECT 1 AS one FROM audit_log WHERE object_type = ? AND object_id = ? AND action IN (${actions.map(() => "?").join(",")}) LIMIT 1`,
        )
        .get(objectType, objectId, ...actions) !== null
    );
  }

  /** Walks the whole chain in pages; says where it breaks (the entry id) or how many entries it checked. */
  verify(pageSize = 1000): { ok: true; entries: number } | { ok: false; break: ChainBreak } {
    const verifier = new ChainVerifier();
    const page = this.sqlite.prepare<AuditRow, [number, number]>("SELECT * FROM audit_log WHERE id > ? ORDER BY id LIMIT ?");
    let after = -1;
    for (;;) {
      const rows = page.all(after, pageSize);
      for (const row of rows) if (verifier.push(toEntry(row))) return verifier.finish(null);
      if (rows.length < pageSize) break;
      after = rows[rows.length - 1]!.id;
    }
    return verifier.finish(readAuditHead(this.sqlite));
  }
}

function toEntry(r: AuditRow): AuditEntry {
  return {
    id: r.id,
    at: r.at,
    actorId: r.actor_id,
    actorRole: r.actor_role,
    action: r.action as AuditAction,
    objectType: r.object_type as AuditRecord["objectType"],
    objectId: r.object_id,
    address: r.address,
    detail: r.detail === null ? null : parseDetail(r.detail),
    prevHash: r.prev_hash,
    hash: r.hash,
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
